/**
 * API keys for long-lived non-browser integrations: `isbk_` and 43 base64url characters (256
 * random bits). The policy file holds only a key's hash (`"sha256:<64 hex digits>"`); a presented
 * key is hashed and compared with every entry in constant time, so neither the comparison nor the
 * position of a match tells an attacker anything.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_PREFIX } from '../../auth/types.js';

/** The shape of an API key: the prefix and 43 base64url characters (256 bits). */
export const API_KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{43}$`);

/** The shape of a stored key hash: `sha256:` and 64 hex digits (`hashApiKey` writes lowercase). */
export const API_KEY_HASH_PATTERN = /^sha256:[0-9a-fA-F]{64}$/;

/** A new random API key (`isbk_…`, 256 bits from the system's CSPRNG). */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The hash the policy file stores for `key`: `"sha256:<hex>"` of its UTF-8 bytes. */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** True when `key` has the shape of an API key (says nothing about whether it is known). */
export function isApiKeyShaped(key: string): boolean {
  return typeof key === 'string' && API_KEY_PATTERN.test(key);
}

/** The digests of an entry list, decoded once per list (a policy's lists do not change). */
const digests = new WeakMap<readonly { readonly hash: string }[], (Buffer | undefined)[]>();

function digestsOf(entries: readonly { readonly hash: string }[]): (Buffer | undefined)[] {
  let d = digests.get(entries);
  if (!d) {
    d = entries.map((e) =>
      typeof e.hash === 'string' && API_KEY_HASH_PATTERN.test(e.hash) ? Buffer.from(e.hash.slice(7), 'hex') : undefined,
    );
    digests.set(entries, d);
  }
  return d;
}

/**
 * The entry whose `hash` matches `key`, or undefined. Every entry is compared (constant time per
 * entry, no early exit), so the time taken does not depend on which entry matched. Keys not
 * shaped like an API key never match; entries whose hash is malformed never match.
 */
export function findApiKey<E extends { readonly hash: string }>(entries: readonly E[], key: string): E | undefined {
  if (!isApiKeyShaped(key)) return undefined;
  const presented = createHash('sha256').update(key, 'utf8').digest();
  const known = digestsOf(entries);
  let found: E | undefined;
  for (let i = 0; i < entries.length; i++) {
    const d = known[i];
    if (d !== undefined && d.length === presented.length && timingSafeEqual(d, presented) && found === undefined) {
      found = entries[i];
    }
  }
  return found;
}
