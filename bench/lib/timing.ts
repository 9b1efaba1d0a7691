/**
 * Timing for benchmarks on a shared, noisy machine: every compared task is warmed up, then the
 * tasks run interleaved — one turn each per round, the starting task rotating from round to round
 * (A B, B A, A B …) — so a burst of noise hits all of them alike. Each task reports its median time
 * per operation; a comparison reports the median over rounds of the per-round time ratio.
 */

/** One thing to time: `run` performs one operation; its result is kept so the JIT cannot drop it. */
export interface BenchTask {
  readonly name: string;
  readonly run: () => unknown;
}

/** Options of {@link compareInterleaved}. */
export interface TimingOptions {
  /**
   * Time spent warming up and calibrating each task before measuring, in milliseconds.
   * @default 400
   */
  readonly warmupMs?: number;
  /**
   * Target length of one task's turn in a round, in milliseconds; sets its iteration count.
   * @default 150
   */
  readonly roundMs?: number;
  /**
   * Number of measured rounds; each runs every task once.
   * @default 11
   */
  readonly rounds?: number;
  /**
   * Monotonic clock in milliseconds (injectable for tests).
   * @default performance.now
   */
  readonly now?: () => number;
}

/** The default {@link TimingOptions}: a full run. */
export const DEFAULT_TIMING_OPTIONS: Readonly<Required<TimingOptions>> = Object.freeze({
  warmupMs: 400,
  roundMs: 150,
  rounds: 11,
  now: () => performance.now(),
});

/** {@link TimingOptions} for `--quick`: a smoke test whose numbers are only indicative. */
export const QUICK_TIMING_OPTIONS: Readonly<Required<TimingOptions>> = Object.freeze({
  ...DEFAULT_TIMING_OPTIONS,
  warmupMs: 100,
  roundMs: 20,
  rounds: 3,
});

/** Resolves options against {@link DEFAULT_TIMING_OPTIONS}; rejects non-positive values. */
export function resolveTimingOptions(options?: TimingOptions): Readonly<Required<TimingOptions>> {
  const r = { ...DEFAULT_TIMING_OPTIONS, ...stripUndefined(options ?? {}) };
  if (!(r.warmupMs >= 0) || !(r.roundMs > 0) || !Number.isInteger(r.rounds) || r.rounds < 1) {
    throw new RangeError(`invalid timing options: warmupMs ${r.warmupMs}, roundMs ${r.roundMs}, rounds ${r.rounds}`);
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What one task measured. */
export interface TaskTiming {
  readonly name: string;
  /** Operations per round (calibrated during warm-up). */
  readonly iterations: number;
  /** Nanoseconds per operation in each round, in round order. */
  readonly roundNs: readonly number[];
  /** Median of `roundNs`. */
  readonly medianNs: number;
  /** Operations per second at the median time. */
  readonly opsPerSec: number;
  /** (max − min) / median of `roundNs`: how noisy the rounds were. */
  readonly spread: number;
}

/** The tasks of one interleaved run, in the order given. */
export interface Comparison {
  readonly tasks: readonly TaskTiming[];
}

/** Median of a non-empty list (mean of the middle two for an even length). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The timing of the task named `name`; throws when there is none. */
export function taskTiming(c: Comparison, name: string): TaskTiming {
  const t = c.tasks.find((x) => x.name === name);
  if (t === undefined) throw new RangeError(`no task named '${name}' (have: ${c.tasks.map((x) => x.name).join(', ')})`);
  return t;
}

/**
 * Median over rounds of `time(task) / time(baseline)` — above 1 means `task` is slower. Rounds
 * pair up because the tasks ran interleaved, so each ratio compares like with like.
 */
export function medianRatio(c: Comparison, task: string, baseline: string): number {
  const a = taskTiming(c, task).roundNs;
  const b = taskTiming(c, baseline).roundNs;
  return median(a.map((t, i) => t / b[i]!));
}

/** Results are written here so the work that produced them is observable. */
let sink: unknown;

/** The last result a task returned (keeps the optimiser from discarding benchmarked work). */
export function lastResult(): unknown {
  return sink;
}

/** Upper bound on a calibration batch, so a task whose clock never advances cannot loop forever. */
const MAX_BATCH = 2 ** 30;

function runBatch(run: () => unknown, n: number): void {
  for (let i = 0; i < n; i++) sink = run();
}

/** Warms `task` up for about `warmupMs` and returns the iteration count for one round. */
function calibrate(task: BenchTask, o: Readonly<Required<TimingOptions>>): number {
  const start = o.now();
  let n = 1;
  let perOpMs = 0;
  for (;;) {
    const t0 = o.now();
    runBatch(task.run, n);
    const dt = o.now() - t0;
    if (dt > 0) perOpMs = dt / n;
    if (o.now() - start >= o.warmupMs || n >= MAX_BATCH) break;
    // Grow the batch until one batch is a fair slice of the warm-up, so the estimate is stable.
    if (dt < o.warmupMs / 4) n = Math.min(n * 2, MAX_BATCH);
  }
  return perOpMs > 0 ? Math.max(1, Math.round(o.roundMs / perOpMs)) : MAX_BATCH;
}

/**
 * Warms each task up, then runs `rounds` rounds in which every task runs once for about `roundMs`,
 * the starting task rotating each round. Returns per-task round times and medians.
 */
export function compareInterleaved(tasks: readonly BenchTask[], options?: TimingOptions): Comparison {
  if (tasks.length === 0) throw new RangeError('nothing to time');
  const names = new Set(tasks.map((t) => t.name));
  if (names.size !== tasks.length) throw new RangeError('task names must be distinct');
  const o = resolveTimingOptions(options);
  const iterations = tasks.map((t) => calibrate(t, o));
  const roundNs: number[][] = tasks.map(() => []);
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < tasks.length; k++) {
      const i = (round + k) % tasks.length;
      const n = iterations[i]!;
      const t0 = o.now();
      runBatch(tasks[i]!.run, n);
      const dt = o.now() - t0;
      roundNs[i]!.push((dt * 1e6) / n);
    }
  }
  return {
    tasks: tasks.map((t, i) => {
      const ns = roundNs[i]!;
      const med = median(ns);
      return {
        name: t.name,
        iterations: iterations[i]!,
        roundNs: ns,
        medianNs: med,
        opsPerSec: med > 0 ? 1e9 / med : Infinity,
        spread: med > 0 ? (Math.max(...ns) - Math.min(...ns)) / med : 0,
      };
    }),
  };
}

/** Runs `fn` `times` times and returns the median duration in milliseconds (one-shot costs). */
export function medianDurationMs(
  fn: () => unknown,
  times: number,
  now: () => number = DEFAULT_TIMING_OPTIONS.now,
): number {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = now();
    sink = fn();
    ms.push(now() - t0);
  }
  return median(ms);
}
