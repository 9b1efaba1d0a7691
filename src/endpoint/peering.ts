/**
 * One outgoing peering, kept up until `unpeer`: dial, hand the transport to the endpoint, and after
 * a failure or a drop dial again with backoff and jitter. The URL picks the protocol: a path of
 * `/v1/messages/json` speaks Broker JSON v1, anything else the native protocol (its path implied).
 */
import type { Connector, DialOptions, Transport } from '../transport/transport.js';
import { backoffDelay } from './backoff.js';
import type { Timers } from '../util/timers.js';
import { ClosedError, IsobrokerError, ValueError } from '../errors.js';
import { BEARER_SUBPROTOCOL_PREFIX, ISOBROKER_SUBPROTOCOL, isProtocolToken, TokenSource } from './token-source.js';

/** The validated credential options of one peering (see `PeerOptions`). */
export interface PeerCredentialOptions {
  readonly token?: string;
  readonly getToken?: () => string | Promise<string>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly protocols?: readonly string[];
  /** Whether the connector sends `headers` (then the token travels as `Authorization: Bearer`). */
  readonly sendsHeaders: boolean;
}

/** WebSocket path of the native protocol (implied by a peer URL without a path). */
export const NATIVE_PATH = '/v1/messages/native';
/** WebSocket path of Broker's JSON v1 protocol: a peer URL ending in it speaks JSON v1. */
export const JSON_PATH = '/v1/messages/json';

/** The protocol of a peering: isobroker's native one, or Broker JSON v1. */
export type PeerProtocol = 'native' | 'json';

/** The state of a peering: dialling, up, waiting to redial, standing by for a twin connection, or ended. */
export type PeeringState = 'connecting' | 'connected' | 'reconnecting' | 'standby' | 'stopped';

/** Normalises a peer URL: native when the path is empty or `/`, else as given. */
export function resolvePeerUrl(url: string): { url: string; protocol: PeerProtocol } {
  const m = typeof url === 'string' ? /^(wss?):\/\/([^/?#]+)([^?#]*)(.*)$/i.exec(url.trim()) : null;
  if (!m)
    throw new ValueError(`peer URL ${typeof url === 'string' ? `'${url}'` : String(url)} is not a ws:// or wss:// URL`);
  const path = m[3] === '' || m[3] === '/' ? NATIVE_PATH : m[3]!;
  const protocol: PeerProtocol = path === JSON_PATH ? 'json' : 'native';
  return { url: `${m[1]!.toLowerCase()}://${m[2]}${path}${m[4]}`, protocol };
}

export interface PeeringHost {
  connector: Connector;
  timers: Timers;
  /** Token, headers and subprotocols of this peering (`resolvePeerOptions(…).credentials`). */
  credentials?: PeerCredentialOptions;
  /** The transport is connected: start a session on it. */
  open(p: Peering, transport: Transport): void;
  /** A dial failed. */
  unavailable(p: Peering, err: unknown): void;
}

export class Peering {
  state: PeeringState = 'connecting';
  attempt = 0;
  /** Peer id once the handshake succeeded. */
  peerId: string | undefined;
  private timer: unknown;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /**
   * This peering's token (with `token` or `getToken`), renewed before it expires. A native
   * session takes it as its credential hook: the hello carries `tokens.current()`.
   */
  readonly tokens: TokenSource | undefined;

  constructor(
    readonly url: string,
    readonly protocol: PeerProtocol,
    /** First retry delay in ms; 0 means do not retry. */
    readonly retry: number,
    readonly maxRetry: number,
    private readonly host: PeeringHost,
  ) {
    const c = host.credentials;
    this.tokens =
      c !== undefined && (c.token !== undefined || c.getToken !== undefined)
        ? new TokenSource({
            timers: host.timers,
            ...(c.token !== undefined ? { token: c.token } : {}),
            ...(c.getToken !== undefined ? { getToken: c.getToken } : {}),
          })
        : undefined;
  }

  /**
   * What goes on the next upgrade: the given headers and subprotocols and, for JSON v1 (whose
   * only credential is the upgrade), the token (renewed first when it expires within a minute)
   * as `Authorization: Bearer` where the connector sends headers, else as the `bearer.<token>`
   * subprotocol after `isobroker.v1`. A native link carries the token in its hello instead (and
   * renews it in band), so its upgrade holds only what was given.
   */
  async dialOptions(): Promise<DialOptions | undefined> {
    const c = this.host.credentials;
    if (c === undefined) return undefined;
    // Renewed before the dial either way: the hello takes `tokens.current()`.
    const token = this.tokens ? await this.tokens.forDial() : undefined;
    const headers: Record<string, string> = { ...c.headers };
    let protocols = c.protocols ? [...c.protocols] : undefined;
    if (token !== undefined && this.protocol === 'json') {
      if (c.sendsHeaders) headers.Authorization = `Bearer ${token}`;
      else {
        if (!isProtocolToken(token))
          throw new IsobrokerError(
            'invalid_argument',
            'the token cannot travel as a subprotocol (it holds characters other than an HTTP token’s)',
          );
        protocols = protocols ?? [];
        if (!protocols.includes(ISOBROKER_SUBPROTOCOL)) protocols.unshift(ISOBROKER_SUBPROTOCOL);
        protocols.push(`${BEARER_SUBPROTOCOL_PREFIX}${token}`);
      }
    }
    return {
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      ...(protocols !== undefined ? { protocols } : {}),
    };
  }

  start(): void {
    void this.dial();
  }

  /** Resolves when the peering is up (now, or at the next successful handshake). */
  whenUp(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The handshake succeeded. */
  up(peerId: string): void {
    this.state = 'connected';
    this.peerId = peerId;
    this.attempt = 0;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** The session ended (or never came up); retry unless stopped. */
  down(opts: { redundant?: boolean; error?: unknown } = {}): void {
    if (this.state === 'stopped') return;
    if (opts.redundant) {
      // Another connection to the same endpoint carries the peering; wake when it drops.
      this.state = 'standby';
      for (const w of this.waiters.splice(0)) w.resolve();
      return;
    }
    if (this.retry <= 0) {
      this.state = 'stopped';
      const cause = opts.error;
      const err =
        cause instanceof IsobrokerError
          ? cause
          : new IsobrokerError(
              'peer_unavailable',
              `peering with ${this.url} ended${cause instanceof Error ? `: ${cause.message}` : ''}`,
              { cause },
            );
      for (const w of this.waiters.splice(0)) w.reject(err);
      return;
    }
    this.state = 'reconnecting';
    this.schedule(backoffDelay(this.attempt++, this.retry, this.maxRetry));
  }

  /** Dials again now (e.g. the browser came back online, or a redundant twin dropped). */
  retryNow(): void {
    if (this.state !== 'reconnecting' && this.state !== 'standby') return;
    if (this.timer !== undefined) this.host.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'reconnecting';
    void this.dial();
  }

  stop(): void {
    this.state = 'stopped';
    this.tokens?.stop();
    if (this.timer !== undefined) this.host.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.reject(new ClosedError(`unpeered from ${this.url}`));
  }

  /** Read through a method: `stop()` may run while a dial is awaited. */
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined) this.host.timers.clearTimeout(this.timer);
    this.timer = this.host.timers.setTimeout(() => {
      this.timer = undefined;
      void this.dial();
    }, ms);
  }

  private async dial(): Promise<void> {
    if (this.state === 'stopped') return;
    let t: Transport;
    try {
      const options = await this.dialOptions();
      if (this.stopped()) return;
      t = options === undefined ? await this.host.connector(this.url) : await this.host.connector(this.url, options);
    } catch (err) {
      if (this.stopped()) return;
      this.host.unavailable(this, err);
      this.down({ error: err });
      return;
    }
    if (this.stopped()) {
      t.close(1000, 'unpeered');
      return;
    }
    this.host.open(this, t);
  }
}
