/**
 * The cluster launcher (`isobroker cluster`) and its nodes as real processes: a node that cannot
 * start, input that must not kill the launcher, a launcher that dies, and demo uids across a
 * worker restart.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseZeekTsv } from 'isobroker';
import { killAll, spawnCli, type Cli } from '../support/processes.js';
import { layoutOf } from '../support/cluster.js';
import { sleep, until } from '../support/endpoints.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await killAll();
});

/** Polls an asynchronous condition every 100 ms. */
async function untilAsync(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-launcher-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface NodeStatus {
  name: string;
  state: string;
  pid?: number;
  restarts: number;
  failedStarts: number;
  lastError?: string;
}

/** Starts the launcher on a layout of `nodes`; resolves with its dashboard URL. */
async function launch(
  nodes: Parameters<typeof layoutOf>[0],
  prepare?: (dir: string) => void,
): Promise<{ cli: Cli; url: string; dir: string; ports: number[] }> {
  const layout = await layoutOf(nodes);
  const dir = tempDir();
  const file = join(dir, 'layout.json');
  writeFileSync(file, JSON.stringify(layout));
  const clusterDir = join(dir, 'c');
  prepare?.(clusterDir);
  const cli = spawnCli(['cluster', '--layout', file, '--dir', clusterDir, '--http', '127.0.0.1:0']);
  // Nodes must not outlive a test that fails midway.
  cleanup.push(async () => {
    for (const s of await status(url).catch(() => [])) if (s.pid) killQuietly(s.pid);
  });
  const line = await cli.line(/\] dashboard http:\/\//);
  const url = /(http:\/\/\S+)/.exec(line)![1]!;
  return { cli, url, dir: clusterDir, ports: layout.nodes.map((n) => n.port) };
}

async function status(url: string): Promise<NodeStatus[]> {
  const res = await fetch(new URL('/cluster.json', url));
  return ((await res.json()) as { nodes: NodeStatus[] }).nodes;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

/** Sends `request` as raw bytes; resolves with the status line of the answer. */
function rawRequest(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((ok, fail) => {
    const sock = connect(Number(port), hostname);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) {
        ok(buf.slice(0, nl));
        sock.destroy();
      }
    });
    sock.on('error', fail);
    sock.on('close', () => fail(new Error(`closed without an answer: ${JSON.stringify(buf)}`)));
    sock.write(request, 'latin1');
  });
}

describe('the cluster launcher with real processes', () => {
  it('a manager whose store cannot open: exits 1 with the reason, reported once, shown failed, recovers when fixed', async () => {
    const { cli, url, dir } = await launch(
      [
        ['manager', 'manager'],
        ['worker-1', 'worker'],
      ],
      (d) => {
        mkdirSync(join(d, 'stores'), { recursive: true });
        writeFileSync(join(d, 'stores', 'known_hosts.sqlite'), 'this is not an SQLite database, not at all\n');
      },
    );
    // The first start and two retries (1 s, then 2 s later) fail the same way.
    await untilAsync(
      async () => (await status(url)).find((s) => s.name === 'manager')!.failedStarts >= 3,
      20_000,
      'three failed starts',
    );
    const manager = (await status(url)).find((s) => s.name === 'manager')!;
    expect(manager.state).toBe('failed');
    expect(manager.lastError).toMatch(/cannot open SQLite store .*known_hosts\.sqlite/);
    const reports = cli.stdout.filter((l) => /manager failed to start/.test(l));
    expect(reports, cli.stdout.join('\n')).toHaveLength(1);
    expect(reports[0]).toMatch(/code 1: .*cannot open SQLite store .*known_hosts\.sqlite: file is not a database/);
    // The launcher keeps running (and serving) while it retries with backoff.
    expect(cli.proc.exitCode).toBeNull();

    // Fixed, the manager comes up at its next retry.
    rmSync(join(dir, 'stores', 'known_hosts.sqlite'));
    await untilAsync(
      async () => (await status(url)).find((s) => s.name === 'manager')!.state === 'up',
      20_000,
      'manager up',
    );
    await cli.line(/manager \(manager\) up at .* \(recovered\)/);
  });

  it('a malformed request does not kill the launcher; a launcher killed by SIGKILL leaves no node behind', async () => {
    const { cli, url, ports } = await launch([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['worker-1', 'worker'],
    ]);
    await cli.line(/all 3 nodes up/, 30_000);
    // What killed the launcher before: one request for a malformed path.
    expect(await rawRequest(url, 'GET /%E0%A4%A HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawRequest(url, 'GET /../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawRequest(url, 'DELETE / HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 405 /);
    expect(cli.proc.exitCode).toBeNull();
    const pids = (await status(url)).map((s) => s.pid!);
    expect(pids.every((p) => typeof p === 'number' && alive(p))).toBe(true);

    await cli.kill('SIGKILL');
    // The nodes notice the launcher's death (their IPC channel closes) and stop within seconds.
    await until(() => pids.every((p) => !alive(p)), 10_000, 'every node gone');
    for (const p of ports) expect(await portFree(p), `port ${p} free`).toBe(true);
  });

  it('demo uids are random: a worker restarted with the same seed reuses none', async () => {
    const layout = await layoutOf([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['worker-1', 'worker'],
    ]);
    const dir = tempDir();
    const file = join(dir, 'layout.json');
    writeFileSync(file, JSON.stringify(layout));
    const node = async (name: string): Promise<Cli> => {
      const c = spawnCli(['node', '--layout', file, '--name', name, '--dir', dir, '--demo', '--seed', '1']);
      await c.line(/ready: ws:\/\//);
      return c;
    };
    await node('manager');
    const logger = await node('logger-1');
    let worker = await node('worker-1');
    await sleep(1500);
    await worker.kill('SIGKILL');
    worker = await node('worker-1'); // the same seed: the same traffic
    await sleep(1500);
    expect(await worker.kill('SIGTERM')).toBe(0);
    await sleep(500); // the last batches reach the logger
    expect(await logger.kill('SIGTERM')).toBe(0);

    const uids: string[] = [];
    const logs = join(dir, 'logs');
    for (const f of readdirSync(logs).filter((x) => x.startsWith('conn') && x.endsWith('.log'))) {
      const log = parseZeekTsv(readFileSync(join(logs, f), 'utf8'));
      const col = log.header.fields.indexOf('uid');
      for (const row of log.rows) uids.push(row[col]!);
    }
    expect(uids.length).toBeGreaterThan(100);
    for (const u of uids) expect(u).toMatch(/^C[0-9A-Za-z]{12,17}$/);
    const seen = new Set<string>();
    const twice = uids.filter((u) => seen.has(u) || !seen.add(u));
    expect(twice, 'uids seen twice').toEqual([]);
  });
});
