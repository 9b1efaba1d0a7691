/**
 * A stand-in for `isobroker cluster --demo`, in one process, for developing and testing the
 * dashboard: six endpoints (manager, logger, two proxies, two workers) peered by Broker's rules,
 * each publishing `isobroker::node_stats` every 500 ms, workers publishing `Demo::conn` events,
 * the logger publishing `isobroker::log_tail` batches of conn rows, the manager hosting the
 * `known_hosts` store; and an HTTP server with `web-demo/dist` and `/cluster.json`, as the
 * launcher serves them. Nodes can be stopped and started again to show down/up.
 *
 *   npx vite build && npx esbuild web-demo/dev/fake-cluster.ts --bundle --platform=node --format=esm \
 *     --packages=external --alias:isobroker=./src/index.ts --alias:isobroker/node=./src/node/index.ts \
 *     --outfile=node_modules/.cache/fake-cluster.mjs && node node_modules/.cache/fake-cluster.mjs --http 8080
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import {
  Endpoint,
  address,
  count,
  createMaster,
  makeEvent,
  now,
  port,
  string,
  timespanFromSeconds,
  toText,
  vector,
  type Data,
  type StoreMaster,
} from 'isobroker';
import { listen, type Listener } from 'isobroker/node';

export interface FakeNodeSpec {
  readonly name: string;
  readonly role: 'manager' | 'logger' | 'proxy' | 'worker';
}

export const FAKE_LAYOUT: readonly FakeNodeSpec[] = [
  { name: 'manager', role: 'manager' },
  { name: 'logger-1', role: 'logger' },
  { name: 'proxy-1', role: 'proxy' },
  { name: 'proxy-2', role: 'proxy' },
  { name: 'worker-1', role: 'worker' },
  { name: 'worker-2', role: 'worker' },
];

export interface FakeClusterOptions {
  /** HTTP port of the page server. @default 0 (any free port) */
  readonly httpPort?: number;
  /** Directory served as the page. @default `web-demo/dist` under the current directory */
  readonly distDir?: string;
  /** Demo connections per second per worker; 0 publishes none. @default 4 */
  readonly connRate?: number;
}

export interface FakeCluster {
  /** The page: `http://127.0.0.1:<port>/`. */
  readonly pageUrl: string;
  /** The manager's native URL (what `/cluster.json` names as `peer`). */
  readonly peer: string;
  /** Stops a node (its endpoint closes: stats stop, peerings drop). */
  stop(name: string): Promise<void>;
  /** Starts a stopped node again on the same port. */
  start(name: string): Promise<void>;
  /** Publishes `n` Demo::conn events at once from worker-1 (a flood). */
  flood(n: number): void;
  close(): Promise<void>;
}

interface Running {
  ep: Endpoint;
  listener: Listener;
  timers: ReturnType<typeof setInterval>[];
  master?: StoreMaster;
}

const CONN_FIELDS = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'service',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'conn_state',
];
const SERVICES: readonly [number, 'tcp' | 'udp', string][] = [
  [80, 'tcp', 'http'],
  [443, 'tcp', 'ssl'],
  [53, 'udp', 'dns'],
  [22, 'tcp', 'ssh'],
  [8080, 'tcp', '-'],
];
const STATES = ['SF', 'SF', 'SF', 'S0', 'REJ', 'RSTO'];
const RESPONDERS = ['93.184.216.34', '151.101.1.69', '2001:db8::80', '192.0.2.10', '198.51.100.7', '203.0.113.99'];

/** A small seeded generator, so runs look alike. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function demoConn(rand: () => number, worker: number): { event: Data; row: string[]; origin: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const uid = `C${Array.from({ length: 17 }, () => pick('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split(''))).join('')}`;
  const origH = `10.${worker}.${Math.floor(rand() * 4)}.${1 + Math.floor(rand() * 30)}`;
  const origP = 1024 + Math.floor(rand() * 60000);
  const respH = pick(RESPONDERS);
  const [respP, proto, service] = pick(SERVICES);
  const duration = Math.round(rand() * 5_000_000) / 1_000_000;
  const ob = Math.floor(rand() * 20000);
  const rb = Math.floor(rand() * 200000);
  const state = pick(STATES);
  const event = makeEvent('Demo::conn', [
    string(uid),
    address(origH),
    port(origP, proto),
    address(respH),
    port(respP, proto),
    string(service),
    timespanFromSeconds(duration),
    count(ob),
    count(rb),
    string(state),
  ]);
  const ts = (Date.now() / 1000).toFixed(6);
  const row = [
    ts,
    uid,
    origH,
    String(origP),
    respH,
    String(respP),
    proto,
    service,
    duration.toFixed(6),
    String(ob),
    String(rb),
    state,
  ];
  return { event, row, origin: origH };
}

export async function startFakeCluster(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
  const distDir = resolve(opts.distDir ?? 'web-demo/dist');
  const connRate = opts.connRate ?? 4;
  const ports = new Map<string, number>();
  const running = new Map<string, Running>();
  const rand = rng(7);
  const url = (name: string): string => `ws://127.0.0.1:${ports.get(name) ?? 0}`;
  const spec = (name: string): FakeNodeSpec => FAKE_LAYOUT.find((n) => n.name === name)!;
  const workerIndex = (name: string): number =>
    FAKE_LAYOUT.filter((n) => n.role === 'worker').findIndex((n) => n.name === name) + 1;

  async function boot(s: FakeNodeSpec): Promise<void> {
    const ep = new Endpoint({ name: s.name, role: s.role, retry: 250, maxRetry: 1000 });
    const listener = await listen(ep, { port: ports.get(s.name) ?? 0 });
    ports.set(s.name, listener.port);
    const r: Running = { ep, listener, timers: [] };
    running.set(s.name, r);
    // Broker's rules: everyone connects to the loggers and the manager, workers also to proxies;
    // loggers only accept.
    const targets = FAKE_LAYOUT.filter(
      (t) =>
        t.name !== s.name &&
        s.role !== 'logger' &&
        (t.role === 'logger' ||
          (t.role === 'manager' && s.role !== 'manager') ||
          (s.role === 'worker' && t.role === 'proxy')),
    );
    for (const t of targets) if (ports.has(t.name)) void ep.peer(url(t.name)).catch(() => undefined);
    r.timers.push(
      setInterval(() => {
        const names = new Set(FAKE_LAYOUT.map((n) => n.name));
        const peers = ep
          .peers()
          .filter((p) => p.status === 'connected' && p.name !== undefined && names.has(p.name))
          .map((p) => string(p.name!));
        const st = ep.stats();
        ep.publish(
          `isobroker/stats/${s.name}`,
          makeEvent('isobroker::node_stats', [
            string(s.name),
            string(s.role),
            string(ep.id),
            vector(peers),
            count(st.published),
            count(st.received),
          ]),
        );
      }, 500),
    );
    if (s.role === 'manager') {
      const master = await createMaster(ep, 'known_hosts');
      r.master = master;
      ep.subscribe('demo/conn/', ({ data }) => {
        if (data.type !== 'vector') return;
        const content = data.elements[2];
        const arg = content?.type === 'vector' ? content.elements[1] : undefined;
        const origin = arg?.type === 'vector' ? arg.elements[1] : undefined;
        if (origin) void master.put(origin, now()).catch(() => undefined);
      });
    }
    if (s.role === 'logger') {
      let batch: string[][] = [];
      ep.subscribe('demo/conn/', ({ data }) => {
        const row = rowFromEvent(data);
        if (row) batch.push(row);
      });
      r.timers.push(
        setInterval(() => {
          if (batch.length === 0) return;
          const rows = batch;
          batch = [];
          ep.publish(
            'isobroker/logtail/conn',
            makeEvent('isobroker::log_tail', [
              string('conn'),
              vector(CONN_FIELDS.map(string)),
              vector(rows.map((x) => vector(x.map(string)))),
            ]),
          );
        }, 400),
      );
    }
    if (s.role === 'worker' && connRate > 0) {
      const w = workerIndex(s.name);
      let sent = 0;
      r.timers.push(
        setInterval(
          () => {
            const c = demoConn(rand, w);
            ep.publish(`demo/conn/${s.name}`, c.event);
            if (++sent % 10 === 0)
              ep.publish('zeek/cluster/manager', makeEvent('Demo::summary', [string(s.name), count(sent)]));
          },
          Math.round(1000 / connRate),
        ),
      );
    }
  }

  /** The conn.log row of a Demo::conn event (values as the TSV writer prints them). */
  function rowFromEvent(data: Data): string[] | undefined {
    if (data.type !== 'vector') return undefined;
    const content = data.elements[2];
    const args = content?.type === 'vector' ? content.elements[1] : undefined;
    if (args?.type !== 'vector' || args.elements.length !== 10) return undefined;
    const [uid, oh, op, rh, rp, svc, dur, ob, rb, st] = args.elements as Data[];
    const text = (d: Data | undefined): string => {
      switch (d?.type) {
        case 'string':
          return d.value;
        case 'count':
          return d.value.toString();
        case 'port':
          return String(d.number);
        case 'timespan':
          return (Number(d.ns) / 1e9).toFixed(6);
        case 'address':
          return toText(d);
        default:
          return '-';
      }
    };
    const proto = op?.type === 'port' ? op.protocol : '-';
    return [
      (Date.now() / 1000).toFixed(6),
      text(uid),
      text(oh),
      text(op),
      text(rh),
      text(rp),
      proto,
      text(svc),
      text(dur),
      text(ob),
      text(rb),
      text(st),
    ];
  }

  async function halt(name: string): Promise<void> {
    const r = running.get(name);
    if (!r) return;
    running.delete(name);
    for (const t of r.timers) clearInterval(t);
    r.master?.close();
    await r.ep.close();
    await r.listener.close();
  }

  // Loggers and the manager first, so the others find them listening.
  for (const role of ['logger', 'manager', 'proxy', 'worker'] as const) {
    for (const s of FAKE_LAYOUT.filter((n) => n.role === role)) await boot(s);
  }
  // Nodes started before their targets were listening peer now.
  for (const s of FAKE_LAYOUT) {
    const r = running.get(s.name)!;
    if (s.role === 'manager')
      for (const l of FAKE_LAYOUT.filter((n) => n.role === 'logger'))
        void r.ep.peer(url(l.name)).catch(() => undefined);
  }

  const cluster = {
    layout: {
      nodes: FAKE_LAYOUT.map((n) => ({ ...n, host: '127.0.0.1', port: ports.get(n.name)! })),
      managerIsLogger: false,
    },
    peer: url('manager'),
    stores: ['known_hosts'],
    logPaths: ['conn'],
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (path === '/cluster.json') {
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(cluster));
      return;
    }
    const file = normalize(join(distDir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(distDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(opts.httpPort ?? 0, '127.0.0.1', () => ok()));
  const httpPort = (server.address() as AddressInfo).port;

  return {
    pageUrl: `http://127.0.0.1:${httpPort}/`,
    peer: url('manager'),
    stop: halt,
    async start(name) {
      if (!running.has(name)) await boot(spec(name));
    },
    flood(n) {
      const r = running.get('worker-1');
      if (!r) return;
      for (let i = 0; i < n; i++) r.ep.publish('demo/conn/worker-1', demoConn(rand, 1).event);
    },
    async close() {
      for (const s of [...FAKE_LAYOUT].reverse()) await halt(s.name);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** `node fake-cluster.mjs [--http PORT]`: runs until Ctrl-C. */
if (process.argv[1] && /fake-cluster\.(m?js|ts)$/.test(process.argv[1])) {
  const i = process.argv.indexOf('--http');
  const httpPort = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const c = await startFakeCluster({ httpPort });
  process.stdout.write(`fake cluster ready: page ${c.pageUrl} peer ${c.peer}\n`);
  process.once('SIGINT', () => void c.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void c.close().then(() => process.exit(0)));
}
