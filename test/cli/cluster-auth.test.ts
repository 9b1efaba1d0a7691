/**
 * `isobroker cluster --demo` runs with auth on: the launcher makes a fresh secret and demo policy
 * in a private temporary directory, every node enforces it and presents a token naming itself,
 * and the dashboard page gets short-lived tokens from `/token` (same origin, loopback only). Real
 * child processes (`npm run build` first) on free ports of 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataToJs, parseZeekMessage, type Message } from 'isobroker';
import {
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
} from '../../src/internal.js';
import { rawClient } from '../support/ws-client.js';
import { layoutOf } from '../support/cluster.js';
import { spawnCli, type Cli } from '../support/processes.js';
import { authDir, cliTest, until } from './hub-auth-support.js';

const { cleanup, client: endpoint } = cliTest();

const UP = /^\[cluster\] (\S+) \((\w+)\) up at (\S+), pid (\d+)$/;

/** Starts the launcher on a 4-node layout of free ports; resolves once all are up. */
async function launch(
  extra: readonly string[] = [],
): Promise<{ cli: Cli; url: string; manager: string; pids: number[] }> {
  const auth = authDir(cleanup);
  const layout = await layoutOf([
    ['manager', 'manager'],
    ['logger-1', 'logger'],
    ['proxy-1', 'proxy'],
    ['worker-1', 'worker'],
  ]);
  const file = join(auth.dir, 'layout.json');
  writeFileSync(file, JSON.stringify(layout));
  const cli = spawnCli(['cluster', '--layout', file, '--dir', join(auth.dir, 'c'), '--http', '127.0.0.1:0', ...extra]);
  const all = await cli.line(/all 4 nodes up; dashboard http:\/\//, 30_000);
  const url = /(http:\/\/\S+)/.exec(all)![1]!;
  const ups = cli.stdout.flatMap((l) => {
    const m = UP.exec(l);
    return m ? [{ name: m[1]!, url: m[3]!, pid: Number(m[4]) }] : [];
  });
  cleanup.push(() => {
    for (const u of ups)
      try {
        process.kill(u.pid, 'SIGKILL');
      } catch {
        // gone
      }
  });
  return { cli, url, manager: ups.find((u) => u.name === 'manager')!.url, pids: ups.map((u) => u.pid) };
}

/** The status of `GET /token` on 127.0.0.1:`port` with these headers (Host included, which fetch cannot set). */
function status(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/token', headers }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

/** The `--policy` path a node process was started with (from /proc). */
function nodePolicyArg(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return args[args.indexOf('--policy') + 1]!;
}

/** A native hello without a credential, as a client without a token sends it. */
const tokenlessHello = (): Uint8Array =>
  encodeFrame([
    encodeMessage({
      kind: MessageKind.Hello,
      version: NATIVE_PROTOCOL_VERSION,
      id: idToBytes('0a1b2c3d-0000-4000-8000-0000000000aa'),
      name: 'no-token',
      role: 'test',
      credential: null,
      link: 'leaf',
    }),
  ]);

/** The node name and peer names of a stats message. */
function statsOf(m: Message): { name: string; peers: string[] } {
  const ev = parseZeekMessage(m.data);
  if (ev.kind !== 'event') throw new Error('not an event');
  return { name: dataToJs(ev.args[0]!) as string, peers: dataToJs(ev.args[3]!) as string[] };
}

describe('cluster --demo with auth on', () => {
  it("nodes enforce a generated policy and hold tokens; the dashboard's token shows every node's stats", async () => {
    // A demo secret left behind by a launcher that died by SIGKILL (its pid is gone) is removed;
    // one whose launcher lives (this process stands in for it) is not.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = mkdtempSync(join(tmpdir(), `isobroker-demo-auth-${gone}-`));
    const live = mkdtempSync(join(tmpdir(), `isobroker-demo-auth-${process.pid}-`));
    cleanup.push(() => rmSync(live, { recursive: true, force: true }));
    cleanup.push(() => rmSync(stale, { recursive: true, force: true }));
    const { cli, url, manager, pids } = await launch(['--demo']);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(cli.stdout.join('\n')).toContain('auth on: a fresh demo secret and policy (removed at exit)');

    // Every node got the same generated policy, private to this user.
    const policies = new Set(pids.map(nodePolicyArg));
    expect(policies.size).toBe(1);
    const policyFile = [...policies][0]!;
    expect(statSync(policyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(policyFile, '..')).mode & 0o777).toBe(0o700);
    const policy = JSON.parse(readFileSync(policyFile, 'utf8')) as {
      anonymous?: string;
      roles: Record<string, { publish?: { allow: string[] }; stores?: Record<string, string> }>;
    };
    expect(Object.keys(policy.roles).sort()).toEqual(['dashboard', 'hub', 'logger', 'manager', 'proxy', 'worker']);
    // No anonymous role; the dashboard publishes under demo/ only and only reads the store.
    expect(policy.anonymous).toBeUndefined();
    expect(policy.roles.dashboard).toMatchObject({
      publish: { allow: ['demo/'] },
      stores: { known_hosts: 'read' },
    });

    // The page's token: same origin from loopback only.
    const res = await fetch(new URL('/token', url));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: number };
    expect(expiresAt - Date.now()).toBeGreaterThan(10 * 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    // Another page's origin, a DNS-rebinding Host name, a cross-site fetch: refused.
    const port = Number(new URL(url).port);
    expect(await status(port, { origin: 'http://evil.test' })).toBe(403);
    expect(await status(port, { host: `evil.test:${port}` })).toBe(403);
    expect(await status(port, { 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(await status(port, { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).toBe(200);

    // With it, the dashboard's subscriptions get every node's stats (each node said hello as
    // itself: the manager lists its peers by name) …
    const dash = endpoint('dashboard');
    await dash.ep.peer(manager, { retry: 0, token });
    const stats = new Map<string, string[]>();
    dash.ep.subscribe('isobroker/stats/', (m) => {
      const s = statsOf(m);
      stats.set(s.name, s.peers);
    });
    const demo: Message[] = [];
    dash.ep.subscribe('demo/', (m) => demo.push(m));
    const nodes = ['logger-1', 'proxy-1', 'worker-1'];
    await until(
      () => stats.size === 4 && nodes.every((n) => stats.get('manager')?.includes(n)),
      15_000,
      'stats of all 4 nodes, the manager peered with the other 3',
    );
    expect(
      stats
        .get('manager')!
        .filter((n) => n !== 'dashboard')
        .sort(),
    ).toEqual(nodes);
    await until(() => demo.length > 0, 10_000, 'demo events');
    // … and nothing outside its grant: the cluster's own topics are refused.
    dash.ep.subscribe('zeek/cluster/', () => undefined);
    await until(() => dash.codes.includes('forbidden'), 5000, 'zeek/cluster/ refused');

    // A client without a token is refused: there is no anonymous role in the demo.
    const native = await rawClient(`${manager}/v1/messages/native`);
    native.ws.send(tokenlessHello());
    expect((await native.closed).code).toBe(4401);
    expect(
      native.binaries
        .flatMap((f) => decodeFrame(f))
        .filter((m) => m.kind === MessageKind.Error)
        .map((m) => (m as { code: string }).code),
    ).toEqual(['unauthenticated']);
    const json = await rawClient(`${manager}/v1/messages/json`);
    json.ws.send(JSON.stringify(['demo/']));
    expect((await json.closed).code).toBe(1008);
    expect(json.texts.map((t) => (JSON.parse(t) as { type: string; code?: string }).code)).toEqual(['unauthenticated']);
    const anon = endpoint('anon');
    await expect(anon.ep.peer(manager, { retry: 0 })).rejects.toThrow();
    expect(anon.codes).toContain('unauthenticated');

    // A token signed with another secret is refused.
    const forged = endpoint('forged');
    const other = authDir(cleanup);
    await expect(
      forged.ep.peer(manager, { retry: 0, token: other.token('dashboard', ['dashboard']) }),
    ).rejects.toThrow();
    expect(forged.codes).toContain('unauthenticated');

    // Stopping the launcher removes the generated secret and policy.
    expect(await cli.kill('SIGTERM')).toBe(0);
    expect(existsSync(join(policyFile, '..'))).toBe(false);
  }, 60_000);

  it('--policy is checked before any node starts: needs --key-file (exit 2); an invalid one lists every error (exit 1)', async () => {
    const auth = authDir(cleanup);
    const bad = auth.writePolicy({ roles: { worker: { publish: { allow: [1] } } }, anonymous: 'nobody' });
    const noKey = spawnCli(['cluster', '--policy', bad, '--http', '127.0.0.1:0']);
    expect(await noKey.exited).toBe(2);
    expect(noKey.stderr).toEqual([
      "isobroker cluster: --policy needs --key-file (the launcher mints the nodes' tokens)",
    ]);
    const invalid = spawnCli([
      'cluster',
      '--policy',
      bad,
      '--key-file',
      auth.secretFile,
      '--kid',
      'k1',
      '--http',
      '127.0.0.1:0',
    ]);
    expect(await invalid.exited).toBe(1);
    expect(invalid.stdout).toEqual([]);
    expect(invalid.stderr[0]).toMatch(/^isobroker cluster: --policy \S+: invalid policy \(\d+ errors?\):$/);
    expect(invalid.stderr.some((l) => l.includes('$.roles.worker.publish.allow[0]'))).toBe(true);
  }, 30_000);

  it("with the operator's --policy and --key-file, nodes and the dashboard authenticate with minted tokens", async () => {
    const auth = authDir(cleanup);
    const node = { publish: { allow: [''] }, subscribe: { allow: [''] }, stores: { '*': 'master' } };
    const policy = auth.writePolicy(
      {
        roles: {
          manager: node,
          logger: node,
          proxy: node,
          worker: node,
          dashboard: { subscribe: { allow: ['isobroker/stats/'] }, maxTokenLifetimeSeconds: 900 },
        },
      },
      'ops-policy.json',
    );
    const { cli, url, manager } = await launch(['--policy', policy, '--key-file', auth.secretFile, '--kid', 'k1']);
    expect(cli.stdout.join('\n')).toContain(`auth on: policy ${policy}`);
    const { token } = (await (await fetch(new URL('/token', url))).json()) as { token: string };
    const dash = endpoint('dashboard');
    await dash.ep.peer(manager, { retry: 0, token });
    const names = new Set<string>();
    dash.ep.subscribe('isobroker/stats/', (m) => names.add(statsOf(m).name));
    await until(() => names.size === 4, 15_000, 'stats of all 4 nodes');
    // No anonymous role in this policy: a client without a token is refused.
    const anon = endpoint('anon');
    await expect(anon.ep.peer(manager, { retry: 0 })).rejects.toThrow();
    expect(anon.codes).toContain('unauthenticated');
    expect(await cli.kill('SIGTERM')).toBe(0);
    // The operator's policy stays where it was.
    expect(existsSync(policy)).toBe(true);
  }, 60_000);
});
