/**
 * The policy model: what a hub's policy file (JSON) says about who may connect and what they may
 * do, and `parsePolicy`, its validator. Pure: the Node adapter reads the file, `JSON.parse`s it and
 * calls `parsePolicy`; an invalid policy is never used (at start the hub exits listing every
 * error; on a reload the last good policy stays).
 *
 * The file, field by field (unknown fields are errors, so a typo never silently grants or drops
 * anything):
 *
 * ```jsonc
 * {
 *   "version": 1,                                  // required
 *   "issuer": "https://auth.example.com",          // tokens' "iss" must equal it (when given)
 *   "audience": "isobroker",                       // or ["a", "b"]: a token's "aud" must name one
 *   "algorithms": ["HS256"],                       // default ["HS256"]; see JWT_ALGORITHMS; never "none"
 *   "clockToleranceSeconds": 30,                   // exp / nbf / iat slack, 0–600, default 30
 *   "maxTokenLifetimeSeconds": 86400,              // exp − iat cap for every token, default 1 day
 *   "keys": [                                      // token keys by "kid" (two overlap in a rotation)
 *     { "kid": "k1", "alg": "HS256", "secret": "<base64url, ≥ 32 bytes>" },
 *     { "kid": "ext", "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "…" } },
 *     { "kid": "rsa", "alg": "RS256", "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n…" }
 *   ],
 *   "apiKeys": [                                   // long-lived keys, stored as SHA-256 of the key text
 *     { "id": "ingest-1", "hash": "sha256:<64 hex>", "sub": "ingest", "roles": ["ingest"], "node": "w1"? }
 *   ],
 *   "certificates": {                              // verified client certificate subject CN → principal
 *     "hub-b": { "sub": "hub-b"?, "roles": ["hub"], "node": "hub-b"? }  // sub defaults to the CN
 *   },
 *   "roles": {                                     // required (may be {})
 *     "dashboard": {
 *       "publish":   { "allow": ["demo/"], "deny": ["demo/secret/"] },
 *       "subscribe": { "allow": ["demo/", "isobroker/stats/", "users/{sub}/"] },
 *       "stores":    { "ui_prefs": "write", "*": "read", "prefs/{sub}": "master" },
 *       "limits":    { "publishRate": 100, "publishBurst": 200, "maxSubscriptions": 64, "storeCommandsInFlight": 16 },
 *       "maxTokenLifetimeSeconds": 900,
 *       "strict": false,                           // true: too-broad subscriptions are refused, not narrowed
 *       "node": false,                             // cluster node role (see below)
 *       "router": false                            // may open router links
 *     }
 *   },
 *   "anonymous": "viewer",                         // role of clients without a credential; absent: refused
 *   "revocations": {
 *     "jti": ["<token id>"],
 *     "subjects": { "alice": "2026-01-01T00:00:00Z" }, // her tokens issued before this instant are revoked
 *     "apiKeys": ["ingest-1"]
 *   },
 *   "origins": ["https://dash.example.com"],       // browser Origin allowlist (exact origins)
 *   "cookie": { "name": "isobroker_token" }        // token cookie; needs "origins"
 * }
 * ```
 *
 * Topic grants are byte prefixes (`zeek/logs` also covers `zeek/logsecret`: the loader warns about
 * allow prefixes not ending in `/`); a deny wins over every allow. `{sub}` and `{node}` stand for
 * the principal's subject and node name as whole path segments (see `substitute.ts`). Roles
 * named `manager`, `logger`, `proxy`, `worker` and `hub` are node and router roles unless they say
 * `"node": false` / `"router": false`. A node role may publish (and read) the reserved prefixes
 * `zeek/cluster/`, `zeek/logs/` and `isobroker/` and must come with a node name; every other
 * principal is denied publishing there whatever its grants say, and may read there only through
 * subscribe prefixes written inside the reserved prefix (e.g. `isobroker/stats/`). `<$>/local/` is
 * refused to every remote principal. How roles and token claims combine: see `principal.ts`.
 */
import { checkAlgorithm, checkKeys, type JwtAlgorithm } from './policy-keys.js';
import {
  DEFAULT_ALGORITHMS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  NODE_ONLY_PREFIXES,
  LOCAL_ONLY_PREFIXES,
  NODE_ROLE_NAMES,
  POLICY_VERSION,
  type ApiKeyEntry,
  type Policy,
  type PolicyParseResult,
  type RoleDef,
} from './policy-model.js';
import { checkApiKeys, checkCertificates, checkCookie, checkOrigins, checkRevocations } from './policy-sections.js';
import {
  checkArray,
  checkBool,
  checkGrant,
  checkInt,
  checkKnownKeys,
  checkLimits,
  checkStores,
  checkString,
  checkStringList,
  describe,
  field,
  isRecord,
  keyPath,
  Problems,
} from './policy-validate.js';
import type { Grant } from './types.js';

export * from './policy-model.js';
export { parseInstant } from './policy-sections.js';
export { JWT_ALGORITHMS, type JwtAlgorithm, type PolicyKey, type PublicJwk } from './policy-keys.js';
export type { LimitsSpec, StoreGrants } from './policy-validate.js';

const TOP_KEYS = [
  'version',
  'issuer',
  'audience',
  'algorithms',
  'clockToleranceSeconds',
  'maxTokenLifetimeSeconds',
  'keys',
  'apiKeys',
  'certificates',
  'roles',
  'anonymous',
  'revocations',
  'origins',
  'cookie',
];
const ROLE_KEYS = ['publish', 'subscribe', 'stores', 'limits', 'maxTokenLifetimeSeconds', 'node', 'router', 'strict'];
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAX_TOKEN_LIFETIME = 31_536_000;

/**
 * Validates a parsed policy file. Every problem is listed with its JSON path; nothing throws,
 * whatever `json` is; a policy comes back only when there is no error at all.
 */
export function parsePolicy(json: unknown): PolicyParseResult {
  const p = new Problems();
  try {
    const policy = checkPolicy(p, json);
    if (policy === undefined || !p.ok) return { errors: p.ok ? ['$: invalid policy'] : p.listErrors() };
    return { policy, warnings: [...p.warnings] };
  } catch (err) {
    // Only a hostile object (a throwing getter or proxy) gets here; JSON.parse output never does.
    return { errors: [...p.listErrors(), `$: cannot read the policy (${err instanceof Error ? err.name : 'error'})`] };
  }
}

/** The API key whose hash is `hash` (`sha256:<hex>`, any case), or undefined. */
export function apiKeyByHash(policy: Policy, hash: string): ApiKeyEntry | undefined {
  return policy.apiKeysByHash.get(hash.toLowerCase());
}

/** True when `name` is one of `NODE_ROLE_NAMES`. */
export function isNodeRoleName(name: string): boolean {
  return (NODE_ROLE_NAMES as readonly string[]).includes(name);
}

function checkPolicy(p: Problems, json: unknown): Policy | undefined {
  if (!isRecord(json)) {
    p.error('$', `expected a policy object, got ${describe(json)}`);
    return undefined;
  }
  checkKnownKeys(p, '$', json, TOP_KEYS);
  const version = field(json, 'version');
  if (version !== POLICY_VERSION) {
    p.error('$.version', `expected ${POLICY_VERSION}, got ${version === undefined ? 'nothing' : describe(version)}`);
  }

  const issuerRaw = field(json, 'issuer');
  const issuer = issuerRaw === undefined ? undefined : checkString(p, '$.issuer', issuerRaw);
  const audience = checkAudience(p, field(json, 'audience'));
  const algorithms = checkAlgorithms(p, field(json, 'algorithms'));
  const tolRaw = field(json, 'clockToleranceSeconds');
  const clockToleranceSeconds =
    tolRaw === undefined
      ? DEFAULT_CLOCK_TOLERANCE_SECONDS
      : (checkInt(p, '$.clockToleranceSeconds', tolRaw, 0, 600) ?? DEFAULT_CLOCK_TOLERANCE_SECONDS);
  const lifeRaw = field(json, 'maxTokenLifetimeSeconds');
  const maxTokenLifetimeSeconds =
    lifeRaw === undefined
      ? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS
      : (checkInt(p, '$.maxTokenLifetimeSeconds', lifeRaw, 1, MAX_TOKEN_LIFETIME) ?? 1);
  const keysRaw = field(json, 'keys');
  const keys = keysRaw === undefined ? [] : (checkKeys(p, '$.keys', keysRaw, algorithms) ?? []);

  const roles = checkRoles(p, field(json, 'roles'));
  const apiKeysRaw = field(json, 'apiKeys');
  const apiKeys = apiKeysRaw === undefined ? [] : checkApiKeys(p, apiKeysRaw, roles);
  const certificates = checkCertificates(p, field(json, 'certificates'), roles);

  const anonRaw = field(json, 'anonymous');
  let anonymous: string | undefined;
  if (anonRaw !== undefined) {
    anonymous = checkString(p, '$.anonymous', anonRaw, 128);
    const role = anonymous === undefined ? undefined : roles?.get(anonymous);
    if (anonymous !== undefined && roles !== undefined && role === undefined) {
      p.error('$.anonymous', `role ${JSON.stringify(anonymous)} is not defined in $.roles`);
    } else if (role?.node === true || role?.router === true) {
      p.error('$.anonymous', `role ${JSON.stringify(anonymous)} is a node or router role: never anonymous`);
    }
  }

  const revocations = checkRevocations(p, field(json, 'revocations'), apiKeys);
  const origins = checkOrigins(p, field(json, 'origins'));
  const cookie = checkCookie(p, field(json, 'cookie'), origins);

  if (keys.length === 0 && apiKeys.length === 0 && certificates.size === 0 && anonymous === undefined) {
    p.warn('$', 'no keys, no apiKeys, no certificates and no anonymous role: no client can connect');
  }
  if (!p.ok || roles === undefined || algorithms === undefined) return undefined;
  const byHash = new Map(apiKeys.map((k) => [k.hash, k]));
  return Object.freeze({
    version: 1,
    issuer,
    audience,
    algorithms,
    clockToleranceSeconds,
    maxTokenLifetimeSeconds,
    keys: Object.freeze(keys),
    apiKeys: Object.freeze(apiKeys),
    apiKeysByHash: byHash,
    certificates,
    roles,
    anonymous,
    revocations,
    origins,
    cookie,
  });
}

function checkAudience(p: Problems, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const s = checkString(p, '$.audience', value);
    return s === undefined ? undefined : Object.freeze([s]);
  }
  const list = checkStringList(p, '$.audience', value, { maxItems: 100 });
  return list === undefined ? undefined : Object.freeze(list);
}

function checkAlgorithms(p: Problems, value: unknown): readonly JwtAlgorithm[] | undefined {
  if (value === undefined) return DEFAULT_ALGORITHMS;
  const list = checkArray(p, '$.algorithms', value, 16);
  if (list === undefined) return undefined;
  if (list.length === 0) {
    p.error('$.algorithms', 'expected at least one algorithm');
    return undefined;
  }
  const out: JwtAlgorithm[] = [];
  let ok = true;
  for (let i = 0; i < list.length; i++) {
    const alg = checkAlgorithm(p, `$.algorithms[${i}]`, list[i]);
    if (alg === undefined) ok = false;
    else if (!out.includes(alg)) out.push(alg);
  }
  return ok ? Object.freeze(out) : undefined;
}

function checkRoles(p: Problems, value: unknown): ReadonlyMap<string, RoleDef> | undefined {
  if (value === undefined) {
    p.error('$.roles', 'required: an object of role name → role (may be {})');
    return undefined;
  }
  if (!isRecord(value)) {
    p.error('$.roles', `expected an object of role name → role, got ${describe(value)}`);
    return undefined;
  }
  const roles = new Map<string, RoleDef>();
  const names = Object.keys(value);
  if (names.length > 10_000) {
    p.error('$.roles', `expected at most 10000 roles, got ${names.length}`);
    return undefined;
  }
  let ok = true;
  for (const name of names) {
    const at = keyPath('$.roles', name);
    if (!ROLE_NAME.test(name)) {
      p.error(at, 'role name must be 1–128 letters, digits, "_", "." or "-", starting with a letter or digit');
      ok = false;
      continue;
    }
    const role = checkRole(p, at, name, value[name]);
    if (role === undefined) ok = false;
    else roles.set(name, role);
  }
  return ok ? roles : undefined;
}

function checkRole(p: Problems, path: string, name: string, value: unknown): RoleDef | undefined {
  if (!isRecord(value)) {
    p.error(path, `expected a role object, got ${describe(value)}`);
    return undefined;
  }
  const before = p.count;
  checkKnownKeys(p, path, value, ROLE_KEYS);
  const grant = (key: 'publish' | 'subscribe'): Grant | undefined => {
    const raw = field(value, key);
    return raw === undefined ? EMPTY_GRANT : checkGrant(p, `${path}.${key}`, raw, { warnSeparator: true });
  };
  const publish = grant('publish');
  const subscribe = grant('subscribe');
  const storesRaw = field(value, 'stores');
  const stores = storesRaw === undefined ? new Map() : checkStores(p, `${path}.stores`, storesRaw);
  const limitsRaw = field(value, 'limits');
  const limits = limitsRaw === undefined ? Object.freeze({}) : checkLimits(p, `${path}.limits`, limitsRaw);
  const lifeRaw = field(value, 'maxTokenLifetimeSeconds');
  const maxTokenLifetimeSeconds =
    lifeRaw === undefined ? undefined : checkInt(p, `${path}.maxTokenLifetimeSeconds`, lifeRaw, 1, MAX_TOKEN_LIFETIME);
  const flag = (key: 'node' | 'router' | 'strict', fallback: boolean): boolean => {
    const raw = field(value, key);
    return raw === undefined ? fallback : (checkBool(p, `${path}.${key}`, raw) ?? false);
  };
  const builtin = isNodeRoleName(name);
  const node = flag('node', builtin);
  const router = flag('router', builtin);
  const strict = flag('strict', false);
  if (publish === undefined || subscribe === undefined || stores === undefined || limits === undefined)
    return undefined;
  if (p.count > before) return undefined;
  if (!node) checkReservedUse(p, path, publish, subscribe);
  for (const [i, prefix] of publish.allow.entries()) {
    if (LOCAL_ONLY_PREFIXES.some((r) => prefix.startsWith(r))) {
      p.warn(`${path}.publish.allow[${i}]`, `${LOCAL_ONLY_PREFIXES[0]} is never accepted from a remote peer`);
    }
  }
  return Object.freeze({
    name,
    publish,
    subscribe,
    stores,
    limits,
    maxTokenLifetimeSeconds,
    node,
    router,
    strict,
  });
}

const EMPTY_GRANT: Grant = Object.freeze({ allow: Object.freeze([]), deny: Object.freeze([]) });

/**
 * For a role that is not a node role: publish prefixes inside a reserved prefix have no effect
 * (warning); a subscribe grant that names a prefix inside a reserved prefix and also holds a
 * broader one covering it cannot be honoured (error: the reserved prefix is then denied whole).
 */
function checkReservedUse(p: Problems, path: string, publish: Grant, subscribe: Grant): void {
  for (const [i, prefix] of publish.allow.entries()) {
    const r = NODE_ONLY_PREFIXES.find((res) => prefix.startsWith(res));
    if (r !== undefined) {
      p.warn(
        `${path}.publish.allow[${i}]`,
        `${JSON.stringify(prefix)} has no effect: ${r} is reserved for node roles ("node": true)`,
      );
    }
  }
  for (const r of NODE_ONLY_PREFIXES) {
    const broad = subscribe.allow.find((a) => r.startsWith(a) && a.length < r.length);
    if (broad === undefined) continue;
    for (const [i, prefix] of subscribe.allow.entries()) {
      if (!prefix.startsWith(r)) continue;
      p.error(
        `${path}.subscribe.allow[${i}]`,
        `${JSON.stringify(prefix)} cannot be granted next to ${JSON.stringify(broad)}: a non-node role reads ` +
          `inside the reserved ${r} only when no allow prefix covers all of ${r}; list the prefixes you ` +
          `want outside ${r} instead of ${JSON.stringify(broad)}`,
      );
    }
  }
}
