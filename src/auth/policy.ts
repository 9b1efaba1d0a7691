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
import { checkAlgorithm, checkKeys, type JwtAlgorithm, type PolicyKey } from './policy-keys.js';
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
  type LimitsSpec,
  Problems,
  type StoreGrants,
} from './policy-validate.js';
import { isSafeSegmentValue } from './substitute.js';
import type { Grant, PrincipalLimits } from './types.js';

export { JWT_ALGORITHMS, type JwtAlgorithm, type PolicyKey, type PublicJwk } from './policy-keys.js';
export type { LimitsSpec, StoreGrants } from './policy-validate.js';

/** The policy file format version this code reads. */
export const POLICY_VERSION = 1;

/** Role names that are node and router roles unless they say otherwise. */
export const NODE_ROLE_NAMES = ['manager', 'logger', 'proxy', 'worker', 'hub'] as const;

/** Prefixes only node principals may publish to (and read, unless granted inside them explicitly). */
export const NODE_ONLY_PREFIXES = ['zeek/cluster/', 'zeek/logs/', 'isobroker/'] as const;
/** Prefixes never accepted from any remote principal (Broker's endpoint-local namespace). */
export const LOCAL_ONLY_PREFIXES = ['<$>/local/'] as const;
/** Every reserved prefix: `NODE_ONLY_PREFIXES` and `LOCAL_ONLY_PREFIXES`. */
export const RESERVED_PREFIXES: readonly string[] = Object.freeze([...NODE_ONLY_PREFIXES, ...LOCAL_ONLY_PREFIXES]);

/** Limits of a role that sets none (and of anything a role leaves out). */
export const DEFAULT_LIMITS: PrincipalLimits = Object.freeze({
  publishRate: 10_000,
  publishBurst: 20_000,
  maxSubscriptions: 1024,
  storeCommandsInFlight: 256,
});

/** Default `clockToleranceSeconds`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Default `maxTokenLifetimeSeconds` of the policy (every token, whatever its roles). */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** Default `algorithms`. */
export const DEFAULT_ALGORITHMS: readonly JwtAlgorithm[] = Object.freeze(['HS256'] as JwtAlgorithm[]);

/** A role as the policy defines it (grants still hold their placeholders). */
export interface RoleDef {
  readonly name: string;
  readonly publish: Grant;
  readonly subscribe: Grant;
  /** Store name (or `*`) → permission; names may hold placeholders. */
  readonly stores: StoreGrants;
  /** The limits this role sets; `DEFAULT_LIMITS` fill the rest. */
  readonly limits: LimitsSpec;
  /** Tokens carrying this role may live at most this long (exp − iat), seconds. */
  readonly maxTokenLifetimeSeconds: number | undefined;
  /** A cluster node role: may use the reserved prefixes, needs a node name, hellos only as it. */
  readonly node: boolean;
  /** May open router links (hubs and cluster nodes). */
  readonly router: boolean;
  /** Subscriptions broader than the grant are refused rather than narrowed. */
  readonly strict: boolean;
}

/** An API key: the SHA-256 of the key text (`sha256:<64 lowercase hex>`) and who it makes you. */
export interface ApiKeyEntry {
  readonly id: string;
  readonly hash: string;
  readonly sub: string;
  readonly roles: readonly string[];
  /** The node name, required when a role is a node role; else null. */
  readonly node: string | null;
}

/** Revoked credentials. */
export interface Revocations {
  /** Revoked token ids. */
  readonly jti: ReadonlySet<string>;
  /** Subject → instant (ms since the epoch): the subject's tokens issued before it are revoked. */
  readonly subjects: ReadonlyMap<string, number>;
  /** Revoked API key ids. */
  readonly apiKeys: ReadonlySet<string>;
}

/** A validated policy (see the module comment for the file it comes from). Deeply frozen. */
export interface Policy {
  readonly version: 1;
  readonly issuer: string | undefined;
  readonly audience: readonly string[] | undefined;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly clockToleranceSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
  readonly keys: readonly PolicyKey[];
  readonly apiKeys: readonly ApiKeyEntry[];
  /** API keys by `hash` (`sha256:<hex>`). */
  readonly apiKeysByHash: ReadonlyMap<string, ApiKeyEntry>;
  readonly roles: ReadonlyMap<string, RoleDef>;
  /** The role of clients without a credential, or undefined: they are refused. */
  readonly anonymous: string | undefined;
  readonly revocations: Revocations;
  /** Exact browser origins allowed (`scheme://host[:port]`). */
  readonly origins: readonly string[];
  /** The token cookie, when cookie authentication is on (only together with `origins`). */
  readonly cookie: { readonly name: string } | undefined;
}

/** What `parsePolicy` gives: a policy and warnings, or every error (never both). */
export type PolicyParseResult =
  | { readonly policy: Policy; readonly warnings: string[] }
  | { readonly errors: string[]; readonly warnings?: undefined; readonly policy?: undefined };

const TOP_KEYS = [
  'version',
  'issuer',
  'audience',
  'algorithms',
  'clockToleranceSeconds',
  'maxTokenLifetimeSeconds',
  'keys',
  'apiKeys',
  'roles',
  'anonymous',
  'revocations',
  'origins',
  'cookie',
];
const ROLE_KEYS = ['publish', 'subscribe', 'stores', 'limits', 'maxTokenLifetimeSeconds', 'node', 'router', 'strict'];
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SHA256_HASH = /^sha256:[0-9a-fA-F]{64}$/;
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
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

  if (keys.length === 0 && apiKeys.length === 0 && anonymous === undefined) {
    p.warn('$', 'no keys, no apiKeys and no anonymous role: no client can connect');
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

function checkApiKeys(p: Problems, value: unknown, roles: ReadonlyMap<string, RoleDef> | undefined): ApiKeyEntry[] {
  const list = checkArray(p, '$.apiKeys', value, 100_000);
  if (list === undefined) return [];
  const out: ApiKeyEntry[] = [];
  const ids = new Map<string, number>();
  const hashes = new Map<string, number>();
  for (let i = 0; i < list.length; i++) {
    const at = `$.apiKeys[${i}]`;
    const entry = list[i];
    if (!isRecord(entry)) {
      p.error(at, `expected an API key object, got ${describe(entry)}`);
      continue;
    }
    const before = p.count;
    checkKnownKeys(p, at, entry, ['id', 'hash', 'sub', 'roles', 'node']);
    const id = checkString(p, `${at}.id`, field(entry, 'id'), 256);
    const hashRaw = field(entry, 'hash');
    let hash: string | undefined;
    if (typeof hashRaw !== 'string' || !SHA256_HASH.test(hashRaw)) {
      p.error(`${at}.hash`, 'expected "sha256:" and 64 hex digits (the SHA-256 of the key text; value not shown)');
    } else hash = hashRaw.toLowerCase();
    const sub = checkString(p, `${at}.sub`, field(entry, 'sub'));
    const roleNames = checkStringList(p, `${at}.roles`, field(entry, 'roles'), { maxItems: 1000, maxLength: 128 });
    const nodeRaw = field(entry, 'node');
    let node: string | null = null;
    if (nodeRaw !== undefined && nodeRaw !== null) {
      if (isSafeSegmentValue(nodeRaw)) node = nodeRaw;
      else p.error(`${at}.node`, `expected a node name (one path segment, no "/"), got ${describe(nodeRaw)}`);
    }
    let isNode = false;
    for (const [j, r] of (roleNames ?? []).entries()) {
      const role = roles?.get(r);
      if (roles !== undefined && role === undefined) {
        p.error(`${at}.roles[${j}]`, `role ${JSON.stringify(r)} is not defined in $.roles`);
      }
      if (role?.node === true) isNode = true;
    }
    if (isNode && node === null && nodeRaw === undefined) {
      p.error(`${at}.node`, 'required: a node role needs the node name this key may use');
    }
    if (id !== undefined) {
      const first = ids.get(id);
      if (first !== undefined) p.error(`${at}.id`, `duplicate id (also $.apiKeys[${first}])`);
      else ids.set(id, i);
    }
    if (hash !== undefined) {
      const first = hashes.get(hash);
      if (first !== undefined) p.error(`${at}.hash`, `duplicate hash (also $.apiKeys[${first}])`);
      else hashes.set(hash, i);
    }
    if (p.count > before || id === undefined || hash === undefined || sub === undefined || roleNames === undefined) {
      continue;
    }
    out.push(Object.freeze({ id, hash, sub, roles: Object.freeze(roleNames), node: isNode ? node : null }));
  }
  return out;
}

function checkRevocations(p: Problems, value: unknown, apiKeys: readonly ApiKeyEntry[]): Revocations {
  const jti = new Set<string>();
  const subjects = new Map<string, number>();
  const keyIds = new Set<string>();
  const out: Revocations = { jti, subjects, apiKeys: keyIds };
  if (value === undefined) return out;
  if (!isRecord(value)) {
    p.error('$.revocations', `expected an object with "jti", "subjects" and/or "apiKeys", got ${describe(value)}`);
    return out;
  }
  checkKnownKeys(p, '$.revocations', value, ['jti', 'subjects', 'apiKeys']);
  const jtiRaw = field(value, 'jti');
  if (jtiRaw !== undefined) {
    const list = checkStringList(p, '$.revocations.jti', jtiRaw, { maxItems: 1_000_000, allowEmptyList: true });
    for (const j of list ?? []) jti.add(j);
  }
  const subsRaw = field(value, 'subjects');
  if (subsRaw !== undefined) {
    if (!isRecord(subsRaw)) {
      p.error('$.revocations.subjects', `expected an object of subject → ISO time, got ${describe(subsRaw)}`);
    } else {
      for (const sub of Object.keys(subsRaw)) {
        const at = keyPath('$.revocations.subjects', sub);
        const t = parseInstant(subsRaw[sub]);
        if (sub.length === 0) p.error(at, 'subject must be non-empty');
        else if (t === undefined) {
          p.error(
            at,
            `expected an ISO 8601 instant with a zone, e.g. "2026-01-01T00:00:00Z", got ${describe(subsRaw[sub])}`,
          );
        } else subjects.set(sub, t);
      }
    }
  }
  const keysRaw = field(value, 'apiKeys');
  if (keysRaw !== undefined) {
    const list = checkStringList(p, '$.revocations.apiKeys', keysRaw, { maxItems: 100_000, allowEmptyList: true });
    for (const [i, id] of (list ?? []).entries()) {
      keyIds.add(id);
      if (!apiKeys.some((k) => k.id === id)) {
        p.warn(`$.revocations.apiKeys[${i}]`, `no API key has id ${JSON.stringify(id)} (already removed?)`);
      }
    }
  }
  return Object.freeze(out);
}

/** An ISO 8601 instant with a zone as ms since the epoch, or undefined. */
export function parseInstant(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function checkOrigins(p: Problems, value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const list = checkStringList(p, '$.origins', value, { maxItems: 1000, allowEmptyList: true });
  const out: string[] = [];
  for (const [i, o] of (list ?? []).entries()) {
    let url: URL | undefined;
    try {
      url = new URL(o);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== o) {
      p.error(
        `$.origins[${i}]`,
        `expected an exact origin "http(s)://host[:port]" (lower case, no path or trailing "/"), got ${describe(o)}`,
      );
    } else out.push(o);
  }
  return Object.freeze(out);
}

function checkCookie(p: Problems, value: unknown, origins: readonly string[]): { readonly name: string } | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    p.error('$.cookie', `expected {"name": "<cookie name>"}, got ${describe(value)}`);
    return undefined;
  }
  checkKnownKeys(p, '$.cookie', value, ['name']);
  const name = field(value, 'name');
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    p.error('$.cookie.name', `expected a cookie name (RFC 6265 token), got ${describe(name)}`);
    return undefined;
  }
  if (origins.length === 0) {
    p.error('$.cookie', 'cookie authentication needs a non-empty "origins" allowlist (cross-site WebSocket hijacking)');
    return undefined;
  }
  return Object.freeze({ name });
}
