/**
 * Logging section: conn.log records per second from two workers through the cluster framework
 * (`ClusterNode` + `LogRouter` on the workers, `isobroker node` loggers writing Zeek TSV with
 * `createFileLogWriter`) to one and to two loggers, every node its own process, against the file
 * log writer alone (in process) and the raw rate of appending the same lines to a file. Every round's files are read back to check that each
 * record was written exactly once. See `logging-cluster.ts` and `logging-report.ts`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Data } from '../../src/index.js';
import { ProcessSet, processCpuMs } from '../lib/processes.js';
import { median } from '../lib/timing.js';
import type { BenchSection, SectionContext, SectionReport } from '../lib/section.js';
import { appendLines, writeWithFileWriter } from './logging-ceiling.js';
import { LogFilesReader, WORKERS, startCluster, type Cluster } from './logging-cluster.js';
import {
  buildReport,
  type ClusterRound,
  type LoggingResults,
  type LoggingProfiles,
  type Plan,
  type Sample,
} from './logging-report.js';
import { summarizeCpuProfile } from './pubsub-profile.js';
import { connRecord } from './logging-workload.js';

const FULL: Plan = { n: 50_000, rounds: 5, burst: 500, cap: 5000, batch: 500, profile: true };
const QUICK: Plan = { n: 10_000, rounds: 1, burst: 500, cap: 5000, batch: 500, profile: true };
/** Appends per ceiling sample (the median is taken). */
const CEILING_REPEAT = 5;
/** Functions listed per profiled process. */
const PROFILE_TOP = 10;

interface WorkerRun {
  readonly firstWriteMs: number;
  readonly lastAckMs: number;
  readonly pauses: number;
  readonly counters: { readonly resent: number; readonly fallback: number };
  readonly errors: readonly string[];
}

function cpuOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? NaN), 0);
}

/** One round on a cluster: both workers write `n` records at once; the files are then checked. */
async function clusterRound(c: Cluster, reader: LogFilesReader, round: number, plan: Plan): Promise<ClusterRound> {
  const args = { round, n: plan.n, burst: plan.burst, cap: plan.cap };
  const logger0 = cpuOf(c.loggerPids);
  const workers0 = cpuOf(c.workerPids);
  const runs = await Promise.all(c.workers.map((w) => w.call<WorkerRun>('run', args, 60_000 + plan.n)));
  const loggerCpuMs = cpuOf(c.loggerPids) - logger0;
  const workerCpuMs = cpuOf(c.workerPids) - workers0;
  const spanMs = Math.max(...runs.map((r) => r.lastAckMs)) - Math.min(...runs.map((r) => r.firstWriteMs));
  const errors = runs.flatMap((r) => r.errors);
  if (errors.length > 0)
    throw new Error(`worker errors in round ${round} with ${c.loggers} logger(s): ${errors.slice(0, 3).join('; ')}`);
  const check = reader.checkRound(round, WORKERS, plan.n);
  return {
    records: WORKERS * plan.n,
    ms: spanMs,
    loggerCpuMs,
    workerCpuMs,
    pauses: runs.reduce((s, r) => s + r.pauses, 0),
    resent: runs.reduce((s, r) => s + r.counters.resent, 0),
    fallback: runs.reduce((s, r) => s + r.counters.fallback, 0),
    check,
  };
}

/** Profiles one more round on `c`: the first logger and the first worker, sampled only during the round. */
async function profileRound(
  c: Cluster,
  reader: LogFilesReader,
  round: number,
  plan: Plan,
  dir: string,
): Promise<LoggingProfiles> {
  const loggerFile = join(dir, 'logger.cpuprofile');
  const workerFile = join(dir, 'worker.cpuprofile');
  const logger = c.loggerNodes[0]!;
  const worker = c.workers[0]!;
  await Promise.all([logger.call('profile-start', {}, 5000), worker.call('profile-start', {}, 5000)]);
  const r = await clusterRound(c, reader, round, plan);
  await Promise.all([
    logger.call('profile-stop', { path: loggerFile }, 30_000),
    worker.call('profile-stop', { path: workerFile }, 30_000),
  ]);
  return {
    round: r,
    logger: summarizeCpuProfile(loggerFile, PROFILE_TOP),
    worker: summarizeCpuProfile(workerFile, PROFILE_TOP),
  };
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const plan = ctx.quick ? QUICK : FULL;
  const procs = new ProcessSet();
  const loadBefore = loadavg()[0]!;
  try {
    const root = procs.tempDir('isobroker-bench-logging-');
    const clusters: Cluster[] = [];
    const readers: LogFilesReader[] = [];
    for (const loggers of [1, 2]) {
      ctx.log(`logging: starting a cluster with ${loggers} logger(s) and ${WORKERS} workers`);
      const dir = join(root, `cluster-${loggers}`);
      mkdirSync(dir);
      const c = await startCluster(procs, dir, loggers);
      clusters.push(c);
      readers.push(new LogFilesReader(c.logFiles));
    }
    const [one, two] = clusters as [Cluster, Cluster];

    // Warm-up (round 0) on both clusters; the single logger's lines are the ceiling's input.
    ctx.log('logging: warming up');
    const warm = await clusterRound(one, readers[0]!, 0, plan);
    await clusterRound(two, readers[1]!, 0, plan);
    const lines = warm.check.lines;
    const records: Data[] = [];
    for (let w = 1; w <= WORKERS; w++) for (let i = 0; i < plan.n; i++) records.push(connRecord(w, 0, i));
    const scratch = join(root, 'scratch');
    // The ceiling takes tens of milliseconds: the median of a few appends evens out a stall.
    const appendOnce = (): Sample => ({
      records: lines.length,
      ms: median(
        Array.from({ length: CEILING_REPEAT }, () => appendLines(join(root, 'ceiling.log'), lines, plan.batch)),
      ),
    });
    const writerOnce = async (stringPath = false): Promise<Sample> => {
      mkdirSync(scratch);
      try {
        return { records: records.length, ...(await writeWithFileWriter(scratch, records, plan.batch, stringPath)) };
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    };
    appendOnce();
    await writerOnce();
    await writerOnce(true);

    const results: LoggingResults = { plan, one: [], two: [], ceiling: [], writer: [], writerStrings: [], warm };
    let round = 1;
    const variants: (() => Promise<void>)[] = [
      async () => void results.one.push(await clusterRound(one, readers[0]!, round, plan)),
      async () => void results.two.push(await clusterRound(two, readers[1]!, round, plan)),
      async () => void results.ceiling.push(appendOnce()),
      async () => void results.writer.push(await writerOnce()),
      async () => void results.writerStrings.push(await writerOnce(true)),
    ];
    for (; round <= plan.rounds; round++) {
      ctx.log(`logging: round ${round}/${plan.rounds}`);
      for (let k = 0; k < variants.length; k++) await variants[(round + k) % variants.length]!();
    }
    const loadAfter = loadavg()[0]!;
    let profiles: LoggingProfiles | undefined;
    let profileError: string | undefined;
    if (plan.profile) {
      ctx.log('logging: profiling a round with 1 logger (logger-1 and worker-1)');
      const dir = procs.tempDir('isobroker-bench-logging-prof-');
      try {
        profiles = await profileRound(one, readers[0]!, round, plan, dir);
      } catch (e) {
        profileError = (e as Error).message;
      }
    }
    return buildReport({ ...results, profiles, profileError, loadBefore, loadAfter });
  } finally {
    await procs.stopAll();
  }
}

/** The `logging` section. */
export const loggingSection: BenchSection = {
  id: 'logging',
  title: 'Cluster logging: workers to loggers writing Zeek TSV',
  about:
    'conn.log records per second from 2 workers (`ClusterNode` + `LogRouter`, each its own process) to 1 and to 2 ' +
    'loggers (`isobroker node` processes writing Zeek TSV through `createFileLogWriter`), end to end from the first ' +
    'write to the last record acknowledged by a logger after writing it, against the file log writer alone (the same ' +
    'records handed to `createFileLogWriter` in one process) and the ceiling: appending the same TSV lines to a file ' +
    'in batches with `fs.writeSync`. The files are read back after every round ' +
    '(`parseZeekTsv`) to check that each record was written exactly once.',
  run,
};
