/**
 * `isobroker hub --policy`: a real hub child process (`npm run build` first) with a policy file,
 * tokens minted by `isobroker token`, and endpoints of this process as clients. A client without
 * a token is refused; a token is accepted and held to its grant; an invalid policy stops the
 * start with every error; a SIGHUP reload revoking a subject closes its live connection within
 * 1 s; an invalid reload keeps the last good policy; the audit log holds no token.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { string, type Message } from 'isobroker';
import { spawnCli, startHub } from '../support/processes.js';
import { authDir, cliTest, until } from './hub-auth-support.js';

const { cleanup, client } = cliTest();

const READER = {
  publish: { allow: ['demo/'] },
  subscribe: { allow: ['demo/'] },
};
const OBSERVER = { subscribe: { allow: ['demo/', 'other/'] } };

describe('hub --policy', () => {
  it('refuses a client without a token, accepts one from `isobroker token` and holds it to its grant', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: { reader: READER, observer: OBSERVER } });
    const audit = join(auth.dir, 'audit.jsonl');
    const { cli, url } = await startHub(['--policy', policy, '--audit-log', audit, '--quiet']);
    expect(cli.stdout.find((l) => l.includes(' ready: '))).toContain(`; auth: policy ${policy}`);

    const anon = client('anon');
    await expect(anon.ep.peer(url, { retry: 0 })).rejects.toThrow();
    expect(anon.codes).toContain('unauthenticated');

    const readerToken = auth.token('alice', ['reader']);
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: readerToken });
    const obs = client('observer');
    await obs.ep.peer(url, { retry: 0, token: auth.token('olga', ['observer']) });
    const seen: Message[] = [];
    obs.ep.subscribe('demo/', (m) => seen.push(m));
    obs.ep.subscribe('other/', (m) => seen.push(m));
    await alice.ep.whenRoutable('demo/x');

    // Outside the grant: refused (forbidden), and the observer gets no copy.
    alice.ep.publish('other/x', string('not allowed'));
    alice.ep.publish('demo/x', string('allowed'));
    await until(() => seen.length >= 1, 5000, 'the allowed message');
    await until(() => alice.codes.includes('forbidden'), 5000, 'forbidden for other/x');
    // A subscription outside the grant is refused too.
    alice.ep.subscribe('secret/', () => undefined);
    await until(() => alice.codes.filter((c) => c === 'forbidden').length >= 2, 5000, 'forbidden for secret/');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((m) => m.topic)).toEqual(['demo/x']);

    expect(await cli.kill('SIGTERM')).toBe(0);
    const lines = readFileSync(audit, 'utf8').trim().split('\n');
    const kinds = lines.map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toContain('auth_failed');
    expect(kinds).toContain('auth_ok');
    expect(kinds).toContain('publish_denied');
    // Never a token in the audit log or on stderr.
    expect(readFileSync(audit, 'utf8')).not.toContain(readerToken.split('.')[2]);
    expect(cli.stderr.join('\n')).not.toContain(readerToken.split('.')[2]);
  }, 30_000);

  it('exits 1 at start with every error of an invalid policy, before it listens', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({
      roles: { a: { publish: { allow: [5] }, bogus: true }, b: { stores: { x: 'owner' } } },
      anonymous: 'nobody',
      extra: 1,
    });
    const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', '--policy', policy]);
    expect(await cli.exited).toBe(1);
    expect(cli.stdout).toEqual([]);
    const err = cli.stderr.join('\n');
    expect(err).toMatch(/invalid policy \(\d+ errors\):/);
    for (const path of ['$.extra', '$.roles.a.publish.allow[0]', '$.roles.a.bogus', '$.roles.b.stores.x'])
      expect(err).toContain(`  ${path}: `);
    // Every error on a line of its own.
    const listed = cli.stderr.filter((l) => /^isobroker hub: {3}\$/.test(l));
    expect(listed.length).toBe(Number(/invalid policy \((\d+) errors\)/.exec(err)![1]));
  }, 15_000);

  it('a SIGHUP reload that revokes a subject closes its live connection within 1 s; others stay', async () => {
    const auth = authDir(cleanup);
    const roles = { roles: { reader: READER } };
    const policy = auth.writePolicy(roles);
    const audit = join(auth.dir, 'audit.jsonl');
    const { cli, url } = await startHub(['--policy', policy, '--audit-log', audit, '--quiet']);
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: auth.token('alice', ['reader']) });
    const bob = client('bob');
    await bob.ep.peer(url, { retry: 0, token: auth.token('bob', ['reader']) });
    let aliceLost = 0;
    alice.ep.on('status', (s) => {
      if (s.code === 'peer_lost' && aliceLost === 0) aliceLost = Date.now();
    });
    let bobLost = false;
    bob.ep.on('status', (s) => {
      if (s.code === 'peer_lost') bobLost = true;
    });

    // Her tokens issued before a minute from now are revoked.
    auth.writePolicy({ ...roles, revocations: { subjects: { alice: new Date(Date.now() + 60_000).toISOString() } } });
    const hup = Date.now();
    cli.proc.kill('SIGHUP');
    await until(() => aliceLost > 0, 3000, "alice's connection to close");
    expect(aliceLost - hup).toBeLessThan(1000);
    expect(alice.codes).toContain('revoked');
    // Bob keeps his connection and his grant: what he publishes reaches a new reader.
    const carol = client('carol');
    await carol.ep.peer(url, { retry: 0, token: auth.token('carol', ['reader']) });
    const got: Message[] = [];
    carol.ep.subscribe('demo/bob', (m) => got.push(m));
    await bob.ep.whenRoutable('demo/bob');
    bob.ep.publish('demo/bob', string('still here'));
    await until(() => got.length === 1, 5000, "bob's message");
    expect(bobLost).toBe(false);
    // A new token for alice, issued before the revocation instant, is refused.
    const again = client('alice-again');
    await expect(again.ep.peer(url, { retry: 0, token: auth.token('alice', ['reader']) })).rejects.toThrow();
    expect(again.codes).toContain('revoked');

    expect(await cli.kill('SIGTERM')).toBe(0);
    const kinds = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toContain('policy_reloaded');
    expect(kinds).toContain('auth_revoked');
  }, 30_000);

  it('a change of the policy file alone reloads it; SIGHUP reopens the audit log after rotation', async () => {
    const auth = authDir(cleanup);
    const roles = { roles: { reader: READER } };
    const policy = auth.writePolicy(roles);
    const audit = join(auth.dir, 'audit.jsonl');
    const { cli, url } = await startHub(['--policy', policy, '--audit-log', audit, '--quiet']);
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: auth.token('alice', ['reader']) });
    let lost = 0;
    alice.ep.on('status', (s) => {
      if (s.code === 'peer_lost' && lost === 0) lost = Date.now();
    });

    // Rotation: once alice's events are on disk (the log writes in the background) the file is
    // moved away, and SIGHUP makes the hub write a new one.
    await until(
      () => existsSync(audit) && readFileSync(audit, 'utf8').includes('"kind":"auth_ok","sub":"alice"'),
      5000,
      "alice's auth_ok in the audit log",
    );
    renameSync(audit, `${audit}.1`);
    cli.proc.kill('SIGHUP');
    await until(() => existsSync(audit), 5000, 'a new audit log after SIGHUP');
    const bob = client('bob');
    await bob.ep.peer(url, { retry: 0, token: auth.token('bob', ['reader']) });

    // No signal: the hub sees the file change and revokes alice's token by its subject.
    auth.writePolicy({ ...roles, revocations: { subjects: { alice: new Date(Date.now() + 60_000).toISOString() } } });
    const written = Date.now();
    await until(() => lost > 0, 5000, "alice's connection to close");
    expect(lost - written).toBeLessThan(2000);
    expect(alice.codes).toContain('revoked');

    expect(await cli.kill('SIGTERM')).toBe(0);
    const events = (file: string): { kind: string; sub?: string }[] =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; sub?: string });
    const before = events(`${audit}.1`);
    const after = events(audit);
    expect(before.some((e) => e.kind === 'auth_ok' && e.sub === 'alice')).toBe(true);
    expect(before.some((e) => e.sub === 'bob')).toBe(false);
    expect(after.some((e) => e.kind === 'auth_ok' && e.sub === 'bob')).toBe(true);
    expect(after.some((e) => e.kind === 'auth_revoked' && e.sub === 'alice')).toBe(true);
    expect(after.filter((e) => e.kind === 'policy_reloaded').length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('an invalid policy on reload keeps the last good one, says why on stderr and in the audit log', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: { reader: READER } });
    const audit = join(auth.dir, 'audit.jsonl');
    const { cli, url } = await startHub(['--policy', policy, '--audit-log', audit, '--quiet']);
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: auth.token('alice', ['reader']) });
    let lost = false;
    alice.ep.on('status', (s) => {
      if (s.code === 'peer_lost') lost = true;
    });

    // A broken file (a role that grants with a bad permission, and no role "reader" any more).
    auth.writePolicy({ roles: { writer: { stores: { x: 'everything' } } }, anonymous: 'writer' });
    cli.proc.kill('SIGHUP');
    await until(
      () => cli.stderr.some((l) => l.includes('policy reload failed; the last good policy stays in force')),
      5000,
      'the reload failure on stderr',
    );
    await until(() => cli.stderr.some((l) => l.includes('$.roles.writer.stores.x')), 5000, 'the error on stderr');
    // The old policy still rules: alice stays connected, a new reader token is accepted,
    // a client without a token is still refused (the broken file's anonymous role is not used).
    const bob = client('bob');
    await bob.ep.peer(url, { retry: 0, token: auth.token('bob', ['reader']) });
    const anon = client('anon');
    await expect(anon.ep.peer(url, { retry: 0 })).rejects.toThrow();
    expect(anon.codes).toContain('unauthenticated');
    expect(lost).toBe(false);

    expect(await cli.kill('SIGTERM')).toBe(0);
    const events = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; detail?: string });
    const failed = events.filter((e) => e.kind === 'policy_failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const f of failed) expect(f.detail).toContain('$.roles.writer.stores.x');
  }, 30_000);
  it("the README's policy example runs through the hub as written, without warnings", async () => {
    const auth = authDir(cleanup);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- policy example[^>]*-->\s*```json\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README has the policy example').not.toBeNull();
    const example = JSON.parse(m![1]!) as { keys: { secretFile: string }[] };
    // Its key reads the secret from hub-secret.txt, next to the policy.
    copyFileSync(auth.secretFile, join(auth.dir, example.keys[0]!.secretFile));
    const policy = join(auth.dir, 'readme-policy.json');
    writeFileSync(policy, m![1]!);
    const { cli, url } = await startHub(['--policy', policy]);
    expect(cli.stderr.filter((l) => /warning|error/i.test(l))).toEqual([]);
    // A token of its dashboard role is accepted …
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: auth.token('alice', ['dashboard']) });
    // Its anonymous role (viewer) lets a client in without a token.
    const anon = client('anon');
    await anon.ep.peer(url, { retry: 0 });
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 30_000);

  it('--cookie-name takes the token from a cookie sent by an --origin page only', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: { reader: READER } });
    const { cli, port } = await startHub([
      '--policy',
      policy,
      '--cookie-name',
      'isb_token',
      '--origin',
      'https://dash.example.test',
      '--quiet',
    ]);
    const token = auth.token('alice', ['reader']);
    /** Opens a JSON v1 connection from a page of `origin`; its first answer (`ack`, `error`) or the HTTP refusal. */
    const open = (origin: string, cookie: string): Promise<string> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/messages/json`, { headers: { origin, cookie } });
        ws.on('open', () => ws.send('[]'));
        ws.on('message', (m) => {
          resolve((JSON.parse(String(m)) as { type: string; code?: string }).code ?? 'ack');
          ws.close();
        });
        ws.on('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
        ws.on('error', () => resolve('error'));
      });
    expect(await open('https://dash.example.test', `other=1; isb_token=${token}`)).toBe('ack');
    // The same page without the cookie is refused (no anonymous role) …
    expect(await open('https://dash.example.test', 'other=1')).not.toBe('ack');
    // … and a look-alike origin never gets to present it.
    expect(await open('https://dash.example.test.evil.test', `isb_token=${token}`)).toBe('HTTP 403');
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 30_000);
});
