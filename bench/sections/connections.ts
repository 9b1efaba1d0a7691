/**
 * Connections section (issue 10): what idle clients cost a hub. A real hub in a process of its
 * own (`connections-hub.ts`) on 127.0.0.1, and N idle native leaves, then N idle Broker JSON v1
 * clients, opened in batches from two client processes (`connections-clients.ts`), at N = 100,
 * 1,000 and 5,000 (each N with a fresh hub). Reported: the hub's RSS and V8 heap growth per idle
 * client (after a full garbage collection), its CPU time per join and the bytes it sends per join
 * to an observing router peer and to another leaf, as the hub grows, and the time to connect
 * them all. Every process stays within the default `ulimit -n` (20,000 here; the hub holds at
 * most 2N + 2 sockets).
 */
import { fileURLToPath } from 'node:url';
import { formatBytes, formatCount, formatNs, formatRatio, type Table } from '../lib/markdown.js';
import { type ChildHandle, ProcessSet, sleep } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import {
  goalAtMost,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import type { HubStats } from './connections-hub.js';

const SIZES = [100, 1000, 5000] as const;
const QUICK_SIZES = [100, 300, 1000] as const;
/** Clients opened at once, by one client process (the two take turns). */
const BATCH = 50;
/** Leaves that join and leave before the baseline, so that the first batch pays no warm-up. */
const WARMUP = 50;
/** After a batch: two interest intervals (50 ms each), so that the updates it causes are sent. */
const SETTLE_MS = 120;
/** Before a memory reading: let closes and timers run. */
const QUIET_MS = 500;
/** The window over which the idle hub's CPU use is measured. */
const IDLE_MS = 2000;
const START_TIMEOUT_MS = 15_000;
const RPC_MS = 90_000;
const CLIENT_PROCESSES = 2;

/** The goal of issue 10: an idle leaf costs its hub at most this much memory. */
const RSS_GOAL = 64 * 1024;
/** Flat per-join cost: the last tenth of the joins may cost the hub at most this much more CPU than the first. */
const FLAT_GOAL = 1.5;
/** A join costs the router and the other leaves nothing but their share of pings. */
const BYTES_GOAL = 20;

function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Batch {
  /** Clients of this kind after the batch. */
  readonly size: number;
  readonly cpuMsPerJoin: number;
  readonly routerBytesPerJoin: number;
  readonly leafBytesPerJoin: number;
}

interface KindRun {
  readonly kind: 'native' | 'json';
  readonly n: number;
  readonly connectMs: number;
  readonly rssPerClient: number;
  readonly heapPerClient: number;
  readonly rssAfter: number;
  readonly idleCpuPct: number;
  readonly batches: readonly Batch[];
}

interface SizeRun {
  readonly n: number;
  readonly baseRss: number;
  readonly kinds: readonly KindRun[];
}

/** Per-join figures of the batches after the first (which brings the hub its first prefixes). */
function joinFigures(k: KindRun): {
  early: number;
  late: number;
  router: number;
  leaf: number;
  routerMax: number;
  first: Batch | undefined;
} {
  const rest = k.batches.slice(1);
  const tenth = Math.max(1, Math.floor(rest.length / 10));
  const bytes = (f: (b: Batch) => number): number =>
    rest.length === 0 ? Number.NaN : rest.reduce((s, b) => s + f(b), 0) / rest.length;
  return {
    early: median(rest.slice(0, tenth).map((b) => b.cpuMsPerJoin)),
    late: median(rest.slice(-tenth).map((b) => b.cpuMsPerJoin)),
    router: bytes((b) => b.routerBytesPerJoin),
    leaf: bytes((b) => b.leafBytesPerJoin),
    routerMax: Math.max(0, ...rest.map((b) => Math.max(b.routerBytesPerJoin, b.leafBytesPerJoin))),
    first: k.batches[0],
  };
}

class Rig {
  readonly procs = new ProcessSet();
  hub!: RpcClient;
  clients: RpcClient[] = [];
  url = '';
  jsonUrl = '';
  hubId = '';

  async start(): Promise<void> {
    const hub = this.procs.spawn('connections hub', process.execPath, [
      '--expose-gc',
      helperPath('connections-hub.js'),
    ]);
    const m = await hub.waitForLine(/^ready (ws:\/\/\S+) (ws:\/\/\S+) (\S+)$/, START_TIMEOUT_MS);
    [this.url, this.jsonUrl, this.hubId] = [m[1]!, m[2]!, m[3]!];
    this.hub = new RpcClient(hub);
    const children: ChildHandle[] = [];
    for (let i = 0; i < CLIENT_PROCESSES; i++)
      children.push(
        this.procs.spawn(`connections clients ${i}`, process.execPath, [helperPath('connections-clients.js')]),
      );
    await Promise.all(children.map((c) => c.waitForLine(/^ready$/, START_TIMEOUT_MS)));
    this.clients = children.map((c) => new RpcClient(c));
    await this.clients[0]!.call('observers', { url: this.url, hubId: this.hubId }, RPC_MS);
    await this.waitLeaves(1);
  }

  stats(gc = false): Promise<HubStats> {
    return this.hub.call<HubStats>('stats', { gc }, RPC_MS);
  }

  bytes(): Promise<{ router: number; leaf: number }> {
    return this.clients[0]!.call('bytes', {}, RPC_MS);
  }

  /** Polls the hub until it counts `n` leaves (bounded: fails after RPC_MS). */
  async waitLeaves(n: number): Promise<void> {
    const end = Date.now() + RPC_MS;
    for (;;) {
      const have = await this.hub.call<number>('leaves', {}, RPC_MS);
      if (have === n) return;
      if (Date.now() > end) throw new Error(`the hub counts ${have} leaves, expected ${n}`);
      await sleep(5);
    }
  }

  join(i: number, n: number, kind: 'native' | 'json'): Promise<void> {
    const url = kind === 'json' ? this.jsonUrl : this.url;
    return this.clients[i % this.clients.length]!.call('join', { url, n, kind }, RPC_MS);
  }
}

/** N clients of one kind join in batches; then the hub's memory and idle CPU. */
async function joinAll(rig: Rig, kind: 'native' | 'json', n: number, leavesBefore: number): Promise<KindRun> {
  const before = await rig.stats(true);
  const batches: Batch[] = [];
  let connectMs = 0;
  for (let size = 0, i = 0; size < n; i++) {
    const k = Math.min(BATCH, n - size);
    const b0 = await rig.bytes();
    const s0 = await rig.stats();
    const t0 = performance.now();
    await rig.join(i, k, kind);
    // JSON v1 clients are not leaves of the routing table; their ack says the hub has them.
    if (kind === 'native') await rig.waitLeaves(leavesBefore + size + k);
    connectMs += performance.now() - t0;
    await sleep(SETTLE_MS);
    const s1 = await rig.stats();
    const b1 = await rig.bytes();
    size += k;
    batches.push({
      size,
      cpuMsPerJoin: (s1.cpuMs - s0.cpuMs) / k,
      routerBytesPerJoin: (b1.router - b0.router) / k,
      leafBytesPerJoin: (b1.leaf - b0.leaf) / k,
    });
  }
  await sleep(QUIET_MS);
  const after = await rig.stats(true);
  const c0 = await rig.stats();
  const t0 = performance.now();
  await sleep(IDLE_MS);
  const c1 = await rig.stats();
  return {
    kind,
    n,
    connectMs,
    rssPerClient: (after.rss - before.rss) / n,
    heapPerClient: (after.heapUsed - before.heapUsed) / n,
    rssAfter: after.rss,
    idleCpuPct: ((c1.cpuMs - c0.cpuMs) / (performance.now() - t0)) * 100,
    batches,
  };
}

async function runSize(ctx: SectionContext, n: number): Promise<SizeRun> {
  const rig = new Rig();
  try {
    await rig.start();
    // Warm-up: leaves that join and leave, so that code paths are compiled before the baseline.
    await rig.join(0, WARMUP, 'native');
    await rig.waitLeaves(1 + WARMUP);
    await rig.clients[0]!.call('leave', {}, RPC_MS);
    await rig.waitLeaves(1);
    await sleep(QUIET_MS);
    const base = await rig.stats(true);
    ctx.log(`connections: ${formatCount(n)} native leaves`);
    const native = await joinAll(rig, 'native', n, 1);
    ctx.log(`connections: ${formatCount(n)} JSON v1 clients beside them`);
    const json = await joinAll(rig, 'json', n, 1 + n);
    return { n, baseRss: base.rss, kinds: [native, json] };
  } finally {
    await rig.procs.stopAll();
  }
}

const kindName = (k: KindRun): string =>
  k.kind === 'native' ? 'native leaves' : 'JSON v1 clients (beside the leaves)';
/** A figure, or – when there is none (one batch only). */
const or = (x: number, f: (x: number) => string): string => (Number.isFinite(x) ? f(x) : '–');
const cpu = (ms: number): string => or(ms, (v) => formatNs(v * 1e6));
const perJoin = (b: number): string => or(b, (v) => `${v.toFixed(1)} B`);

function memoryTable(runs: readonly SizeRun[]): Table {
  const rows: string[][] = [];
  for (const r of runs)
    for (const k of r.kinds)
      rows.push([
        formatCount(r.n),
        kindName(k),
        `${(k.connectMs / 1000).toFixed(2)} s`,
        `${formatCount((k.n / k.connectMs) * 1000)}/s`,
        formatBytes(Math.round(k.rssPerClient)),
        formatBytes(Math.round(k.heapPerClient)),
        formatBytes(k.rssAfter),
        `${k.idleCpuPct.toFixed(1)}%`,
      ]);
  return {
    title: `Idle clients: the hub's memory (after a full GC) and the time to connect them, ${BATCH} at a time`,
    headers: [
      'N',
      'clients',
      'connect all',
      'joins/s',
      'hub RSS per client',
      'hub heap per client',
      'hub RSS then',
      'idle hub CPU',
    ],
    rows,
    align: ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  };
}

function joinTable(runs: readonly SizeRun[]): Table {
  const rows: string[][] = [];
  for (const r of runs)
    for (const k of r.kinds) {
      const f = joinFigures(k);
      rows.push([
        formatCount(r.n),
        kindName(k),
        perJoin(f.first?.routerBytesPerJoin ?? Number.NaN),
        perJoin(f.first?.leafBytesPerJoin ?? Number.NaN),
        cpu(f.early),
        cpu(f.late),
        or(f.late / f.early, formatRatio),
        perJoin(f.router),
        perJoin(f.leaf),
        perJoin(f.routerMax),
      ]);
    }
  return {
    title:
      'Per join, as the hub grows: bytes the hub sends to an observing router peer and to another leaf in the first batch, then (first batch left out) hub CPU time (median of the first and of the last tenth of the batches) and bytes to the router and to a leaf (mean; max of any batch)',
    headers: [
      'N',
      'clients',
      'first batch: to the router',
      'to a leaf',
      'hub CPU per join, first tenth',
      'last tenth',
      'last ÷ first',
      'to the router',
      'to a leaf',
      'max per join',
    ],
    rows,
    align: ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  };
}

function goals(runs: readonly SizeRun[]): GoalResult[] {
  const largest = runs[runs.length - 1]!;
  const native = largest.kinds[0]!;
  const f = joinFigures(native);
  const at = `at N = ${formatCount(largest.n)}`;
  return [
    goalAtMost(`hub RSS per idle native leaf ≤ ${formatBytes(RSS_GOAL)} ${at}`, native.rssPerClient, RSS_GOAL, (x) =>
      formatBytes(Math.round(x)),
    ),
    goalAtMost(`flat per-join CPU: last tenth ÷ first tenth ≤ ${FLAT_GOAL}× ${at}`, f.late / f.early, FLAT_GOAL),
    goalAtMost(
      `bytes per join to the router and to another leaf ≤ ${BYTES_GOAL} B ${at}`,
      Math.max(f.router, f.leaf),
      BYTES_GOAL,
      (x) => `${x.toFixed(1)} B`,
    ),
  ];
}

export const connectionsSection: BenchSection = {
  id: 'connections',
  title: 'Idle connections: what a leaf costs its hub',
  about: `A real hub (\`Endpoint({ role: 'hub' })\` + \`listen\`, as \`isobroker hub\` builds it) in a process of its own on 127.0.0.1, an observing router peer and an observing leaf (raw clients that count the bytes the hub sends them), then N idle native leaves (\`Endpoint\`s subscribed to \`stats/\` and a clone topic of their own, like dashboards) and then N idle Broker JSON v1 clients (subscribed to \`stats/\`), opened ${BATCH} at a time from ${CLIENT_PROCESSES} client processes, at N = ${SIZES.map(formatCount).join(', ')} (\`--quick\`: ${QUICK_SIZES.map(formatCount).join(', ')}), a fresh hub for each N. Memory is read in the hub after a full GC, against a baseline taken after ${WARMUP} warm-up leaves joined and left; CPU time is the hub process's own (user + system, including the pings it sends its idle clients).`,
  async run(ctx): Promise<SectionReport> {
    const runs: SizeRun[] = [];
    for (const n of ctx.quick ? QUICK_SIZES : SIZES) runs.push(await runSize(ctx, n));
    return {
      tables: [memoryTable(runs), joinTable(runs)],
      goals: goals(runs),
      notes: [
        `The hub started each run at ${runs.map((r) => formatBytes(r.baseRss)).join(', ')} RSS (N = ${runs.map((r) => formatCount(r.n)).join(', ')}). "Idle hub CPU" is its CPU use over ${IDLE_MS / 1000} s with every client of the row connected and quiet (the native protocol's and WebSocket pings). The first batch of each kind is left out of the per-join figures: it brings the hub the leaves' first prefixes, which it announces once to its router and leaves.`,
      ],
    };
  },
};
