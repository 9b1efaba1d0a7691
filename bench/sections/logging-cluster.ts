/**
 * The logging benchmark's cluster: a layout with a manager, one or two loggers and two workers on
 * free 127.0.0.1 ports, every node in its own process — manager and loggers run `isobroker node`
 * (`runNode`, see `logging-node.ts`), the workers are `logging-worker.ts` — and a reader that
 * checks, after each round, that the log files hold every record of the round exactly once.
 */
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loggersOf, parseLayout, parseZeekTsv, type ClusterLayout } from '../../src/index.js';
import { freePort, type ChildHandle, type ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import { parseUid } from './logging-workload.js';

const START_TIMEOUT_MS = 20_000;
/** Workers of every layout. */
export const WORKERS = 2;

function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** A running cluster. */
export interface Cluster {
  readonly loggers: number;
  readonly layout: ClusterLayout;
  readonly workers: readonly RpcClient[];
  readonly workerPids: readonly number[];
  readonly loggerNodes: readonly RpcClient[];
  readonly loggerPids: readonly number[];
  /** The conn.log of each logger. */
  readonly logFiles: readonly string[];
}

async function layoutWith(loggers: number): Promise<ClusterLayout> {
  const nodes: { name: string; role: string; host: string; port: number }[] = [];
  const add = async (name: string, role: string): Promise<void> => {
    // A port just freed may come back at once: ask again until it is one no node has.
    let port = await freePort();
    while (nodes.some((n) => n.port === port)) port = await freePort();
    nodes.push({ name, role, host: '127.0.0.1', port });
  };
  await add('manager', 'manager');
  for (let i = 1; i <= loggers; i++) await add(`logger-${i}`, 'logger');
  for (let i = 1; i <= WORKERS; i++) await add(`worker-${i}`, 'worker');
  return parseLayout({ nodes });
}

function startNode(procs: ProcessSet, layoutFile: string, name: string, dir: string): ChildHandle {
  return procs.spawn(name, process.execPath, [
    helperPath('logging-node.js'),
    'node',
    '--layout',
    layoutFile,
    '--name',
    name,
    '--dir',
    dir,
  ]);
}

/** Starts loggers, manager and workers of a new layout in `dir`, and waits until every worker sees every logger. */
export async function startCluster(procs: ProcessSet, dir: string, loggers: number): Promise<Cluster> {
  const layout = await layoutWith(loggers);
  const layoutFile = join(dir, 'layout.json');
  writeFileSync(layoutFile, JSON.stringify({ nodes: layout.nodes }, null, 2));
  const ready = (c: ChildHandle): Promise<RegExpExecArray> => c.waitForLine(/ ready: ws:\/\//, START_TIMEOUT_MS);
  const loggerChildren = loggersOf(layout).map((n) => startNode(procs, layoutFile, n.name, dir));
  await Promise.all(loggerChildren.map(ready));
  await ready(startNode(procs, layoutFile, 'manager', dir));
  const workerChildren = Array.from({ length: WORKERS }, (_, i) =>
    procs.spawn(`worker-${i + 1}`, process.execPath, [
      helperPath('logging-worker.js'),
      layoutFile,
      `worker-${i + 1}`,
      String(i + 1),
    ]),
  );
  await Promise.all(workerChildren.map((c) => c.waitForLine(/^ready$/, START_TIMEOUT_MS)));
  const workers = workerChildren.map((c) => new RpcClient(c));
  await Promise.all(workers.map((w) => w.call('connect', { timeoutMs: START_TIMEOUT_MS }, START_TIMEOUT_MS + 5000)));
  const logDir = join(dir, 'logs');
  return {
    loggers,
    layout,
    workers,
    workerPids: workerChildren.map((c) => c.pid),
    loggerNodes: loggerChildren.map((c) => new RpcClient(c)),
    loggerPids: loggerChildren.map((c) => c.pid),
    // One logger writes DIR/logs/conn.log; several write DIR/logs/<name>/conn.log (see server/cluster/node.ts).
    logFiles: loggersOf(layout).map((n) => (loggers > 1 ? join(logDir, n.name, 'conn.log') : join(logDir, 'conn.log'))),
  };
}

/** What the files hold of one round. */
export interface RoundCheck {
  /** Rows of the round, summed over files. */
  readonly rows: number;
  /** Records of the round missing from every file. */
  readonly missing: number;
  /** Rows of the round that repeat a record already found. */
  readonly duplicates: number;
  /** Rows of other rounds or with foreign uids. */
  readonly foreign: number;
  /** Rows per file. */
  readonly perFile: readonly number[];
  /** Bytes appended to the files during the round. */
  readonly bytes: number;
  /** The round's lines as written (file order, one file after another), each with its newline. */
  readonly lines: readonly string[];
}

/**
 * Reads what the loggers appended since the last call: the header of each file once, then only the
 * new bytes, parsed with `parseZeekTsv` after that header. Every acknowledged batch is on disk, so
 * after a round the files end with whole lines.
 */
export class LogFilesReader {
  private readonly offsets: number[];
  private readonly headers: (string | undefined)[];

  constructor(private readonly files: readonly string[]) {
    this.offsets = files.map(() => 0);
    this.headers = files.map(() => undefined);
  }

  /** Checks that the new rows are records 0…n−1 of `round` from each of `workers` workers, each once. */
  checkRound(round: number, workers: number, n: number): RoundCheck {
    const seen = new Uint8Array(workers * n);
    let rows = 0;
    let duplicates = 0;
    let foreign = 0;
    let bytes = 0;
    const perFile: number[] = [];
    const lines: string[] = [];
    this.files.forEach((file, f) => {
      const chunk = this.readNew(f);
      bytes += Buffer.byteLength(chunk.text);
      const log = parseZeekTsv(chunk.header + chunk.text);
      const uidAt = log.header.fields.indexOf('uid');
      if (uidAt < 0) throw new Error(`${file}: no uid column`);
      let here = 0;
      for (const row of log.rows) {
        const id = parseUid(row[uidAt]!);
        if (id === undefined || id.round !== round || id.worker < 1 || id.worker > workers || id.i >= n) {
          foreign++;
          continue;
        }
        here++;
        const k = (id.worker - 1) * n + id.i;
        if (seen[k] === 1) duplicates++;
        else seen[k] = 1;
      }
      rows += here;
      perFile.push(here);
      for (const line of chunk.text.split('\n')) if (line !== '' && !line.startsWith('#')) lines.push(`${line}\n`);
    });
    const missing = seen.length - seen.reduce((a, b) => a + b, 0);
    return { rows, missing, duplicates, foreign, perFile, bytes, lines };
  }

  private readNew(f: number): { header: string; text: string } {
    const file = this.files[f]!;
    const fd = openSync(file, 'r');
    let text: string;
    try {
      const size = fstatSync(fd).size;
      const from = this.offsets[f]!;
      const buf = Buffer.alloc(size - from);
      let done = 0;
      while (done < buf.length) done += readSync(fd, buf, done, buf.length - done, from + done);
      this.offsets[f] = size;
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
    let header = this.headers[f];
    if (header === undefined) {
      // The first read starts with the header: `#…` lines up to and including `#types`.
      const types = text.indexOf('\n#types');
      const end = types < 0 ? -1 : text.indexOf('\n', types + 1);
      if (end < 0) throw new Error(`${file}: no #types line`);
      header = text.slice(0, end + 1);
      this.headers[f] = header;
      text = text.slice(end + 1);
    }
    return { header, text };
  }
}
