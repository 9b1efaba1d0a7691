/**
 * Principals under a policy: claim validation (required claims, clock tolerance on both sides,
 * lifetime caps, unknown roles, revocations, issuer and audience), how role and claim grants
 * combine, the reserved prefixes, `{sub}`/`{node}` substitution that never widens a grant, API
 * keys, anonymous clients, the trusted principal, and revalidation after a policy reload.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../src/auth/policy.js';
import {
  TRUSTED_PRINCIPAL,
  anonymousPrincipal,
  principalFromApiKey,
  principalFromClaims,
  principalFromRoles,
  revalidatePrincipal,
} from '../../src/auth/principal.js';
import { isSafeSegmentValue, substitute } from '../../src/auth/substitute.js';
import { AuthError, type Principal } from '../../src/auth/types.js';
import { FULL_ACCESS } from '../../src/auth/prefix-acl.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const NOW_S = NOW / 1000;
const HASH = `sha256:${'ab'.repeat(32)}`;

function policyJson(): Record<string, unknown> {
  return {
    version: 1,
    clockToleranceSeconds: 30,
    roles: {
      dashboard: {
        publish: { allow: ['demo/', 'users/{sub}/'], deny: ['demo/secret/'] },
        subscribe: { allow: ['demo/', 'isobroker/stats/', 'users/{sub}/'] },
        stores: { ui_prefs: 'write', '*': 'read', 'prefs/{sub}': 'master' },
        limits: { publishRate: 100, maxSubscriptions: 64 },
        maxTokenLifetimeSeconds: 900,
      },
      everything: { publish: { allow: [''] }, subscribe: { allow: [''] }, stores: { '*': 'master' } },
      quiet: { publish: { allow: ['demo/'], deny: ['demo/loud/'] }, limits: { publishRate: 5, publishBurst: 5 } },
      unlimited: { limits: { publishRate: 0 } },
      strict: { subscribe: { allow: ['s/'] }, strict: true },
      worker: { publish: { allow: [''] }, subscribe: { allow: ['', 'zeek/cluster/node/{node}/'] } },
      viewer: { subscribe: { allow: ['demo/', 'users/{sub}/'] }, stores: { '{sub}': 'write' } },
      denier: { publish: { allow: ['data/'], deny: ['data/{sub}/private/'] } },
    },
    apiKeys: [
      { id: 'ingest-1', hash: HASH, sub: 'ingest', roles: ['quiet'] },
      { id: 'w2', hash: `sha256:${'cd'.repeat(32)}`, sub: 'w2', roles: ['worker'], node: 'worker-2' },
    ],
    anonymous: 'viewer',
    revocations: { jti: ['revoked-jti'], subjects: { mallory: '2026-06-01T00:00:00Z' } },
  };
}

function parse(json: unknown): Policy {
  const r = parsePolicy(json);
  if (r.policy === undefined) throw new Error(r.errors.join('\n'));
  return r.policy;
}

const POLICY = parse(policyJson());

function claims(extra: Record<string, unknown> = {}, isb: Record<string, unknown> = { roles: ['dashboard'] }) {
  return { sub: 'alice', iat: NOW_S - 60, exp: NOW_S + 600, jti: 'j1', isb, ...extra };
}

function principal(result: Principal | AuthError): Principal {
  if (result instanceof AuthError) throw result;
  return result;
}

function refusal(result: Principal | AuthError): AuthError {
  expect(result).toBeInstanceOf(AuthError);
  return result as AuthError;
}

describe('principalFromClaims: registered claims', () => {
  it('accepts a good token', () => {
    const p = principal(principalFromClaims(POLICY, claims(), NOW));
    expect(p).toMatchObject({
      sub: 'alice',
      roles: ['dashboard'],
      node: null,
      router: false,
      method: 'token',
      credentialId: 'j1',
      expiresAt: (NOW_S + 600) * 1000,
      issuedAt: (NOW_S - 60) * 1000,
      strict: false,
    });
  });

  it.each([
    ['no sub', { sub: undefined }, /"sub"/],
    ['an empty sub', { sub: '' }, /"sub"/],
    ['a numeric sub', { sub: 5 }, /"sub"/],
    ['no exp', { exp: undefined }, /"exp"/],
    ['a string exp', { exp: String(NOW_S + 600) }, /"exp"/],
    ['a NaN exp', { exp: Number.NaN }, /"exp"/],
    ['a string nbf', { nbf: 'now' }, /"nbf"/],
    ['a string iat', { iat: 'now' }, /"iat"/],
    ['an empty jti', { jti: '' }, /"jti"/],
  ])('refuses a token with %s as unauthenticated', (_what, extra, message) => {
    const e = refusal(principalFromClaims(POLICY, claims(extra), NOW));
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toMatch(message);
  });

  it('refuses claims that are not an object', () => {
    for (const c of [null, 'x', [], 5])
      expect(refusal(principalFromClaims(POLICY, c, NOW)).code).toBe('unauthenticated');
  });

  it('applies the clock tolerance to exp on both sides of it', () => {
    const exp = NOW_S - 60;
    const c = claims({ exp, iat: exp - 600 });
    expect(principalFromClaims(POLICY, c, exp * 1000 + 30_000)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(POLICY, c, exp * 1000 + 30_001)).code).toBe('token_expired');
  });

  it('applies the clock tolerance to nbf and iat', () => {
    const nbf = NOW_S + 100;
    const c = claims({ nbf, iat: NOW_S - 10, exp: NOW_S + 600 });
    expect(principalFromClaims(POLICY, c, nbf * 1000 - 30_000)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(POLICY, c, nbf * 1000 - 30_001)).message).toMatch(/not valid yet/);
    const iat = NOW_S + 30;
    expect(principalFromClaims(POLICY, claims({ iat }), NOW)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(POLICY, claims({ iat: iat + 0.001 }), NOW)).message).toMatch(/future/);
  });

  it('caps the lifetime at the smallest maximum of the token roles and the policy', () => {
    const c = (life: number, roles = ['dashboard']) => claims({ iat: NOW_S - 10, exp: NOW_S - 10 + life }, { roles });
    expect(principalFromClaims(POLICY, c(900), NOW)).not.toBeInstanceOf(AuthError);
    const e = refusal(principalFromClaims(POLICY, c(901), NOW));
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toMatch(/lifetime of 901 s exceeds the maximum of 900 s set by role "dashboard"/);
    // With a role without a maximum, the dashboard role's still applies.
    expect(refusal(principalFromClaims(POLICY, c(901, ['everything', 'dashboard']), NOW)).code).toBe('unauthenticated');
    // The policy's default day applies to every token.
    expect(principalFromClaims(POLICY, c(86_400, ['everything']), NOW)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(POLICY, c(86_401, ['everything']), NOW)).message).toMatch(/set by the policy/);
  });

  it('measures the lifetime of a token without iat from now, with the tolerance', () => {
    const c = (exp: number) => ({ sub: 'alice', exp, isb: { roles: ['dashboard'] } });
    expect(principalFromClaims(POLICY, c(NOW_S + 930), NOW)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(POLICY, c(NOW_S + 931), NOW)).message).toMatch(/lifetime/);
  });

  it('refuses a role the policy does not define as forbidden', () => {
    const e = refusal(principalFromClaims(POLICY, claims({}, { roles: ['dashboard', 'admin'] }), NOW));
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/role "admin" is not in the policy/);
  });

  it('revokes by jti and by subject issued before the revocation instant', () => {
    expect(refusal(principalFromClaims(POLICY, claims({ jti: 'revoked-jti' }), NOW)).code).toBe('revoked');
    const revokedAt = Date.parse('2026-06-01T00:00:00Z') / 1000;
    const mallory = (iat: number | undefined) => claims({ sub: 'mallory', iat, exp: revokedAt + 700 });
    expect(refusal(principalFromClaims(POLICY, mallory(revokedAt - 1), revokedAt * 1000)).code).toBe('revoked');
    expect(principalFromClaims(POLICY, mallory(revokedAt), revokedAt * 1000)).not.toBeInstanceOf(AuthError);
    // Without iat nothing proves the token came after the revocation.
    expect(refusal(principalFromClaims(POLICY, mallory(undefined), revokedAt * 1000)).code).toBe('revoked');
  });

  it('checks issuer and audience when the policy names them', () => {
    const p = parse({ ...policyJson(), issuer: 'https://auth', audience: ['isb', 'other'] });
    const ok = claims({ iss: 'https://auth', aud: ['x', 'other'] });
    expect(principalFromClaims(p, ok, NOW)).not.toBeInstanceOf(AuthError);
    expect(principalFromClaims(p, { ...ok, aud: 'isb' }, NOW)).not.toBeInstanceOf(AuthError);
    expect(refusal(principalFromClaims(p, { ...ok, iss: 'https://evil' }, NOW)).message).toMatch(/"iss"/);
    expect(refusal(principalFromClaims(p, { ...ok, iss: undefined }, NOW)).message).toMatch(/"iss"/);
    expect(refusal(principalFromClaims(p, { ...ok, aud: ['x'] }, NOW)).message).toMatch(/"aud"/);
    expect(refusal(principalFromClaims(p, { ...ok, aud: undefined }, NOW)).message).toMatch(/"aud"/);
  });

  it('refuses malformed isb claims and ignores unknown members', () => {
    const bad = [
      'dashboard',
      { roles: 'dashboard' },
      { roles: [''] },
      { roles: ['dashboard'], publish: { allow: 'x/' } },
      { roles: ['dashboard'], publish: { allow: ['x/{who}/'] } },
      { roles: ['dashboard'], stores: { s: 'owner' } },
      { roles: ['dashboard'], limits: { publishRate: -5 } },
      { roles: ['dashboard'], node: 'a/b' },
      { roles: ['dashboard'], strict: 'yes' },
    ];
    for (const isb of bad) {
      const e = refusal(principalFromClaims(POLICY, claims({}, isb as Record<string, unknown>), NOW));
      expect(e.code, JSON.stringify(isb)).toBe('unauthenticated');
      expect(e.message).toMatch(/"isb"/);
    }
    expect(principalFromClaims(POLICY, claims({}, { roles: ['dashboard'], future: 1 }), NOW)).not.toBeInstanceOf(
      AuthError,
    );
  });

  it('needs a node name for a node role, and takes it as the principal node', () => {
    expect(refusal(principalFromClaims(POLICY, claims({}, { roles: ['worker'] }), NOW)).message).toMatch(/isb\.node/);
    const w = principal(principalFromClaims(POLICY, claims({}, { roles: ['worker'], node: 'worker-1' }), NOW));
    expect(w).toMatchObject({ node: 'worker-1', router: true });
    // A node name given without a node role is not the principal's.
    expect(
      principal(principalFromClaims(POLICY, claims({}, { roles: ['dashboard'], node: 'worker-1' }), NOW)).node,
    ).toBe(null);
  });

  it('never puts the claims into a message', () => {
    const e = refusal(principalFromClaims(POLICY, claims({ jti: 'revoked-jti', sub: 'secret-subject' }), NOW));
    expect(e.message).not.toContain('secret-subject');
    expect(e.message).not.toContain('revoked-jti');
  });
});

describe('grants', () => {
  const alice = principal(principalFromClaims(POLICY, claims(), NOW));

  it('grants what the role allows and not what it denies (byte prefixes)', () => {
    expect(alice.publish.allows('demo/x')).toBe(true);
    expect(alice.publish.allows('demo/secret/x')).toBe(false);
    expect(alice.publish.allows('users/alice/x')).toBe(true);
    expect(alice.publish.allows('users/bob/x')).toBe(false);
    expect(alice.subscribe.allows('isobroker/stats/worker-1')).toBe(true);
  });

  it('adds claim grants to role grants, and any deny wins', () => {
    const p = principal(
      principalFromClaims(
        POLICY,
        claims(
          {},
          { roles: ['dashboard', 'quiet'], publish: { allow: ['extra/', 'demo/secret/'], deny: ['extra/no/'] } },
        ),
        NOW,
      ),
    );
    expect(p.publish.allows('extra/yes')).toBe(true);
    expect(p.publish.allows('extra/no/x')).toBe(false);
    // dashboard's deny beats the claim's allow; quiet's deny beats dashboard's allow.
    expect(p.publish.allows('demo/secret/x')).toBe(false);
    expect(p.publish.allows('demo/loud/x')).toBe(false);
    expect(p.publish.grant.deny).toEqual(expect.arrayContaining(['demo/secret/', 'demo/loud/', 'extra/no/']));
  });

  it('gives a token without roles only its claim grants', () => {
    const p = principal(principalFromClaims(POLICY, claims({}, { subscribe: { allow: ['x/'] } }), NOW));
    expect(p.roles).toEqual([]);
    expect(p.subscribe.allows('x/1')).toBe(true);
    expect(p.publish.allows('x/1')).toBe(false);
  });

  it('never lets a non-node principal publish on reserved prefixes, whatever it is granted', () => {
    const p = principal(
      principalFromClaims(POLICY, claims({}, { roles: ['everything'], publish: { allow: ['zeek/logs/'] } }), NOW),
    );
    for (const t of ['zeek/cluster/node/x', 'zeek/logs/conn', 'isobroker/stats/x', '<$>/local/x']) {
      expect(p.publish.allows(t), t).toBe(false);
    }
    expect(p.publish.allows('zeek/other')).toBe(true);
    expect(p.publish.allows('zeek/logsecret')).toBe(true);
  });

  it('lets a non-node principal read a reserved prefix only through a prefix written inside it', () => {
    const everything = principal(principalFromClaims(POLICY, claims({}, { roles: ['everything'] }), NOW));
    for (const t of ['zeek/cluster/x', 'zeek/logs/conn', 'isobroker/stats/x', '<$>/local/x']) {
      expect(everything.subscribe.allows(t), t).toBe(false);
    }
    expect(everything.subscribe.narrow('isobroker/').kind).toBe('refuse');
    expect(alice.subscribe.allows('isobroker/stats/w1')).toBe(true);
    expect(alice.subscribe.allows('isobroker/logtail/conn')).toBe(false);
    // A claim adding "" next to the role's explicit isobroker/stats/ closes isobroker/ entirely.
    const both = principal(
      principalFromClaims(POLICY, claims({}, { roles: ['dashboard'], subscribe: { allow: [''] } }), NOW),
    );
    expect(both.subscribe.allows('isobroker/stats/w1')).toBe(false);
    expect(both.subscribe.allows('other/x')).toBe(true);
  });

  it('does not let a subject named like a reserved prefix read it through {sub}', () => {
    const p = parse({ version: 1, roles: { u: { subscribe: { allow: ['{sub}/'] }, publish: { allow: ['{sub}/'] } } } });
    for (const sub of ['isobroker', 'zeek']) {
      const x = principal(principalFromRoles(p, { sub, roles: ['u'], method: 'certificate' }));
      expect(x.subscribe.allows(`${sub}/stats/x`), sub).toBe(sub === 'zeek');
      expect(x.subscribe.allows('isobroker/stats/x')).toBe(false);
      expect(x.subscribe.allows('zeek/logs/x')).toBe(false);
      expect(x.publish.allows('isobroker/stats/x')).toBe(false);
    }
  });

  it('lets node principals use the reserved prefixes but never <$>/local/', () => {
    const w = principal(principalFromClaims(POLICY, claims({}, { roles: ['worker'], node: 'w1' }), NOW));
    for (const t of ['zeek/cluster/node/w1', 'zeek/logs/conn', 'isobroker/stats/w1']) {
      expect(w.publish.allows(t), t).toBe(true);
      expect(w.subscribe.allows(t), t).toBe(true);
    }
    expect(w.publish.allows('<$>/local/x')).toBe(false);
    expect(w.subscribe.allows('<$>/local/x')).toBe(false);
  });

  it('combines store permissions: exact names and * both apply, the most permissive wins', () => {
    expect(alice.storeAccess('ui_prefs')).toBe('write');
    expect(alice.storeAccess('other')).toBe('read');
    expect(alice.storeAccess('prefs/alice')).toBe('master');
    expect(alice.storeAccess('prefs/bob')).toBe('read');
    const q = principal(principalFromClaims(POLICY, claims({}, { roles: ['quiet'], stores: { s: 'write' } }), NOW));
    expect(q.storeAccess('s')).toBe('write');
    expect(q.storeAccess('t')).toBeUndefined();
  });

  it('takes the most generous limits of the roles, defaults for unset fields, and the claim last', () => {
    expect(alice.limits).toEqual({
      publishRate: 100,
      publishBurst: 20_000,
      maxSubscriptions: 64,
      storeCommandsInFlight: 256,
    });
    const q = principal(principalFromClaims(POLICY, claims({}, { roles: ['quiet', 'dashboard'] }), NOW));
    expect(q.limits).toEqual({
      publishRate: 100,
      publishBurst: 20_000,
      maxSubscriptions: 1024,
      storeCommandsInFlight: 256,
    });
    const u = principal(principalFromClaims(POLICY, claims({}, { roles: ['quiet', 'unlimited'] }), NOW));
    expect(u.limits.publishRate).toBe(0);
    const c = principal(
      principalFromClaims(POLICY, claims({}, { roles: ['unlimited'], limits: { publishRate: 7 } }), NOW),
    );
    expect(c.limits.publishRate).toBe(7);
  });

  it('is strict when a role or the claim says so', () => {
    expect(principal(principalFromClaims(POLICY, claims({}, { roles: ['strict'] }), NOW)).strict).toBe(true);
    expect(principal(principalFromClaims(POLICY, claims({}, { roles: ['quiet'], strict: true }), NOW)).strict).toBe(
      true,
    );
    expect(alice.strict).toBe(false);
  });
});

describe('substitution never widens a grant', () => {
  it('refuses unsafe values', () => {
    for (const v of [
      '',
      'a/b',
      '/',
      '..',
      '.',
      '*',
      '{sub}',
      'x{node}',
      '<$>',
      'a\nb',
      'a\u0000',
      '\ud800',
      'a'.repeat(257),
    ]) {
      expect(isSafeSegmentValue(v), JSON.stringify(v)).toBe(false);
      expect(substitute('users/{sub}/', { sub: v }), JSON.stringify(v)).toBeUndefined();
    }
    expect(substitute('users/{sub}/', {})).toBeUndefined();
    expect(substitute('{node}/x/{sub}', { sub: 'a', node: null })).toBeUndefined();
    expect(substitute('{node}/x/{sub}', { sub: 'alice@example.com', node: 'w-1' })).toBe('w-1/x/alice@example.com');
    expect(substitute('x{sub}/', { sub: 'a' })).toBeUndefined();
    expect(substitute('plain/', {})).toBe('plain/');
  });

  it.each(['a/b', '..', '*', '.', 'x{sub}', '<$>'])('drops the {sub} grants of subject %j', (sub) => {
    const p = principal(principalFromRoles(POLICY, { sub, roles: ['dashboard', 'viewer'], method: 'certificate' }));
    for (const t of ['users/', 'users/a/b/', 'users/../x', 'users/*/x', `users/${sub}/x`, 'users/a/x']) {
      expect(p.publish.allows(t), t).toBe(false);
      expect(p.subscribe.allows(t), t).toBe(false);
    }
    expect(p.publish.grant.allow).toEqual(['demo/']);
    // Store entries: "{sub}" and "prefs/{sub}" are dropped; "*" from a subject never becomes a wildcard.
    expect(p.storeAccess('anything')).toBe('read');
    expect(p.storeAccess('prefs/x')).toBe('read');
    expect(p.storeAccess(sub)).toBe('read');
    expect(p.storeAccess('*')).toBe('read');
  });

  it('refuses an empty subject outright', () => {
    expect(refusal(principalFromRoles(POLICY, { sub: '', roles: ['dashboard'], method: 'certificate' })).code).toBe(
      'unauthenticated',
    );
    expect(refusal(principalFromClaims(POLICY, claims({ sub: '' }), NOW)).code).toBe('unauthenticated');
  });

  it('cuts a deny whose substitution is refused back to a broader deny', () => {
    const ok = principal(principalFromRoles(POLICY, { sub: 'bob', roles: ['denier'], method: 'certificate' }));
    expect(ok.publish.allows('data/x')).toBe(true);
    expect(ok.publish.allows('data/bob/private/x')).toBe(false);
    const odd = principal(principalFromRoles(POLICY, { sub: 'a/b', roles: ['denier'], method: 'certificate' }));
    expect(odd.publish.allows('data/a/b/private/x')).toBe(false);
    expect(odd.publish.allows('data/x')).toBe(false);
  });

  it('substitutes {node} only for node principals', () => {
    const w = principal(principalFromApiKey(POLICY, POLICY.apiKeys[1]!));
    expect(w.node).toBe('worker-2');
    expect(w.subscribe.grant.allow).toContain('zeek/cluster/node/worker-2/');
  });
});

describe('API keys, anonymous clients and the trusted principal', () => {
  it('makes a principal of an API key, and refuses a revoked or removed one', () => {
    const p = principal(principalFromApiKey(POLICY, POLICY.apiKeys[0]!));
    expect(p).toMatchObject({
      sub: 'ingest',
      roles: ['quiet'],
      method: 'api_key',
      credentialId: 'ingest-1',
      expiresAt: undefined,
    });
    const revoked = parse({ ...policyJson(), revocations: { apiKeys: ['ingest-1'] } });
    expect(refusal(principalFromApiKey(revoked, revoked.apiKeys[0]!)).code).toBe('revoked');
    const removed = parse({ ...policyJson(), apiKeys: [] });
    expect(refusal(principalFromApiKey(removed, POLICY.apiKeys[0]!)).code).toBe('revoked');
  });

  it('gives anonymous clients the anonymous role without {sub} grants', () => {
    const a = principal(anonymousPrincipal(POLICY));
    expect(a).toMatchObject({ sub: 'anonymous', roles: ['viewer'], method: 'anonymous', node: null, router: false });
    expect(a.subscribe.allows('demo/x')).toBe(true);
    expect(a.subscribe.allows('users/anonymous/x')).toBe(false);
    expect(a.storeAccess('anonymous')).toBeUndefined();
  });

  it('refuses anonymous clients when the policy names no anonymous role', () => {
    const { anonymous: _, ...rest } = policyJson();
    const e = refusal(anonymousPrincipal(parse(rest)));
    expect(e.code).toBe('unauthenticated');
  });

  it('has a trusted principal with full access', () => {
    expect(TRUSTED_PRINCIPAL).toMatchObject({ method: 'trusted', router: true, node: null });
    expect(TRUSTED_PRINCIPAL.publish).toBe(FULL_ACCESS);
    expect(TRUSTED_PRINCIPAL.storeAccess('x')).toBe('master');
    expect(Object.isFrozen(TRUSTED_PRINCIPAL)).toBe(true);
  });
});

describe('revalidatePrincipal', () => {
  const alice = () => principal(principalFromClaims(POLICY, claims(), NOW));

  it('keeps the same principal when the reloaded policy changes nothing for it', () => {
    const p = alice();
    const reloaded = parse({ ...policyJson(), origins: ['https://x.example'] });
    expect(revalidatePrincipal(reloaded, p, NOW + 1000)).toBe(p);
    const anon = principal(anonymousPrincipal(POLICY));
    expect(revalidatePrincipal(reloaded, anon, NOW)).toBe(anon);
    const key = principal(principalFromApiKey(POLICY, POLICY.apiKeys[0]!));
    expect(revalidatePrincipal(reloaded, key, NOW)).toBe(key);
  });

  it('replaces the principal when its grants changed', () => {
    const p = alice();
    const json = policyJson();
    (json.roles as Record<string, Record<string, unknown>>).dashboard!.publish = { allow: ['demo/'], deny: ['demo/'] };
    const next = principal(revalidatePrincipal(parse(json), p, NOW));
    expect(next).not.toBe(p);
    expect(next.publish.allows('demo/x')).toBe(false);
    expect(p.publish.allows('demo/x')).toBe(true);
    // And the new one revalidates too.
    expect(revalidatePrincipal(parse(json), next, NOW)).toBe(next);
  });

  it('refuses a revoked token, subject or API key, and a principal whose role is gone', () => {
    const p = alice();
    expect(refusal(revalidatePrincipal(parse({ ...policyJson(), revocations: { jti: ['j1'] } }), p, NOW)).code).toBe(
      'revoked',
    );
    const bySubject = parse({ ...policyJson(), revocations: { subjects: { alice: '2026-06-01T12:00:00Z' } } });
    expect(refusal(revalidatePrincipal(bySubject, p, NOW)).code).toBe('revoked');
    const json = policyJson();
    delete (json.roles as Record<string, unknown>).dashboard;
    expect(refusal(revalidatePrincipal(parse(json), p, NOW)).code).toBe('forbidden');
    const key = principal(principalFromApiKey(POLICY, POLICY.apiKeys[0]!));
    expect(refusal(revalidatePrincipal(parse({ ...policyJson(), apiKeys: [] }), key, NOW)).code).toBe('revoked');
    const rehashed = policyJson();
    (rehashed.apiKeys as Record<string, unknown>[])[0]!.hash = `sha256:${'ef'.repeat(32)}`;
    expect(refusal(revalidatePrincipal(parse(rehashed), key, NOW)).code).toBe('revoked');
    const { anonymous: _, ...noAnon } = policyJson();
    expect(refusal(revalidatePrincipal(parse(noAnon), principal(anonymousPrincipal(POLICY)), NOW)).code).toBe(
      'unauthenticated',
    );
  });

  it('leaves expiry to the endpoint (a token in its refresh grace survives a reload)', () => {
    const p = alice();
    expect(revalidatePrincipal(POLICY, p, (NOW_S + 600 + 45) * 1000)).toBe(p);
  });

  it('measures a lifetime without iat from the first acceptance, not the reload', () => {
    const c = { sub: 'alice', exp: NOW_S + 900, isb: { roles: ['dashboard'] } };
    const p = principal(principalFromClaims(POLICY, c, NOW));
    expect(revalidatePrincipal(POLICY, p, NOW + 600_000)).toBe(p);
    const json = policyJson();
    (json.roles as Record<string, Record<string, unknown>>).dashboard!.maxTokenLifetimeSeconds = 600;
    expect(refusal(revalidatePrincipal(parse(json), p, NOW + 600_000)).message).toMatch(/lifetime/);
  });

  it('keeps the trusted principal and refuses principals it did not make', () => {
    expect(revalidatePrincipal(POLICY, TRUSTED_PRINCIPAL, NOW)).toBe(TRUSTED_PRINCIPAL);
    const forged: Principal = { ...alice() };
    expect(refusal(revalidatePrincipal(POLICY, forged, NOW)).code).toBe('revoked');
  });
});
