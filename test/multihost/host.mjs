/**
 * One "host" of the multi-host scenario (scripts/netns-multihost.sh), run inside that host's
 * network namespace: a hub endpoint and the host's cluster nodes, each endpoint on its own NATS
 * connection to this host's nats-server only (so cutting the host's link cuts all of them off),
 * attached to the backbone, and a client peered with the host's `isobroker hub` (`--hub URL`).
 * Runs from dist/ (`npm run build` first).
 *
 * Layout (the same rule as test/multihost/layout.mjs): `manager` on h1; `proxy-i` and `worker-i`
 * on host hi, `logger-i` on every host but h1. Every worker publishes, every 20 ms, one event to
 * `mh/all/<worker>` (everyone subscribes to `mh/all/`) and one to the proxy HRW picks for key
 * `k-<n mod 64>`, and writes 10 conn.log records (uid `<worker>:<n>`) through its LogRouter
 * (acknowledged batches to the live loggers, handed over when one stays down).
 *
 * Output: one JSON object per line on stdout, `t` = Date.now() (one clock for all hosts):
 * `ready`, `presence` (the hub's endpointUp/endpointDown/nodeUp/nodeDown), `node` (a cluster
 * node's nodeUp/nodeDown, with `allUp`), `hrw` (a worker's HRW choice for every key after each
 * change). On SIGUSR2 the workers stop and wait (at most 15 s) until the loggers acknowledged
 * every log batch: `quiet`. On SIGTERM: one `summary` per subscriber (received, duplicates, out of
 * order per origin), one `logs` per logger (the record numbers it wrote per worker, as a bitset) and
 * per worker (records written, router stats), then `exit`. Every wait is bounded.
 */
import {
  CONN_LOG,
  ClusterNode,
  Endpoint,
  LogRouter,
  address,
  enumValue,
  nodeTopic,
  port,
  string,
  timestamp,
  toRecord,
} from '../../dist/src/index.js';
import { attachBackbone, connectNats } from '../../dist/src/node/index.js';
import { HRW_KEYS, layoutFor, nodesOn } from './layout.mjs';

const args = new Map();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const host = args.get('host'); // h1, h2, …
const hosts = Number(args.get('hosts') ?? 3);
const nats = args.get('nats'); // this host's server only
const tick = Number(args.get('tick') ?? 20);
if (!host || !nats) {
  process.stderr.write('usage: host.mjs --host hN --hosts N --nats nats://addr:port [--tick ms]\n');
  process.exit(2);
}

const out = (o) => process.stdout.write(`${JSON.stringify({ t: Date.now(), host, ...o })}\n`);
const layout = layoutFor(hosts);
const conns = [];
const endpoints = [];
const subscribers = [];

/** A NATS connection to this host's server, retried while the server starts (at most ~20 s). */
async function connect(name) {
  let last;
  for (let i = 0; i < 80; i++) {
    try {
      return await connectNats(nats, { name, reconnectTimeWait: 250, timeout: 2000 });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw last;
}

/** Counts what one endpoint receives per origin: total, duplicates, out of order. */
function counter(obs) {
  const per = new Map();
  const record = (origin, n) => {
    let s = per.get(origin);
    if (!s)
      per.set(origin, (s = { seen: new Set(), received: 0, duplicates: 0, outOfOrder: 0, last: 0, min: n, max: 0 }));
    s.received++;
    if (s.seen.has(n)) s.duplicates++;
    else s.seen.add(n);
    if (n < s.last) s.outOfOrder++;
    s.last = n;
    s.min = Math.min(s.min, n);
    s.max = Math.max(s.max, n);
  };
  const summary = () => {
    const o = {};
    for (const [origin, s] of per) {
      // missing: numbers between the first and the last received that never arrived.
      const missing = s.max - s.min + 1 - s.seen.size;
      o[origin] = {
        received: s.received,
        distinct: s.seen.size,
        duplicates: s.duplicates,
        outOfOrder: s.outOfOrder,
        min: s.min,
        max: s.max,
        missing,
      };
    }
    return o;
  };
  subscribers.push({ obs, summary });
  return record;
}

/** `<origin>:<n>` carried as a Broker string. */
function parse(m) {
  const v = m.data?.value;
  if (typeof v !== 'string') return undefined;
  const i = v.lastIndexOf(':');
  return i < 0 ? undefined : { origin: v.slice(0, i), n: Number(v.slice(i + 1)) };
}

async function endpointOn(name, nodes) {
  const nc = await connect(name);
  conns.push(nc);
  const ep = new Endpoint({ name });
  endpoints.push(ep);
  const link = attachBackbone(ep, nc, { namespace: 'multihost', rttInterval: 0, ...(nodes ? { nodes } : {}) });
  return { ep, link, nc };
}

const timers = [];
let published = 0;
/** Log routers: loggers' (with their writers) and workers'. */
const loggers = [];
const logSenders = [];

/** A log writer in memory: which record numbers of each worker it wrote, and how often. */
function bitsetWriter() {
  const per = new Map(); // worker → Map(n → times)
  return {
    write(_stream, records) {
      for (const r of records) {
        const uid = r.elements[1]?.value ?? '';
        const i = uid.lastIndexOf(':');
        const origin = uid.slice(0, i);
        const n = Number(uid.slice(i + 1));
        let m = per.get(origin);
        if (!m) per.set(origin, (m = new Map()));
        m.set(n, (m.get(n) ?? 0) + 1);
      }
    },
    async flush() {},
    async close() {},
    /** Per worker: the numbers written as a bitset (bit n-1 set: record n), base64; how many were written twice here. */
    summary() {
      const o = {};
      for (const [origin, m] of per) {
        const max = Math.max(...m.keys());
        const bits = new Uint8Array(Math.ceil(max / 8));
        for (const n of m.keys()) bits[(n - 1) >> 3] |= 1 << ((n - 1) & 7);
        o[origin] = {
          bits: Buffer.from(bits).toString('base64'),
          twiceHere: [...m.values()].filter((c) => c > 1).length,
        };
      }
      return o;
    },
  };
}

async function main() {
  // The hub: no cluster node; reports what backbone presence says.
  const hub = await endpointOn(`hub-${host}`);
  for (const ev of ['endpointUp', 'endpointDown', 'nodeUp', 'nodeDown']) {
    hub.link.presence.on(ev, (e) =>
      out({ ev: 'presence', obs: `hub-${host}`, kind: ev, id: e.id, name: e.name, reason: e.reason }),
    );
  }
  const hubRecord = counter(`hub-${host}`);
  hub.ep.subscribe('mh/all/', (m) => {
    const p = parse(m);
    if (p) hubRecord(p.origin, p.n);
  });

  for (const name of nodesOn(layout, host)) {
    const { ep } = await endpointOn(name);
    const node = new ClusterNode(ep, layout, name);
    const allUp = () => node.nodes().every((s) => s.up);
    const role = node.role;
    const hrw = () => {
      if (role !== 'worker') return;
      const pool = node.pools.proxyPool;
      out({ ev: 'hrw', obs: name, up: node.liveNodes('proxy'), topics: HRW_KEYS.map((k) => pool.hrwTopic(k)) });
    };
    node.on('nodeUp', (e) => {
      out({ ev: 'node', obs: name, kind: 'nodeUp', name: e.name, id: e.id, allUp: allUp() });
      hrw();
    });
    node.on('nodeDown', (e) => {
      out({ ev: 'node', obs: name, kind: 'nodeDown', name: e.name, id: e.id, allUp: allUp() });
      hrw();
    });
    const record = counter(name);
    ep.subscribe('mh/all/', (m) => {
      const p = parse(m);
      if (p) record(p.origin, p.n);
    });
    if (role === 'logger') {
      const writer = bitsetWriter();
      loggers.push({ name, writer, router: new LogRouter(node, { writer }) });
    }
    if (role === 'proxy') {
      const hrwRecord = counter(`${name}/hrw`);
      ep.subscribe(nodeTopic(name), (m) => {
        const p = parse(m);
        if (p) hrwRecord(p.origin, p.n);
      });
    }
    node.start();
    if (role === 'worker') {
      let n = 0;
      const pool = node.pools.proxyPool;
      const router = new LogRouter(node, { ackTimeout: 1000, handoverTimeout: 1000 });
      const sender = { name, router, records: 0 };
      logSenders.push(sender);
      timers.push(
        setInterval(() => {
          n++;
          published++;
          ep.publish(`mh/all/${name}`, string(`${name}:${n}`));
          node.publishHrw(pool, HRW_KEYS[n % HRW_KEYS.length], string(`${name}:${n}`));
          for (let k = 0; k < 10; k++) {
            sender.records++;
            router.write(
              CONN_LOG,
              toRecord(CONN_LOG, {
                ts: timestamp(new Date()),
                uid: `${name}:${sender.records}`,
                'id.orig_h': address('10.0.0.1'),
                'id.orig_p': port(1024 + (sender.records % 60000), 'tcp'),
                'id.resp_h': address('10.0.0.2'),
                'id.resp_p': port(80, 'tcp'),
                proto: enumValue('tcp'),
              }),
            );
          }
        }, tick),
      );
    }
  }
  // A client of this host's `isobroker hub` (native peering, not on the backbone): it gets the
  // workers' events through the hub's backbone link.
  const hubUrl = args.get('hub');
  if (hubUrl) {
    const client = new Endpoint({ name: `client-${host}` });
    endpoints.push(client);
    const clientRecord = counter(`client-${host}`);
    client.subscribe('mh/all/', (m) => {
      const p = parse(m);
      if (p) clientRecord(p.origin, p.n);
    });
    void client.peer(hubUrl, { retry: 250 }).catch((e) => out({ ev: 'fatal', message: `peer ${hubUrl}: ${e}` }));
  }
  out({ ev: 'ready', endpoints: endpoints.map((e) => e.id) });
}

let quieting = false;
/** Stops the traffic and waits (at most 15 s) until the loggers acknowledged every log batch. */
async function quiet() {
  if (quieting) return;
  quieting = true;
  for (const t of timers) clearInterval(t);
  const end = Date.now() + 15_000;
  while (Date.now() < end && logSenders.some((s) => s.router.inFlight > 0)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  out({ ev: 'quiet', logsInFlight: logSenders.reduce((a, s) => a + s.router.inFlight, 0) });
}
process.on('SIGUSR2', () => void quiet());

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  for (const t of timers) clearInterval(t);
  // Let what is in flight arrive before counting.
  await new Promise((r) => setTimeout(r, 500));
  for (const s of subscribers) out({ ev: 'summary', obs: s.obs, origins: s.summary() });
  for (const l of loggers) out({ ev: 'logs', obs: l.name, written: l.writer.summary(), stats: l.router.stats() });
  for (const s of logSenders) out({ ev: 'logs', obs: s.name, records: s.records, stats: s.router.stats() });
  for (const r of [...loggers, ...logSenders]) r.router.close();
  out({
    ev: 'stats',
    published,
    links: endpoints.map((e) => {
      const s = e.backbone?.stats();
      return s
        ? { name: e.name, state: s.state, dropped: s.dropped, queued: s.queued, reconnects: s.reconnects }
        : { name: e.name };
    }),
  });
  const closing = Promise.all([
    ...endpoints.map((e) => e.close().catch(() => {})),
    ...conns.map((c) => c.close().catch(() => {})),
  ]);
  await Promise.race([closing, new Promise((r) => setTimeout(r, 3000))]);
  out({ ev: 'exit' });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

main().catch((e) => {
  out({ ev: 'fatal', message: String(e?.stack ?? e) });
  process.exit(1);
});
