/**
 * The policy file (src/node/auth/policy-file.ts): every error listed at load, secrets never in
 * messages, `secretFile`, and a `PolicyHolder` whose reloads keep the last good policy when the
 * file turns invalid, and whose watch sees an editor's write-and-rename.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Policy } from '../../../src/auth/policy.js';
import { ConfigError } from '../../../src/errors.js';
import {
  PolicyFileError,
  PolicyHolder,
  loadPolicyFile,
  type PolicyReloadResult,
} from '../../../src/node/auth/policy-file.js';

const dirs: string[] = [];
const holders: PolicyHolder[] = [];
afterEach(() => {
  for (const h of holders.splice(0)) h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-policy-'));
  dirs.push(d);
  return d;
}

const secret = randomBytes(32).toString('base64url');
const good = (roles: Record<string, unknown> = { dashboard: { subscribe: { allow: ['demo/'] } } }) => ({
  version: 1,
  keys: [{ kid: 'k1', alg: 'HS256', secret }],
  roles,
});
const write = (path: string, json: unknown): void => writeFileSync(path, JSON.stringify(json, null, 2));

async function thrown(p: Promise<unknown>): Promise<PolicyFileError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PolicyFileError);
  expect(e).toBeInstanceOf(ConfigError);
  return e as PolicyFileError;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('loadPolicyFile', () => {
  it('loads a valid file with its warnings', async () => {
    const path = join(tempDir(), 'policy.json');
    write(path, good({ dashboard: { subscribe: { allow: ['zeek/logs'] } } }));
    const { policy, warnings } = await loadPolicyFile(path);
    expect(policy.keys.map((k) => k.kid)).toEqual(['k1']);
    expect(warnings.join('\n')).toMatch(/zeek\/logs/);
  });

  it('lists every error, one per line, and never a secret', async () => {
    const path = join(tempDir(), 'policy.json');
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    write(path, {
      version: 1,
      keys: [
        { kid: 'k1', alg: 'HS256', secret: 'c2hvcnQ' },
        { kid: 'k2', alg: 'none', secret },
        { kid: 'k3', alg: 'EdDSA', jwk: await exportJWK(privateKey) },
      ],
      roles: { dashboard: { publish: { allow: 'demo/' } } },
      anonymous: 'nobody',
      bogus: true,
    });
    const e = await thrown(loadPolicyFile(path));
    expect(e.errors.length).toBeGreaterThanOrEqual(5);
    for (const what of ['$.keys[0].secret', '$.keys[1].alg', '$.keys[2].jwk', '$.roles.dashboard.publish', '$.bogus']) {
      expect(
        e.errors.some((l) => l.startsWith(what)),
        what,
      ).toBe(true);
    }
    expect(e.message.split('\n').slice(1)).toEqual(e.errors.map((l) => `  ${l}`));
    expect(e.message).not.toContain(secret);
    expect(e.message).not.toContain('c2hvcnQ');
    expect(e.code).toBe('invalid_config');
  });

  it('reports a JSON syntax error by position, without quoting the text', async () => {
    const path = join(tempDir(), 'policy.json');
    writeFileSync(path, `{"version": 1, "keys": [{"kid": "k1", "alg": "HS256", "secret": "${secret}" oops}]}`);
    const e = await thrown(loadPolicyFile(path));
    expect(e.errors).toHaveLength(1);
    expect(e.errors[0]).toMatch(/^\$: not valid JSON( at (line \d+ column \d+|offset \d+))?$/);
    expect(e.message).not.toContain(secret.slice(0, 10));
    expect(e.message).not.toContain('oops');
  });

  it('reports a missing file', async () => {
    const e = await thrown(loadPolicyFile(join(tempDir(), 'nope.json')));
    expect(e.errors[0]).toMatch(/cannot read .*ENOENT/);
  });

  it('reads "secretFile" relative to the policy file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'k1.secret'), `${secret}\n`);
    const path = join(dir, 'policy.json');
    write(path, { ...good(), keys: [{ kid: 'k1', alg: 'HS256', secretFile: 'k1.secret' }] });
    const { policy } = await loadPolicyFile(path);
    const k = policy.keys[0]!;
    expect(k.kind).toBe('secret');
    expect(Buffer.from(k.kind === 'secret' ? k.secret : []).toString('base64url')).toBe(secret);
    write(path, { ...good(), keys: [{ kid: 'k1', alg: 'HS256', secretFile: 'missing.secret' }] });
    expect((await thrown(loadPolicyFile(path))).errors[0]).toMatch(/^\$\.keys\[0\]\.secretFile: cannot read .*ENOENT/);
    write(path, { ...good(), keys: [{ kid: 'k1', alg: 'HS256', secretFile: 'k1.secret', secret }] });
    expect((await thrown(loadPolicyFile(path))).errors[0]).toMatch(/not both/);
  });
});

describe('PolicyHolder', () => {
  it('keeps the last good policy when a reload meets an invalid file, and takes the next valid one', async () => {
    const path = join(tempDir(), 'policy.json');
    write(path, good());
    const holder = await PolicyHolder.open(path);
    holders.push(holder);
    const changes: Policy[] = [];
    const reloads: PolicyReloadResult[] = [];
    holder.onChange((p) => changes.push(p));
    holder.onReload((r) => reloads.push(r));
    const first = holder.current;

    writeFileSync(path, '{"version": 1, "roles": ');
    const bad = await holder.reload();
    expect(bad.ok).toBe(false);
    expect(holder.current).toBe(first);
    write(path, { ...good(), roles: { dashboard: { subscribe: { allow: 42 } } }, bogus: 1 });
    const bad2 = await holder.reload();
    expect(bad2).toMatchObject({ ok: false });
    expect(bad2.ok === false && bad2.errors.length).toBeGreaterThanOrEqual(2);
    expect(holder.current).toBe(first);
    rmSync(path);
    expect((await holder.reload()).ok).toBe(false);
    expect(holder.current).toBe(first);
    expect(changes).toEqual([]);

    write(path, good({ dashboard: { subscribe: { allow: ['other/'] } } }));
    const ok = await holder.reload();
    expect(ok).toMatchObject({ ok: true, changed: true });
    expect(holder.current).not.toBe(first);
    expect(changes).toEqual([holder.current]);
    expect(reloads.map((r) => r.ok)).toEqual([false, false, false, true]);
  });

  it('runs reloads one at a time, the last call seeing the last file', async () => {
    const path = join(tempDir(), 'policy.json');
    write(path, good());
    const holder = await PolicyHolder.open(path);
    holders.push(holder);
    const results = await Promise.all([holder.reload(), holder.reload(), holder.reload()]);
    expect(results.every((r) => r.ok)).toBe(true);
    write(path, good({ late: {} }));
    await holder.reload();
    expect([...holder.current.roles.keys()]).toContain('late');
  });

  it('throws at open when the file is invalid (never an empty or open policy)', async () => {
    const path = join(tempDir(), 'policy.json');
    write(path, { version: 2, roles: {} });
    const e = await thrown(PolicyHolder.open(path));
    expect(e.errors[0]).toMatch(/^\$\.version/);
  });

  it("watch() reloads after an editor's write-and-rename, and reports an invalid save without applying it", async () => {
    const dir = tempDir();
    const path = join(dir, 'policy.json');
    write(path, good());
    const holder = await PolicyHolder.open(path, { debounceMs: 50 });
    holders.push(holder);
    const reloads: PolicyReloadResult[] = [];
    holder.onReload((r) => reloads.push(r));
    holder.watch();
    const first = holder.current;

    // An editor writes a temporary file and renames it over the policy.
    write(join(dir, '.policy.json.swp'), good({ renamed: {} }));
    renameSync(join(dir, '.policy.json.swp'), path);
    await until(() => holder.current.roles.has('renamed'));
    expect(holder.current).not.toBe(first);

    // An invalid save is reported and not applied; the next valid save is.
    const good2 = holder.current;
    writeFileSync(path, '{ broken');
    await until(() => reloads.some((r) => !r.ok));
    expect(holder.current).toBe(good2);
    write(path, good({ again: {} }));
    await until(() => holder.current.roles.has('again'));
  });
});
