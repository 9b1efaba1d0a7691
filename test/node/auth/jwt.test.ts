/**
 * Token verification (src/node/auth/jwt.ts) against the attacks the issue lists: a flipped
 * signature bit, `alg: none`, algorithm confusion (HS256 "signed" with a public key's bytes),
 * an unknown `kid`, expiry and not-before just inside and just outside the 30 s tolerance, wrong
 * audience and issuer, missing claims, oversize tokens, and two keys overlapping during rotation.
 * Every refusal is an AuthError whose message does not quote the token.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../../src/auth/types.js';
import {
  MAX_TOKEN_BYTES,
  checkPolicyKeys,
  verifyToken,
  type TokenKey,
  type TokenPolicy,
} from '../../../src/node/auth/jwt.js';

const NOW = Date.UTC(2026, 11, 2, 8, 0, 0);
const sec = (ms: number): number => Math.floor(ms / 1000);

const secretA = randomBytes(32);
const secretB = randomBytes(32);
const keyA: TokenKey = { kid: 'a', alg: 'HS256', secret: secretA.toString('base64url') };
const keyB: TokenKey = { kid: 'b', alg: 'HS256', secret: secretB.toString('base64url') };

function policy(extra: Partial<TokenPolicy> = {}): TokenPolicy {
  return { keys: [keyA, keyB], algorithms: ['HS256'], clockToleranceSeconds: 30, ...extra };
}

async function hs256(
  secret: Uint8Array,
  claims: JWTPayload = {},
  header: Record<string, unknown> = { alg: 'HS256', kid: 'a' },
): Promise<string> {
  const base: JWTPayload = { sub: 'alice', iat: sec(NOW), exp: sec(NOW) + 900, ...claims };
  for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
  return new SignJWT(base).setProtectedHeader(header as never).sign(secret);
}

/** Expects `verifyToken` to refuse with `code` and a message matching `re` that never quotes the token. */
async function refused(token: string, p: TokenPolicy, code: string, re: RegExp, now = NOW): Promise<void> {
  const err = await verifyToken(token, p, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the token was accepted').toBeInstanceOf(AuthError);
  const e = err as AuthError;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(re);
  for (const part of token.split('.')) if (part.length >= 8) expect(e.message).not.toContain(part);
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('verifyToken', () => {
  it('accepts a good HS256 token and returns its claims', async () => {
    const payload = await verifyToken(await hs256(secretA, { isb: { roles: ['dashboard'] } }), policy(), NOW);
    expect(payload.sub).toBe('alice');
    expect(payload.isb).toEqual({ roles: ['dashboard'] });
  });

  it('refuses a token with one flipped signature bit, for every bit of the first signature byte', async () => {
    const token = await hs256(secretA);
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    for (const bit of [0, 1, 2, 3, 4, 5, 6, 7, 8 * 31 + 7]) {
      const flipped = Buffer.from(sig);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      await refused(`${h}.${p}.${flipped.toString('base64url')}`, policy(), 'unauthenticated', /signature/);
    }
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const token = await hs256(secretA);
    const [h, , s] = token.split('.');
    const forged = b64({ sub: 'root', iat: sec(NOW), exp: sec(NOW) + 900 });
    await refused(`${h}.${forged}.${s}`, policy(), 'unauthenticated', /signature/);
  });

  it('refuses alg "none" (any case), with and without a signature part', async () => {
    const claims = b64({ sub: 'alice', exp: sec(NOW) + 900 });
    for (const alg of ['none', 'None', 'NONE']) {
      await refused(`${b64({ alg, kid: 'a' })}.${claims}.`, policy(), 'unauthenticated', /none/);
      await refused(`${b64({ alg, kid: 'a' })}.${claims}.AAAA`, policy(), 'unauthenticated', /none/);
    }
    // Even a policy that lists "none" does not make it acceptable.
    await refused(
      `${b64({ alg: 'none', kid: 'a' })}.${claims}.`,
      policy({ algorithms: ['HS256', 'none'] }),
      'unauthenticated',
      /none/,
    );
  });

  it('refuses algorithm confusion: HS256 signed with an EdDSA public key as the secret', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const jwk = await exportJWK(publicKey);
    for (const ed of [
      { kid: 'ed', alg: 'EdDSA', publicKeyPem: pem },
      { kid: 'ed', alg: 'EdDSA', jwk },
    ] as TokenKey[]) {
      const p = policy({ keys: [keyA, ed], algorithms: ['HS256', 'EdDSA'] });
      // The genuine EdDSA token is accepted …
      const good = await new SignJWT({ sub: 'alice', exp: sec(NOW) + 60 })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'ed' })
        .sign(privateKey);
      expect((await verifyToken(good, p, NOW)).sub).toBe('alice');
      // … the confused ones are not: the PEM text, the raw key, the JWK's x as HMAC secrets.
      const raw = Buffer.from(jwk.x!, 'base64url');
      for (const secret of [Buffer.from(pem), Buffer.from(`${pem}\n`), raw, Buffer.from(JSON.stringify(jwk))]) {
        const forged = await hs256(secret, { sub: 'mallory' }, { alg: 'HS256', kid: 'ed' });
        await refused(forged, p, 'unauthenticated', /algorithm "HS256" is not accepted for key "ed"/);
      }
    }
  });

  it('refuses an unknown kid, a missing kid, and a kid of the wrong key', async () => {
    await refused(await hs256(secretA, {}, { alg: 'HS256', kid: 'zzz' }), policy(), 'unauthenticated', /key id "zzz"/);
    await refused(await hs256(secretA, {}, { alg: 'HS256' }), policy(), 'unauthenticated', /no kid/);
    await refused(await hs256(secretA, {}, { alg: 'HS256', kid: 'b' }), policy(), 'unauthenticated', /signature/);
  });

  it('accepts both keys while they overlap during rotation, and only the remaining one afterwards', async () => {
    const old = await hs256(secretA, {}, { alg: 'HS256', kid: 'a' });
    const fresh = await hs256(secretB, {}, { alg: 'HS256', kid: 'b' });
    const both = policy();
    expect((await verifyToken(old, both, NOW)).sub).toBe('alice');
    expect((await verifyToken(fresh, both, NOW)).sub).toBe('alice');
    const rotated = policy({ keys: [keyB] });
    await refused(old, rotated, 'unauthenticated', /key id "a"/);
    expect((await verifyToken(fresh, rotated, NOW)).sub).toBe('alice');
  });

  it('expiry: accepted until 30 s after exp, token_expired from then on', async () => {
    const exp = sec(NOW) - 60;
    const token = await hs256(secretA, { iat: exp - 300, exp });
    expect((await verifyToken(token, policy(), (exp + 29) * 1000)).sub).toBe('alice');
    expect((await verifyToken(token, policy(), (exp + 29) * 1000 + 999)).sub).toBe('alice');
    await refused(token, policy(), 'token_expired', /expired 30 s ago/, (exp + 30) * 1000);
    await refused(token, policy(), 'token_expired', /expired 31 s ago/, (exp + 31) * 1000);
    await refused(token, policy(), 'token_expired', /expired/, (exp + 3600) * 1000);
    // A policy with a smaller tolerance uses it.
    await refused(token, policy({ clockToleranceSeconds: 5 }), 'token_expired', /expired/, (exp + 6) * 1000);
  });

  it('not-before: accepted from 30 s before nbf, refused earlier', async () => {
    const nbf = sec(NOW) + 100;
    const token = await hs256(secretA, { nbf, exp: nbf + 900 });
    expect((await verifyToken(token, policy(), (nbf - 29) * 1000)).sub).toBe('alice');
    expect((await verifyToken(token, policy(), (nbf - 30) * 1000)).sub).toBe('alice');
    await refused(token, policy(), 'unauthenticated', /not valid yet/, (nbf - 31) * 1000);
  });

  it('requires exp and sub, of the right types', async () => {
    await refused(await hs256(secretA, { exp: undefined }), policy(), 'unauthenticated', /"exp"/);
    await refused(await hs256(secretA, { sub: undefined }), policy(), 'unauthenticated', /"sub"/);
    await refused(await hs256(secretA, { exp: 'tomorrow' as never }), policy(), 'unauthenticated', /"exp"/);
    await refused(await hs256(secretA, { sub: 42 as never }), policy(), 'unauthenticated', /"sub"/);
    await refused(await hs256(secretA, { sub: '' }), policy(), 'unauthenticated', /"sub"/);
  });

  it('checks issuer and audience when the policy names them', async () => {
    const p = policy({ issuer: 'https://idp.example', audience: 'isobroker' });
    const good = await hs256(secretA, { iss: 'https://idp.example', aud: ['other', 'isobroker'] });
    expect((await verifyToken(good, p, NOW)).sub).toBe('alice');
    await refused(
      await hs256(secretA, { iss: 'https://evil.example', aud: 'isobroker' }),
      p,
      'unauthenticated',
      /issuer/,
    );
    await refused(await hs256(secretA, { iss: 'https://idp.example', aud: 'other' }), p, 'unauthenticated', /audience/);
    await refused(await hs256(secretA, { aud: 'isobroker' }), p, 'unauthenticated', /"iss"/);
    await refused(await hs256(secretA, { iss: 'https://idp.example' }), p, 'unauthenticated', /"aud"/);
    // Without them in the policy, any issuer and audience pass.
    expect((await verifyToken(await hs256(secretA, { iss: 'x', aud: 'y' }), policy(), NOW)).sub).toBe('alice');
  });

  it("refuses an algorithm other than the key's own, or one the policy does not list", async () => {
    const hs512 = await new SignJWT({ sub: 'alice', exp: sec(NOW) + 60 })
      .setProtectedHeader({ alg: 'HS512', kid: 'a' })
      .sign(Buffer.concat([secretA, secretA]));
    await refused(hs512, policy({ algorithms: ['HS256', 'HS512'] }), 'unauthenticated', /"HS512" is not accepted/);
    await refused(await hs256(secretA), policy({ algorithms: ['EdDSA'] }), 'unauthenticated', /not accepted/);
  });

  it('accepts ES256 with a public JWK, and refuses it signed by another key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const other = await generateKeyPair('ES256');
    const p = policy({ keys: [{ kid: 'es', alg: 'ES256', jwk: await exportJWK(publicKey) }], algorithms: ['ES256'] });
    const sign = (k: CryptoKey) =>
      new SignJWT({ sub: 'svc', exp: sec(NOW) + 60 }).setProtectedHeader({ alg: 'ES256', kid: 'es' }).sign(k);
    expect((await verifyToken(await sign(privateKey), p, NOW)).sub).toBe('svc');
    await refused(await sign(other.privateKey), p, 'unauthenticated', /signature/);
  });

  it('refuses oversize and malformed input before parsing', async () => {
    const big = await hs256(secretA, { pad: 'x'.repeat(MAX_TOKEN_BYTES) });
    await refused(big, policy(), 'unauthenticated', /larger than 8192 bytes/);
    for (const junk of ['', 'abc', 'a.b', 'a.b.c.d', 'a b.c.d', '..', `${b64({ alg: 'HS256' })}.%%.x`]) {
      await refused(junk, policy(), 'unauthenticated', /./);
    }
    await refused(`${Buffer.from('{not json').toString('base64url')}.e30.AAAA`, policy(), 'unauthenticated', /header/);
    const claimsNotObject = `${b64({ alg: 'HS256', kid: 'a' })}.${Buffer.from('[1,2]').toString('base64url')}`;
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', secretA).update(claimsNotObject).digest('base64url');
    await refused(`${claimsNotObject}.${sig}`, policy(), 'unauthenticated', /claims/);
  });

  it('refuses tokens for a key the policy cannot use, saying why', async () => {
    const short: TokenKey = { kid: 's', alg: 'HS256', secret: randomBytes(16).toString('base64url') };
    const p = policy({ keys: [short] });
    await refused(
      await hs256(randomBytes(16), {}, { alg: 'HS256', kid: 's' }),
      p,
      'unauthenticated',
      /at least 32 bytes/,
    );
  });
});

describe('checkPolicyKeys', () => {
  it('reports every unusable key and duplicate kids, and nothing for good keys', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    expect(await checkPolicyKeys(policy())).toEqual([]);
    expect(
      await checkPolicyKeys({ keys: [{ kid: 'e', alg: 'EdDSA', publicKeyPem: await exportSPKI(publicKey) }] }),
    ).toEqual([]);
    const problems = await checkPolicyKeys({
      keys: [
        { kid: 'short', alg: 'HS256', secret: 'c2hvcnQ' },
        { kid: 'notb64', alg: 'HS256', secret: `${'a'.repeat(43)}!` },
        { kid: 'private', alg: 'EdDSA', jwk: await exportJWK(privateKey) },
        { kid: 'mismatch', alg: 'HS256', publicKeyPem: await exportSPKI(publicKey) },
        { kid: 'secret-for-ed', alg: 'EdDSA', secret: randomBytes(32).toString('base64url') },
        { kid: 'none', alg: 'none', secret: randomBytes(32).toString('base64url') },
        { kid: 'two', alg: 'HS256', secret: randomBytes(32).toString('base64url'), publicKeyPem: 'x' },
        {
          kid: 'garbage-pem',
          alg: 'EdDSA',
          publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
        },
        keyA,
        keyA,
      ],
    });
    expect(problems.map((m) => /^key "([^"]+)"/.exec(m)?.[1])).toEqual([
      'short',
      'notb64',
      'private',
      'mismatch',
      'secret-for-ed',
      'none',
      'two',
      'garbage-pem',
      'a',
    ]);
    expect(problems.at(-1)).toMatch(/duplicate kid/);
  });
});
