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
import { defaultLayout, nodeUrl, type ClusterLayout, type NodeSpec } from '../src/index.js';
import { UsageError, parse, parseHostPort, untilSignal } from './args.js';

import { readLayout } from './node.js';
import { startDashboardServer } from './dashboard-server.js';

const BIN = fileURLToPath(new URL('../../bin/isobroker.js', import.meta.url));
export const RESTART_DELAY_MS = 1000;

/** Fails with a message naming the node when one of the layout's addresses is taken. */
export async function checkPortsFree(layout: ClusterLayout): Promise<void> {
  for (const n of layout.nodes) {
    await new Promise<void>((ok, fail) => {
      const srv = createNetServer();
      srv.once('error', (err: NodeJS.ErrnoException) =>
        fail(new UsageError(`node '${n.name}' cannot listen on ${n.host}:${n.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)),
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
}

export async function runCluster(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    layout: { type: 'string' },
    dir: { type: 'string', default: '.cluster' },
    demo: { type: 'boolean', default: false },
    http: { type: 'string', default: '127.0.0.1:8080' },
    format: { type: 'string', default: 'tsv' },
  });
  const layout = v.layout ? readLayout(v.layout) : defaultLayout();
  const dir = resolve(v.dir!);
  const { host: httpHost, port: httpPort } = parseHostPort(v.http!);
  await checkPortsFree(layout);

  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'stores'), { recursive: true });
  const layoutFile = join(dir, 'layout.json');
  writeFileSync(layoutFile, JSON.stringify(layout, null, 2));
  const say = (line: string): void => void process.stdout.write(`[cluster] ${line}\n`);

  const manager = layout.nodes.find((n) => n.role === 'manager')!;
  const dashboard = await startDashboardServer({
    host: httpHost,
    port: httpPort,
    cluster: { layout, peer: nodeUrl(manager), stores: ['known_hosts'], logPaths: ['conn'] },
  });

  let stopping = false;
  const children: Child[] = layout.nodes.map((spec) => ({ spec, up: false, restarts: 0 }));
  const start = (c: Child): void => {
    const args = [BIN, 'node', '--layout', layoutFile, '--name', c.spec.name, '--dir', dir, '--format', v.format!];
    if (v.demo) args.push('--demo', '--seed', String(children.indexOf(c) + 1));
    const out = createWriteStream(join(dir, 'logs', `${c.spec.name}.out`), { flags: 'a' });
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.proc = proc;
    proc.stderr!.pipe(out);
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      buf += chunk.toString();
      if (!c.up && buf.includes(' ready: ')) {
        c.up = true;
        say(`${c.spec.name} (${c.spec.role}) up at ${nodeUrl(c.spec)}, pid ${proc.pid}`);
        if (children.every((x) => x.up)) say(`all ${children.length} nodes up; dashboard ${dashboard.url}`);
      }
    });
    proc.on('exit', (code, signal) => {
      c.up = false;
      c.proc = undefined;
      if (stopping) return;
      c.restarts++;
      say(`${c.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${RESTART_DELAY_MS / 1000} s (see ${join(dir, 'logs', `${c.spec.name}.out`)})`);
      setTimeout(() => {
        if (!stopping) start(c);
      }, RESTART_DELAY_MS);
    });
  };

  say(`starting ${children.length} nodes in ${dir}${existsSync(join(dir, 'stores', 'known_hosts.sqlite')) ? ' (stores from a previous run)' : ''}`);
  for (const c of children) start(c);
  say(`dashboard ${dashboard.url}`);

  const sig = await untilSignal();
  stopping = true;
  say(`${sig}: stopping all nodes`);
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
  return 0;
}
