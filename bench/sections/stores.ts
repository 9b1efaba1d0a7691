/**
 * Data-store section: a master's apply rate on each backend against raw better-sqlite3, a clone's
 * initial sync from a master in another process (time and both processes' memory), and the bytes
 * of a delta catch-up against those of a full snapshot. See `stores-apply.ts` and `stores-sync.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, formatCount, formatNs, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import { ProcessSet } from '../lib/processes.js';
import {
  goalAtLeast,
  goalAtMost,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { BATCH, VALUE_BYTES } from '../stores/workload.js';
import { APPLY_PLAN, QUICK_APPLY_PLAN, SQLITE_MODES, rateRatio, runApply, type ApplyRun } from './stores-apply.js';
import type { ProfileEntry, ProfileSummary } from './pubsub-profile.js';
import { RESTART_LIMIT, RSS_SAMPLE_MS, runSync, type SyncMemory, type SyncResult } from './stores-sync.js';

const APPLY_GOAL = 0.5;
const MEMORY_GOAL = 2;
const DELTA_GOAL = 0.05;
/** Store sizes of the initial-sync runs. */
const SYNC_SIZES = [100_000, 1_000_000] as const;
const QUICK_SYNC_SIZES = [10_000, 100_000] as const;
/** The delta run: a store of this many keys, every DELTA_EVERY-th key changed (1%). */
const DELTA_N = 100_000;
const DELTA_EVERY = 100;
/** Profile rows per process, and the native frame of the in-process profiler itself. */
const PROFILE_ROWS = 8;
const PROFILER_FRAME = 'dispatch';

function ms(x: number): string {
  return formatNs(x * 1e6);
}

function applyTable(run: ApplyRun): Table {
  const byId = new Map(run.results.map((r) => [r.id, r]));
  const row = (id: string, label: string, vs: string, goal: string): string[] => {
    const r = byId.get(id)!;
    return [label, formatOps(r.opsPerSec), formatNs(1e9 / r.opsPerSec), `${Math.round(r.spread * 100)}%`, vs, goal];
  };
  const rows = [
    row('memory', 'master, memory backend', `${formatRatio(rateRatio(run, 'memory', 'raw-wal'))} raw WAL`, 'info'),
  ];
  for (const m of SQLITE_MODES) {
    rows.push(
      row(
        `master-${m.id}`,
        `master, SQLite ${m.label}`,
        formatRatio(rateRatio(run, `master-${m.id}`, `raw-${m.id}`)),
        `≥ ${APPLY_GOAL}×`,
      ),
    );
    rows.push(row(`raw-${m.id}`, `raw better-sqlite3 loop, ${m.label}`, '1×', '—'));
  }
  return {
    title: `Master apply rate: puts of ${VALUE_BYTES}-byte values, ${formatCount(BATCH)} per turn, each batch awaited`,
    headers: ['variant', 'puts', 'time per put', 'spread', '× raw rate (same mode)', 'goal'],
    rows,
  };
}

function memoryRows(r: SyncResult): string[][] {
  const row = (who: string, m: SyncMemory): string[] => [
    formatCount(r.n),
    who,
    formatBytes(m.baseline),
    formatBytes(m.peak),
    formatBytes(m.peak - m.baseline),
    formatRatio((m.peak - m.baseline) / r.storeBytes),
    formatRatio(m.peak / r.storeBytes),
    formatBytes(m.after),
    formatBytes(m.retained),
  ];
  return [row('master', r.master), row('clone', r.clone)];
}

/** The functions of `p` without the inspector's own `dispatch` frame (starting and stopping the profiler), shares rescaled. */
function withoutProfiler(p: ProfileSummary, top: number): ProfileEntry[] {
  const own = p.functions.filter((f) => f.name === PROFILER_FRAME).reduce((sum, f) => sum + f.selfMs, 0);
  const busy = p.busyMs - own;
  return p.functions
    .filter((f) => f.name !== PROFILER_FRAME)
    .slice(0, top)
    .map((f) => ({ ...f, share: busy > 0 ? f.selfMs / busy : 0 }));
}

function profileTable(title: string, profiles: readonly (readonly [string, ProfileSummary])[]): Table {
  const rows: string[][] = [];
  for (const [who, p] of profiles) {
    for (const f of withoutProfiler(p, PROFILE_ROWS))
      rows.push([who, f.name, ms(f.selfMs), `${Math.round(f.share * 100)}%`]);
  }
  return {
    title,
    headers: ['process', 'function (self time)', 'self', 'share of busy'],
    rows,
    align: ['left', 'left', 'right', 'right'],
  };
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const plan = ctx.quick ? QUICK_APPLY_PLAN : APPLY_PLAN;
  const apply = await runApply(plan, ctx.log);

  const sizes = ctx.quick ? QUICK_SYNC_SIZES : SYNC_SIZES;
  const profileDir = mkdtempSync(join(tmpdir(), 'isobroker-bench-stores-prof-'));
  const procs = new ProcessSet();
  const syncs: SyncResult[] = [];
  try {
    for (const n of sizes) {
      const opts = {
        ...(n === DELTA_N ? { delta: { every: DELTA_EVERY, tag: 'w' } } : {}),
        ...(n === sizes[sizes.length - 1] ? { profileDir } : {}),
      };
      syncs.push(await runSync(procs, n, opts, ctx.log));
    }
  } finally {
    await procs.stopAll();
    rmSync(profileDir, { recursive: true, force: true });
  }
  const largest = syncs[syncs.length - 1]!;
  const withDelta = syncs.find((s) => s.delta !== undefined);
  if (withDelta?.delta === undefined) throw new Error('no delta run');
  const d = withDelta.delta;
  const deltaShare = d.deltaBytes / withDelta.snapshotBytes;

  const goals: GoalResult[] = SQLITE_MODES.map((m) =>
    goalAtLeast(
      `master on SQLite ${m.label} ≥ ${APPLY_GOAL}× the raw batched insert rate`,
      rateRatio(apply, `master-${m.id}`, `raw-${m.id}`),
      APPLY_GOAL,
    ),
  );
  for (const [who, mem] of [
    ['master', largest.master],
    ['clone', largest.clone],
  ] as const) {
    goals.push(
      goalAtMost(
        `${formatCount(largest.n)}-key sync: ${who}'s RSS growth during the sync ≤ ${MEMORY_GOAL}× the store's size (${formatBytes(largest.storeBytes)})`,
        (mem.peak - mem.baseline) / largest.storeBytes,
        MEMORY_GOAL,
      ),
    );
  }
  goals.push(
    goalAtMost(
      `delta catch-up after 1% changed ≤ ${DELTA_GOAL * 100}% of the full snapshot's bytes`,
      deltaShare,
      DELTA_GOAL,
      (x) => `${(x * 100).toFixed(2)}%`,
    ),
  );

  const tables: Table[] = [
    applyTable(apply),
    {
      title: 'Clone initial sync (master and clone in separate processes, master filled first)',
      headers: [
        'keys',
        'store size',
        'fill master',
        'default clone options',
        'time to in-sync',
        'snapshot began',
        'snapshot bytes',
        'master CPU',
        'clone CPU',
      ],
      rows: syncs.map((s) => [
        formatCount(s.n),
        formatBytes(s.storeBytes),
        ms(s.fillMs),
        s.abandoned === undefined
          ? 'in sync, no restart'
          : `${s.abandoned.completed ? 'in sync after restarts' : 'never in sync: stopped'} after ${formatBytes(s.abandoned.snapshotBytes)} of snapshots in ${ms(s.abandoned.elapsedMs)}; measured again with resyncInterval ${formatCount(s.resyncInterval ?? 0)} ms`,
        ms(s.syncMs),
        s.snapshotBeganMs === undefined ? '—' : ms(s.snapshotBeganMs),
        formatBytes(s.snapshotBytes),
        ms(s.master.cpuMs),
        ms(s.clone.cpuMs),
      ]),
    },
    {
      title: `Memory during the initial sync (RSS; peak sampled every ${RSS_SAMPLE_MS} ms and from VmHWM)`,
      headers: [
        'keys',
        'process',
        'RSS before sync',
        'peak RSS',
        'growth',
        'growth / store size',
        'peak / store size',
        'RSS after sync (after GC)',
        'heap retained',
      ],
      rows: syncs.flatMap(memoryRows),
    },
    {
      title: 'Delta catch-up versus full snapshot',
      headers: [
        'keys',
        'changed while cut off',
        'initial snapshot',
        'delta',
        'delta / snapshot',
        'snapshot bytes in catch-up',
        'reconnect to in-sync',
        'goal',
      ],
      rows: [
        [
          formatCount(withDelta.n),
          formatCount(d.changed),
          formatBytes(withDelta.snapshotBytes),
          formatBytes(d.deltaBytes),
          `${(deltaShare * 100).toFixed(2)}%`,
          formatBytes(d.snapshotBytesDuringCatchUp),
          ms(d.reconnectMs),
          `≤ ${DELTA_GOAL * 100}%`,
        ],
      ],
    },
  ];
  tables.push(
    profileTable(
      `Where the master on SQLite WAL spends CPU: ${formatCount(apply.profiledPuts)} more puts after the measured rounds, profiled`,
      [['bench', apply.profile]],
    ),
  );
  if (largest.profiles !== undefined) {
    tables.push(
      profileTable(
        `Where the ${formatCount(largest.n)}-key sync spends CPU: one more sync to a fresh clone, both processes profiled`,
        [
          ['master', largest.profiles.master],
          ['clone', largest.profiles.clone],
        ],
      ),
    );
  }

  const restarted = syncs.filter((s) => s.abandoned !== undefined);
  const restartNote =
    restarted.length === 0
      ? []
      : [
          `**With default clone options the snapshot of the ${restarted.map((s) => formatCount(s.n)).join(' and ')}-key ` +
            "store restarted.** The clone's tick (`CloneCore.tick` in `src/store/clone.ts`) calls `attach()` whenever its " +
            'status is not in-sync and `resyncInterval` (default 1 s) has passed since the last attach — also while a ' +
            'snapshot is streaming (status `syncing`) — so the master cancels the stream and starts a new one every ' +
            'second: a snapshot that takes longer than `resyncInterval` restarts forever, and one that takes about that ' +
            'long completes only if a later attempt is quicker. The benchmark abandons an attempt once the master has ' +
            `sent more than ${RESTART_LIMIT}× the store's size in snapshots (a clean one is the store plus ~0.05% framing), ` +
            'or when it completed after a restart, and measures a fresh clone created with `resyncInterval` longer than ' +
            'the sync can take (the row says which).',
        ];
  const retaining = syncs.filter((s) => s.master.retained > 0.5 * s.snapshotBytes);
  const retainNote =
    retaining.length === 0
      ? []
      : [
          `After the ${retaining.map((s) => formatCount(s.n)).join(' and ')}-key sync the master process still retains about the ` +
            'snapshot\'s size ("heap retained", mostly ArrayBuffers) while the clone stays connected. A heap snapshot taken ' +
            "when this section was written shows the sent chunks referenced from the peer's `SendQueue.items` " +
            '(`src/util/send-queue.ts`): `take()` advances `head` without clearing the slots it passed and compacts ' +
            "only once `head` exceeds 1024, so up to 1024 sent messages stay alive per peer. The master's RSS growth can " +
            'still read low, because its baseline includes memory the allocator kept after the fill.',
        ];
  return {
    tables,
    goals,
    notes: [
      ...restartNote,
      ...retainNote,
      `Keys are strings \`k\` + ten digits (12 bytes encoded), values strings of ${VALUE_BYTES} ASCII bytes (102 encoded); ` +
        `"store size" is the sum of the encoded key and value bytes of every entry. Apply: every variant puts the same ` +
        `${formatCount(apply.putsPerVariant)} new keys in the same order; in each of the rounds every variant runs the same ` +
        'number of batches, the starting variant rotating; rates are at the median round time and ratios are medians of ' +
        'per-round ratios. The raw loop inserts exactly the bytes the master stores (checked), with one prepared ' +
        '`INSERT OR REPLACE` into a table of the same schema, in the same journal and synchronous mode; the master also ' +
        "checks each entry's size, updates its sequence number, logs the change and encodes the update it broadcasts " +
        '(a put reads nothing before its upsert when no listener wants the old value and no key of the store expires; ' +
        'else it reads the old interval, or the whole entry for a listener). ' +
        `Database files live under \`os.tmpdir()\` (${tmpdir()}) and are removed afterwards.`,
      'Sync: the master is a hub endpoint in its own process holding a memory-backed master; the clone is an endpoint ' +
        'in a second process that peers with it directly (127.0.0.1), waits until the master is routable, then ' +
        'creates the clone; the time runs from `createClone` to in-sync. CPU is user + system time of each process ' +
        'during the sync, from `/proc/<pid>/stat`. "Reconnect to in-sync" is mostly the clone\'s and master\'s 1 s ' +
        'resync and heartbeat timers. Profiles come from the V8 sampling profiler started over the inspector for the ' +
        'stretch shown (its own `dispatch` frame left out; the profiled sync runs with `resyncInterval` raised so its ' +
        'snapshot cannot restart); names without a file are native code: `run` and `get` ' +
        'are better-sqlite3 statements executing (SQLite itself), `writev` is the socket write.',
      '"In memory" is resident set size (RSS) from `/proc/<pid>/status`. "RSS before sync" is each process\'s RSS ' +
        'after a forced garbage collection just before the sync (the master filled, the clone peered and empty); ' +
        '"peak RSS" is the larger of the RSS sampled every ' +
        `${RSS_SAMPLE_MS} ms and the kernel's VmHWM, reset (\`/proc/<pid>/clear_refs\`) right before the sync. ` +
        'The goal is judged on growth (peak − before), which is what the sync costs; "peak / store size" gives the ' +
        "raw reading, which for the master includes holding the store itself and for both includes Node's own ~40–50 MiB. " +
        '"Heap retained" is the growth of `heapUsed + external` from before to after the sync, both read after a ' +
        'forced collection: what the process keeps (for the clone, its copy of the store).',
      `Delta: once the ${formatCount(DELTA_N)}-key clone was in sync, its peering was closed and the test waited until ` +
        `the clone saw the master as gone; then every ${DELTA_EVERY}th key was overwritten on the master and the clone ` +
        "peered again. The delta is the master's `resyncBytes.delta` for that catch-up (update messages from its change log " +
        "plus the end marker), the snapshot its `resyncBytes.snapshot` for the initial sync; the clone's contents were " +
        "compared key by key with the master's after both.",
    ],
  };
}

/** The `stores` section. */
export const storesSection: BenchSection = {
  id: 'stores',
  title: 'Data stores: apply rate, clone sync, delta resync',
  about:
    'How fast a store master applies batched puts on the memory backend and on SQLite (two durability modes) ' +
    'against a raw better-sqlite3 batched insert loop; how long a clone in another process takes to sync ' +
    '100k and 1M keys and how much memory both processes use meanwhile; and how many bytes a clone that ' +
    'missed 1% of the changes costs to catch up, against a full snapshot.',
  run,
};
