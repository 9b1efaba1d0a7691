/**
 * Stores of large values (issue 16): a clone syncs a SQLite-backed store of large values over a
 * real WebSocket on 127.0.0.1 while the master's endpoint publishes a steady event stream to the
 * clone's endpoint on the same connection. Reported: the event stream's latency (p50/p99/max)
 * without a sync and during the sync, side by side in one run, the sync's time and throughput,
 * and the peak RSS growth against the store size — twice: with master and clone in one process
 * (the latency includes both sides' CPU work on one event loop: a worst case) and with each in a
 * process of its own (the usual deployment; RSS per side).
 *
 * Latency counts from the time an event was due (one every 2 ms), not from when the publisher got
 * to run: an event loop held by the sync shows as latency, not as fewer events.
 */
import { fileURLToPath } from 'node:url';
import type { Table } from '../lib/markdown.js';
import { type ChildHandle, ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import {
  goalAtLeast,
  goalAtMost,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { type Arrival, CloneSide, MasterSide, MiB, wallMs } from './stores-large-roles.js';

const EVENT_EVERY_MS = 2;
const QUIET_MS = 3000;
/** Events due near the end of the sync may still be on their way. */
const STRAGGLERS_MS = 500;
const RPC_MS = 30_000;
const SYNC_TIMEOUT_MS = 600_000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface PhaseFigures {
  readonly due: number;
  readonly latencies: number[];
}

interface RunResult {
  readonly storeBytes: number;
  readonly syncMs: number;
  readonly quiet: PhaseFigures;
  readonly sync: PhaseFigures;
  /** Peak RSS growth during the sync: both sides together, or [master, clone]. */
  readonly rss: number | readonly [number, number];
  readonly snapshotBytes: number;
}

/** One side's calls, in this process or through a helper process. */
interface Sides {
  setup(n: number, valueBytes: number): Promise<string>;
  peer(url: string): Promise<void>;
  startEvents(): Promise<void>;
  stopEvents(): Promise<void>;
  rssStart(): Promise<void>;
  rssStop(): Promise<number | readonly [number, number]>;
  sync(): Promise<{ start: number; end: number }>;
  arrivals(): Promise<Arrival[]>;
  snapshotBytes(): Promise<number>;
  close(): Promise<void>;
}

function inProcess(): Sides {
  const m = new MasterSide();
  const c = new CloneSide();
  return {
    setup: (n, b) => m.setup(n, b),
    peer: (url) => c.peer(url),
    startEvents: () => m.startEvents(EVENT_EVERY_MS),
    stopEvents: async () => m.stopEvents(),
    rssStart: async () => m.rss.start(),
    rssStop: async () => m.rss.stop(),
    sync: () => c.sync(SYNC_TIMEOUT_MS),
    arrivals: async () => c.takeArrivals(),
    snapshotBytes: async () => m.snapshotBytes(),
    close: async () => {
      await c.close();
      await m.close();
    },
  };
}

async function split(procs: ProcessSet): Promise<Sides> {
  const path = fileURLToPath(new URL('./stores-large-peer.js', import.meta.url));
  const start = async (role: string): Promise<[ChildHandle, RpcClient]> => {
    const child = procs.spawn(`stores-large ${role}`, process.execPath, ['--expose-gc', path, role]);
    await child.waitForLine(/^ready$/, RPC_MS);
    return [child, new RpcClient(child)];
  };
  const [mChild, m] = await start('master');
  const [cChild, c] = await start('clone');
  return {
    setup: (n, valueBytes) =>
      m.call('setup', { n, valueBytes, dir: procs.tempDir('isobroker-bench-large-') }, SYNC_TIMEOUT_MS),
    peer: (url) => c.call('peer', { url }, RPC_MS),
    startEvents: () => m.call('startEvents', { everyMs: EVENT_EVERY_MS }, RPC_MS),
    stopEvents: () => m.call('stopEvents', null, RPC_MS),
    rssStart: async () => {
      await Promise.all([m.call('rssStart', null, RPC_MS), c.call('rssStart', null, RPC_MS)]);
    },
    rssStop: async () => [await m.call<number>('rssStop', null, RPC_MS), await c.call<number>('rssStop', null, RPC_MS)],
    sync: async () => {
      // STORES_LARGE_PROFILE_DIR=dir: CPU profiles of both sides during the sync, for digging.
      const dir = process.env.STORES_LARGE_PROFILE_DIR;
      if (dir) await Promise.all([m.call('profileStart', null, RPC_MS), c.call('profileStart', null, RPC_MS)]);
      const r = await c.call<{ start: number; end: number }>(
        'sync',
        { timeoutMs: SYNC_TIMEOUT_MS },
        SYNC_TIMEOUT_MS + RPC_MS,
      );
      if (dir)
        await Promise.all([
          m.call('profileStop', { path: `${dir}/master.cpuprofile` }, RPC_MS),
          c.call('profileStop', { path: `${dir}/clone.cpuprofile` }, RPC_MS),
        ]);
      return r;
    },
    arrivals: () => c.call('takeArrivals', null, RPC_MS),
    snapshotBytes: () => m.call('snapshotBytes', null, RPC_MS),
    close: async () => {
      // A helper closes its side and exits when its stdin ends.
      for (const child of [cChild, mChild]) child.proc.stdin?.end();
      await Promise.race([Promise.all([cChild.exited, mChild.exited]), new Promise((r) => setTimeout(r, RPC_MS))]);
    },
  };
}

async function run(ctx: SectionContext, sides: Sides, n: number, valueBytes: number): Promise<RunResult> {
  try {
    const url = await sides.setup(n, valueBytes);
    ctx.log(`stores-large: filled ${n} × ${valueBytes / MiB} MiB`);
    await sides.peer(url);
    await sides.startEvents();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const quietEnd = wallMs();
    await sides.rssStart(); // after a forced collection, which would count as event latency
    const { start, end } = await sides.sync();
    const rss = await sides.rssStop();
    await new Promise((r) => setTimeout(r, STRAGGLERS_MS));
    await sides.stopEvents();
    const arrivals = await sides.arrivals();
    const first = Math.min(...arrivals.map(([due]) => due));
    const within = (from: number, to: number): PhaseFigures => ({
      due: Math.floor((to - from) / EVENT_EVERY_MS),
      latencies: arrivals.filter(([due]) => due >= from && due < to).map(([, l]) => l),
    });
    return {
      storeBytes: n * valueBytes,
      syncMs: end - start,
      quiet: within(Math.max(first, quietEnd - QUIET_MS + 500), quietEnd),
      sync: within(start, end),
      rss,
      snapshotBytes: await sides.snapshotBytes(),
    };
  } finally {
    await sides.close();
  }
}

export const storesLargeSection: BenchSection = {
  id: 'stores-large',
  title: 'Stores of large values: sync in bounded chunks, live traffic during a sync',
  about:
    'A clone syncs a store of 1 MiB values from a SQLite master (WAL, a real file) over a WebSocket on 127.0.0.1, while the ' +
    `master's endpoint publishes an event every ${EVENT_EVERY_MS} ms to the clone's endpoint on the same connection. The event ` +
    `latency is measured without a sync (the last ${(QUIET_MS - 500) / 1000} s before it) and then during the sync, in one run, ` +
    'and counts from the time each event was *due*: a publisher held up by the sync publishes every overdue event when it ' +
    'runs again, so a blocked event loop shows as latency. "In one process": master and clone share an event loop (a worst ' +
    'case: the latency includes both sides\' CPU work; RSS growth covers both). "Two processes": each side in its own ' +
    'process, events timed on the wall clock both share; RSS growth per side. The clone keeps the whole store in memory, so ' +
    'about 1× is its floor. Defaults: chunkBytes 512 KiB, chunkWindowBytes 1 MiB (a 1 MiB value travels alone, one in flight).',
  async run(ctx): Promise<SectionReport> {
    const n = ctx.quick ? 20 : 100;
    const rows: string[][] = [];
    const goals: GoalResult[] = [];
    const f = (x: number): string => `${x.toFixed(1)} ms`;
    const procs = new ProcessSet();
    try {
      for (const mode of ['one process', 'two processes'] as const) {
        const sides = mode === 'one process' ? inProcess() : await split(procs);
        const r = await run(ctx, sides, n, MiB);
        const q99 = pct(r.quiet.latencies, 99);
        const s99 = pct(r.sync.latencies, 99);
        const mibs = r.storeBytes / MiB / (r.syncMs / 1000);
        const rss =
          typeof r.rss === 'number'
            ? `${(r.rss / MiB).toFixed(0)} MiB (${(r.rss / r.storeBytes).toFixed(2)}×) both`
            : `master ${(r.rss[0] / MiB).toFixed(0)} MiB (${(r.rss[0] / r.storeBytes).toFixed(2)}×), clone ${(r.rss[1] / MiB).toFixed(0)} MiB (${(r.rss[1] / r.storeBytes).toFixed(2)}×)`;
        for (const [phase, p] of [
          ['no sync', r.quiet],
          ['during the sync', r.sync],
        ] as const) {
          const during = p === r.sync;
          rows.push([
            `${n} × 1 MiB`,
            mode,
            phase,
            `${p.latencies.length} / ${p.due}`,
            f(pct(p.latencies, 50)),
            f(pct(p.latencies, 99)),
            f(Math.max(...p.latencies)),
            during ? `${(s99 / q99).toFixed(0)}×` : '—',
            during ? `${(r.syncMs / 1000).toFixed(1)} s (${mibs.toFixed(0)} MiB/s)` : '—',
            during ? rss : '—',
          ]);
        }
        const limit = mode === 'one process' ? 100 : 50;
        goals.push(
          goalAtMost(
            `event p99 during a ${n} MiB sync, ${mode} ≤ ${limit} ms`,
            s99,
            limit,
            (x) => `${x.toFixed(1)} ms`,
          ),
          goalAtLeast(`sync throughput, ${mode} ≥ 14 MiB/s`, mibs, 14, (x) => `${x.toFixed(0)} MiB/s`),
        );
      }
    } finally {
      await procs.stopAll();
    }
    const table: Table = {
      title: 'Event latency with and without a concurrent store sync (same connection)',
      headers: [
        'store',
        'master and clone in',
        'phase',
        'events arrived / due',
        'p50',
        'p99',
        'max',
        'p99 vs no sync',
        'sync time',
        'peak RSS growth (× the store)',
      ],
      rows,
    };
    return { tables: [table], goals };
  },
};
