/**
 * Fuzz of token verification and claim validation (seeded by fast-check; the seed is printed on
 * failure): mutated good tokens (characters changed, inserted, deleted; parts swapped, duplicated,
 * cut), forged headers (alg `none`, other algorithms, odd kids, wrong types), and random claim
 * sets signed with the right key, through `verifyToken` and the whole authenticator. Nothing may
 * throw but an `AuthError` with a known code, no message may quote the token, and a token is
 * accepted only with claims that a key holder signed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../../src/auth/policy.js';
import { AUTH_ERROR_CODES, AuthError, type ConnectionInfo } from '../../../src/auth/types.js';
import { createAuthenticator } from '../../../src/node/auth/authenticator.js';
import { verifyToken } from '../../../src/node/auth/jwt.js';

const LOAD = process.env.ISOBROKER_LOAD === '1';
/** Runs per property: 3 properties × 2,000 = 6,000 tokens at CI size. */
const RUNS = LOAD ? 50_000 : 2_000;
/** Thousands of async verifications: generous on a loaded 2-core machine (alone each takes < 1 s). */
const FUZZ_TIMEOUT_MS = LOAD ? 600_000 : 60_000;

const NOW = Date.UTC(2026, 11, 2, 8, 0, 0);
const sec = (ms: number): number => Math.floor(ms / 1000);
const CONN: ConnectionInfo = { ip: '127.0.0.2', remote: '127.0.0.2:1', protocol: 'json' };
const secret = randomBytes(32);
const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const hmac = (input: string): string => createHmac('sha256', secret).update(input).digest('base64url');

let policy: Policy;
let goodHs: string;
let goodEd: string;
/** The claim sets a key holder signed (JSON), which an accepted token must carry. */
const signed = new Set<string>();
let verified = 0;

beforeAll(async () => {
  const ed = await generateKeyPair('EdDSA', { extractable: true });
  const r = parsePolicy({
    version: 1,
    algorithms: ['HS256', 'EdDSA'],
    keys: [
      { kid: 'k1', alg: 'HS256', secret: secret.toString('base64url') },
      { kid: 'ed', alg: 'EdDSA', jwk: await exportJWK(ed.publicKey) },
    ],
    roles: { dashboard: { subscribe: { allow: ['demo/'] }, maxTokenLifetimeSeconds: 3600 } },
  });
  if (!r.policy) throw new Error(r.errors.join('\n'));
  policy = r.policy;
  const claims = { sub: 'alice', iat: sec(NOW), exp: sec(NOW) + 600, isb: { roles: ['dashboard'] } };
  signed.add(JSON.stringify(claims));
  goodHs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
  goodEd = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: 'ed' }).sign(ed.privateKey);
});

/** Checks one outcome of verifying `token`: a payload a key holder signed, or a clean AuthError. */
async function check(token: string, run: () => Promise<unknown>, acceptable: (payload: unknown) => boolean) {
  verified++;
  let outcome: unknown;
  let failed = false;
  try {
    outcome = await run();
  } catch (err) {
    failed = true;
    outcome = err;
  }
  if (!failed) {
    expect(acceptable(outcome), `accepted ${JSON.stringify(token).slice(0, 200)}`).toBe(true);
    return;
  }
  expect(outcome, `threw ${String(outcome)}`).toBeInstanceOf(AuthError);
  const e = outcome as AuthError;
  expect(AUTH_ERROR_CODES).toContain(e.code);
  for (const part of new Set(token.split('.'))) {
    if (part.length >= 12 && e.message.includes(part)) expect.fail(`the message quotes the token: ${e.message}`);
  }
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const charArb = fc.oneof(
  fc.constantFrom(...B64URL.split('')),
  fc.constantFrom('.', '=', '+', '/', ' ', '\n', '\0', '%', 'é', '\u{1F600}', '\uD800'),
);

/** One edit of a string. */
const editArb = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), c: charArb }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), c: charArb }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('parts' as const), order: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 5 }) }),
  fc.record({ op: fc.constant('repeat' as const), n: fc.integer({ min: 2, max: 60 }) }),
);
type Edit = typeof editArb extends fc.Arbitrary<infer T> ? T : never;

function apply(token: string, e: Edit): string {
  const at = 'at' in e ? e.at % (token.length + 1) : 0;
  switch (e.op) {
    case 'set':
      return token.slice(0, at) + e.c + token.slice(at + 1);
    case 'insert':
      return token.slice(0, at) + e.c + token.slice(at);
    case 'delete':
      return token.slice(0, at) + token.slice(at + e.n);
    case 'cut':
      return token.slice(0, at);
    case 'parts': {
      const parts = token.split('.');
      return e.order.map((i) => parts[i] ?? '').join('.');
    }
    case 'repeat':
      // Past the 8 KiB limit, but bounded: 64 KiB at most.
      return token.repeat(e.n).slice(0, 64 * 1024);
  }
}

const payloadOf = (token: string): string | undefined => {
  try {
    return JSON.stringify(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')));
  } catch {
    return undefined;
  }
};

describe('verifyToken fuzz', () => {
  it(
    'mutated good tokens: accepted only with the claims that were signed, else a clean AuthError',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.array(editArb, { minLength: 1, maxLength: 4 }), async (hs, edits) => {
          const base = hs ? goodHs : goodEd;
          const token = edits.reduce(apply, base);
          await check(
            token,
            () => verifyToken(token, policy, NOW),
            () => signed.has(payloadOf(token) ?? ''),
          );
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  const kidArb = fc.oneof(
    fc.constantFrom('k1', 'ed', 'k2', '', '__proto__', 'constructor', 'toString', 'x'.repeat(5000)),
    fc.string(),
    fc.integer(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
  );
  const algArb = fc.oneof(
    fc.constantFrom('none', 'None', 'HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'RS256', 'hs256', 'HS256 '),
    fc.string(),
    fc.constant(null),
    fc.integer(),
  );
  const headerArb = fc.record(
    {
      alg: algArb,
      kid: kidArb,
      typ: fc.constantFrom('JWT', 'at+jwt', 'x'),
      crit: fc.array(fc.string(), { maxLength: 2 }),
      b64: fc.boolean(),
      jwk: fc.constant({ kty: 'oct', k: secret.toString('base64url') }),
    },
    { requiredKeys: [] },
  );

  it(
    'forged headers (alg none, other algorithms, odd kids) signed with the HMAC secret never pass unless they are the plain good header',
    async () => {
      await fc.assert(
        fc.asyncProperty(headerArb, fc.constantFrom('', 'sig', 'hmac'), async (header, sigKind) => {
          const claims = b64(JSON.stringify({ sub: 'mallory', iat: sec(NOW), exp: sec(NOW) + 60 }));
          const input = `${b64(JSON.stringify(header))}.${claims}`;
          const sig = sigKind === '' ? '' : sigKind === 'sig' ? randomBytes(32).toString('base64url') : hmac(input);
          const token = `${input}.${sig}`;
          const plain =
            sigKind === 'hmac' &&
            header.alg === 'HS256' &&
            header.kid === 'k1' &&
            header.crit === undefined &&
            header.b64 === undefined;
          await check(
            token,
            () => verifyToken(token, policy, NOW),
            () => plain,
          );
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'random claim sets signed with the right key: the authenticator refuses or accepts cleanly',
    async () => {
      const { authenticate } = createAuthenticator({ current: policy }, { now: () => NOW });
      const numeric = fc.oneof(
        fc.integer({ min: sec(NOW) - 4000, max: sec(NOW) + 4000 }),
        fc.double(),
        fc.constantFrom(-1, 0, 1e300, Number.MAX_SAFE_INTEGER),
        fc.string(),
        fc.constant(null),
      );
      const isbArb = fc.oneof(
        fc.record(
          {
            roles: fc.oneof(
              fc.constant(['dashboard']),
              fc.array(fc.constantFrom('dashboard', 'root', ''), { maxLength: 3 }),
              fc.jsonValue(),
            ),
            node: fc.oneof(fc.constant(null), fc.string(), fc.constant('w/1'), fc.jsonValue()),
            publish: fc.oneof(fc.record({ allow: fc.array(fc.string(), { maxLength: 3 }) }), fc.jsonValue()),
            subscribe: fc.jsonValue(),
            stores: fc.oneof(
              fc.dictionary(fc.string(), fc.constantFrom('read', 'write', 'master', 'root')),
              fc.jsonValue(),
            ),
            limits: fc.jsonValue(),
            strict: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      );
      const claimsArb = fc.record(
        {
          sub: fc.oneof(fc.constant('alice'), fc.string(), fc.jsonValue()),
          exp: numeric,
          iat: numeric,
          nbf: numeric,
          jti: fc.oneof(fc.string(), fc.jsonValue()),
          iss: fc.string(),
          aud: fc.oneof(fc.string(), fc.array(fc.string())),
          isb: isbArb,
          __proto__: fc.jsonValue(),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(claimsArb, fc.jsonValue()), async (claims) => {
          const input = `${b64(JSON.stringify({ alg: 'HS256', kid: 'k1' }))}.${b64(JSON.stringify(claims))}`;
          const token = `${input}.${hmac(input)}`;
          await check(
            token,
            () => authenticate({ kind: 'bearer', value: token }, CONN),
            (p) => {
              // Accepted: a principal for a claim set with a string sub and a numeric exp in force.
              const c = claims as JWTPayload;
              const principal = p as { sub: string; expiresAt: number };
              return (
                typeof c === 'object' &&
                c !== null &&
                principal.sub === c.sub &&
                typeof c.exp === 'number' &&
                principal.expiresAt === c.exp * 1000 &&
                c.exp * 1000 + 30_000 > NOW
              );
            },
          );
        }),
        { numRuns: RUNS },
      );
      expect(verified).toBeGreaterThanOrEqual(3 * RUNS);
    },
    FUZZ_TIMEOUT_MS,
  );
});
