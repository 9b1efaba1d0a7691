/**
 * The byte-prefix ACL engine: compiles a `Grant` (allowed and denied topic prefixes) into a
 * `PrefixAcl` that answers "may this topic be published / delivered" and "what does this
 * subscription become" (kept, narrowed to the grant, or refused).
 *
 * Byte-prefix semantics: `zeek/logs` covers `zeek/logs/conn` and also `zeek/logsecret`. Prefixes
 * are compared as UTF-16 code units, which for well-formed strings is exactly UTF-8 byte-prefix
 * comparison (see `src/topic/topic-trie.ts`): a well-formed prefix ends on a code point boundary,
 * and no code point's encoding is a prefix of another's in either encoding. A prefix that is not
 * well-formed (a lone surrogate, e.g. one ending inside a surrogate pair) has no UTF-8 encoding and
 * so no byte-prefix meaning: `compileAcl` refuses it with a `ValueError` rather than guess.
 * Topics decoded from the wire (UTF-8) are always well-formed; `allows` and `narrow` compare
 * whatever string they are given by code units and never throw.
 *
 * Representation: the allow and deny lists are normalised (sorted, no entry a prefix of another),
 * allow prefixes that a deny covers are dropped, and each remaining allow prefix knows the deny
 * prefixes lying deeper inside it. "Is some entry a prefix of `t`" is then a binary search for the
 * greatest entry ≤ `t` (in a prefix-free sorted list only that one can be a prefix of `t`), so a
 * check costs O(log n) string comparisons, and the deny list is consulted only when the matching
 * allow prefix has a deny inside it. `allows`, the per-message check, goes faster for the usual
 * prefixes that end in `/`: such a prefix covers `t` only if it equals `t` up to one of `t`'s `/`
 * (a `/` is never part of a surrogate pair), so they are looked up in a map by those few cuts of
 * `t`; only the other allow prefixes need the binary search.
 */
import { ValueError } from '../errors.js';
import type { Grant, PrefixAcl, SubscriptionDecision } from './types.js';

/** True when `prefix` is usable in a grant: a well-formed string (no lone surrogate). */
export function isAclPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && !LONE_SURROGATE.test(prefix);
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Compiles `grant` into a `PrefixAcl` (see the module comment for the semantics). Throws a
 * `ValueError` when `grant` is not `{ allow: string[], deny: string[] }` or a prefix is not
 * well-formed UTF-16 (the message names the list and index, not the prefix).
 */
export function compileAcl(grant: Grant): PrefixAcl {
  const allow = checkList(grant, 'allow');
  const deny = checkList(grant, 'deny');
  return new CompiledAcl(Object.freeze({ allow: Object.freeze(allow), deny: Object.freeze(deny) }));
}

/**
 * One grant holding every allow and every deny prefix of `grants` (duplicates dropped, order of
 * first appearance kept). A deny from any grant applies to all of them — an explicit deny wins —
 * so the union is never broader than what each grant's allows minus all denies give.
 */
export function unionGrants(...grants: readonly Grant[]): Grant {
  const allow = new Set<string>();
  const deny = new Set<string>();
  for (const g of grants) {
    for (const a of g.allow) allow.add(a);
    for (const d of g.deny) deny.add(d);
  }
  return { allow: [...allow], deny: [...deny] };
}

function checkList(grant: Grant, field: 'allow' | 'deny'): string[] {
  const list: unknown = (grant as unknown as Record<string, unknown> | null | undefined)?.[field];
  if (!Array.isArray(list)) throw new ValueError(`grant.${field} must be an array of topic prefixes`);
  for (let i = 0; i < list.length; i++) {
    const p: unknown = list[i];
    if (typeof p !== 'string') throw new ValueError(`grant.${field}[${i}] must be a string, got ${typeof p}`);
    if (LONE_SURROGATE.test(p))
      throw new ValueError(`grant.${field}[${i}] is not well-formed UTF-16 (lone surrogate): it has no UTF-8 bytes`);
  }
  return [...(list as string[])];
}

/** Sorted by code units, duplicates and entries that have another entry as a prefix removed. */
function normalise(list: readonly string[]): string[] {
  // The default sort compares strings by UTF-16 code units, as `<` does (and is faster than a comparator).
  const sorted = [...list].sort();
  const out: string[] = [];
  for (const p of sorted) {
    // Sorted order puts a prefix right before its extensions, so only the last kept entry can cover `p`.
    const last = out[out.length - 1];
    if (last === undefined || !p.startsWith(last)) out.push(p);
  }
  return out;
}

/** Index of the greatest entry ≤ `s` in sorted `list`, or -1. */
function floorIndex(list: readonly string[], s: string): number {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= s) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Index of the first entry ≥ `s` in sorted `list` (its length when none). */
function lowerBound(list: readonly string[], s: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the entry of prefix-free sorted `list` that is a prefix of `s`, or -1. */
function prefixIndex(list: readonly string[], s: string): number {
  const i = floorIndex(list, s);
  return i >= 0 && s.startsWith(list[i]!) ? i : -1;
}

/** True when some entry of sorted `list` has `p` as a prefix (lies at or below `p`). */
function hasUnder(list: readonly string[], p: string): boolean {
  const i = lowerBound(list, p);
  return i < list.length && list[i]!.startsWith(p);
}

const NO_DENIES: readonly string[] = Object.freeze([]);

class CompiledAcl implements PrefixAcl {
  readonly open: boolean;
  /** Normalised allow prefixes that no deny covers, sorted. */
  readonly #allow: readonly string[];
  /** The last topic `allows` answered, and its answer (the ACL is immutable, so it stays true). */
  #lastTopic: string | undefined;
  #lastAllowed = false;
  /** Per entry of `#allow`: the normalised deny prefixes strictly inside it (usually none). */
  readonly #inner: readonly (readonly string[])[];
  /** Every deny prefix, normalised. */
  readonly #deny: readonly string[];
  /** The entries of `#allow` that end in `/`, to their index there. */
  readonly #bySlash = new Map<string, number>();
  /** Length of the longest key of `#bySlash`. */
  readonly #slashMax: number;
  /** The other entries of `#allow` (sorted, prefix-free)… */
  readonly #other: readonly string[];
  /** …and their indices in `#allow`. */
  readonly #otherIndex: readonly number[];

  constructor(readonly grant: Grant) {
    this.open = grant.allow.includes('') && grant.deny.length === 0;
    const deny = normalise(grant.deny);
    const allow: string[] = [];
    const inner: (readonly string[])[] = [];
    // One merge walk over both sorted lists: `j` is the first deny > the current allow prefix.
    let j = 0;
    for (const a of normalise(grant.allow)) {
      while (j < deny.length && deny[j]! <= a) j++;
      // Only the greatest deny ≤ `a` can be a prefix of it (the deny list is prefix-free).
      if (j > 0 && a.startsWith(deny[j - 1]!)) continue; // covered by a deny: allows nothing
      // The denies that have `a` as a prefix are contiguous from the first one > `a`.
      let end = j;
      while (end < deny.length && deny[end]!.startsWith(a)) end++;
      allow.push(a);
      inner.push(end === j ? NO_DENIES : Object.freeze(deny.slice(j, end)));
    }
    this.#allow = Object.freeze(allow);
    this.#inner = Object.freeze(inner);
    this.#deny = Object.freeze(deny);
    const other: string[] = [];
    const otherIndex: number[] = [];
    let slashMax = 0;
    for (let i = 0; i < allow.length; i++) {
      const a = allow[i]!;
      if (a.endsWith('/')) {
        this.#bySlash.set(a, i);
        if (a.length > slashMax) slashMax = a.length;
      } else {
        other.push(a);
        otherIndex.push(i);
      }
    }
    this.#slashMax = slashMax;
    this.#other = Object.freeze(other);
    this.#otherIndex = Object.freeze(otherIndex);
  }

  /** The index in `#allow` of the allow prefix covering `topic` (at most one: prefix-free), or -1. */
  #covering(topic: string): number {
    const allow = this.#allow;
    if (allow.length <= LINEAR_SCAN_MAX) {
      // Small grants (the usual case): a scan allocates nothing and beats the map's slices.
      for (let i = 0; i < allow.length; i++) if (topic.startsWith(allow[i]!)) return i;
      return -1;
    }
    if (this.#slashMax > 0) {
      const bySlash = this.#bySlash;
      const max = Math.min(topic.length, this.#slashMax);
      for (let j = topic.indexOf('/'); j >= 0 && j < max; j = topic.indexOf('/', j + 1)) {
        const i = bySlash.get(topic.slice(0, j + 1));
        if (i !== undefined) return i;
      }
    }
    if (this.#other.length === 0) return -1;
    const k = prefixIndex(this.#other, topic);
    return k < 0 ? -1 : this.#otherIndex[k]!;
  }

  allows(topic: string): boolean {
    if (this.open) return true;
    // A stream publishes on one topic, delivered to many connections: the last answer is kept.
    if (topic === this.#lastTopic) return this.#lastAllowed;
    const i = this.#covering(topic);
    const allowed = i >= 0 && (this.#inner[i]!.length === 0 || prefixIndex(this.#inner[i]!, topic) < 0);
    this.#lastTopic = topic;
    this.#lastAllowed = allowed;
    return allowed;
  }

  narrow(prefix: string): SubscriptionDecision {
    if (this.open) return { kind: 'keep', prefixes: [prefix], filtered: false };
    if (prefixIndex(this.#deny, prefix) >= 0) return { kind: 'refuse', reason: 'denied' };
    const allow = this.#allow;
    const i = prefixIndex(allow, prefix);
    if (i >= 0) {
      const inner = this.#inner[i]!;
      return { kind: 'keep', prefixes: [prefix], filtered: inner.length > 0 && hasUnder(inner, prefix) };
    }
    // Broader than the grant (or beside it): the allow prefixes under `prefix` are contiguous.
    const start = lowerBound(allow, prefix);
    let end = start;
    let filtered = false;
    while (end < allow.length && allow[end]!.startsWith(prefix)) {
      if (this.#inner[end]!.length > 0) filtered = true;
      end++;
    }
    if (end === start) return { kind: 'refuse', reason: 'outside_grant' };
    return { kind: 'narrow', prefixes: allow.slice(start, end), filtered };
  }
}

/** Allow lists up to this size are searched by a plain scan in `allows()` (no allocation per call). */
const LINEAR_SCAN_MAX = 16;

/** The ACL that allows nothing (every subscription is refused as `outside_grant`). */
export const NO_ACCESS: PrefixAcl = compileAcl({ allow: [], deny: [] });

/** The ACL that allows every topic (`open`). */
export const FULL_ACCESS: PrefixAcl = compileAcl({ allow: [''], deny: [] });
