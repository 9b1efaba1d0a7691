/**
 * `connectNats`: a nats.js connection set up the way the backbone wants it — no echo (an endpoint
 * serves its own subscribers directly), reconnecting forever with short waits, short pings so a
 * dead server is noticed in seconds.
 */
import { checkOptionsObject, intOption, stringOption } from '../../util/options.js';
import { ValueError } from '../../errors.js';
import { type NatsClient, loadNats } from './load-nats.js';

/** Options of `connectNats` (every other nats.js connection option passes through `extra`). */
export interface ConnectNatsOptions {
  /** The connection's name, shown by the servers' monitoring (default `isobroker`). */
  readonly name?: string;
  /** Wait between reconnect attempts to one server, ms (default 250). */
  readonly reconnectTimeWait?: number;
  /** Client ping interval, ms (default 2000); a server is given up after `maxPingOut` unanswered pings. */
  readonly pingInterval?: number;
  /** Unanswered pings before the client reconnects elsewhere (default 2). */
  readonly maxPingOut?: number;
  /**
   * How long one connection attempt may take, ms (default 2000). Also bounds each reconnect
   * attempt: nats.js first tries the server it lost, and a stopped (not dead) server accepts the
   * TCP connection but never answers — this long is lost before the next server is tried.
   */
  readonly timeout?: number;
  /** Further nats.js `ConnectionOptions` (credentials, TLS, …), applied last. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Connects to NATS with nats.js (the optional peer dependency `nats`, loaded now) with `noEcho`,
 * unlimited reconnects, short reconnect waits and pings. `servers`: one URL, a comma-separated
 * list or an array (`nats://host:4222`). Rejects with `missing_dependency` when `nats` is not
 * installed, and with nats.js's error when no server answers.
 */
export async function connectNats(
  servers: string | readonly string[],
  options?: ConnectNatsOptions,
): Promise<NatsClient> {
  checkOptionsObject('options', options);
  const raw: unknown[] = typeof servers === 'string' ? servers.split(',') : Array.isArray(servers) ? servers : [];
  const list = raw.map((s) => (typeof s === 'string' ? s.trim() : '')).filter(Boolean);
  if (list.length === 0 || list.length !== raw.length) {
    throw new ValueError(`servers: expected at least one NATS server URL, got ${JSON.stringify(servers)}`);
  }
  const name = stringOption('name', options?.name, 'isobroker');
  const reconnectTimeWait = intOption('reconnectTimeWait', options?.reconnectTimeWait, 250, 0);
  const pingInterval = intOption('pingInterval', options?.pingInterval, 2000, 1);
  const maxPingOut = intOption('maxPingOut', options?.maxPingOut, 2, 1);
  const timeout = intOption('timeout', options?.timeout, 2000, 1);
  checkOptionsObject('extra', options?.extra);
  const nats = await loadNats();
  return nats.connect({
    servers: list,
    name,
    noEcho: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait,
    reconnectJitter: Math.min(100, reconnectTimeWait),
    pingInterval,
    maxPingOut,
    timeout,
    ...options?.extra,
  });
}
