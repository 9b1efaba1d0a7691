/**
 * Child process of the logging benchmark: one worker of a cluster layout — an `Endpoint`, a
 * `ClusterNode` and a `LogRouter`, as a worker script has them — that writes conn.log records as
 * fast as flow allows. Usage: `node logging-worker.js LAYOUT_FILE NAME WORKER_NUMBER`.
 * Prints `ready` at once, then answers commands on stdin (see `../lib/rpc.ts`):
 *
 * - `connect {timeoutMs}` waits until every logger of the layout is up (hello received) and its
 *   log topic is routable;
 * - `run {round, n, burst, cap}` writes records 0…n−1 of `round` (`burst` per event-loop turn,
 *   pausing while more than `cap` records are unacknowledged) and resolves once every batch is
 *   acknowledged, with the wall-clock times of the first write and of the last acknowledgement;
 * - `profile-start` / `profile-stop {path}` record a V8 CPU profile.
 *
 * Exits when stdin closes or on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { CONN_LOG, ClusterNode, Endpoint, LogRouter, loggersOf, parseLayout } from '../../src/index.js';
import { logTopic } from '../../src/internal.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';
import { connRecord } from './logging-workload.js';

const [layoutFile, name, workerArg] = process.argv.slice(2);
if (layoutFile === undefined || name === undefined || workerArg === undefined) {
  throw new Error('usage: logging-worker.js LAYOUT_FILE NAME WORKER_NUMBER');
}
const layout = parseLayout(JSON.parse(readFileSync(layoutFile, 'utf8')));
const worker = Number(workerArg);
const loggers = loggersOf(layout).map((n) => n.name);

const endpoint = new Endpoint({ name, role: 'worker' });
const errors: string[] = [];
endpoint.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
const node = new ClusterNode(endpoint, layout, name, { retry: 100 });
// The router subscribes to its acknowledgement topic before the node peers, so the loggers learn
// that subscription with the first filter they get.
const router = new LogRouter(node, { onError: (e) => errors.push(e.message) });
node.start();

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function connect(raw: unknown): Promise<{ loggers: string[] }> {
  const { timeoutMs } = raw as { timeoutMs: number };
  const deadline = performance.now() + timeoutMs;
  while (loggers.some((l) => !node.isUp(l))) {
    if (performance.now() > deadline) {
      throw new Error(`loggers not up after ${timeoutMs} ms: ${loggers.filter((l) => !node.isUp(l)).join(', ')}`);
    }
    await sleep(20);
  }
  for (const l of loggers) await endpoint.whenRoutable(logTopic(l), { timeoutMs });
  return { loggers };
}

interface RunResult {
  readonly firstWriteMs: number;
  readonly lastAckMs: number;
  readonly written: number;
  /** Times the writer paused because `cap` records were unacknowledged. */
  readonly pauses: number;
  readonly counters: LogRouter['counters'];
  readonly errors: readonly string[];
}

async function run(raw: unknown): Promise<RunResult> {
  const { round, n, burst, cap } = raw as { round: number; n: number; burst: number; cap: number };
  if (router.inFlight !== 0) throw new Error(`${router.inFlight} records of an earlier run still unacknowledged`);
  let pauses = 0;
  const firstWriteMs = wallMs();
  for (let i = 0; i < n; ) {
    if (router.inFlight > cap) {
      pauses++;
      while (router.inFlight > cap) await sleep(1);
    }
    const end = Math.min(n, i + burst);
    for (; i < end; i++) router.write(CONN_LOG, connRecord(worker, round, i));
    await immediate();
  }
  while (router.inFlight > 0) await sleep(1);
  const lastAckMs = wallMs();
  return { firstWriteMs, lastAckMs, written: n, pauses, counters: { ...router.counters }, errors: errors.splice(0) };
}

async function shutdown(): Promise<void> {
  router.close();
  node.close();
  await endpoint.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    connect,
    run,
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write('ready\n');
