/**
 * The `certificates` section of the policy file (`parsePolicy`): client certificate subject CN →
 * sub, roles and node, validated like `apiKeys` (roles must exist, node roles need a node, unknown
 * fields are errors, `sub` defaults to the name).
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/auth/policy.js';

function base(certificates: unknown): Record<string, unknown> {
  return {
    version: 1,
    roles: { hub: {}, reader: { subscribe: { allow: ['demo/'] } } },
    certificates,
  };
}

function errorsOf(certificates: unknown): string[] {
  const r = parsePolicy(base(certificates));
  expect(r.policy).toBeUndefined();
  return r.errors ?? [];
}

describe('policy certificates', () => {
  it('maps names to sub, roles and node; sub defaults to the name', () => {
    const r = parsePolicy(
      base({
        'hub-b': { roles: ['hub'], node: 'hub-b' },
        'reader.example.com': { sub: 'reader', roles: ['reader'] },
      }),
    );
    expect(r.errors).toBeUndefined();
    const certs = r.policy?.certificates;
    expect(certs?.get('hub-b')).toEqual({ name: 'hub-b', sub: 'hub-b', roles: ['hub'], node: 'hub-b' });
    expect(certs?.get('reader.example.com')).toEqual({
      name: 'reader.example.com',
      sub: 'reader',
      roles: ['reader'],
      node: null,
    });
    expect(Object.isFrozen(certs?.get('hub-b'))).toBe(true);
    // A certificate is a way in: no "no client can connect" warning.
    expect(r.warnings?.join('\n')).not.toMatch(/no client can connect/);
  });

  it('is optional: absent gives an empty map', () => {
    const r = parsePolicy({ version: 1, roles: {} });
    expect(r.policy?.certificates?.size).toBe(0);
  });

  it('refuses undefined roles, node roles without a node, bad nodes, unknown fields and bad shapes', () => {
    expect(errorsOf({ a: { roles: ['nope'] } }).join('\n')).toMatch(/\$\.certificates\.a\.roles\[0\].*not defined/);
    expect(errorsOf({ a: { roles: ['hub'] } }).join('\n')).toMatch(/\$\.certificates\.a\.node.*required/);
    expect(errorsOf({ a: { roles: ['hub'], node: 'x/y' } }).join('\n')).toMatch(/\$\.certificates\.a\.node/);
    expect(errorsOf({ a: { roles: ['reader'], extra: 1 } }).join('\n')).toMatch(/extra/);
    expect(errorsOf({ a: { sub: 5, roles: ['reader'] } }).join('\n')).toMatch(/\$\.certificates\.a\.sub/);
    expect(errorsOf({ a: { roles: 'reader' } }).join('\n')).toMatch(/\$\.certificates\.a\.roles/);
    expect(errorsOf({ a: ['reader'] }).join('\n')).toMatch(/\$\.certificates\.a/);
    expect(errorsOf({ '': { roles: ['reader'] } }).join('\n')).toMatch(/\$\.certificates/);
    expect(errorsOf(['hub-b']).join('\n')).toMatch(/\$\.certificates/);
  });

  it('lists every error at once', () => {
    const errors = errorsOf({ a: { roles: ['nope'] }, b: { roles: ['hub'] } });
    expect(errors.some((e) => e.includes('certificates.a'))).toBe(true);
    expect(errors.some((e) => e.includes('certificates.b'))).toBe(true);
  });
});
