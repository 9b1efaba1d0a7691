/**
 * `isobroker token` as a real child process of the built bin: the tokens it mints (HS256 from a
 * `--new-secret` key file, EdDSA from a JSON key entry, ES256 from a PEM) are accepted by the
 * hub's authenticator under a policy holding the same key; `--new-api-key` prints a key and the
 * policy entry that makes it work; usage errors exit 2 with one line that never shows the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../src/auth/policy.js';
import type { ConnectionInfo, Principal } from '../../src/auth/types.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { killAll, spawnCli } from '../support/processes.js';

const CONN: ConnectionInfo = { ip: '127.0.0.1', remote: '127.0.0.1:1', protocol: 'native' };
const dirs: string[] = [];
afterEach(async () => {
  await killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-token-'));
  dirs.push(d);
  return d;
}

/** Runs `isobroker token ARGS` to its exit (within 15 s). */
async function token(args: readonly string[]): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const cli = spawnCli(['token', ...args]);
  const timer = setTimeout(() => void cli.kill('SIGKILL'), 15_000);
  const code = await cli.exited;
  clearTimeout(timer);
  // Let the last stdout chunk arrive.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}

function policyOf(json: Record<string, unknown>): Policy {
  const r = parsePolicy({
    version: 1,
    roles: {
      dashboard: { subscribe: { allow: ['demo/'] }, stores: { ui_prefs: 'read' }, maxTokenLifetimeSeconds: 3600 },
      ingest: { publish: { allow: ['ingest/'] } },
      worker: {},
    },
    ...json,
  });
  if (!r.policy) throw new Error(r.errors.join('\n'));
  return r.policy;
}

const accept = (policy: Policy, credential: { kind: 'bearer' | 'api_key'; value: string }): Promise<Principal> =>
  createAuthenticator({ current: policy }).authenticate(credential, CONN);

describe('isobroker token', () => {
  it('--new-secret makes a key file whose tokens the authenticator accepts (roles, ttl, claims, aud, iss)', async () => {
    const dir = tempDir();
    const s = await token(['--new-secret']);
    expect(s.code).toBe(0);
    expect(s.stdout).toHaveLength(1);
    const secret = s.stdout[0]!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const keyFile = join(dir, 'k1.secret');
    writeFileSync(keyFile, `${secret}\n`);

    const before = Date.now();
    const t = await token([
      '--key-file',
      keyFile,
      '--kid',
      'k1',
      '--sub',
      'alice',
      '--role',
      'dashboard',
      '--ttl',
      '15m',
      '--aud',
      'isobroker',
      '--iss',
      'ops',
      '--claims',
      '{"isb":{"stores":{"ui_prefs":"write"}}}',
    ]);
    expect(t.stderr).toEqual([]);
    expect(t.code).toBe(0);
    expect(t.stdout).toHaveLength(1);
    const jwt = t.stdout[0]!;
    const policy = policyOf({
      keys: [{ kid: 'k1', alg: 'HS256', secret }],
      audience: 'isobroker',
      issuer: 'ops',
    });
    const p = await accept(policy, { kind: 'bearer', value: jwt });
    expect(p).toMatchObject({ sub: 'alice', roles: ['dashboard'], method: 'token' });
    expect(p.credentialId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(p.expiresAt! - before).toBeGreaterThan(899_000 - 1000);
    expect(p.expiresAt! - Date.now()).toBeLessThanOrEqual(900_000);
    expect(p.storeAccess('ui_prefs')).toBe('write');
    expect(p.subscribe.allows('demo/x')).toBe(true);

    // A token over the role's maximum lifetime (1 h) is refused by the hub.
    const long = await token([
      '--key-file',
      keyFile,
      '--kid',
      'k1',
      '--sub',
      'alice',
      '--role',
      'dashboard',
      '--ttl',
      '2h',
      '--aud',
      'isobroker',
      '--iss',
      'ops',
    ]);
    await expect(accept(policy, { kind: 'bearer', value: long.stdout[0]! })).rejects.toMatchObject({
      code: 'unauthenticated',
      message: expect.stringMatching(/exceeds the maximum of 3600 s/),
    });
  });

  it('signs EdDSA with a JSON key entry (kid from the file) and ES256 with a PKCS#8 PEM', async () => {
    const dir = tempDir();
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const edFile = join(dir, 'ed.json');
    writeFileSync(edFile, JSON.stringify({ kid: 'ed1', alg: 'EdDSA', jwk: await exportJWK(ed.privateKey) }));
    const es = await generateKeyPair('ES256', { extractable: true });
    const esFile = join(dir, 'es.pem');
    writeFileSync(esFile, await exportPKCS8(es.privateKey));
    const policy = policyOf({
      algorithms: ['EdDSA', 'ES256'],
      keys: [
        { kid: 'ed1', alg: 'EdDSA', jwk: await exportJWK(ed.publicKey) },
        { kid: 'es1', alg: 'ES256', jwk: await exportJWK(es.publicKey) },
      ],
    });

    const a = await token(['--key-file', edFile, '--sub', 'w1', '--role', 'worker', '--node', 'worker-1']);
    expect(a.code).toBe(0);
    const pa = await accept(policy, { kind: 'bearer', value: a.stdout[0]! });
    expect(pa).toMatchObject({ sub: 'w1', roles: ['worker'], node: 'worker-1' });

    const b = await token(['--key-file', esFile, '--alg', 'ES256', '--kid', 'es1', '--sub', 'svc', '--role', 'ingest']);
    expect(b.code).toBe(0);
    expect((await accept(policy, { kind: 'bearer', value: b.stdout[0]! })).sub).toBe('svc');
  });

  it('--new-api-key prints a key and the policy entry that makes it work', async () => {
    const r = await token(['--new-api-key', '--sub', 'ingest', '--role', 'ingest']);
    expect(r.code).toBe(0);
    expect(r.stdout).toHaveLength(2);
    const [key, line] = r.stdout as [string, string];
    expect(key).toMatch(/^isbk_[A-Za-z0-9_-]{43}$/);
    const entry = JSON.parse(line) as { id: string; hash: string };
    expect(entry).toMatchObject({
      sub: 'ingest',
      roles: ['ingest'],
      hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(line).not.toContain(key.slice(5));
    const policy = policyOf({ apiKeys: [entry] });
    const p = await accept(policy, { kind: 'api_key', value: key });
    expect(p).toMatchObject({ sub: 'ingest', method: 'api_key', credentialId: entry.id });
  });

  it('usage errors exit 2 with one line on stderr, nothing on stdout, and never the key', async () => {
    const dir = tempDir();
    const short = 'c2hvcnQtc2VjcmV0';
    writeFileSync(join(dir, 'short.secret'), short);
    const good = join(dir, 'good.secret');
    const secret = 'A'.repeat(43);
    writeFileSync(good, secret);
    const cases: [string[], RegExp][] = [
      [['--sub', 'x'], /--key-file: required/],
      [['--key-file', good], /--sub: required/],
      [['--key-file', good, '--sub', 'x'], /--kid: required .*names no kid/],
      [['--key-file', join(dir, 'missing'), '--kid', 'k', '--sub', 'x'], /--key-file: cannot read .*ENOENT/],
      [['--key-file', join(dir, 'short.secret'), '--kid', 'k', '--sub', 'x'], /at least 32 bytes, got 12/],
      [['--key-file', good, '--kid', 'k', '--sub', 'x', '--ttl', '5y'], /--ttl: expected a duration/],
      [['--key-file', good, '--kid', 'k', '--sub', 'x', '--ttl', '0'], /--ttl: expected a duration/],
      [
        ['--key-file', good, '--kid', 'k', '--sub', 'x', '--claims', '{"sub":"root"}'],
        /"sub" is set by its own option/,
      ],
      [['--key-file', good, '--kid', 'k', '--sub', 'x', '--claims', '[1]'], /--claims: expected a JSON object/],
      [['--key-file', good, '--kid', 'k', '--sub', 'x', '--alg', 'none'], /--alg: expected HS256 or/],
      [['--key-file', good, '--kid', 'k', '--sub', 'x', '--alg', 'EdDSA'], /a secret signs only HS256/],
      [['--new-secret', '--alg', 'EdDSA'], /--new-secret makes HMAC secrets/],
      [['--new-secret', '--new-api-key'], /exclude each other/],
      [['--new-api-key', '--key-file', good], /--key-file does not go with --new-api-key/],
    ];
    for (const [args, re] of cases) {
      const r = await token(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toEqual([]);
      expect(r.stderr, args.join(' ')).toHaveLength(1);
      expect(r.stderr[0]).toMatch(/^isobroker token: /);
      expect(r.stderr[0]).toMatch(re);
      expect(r.stderr[0]).not.toContain(short);
      expect(r.stderr[0]).not.toContain(secret);
    }
  });

  it('--help prints the usage and exits 0; the command list names token', async () => {
    const r = await token(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout[0]).toMatch(/^usage: isobroker token --key-file FILE/);
    const top = spawnCli(['--help']);
    expect(await top.exited).toBe(0);
    expect(top.stdout.some((l) => /^ {2}token {4}mint a signed token/.test(l))).toBe(true);
  });
});
