/**
 * `isobroker cluster`: starts every node of a layout on this machine as a child process (like
 * zeekctl deploy), prints status lines as nodes come up, restarts a node that crashes, serves the
 * dashboard and `/cluster.json` over HTTP on 127.0.0.1, and stops everything cleanly on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLayout, nodeUrl, parseLayout, type ClusterLayout, type NodeSpec } from '../src/index.js';
import {
  EXIT,
  FatalError,
  UsageError,
  checkHostPort,
  checkNonEmpty,
  checkOneOf,
  defineCommand,
  parseHostPort,
  parseOrMeta,
  readOptionFile,
  untilSignal,
} from './args.js';

import { startDashboardServer } from './dashboard-server.js';

const BIN = fileURLToPath(new URL('../../bin/isobroker.js', import.meta.url));
export const RESTART_DELAY_MS = 1000;
/** A node that exits this many times in a row without ever coming up stops the cluster (exit 1). */
export const MAX_FAILED_STARTS = 3;

export const CLUSTER_COMMAND = defineCommand({
  name: 'cluster',
  synopsis: '[--layout FILE] [--dir DIR] [--demo] [--http HOST:PORT] [--format tsv|json]',
  description: `
Starts every node of a layout on this machine as a child process (like zeekctl deploy), prints a
status line as each comes up, restarts a node that crashes, serves the dashboard, and stops
everything on SIGINT/SIGTERM. Every option and the layout are checked before anything starts.
A node that exits ${MAX_FAILED_STARTS} times in a row without coming up stops the cluster (exit 1).`,
  options: {
    layout: {
      type: 'string',
      arg: 'FILE',
      defaultText: 'manager, logger-1, proxy-1/2, worker-1/2 on 127.0.0.1:27760–27765',
      help: 'layout JSON {"nodes":[{"name","role","host","port"}…]}',
      check: (file, flag) => void loadLayout(file, flag),
    },
    dir: {
      type: 'string',
      arg: 'DIR',
      default: '.cluster',
      help: 'directory for logs/ and stores/',
      check: checkNonEmpty,
    },
    demo: { type: 'boolean', help: 'generate demo traffic' },
    http: {
      type: 'string',
      arg: 'HOST:PORT',
      default: '127.0.0.1:8080',
      help: 'address of the dashboard',
      check: checkHostPort,
    },
    format: {
      type: 'string',
      arg: 'tsv|json',
      default: 'tsv',
      help: 'log file format',
      check: checkOneOf('tsv', 'json'),
    },
  },
});

/** Reads and checks a layout file; every problem is a usage error naming the flag. */
export function loadLayout(file: string, flag = '--layout'): ClusterLayout {
  const text = readOptionFile(file, flag);
  try {
    return parseLayout(JSON.parse(text));
  } catch (err) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(file)} is not a valid layout: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Fails with a message naming the node when one of the layout's addresses is taken. */
export async function checkPortsFree(layout: ClusterLayout): Promise<void> {
  for (const n of layout.nodes) {
    await new Promise<void>((ok, fail) => {
      const srv = createNetServer();
      srv.once('error', (err: NodeJS.ErrnoException) =>
        fail(
          new FatalError(
            `node '${n.name}' cannot listen on ${n.host}:${n.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
          ),
        ),
      );
      srv.listen(n.port, n.host, () => srv.close(() => ok()));
    });
  }
}

interface Child {
  readonly spec: NodeSpec;
  proc?: ChildProcess;
  up: boolean;
  restarts: number;
  /** Exits in a row without coming up. */
  failedStarts: number;
  /** The node's last line on stderr (why it exited, usually). */
  lastError?: string;
}

export async function runCluster(argv: readonly string[]): Promise<number> {
  // Everything is checked before anything starts: no node, no directory, no port.
  const v = parseOrMeta(CLUSTER_COMMAND, argv);
  if (!v) return EXIT.ok;
  const layout = v.layout ? loadLayout(v.layout) : defaultLayout();
  if (!layout.nodes.some((n) => n.role === 'manager')) throw new UsageError('--layout: the layout has no manager node');
  const dir = resolve(v.dir);
  const { host: httpHost, port: httpPort } = parseHostPort(v.http, '--http');
  await checkPortsFree(layout);

  const manager = layout.nodes.find((n) => n.role === 'manager')!;
  let dashboard: Awaited<ReturnType<typeof startDashboardServer>>;
  try {
    dashboard = await startDashboardServer({
      host: httpHost,
      port: httpPort,
      cluster: { layout, peer: nodeUrl(manager), stores: ['known_hosts'], logPaths: ['conn'] },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FatalError(
      `--http ${v.http}: cannot listen: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`,
    );
  }
  const layoutFile = join(dir, 'layout.json');
  try {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'stores'), { recursive: true });
    writeFileSync(layoutFile, JSON.stringify(layout, null, 2));
  } catch (err) {
    await dashboard.close();
    throw new FatalError(`--dir ${v.dir}: ${(err as Error).message}`);
  }
  const say = (line: string): void => void process.stdout.write(`[cluster] ${line}\n`);

  let stopping = false;
  const children: Child[] = layout.nodes.map((spec) => ({ spec, up: false, restarts: 0, failedStarts: 0 }));
  let giveUp: ((reason: string) => void) | undefined;
  const gaveUp = new Promise<string>((resolve) => (giveUp = resolve));
  const start = (c: Child): void => {
    const args = [BIN, 'node', '--layout', layoutFile, '--name', c.spec.name, '--dir', dir, '--format', v.format];
    if (v.demo) args.push('--demo', '--seed', String(children.indexOf(c) + 1));
    const out = createWriteStream(join(dir, 'logs', `${c.spec.name}.out`), { flags: 'a' });
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.proc = proc;
    proc.stderr!.pipe(out);
    let errBuf = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      errBuf = (errBuf + chunk.toString()).slice(-4096);
      const lines = errBuf.split('\n').filter((l) => l.trim() !== '');
      if (lines.length) c.lastError = lines[lines.length - 1]!.trim();
    });
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      buf += chunk.toString();
      if (!c.up && buf.includes(' ready: ')) {
        c.up = true;
        c.failedStarts = 0;
        say(`${c.spec.name} (${c.spec.role}) up at ${nodeUrl(c.spec)}, pid ${proc.pid}`);
        if (children.every((x) => x.up)) say(`all ${children.length} nodes up; dashboard ${dashboard.url}`);
      }
    });
    proc.on('exit', (code, signal) => {
      const wasUp = c.up;
      c.up = false;
      c.proc = undefined;
      if (stopping) return;
      const why = `${signal ?? `code ${code}`}${c.lastError ? `: ${c.lastError}` : ''}`;
      if (!wasUp && ++c.failedStarts >= MAX_FAILED_STARTS) {
        giveUp?.(
          `${c.spec.name} exited ${c.failedStarts} times without coming up (${why}); see ${join(dir, 'logs', `${c.spec.name}.out`)}`,
        );
        return;
      }
      c.restarts++;
      say(
        `${c.spec.name} exited (${why}); restarting in ${RESTART_DELAY_MS / 1000} s (see ${join(dir, 'logs', `${c.spec.name}.out`)})`,
      );
      setTimeout(() => {
        if (!stopping) start(c);
      }, RESTART_DELAY_MS);
    });
  };

  say(
    `starting ${children.length} nodes in ${dir}${existsSync(join(dir, 'stores', 'known_hosts.sqlite')) ? ' (stores from a previous run)' : ''}`,
  );
  for (const c of children) start(c);
  say(`dashboard ${dashboard.url}`);

  const signal = untilSignal();
  const end = await Promise.race([
    signal.then((sig) => ({ sig, failure: undefined })),
    gaveUp.then((failure) => ({ sig: undefined, failure })),
  ]);
  const failure = end.failure;
  signal.cancel();
  stopping = true;
  say(failure === undefined ? `${end.sig}: stopping all nodes` : `stopping all nodes: ${failure}`);
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          const p = c.proc;
          if (!p || p.exitCode !== null) return done();
          const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
          p.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          p.kill('SIGTERM');
        }),
    ),
  );
  await dashboard.close();
  say('stopped');
  if (failure !== undefined) {
    process.stderr.write(`isobroker cluster: ${failure}\n`);
    return EXIT.failure;
  }
  return EXIT.ok;
}
