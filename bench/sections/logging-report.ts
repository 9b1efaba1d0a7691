/**
 * The logging section's report: throughput table against the ceiling, the exactly-once check of
 * every round, the CPU profile of a logger and a worker, goals and notes.
 */
import { formatBytes, formatCount, formatNs, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import { goalAtLeast, type GoalResult, type SectionReport } from '../lib/section.js';
import { median } from '../lib/timing.js';
import type { RoundCheck } from './logging-cluster.js';
import type { ProfileEntry, ProfileSummary } from './pubsub-profile.js';

/** The goal: records/s end to end with one logger against the file log writer alone. */
export const WRITER_GOAL = 0.5;
/** The goal: records/s of the file log writer alone. */
export const WRITER_RATE_GOAL = 1_000_000;

/** Sizes and shape of a run. */
export interface Plan {
  /** Records per worker per round. */
  readonly n: number;
  readonly rounds: number;
  /** Records a worker writes per event-loop turn. */
  readonly burst: number;
  /** Unacknowledged records at which a worker pauses. */
  readonly cap: number;
  /** Lines per `writeSync` of the ceiling and records per `write` of the writer-alone run (the router's `maxBatch`). */
  readonly batch: number;
  readonly profile: boolean;
}

/** One timed run of an in-process reference. */
export interface Sample {
  readonly records: number;
  readonly ms: number;
  /** CPU time of the process meanwhile (in-process variants). */
  readonly cpuMs?: number;
}

/** One round on a cluster. */
export interface ClusterRound extends Sample {
  readonly loggerCpuMs: number;
  readonly workerCpuMs: number;
  readonly pauses: number;
  readonly resent: number;
  readonly fallback: number;
  readonly check: RoundCheck;
}

export interface LoggingProfiles {
  readonly round: ClusterRound;
  readonly logger: ProfileSummary;
  readonly worker: ProfileSummary;
}

export interface LoggingResults {
  readonly plan: Plan;
  readonly warm: ClusterRound;
  readonly one: ClusterRound[];
  readonly two: ClusterRound[];
  readonly ceiling: Sample[];
  readonly writer: Sample[];
  /** The writer alone with the TSV format's string path (no `writeRecords`). */
  readonly writerStrings: Sample[];
}

interface Complete extends LoggingResults {
  readonly profiles: LoggingProfiles | undefined;
  readonly profileError: string | undefined;
  readonly loadBefore: number;
  readonly loadAfter: number;
}

const rate = (s: Sample): number => (s.records * 1000) / s.ms;
const percent = (x: number): string => `${Math.round(x * 100)}%`;
const ms = (x: number): string => formatNs(x * 1e6);

function spread(samples: readonly Sample[]): number {
  const r = samples.map(rate);
  return (Math.max(...r) - Math.min(...r)) / median(r);
}

/** Median over rounds of this variant's rate over a reference's rate in the same round. */
function ceilingRatio(samples: readonly Sample[], reference: readonly Sample[]): number {
  return median(samples.map((s, i) => rate(s) / rate(reference[i]!)));
}

function cpuShare(rounds: readonly ClusterRound[], key: 'loggerCpuMs' | 'workerCpuMs'): number {
  return median(rounds.map((r) => r[key] / r.ms));
}

/** CPU time of the loggers (or workers) per record written, in ns (median over rounds). */
function cpuPerRecordNs(rounds: readonly ClusterRound[], key: 'loggerCpuMs' | 'workerCpuMs'): number {
  return median(rounds.map((r) => (r[key] * 1e6) / r.records));
}

function throughputTable(r: Complete): Table {
  const row = (label: string, s: readonly Sample[], vs: string, cpu: string, goal: string): string[] => {
    const vsWriter = s === r.writer ? '1×' : formatRatio(ceilingRatio(s, r.writer));
    return [
      label,
      formatCount(median(s.map((x) => x.records))),
      formatOps(median(s.map(rate))),
      formatNs(1e6 * median(s.map((x) => x.ms / x.records))),
      percent(spread(s)),
      vs,
      vsWriter,
      cpu,
      goal,
    ];
  };
  /** CPU per record of an in-process variant, and the rate it gives with a core to itself. */
  const own = (s: readonly Sample[]): string => {
    const ns = median(s.map((x) => ((x.cpuMs ?? Number.NaN) * 1e6) / x.records));
    return `process: ${formatNs(ns)} per record (${formatOps(1e9 / ns)} on a core of its own)`;
  };
  const cpu = (rounds: readonly ClusterRound[]): string =>
    `${percent(cpuShare(rounds, 'loggerCpuMs'))} / ${percent(cpuShare(rounds, 'workerCpuMs'))} — ` +
    `${formatNs(cpuPerRecordNs(rounds, 'loggerCpuMs'))} / ${formatNs(cpuPerRecordNs(rounds, 'workerCpuMs'))}`;
  return {
    title:
      `Records per second, end to end (median over ${r.plan.rounds} interleaved round(s)); CPU of the loggers and of the workers ` +
      '(summed over processes) as share of one core, and per record',
    headers: [
      'variant',
      'records per round',
      'records/s',
      'time per record',
      'spread',
      '× ceiling',
      '× writer alone',
      'CPU loggers / workers — per record',
      'goal',
    ],
    rows: [
      row(
        '2 workers → 1 logger',
        r.one,
        formatRatio(ceilingRatio(r.one, r.ceiling)),
        cpu(r.one),
        `≥ ${WRITER_GOAL}× writer alone`,
      ),
      row('2 workers → 2 loggers', r.two, formatRatio(ceilingRatio(r.two, r.ceiling)), cpu(r.two), 'info'),
      row(
        'file log writer alone (in process: TSV formatting + batched writes, no network)',
        r.writer,
        formatRatio(ceilingRatio(r.writer, r.ceiling)),
        own(r.writer),
        `≥ ${formatOps(WRITER_RATE_GOAL)}`,
      ),
      row(
        'file log writer alone, string path (each line built as a string by `record`, then encoded: the writer before its fast path)',
        r.writerStrings,
        formatRatio(ceilingRatio(r.writerStrings, r.ceiling)),
        own(r.writerStrings),
        'info',
      ),
      row(`ceiling: append the same lines, ${r.plan.batch} per \`fs.writeSync\``, r.ceiling, '1×', '—', '—'),
    ],
  };
}

function checkRows(label: string, rounds: readonly ClusterRound[]): string[] {
  const sum = (f: (c: RoundCheck) => number): number => rounds.reduce((s, x) => s + f(x.check), 0);
  const perFile = rounds[0]!.check.perFile.map((_, i) => sum((c) => c.perFile[i]!));
  return [
    label,
    formatCount(rounds.length),
    formatCount(rounds.reduce((s, x) => s + x.records, 0)),
    formatCount(sum((c) => c.rows)),
    formatCount(sum((c) => c.missing)),
    formatCount(sum((c) => c.duplicates)),
    formatCount(sum((c) => c.foreign)),
    perFile.map(formatCount).join(' / '),
    formatBytes(sum((c) => c.bytes)),
    formatCount(rounds.reduce((s, x) => s + x.resent, 0)),
    formatCount(rounds.reduce((s, x) => s + x.pauses, 0)),
  ];
}

function allRounds(r: Complete): { one: ClusterRound[]; two: ClusterRound[] } {
  return { one: [r.warm, ...r.one, ...(r.profiles === undefined ? [] : [r.profiles.round])], two: r.two };
}

function profileRows(who: string, entries: readonly ProfileEntry[]): string[][] {
  return entries.map((e) => [who, e.name, ms(e.selfMs), percent(e.share)]);
}

function profileTables(p: LoggingProfiles): Table[] {
  const title = (by: string): string =>
    `Where the time goes with 1 logger: one more round (${formatOps(rate(p.round))}) profiled in logger-1 ` +
    `(busy ${ms(p.logger.busyMs)} of ${ms(p.logger.totalMs)}) and worker-1 (busy ${ms(p.worker.busyMs)} of ${ms(p.worker.totalMs)}) — self time by ${by}`;
  return [
    {
      title: title('file'),
      headers: ['process', 'file', 'self', 'share of busy'],
      rows: [...profileRows('logger-1', p.logger.files), ...profileRows('worker-1', p.worker.files)],
      align: ['left', 'left', 'right', 'right'],
    },
    {
      title: title('function'),
      headers: ['process', 'function', 'self', 'share of busy'],
      rows: [...profileRows('logger-1', p.logger.functions), ...profileRows('worker-1', p.worker.functions)],
      align: ['left', 'left', 'right', 'right'],
    },
  ];
}

/** Builds tables, goals and notes. */
export function buildReport(r: Complete): SectionReport {
  const rounds = allRounds(r);
  const every = [...rounds.one, ...rounds.two];
  const missing = every.reduce((s, x) => s + x.check.missing, 0);
  const dups = every.reduce((s, x) => s + x.check.duplicates + x.check.foreign, 0);
  const total = every.reduce((s, x) => s + x.records, 0);
  const goals: GoalResult[] = [
    goalAtLeast(
      `file log writer alone (in process, Zeek TSV, conn.log records): ≥ ${formatOps(WRITER_RATE_GOAL)}`,
      median(r.writer.map(rate)),
      WRITER_RATE_GOAL,
      formatOps,
    ),
    goalAtLeast(
      `2 workers → 1 logger, end to end: records/s ≥ ${WRITER_GOAL}× the file log writer alone (same run, same records)`,
      ceilingRatio(r.one, r.writer),
      WRITER_GOAL,
    ),
    {
      goal: 'every record in the log files exactly once (all rounds, both layouts)',
      measured: `${formatCount(missing)} missing, ${formatCount(dups)} extra of ${formatCount(total)}`,
      met: missing === 0 && dups === 0,
    },
  ];
  const tables: Table[] = [
    throughputTable(r),
    {
      title: 'Every record exactly once: the files read back after each round (warm-up and profiled round included)',
      headers: [
        'layout',
        'rounds',
        'records written',
        'rows found',
        'missing',
        'duplicated',
        'foreign',
        'rows per logger',
        'bytes',
        'resent',
        'writer pauses',
      ],
      rows: [checkRows('2 workers → 1 logger', rounds.one), checkRows('2 workers → 2 loggers', rounds.two)],
    },
  ];
  if (r.profiles !== undefined) tables.push(...profileTables(r.profiles));
  const notes: string[] = [];
  if (r.profileError !== undefined) notes.push(`Profiling failed: ${r.profileError}`);
  notes.push(bottleneckNote(r));
  notes.push(
    `Machine load (1-minute load average) ${r.loadBefore.toFixed(2)} before and ${r.loadAfter.toFixed(2)} after the ` +
      "measured rounds, on this machine's cores: other work takes CPU from every process alike.",
    `Method: each layout (manager, 1 or 2 loggers, 2 workers, free ports on 127.0.0.1) runs every node in its own ` +
      'process; manager and loggers run `runNode` of `server/cluster/node.ts` — what `isobroker node --layout FILE --name NAME ' +
      "--dir DIR` runs, the logger's live tail for the dashboard included — in a wrapper that adds on-demand CPU " +
      `profiling. Per round each worker writes ${formatCount(r.plan.n)} conn.log records (built with \`toRecord\`, all ` +
      `columns set) through \`LogRouter.write\`, ${r.plan.burst} per event-loop turn, pausing while more than ` +
      `${formatCount(r.plan.cap)} are unacknowledged; both start together and the time runs from the first worker's first ` +
      "write to the last worker's `inFlight` reaching 0 (every batch acknowledged, which a logger does after its " +
      'writer flushed the batch to the file). Both layouts are warmed up with one round, then the variants run ' +
      `interleaved for ${r.plan.rounds} round(s), the starting variant rotating; ratios are medians of per-round ratios. ` +
      'The ceiling appends the lines the single logger wrote in the warm-up round (the same bytes) to a fresh file ' +
      `with one \`fs.writeSync\` per ${r.plan.batch} lines (the router's batch size); the writer-alone run hands the ` +
      `same records, built in the benchmark process, to a new \`createFileLogWriter\` ${r.plan.batch} at a time and ` +
      'waits for `flush()`, once with the TSV format as it is (its fast path, `writeRecords`, straight into bytes) and once ' +
      'with a format that has only the string path. After each round the new bytes of every conn.log are parsed with `parseZeekTsv` and each ' +
      "row's uid (`C<worker>r<round>n<index>`) is counted.",
  );
  return { tables, goals, notes };
}

function bottleneckNote(r: Complete): string {
  const l1 = cpuShare(r.one, 'loggerCpuMs');
  const w1 = cpuShare(r.one, 'workerCpuMs');
  const l2 = cpuShare(r.two, 'loggerCpuMs');
  const w2 = cpuShare(r.two, 'workerCpuMs');
  const speedup = median(r.two.map(rate)) / median(r.one.map(rate));
  const writer = median(r.writer.map(rate)) / median(r.one.map(rate));
  const loggerNs = cpuPerRecordNs(r.one, 'loggerCpuMs');
  const workerNs = cpuPerRecordNs(r.one, 'workerCpuMs');
  return (
    `Where the limit is: with 1 logger the logger process used ${percent(l1)} of a core and the two workers together ` +
    `${percent(w1)}; with 2 loggers, ${percent(l2)} for both loggers and ${percent(w2)} for the workers, and the rate ` +
    `changed ${formatRatio(speedup)}. No process had a core to itself: on this machine the pipeline's processes and ` +
    `other work share the cores. Per record the logger spent ${formatNs(loggerNs)} of CPU (decoding, TSV formatting, ` +
    `the dashboard tail, writing) and the workers ${formatNs(workerNs)} (building the record, encoding), so one ` +
    `logger with a core of its own would top out near ${formatOps(1e9 / loggerNs)}, while the ceiling appends a line ` +
    `in ${formatNs(1e6 * median(r.ceiling.map((x) => x.ms / x.records)))}. The file log writer alone (formatting and ` +
    `writing, no network, no decoding) runs at ${formatRatio(writer)} the rate of the whole pipeline with 1 logger and ` +
    `${formatRatio(ceilingRatio(r.writer, r.ceiling))} the ceiling, and ${formatRatio(ceilingRatio(r.writer, r.writerStrings))} ` +
    'the same writer on the string path (`record` per line, then encoded)' +
    profileSummary(r.profiles)
  );
}

function profileSummary(p: LoggingProfiles | undefined): string {
  if (p === undefined) return '.';
  const top = (s: ProfileSummary): string =>
    s.files
      .slice(0, 4)
      .map((f) => `${f.name} ${percent(f.share)}`)
      .join(', ');
  return `; in the profiled round the logger's busy time went to ${top(p.logger)}, and worker-1's to ${top(p.worker)}.`;
}
