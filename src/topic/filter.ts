/**
 * Subscription filters: lists of topic prefixes. A normalised filter is duplicate-free, sorted by
 * UTF-8 byte order (Broker's order for topics) and holds no prefix covered by a shorter one, so
 * it matches exactly the same topics as the list it came from. Prefix tests run on UTF-16 code
 * units, which agree with UTF-8 byte prefixes for well-formed strings (see `topic-trie.ts`).
 */
import { ValueError } from '../errors.js';
import { compareStrings } from '../data/order.js';

/**
 * Deduplicates, sorts and drops every prefix covered by a shorter one:
 * `["a/b", "a", "c"]` → `["a", "c"]`; any `""` gives `[""]`.
 */
export function normalizeFilter(prefixes: Iterable<string>): string[] {
  const unique = new Set<string>();
  for (const p of prefixes) {
    if (typeof p !== 'string') throw new ValueError(`topic prefix must be a string, got ${typeof p}`);
    unique.add(p);
  }
  // In a lexicographic order the topics starting with P directly follow P, so comparing each
  // prefix with the last one kept is enough.
  const out: string[] = [];
  for (const p of [...unique].sort(compareStrings)) {
    const last = out[out.length - 1];
    if (last === undefined || !p.startsWith(last)) out.push(p);
  }
  return out;
}

/** True when some prefix in `filter` is a prefix of `topic`. */
export function filterMatches(filter: Iterable<string>, topic: string): boolean {
  for (const p of filter) if (topic.startsWith(p)) return true;
  return false;
}
