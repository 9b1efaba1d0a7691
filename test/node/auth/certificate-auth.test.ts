/**
 * Client certificate authentication in the hub's authenticator: a verified certificate whose
 * subject CN the policy's `certificates` lists becomes a `certificate` principal; an unlisted one
 * counts as no credential; a token or API key wins over the certificate; after a reload a removed
 * or re-pointed mapping is `revoked`, changed roles give a new principal.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../../src/auth/policy.js';
import { AuthError, type ConnectionInfo, type Principal } from '../../../src/auth/types.js';
import { generateApiKey, hashApiKey } from '../../../src/node/auth/api-keys.js';
import { createAuthenticator } from '../../../src/node/auth/authenticator.js';

const apiKey = generateApiKey();
const conn = (certificateName?: string): ConnectionInfo => ({
  ip: '127.0.0.2',
  remote: '127.0.0.2:5555',
  protocol: 'native',
  ...(certificateName === undefined ? {} : { certificateName }),
});

function policy(patch: (j: Record<string, unknown>) => void = () => undefined): Policy {
  const j: Record<string, unknown> = {
    version: 1,
    apiKeys: [{ id: 'ingest-1', hash: hashApiKey(apiKey), sub: 'ingest', roles: ['ingest'] }],
    roles: {
      hub: {},
      ingest: { publish: { allow: ['ingest/'] } },
      viewer: { subscribe: { allow: ['demo/public/'] } },
    },
    certificates: {
      'hub-b': { roles: ['hub'], node: 'hub-b' },
      'dash.example.com': { sub: 'dash', roles: ['viewer'] },
    },
  };
  patch(j);
  const r = parsePolicy(j);
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

async function refusal(p: Promise<Principal>): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  return err as AuthError;
}

describe('certificate authentication', () => {
  it('a listed certificate name gives a certificate principal with its roles and node', async () => {
    const { authenticate } = createAuthenticator({ current: policy() });
    const hub = await authenticate(undefined, conn('hub-b'));
    expect(hub).toMatchObject({ sub: 'hub-b', roles: ['hub'], node: 'hub-b', router: true, method: 'certificate' });
    expect(hub.credentialId).toBe('hub-b');
    const dash = await authenticate(undefined, conn('dash.example.com'));
    expect(dash).toMatchObject({ sub: 'dash', roles: ['viewer'], node: null, router: false, method: 'certificate' });
  });

  it('an unlisted certificate counts as no credential: refused, or anonymous when the policy has it', async () => {
    const strict = createAuthenticator({ current: policy() });
    expect((await refusal(strict.authenticate(undefined, conn('hub-c')))).code).toBe('unauthenticated');
    expect((await refusal(strict.authenticate(undefined, conn()))).code).toBe('unauthenticated');
    const open = createAuthenticator({ current: policy((j) => (j.anonymous = 'viewer')) });
    expect(await open.authenticate(undefined, conn('hub-c'))).toMatchObject({ sub: 'anonymous', method: 'anonymous' });
  });

  it('names match exactly (no case folding, no prototype keys)', async () => {
    const { authenticate } = createAuthenticator({ current: policy() });
    for (const name of ['HUB-B', 'hub-b ', '__proto__', 'constructor', '']) {
      expect((await refusal(authenticate(undefined, conn(name)))).code).toBe('unauthenticated');
    }
  });

  it('a bearer token or API key takes precedence over the certificate', async () => {
    const { authenticate } = createAuthenticator({ current: policy() });
    const p = await authenticate({ kind: 'api_key', value: apiKey }, conn('hub-b'));
    expect(p).toMatchObject({ sub: 'ingest', method: 'api_key' });
    // A bad credential is refused even with a good certificate.
    const err = await refusal(authenticate({ kind: 'api_key', value: generateApiKey() }, conn('hub-b')));
    expect(err.code).toBe('unauthenticated');
    expect(err.message).not.toContain('hub-b');
  });

  it('after a reload: unchanged keeps the principal, changed roles rebuild, removed or re-pointed is revoked', async () => {
    const source = { current: policy() };
    const { authenticate, revalidate } = createAuthenticator(source);
    const hub = await authenticate(undefined, conn('hub-b'));

    source.current = policy();
    expect(revalidate(hub)).toBe(hub);

    source.current = policy((j) => {
      (j.certificates as Record<string, unknown>)['hub-b'] = { roles: ['hub', 'viewer'], node: 'hub-b' };
    });
    const next = revalidate(hub);
    expect(next).toMatchObject({ sub: 'hub-b', roles: ['hub', 'viewer'], method: 'certificate' });
    // The rebuilt principal is still tied to its certificate name.
    source.current = policy((j) => {
      delete (j.certificates as Record<string, unknown>)['hub-b'];
    });
    expect((revalidate(next as Principal) as AuthError).code).toBe('revoked');
    expect((revalidate(hub) as AuthError).code).toBe('revoked');

    source.current = policy((j) => {
      (j.certificates as Record<string, unknown>)['hub-b'] = { roles: ['hub'], node: 'hub-x' };
    });
    expect((revalidate(hub) as AuthError).code).toBe('revoked');

    source.current = policy((j) => {
      (j.certificates as Record<string, unknown>)['hub-b'] = { sub: 'other', roles: ['hub'], node: 'hub-b' };
    });
    expect((revalidate(hub) as AuthError).code).toBe('revoked');
  });

  it('a role removed from the policy closes the certificate principal', async () => {
    const source = { current: policy() };
    const { authenticate, revalidate } = createAuthenticator(source);
    const dash = await authenticate(undefined, conn('dash.example.com'));
    source.current = policy((j) => {
      (j.roles as Record<string, unknown>).viewer = undefined;
      delete (j.roles as Record<string, unknown>).viewer;
      delete (j.certificates as Record<string, unknown>)['dash.example.com'];
    });
    expect(revalidate(dash)).toBeInstanceOf(AuthError);
  });
});
