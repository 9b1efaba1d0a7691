/**
 * Fuzzing the policy loader and the principals it yields: generated policy files (roles with
 * grants full of reserved prefixes, placeholders, separators and junk; API keys; anonymous roles;
 * revocations), the same with random parts replaced or deleted, their JSON text with characters
 * flipped, and plain random JSON.
 *
 * Asserted for every input:
 * - `parsePolicy` never throws and gives either a policy or a non-empty list of errors;
 * - in an accepted policy, no principal without a node role — from any role, all roles at once,
 *   the anonymous role, or a token adding random claim grants, for subjects such as `isobroker`,
 *   `a/b`, `..` and `*` — may publish on a reserved prefix, nor read one except through a subscribe
 *   prefix written inside it; nobody at all reaches `<$>/local/`;
 * - an anonymous principal exists exactly when the file's `anonymous` names a role it defines.
 *
 * Reproducible: the seed is fixed unless `FUZZ_SEED` is set, and fast-check prints it on failure.
 * `ISOBROKER_LOAD=1` runs ten times as many inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOCAL_ONLY_PREFIXES, NODE_ONLY_PREFIXES, parsePolicy, type Policy } from '../../src/auth/policy.js';
import { anonymousPrincipal, principalFromClaims, principalFromRoles } from '../../src/auth/principal.js';
import { substitute, type SubstitutionValues } from '../../src/auth/substitute.js';
import { AuthError, type Principal } from '../../src/auth/types.js';

const DEFAULT_SEED = 0x9011c7;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED;
const RUNS = process.env.ISOBROKER_LOAD === '1' ? 200_000 : 20_000;
/** Generous: ~0.3 ms an input on an idle two-core machine; loaded CI machines run up to 8× slower. */
const TIMEOUT_MS = 60_000 + RUNS * 10;
const NOW = Date.parse('2026-06-01T12:00:00Z');

const PREFIXES = [
  '',
  'z',
  'zeek',
  'zeek/',
  'zeek/cluster/',
  'zeek/cluster/node/',
  'zeek/cluster/node/{node}/',
  'zeek/logs',
  'zeek/logs/',
  'zeek/logs/conn/',
  'zeek/logsecret/',
  'isob',
  'isobroker',
  'isobroker/',
  'isobroker/stats/',
  'isobroker/{sub}/',
  '<$>/',
  '<$>/local/',
  '<$>/local/x/',
  '<$>/store/',
  'demo/',
  '{sub}/',
  '{sub}',
  '{node}/',
  'users/{sub}/',
  'users/{sub}/private/',
  'x{sub}/',
  '{user}/',
  '\ud800/',
  'ü/🎉/',
];
const ROLE_NAMES = ['a', 'b', 'viewer', 'dashboard', 'worker', 'manager', 'hub', 'logger', '__proto__', 'bad name', ''];
const SUBJECTS = ['alice', 'isobroker', 'zeek', 'a/b', '..', '*', '.', '<$>', 'x{sub}', 'isobroker/stats'];
const JUNK: unknown[] = [null, 0, -1, 1.5, 1e300, '', 'x', 'none', [], {}, true, [''], { allow: 5 }, '__proto__'];

/** Atoms a valid policy may use, and atoms that make it invalid (`wild` mixes both). */
const VALID_PREFIXES = PREFIXES.filter((p) => !['x{sub}/', '{user}/', '\ud800/'].includes(p));
const VALID_ROLE_NAMES = ROLE_NAMES.filter((n) => /^[a-z]+$/.test(n));

function policyArbOf(valid: boolean) {
  const pick = <T>(good: readonly T[], all: readonly T[]) => fc.constantFrom(...(valid ? good : all));
  const prefixArb = valid
    ? pick(VALID_PREFIXES, PREFIXES)
    : fc.oneof(
        { weight: 4, arbitrary: pick(VALID_PREFIXES, PREFIXES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      );
  const grantArb = fc.record(
    { allow: fc.array(prefixArb, { maxLength: 5 }), deny: fc.array(prefixArb, { maxLength: 2 }) },
    { requiredKeys: [] },
  );
  const storesArb = fc.dictionary(
    pick(['*', 's', '{sub}', 'prefs/{sub}', '{node}'], ['*', 's', '{sub}', 'x{sub}', '']),
    pick(['read', 'write', 'master'], ['read', 'write', 'master', 'admin']),
    { maxKeys: 3 },
  );
  const limitsArb = fc.record(
    {
      publishRate: fc.integer({ min: valid ? 0 : -1, max: 100 }),
      publishBurst: fc.integer({ min: valid ? 1 : 0, max: 100 }),
      maxSubscriptions: fc.integer({ min: valid ? 1 : 0, max: 100 }),
      storeCommandsInFlight: fc.integer({ min: valid ? 1 : 0, max: 100 }),
    },
    { requiredKeys: [] },
  );
  const roleArb = fc.record(
    {
      publish: grantArb,
      subscribe: grantArb,
      stores: storesArb,
      limits: limitsArb,
      maxTokenLifetimeSeconds: fc.integer({ min: valid ? 1 : 0, max: 100_000 }),
      node: fc.boolean(),
      router: fc.boolean(),
      strict: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const roleNameArb = pick(VALID_ROLE_NAMES, ROLE_NAMES);
  return fc
    .record(
      {
        version: valid ? fc.constant<unknown>(1) : fc.constantFrom<unknown>(1, 1, 2, '1'),
        roles: fc.dictionary(roleNameArb, roleArb, { maxKeys: 5 }),
        anonymous: valid ? roleNameArb : fc.oneof(roleNameArb, fc.constantFrom<unknown>(null, 5, '')),
        algorithms: valid
          ? fc.constantFrom(['HS256'], ['HS256', 'EdDSA'])
          : fc.array(fc.constantFrom('HS256', 'EdDSA', 'none', 'HS1'), { minLength: 1, maxLength: 2 }),
        keys: fc.array(
          fc.record({
            kid: pick(['k1'], ['k1', 'k2', '']),
            alg: pick(['HS256'], ['HS256', 'EdDSA', 'none']),
            secret: pick(
              ['c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA'],
              ['c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', 'short', 5],
            ),
          }),
          { maxLength: 1 },
        ),
        apiKeys: fc.array(
          fc.record(
            {
              id: fc.constantFrom('i1', 'i2'),
              hash: pick(
                [`sha256:${'ab'.repeat(32)}`],
                [`sha256:${'ab'.repeat(32)}`, `sha256:${'cd'.repeat(32)}`, 'plain'],
              ),
              sub: fc.constantFrom(...SUBJECTS),
              roles: fc.array(roleNameArb, { maxLength: 2 }),
              node: pick<unknown>(['n1'], ['n1', 'a/b', null]),
            },
            { requiredKeys: ['id', 'hash', 'sub', 'roles'] },
          ),
          { maxLength: valid ? 0 : 2 },
        ),
        revocations: fc.record(
          {
            jti: fc.array(fc.constantFrom('j1', 'j2'), { maxLength: 2 }),
            subjects: fc.dictionary(
              fc.constantFrom(...SUBJECTS),
              pick(['2026-01-01T00:00:00Z'], ['2026-01-01T00:00:00Z', 'yesterday']),
            ),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['version', 'roles'] },
    )
    .chain((policy) => {
      // A valid policy's anonymous role (when it has one) is one of its roles.
      const names = Object.keys(policy.roles);
      if (!valid || names.length === 0) return fc.constant(policy);
      return fc.option(fc.constantFrom(...names), { nil: undefined }).map((anonymous) => {
        const { anonymous: _, ...rest } = policy;
        return anonymous === undefined ? rest : { ...rest, anonymous };
      });
    });
}

const validArb = policyArbOf(true);
const wildArb = policyArbOf(false);
const roleNameArb = fc.constantFrom(...ROLE_NAMES);
const grantArb = fc.record(
  {
    allow: fc.array(fc.constantFrom(...PREFIXES), { maxLength: 4 }),
    deny: fc.array(fc.constantFrom(...PREFIXES), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const storesArb = fc.dictionary(fc.constantFrom('*', 's', '{sub}', 'x{sub}'), fc.constantFrom('read', 'master', 'x'), {
  maxKeys: 3,
});

/** Replaces or deletes `count` random nodes of `json` (a deep copy). */
function mutate(json: unknown, picks: readonly number[]): unknown {
  const root = structuredClone(json) as Record<string, unknown>;
  for (let i = 0; i + 2 < picks.length; i += 3) {
    let node: unknown = root;
    let parent: Record<string | number, unknown> | undefined;
    let key: string | number | undefined;
    for (let depth = 0; depth < picks[i]! % 6; depth++) {
      if (typeof node !== 'object' || node === null) break;
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      parent = node as Record<string | number, unknown>;
      key = keys[picks[i + 1]! % keys.length]!;
      node = parent[key];
    }
    if (parent === undefined || key === undefined) continue;
    const what = picks[i + 2]! % (JUNK.length + PREFIXES.length + 1);
    if (what === 0) delete parent[key];
    else if (what <= JUNK.length) parent[key] = structuredClone(JUNK[what - 1]);
    else parent[key] = PREFIXES[what - JUNK.length - 1];
  }
  return root;
}

/** Flips characters of the JSON text; what still parses is the input. */
function textMutate(json: unknown, picks: readonly number[]): unknown {
  const chars = [...JSON.stringify(json)];
  const pool = '{}[]":,0 1ae\\/';
  for (let i = 0; i + 1 < picks.length; i += 2) chars[picks[i]! % chars.length] = pool[picks[i + 1]! % pool.length]!;
  try {
    return JSON.parse(chars.join(''));
  } catch {
    return chars.join('');
  }
}

const inputArb = fc.oneof(
  { weight: 5, arbitrary: validArb },
  { weight: 2, arbitrary: wildArb },
  {
    weight: 2,
    arbitrary: fc.tuple(validArb, fc.array(fc.nat(), { minLength: 3, maxLength: 9 })).map(([p, k]) => mutate(p, k)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(validArb, fc.array(fc.nat(), { minLength: 2, maxLength: 6 })).map(([p, k]) => textMutate(p, k)),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

const claimArb = fc.record(
  {
    roles: fc.array(roleNameArb, { maxLength: 3 }),
    publish: grantArb,
    subscribe: grantArb,
    stores: storesArb,
    node: fc.constantFrom<unknown>('n1', null, 'a/b'),
  },
  { requiredKeys: [] },
);

const SUFFIXES = ['', 'x', 'n1/', 'stats/a', 'node/n1/x', 'conn', 'stats/x/', 'alice/'];

/** Throws when `cond` is false (plain checks: `expect` in these hot loops would dominate the run time). */
function check(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

/** Checks the reserved-prefix rules on one principal; `templates` are its subscribe allow templates. */
function checkReserved(
  p: Principal,
  isNode: boolean,
  templates: readonly string[],
  values: SubstitutionValues,
  what: string,
): void {
  for (const r of LOCAL_ONLY_PREFIXES) {
    for (const s of SUFFIXES) {
      check(!p.publish.allows(r + s), `${what} may publish ${r + s}`);
      check(!p.subscribe.allows(r + s), `${what} may subscribe ${r + s}`);
    }
  }
  if (isNode) return;
  for (const r of NODE_ONLY_PREFIXES) {
    const explicit = templates.some((t) => t.startsWith(r));
    // What prefixes written inside r expand to: the only way into r for a reader.
    const inside = templates.filter((t) => t.startsWith(r)).flatMap((t) => substitute(t, values) ?? []);
    for (const s of SUFFIXES) {
      check(!p.publish.allows(r + s), `${what} (not a node) may publish ${r + s}`);
      check(
        !p.subscribe.allows(r + s) || inside.some((v) => (r + s).startsWith(v)),
        `${what} (not a node) may subscribe ${r + s}`,
      );
    }
    if (!explicit) check(p.subscribe.narrow(r).kind === 'refuse', `${what} (not a node): ${r} is not refused`);
  }
}

function templatesOf(policy: Policy, roles: readonly string[], extra: readonly string[] = []): string[] {
  return [...roles.flatMap((r) => policy.roles.get(r)?.subscribe.allow ?? []), ...extra];
}

/** Runs every check on one input; true when the policy was accepted. */
function checkPolicy(input: unknown, sub: string, claim: Record<string, unknown>): boolean {
  let result: ReturnType<typeof parsePolicy>;
  try {
    result = parsePolicy(input);
  } catch (err) {
    throw new Error(`parsePolicy threw: ${String(err)}`);
  }
  if (result.policy === undefined) {
    check(result.errors.length > 0 && result.errors.every((e) => typeof e === 'string'), 'no errors listed');
    return false;
  }
  const policy = result.policy;
  const names = [...policy.roles.keys()];
  for (const name of names) {
    const role = policy.roles.get(name)!;
    const p = principalFromRoles(policy, { sub, roles: [name], node: 'n1', method: 'certificate' });
    if (p instanceof AuthError) throw p;
    checkReserved(p, role.node, templatesOf(policy, [name]), { sub, node: 'n1' }, `role ${name}`);
  }
  if (names.length > 1) {
    const all = principalFromRoles(policy, { sub, roles: names, node: 'n1', method: 'certificate' });
    if (all instanceof AuthError) throw all;
    checkReserved(
      all,
      names.some((n) => policy.roles.get(n)!.node),
      templatesOf(policy, names),
      { sub, node: 'n1' },
      'all roles',
    );
  }

  const anon = anonymousPrincipal(policy);
  const named = (input as { anonymous?: unknown }).anonymous;
  const expectAnon = typeof named === 'string' && policy.roles.has(named);
  check(anon instanceof AuthError === !expectAnon, 'anonymous principal iff "anonymous" names a role');
  if (!(anon instanceof AuthError)) {
    check(anon.roles.length === 1 && anon.roles[0] === named, 'anonymous principal of another role');
    check(anon.node === null && !anon.router, 'anonymous principal is a node or router');
    checkReserved(anon, false, templatesOf(policy, [named as string]), {}, 'anonymous');
  }

  const token = principalFromClaims(policy, { sub, iat: NOW / 1000 - 10, exp: NOW / 1000 + 60, isb: claim }, NOW);
  if (!(token instanceof AuthError)) {
    const extra = (claim.subscribe as { allow?: string[] } | undefined)?.allow ?? [];
    const isNode = token.roles.some((r) => policy.roles.get(r)!.node);
    checkReserved(token, isNode, templatesOf(policy, token.roles, extra), { sub, node: token.node }, 'token');
    check(isNode || token.node === null, 'a token principal without a node role has a node name');
  }
  return true;
}

describe('policy loader fuzz', () => {
  it(
    `never throws, and never grants reserved prefixes or anonymous access it was not given (${RUNS} inputs)`,
    () => {
      let accepted = 0;
      fc.assert(
        fc.property(inputArb, fc.constantFrom(...SUBJECTS), claimArb, (input, sub, claim) => {
          if (checkPolicy(input, sub, claim)) accepted++;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // The generators must reach accepted policies often enough for the grant checks to mean something.
      expect(accepted).toBeGreaterThan(RUNS / 10);
    },
    TIMEOUT_MS,
  );
});
