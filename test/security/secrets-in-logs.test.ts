/**
 * No secret reaches a log: a real `isobroker hub --policy --audit-log` child is driven through
 * every way of authenticating with known secret strings — a good JWT (native hello, JSON v1
 * `Authorization`), one with a flipped signature, an expired one, an `isbk_` API key (good and
 * wrong), a cookie from an allowed origin, a bearer subprotocol, forbidden publishes whose bodies
 * hold a unique marker, a revocation by SIGHUP and an invalid reload of a policy file that holds
 * the HS256 secret inline — then its audit log, stdout, stderr and every other file in its folder
 * are searched for those strings. They must hold none of them, and must hold the audit kinds the
 * run produced (so the search is over real output). `isobroker token` usage errors with a key file
 * are searched the same way.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { string } from 'isobroker';
import { startHub } from '../support/processes.js';
import { BIN, cliTest, isobroker, tempDir, until } from '../cli/hub-auth-support.js';

const { cleanup, client } = cliTest();

const ORIGIN = 'https://dash.example.test';
const READER = { publish: { allow: ['demo/'] }, subscribe: { allow: ['demo/'] } };

/** Every printable form of `secret` worth searching for: its base64url text, and its bytes when they read as text. */
function secretForms(b64: string): string[] {
  const forms = [b64, b64.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/'))];
  const bytes = Buffer.from(b64, 'base64url');
  forms.push(bytes.toString('hex'));
  const latin = bytes.toString('latin1');
  // The decoded bytes, where a run of 8+ printable characters could show up in a text log.
  for (const m of latin.matchAll(/[\x20-\x7e]{8,}/g)) forms.push(m[0]);
  return forms;
}

/** Asserts that `text` (named `where`) contains none of `secrets` (named keys, for the message). */
function expectNone(where: string, text: string, secrets: Record<string, string>): void {
  for (const [name, value] of Object.entries(secrets)) {
    expect(text.includes(value), `${where} contains ${name}`).toBe(false);
  }
}

/** A JSON v1 connection's first answer: `ack`, an error code, `HTTP <status>` or `close <code>`. */
function jsonFirst(
  port: number,
  opts: { headers?: Record<string, string>; protocols?: string[]; publish?: { topic: string; body: string } },
): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/messages/json`, opts.protocols ?? [], {
      headers: opts.headers ?? {},
      perMessageDeflate: false,
    });
    let answered = false;
    const done = (s: string): void => {
      if (answered) return;
      answered = true;
      if (s === 'ack' && opts.publish) {
        // A forbidden publish: the hub answers with an error naming the topic, never the body.
        ws.send(
          JSON.stringify({
            type: 'data-message',
            topic: opts.publish.topic,
            '@data-type': 'string',
            data: opts.publish.body,
          }),
        );
        ws.once('message', () => {
          ws.close();
          resolve(s);
        });
        return;
      }
      ws.close();
      resolve(s);
    };
    ws.on('open', () => ws.send('[]'));
    ws.on('message', (m) => done((JSON.parse(String(m)) as { type: string; code?: string }).code ?? 'ack'));
    ws.on('unexpected-response', (_req, res) => done(`HTTP ${res.statusCode}`));
    ws.on('close', (code) => done(`close ${code}`));
    ws.on('error', () => done('error'));
  });
}

describe('secrets never reach the hub logs', () => {
  it('tokens, API keys, cookies, the HS256 secret and message bodies stay out of audit log, stdout, stderr and files', async () => {
    const dir = tempDir(cleanup, 'secrets');
    const secret = randomBytes(32);
    const SECRET = secret.toString('base64url');
    const [apiKey, apiEntryLine] = isobroker(['token', '--new-api-key', '--sub', 'svc', '--role', 'reader'])
      .trim()
      .split('\n') as [string, string];
    const wrongKey = `isbk_${randomBytes(32).toString('base64url')}`;
    const policyFile = join(dir, 'policy.json');
    let n = 0;
    const writePolicy = (body: Record<string, unknown>): void => {
      const tmp = join(dir, `.policy.${n++}.tmp`);
      writeFileSync(tmp, JSON.stringify(body, null, 1));
      renameSync(tmp, policyFile);
    };
    const base = {
      version: 1,
      keys: [{ kid: 'k1', alg: 'HS256', secret: SECRET }],
      roles: { reader: READER, observer: { subscribe: { allow: ['other/'] } } },
      apiKeys: [JSON.parse(apiEntryLine)],
    };
    writePolicy(base);
    const mint = (sub: string, ttl: number, iatShift = 0, roles = ['reader']): Promise<string> => {
      const now = Math.floor(Date.now() / 1000) + iatShift;
      return new SignJWT({ sub, iat: now, exp: now + ttl, jti: randomBytes(12).toString('base64url'), isb: { roles } })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT' })
        .sign(secret);
    };
    const good = await mint('alice', 900);
    const jsonGood = await mint('jason', 900);
    const cookieTok = await mint('cookie-user', 900);
    const subprotoTok = await mint('subproto-user', 900);
    const expired = await mint('old', 60, -3600);
    const forged = await mint('mallory', 900);
    const [h, p, s] = forged.split('.') as [string, string, string];
    // Flip the first character of the signature (the last one may only carry padding bits).
    const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    const MARK_NATIVE = `marker-native-${randomBytes(8).toString('hex')}`;
    const MARK_JSON = `marker-json-${randomBytes(8).toString('hex')}`;

    const audit = join(dir, 'audit.jsonl');
    const { cli, url, port } = await startHub([
      '--policy',
      policyFile,
      '--audit-log',
      audit,
      '--cookie-name',
      'isb_token',
      '--origin',
      ORIGIN,
    ]);

    // Native hello: good token, flipped signature, expired, good and wrong API key.
    const alice = client('alice');
    await alice.ep.peer(url, { retry: 0, token: good });
    for (const [name, tok] of [
      ['flipped', flipped],
      ['expired', expired],
      ['wrong-key', wrongKey],
    ] as const) {
      const c = client(name);
      await expect(c.ep.peer(url, { retry: 0, token: tok })).rejects.toThrow();
      expect(c.codes.length).toBeGreaterThan(0);
    }
    const svc = client('svc');
    await svc.ep.peer(url, { retry: 0, token: apiKey });

    // JSON v1: Authorization header (good, flipped, API keys), cookie, bearer subprotocol.
    expect(
      await jsonFirst(port, {
        headers: { Authorization: `Bearer ${jsonGood}` },
        publish: { topic: 'secret/x', body: MARK_JSON },
      }),
    ).toBe('ack');
    expect(await jsonFirst(port, { headers: { Authorization: `Bearer ${flipped}` } })).not.toBe('ack');
    expect(await jsonFirst(port, { headers: { Authorization: `Bearer ${expired}` } })).not.toBe('ack');
    expect(await jsonFirst(port, { headers: { Authorization: `ApiKey ${apiKey}` } })).toBe('ack');
    expect(await jsonFirst(port, { headers: { Authorization: `ApiKey ${wrongKey}` } })).not.toBe('ack');
    expect(await jsonFirst(port, { headers: { origin: ORIGIN, cookie: `other=1; isb_token=${cookieTok}` } })).toBe(
      'ack',
    );
    expect(await jsonFirst(port, { protocols: ['isobroker.v1', `bearer.${subprotoTok}`] })).toBe('ack');

    // A forbidden publish from the native client, its body a marker.
    // (An observer subscribed to other/ makes the topic routable, so the SDK sends it.)
    const obs = client('observer');
    await obs.ep.peer(url, { retry: 0, token: await mint('olga', 900, 0, ['observer']) });
    obs.ep.subscribe('other/', () => undefined);
    await alice.ep.whenRoutable('other/x');
    alice.ep.publish('other/x', string(MARK_NATIVE));
    await until(() => alice.codes.includes('forbidden'), 5000, 'forbidden for other/x');

    // Revocation by SIGHUP: alice's connection closes.
    let aliceLost = false;
    alice.ep.on('status', (st) => {
      if (st.code === 'peer_lost') aliceLost = true;
    });
    writePolicy({ ...base, revocations: { subjects: { alice: new Date(Date.now() + 60_000).toISOString() } } });
    cli.proc.kill('SIGHUP');
    await until(() => aliceLost, 5000, "alice's revoked connection to close");

    // An invalid reload of a file holding the secret: malformed secret text, a secret given to
    // a public-key algorithm, and a broken role.
    writePolicy({
      ...base,
      keys: [
        { kid: 'k1', alg: 'HS256', secret: `${SECRET}!` },
        { kid: 'k2', alg: 'ES256', secret: SECRET },
      ],
      roles: { reader: { ...READER, bogus: SECRET } },
    });
    cli.proc.kill('SIGHUP');
    await until(() => cli.stderr.some((l) => l.includes('policy reload failed')), 5000, 'the reload failure on stderr');

    expect(await cli.kill('SIGTERM')).toBe(0);

    const auditText = readFileSync(audit, 'utf8');
    const kinds = new Set(
      auditText
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { kind: string }).kind),
    );
    for (const k of ['auth_ok', 'auth_failed', 'publish_denied', 'auth_revoked', 'policy_reloaded', 'policy_failed'])
      expect(kinds, `audit kinds ${[...kinds].join(',')}`).toContain(k);
    // Every credential shows up as a success or failure (by subject where it has one).
    for (const sub of ['alice', 'jason', 'svc', 'cookie-user', 'subproto-user'])
      expect(auditText).toContain(`"sub":"${sub}"`);
    expect(cli.stderr.join('\n')).toContain('$.keys[0].secret');

    const secrets: Record<string, string> = {};
    for (const [name, tok] of Object.entries({ good, jsonGood, cookieTok, subprotoTok, expired, flipped, forged })) {
      const [th, tp, ts] = tok.split('.') as [string, string, string];
      secrets[name] = tok;
      secrets[`${name} claims`] = tp;
      secrets[`${name} signature`] = ts;
      secrets[`${name} header.claims`] = `${th}.${tp}`;
    }
    secrets['API key'] = apiKey;
    secrets['API key body'] = apiKey.slice('isbk_'.length);
    secrets['wrong API key'] = wrongKey;
    secrets['wrong API key body'] = wrongKey.slice('isbk_'.length);
    secretForms(SECRET).forEach((f, i) => {
      secrets[`HS256 secret form ${i}`] = f;
    });
    secrets['native message body'] = MARK_NATIVE;
    secrets['JSON v1 message body'] = MARK_JSON;

    expectNone('the audit log', auditText, secrets);
    expectNone('stdout', cli.stdout.join('\n'), secrets);
    expectNone('stderr', cli.stderr.join('\n'), secrets);
    // Any other file the hub wrote in its folder (the policy is ours and holds the secret).
    const others = readdirSync(dir).filter((f) => f !== 'policy.json' && !f.startsWith('.policy.'));
    expect(others).toContain('audit.jsonl');
    for (const f of others) expectNone(f, readFileSync(join(dir, f), 'latin1'), secrets);
    console.log(
      `[secrets] audit lines ${auditText.trim().split('\n').length}, kinds ${[...kinds].sort().join(',')}; stderr lines ${cli.stderr.length}; files ${others.join(',')}`,
    );
  }, 60_000);

  it('`isobroker token` usage and key errors never print the key file', () => {
    const dir = tempDir(cleanup, 'secrets-token');
    const SECRET = randomBytes(32).toString('base64url');
    const plain = join(dir, 'secret.txt');
    writeFileSync(plain, `${SECRET}\n`, { mode: 0o600 });
    const badAlg = join(dir, 'bad-alg.json');
    writeFileSync(badAlg, JSON.stringify({ kid: 'k1', alg: 'HS999', secret: SECRET }), { mode: 0o600 });
    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, `not a key ${SECRET} !!\n`, { mode: 0o600 });
    const shortKey = join(dir, 'short.json');
    writeFileSync(shortKey, JSON.stringify({ kid: 'k1', alg: 'HS256', secret: SECRET.slice(0, 20) }), { mode: 0o600 });
    const runs: [string[], number][] = [
      [['--key-file', plain, '--sub', 'x', '--ttl', 'forever'], 2],
      [['--key-file', plain, '--sub', 'x', '--claims', `{"a":`], 2],
      [['--key-file', plain, '--sub', 'x', '--alg', 'HS999'], 2],
      [['--key-file', plain, '--sub', 'x', '--alg', 'ES256'], 0],
      [['--key-file', plain], 2],
      [['--key-file', badAlg, '--sub', 'x'], 0],
      [['--key-file', garbage, '--sub', 'x'], 0],
      [['--key-file', shortKey, '--sub', 'x'], 0],
    ];
    const secrets: Record<string, string> = {};
    secretForms(SECRET).forEach((f, i) => {
      secrets[`secret form ${i}`] = f;
    });
    secrets['short secret'] = SECRET.slice(0, 20);
    for (const [args, want] of runs) {
      const r = spawnSync(process.execPath, [BIN, 'token', ...args], { encoding: 'utf8' });
      const where = `isobroker token ${args.slice(2).join(' ')}`;
      // Each is an error (exit 2 for a usage error; a key the command cannot use is ≥ 1).
      if (want === 2) expect(r.status, `${where}: ${r.stderr}`).toBe(2);
      else expect(r.status, `${where}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr.trim().length, `${where} says why`).toBeGreaterThan(0);
      expect(r.stdout).toBe('');
      expectNone(`${where} stderr`, r.stderr, secrets);
    }
  }, 30_000);
});
