/**
 * Backbone section: isobroker hubs joined by the NATS backbone (a real three-server nats-server
 * cluster with routes and JetStream, `test/support/nats-cluster.ts`) against the same number of
 * hubs fully peered over native WebSocket, in one run: throughput 1→1 across two hubs and 1→3
 * with subscribers on three hubs, latency at half the lower peak, loss and duplicates; then
 * failover on the backbone: delivery resuming after SIGKILL of a hub's NATS server, presence
 * seeing a cut-off hub down, and master-lease operations resuming after the JetStream leader of
 * the lease bucket is killed.
 *
 * Each hub runs in a process of its own (`../lib/backbone-hub.ts`); the clients (native
 * WebSocket leaves of their hubs) run in the benchmark process (`../lib/backbone-clients.ts`).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { connectNats, natsLeaseKv, type NatsClient } from '../../src/node/index.js';
import {
  NATS_SERVER,
  startNatsCluster,
  until,
  type NatsCluster,
  type NatsServerHandle,
} from '../../test/support/nats-cluster.js';
import { openSpread, SteadyStream, type SpreadClients } from '../lib/backbone-clients.js';
import { formatCount, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import { processCpuMs, sleep, type ChildHandle, ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import {
  type SectionChart,
  goalAtLeast,
  goalAtMost,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import { median } from '../lib/timing.js';
import type { HubPresenceEvent } from '../lib/backbone-hub.js';
import { PubSubLoad, type RoundResult, type RoundSpec } from './pubsub-load.js';
import { nowUs } from './pubsub-payload.js';
import { summarizeCpuProfile } from './pubsub-profile.js';

/** Messages published per event-loop turn (as in the pub/sub section). */
const BURST = 500;
/** Most messages per subscriber in flight before the publisher waits (as in the pub/sub section). */
const IN_FLIGHT_CAP = 2000;
/** Published messages per second of the steady stream in failover trials. */
const STEADY_RATE = 2000;
const CALL_MS = 30_000;

interface Durations {
  readonly warmupMs: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly rateRounds: number;
  readonly drainMs: number;
  readonly killTrials: number;
  readonly cutTrials: number;
  readonly leaseTrials: number;
}

const FULL: Durations = {
  warmupMs: 2000,
  roundMs: 1000,
  rounds: 5,
  rateRounds: 3,
  drainMs: 2000,
  killTrials: 5,
  cutTrials: 3,
  leaseTrials: 3,
};
const QUICK: Durations = {
  warmupMs: 300,
  roundMs: 700,
  rounds: 1,
  rateRounds: 1,
  drainMs: 1000,
  killTrials: 2,
  cutTrials: 1,
  leaseTrials: 1,
};

type PathId = 'backbone' | 'direct';
const PATHS: readonly PathId[] = ['backbone', 'direct'];

/** One hub process. */
interface Hub {
  readonly name: string;
  readonly url: string;
  readonly child: ChildHandle;
  readonly rpc: RpcClient;
}

/** The hubs of one path, and the extra processes whose CPU counts as its brokers'. */
interface PathSetup {
  readonly path: PathId;
  readonly hubs: readonly Hub[];
  readonly hubPids: () => number[];
  /** The nats-server processes (none for the direct path). */
  readonly natsPids: () => number[];
}

async function startHub(procs: ProcessSet, name: string): Promise<Hub> {
  const script = fileURLToPath(new URL('../lib/backbone-hub.js', import.meta.url));
  const child = procs.spawn(name, process.execPath, [script, name]);
  const m = await child.waitForLine(/^ready (ws:\/\/\S+)$/, 15_000);
  return { name, url: m[1]!, child, rpc: new RpcClient(child) };
}

/** The server list of a hub whose home is server `home`: home first, then the others in order. */
function homeFirst(cluster: NatsCluster, home: number): string[] {
  return [...cluster.urls.slice(home), ...cluster.urls.slice(0, home)];
}

/** The running server whose client address `server` (nats.js `getServer()`, `host:port`) names. */
function serverAt(cluster: NatsCluster, server: string): NatsServerHandle {
  const s = cluster.servers.find((x) => server.endsWith(`${x.host}:${x.port}`));
  if (s === undefined) throw new Error(`no cluster server at ${server}`);
  return s;
}

async function events(hub: Hub): Promise<HubPresenceEvent[]> {
  return hub.rpc.call<HubPresenceEvent[]>('events', {}, 5000);
}

/** Waits until every hub of the backbone path sees every other one up. */
async function backboneFormed(hubs: readonly Hub[]): Promise<void> {
  await until('backbone presence', 20_000, async () => {
    for (const h of hubs) {
      const present = await h.rpc.call<string[]>('present', {}, 5000);
      const missing = hubs.filter((o) => o !== h && !present.includes(o.name));
      if (missing.length > 0) throw new Error(`${h.name} does not see ${missing.map((o) => o.name).join(', ')}`);
    }
  });
}

// ---- throughput and latency -------------------------------------------------------------------

interface PathRounds {
  readonly peak: RoundResult[];
  readonly rate: RoundResult[];
  readonly peakCpu: RoundCpu[];
}

interface ScenarioResult {
  readonly subscribers: number;
  readonly byPath: ReadonlyMap<PathId, PathRounds>;
  /** Deliveries per second (summed over subscribers) of the rate-limited rounds. */
  readonly targetDelivered: number;
  /** Per round pair: backbone delivered/s ÷ direct delivered/s. */
  readonly ratios: number[];
}

async function measuredRound(
  load: PubSubLoad,
  setup: PathSetup,
  spec: RoundSpec,
): Promise<{ r: RoundResult; cpu: RoundCpu }> {
  const hubs = setup.hubPids();
  const nats = setup.natsPids();
  const read = (pids: number[]) => pids.map((p) => processCpuMs(p) ?? 0);
  const [h0, n0] = [read(hubs), read(nats)];
  const r = await load.round(spec);
  const [h1, n1] = [read(hubs), read(nats)];
  const used = (a: number[], b: number[]) => b.reduce((n, c, i) => n + c - a[i]!, 0);
  const hubMs = used(h0, h1);
  const natsMs = used(n0, n1);
  return {
    r,
    cpu: {
      hubPct: (hubMs / r.elapsedMs) * 100,
      natsPct: nats.length === 0 ? Number.NaN : (natsMs / r.elapsedMs) * 100,
      usPerDelivery: ((hubMs + natsMs) * 1000) / Math.max(1, r.delivered),
    },
  };
}

/** CPU of a path's brokers over one round; 100% is one core. */
interface RoundCpu {
  readonly hubPct: number;
  readonly natsPct: number;
  /** Hub and nats-server CPU time per delivered message, µs. */
  readonly usPerDelivery: number;
}

/** Subscriber hubs: the 1→1 subscriber sits on hub 1 (another hub, another NATS server). */
function subscriberHubs(hubs: readonly Hub[], n: number): Hub[] {
  return [hubs[1]!, hubs[2]!, hubs[0]!].slice(0, n);
}

async function runScenario(
  ctx: SectionContext,
  setups: readonly PathSetup[],
  subscribers: number,
  d: Durations,
): Promise<ScenarioResult> {
  const label = `1→${subscribers}`;
  const loads = new Map<PathId, PubSubLoad>();
  const clients: SpreadClients[] = [];
  try {
    for (const s of setups) {
      ctx.log(`backbone ${label}: connecting ${s.path} clients`);
      const load = new PubSubLoad(subscribers);
      const c = await openSpread(
        s.hubs[0]!.url,
        subscriberHubs(s.hubs, subscribers).map((h) => h.url),
        load.deliver,
      );
      clients.push(c);
      load.attach(c);
      await load.ready(15_000);
      loads.set(s.path, load);
    }
    const peakSpec: RoundSpec = { durationMs: d.roundMs, burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs };
    for (const s of setups) {
      ctx.log(`backbone ${label}: warming up ${s.path}`);
      await loads.get(s.path)!.round({ ...peakSpec, durationMs: d.warmupMs });
    }
    const byPath = new Map<PathId, PathRounds>(setups.map((s) => [s.path, { peak: [], rate: [], peakCpu: [] }]));
    const ratios: number[] = [];
    for (let r = 0; r < d.rounds; r++) {
      const got = new Map<PathId, number>();
      for (let k = 0; k < setups.length; k++) {
        const s = setups[(r + k) % setups.length]!;
        ctx.log(`backbone ${label}: round ${r + 1}/${d.rounds}, ${s.path} at full speed`);
        const { r: out, cpu } = await measuredRound(loads.get(s.path)!, s, peakSpec);
        byPath.get(s.path)!.peak.push(out);
        byPath.get(s.path)!.peakCpu.push(cpu);
        got.set(s.path, out.deliveredPerSec);
      }
      ratios.push(got.get('backbone')! / got.get('direct')!);
    }
    const peaks = PATHS.map((p) => median(byPath.get(p)!.peak.map((x) => x.deliveredPerSec)));
    const targetDelivered = Math.min(...peaks) / 2;
    const rateSpec: RoundSpec = { ...peakSpec, rate: targetDelivered / subscribers };
    for (let r = 0; r < d.rateRounds; r++) {
      for (let k = 0; k < setups.length; k++) {
        const s = setups[(r + k) % setups.length]!;
        ctx.log(
          `backbone ${label}: rate round ${r + 1}/${d.rateRounds}, ${s.path} at ${Math.round(targetDelivered)} deliveries/s`,
        );
        byPath.get(s.path)!.rate.push((await measuredRound(loads.get(s.path)!, s, rateSpec)).r);
      }
    }
    return { subscribers, byPath, targetDelivered, ratios };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

// ---- profiles -------------------------------------------------------------------------------------

/** Files listed in the profile table. */
const PROFILE_FILES = 10;

interface HubProfile {
  readonly path: PathId;
  readonly delivered: number;
  /** Self time per file, ms, of the publisher's hub and of the subscriber's hub. */
  readonly files: readonly ReadonlyMap<string, number>[];
  readonly busyMs: readonly number[];
}

/**
 * One 1→1 round at full speed per path with the V8 CPU profiler running in the publisher's and
 * the subscriber's hub: where each hub's time goes, per delivered message.
 */
async function profileHubs(
  ctx: SectionContext,
  procs: ProcessSet,
  setups: readonly PathSetup[],
  d: Durations,
): Promise<HubProfile[]> {
  const dir = procs.tempDir('isobroker-bench-backbone-prof-');
  const out: HubProfile[] = [];
  for (const s of setups) {
    ctx.log(`backbone: profiling the ${s.path} path's hubs, 1→1 at full speed`);
    const load = new PubSubLoad(1);
    const hubs = [s.hubs[0]!, s.hubs[1]!];
    const c = await openSpread(hubs[0]!.url, [hubs[1]!.url], load.deliver);
    try {
      load.attach(c);
      await load.ready(15_000);
      const spec: RoundSpec = { durationMs: d.roundMs, burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs };
      await load.round({ ...spec, durationMs: d.warmupMs });
      await Promise.all(hubs.map((h) => h.rpc.call('profile-start', {}, 5000)));
      const r = await load.round({ ...spec, durationMs: 2 * d.roundMs });
      const files = hubs.map((h) => join(dir, `${s.path}-${h.name}.cpuprofile`));
      await Promise.all(hubs.map((h, i) => h.rpc.call('profile-stop', { path: files[i] }, CALL_MS)));
      const sums = files.map((f) => summarizeCpuProfile(f, 1000));
      out.push({
        path: s.path,
        delivered: r.delivered,
        files: sums.map((x) => new Map(x.files.map((e) => [e.name, e.selfMs]))),
        busyMs: sums.map((x) => x.busyMs),
      });
    } finally {
      await c.close();
    }
  }
  return out;
}

// ---- failover ---------------------------------------------------------------------------------

interface KillTrial {
  readonly side: 'publisher' | 'subscriber';
  readonly server: string;
  readonly resumeMs: number;
  readonly lost: number;
  readonly duplicates: number;
}

/** Re-homes both hubs (each back on its own server) and waits until the stream flows again. */
async function rehome(a: Hub, b: Hub, hubs: readonly Hub[], stream: SteadyStream): Promise<void> {
  await Promise.all([a.rpc.call('reattach', {}, CALL_MS), b.rpc.call('reattach', {}, CALL_MS)]);
  await backboneFormed(hubs);
  await stream.firstDeliveryAfter(nowUs(), 15_000);
  await sleep(500);
}

/**
 * SIGKILL of the NATS server the publisher's hub (odd trials) or the subscriber's hub (even
 * trials) uses, under a steady stream: the time from the kill until the first message published
 * after it is delivered. The server is restarted and both hubs re-homed between trials.
 */
async function killTrials(
  ctx: SectionContext,
  cluster: NatsCluster,
  hubs: readonly Hub[],
  d: Durations,
): Promise<KillTrial[]> {
  const [a, b] = [hubs[0]!, hubs[1]!];
  const clients = await openSpread(a.url, [b.url], () => {});
  const stream = new SteadyStream(clients, 1, STEADY_RATE);
  const trials: KillTrial[] = [];
  try {
    stream.start();
    await stream.firstDeliveryAfter(nowUs(), 15_000);
    for (let t = 0; t < d.killTrials; t++) {
      const side = t % 2 === 0 ? 'publisher' : 'subscriber';
      const victimHub = side === 'publisher' ? a : b;
      const victim = serverAt(cluster, await victimHub.rpc.call<string>('server', {}, 5000));
      ctx.log(`backbone failover ${t + 1}/${d.killTrials}: SIGKILL of ${victim.name}, the ${side}'s server`);
      await sleep(500);
      stream.reset();
      const killUs = nowUs();
      const resumed = stream.firstDeliveryAfter(killUs, 20_000);
      await victim.kill('SIGKILL');
      const at = await resumed;
      await sleep(1000);
      trials.push({
        side,
        server: victim.name,
        resumeMs: (at - killUs) / 1000,
        lost: stream.lost,
        duplicates: stream.duplicates,
      });
      await victim.restart();
      await rehome(a, b, hubs, stream);
    }
  } finally {
    stream.stop();
    await clients.close();
  }
  return trials;
}

interface CutTrial {
  /** ms from SIGSTOP to endpointDown / nodeDown, per observing hub. */
  readonly endpointDownMs: number[];
  readonly nodeDownMs: number[];
}

/**
 * SIGSTOP of the third hub's process (cut off: no heartbeats, nothing else changes): the time
 * until the other two hubs' presence reports it down (endpointDown, and nodeDown of the cluster
 * node it hosts). It is continued and seen up again between trials.
 */
async function cutTrials(ctx: SectionContext, hubs: readonly Hub[], d: Durations): Promise<CutTrial[]> {
  const victim = hubs[2]!;
  const observers = [hubs[0]!, hubs[1]!];
  const trials: CutTrial[] = [];
  for (let t = 0; t < d.cutTrials; t++) {
    await backboneFormed(hubs);
    await sleep(1000);
    ctx.log(`backbone presence ${t + 1}/${d.cutTrials}: SIGSTOP of ${victim.name}`);
    const t0 = Date.now();
    victim.child.signal('SIGSTOP');
    try {
      const seen = await until(
        'presence down',
        15_000,
        async () => {
          const all = await Promise.all(observers.map(events));
          return all.map((evs) => {
            const after = evs.filter((e) => e.at >= t0 && e.name === victim.name);
            const ep = after.find((e) => e.kind === 'endpointDown');
            const node = after.find((e) => e.kind === 'nodeDown');
            if (ep === undefined || node === undefined) throw new Error('not down yet');
            return { ep: ep.at - t0, node: node.at - t0 };
          });
        },
        50,
      );
      trials.push({ endpointDownMs: seen.map((s) => s.ep), nodeDownMs: seen.map((s) => s.node) });
    } finally {
      victim.child.signal('SIGCONT');
    }
  }
  await backboneFormed(hubs);
  return trials;
}

interface LeaseTrial {
  readonly leader: string;
  readonly recoveryMs: number;
  readonly failedAttempts: number;
}

/**
 * Master-lease bucket (`natsLeaseKv`, replicas 3) under updates every 50 ms: SIGKILL of its
 * stream's JetStream leader, and the time until an update succeeds again. The server is
 * restarted, and the stream's replicas are all current again, between trials.
 */
async function leaseTrials(ctx: SectionContext, cluster: NatsCluster, d: Durations): Promise<LeaseTrial[]> {
  const bucket = 'bench_leases';
  const stream = `KV_${bucket}`;
  const nc: NatsClient = await connectNats(cluster.urls, { name: 'bench-lease' });
  const probe: NatsConnection = await connect({ servers: [...cluster.urls], name: 'bench-lease-probe' });
  const trials: LeaseTrial[] = [];
  const enc = new TextEncoder();
  try {
    const kv = await natsLeaseKv(nc, bucket, { timeout: 1000 });
    let rev = await kv.create('lease', enc.encode('v0'));
    for (let t = 0; t < d.leaseTrials; t++) {
      const leaderName = await until('a stream leader, replicas current', 30_000, async () => {
        const si = await (await probe.jetstreamManager({ timeout: 2000 })).streams.info(stream);
        const c = si.cluster;
        if (c?.leader === undefined || (c.replicas ?? []).length !== 2 || !(c.replicas ?? []).every((r) => r.current))
          throw new Error('replicas not current');
        return c.leader;
      });
      const leader = cluster.servers.find((s) => s.name === leaderName);
      if (leader === undefined) throw new Error(`leader ${leaderName} is not a cluster server`);
      // Renewals before the kill: the lease works.
      rev = await kv.update('lease', enc.encode(`before-${t}`), rev);
      ctx.log(`backbone lease ${t + 1}/${d.leaseTrials}: SIGKILL of ${leader.name}, the stream leader`);
      const value = `after-${t}`;
      let failed = 0;
      const t0 = performance.now();
      await leader.kill('SIGKILL');
      rev = await until(
        'a lease update after the leader died',
        30_000,
        async () => {
          try {
            return await kv.update('lease', enc.encode(value), rev);
          } catch (e) {
            failed++;
            if ((e as { code?: string }).code === 'wrong_revision') {
              // An earlier attempt went through after all (its answer was lost).
              const cur = await kv.get('lease');
              if (cur !== undefined && new TextDecoder().decode(cur.value) === value) return cur.revision;
            }
            throw e;
          }
        },
        50,
      );
      trials.push({ leader: leader.name, recoveryMs: performance.now() - t0, failedAttempts: failed });
      await leader.restart();
    }
  } finally {
    await nc.close().catch(() => {});
    await probe.close().catch(() => {});
  }
  return trials;
}

// ---- report -----------------------------------------------------------------------------------

const ms = (x: number): string => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms` : '–');
const pct = (x: number): string => `${Math.round(x)}%`;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function throughputTable(results: readonly ScenarioResult[]): Table {
  const rows: string[][] = [];
  for (const r of results) {
    for (const p of PATHS) {
      const x = r.byPath.get(p)!;
      rows.push([
        `1→${r.subscribers}`,
        p,
        formatOps(median(x.peak.map((y) => y.deliveredPerSec))),
        ms(median(x.peak.map((y) => y.p50Ms))),
        ms(median(x.peak.map((y) => y.p99Ms))),
        formatCount(sum(x.peak.map((y) => y.lost))),
        formatCount(sum(x.peak.map((y) => y.duplicates))),
        pct(median(x.peakCpu.map((c) => c.hubPct))),
        p === 'direct' ? '–' : pct(median(x.peakCpu.map((c) => c.natsPct))),
        `${median(x.peakCpu.map((c) => c.usPerDelivery)).toFixed(1)} µs`,
      ]);
    }
  }
  return {
    title: 'Full speed: deliveries per second (median of rounds)',
    headers: [
      'scenario',
      'path',
      'delivered/s',
      'p50',
      'p99',
      'lost',
      'duplicates',
      'hub CPU',
      'nats-server CPU',
      'broker CPU per delivery',
    ],
    rows,
  };
}

function rateTable(results: readonly ScenarioResult[]): Table {
  const rows: string[][] = [];
  for (const r of results) {
    for (const p of PATHS) {
      const x = r.byPath.get(p)!.rate;
      rows.push([
        `1→${r.subscribers}`,
        p,
        formatOps(r.targetDelivered),
        ms(median(x.map((y) => y.p50Ms))),
        ms(median(x.map((y) => y.p99Ms))),
        ms(Math.max(...x.map((y) => y.maxMs))),
        formatCount(sum(x.map((y) => y.lost))),
        formatCount(sum(x.map((y) => y.duplicates))),
      ]);
    }
  }
  return {
    title: 'Half the lower peak: latency, loss and duplicates (steady state)',
    headers: ['scenario', 'path', 'delivered/s', 'p50', 'p99', 'max', 'lost', 'duplicates'],
    rows,
  };
}

function p99(r: ScenarioResult, p: PathId): number {
  return median(r.byPath.get(p)!.rate.map((y) => y.p99Ms));
}

function ratioTable(results: readonly ScenarioResult[]): Table {
  return {
    title: 'Backbone against direct peerings (same run)',
    headers: ['scenario', 'throughput backbone ÷ direct', 'p99 at half peak backbone ÷ direct'],
    rows: results.map((r) => [
      `1→${r.subscribers}`,
      formatRatio(median(r.ratios)),
      formatRatio(p99(r, 'backbone') / p99(r, 'direct')),
    ]),
  };
}

function profileTables(profiles: readonly HubProfile[]): Table[] {
  if (profiles.length === 0) return [];
  const perDelivery = (p: HubProfile, i: number, file: string) =>
    ((p.files[i]!.get(file) ?? 0) * 1000) / Math.max(1, p.delivered);
  const total = new Map<string, number>();
  for (const p of profiles) {
    for (const [i, m] of p.files.entries()) {
      for (const f of m.keys()) {
        if (f === '(idle)' || f === '(program)') continue;
        total.set(f, (total.get(f) ?? 0) + perDelivery(p, i, f));
      }
    }
  }
  const top = [...total.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, PROFILE_FILES)
    .map(([f]) => f);
  const us = (x: number) => `${x.toFixed(2)} µs`;
  const cells = (f: (p: HubProfile, i: number) => number) => profiles.flatMap((p) => [0, 1].map((i) => us(f(p, i))));
  return [
    {
      title:
        "Where the hubs' time goes, 1→1 at full speed (V8 sampling profiler): sampled self time per delivered message, by file",
      headers: ['file', ...profiles.flatMap((p) => [`${p.path}: publisher's hub`, `${p.path}: subscriber's hub`])],
      rows: [
        ['all (busy)', ...cells((p, i) => (p.busyMs[i]! * 1000) / Math.max(1, p.delivered))],
        ...top.map((file) => [file, ...cells((p, i) => perDelivery(p, i, file))]),
      ],
    },
  ];
}

function killTable(trials: readonly KillTrial[]): Table {
  return {
    title: 'Failover: SIGKILL of the NATS server a hub uses, steady stream of 2,000 messages/s',
    headers: ['trial', 'server killed', 'whose', 'delivery resumed after', 'lost in flight', 'duplicates'],
    rows: trials.map((t, i) => [
      String(i + 1),
      t.server,
      `the ${t.side}'s hub`,
      ms(t.resumeMs),
      formatCount(t.lost),
      formatCount(t.duplicates),
    ]),
  };
}

function cutTable(trials: readonly CutTrial[]): Table {
  return {
    title: 'Presence: a hub cut off (its process stopped with SIGSTOP), seen down by the two other hubs',
    headers: ['trial', 'endpointDown (hub 1, hub 2)', 'nodeDown (hub 1, hub 2)'],
    rows: trials.map((t, i) => [String(i + 1), t.endpointDownMs.map(ms).join(', '), t.nodeDownMs.map(ms).join(', ')]),
  };
}

function leaseTable(trials: readonly LeaseTrial[]): Table {
  return {
    title: 'Master leases: SIGKILL of the lease bucket stream’s JetStream leader',
    headers: ['trial', 'leader killed', 'update succeeded again after', 'failed attempts'],
    rows: trials.map((t, i) => [String(i + 1), t.leader, ms(t.recoveryMs), formatCount(t.failedAttempts)]),
  };
}

function goals(
  results: readonly ScenarioResult[],
  kills: readonly KillTrial[],
  cuts: readonly CutTrial[],
  leases: readonly LeaseTrial[],
): GoalResult[] {
  const out: GoalResult[] = [];
  const one = results.find((r) => r.subscribers === 1);
  const three = results.find((r) => r.subscribers === 3);
  if (one) out.push(goalAtLeast('1→1 across hubs: backbone ≥ 0.8× direct peerings', median(one.ratios), 0.8));
  if (three) out.push(goalAtLeast('1→3 on three hubs: backbone ≥ 1.0× direct peerings', median(three.ratios), 1.0));
  if (results.length > 0) {
    const worst = Math.max(...results.map((r) => p99(r, 'backbone')));
    out.push(goalAtMost('p99 at half peak over the backbone < 10 ms', worst, 10 - 1e-9, ms));
    const worstRatio = Math.max(...results.map((r) => p99(r, 'backbone') / p99(r, 'direct')));
    out.push(goalAtMost("p99 at half peak over the backbone ≤ 2× the direct path's", worstRatio, 2));
    const steady = results.flatMap((r) => r.byPath.get('backbone')!.rate);
    const bad = sum(steady.map((y) => y.lost)) + sum(steady.map((y) => y.duplicates));
    out.push(
      goalAtMost(
        'steady state over the backbone: 0 lost, 0 duplicates',
        bad,
        0,
        (x) => `${formatCount(x)} lost + duplicated`,
      ),
    );
  }
  if (kills.length > 0) {
    out.push(
      goalAtMost(
        'delivery resumes after a NATS server is killed: median < 1 s',
        median(kills.map((t) => t.resumeMs)),
        1000 - 1e-9,
        ms,
      ),
    );
  }
  if (cuts.length > 0) {
    const all = cuts.flatMap((t) => [...t.endpointDownMs, ...t.nodeDownMs]);
    out.push(goalAtMost('a cut-off hub is down (endpointDown, nodeDown): median < 2 s', median(all), 2000 - 1e-9, ms));
  }
  if (leases.length > 0) {
    out.push(
      goalAtMost(
        'lease operations resume after the JetStream leader is killed: ≤ 10 s (worst trial)',
        Math.max(...leases.map((t) => t.recoveryMs)),
        10_000,
        ms,
      ),
    );
  }
  return out;
}

function charts(results: readonly ScenarioResult[], tables: readonly Table[]): SectionChart[] {
  if (results.length === 0) return [];
  const groups = results.map((r) => `1→${r.subscribers}`);
  const series = (f: (r: ScenarioResult, p: PathId) => number) =>
    PATHS.map((p) => ({
      name: p === 'backbone' ? 'NATS backbone' : 'direct native peerings',
      values: results.map((r) => f(r, p)),
    }));
  return [
    {
      file: 'throughput',
      title: 'Deliveries per second at full speed: NATS backbone against direct peerings',
      after: tables[0]!.title,
      svg: groupedBarChartSvg({
        title: 'Deliveries per second across hubs at full speed (more is better)',
        axis: 'delivered messages per second',
        groups,
        series: series((r, p) => median(r.byPath.get(p)!.peak.map((y) => y.deliveredPerSec))),
        format: formatOps,
      }),
    },
    {
      file: 'p99-half-peak',
      title: 'p99 latency at half the lower peak: NATS backbone against direct peerings',
      after: tables[1]!.title,
      svg: groupedBarChartSvg({
        title: 'p99 publish-to-delivery latency at half the lower peak (less is better)',
        axis: 'p99 latency',
        groups,
        series: series((r, p) => p99(r, p)),
        format: ms,
      }),
    },
  ];
}

// ---- the section ------------------------------------------------------------------------------

async function run(ctx: SectionContext): Promise<SectionReport> {
  const d = ctx.quick ? QUICK : FULL;
  if (NATS_SERVER === undefined) {
    return {
      tables: [],
      goals: [],
      notes: ['**Not measured:** nats-server is not installed (Debian: `apt-get install nats-server`).'],
    };
  }
  const procs = new ProcessSet();
  let cluster: NatsCluster | undefined;
  const results: ScenarioResult[] = [];
  let kills: KillTrial[] = [];
  let cuts: CutTrial[] = [];
  let leases: LeaseTrial[] = [];
  let profiles: HubProfile[] = [];
  const loadBefore = loadavg()[0]!;
  let loadAfter = NaN;
  try {
    ctx.log('backbone: starting a three-server NATS cluster');
    const c = await startNatsCluster();
    cluster = c;
    ctx.log('backbone: starting six hubs');
    const bb = await Promise.all(['bb-1', 'bb-2', 'bb-3'].map((n) => startHub(procs, n)));
    const direct = await Promise.all(['direct-1', 'direct-2', 'direct-3'].map((n) => startHub(procs, n)));
    await Promise.all(bb.map((h, i) => h.rpc.call('attach', { servers: homeFirst(c, i) }, CALL_MS)));
    await backboneFormed(bb);
    for (const [i, j] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      await direct[i]!.rpc.call('peer', { url: direct[j]!.url }, CALL_MS);
    }
    const natsPids = () => c.servers.map((s) => s.pid).filter((p): p is number => p !== undefined);
    const setups: PathSetup[] = [
      { path: 'backbone', hubs: bb, hubPids: () => bb.map((h) => h.child.pid), natsPids },
      { path: 'direct', hubs: direct, hubPids: () => direct.map((h) => h.child.pid), natsPids: () => [] },
    ];
    for (const n of [1, 3]) results.push(await runScenario(ctx, setups, n, d));
    loadAfter = loadavg()[0]!;
    profiles = await profileHubs(ctx, procs, setups, d);
    kills = await killTrials(ctx, c, bb, d);
    cuts = await cutTrials(ctx, bb, d);
    leases = await leaseTrials(ctx, c, d);
  } finally {
    await procs.stopAll();
    await cluster?.stop();
  }
  const tables: Table[] = [
    throughputTable(results),
    rateTable(results),
    ratioTable(results),
    ...profileTables(profiles),
    killTable(kills),
    cutTable(cuts),
    leaseTable(leases),
  ];
  return {
    tables,
    charts: charts(results, tables),
    goals: goals(results, kills, cuts, leases),
    notes: [
      `Machine load (1-minute load average) ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after the ` +
        'throughput rounds, on 2 cores shared with three nats-server processes, six hub processes and the clients.',
      ...methodNotes(d),
    ],
  };
}

function methodNotes(d: Durations): string[] {
  return [
    'Setup: three nats-server processes on 127.0.0.11–13 with routes and JetStream (`test/support/nats-cluster.ts`; ' +
      'server pings every 1 s, two missed). Each hub is `new Endpoint({ role: "hub" })` + the Node listener on ' +
      '127.0.0.1 (port 0) in a process of its own. Backbone path: hubs 1, 2, 3 attached with `connectNats` (its ' +
      'defaults, servers listed home first with `noRandomize`: hub i on server i) and `attachBackbone` (namespace ' +
      '`bench`, one cluster node each); no native peerings. Direct path: three other hubs, fully peered over native ' +
      'WebSocket (1–2, 1–3, 2–3), no backbone. Clients are `Endpoint`s in the benchmark process, native WebSocket ' +
      'leaves: the publisher on hub 1, the 1→1 subscriber on hub 2, the 1→3 subscribers on hubs 2, 3 and 1.',
    `Load: the pub/sub section's (\`pubsub-load.ts\`): 100-byte messages carrying a sequence number and the publish ` +
      `time, ${BURST} per event-loop turn, at most ${IN_FLIGHT_CAP} in flight per subscriber; subscribers count gaps ` +
      'as lost and repeats as duplicates per (origin, sequence). Per scenario both paths are warmed up, then run ' +
      `interleaved for ${d.rounds} round(s) of ${d.roundMs} ms (the starting path alternating); the ratio is the ` +
      'median of per-round ratios. The rate-limited pass runs both paths at half the lower of the two peaks, ' +
      `${d.rateRounds} round(s) each: its p99 and its loss are the steady-state figures. CPU: the three hub processes, ` +
      'and the three nats-servers, over the round (100% is one core); per delivery: both together over the messages ' +
      'delivered in the round.',
    'Reading the figures: with the in-flight window a path delivers at most window ÷ latency, and every process on ' +
      'a message’s way waits for a core: across hubs the backbone puts four processes in a row (hub, nats-server, ' +
      'nats-server, hub) where direct peerings put two, on 2 cores shared with the rest of the machine (see the load ' +
      'above), so here the backbone pays for its hops in latency and throughput alike.',
    'Profile: one more 1→1 round per path after the measured ones, the V8 profiler running in the publisher’s and ' +
      'the subscriber’s hub. Its samples are wall time of the main thread: on this loaded machine a socket write that ' +
      'wakes the receiving process (a nats-server, a leaf) often gives it the core, and the wait is charged to ' +
      '`writev`/`writeBuffer`; the CPU columns above (from /proc) are CPU time.',
    `Failover: a steady stream (${STEADY_RATE} messages/s, publisher on hub 1, subscriber on hub 2); SIGKILL of the ` +
      "NATS server the publisher's hub uses (odd trials) or the subscriber's hub uses (even trials); the figure is the " +
      'time from the kill to the delivery of the first message published after it. nats.js sees the closed socket at ' +
      'once and reconnects to the next server; the backbone queues while disconnected. Between trials the server is ' +
      'restarted and both hubs are re-attached to their home servers. Presence: SIGSTOP of hub 3’s process ' +
      '(heartbeats every 500 ms, presence timeout 2 s); the time until hubs 1 and 2 report endpointDown and nodeDown. ' +
      'Leases: `natsLeaseKv` (replicas 3, request timeout 1 s) updated every 50 ms after SIGKILL of the bucket ' +
      "stream's leader until an update succeeds; the server is restarted and the replicas current between trials.",
  ];
}

/** The `backbone` section. */
export const backboneSection: BenchSection = {
  id: 'backbone',
  title: 'NATS backbone between hubs',
  about:
    'Hubs joined by the NATS backbone (a real three-server nats-server cluster) against the same hubs fully peered ' +
    'over native WebSocket, in the same run: throughput 1→1 across two hubs and 1→3 with subscribers on three hubs, ' +
    'p99 latency at half the lower peak, loss and duplicates; then delivery resuming after a NATS server is killed, ' +
    'presence seeing a cut-off hub down, and master-lease operations resuming after the JetStream leader is killed.',
  run,
};
