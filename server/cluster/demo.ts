/**
 * Demo traffic (`isobroker cluster --demo`): the cluster does real work. Workers generate
 * connection records from a seeded generator, write them to the `conn` log (through the loggers),
 * publish each as an event, send per-originator counters to the proxies by HRW, remember hosts in
 * the manager's `known_hosts` store (put_unique, as Zeek's known-hosts script does), and send
 * summaries to the manager. Proxies aggregate their counters and report top talkers. The manager
 * answers every event on `demo/ping` (the dashboard's publish form sends `Demo::ping` there by
 * default) with `Demo::pong(manager name, event name, its arguments…)` on `demo/pong`.
 */
import {
  CONN_LOG,
  address,
  count,
  enumValue,
  formatAddress,
  isZeekEvent,
  makeEvent,
  nodeTopic,
  parseZeekMessage,
  port,
  string,
  timespan,
  timestamp,
  toRecord,
  vector,
  type BackedTable,
  type ClusterNode,
  type LogRouter,
  type StoreClone,
} from '../../src/index.js';
import { MANAGER_TOPIC } from '../../src/internal.js';

/** Where the manager takes pings (the dashboard's publish form's default topic). */
export const PING_TOPIC = 'demo/ping';
/** Where the manager answers them. */
export const PONG_TOPIC = 'demo/pong';
export const PONG_EVENT = 'Demo::pong';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A Zeek-style unique id: `prefix` (Zeek's `C` for connections) and 96 random bits in base62, as
 * Zeek's `unique_id` makes them. Random, not derived from the traffic seed, so a restarted worker
 * never reuses one (the traffic itself stays seeded).
 */
export function zeekUid(prefix = 'C'): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let text = '';
  while (n > 0n) {
    text = BASE62[Number(n % 62n)]! + text;
    n /= 62n;
  }
  return prefix + (text || '0');
}

/** A small seeded PRNG (mulberry32): the same seed gives the same traffic. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES: readonly [string, number, 'tcp' | 'udp'][] = [
  ['http', 80, 'tcp'],
  ['ssl', 443, 'tcp'],
  ['dns', 53, 'udp'],
  ['ssh', 22, 'tcp'],
  ['smtp', 25, 'tcp'],
  ['ntp', 123, 'udp'],
];
const STATES = ['SF', 'S0', 'REJ', 'RSTO', 'SH', 'OTH'] as const;

export interface DemoConn {
  readonly uid: string;
  readonly origH: string;
  readonly origP: number;
  readonly respH: string;
  readonly respP: number;
  readonly proto: 'tcp' | 'udp';
  readonly service: string;
  readonly durationMs: number;
  readonly origBytes: number;
  readonly respBytes: number;
  readonly state: string;
}

/** One generated connection (its uid from `uid`, random by default). */
export function generateConn(rand: () => number, uid: () => string = zeekUid): DemoConn {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const [service, respP, proto] = pick(SERVICES);
  // Few originators, many responders: some hosts are busy, as on a real network.
  const orig = Math.floor(rand() ** 2 * 40);
  return {
    uid: uid(),
    origH: `10.0.${orig >> 8}.${orig & 255}`,
    origP: 1024 + Math.floor(rand() * 60000),
    respH: `192.0.2.${1 + Math.floor(rand() * 250)}`,
    respP,
    proto,
    service,
    durationMs: Math.round(rand() * 5000),
    origBytes: Math.floor(rand() * 20000),
    respBytes: Math.floor(rand() * 200000),
    state: pick(STATES),
  };
}

export interface DemoOptions {
  readonly node: ClusterNode;
  readonly router: LogRouter;
  readonly knownHosts?: StoreClone;
  /** A Broker-backed table of services seen (worker side). */
  readonly services?: BackedTable;
  readonly seed: number;
  /** Connections per second per worker. @default 50 */
  readonly rate?: number;
}

export function startDemo(opts: DemoOptions): { stop(): void } {
  const { node } = opts;
  const ep = node.endpoint;
  const timers: ReturnType<typeof setInterval>[] = [];
  const rand = seededRandom(opts.seed);

  if (node.role === 'worker') {
    const rate = opts.rate ?? 50;
    let conns = 0;
    let bytes = 0;
    timers.push(
      setInterval(() => {
        for (let i = 0; i < rate / 10; i++) {
          const c = generateConn(rand);
          const ts = timestamp(new Date());
          opts.router.write(
            CONN_LOG,
            toRecord(CONN_LOG, {
              ts,
              uid: c.uid,
              'id.orig_h': address(c.origH),
              'id.orig_p': port(c.origP, c.proto),
              'id.resp_h': address(c.respH),
              'id.resp_p': port(c.respP, c.proto),
              proto: enumValue(c.proto),
              service: c.service,
              duration: timespan(BigInt(c.durationMs) * 1_000_000n),
              orig_bytes: count(c.origBytes),
              resp_bytes: count(c.respBytes),
              conn_state: c.state,
            }),
          );
          ep.publish(
            `demo/conn/${node.name}`,
            makeEvent('Demo::conn', [
              string(c.uid),
              address(c.origH),
              port(c.origP, c.proto),
              address(c.respH),
              port(c.respP, c.proto),
              string(c.service),
              timespan(BigInt(c.durationMs) * 1_000_000n),
              count(c.origBytes),
              count(c.respBytes),
              string(c.state),
            ]),
          );
          node.publishHrw(node.pools.proxyPool, c.origH, makeEvent('Demo::orig_count', [address(c.origH), count(1)]));
          opts.knownHosts?.putUnique(address(c.origH), ts, { expiry: 3_600_000 }).catch(() => undefined);
          if (opts.services && !opts.services.has(`${c.respH}:${c.respP}`))
            opts.services.set(`${c.respH}:${c.respP}`, string(c.service));
          conns++;
          bytes += c.origBytes + c.respBytes;
        }
      }, 100),
      setInterval(() => {
        ep.publish(MANAGER_TOPIC, makeEvent('Demo::worker_summary', [string(node.name), count(conns), count(bytes)]));
      }, 1000),
    );
  }

  if (node.role === 'proxy') {
    const counts = new Map<string, number>();
    const sub = ep.subscribe(nodeTopic(node.name), ({ data }) => {
      if (data.type !== 'vector') return;
      const content = data.elements[2];
      if (content?.type !== 'vector') return;
      const [name, args] = content.elements;
      if (name?.type !== 'string' || name.value !== 'Demo::orig_count' || args?.type !== 'vector') return;
      const [h, c] = args.elements;
      if (h?.type !== 'address' || c?.type !== 'count') return;
      const key = formatAddress(h.bytes);
      counts.set(key, (counts.get(key) ?? 0) + Number(c.value));
    });
    timers.push(
      setInterval(() => {
        const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5);
        const rows = top.map(([k, v]) => vector([address(k), count(v)]));
        ep.publish(MANAGER_TOPIC, makeEvent('Demo::top_talkers', [string(node.name), vector(rows)]));
      }, 2000),
    );
    return {
      stop() {
        sub.unsubscribe();
        for (const t of timers) clearInterval(t);
      },
    };
  }

  if (node.role === 'manager') {
    // Any event on demo/ping is answered, so that a publish from the dashboard visibly arrives.
    const sub = ep.subscribe(PING_TOPIC, ({ topic, data }) => {
      if (topic !== PING_TOPIC && !topic.startsWith(`${PING_TOPIC}/`)) return;
      if (!isZeekEvent(data)) return;
      let ev: ReturnType<typeof parseZeekMessage>;
      try {
        ev = parseZeekMessage(data);
      } catch {
        return;
      }
      if (ev.kind !== 'event') return;
      ep.publish(PONG_TOPIC, makeEvent(PONG_EVENT, [string(node.name), string(ev.name), ...ev.args]));
    });
    return {
      stop() {
        sub.unsubscribe();
        for (const t of timers) clearInterval(t);
      },
    };
  }

  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
