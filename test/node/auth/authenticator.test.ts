/**
 * The hub's authenticator (src/node/auth/authenticator.ts) over a real parsed policy: tokens,
 * API keys, anonymous clients, role lifetime maxima, key rotation, and re-checks after reloads
 * (revoked jti, revoked or removed API key, removed signing key).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../../src/auth/policy.js';
import { AuthError, type ConnectionInfo, type Principal } from '../../../src/auth/types.js';
import { generateApiKey, hashApiKey } from '../../../src/node/auth/api-keys.js';
import { createAuthenticator } from '../../../src/node/auth/authenticator.js';
import { PolicyHolder } from '../../../src/node/auth/policy-file.js';

const NOW = Date.UTC(2026, 11, 2, 8, 0, 0);
const sec = (ms: number): number => Math.floor(ms / 1000);
const CONN: ConnectionInfo = { ip: '127.0.0.2', remote: '127.0.0.2:5555', protocol: 'native' };

const s1 = randomBytes(32);
const s2 = randomBytes(32);
const ingestKey = generateApiKey();
const oldKey = generateApiKey();

/** A policy file's JSON; `patch` changes it. */
function policyJson(patch: (j: Record<string, unknown>) => void = () => undefined): Record<string, unknown> {
  const j: Record<string, unknown> = {
    version: 1,
    keys: [
      { kid: 'k1', alg: 'HS256', secret: s1.toString('base64url') },
      { kid: 'k2', alg: 'HS256', secret: s2.toString('base64url') },
    ],
    apiKeys: [
      { id: 'ingest-1', hash: hashApiKey(ingestKey), sub: 'ingest', roles: ['ingest'] },
      { id: 'old-1', hash: hashApiKey(oldKey), sub: 'legacy', roles: ['ingest'] },
    ],
    roles: {
      dashboard: {
        publish: { allow: ['demo/'] },
        subscribe: { allow: ['demo/', 'users/{sub}/'] },
        maxTokenLifetimeSeconds: 900,
      },
      ingest: { publish: { allow: ['ingest/'] } },
      viewer: { subscribe: { allow: ['demo/public/'] } },
    },
    revocations: { apiKeys: ['old-1'] },
  };
  patch(j);
  return j;
}

function policy(patch?: (j: Record<string, unknown>) => void): Policy {
  const r = parsePolicy(policyJson(patch));
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

async function token(
  claims: JWTPayload = {},
  kid = 'k1',
  secret: Uint8Array = kid === 'k2' ? s2 : s1,
): Promise<string> {
  return new SignJWT({
    sub: 'alice',
    iat: sec(NOW),
    exp: sec(NOW) + 600,
    jti: 'jti-1',
    isb: { roles: ['dashboard'] },
    ...claims,
  })
    .setProtectedHeader({ alg: 'HS256', kid })
    .sign(secret);
}

async function failure(p: Promise<unknown>): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'accepted').toBeInstanceOf(AuthError);
  return err as AuthError;
}

const setup = (p = policy()) => {
  const holder = new PolicyHolder(p);
  return { holder, ...createAuthenticator(holder, { now: () => NOW }) };
};

describe('createAuthenticator', () => {
  it("turns a token into its principal, with the role's grants and {sub} substituted", async () => {
    const { authenticate } = setup();
    const p = await authenticate({ kind: 'bearer', value: await token() }, CONN);
    expect(p).toMatchObject({ sub: 'alice', roles: ['dashboard'], method: 'token', credentialId: 'jti-1' });
    expect(p.expiresAt).toBe((sec(NOW) + 600) * 1000);
    expect(p.publish.allows('demo/x')).toBe(true);
    expect(p.publish.allows('ingest/x')).toBe(false);
    expect(p.subscribe.allows('users/alice/inbox')).toBe(true);
    expect(p.subscribe.allows('users/bob/inbox')).toBe(false);
  });

  it('refuses a lifetime above the role maximum, and accepts one at it', async () => {
    const { authenticate } = setup();
    const at = await authenticate({ kind: 'bearer', value: await token({ exp: sec(NOW) + 900 }) }, CONN);
    expect(at.sub).toBe('alice');
    const e = await failure(authenticate({ kind: 'bearer', value: await token({ exp: sec(NOW) + 901 }) }, CONN));
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toMatch(/lifetime of 901 s exceeds the maximum of 900 s set by role "dashboard"/);
  });

  it("refuses bad tokens with the verifier's reasons (signature, kid, expiry, unknown role)", async () => {
    const { authenticate } = setup();
    const t = await token();
    const bad = `${t.slice(0, -4)}${t.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect((await failure(authenticate({ kind: 'bearer', value: bad }, CONN))).message).toMatch(/signature/);
    expect((await failure(authenticate({ kind: 'bearer', value: await token({}, 'k9', s1) }, CONN))).message).toMatch(
      /key id "k9"/,
    );
    const expired = await token({ iat: sec(NOW) - 700, exp: sec(NOW) - 100 });
    expect((await failure(authenticate({ kind: 'bearer', value: expired }, CONN))).code).toBe('token_expired');
    const e = await failure(authenticate({ kind: 'bearer', value: await token({ isb: { roles: ['root'] } }) }, CONN));
    expect(e.code).toBe('forbidden');
  });

  it('accepts both keys during a rotation; a principal whose key is removed is revoked on revalidation', async () => {
    const { holder, authenticate, revalidate } = setup();
    const a = await authenticate({ kind: 'bearer', value: await token({}, 'k1') }, CONN);
    const b = await authenticate({ kind: 'bearer', value: await token({}, 'k2') }, CONN);
    expect(revalidate(a)).toBe(a);
    holder.replace(policy((j) => (j.keys = (j.keys as { kid: string }[]).filter((k) => k.kid !== 'k1'))));
    const ra = revalidate(a);
    expect(ra).toBeInstanceOf(AuthError);
    expect((ra as AuthError).code).toBe('revoked');
    expect((ra as AuthError).message).toMatch(/key "k1"/);
    expect(revalidate(b)).toBe(b);
    // A new token under the removed key is refused outright.
    const e = await failure(authenticate({ kind: 'bearer', value: await token({}, 'k1') }, CONN));
    expect(e.message).toMatch(/key id "k1"/);
    // A key whose secret changed under the same kid revokes too.
    holder.replace(
      policy((j) => {
        j.keys = [{ kid: 'k2', alg: 'HS256', secret: randomBytes(32).toString('base64url') }];
      }),
    );
    expect((revalidate(b) as AuthError).code).toBe('revoked');
  });

  it('revalidation after a reload: a revoked jti is refused; a changed grant gives a new principal', async () => {
    const { holder, authenticate, revalidate } = setup();
    const p = await authenticate({ kind: 'bearer', value: await token() }, CONN);
    holder.replace(
      policy((j) => {
        (j.roles as Record<string, { publish: unknown }>).dashboard!.publish = { allow: ['demo/', 'more/'] };
      }),
    );
    const next = revalidate(p) as Principal;
    expect(next).not.toBeInstanceOf(AuthError);
    expect(next).not.toBe(p);
    expect(next.publish.allows('more/x')).toBe(true);
    holder.replace(policy((j) => (j.revocations = { jti: ['jti-1'] })));
    expect((revalidate(next) as AuthError).code).toBe('revoked');
  });

  it('API keys: right, wrong, revoked, removed, and as a bearer value', async () => {
    const { holder, authenticate, revalidate } = setup();
    const p = await authenticate({ kind: 'api_key', value: ingestKey }, CONN);
    expect(p).toMatchObject({ sub: 'ingest', roles: ['ingest'], method: 'api_key', credentialId: 'ingest-1' });
    expect(p.publish.allows('ingest/x')).toBe(true);
    expect((await authenticate({ kind: 'bearer', value: ingestKey }, CONN)).sub).toBe('ingest');
    const wrong = await failure(authenticate({ kind: 'api_key', value: generateApiKey() }, CONN));
    expect(wrong.code).toBe('unauthenticated');
    expect(wrong.message).toBe('the API key is not known');
    const revoked = await failure(authenticate({ kind: 'api_key', value: oldKey }, CONN));
    expect(revoked.code).toBe('revoked');
    expect(revoked.message).not.toContain(oldKey);
    for (const junk of ['', 'isbk_', 'x'.repeat(10_000), `${ingestKey}x`]) {
      expect((await failure(authenticate({ kind: 'api_key', value: junk }, CONN))).code).toBe('unauthenticated');
    }
    // Removing the key from the policy closes the live connection (revalidate) and refuses new ones.
    holder.replace(policy((j) => (j.apiKeys = (j.apiKeys as { id: string }[]).filter((k) => k.id !== 'ingest-1'))));
    expect((revalidate(p) as AuthError).code).toBe('revoked');
    expect((await failure(authenticate({ kind: 'api_key', value: ingestKey }, CONN))).code).toBe('unauthenticated');
  });

  it('no credential: refused without an anonymous role, the anonymous role when there is one', async () => {
    const { holder, authenticate, revalidate } = setup();
    const e = await failure(authenticate(undefined, CONN));
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toMatch(/^a credential is required/);
    holder.replace(policy((j) => (j.anonymous = 'viewer')));
    const anon = await authenticate(undefined, CONN);
    expect(anon).toMatchObject({ sub: 'anonymous', roles: ['viewer'], method: 'anonymous' });
    expect(anon.subscribe.allows('demo/public/x')).toBe(true);
    expect(anon.publish.allows('demo/public/x')).toBe(false);
    holder.replace(policy());
    expect((revalidate(anon) as AuthError).code).toBe('unauthenticated');
  });

  it('refuses unknown credential kinds and non-string values with AuthError only', async () => {
    const { authenticate } = setup();
    for (const c of [
      { kind: 'cookie', value: 'x' },
      { kind: 'bearer', value: 42 },
      { kind: 'bearer', value: '' },
      { kind: 'api_key', value: null },
    ]) {
      expect((await failure(authenticate(c as never, CONN))).code).toBe('unauthenticated');
    }
  });
});
