/**
 * The policy file validator (`parsePolicy`): a valid file gives a frozen policy with defaults
 * filled in; every kind of invalid input is refused with every error listed by its JSON path, and
 * nothing ever throws; warnings for byte-prefix surprises; secrets never appear in a message or
 * in the serialised policy.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ALGORITHMS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  RESERVED_PREFIXES,
  apiKeyByHash,
  parsePolicy,
  type Policy,
} from '../../src/auth/policy.js';
import { decodeBase64Url } from '../../src/auth/policy-keys.js';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA'; // 34 bytes
const HASH = `sha256:${'ab'.repeat(32)}`;
const ED_X = 'x'.repeat(43);
const EC_X = 'A'.repeat(43);
const RSA_N = 'n'.repeat(342);
const PEM =
  '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n';

/** A policy using every section. */
function fullPolicy(): Record<string, unknown> {
  return {
    version: 1,
    issuer: 'https://auth.example.com',
    audience: ['isobroker', 'other'],
    algorithms: ['HS256', 'EdDSA', 'ES256', 'RS256'],
    clockToleranceSeconds: 10,
    maxTokenLifetimeSeconds: 3600,
    keys: [
      { kid: 'k1', alg: 'HS256', secret: SECRET },
      { kid: 'ed', alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519', x: ED_X, use: 'sig' } },
      { kid: 'ec', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: EC_X, y: EC_X, alg: 'ES256' } },
      { kid: 'rsa', alg: 'RS256', jwk: { kty: 'RSA', n: RSA_N, e: 'AQAB' } },
      { kid: 'pem', alg: 'EdDSA', publicKeyPem: PEM },
      { kid: 'cert', alg: 'RS256', publicKeyPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    ],
    apiKeys: [
      { id: 'ingest-1', hash: HASH, sub: 'ingest', roles: ['ingest'] },
      { id: 'w1', hash: `sha256:${'cd'.repeat(32)}`, sub: 'worker-1', roles: ['worker'], node: 'worker-1' },
    ],
    roles: {
      dashboard: {
        publish: { allow: ['demo/'], deny: ['demo/secret/'] },
        subscribe: { allow: ['demo/', 'isobroker/stats/', 'users/{sub}/'] },
        stores: { ui_prefs: 'write', '*': 'read', 'prefs/{sub}': 'master' },
        limits: { publishRate: 100, publishBurst: 200, maxSubscriptions: 64, storeCommandsInFlight: 16 },
        maxTokenLifetimeSeconds: 900,
        strict: true,
      },
      ingest: { publish: { allow: ['ingest/'] } },
      viewer: { subscribe: { allow: ['demo/'] } },
      worker: { publish: { allow: [''] }, subscribe: { allow: [''] } },
      hub: { node: false },
    },
    anonymous: 'viewer',
    revocations: { jti: ['bad-token'], subjects: { mallory: '2026-01-01T00:00:00Z' }, apiKeys: ['ingest-1'] },
    origins: ['https://dash.example.com', 'http://127.0.0.1:8080'],
    cookie: { name: 'isobroker_token' },
  };
}

function ok(json: unknown): { policy: Policy; warnings: string[] } {
  const r = parsePolicy(json);
  if (r.policy === undefined) throw new Error(`expected a valid policy, got:\n${r.errors.join('\n')}`);
  return r;
}

function errorsOf(json: unknown): string[] {
  const r = parsePolicy(json);
  expect(r.policy, 'policy accepted').toBeUndefined();
  return r.errors ?? [];
}

/** `fullPolicy()` with `patch` applied to the object at `path` (keys; value undefined deletes). */
function withField(path: (string | number)[], value: unknown): Record<string, unknown> {
  const root = fullPolicy();
  let obj = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) obj = obj[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return root;
}

describe('parsePolicy: valid files', () => {
  it('reads the smallest policy and fills in the defaults', () => {
    const { policy, warnings } = ok({ version: 1, roles: {} });
    expect(policy.algorithms).toEqual(DEFAULT_ALGORITHMS);
    expect(policy.clockToleranceSeconds).toBe(DEFAULT_CLOCK_TOLERANCE_SECONDS);
    expect(policy.maxTokenLifetimeSeconds).toBe(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS);
    expect(policy.keys).toEqual([]);
    expect(policy.anonymous).toBeUndefined();
    expect(policy.origins).toEqual([]);
    expect(policy.cookie).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/no client can connect/);
  });

  it('reads every section', () => {
    const { policy, warnings } = ok(fullPolicy());
    expect(policy.issuer).toBe('https://auth.example.com');
    expect(policy.audience).toEqual(['isobroker', 'other']);
    expect(policy.keys.map((k) => [k.kid, k.kind])).toEqual([
      ['k1', 'secret'],
      ['ed', 'jwk'],
      ['ec', 'jwk'],
      ['rsa', 'jwk'],
      ['pem', 'pem'],
      ['cert', 'pem'],
    ]);
    const k1 = policy.keys[0]!;
    expect(k1.kind === 'secret' && k1.secret).toEqual(decodeBase64Url(SECRET));
    const dash = policy.roles.get('dashboard')!;
    expect(dash.publish).toEqual({ allow: ['demo/'], deny: ['demo/secret/'] });
    expect([...dash.stores]).toEqual([
      ['ui_prefs', 'write'],
      ['*', 'read'],
      ['prefs/{sub}', 'master'],
    ]);
    expect(dash).toMatchObject({ maxTokenLifetimeSeconds: 900, strict: true, node: false, router: false });
    expect(policy.roles.get('worker')).toMatchObject({ node: true, router: true });
    expect(policy.roles.get('hub')).toMatchObject({ node: false, router: true });
    expect(policy.apiKeys[1]).toMatchObject({ id: 'w1', node: 'worker-1' });
    expect(apiKeyByHash(policy, HASH.toUpperCase().replace('SHA256', 'sha256'))?.id).toBe('ingest-1');
    expect(policy.revocations.jti.has('bad-token')).toBe(true);
    expect(policy.revocations.subjects.get('mallory')).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(policy.revocations.apiKeys.has('ingest-1')).toBe(true);
    expect(policy.cookie).toEqual({ name: 'isobroker_token' });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(dash.publish.allow)).toBe(true);
    // dashboard's users/{sub}/ and the worker's "" end in '/' or are "": no separator warnings.
    expect(warnings).toEqual([]);
  });

  it('never serialises a secret', () => {
    const { policy } = ok(fullPolicy());
    expect(JSON.stringify(policy.keys)).not.toContain(SECRET);
    expect(Object.keys(policy.keys[0]!)).not.toContain('secret');
  });

  it('makes manager, logger, proxy, worker and hub node and router roles unless they say otherwise', () => {
    const { policy } = ok({
      version: 1,
      roles: { manager: {}, logger: {}, proxy: {}, worker: { router: false }, hub: { node: false }, app: {} },
    });
    const flags = (n: string) => [policy.roles.get(n)!.node, policy.roles.get(n)!.router];
    expect(flags('manager')).toEqual([true, true]);
    expect(flags('logger')).toEqual([true, true]);
    expect(flags('proxy')).toEqual([true, true]);
    expect(flags('worker')).toEqual([true, false]);
    expect(flags('hub')).toEqual([false, true]);
    expect(flags('app')).toEqual([false, false]);
  });

  it('warns about allow prefixes that do not end in a separator', () => {
    const { warnings } = ok({
      version: 1,
      anonymous: 'a',
      roles: { a: { subscribe: { allow: ['zeek/logs', 'users/{sub}', 'ok/', ''] } } },
    });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^\$\.roles\.a\.subscribe\.allow\[0\]: .*"zeek\/logsx"/);
    expect(warnings[1]).toMatch(/^\$\.roles\.a\.subscribe\.allow\[1\]: .*other subjects/);
  });

  it('warns that reserved publish grants of a non-node role have no effect, and about unknown revoked keys', () => {
    const { warnings } = ok({
      version: 1,
      anonymous: 'a',
      roles: { a: { publish: { allow: ['zeek/logs/conn/', '<$>/local/x/'] } } },
      revocations: { apiKeys: ['gone'] },
    });
    expect(warnings.join('\n')).toMatch(/publish\.allow\[0\]: .*no effect: zeek\/logs\/ is reserved/);
    expect(warnings.join('\n')).toMatch(/publish\.allow\[1\]: .*never accepted from a remote peer/);
    expect(warnings.join('\n')).toMatch(/revocations\.apiKeys\[0\]: no API key has id "gone"/);
  });

  it('exports the reserved prefixes', () => {
    expect(RESERVED_PREFIXES).toEqual(['zeek/cluster/', 'zeek/logs/', 'isobroker/', '<$>/local/']);
  });
});

/** [description, input, expected error (path: message fragment)]. */
const INVALID: [string, unknown, RegExp][] = [
  ['null', null, /^\$: expected a policy object, got null/],
  ['an array', [], /^\$: expected a policy object, got an array/],
  ['a string', 'policy', /^\$: expected a policy object/],
  ['a number', 5, /^\$: expected a policy object/],
  ['missing version', withField(['version'], undefined), /^\$\.version: expected 1, got nothing/],
  ['version 2', withField(['version'], 2), /^\$\.version: expected 1, got number 2/],
  ['unknown top-level field', withField(['rolse'], {}), /^\$\.rolse: unknown field/],
  [
    '__proto__ at the top',
    JSON.parse('{"version":1,"roles":{},"__proto__":{"anonymous":"x"}}'),
    /^\$\.__proto__: unknown field/,
  ],
  ['empty issuer', withField(['issuer'], ''), /^\$\.issuer: expected a non-empty string/],
  ['empty audience list', withField(['audience'], []), /^\$\.audience: expected at least one element/],
  ['audience of a number', withField(['audience'], [1]), /^\$\.audience\[0\]: expected a non-empty string/],
  ['algorithm none', withField(['algorithms'], ['none']), /^\$\.algorithms\[0\]: algorithm "none" .* never allowed/],
  ['algorithm NONE', withField(['algorithms'], ['HS256', 'NONE']), /^\$\.algorithms\[1\]: algorithm "none"/],
  ['unknown algorithm', withField(['algorithms'], ['HS257']), /^\$\.algorithms\[0\]: expected one of HS256/],
  ['empty algorithms', withField(['algorithms'], []), /^\$\.algorithms: expected at least one algorithm/],
  ['algorithms not a list', withField(['algorithms'], 'HS256'), /^\$\.algorithms: expected an array/],
  [
    'negative tolerance',
    withField(['clockToleranceSeconds'], -1),
    /^\$\.clockToleranceSeconds: expected an integer from 0 to 600/,
  ],
  ['fractional tolerance', withField(['clockToleranceSeconds'], 1.5), /^\$\.clockToleranceSeconds:/],
  ['huge tolerance', withField(['clockToleranceSeconds'], 601), /^\$\.clockToleranceSeconds:/],
  ['zero lifetime', withField(['maxTokenLifetimeSeconds'], 0), /^\$\.maxTokenLifetimeSeconds:/],
  ['keys not a list', withField(['keys'], {}), /^\$\.keys: expected an array of keys/],
  ['key not an object', withField(['keys', 0], 'k1'), /^\$\.keys\[0\]: expected a key object/],
  ['key without kid', withField(['keys', 0, 'kid'], undefined), /^\$\.keys\[0\]\.kid: expected a non-empty string/],
  [
    'duplicate kid',
    withField(['keys', 1, 'kid'], 'k1'),
    /^\$\.keys\[1\]\.kid: duplicate kid "k1" \(also \$\.keys\[0\]\)/,
  ],
  ['key alg none', withField(['keys', 0, 'alg'], 'none'), /^\$\.keys\[0\]\.alg: algorithm "none"/],
  [
    'key alg not allowed',
    withField(['algorithms'], ['EdDSA', 'ES256', 'RS256']),
    /^\$\.keys\[0\]\.alg: HS256 is not in \$\.algorithms/,
  ],
  ['unknown key field', withField(['keys', 0, 'secert'], 'x'), /^\$\.keys\[0\]\.secert: unknown field/],
  [
    'HMAC key with a public key',
    withField(['keys', 0], { kid: 'k1', alg: 'HS256', publicKeyPem: PEM }),
    /^\$\.keys\[0\]\.publicKeyPem: HS256 is an HMAC algorithm/,
  ],
  [
    'public-key algorithm with a secret',
    withField(['keys', 1], { kid: 'ed', alg: 'EdDSA', secret: SECRET }),
    /^\$\.keys\[1\]\.secret: EdDSA is a public-key algorithm/,
  ],
  [
    'two key materials',
    withField(['keys', 0, 'jwk'], {}),
    /^\$\.keys\[0\]: expected exactly one of "secret", "jwk" or "publicKeyPem", got 2/,
  ],
  ['no key material', withField(['keys', 0, 'secret'], undefined), /^\$\.keys\[0\]: expected exactly one of .* got 0/],
  [
    'short secret',
    withField(['keys', 0, 'secret'], 'c2hvcnQ'),
    /^\$\.keys\[0\]\.secret: HS256 needs a secret of at least 32 bytes, got 5/,
  ],
  [
    'secret not base64url',
    withField(['keys', 0, 'secret'], `${SECRET}+/`),
    /^\$\.keys\[0\]\.secret: expected base64url text .*\(value not shown\)/,
  ],
  [
    'HS512 key not allowed',
    withField(['keys', 0], { kid: 'k1', alg: 'HS512', secret: SECRET }),
    /^\$\.keys\[0\]\.alg: HS512 is not in/,
  ],
  [
    'HS512 secret of 34 bytes',
    { version: 1, roles: {}, algorithms: ['HS512'], keys: [{ kid: 'k', alg: 'HS512', secret: SECRET }] },
    /^\$\.keys\[0\]\.secret: HS512 needs a secret of at least 64 bytes, got 34/,
  ],
  [
    'private JWK',
    withField(['keys', 1, 'jwk', 'd'], ED_X),
    /^\$\.keys\[1\]\.jwk: holds private or secret members \(d\)/,
  ],
  [
    'symmetric JWK',
    withField(['keys', 1, 'jwk', 'k'], ED_X),
    /^\$\.keys\[1\]\.jwk: holds private or secret members \(k\)/,
  ],
  [
    'JWK of the wrong type',
    withField(['keys', 1, 'jwk', 'kty'], 'EC'),
    /^\$\.keys\[1\]\.jwk\.kty: EdDSA needs kty "OKP", got string "EC"/,
  ],
  [
    'JWK of the wrong curve',
    withField(['keys', 2, 'jwk', 'crv'], 'P-384'),
    /^\$\.keys\[2\]\.jwk\.crv: ES256 needs crv "P-256"/,
  ],
  [
    'JWK alg mismatch',
    withField(['keys', 2, 'jwk', 'alg'], 'ES384'),
    /^\$\.keys\[2\]\.jwk\.alg: must match the key's alg ES256/,
  ],
  ['JWK for encryption', withField(['keys', 1, 'jwk', 'use'], 'enc'), /^\$\.keys\[1\]\.jwk\.use: must be "sig"/],
  [
    'JWK member missing',
    withField(['keys', 2, 'jwk', 'y'], undefined),
    /^\$\.keys\[2\]\.jwk\.y: expected base64url text, got nothing|undefined/,
  ],
  [
    'short RSA key',
    withField(['keys', 3, 'jwk', 'n'], 'n'.repeat(300)),
    /^\$\.keys\[3\]\.jwk\.n: RSA keys of fewer than 2048 bits/,
  ],
  ['JWK not an object', withField(['keys', 1, 'jwk'], 'x'), /^\$\.keys\[1\]\.jwk: expected a public JWK object/],
  [
    'private PEM',
    withField(['keys', 4, 'publicKeyPem'], '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
    /^\$\.keys\[4\]\.publicKeyPem: a private key does not belong/,
  ],
  ['garbage PEM', withField(['keys', 4, 'publicKeyPem'], 'hello'), /^\$\.keys\[4\]\.publicKeyPem: expected one PEM/],
  [
    'mismatched PEM armour',
    withField(['keys', 4, 'publicKeyPem'], '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n'),
    /^\$\.keys\[4\]\.publicKeyPem: expected one PEM/,
  ],
  ['apiKeys not a list', withField(['apiKeys'], {}), /^\$\.apiKeys: expected an array/],
  ['API key not an object', withField(['apiKeys', 0], 'k'), /^\$\.apiKeys\[0\]: expected an API key object/],
  [
    'API key hash not sha256',
    withField(['apiKeys', 0, 'hash'], 'md5:abcd'),
    /^\$\.apiKeys\[0\]\.hash: expected "sha256:" and 64 hex digits/,
  ],
  [
    'API key plain text',
    withField(['apiKeys', 0, 'hash'], 'ab'.repeat(32)),
    /^\$\.apiKeys\[0\]\.hash: expected "sha256:"/,
  ],
  [
    'API key without sub',
    withField(['apiKeys', 0, 'sub'], undefined),
    /^\$\.apiKeys\[0\]\.sub: expected a non-empty string/,
  ],
  [
    'API key without roles',
    withField(['apiKeys', 0, 'roles'], []),
    /^\$\.apiKeys\[0\]\.roles: expected at least one element/,
  ],
  [
    'API key of an unknown role',
    withField(['apiKeys', 0, 'roles'], ['nobody']),
    /^\$\.apiKeys\[0\]\.roles\[0\]: role "nobody" is not defined/,
  ],
  [
    'API key duplicate id',
    withField(['apiKeys', 1, 'id'], 'ingest-1'),
    /^\$\.apiKeys\[1\]\.id: duplicate id \(also \$\.apiKeys\[0\]\)/,
  ],
  [
    'API key duplicate hash',
    withField(['apiKeys', 1, 'hash'], HASH.toUpperCase().replace('SHA256', 'sha256')),
    /^\$\.apiKeys\[1\]\.hash: duplicate hash/,
  ],
  [
    'node API key without node',
    withField(['apiKeys', 1, 'node'], undefined),
    /^\$\.apiKeys\[1\]\.node: required: a node role needs/,
  ],
  [
    'API key node with a slash',
    withField(['apiKeys', 1, 'node'], 'a/b'),
    /^\$\.apiKeys\[1\]\.node: expected a node name/,
  ],
  ['API key unknown field', withField(['apiKeys', 0, 'key'], 'plain'), /^\$\.apiKeys\[0\]\.key: unknown field/],
  ['missing roles', withField(['roles'], undefined), /^\$\.roles: required/],
  ['roles a list', withField(['roles'], []), /^\$\.roles: expected an object of role name → role, got an array/],
  ['role name with a space', withField(['roles', 'my role'], {}), /^\$\.roles\["my role"\]: role name must be/],
  [
    'role named __proto__',
    JSON.parse('{"version":1,"roles":{"__proto__":{}}}'),
    /^\$\.roles\.__proto__: role name must be/,
  ],
  [
    'role not an object',
    withField(['roles', 'viewer'], true),
    /^\$\.roles\.viewer: expected a role object, got boolean true/,
  ],
  ['unknown role field', withField(['roles', 'viewer', 'subcribe'], {}), /^\$\.roles\.viewer\.subcribe: unknown field/],
  [
    'grant not an object',
    withField(['roles', 'viewer', 'subscribe'], ['demo/']),
    /^\$\.roles\.viewer\.subscribe: expected an object with "allow"/,
  ],
  [
    'unknown grant field',
    withField(['roles', 'viewer', 'subscribe', 'alow'], ['x/']),
    /^\$\.roles\.viewer\.subscribe\.alow: unknown field/,
  ],
  [
    'allow not a list',
    withField(['roles', 'viewer', 'subscribe', 'allow'], 'demo/'),
    /^\$\.roles\.viewer\.subscribe\.allow: expected an array/,
  ],
  [
    'prefix not a string',
    withField(['roles', 'viewer', 'subscribe', 'allow'], ['a/', 7]),
    /^\$\.roles\.viewer\.subscribe\.allow\[1\]: expected a topic prefix/,
  ],
  [
    'prefix with a lone surrogate',
    withField(['roles', 'viewer', 'subscribe', 'deny'], ['a/\ud800']),
    /^\$\.roles\.viewer\.subscribe\.deny\[0\]: prefix is not well-formed/,
  ],
  [
    'prefix too long',
    withField(['roles', 'viewer', 'subscribe', 'allow'], [`${'a'.repeat(5000)}/`]),
    /allow\[0\]: expected a topic prefix \(a string of at most 4096/,
  ],
  [
    'placeholder inside a segment',
    withField(['roles', 'viewer', 'subscribe', 'allow'], ['users/x{sub}/']),
    /allow\[0\]: placeholder \{sub\} must be a whole path segment/,
  ],
  [
    'unknown placeholder',
    withField(['roles', 'viewer', 'subscribe', 'allow'], ['users/{user}/']),
    /allow\[0\]: unknown placeholder \{user\}/,
  ],
  [
    'stores a list',
    withField(['roles', 'viewer', 'stores'], ['x']),
    /^\$\.roles\.viewer\.stores: expected an object mapping store names/,
  ],
  [
    'store permission unknown',
    withField(['roles', 'viewer', 'stores'], { s: 'admin' }),
    /^\$\.roles\.viewer\.stores\.s: expected "read", "write" or "master", got string "admin"/,
  ],
  [
    'store name empty',
    withField(['roles', 'viewer', 'stores'], { '': 'read' }),
    /^\$\.roles\.viewer\.stores\[""\]: store name must be/,
  ],
  [
    'store placeholder inside a segment',
    withField(['roles', 'viewer', 'stores'], { 'p-{sub}': 'read' }),
    /stores\["p-\{sub\}"\]: placeholder \{sub\} must be a whole path segment/,
  ],
  [
    'limits unknown field',
    withField(['roles', 'viewer', 'limits'], { rate: 5 }),
    /^\$\.roles\.viewer\.limits\.rate: unknown field/,
  ],
  [
    'negative rate',
    withField(['roles', 'viewer', 'limits'], { publishRate: -1 }),
    /limits\.publishRate: expected an integer from 0/,
  ],
  [
    'zero subscriptions',
    withField(['roles', 'viewer', 'limits'], { maxSubscriptions: 0 }),
    /limits\.maxSubscriptions: expected an integer from 1/,
  ],
  ['limits not an object', withField(['roles', 'viewer', 'limits'], 5), /limits: expected an object of limits/],
  [
    'role lifetime not a number',
    withField(['roles', 'viewer', 'maxTokenLifetimeSeconds'], '15m'),
    /viewer\.maxTokenLifetimeSeconds: expected an integer/,
  ],
  [
    'node flag not a boolean',
    withField(['roles', 'viewer', 'node'], 'yes'),
    /^\$\.roles\.viewer\.node: expected true or false/,
  ],
  [
    'strict flag not a boolean',
    withField(['roles', 'viewer', 'strict'], 1),
    /^\$\.roles\.viewer\.strict: expected true or false/,
  ],
  [
    'reserved read next to a broader allow',
    withField(['roles', 'viewer', 'subscribe', 'allow'], ['', 'isobroker/stats/']),
    /viewer\.subscribe\.allow\[1\]: "isobroker\/stats\/" cannot be granted next to ""/,
  ],
  [
    'reserved read next to zeek/',
    withField(['roles', 'viewer', 'subscribe', 'allow'], ['zeek/', 'zeek/logs/conn/']),
    /allow\[1\]: "zeek\/logs\/conn\/" cannot be granted next to "zeek\/"/,
  ],
  [
    'anonymous not a role',
    withField(['anonymous'], 'guest'),
    /^\$\.anonymous: role "guest" is not defined in \$\.roles/,
  ],
  [
    'anonymous a node role',
    withField(['anonymous'], 'worker'),
    /^\$\.anonymous: role "worker" is a node or router role/,
  ],
  ['anonymous a router role', withField(['anonymous'], 'hub'), /^\$\.anonymous: role "hub" is a node or router role/],
  ['anonymous not a string', withField(['anonymous'], true), /^\$\.anonymous: expected a non-empty string/],
  ['revocations a list', withField(['revocations'], []), /^\$\.revocations: expected an object/],
  ['revocations unknown field', withField(['revocations', 'subs'], {}), /^\$\.revocations\.subs: unknown field/],
  ['revoked jti not a list', withField(['revocations', 'jti'], 'x'), /^\$\.revocations\.jti: expected an array/],
  [
    'revoked subject without a zone',
    withField(['revocations', 'subjects'], { a: '2026-01-01T00:00:00' }),
    /^\$\.revocations\.subjects\.a: expected an ISO 8601 instant with a zone/,
  ],
  [
    'revoked subject at a number',
    withField(['revocations', 'subjects'], { a: 1700000000 }),
    /^\$\.revocations\.subjects\.a: expected an ISO 8601 instant/,
  ],
  [
    'revoked subject at no date',
    withField(['revocations', 'subjects'], { a: '2026-13-45T00:00:00Z' }),
    /^\$\.revocations\.subjects\.a:/,
  ],
  [
    'revoked API keys not a list',
    withField(['revocations', 'apiKeys'], 'ingest-1'),
    /^\$\.revocations\.apiKeys: expected an array/,
  ],
  ['origin null', withField(['origins'], ['null']), /^\$\.origins\[0\]: expected an exact origin/],
  ['origin *', withField(['origins'], ['*']), /^\$\.origins\[0\]: expected an exact origin/],
  [
    'origin with a slash',
    withField(['origins'], ['https://a.example.com/']),
    /^\$\.origins\[0\]: expected an exact origin/,
  ],
  [
    'origin in upper case',
    withField(['origins'], ['https://A.example.com']),
    /^\$\.origins\[0\]: expected an exact origin/,
  ],
  [
    'origin of another scheme',
    withField(['origins'], ['ftp://a.example.com']),
    /^\$\.origins\[0\]: expected an exact origin/,
  ],
  [
    'origin with a path',
    withField(['origins'], ['https://a.example.com/x']),
    /^\$\.origins\[0\]: expected an exact origin/,
  ],
  [
    'cookie without origins',
    withField(['origins'], undefined),
    /^\$\.cookie: cookie authentication needs a non-empty "origins"/,
  ],
  ['cookie with empty origins', withField(['origins'], []), /^\$\.cookie: cookie authentication needs/],
  ['cookie name with a space', withField(['cookie', 'name'], 'my token'), /^\$\.cookie\.name: expected a cookie name/],
  ['cookie unknown field', withField(['cookie', 'path'], '/'), /^\$\.cookie\.path: unknown field/],
];

describe('parsePolicy: invalid files', () => {
  it.each(INVALID)('refuses %s', (_what, input, expected) => {
    const errors = errorsOf(input);
    expect(
      errors.some((e) => expected.test(e)),
      errors.join('\n'),
    ).toBe(true);
  });

  it('lists every error at once, each with its path', () => {
    const errors = errorsOf({
      version: 2,
      algorithms: ['none'],
      keys: [{ kid: 'k', alg: 'HS256', secret: 'short' }],
      roles: { a: { publish: { allow: [1] } }, b: { stores: { x: 'all' } } },
      anonymous: 'c',
      origins: ['*'],
    });
    expect(errors.map((e) => e.slice(0, e.indexOf(':')))).toEqual([
      '$.version',
      '$.algorithms[0]',
      '$.keys[0].secret',
      '$.roles.a.publish.allow[0]',
      '$.roles.b.stores.x',
      '$.origins[0]',
    ]);
  });

  it('names no secret in any message', () => {
    const secret = `${'s3cr3t'.repeat(8)}+`;
    const errors = errorsOf(withField(['keys', 0, 'secret'], secret));
    expect(errors.join('\n')).not.toContain('s3cr3t');
    const pem = errorsOf(
      withField(
        ['keys', 4, 'publicKeyPem'],
        `-----BEGIN PRIVATE KEY-----\n${'Zm9v'.repeat(10)}\n-----END PRIVATE KEY-----`,
      ),
    );
    expect(pem.join('\n')).not.toContain('Zm9v');
    const jwk = errorsOf(withField(['keys', 1, 'jwk', 'd'], 'PRIVATEPART'));
    expect(jwk.join('\n')).not.toContain('PRIVATEPART');
  });

  it('caps the list of errors and says how many more there were', () => {
    const roles: Record<string, unknown> = {};
    for (let i = 0; i < 1500; i++) roles[`r${i}`] = { node: 'x' };
    const errors = errorsOf({ version: 1, roles });
    expect(errors).toHaveLength(1001);
    expect(errors.at(-1)).toBe('(500 more errors not listed)');
  });

  it('never throws for hostile objects', () => {
    const getter = { version: 1 } as Record<string, unknown>;
    Object.defineProperty(getter, 'roles', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(errorsOf(getter).at(-1)).toMatch(/^\$: cannot read the policy/);
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    expect(errorsOf(proxy).length).toBeGreaterThan(0);
    const deep: Record<string, unknown> = { version: 1, roles: {} };
    let cur = deep;
    for (let i = 0; i < 10000; i++) cur = cur.next = {} as Record<string, unknown>;
    expect(errorsOf(deep)).toEqual([
      '$.next: unknown field (expected one of version, issuer, audience, algorithms, clockToleranceSeconds, maxTokenLifetimeSeconds, keys, apiKeys, certificates, roles, anonymous, revocations, origins, cookie)',
    ]);
  });
});

describe('decodeBase64Url', () => {
  it('decodes RFC 4648 vectors and refuses what is not base64url', () => {
    const text = (s: string) => new TextDecoder().decode(decodeBase64Url(s));
    expect(text('Zm9vYmFy')).toBe('foobar');
    expect(text('Zm9vYg')).toBe('foob');
    expect(text('Zm8')).toBe('fo');
    expect(decodeBase64Url('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(decodeBase64Url('Zm9v+')).toBeUndefined();
    expect(decodeBase64Url('Z')).toBeUndefined();
    expect(decodeBase64Url('')).toBeUndefined();
  });
});
