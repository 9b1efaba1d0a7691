/**
 * The sections of a policy file besides keys and roles: API keys, client certificates,
 * revocations, browser origins and the token cookie. Each check reports every problem with its JSON path (see policy.ts).
 */
import type { ApiKeyEntry, CertificateEntry, RoleDef, Revocations } from './policy-model.js';
import {
  checkArray,
  checkKnownKeys,
  checkString,
  checkStringList,
  describe,
  field,
  isRecord,
  keyPath,
  type Problems,
} from './policy-validate.js';
import { isSafeSegmentValue } from './substitute.js';

const SHA256_HASH = /^sha256:[0-9a-fA-F]{64}$/;
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** Checks `$.apiKeys` (see policy.ts). */
export function checkApiKeys(
  p: Problems,
  value: unknown,
  roles: ReadonlyMap<string, RoleDef> | undefined,
): ApiKeyEntry[] {
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
    const node = checkRolesAndNode(p, at, entry, roleNames, roles, 'key');
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
    out.push(Object.freeze({ id, hash, sub, roles: Object.freeze(roleNames), node }));
  }
  return out;
}

/** Most entries `$.certificates` may hold. */
const MAX_CERTIFICATES = 100_000;

/**
 * Checks `$.certificates` (see policy.ts): an object of client certificate subject CN →
 * `{ "sub"?: string (default the CN), "roles": [...], "node"?: string }`. Roles must be defined;
 * a node role needs `node`.
 */
export function checkCertificates(
  p: Problems,
  value: unknown,
  roles: ReadonlyMap<string, RoleDef> | undefined,
): ReadonlyMap<string, CertificateEntry> {
  const out = new Map<string, CertificateEntry>();
  if (value === undefined) return out;
  if (!isRecord(value)) {
    p.error('$.certificates', `expected an object of certificate name → {"roles": [...]}, got ${describe(value)}`);
    return out;
  }
  const names = Object.keys(value);
  if (names.length > MAX_CERTIFICATES) {
    p.error('$.certificates', `at most ${MAX_CERTIFICATES} certificate names, got ${names.length}`);
    return out;
  }
  for (const name of names) {
    const at = keyPath('$.certificates', name);
    const entry = value[name];
    if (name.length === 0 || name.length > 1024) {
      p.error(at, 'a certificate name must be 1–1024 characters');
      continue;
    }
    if (!isRecord(entry)) {
      p.error(at, `expected {"roles": [...], "sub"?, "node"?}, got ${describe(entry)}`);
      continue;
    }
    const before = p.count;
    checkKnownKeys(p, at, entry, ['sub', 'roles', 'node']);
    const subRaw = field(entry, 'sub');
    const sub = subRaw === undefined ? name : checkString(p, `${at}.sub`, subRaw);
    const roleNames = checkStringList(p, `${at}.roles`, field(entry, 'roles'), { maxItems: 1000, maxLength: 128 });
    const node = checkRolesAndNode(p, at, entry, roleNames, roles, 'certificate');
    if (p.count > before || sub === undefined || roleNames === undefined) continue;
    out.set(name, Object.freeze({ name, sub, roles: Object.freeze(roleNames), node }));
  }
  return out;
}

/** Checks `$.revocations` (see policy.ts). */
export function checkRevocations(p: Problems, value: unknown, apiKeys: readonly ApiKeyEntry[]): Revocations {
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

/** Checks `$.origins` (see policy.ts). */
export function checkOrigins(p: Problems, value: unknown): readonly string[] {
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

/** Checks `$.cookie` (see policy.ts). */
export function checkCookie(
  p: Problems,
  value: unknown,
  origins: readonly string[],
): { readonly name: string } | undefined {
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

/**
 * Checks an entry's `roles` against `$.roles` and its `node` (one path segment); returns the node
 * name when a node role is among the roles (required then), else null.
 */
function checkRolesAndNode(
  p: Problems,
  at: string,
  entry: Record<string, unknown>,
  roleNames: readonly string[] | undefined,
  roles: ReadonlyMap<string, RoleDef> | undefined,
  what: string,
): string | null {
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
    p.error(`${at}.node`, `required: a node role needs the node name this ${what} may use`);
  }
  return isNode ? node : null;
}
