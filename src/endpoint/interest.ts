/**
 * Interest: who wants which topics, for the links that do not run link-state routing (a hub's
 * leaves, a leaf's hubs), and the bounded filters an endpoint advertises.
 *
 * Filters are sets of topic prefixes. An advertised filter may be a superset of the real interest
 * (coarsened: shorter prefixes): the receiver sends a little more than needed, and delivery
 * filters it again against the exact subscriptions.
 */
import { normalizeFilter } from '../topic/filter.js';
import { INTERNAL_TOPIC_PREFIX, isInternalTopic } from '../topic/internal.js';
import { TopicTrie, type TrieHandle } from '../topic/topic-trie.js';

/** Bounds of a filter an endpoint sends: well below what receivers accept (PROTOCOL.md §8). */
export interface FilterBounds {
  readonly maxPrefixes: number;
  readonly maxBytes: number;
}

/** What routers advertise to each other at most: a tenth of the 100,000 prefixes peers accept. */
export const ROUTER_FILTER_BOUNDS: FilterBounds = { maxPrefixes: 10_000, maxBytes: 1024 * 1024 };
/** What a hub advertises to its leaves at most. */
export const LEAF_FILTER_BOUNDS: FilterBounds = { maxPrefixes: 1024, maxBytes: 64 * 1024 };
/**
 * A hub tells its leaves its interest cut after this many `/`-separated segments, so that
 * per-client topics (a store clone's `<$>/store/NAME/clone/ID`) fold into one prefix and a client
 * joining changes nothing the other clients hear.
 */
export const LEAF_FILTER_SEGMENTS = 4;

/** Normalised filter: internal (`<$>/…`) prefixes normalised apart, so they stay visible. */
export function normalizeInterest(prefixes: Iterable<string>): string[] {
  const ext: string[] = [];
  const int: string[] = [];
  for (const p of prefixes) (isInternalTopic(p) ? int : ext).push(p);
  return [...normalizeFilter(ext), ...normalizeFilter(int)];
}

function byteLength(prefixes: readonly string[]): number {
  let n = 0;
  for (const p of prefixes) n += p.length * 3 + 5;
  return n;
}

/** The first `n` UTF-16 units of `p`, one less when that would split a surrogate pair. */
function cut(p: string, n: number): string {
  if (p.length <= n) return p;
  const c = p.charCodeAt(n - 1);
  return p.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

function truncate(prefixes: readonly string[], maxLen: number): string[] {
  const min = INTERNAL_TOPIC_PREFIX.length;
  return normalizeInterest(prefixes.map((p) => cut(p, isInternalTopic(p) ? Math.max(min, maxLen) : maxLen)));
}

/**
 * Brings a filter within `bounds`: normalised, and when still too large, every prefix cut to the
 * longest length that fits (a superset; internal prefixes keep their `<$>/`). Bytes are counted
 * pessimistically (3 per UTF-16 unit).
 */
export function boundFilter(prefixes: Iterable<string>, bounds: FilterBounds): string[] {
  const norm = normalizeInterest(prefixes);
  const fits = (f: readonly string[]): boolean => f.length <= bounds.maxPrefixes && byteLength(f) <= bounds.maxBytes;
  if (fits(norm)) return norm;
  let lo = 0;
  let hi = 0;
  for (const p of norm) hi = Math.max(hi, p.length);
  // Largest length that fits: the count and size only shrink as the length does.
  let best = truncate(norm, 0);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const f = truncate(norm, mid);
    if (fits(f)) {
      best = f;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** `p` cut after its `segments`-th `/` (itself when it has fewer). */
function cutSegments(p: string, segments: number): string {
  let at = -1;
  for (let i = 0; i < segments; i++) {
    at = p.indexOf('/', at + 1);
    if (at < 0) break;
  }
  return at < 0 ? p : p.slice(0, at + 1);
}

/** Cuts every prefix after its `segments`-th `/` (a superset), then normalises. */
export function coarsenSegments(prefixes: Iterable<string>, segments: number): string[] {
  const out: string[] = [];
  for (const p of prefixes) out.push(cutSegments(p, segments));
  return normalizeInterest(out);
}

export function sameFilter(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/**
 * Keys (sessions) with a filter each, matched by topic; internal topics match only internal
 * prefixes. Also counts prefixes over all keys, so the union is known without a scan.
 */
export class InterestTable<K> {
  private readonly trie = new TopicTrie<K>();
  private readonly internalTrie = new TopicTrie<K>();
  private readonly entries = new Map<K, { filter: readonly string[]; handles: TrieHandle<K>[] }>();
  private readonly counts = new Map<string, number>();
  private readonly cache = new Map<string, readonly K[]>();
  /** Distinct prefixes of the union per coarsened prefix (with `coarsenAt`). */
  private readonly coarseCounts = new Map<string, number>();
  private coarse: string[] | undefined;
  /** Set whenever the union of prefixes gained or lost a prefix. */
  unionChanged = false;

  /**
   * @param coarsenAt keep the union also cut after this many segments, so that
   * {@link coarseUnion} costs nothing per call however many keys there are (a hub's leaves: a
   * join must not cost a scan of every leaf's prefixes).
   */
  constructor(private readonly coarsenAt?: number) {}

  get size(): number {
    return this.entries.size;
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  filterOf(key: K): readonly string[] | undefined {
    return this.entries.get(key)?.filter;
  }

  /** Sets a key's (normalised) filter. */
  set(key: K, filter: readonly string[]): void {
    const old = this.entries.get(key);
    if (old && sameFilter(old.filter, filter)) return;
    if (old) this.drop(old);
    const handles = filter.map((p) => (isInternalTopic(p) ? this.internalTrie : this.trie).add(p, key));
    for (const p of filter) {
      const n = this.counts.get(p) ?? 0;
      if (n === 0) {
        this.unionChanged = true;
        this.coarseAdd(p, 1);
      }
      this.counts.set(p, n + 1);
    }
    this.entries.set(key, { filter, handles });
    this.cache.clear();
  }

  delete(key: K): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.drop(old);
    this.cache.clear();
  }

  private drop(e: { filter: readonly string[]; handles: TrieHandle<K>[] }): void {
    for (const h of e.handles) (isInternalTopic(h.prefix) ? this.internalTrie : this.trie).remove(h);
    for (const p of e.filter) {
      const n = (this.counts.get(p) ?? 0) - 1;
      if (n <= 0) {
        this.counts.delete(p);
        this.unionChanged = true;
        this.coarseAdd(p, -1);
      } else this.counts.set(p, n);
    }
  }

  private coarseAdd(p: string, d: 1 | -1): void {
    if (this.coarsenAt === undefined) return;
    const c = cutSegments(p, this.coarsenAt);
    const n = (this.coarseCounts.get(c) ?? 0) + d;
    if (n <= 0) {
      this.coarseCounts.delete(c);
      this.coarse = undefined;
    } else {
      if (n === 1 && d === 1) this.coarse = undefined;
      this.coarseCounts.set(c, n);
    }
  }

  /**
   * The union cut after `coarsenAt` segments and normalised: `coarsenSegments(union(),
   * coarsenAt)`, kept up to date as keys change (only for a table made with `coarsenAt`).
   */
  coarseUnion(): readonly string[] {
    if (this.coarsenAt === undefined) throw new Error('coarseUnion: this table keeps no coarsened union');
    this.coarse ??= normalizeInterest(this.coarseCounts.keys());
    return this.coarse;
  }

  /** Every distinct prefix of every key. */
  union(): IterableIterator<string> {
    return this.counts.keys();
  }

  /** Keys whose filter matches `topic`, each once (cached per topic). */
  match(topic: string): readonly K[] {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const out: K[] = [];
    (isInternalTopic(topic) ? this.internalTrie : this.trie).forEachMatch(topic, (k) => {
      if (!out.includes(k)) out.push(k);
    });
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(topic, out);
    return out;
  }
}
