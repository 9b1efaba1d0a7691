/**
 * `isobroker hub --peer` with credentials (`npm run build` first: runs the compiled CLI): hub B
 * dials hub A (which enforces a policy) as a router with `--peer-token-file` (a token minted by
 * `isobroker token --role hub --node hub-b`), and a message published by a client of B reaches
 * a client of A; without a token, or with one A does not accept, B reports the refusal, keeps
 * retrying and stays up, and a good token written to the file + SIGHUP peers it; with mutual
 * TLS (`--peer-ca/--peer-cert/--peer-key` against A's `--tls-client-auth require` and a policy
 * `certificates` mapping, certificates made with `openssl`,
 * test/support/certs.ts) B peers by its certificate alone,
 * and without a client certificate it is refused and retries. Bad flag combinations exit 2,
 * unreadable files exit 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Endpoint, string, type Message } from 'isobroker';
import { peer } from 'isobroker/node';
import { makeCa, makeCert } from '../support/certs.js';
import { spawnCli, startHub, type Cli } from '../support/processes.js';
import { authDir, cliTest, isobroker, until } from './hub-auth-support.js';

const { cleanup, client } = cliTest();

const ROLES = {
  hub: { publish: { allow: ['demo/'] }, subscribe: { allow: ['demo/'] } },
  viewer: { publish: { allow: ['demo/'] }, subscribe: { allow: ['demo/'] } },
};

/** A leaf endpoint (an application) of a hub. */
function leaf(name: string): Endpoint {
  return client(name).ep;
}

/** A message published by a client of hub B reaches a client of hub A. */
async function crosses(atA: Endpoint, atB: Endpoint, tag: string): Promise<void> {
  const got: Message[] = [];
  const sub = atA.subscribe(`demo/${tag}`, (m) => got.push(m));
  await atB.whenRoutable(`demo/${tag}`);
  atB.publish(`demo/${tag}`, string(`from b ${tag}`));
  await until(() => got.length === 1, 10_000, `the message of ${tag} at A's client`);
  expect(got[0]!.topic).toBe(`demo/${tag}`);
  sub.unsubscribe();
}

const count = (cli: Cli, re: RegExp): number => cli.stderr.filter((l) => re.test(l)).length;

describe('isobroker hub --peer-token-file', () => {
  it('peers as router hub-b with a hub token; messages of a client of B reach a client of A', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: ROLES, anonymous: 'viewer' });
    const tokenFile = join(auth.dir, 'hub-b.token');
    writeFileSync(tokenFile, `${auth.token('hub-b', ['hub'], ['--node', 'hub-b'])}\n`, { mode: 0o600 });
    const a = await startHub(['--name', 'hub-a', '--policy', policy]);
    const b = await startHub(['--name', 'hub-b', '--peer', a.url, '--peer-token-file', tokenFile]);
    await until(() => count(a.cli, /peer_added: .* hub-b /) === 1, 10_000, 'hub-b peered at A');
    // The token never shows in either hub's output.
    const token = readFileSync(tokenFile, 'utf8').trim();
    for (const c of [a.cli, b.cli]) expect([...c.stdout, ...c.stderr].join('\n')).not.toContain(token);

    const atA = leaf('client-a');
    await atA.peer(a.url, { retry: 0 });
    const atB = leaf('client-b');
    await atB.peer(b.url, { retry: 0 });
    await crosses(atA, atB, 'token');
    expect(await b.cli.kill('SIGTERM')).toBe(0);
  }, 60_000);

  it('without a token: refused as anonymous, reported, retried, B stays up', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: ROLES, anonymous: 'viewer' });
    const a = await startHub(['--name', 'hub-a', '--policy', policy]);
    const b = await startHub(['--name', 'hub-b', '--peer', a.url]);
    await until(() => count(b.cli, /error forbidden: .*router links/) >= 2, 15_000, 'two refusals reported by B');
    expect(b.cli.proc.exitCode).toBeNull();
    expect(count(a.cli, /peer_added: .* hub-b /)).toBe(0);
    expect(await b.cli.kill('SIGTERM')).toBe(0);
  }, 60_000);

  it('a token A does not accept is refused and retried; a good one written to the file + SIGHUP peers', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: ROLES, anonymous: 'viewer' });
    const otherSecret = join(auth.dir, 'other-secret.txt');
    writeFileSync(otherSecret, isobroker(['token', '--new-secret']), { mode: 0o600 });
    const forged = isobroker([
      'token',
      '--key-file',
      otherSecret,
      '--kid',
      'k1',
      '--sub',
      'hub-b',
      '--role',
      'hub',
      '--node',
      'hub-b',
    ]).trim();
    const tokenFile = join(auth.dir, 'hub-b.token');
    writeFileSync(tokenFile, forged, { mode: 0o600 });
    const a = await startHub(['--name', 'hub-a', '--policy', policy]);
    const b = await startHub(['--name', 'hub-b', '--peer', a.url, '--peer-token-file', tokenFile]);
    await until(() => count(b.cli, /error unauthenticated: /) >= 2, 15_000, 'two refusals reported by B');
    expect(b.cli.proc.exitCode).toBeNull();
    expect(count(a.cli, /peer_added: .* hub-b /)).toBe(0);

    writeFileSync(tokenFile, auth.token('hub-b', ['hub'], ['--node', 'hub-b']));
    b.cli.proc.kill('SIGHUP');
    await until(() => count(a.cli, /peer_added: .* hub-b /) === 1, 10_000, 'hub-b peered at A after SIGHUP');
    const atA = leaf('client-a');
    await atA.peer(a.url, { retry: 0 });
    const atB = leaf('client-b');
    await atB.peer(b.url, { retry: 0 });
    await crosses(atA, atB, 'rotated');
    expect(b.cli.proc.exitCode).toBeNull();
    expect(await b.cli.kill('SIGTERM')).toBe(0);
  }, 60_000);

  it('checks the flags before starting: exit 2 for combinations, exit 1 for unreadable files', async () => {
    const auth = authDir(cleanup);
    const run = async (args: string[]): Promise<{ code: number | null; err: string }> => {
      const c = spawnCli(['hub', '--listen', '127.0.0.1:0', ...args]);
      const code = await c.exited;
      return { code, err: c.stderr.join('\n') };
    };
    const pemless = join(auth.dir, 'not-pem.txt');
    writeFileSync(pemless, 'hello\n');
    const empty = join(auth.dir, 'empty.token');
    writeFileSync(empty, '\n');
    const cases: [string[], number, RegExp][] = [
      [['--peer', 'wss://127.0.0.1:1', '--peer-cert', pemless], 2, /--peer-cert needs --peer-key/],
      [['--peer', 'wss://127.0.0.1:1', '--peer-key', pemless], 2, /--peer-key needs --peer-cert/],
      [['--peer-token-file', empty], 2, /needs at least one --peer/],
      [['--peer', 'ws://127.0.0.1:1', '--peer-ca', pemless], 2, /--peer-ca is for wss:\/\/ peers/],
      [
        ['--peer', 'ws://127.0.0.1:1', '--peer-token-file', join(auth.dir, 'nope')],
        1,
        /cannot read the file \(ENOENT\)/,
      ],
      [['--peer', 'ws://127.0.0.1:1', '--peer-token-file', empty], 1, /the file is empty/],
      [['--peer', 'wss://127.0.0.1:1', '--peer-ca', pemless], 1, /not a PEM file/],
    ];
    for (const [args, code, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err, args.join(' ')).toMatch(re);
    }
  }, 60_000);
});

describe('isobroker hub --peer wss:// with --peer-ca/--peer-cert/--peer-key', () => {
  it('peers by the client certificate mapped to node hub-b; without a certificate it is refused and retries', async () => {
    const auth = authDir(cleanup);
    const dir = auth.dir;
    const ca = makeCa(dir, 'ca', 'hubs-ca');
    makeCert(dir, { name: 'hub-a', ca, san: 'IP:127.0.0.1', usage: 'serverAuth' });
    makeCert(dir, { name: 'hub-b', ca, usage: 'clientAuth' });
    const app = makeCert(dir, { name: 'app', ca, usage: 'clientAuth' });
    const f = (name: string): string => join(dir, name);
    const policy = auth.writePolicy({
      roles: ROLES,
      certificates: { 'hub-b': { roles: ['hub'], node: 'hub-b' }, app: { roles: ['viewer'] } },
    });
    // biome-ignore format: the hub's command line
    const a = spawnCli(['hub', '--name', 'hub-a', '--listen', '127.0.0.1:0', '--policy', policy, '--tls-cert', f('hub-a.crt'), '--tls-key', f('hub-a.key'), '--tls-ca', f('ca.crt'), '--tls-client-auth', 'require']);
    const urlA = /native (wss:\/\/\S+),/.exec(await a.line(/ready: native wss:\/\//))![1]!;

    // Only the CA: no client certificate, refused (and retried) while B runs on.
    const nocert = await startHub(['--name', 'hub-b', '--peer', urlA, '--peer-ca', f('ca.crt')]);
    await until(() => count(nocert.cli, /error /) >= 2, 15_000, 'two failures reported without a certificate');
    expect(nocert.cli.proc.exitCode).toBeNull();
    expect(count(a, /peer_added: .* hub-b /)).toBe(0);
    expect(await nocert.cli.kill('SIGTERM')).toBe(0);

    // biome-ignore format: the hub's command line
    const b = await startHub(['--name', 'hub-b', '--peer', urlA, '--peer-ca', f('ca.crt'), '--peer-cert', f('hub-b.crt'), '--peer-key', f('hub-b.key')]);
    await until(() => count(a, /peer_added: .* hub-b /) === 1, 10_000, 'hub-b peered at A by its certificate');

    const atA = leaf('client-a');
    const appTls = { ca: ca.certPem, cert: app.certPem, key: app.keyPem };
    await peer(atA, urlA, { retry: 0, tls: appTls });
    const atB = leaf('client-b');
    await atB.peer(b.url, { retry: 0 });
    await crosses(atA, atB, 'mtls');
    expect(await b.cli.kill('SIGTERM')).toBe(0);
  }, 90_000);
});
