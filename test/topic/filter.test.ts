import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueError } from 'isobroker';
import { filterMatches, normalizeFilter } from '../../src/internal.js';

describe('normalizeFilter', () => {
  it('drops prefixes covered by shorter ones, deduplicates and sorts', () => {
    expect(normalizeFilter(['a/b', 'a', 'c'])).toEqual(['a', 'c']);
    expect(normalizeFilter(['c', 'a/b', 'a/b', 'a/c'])).toEqual(['a/b', 'a/c', 'c']);
    expect(normalizeFilter(['alice/dogs', 'alice/dogsarecool', 'alice/dog'])).toEqual(['alice/dog']);
    expect(normalizeFilter(['zeek/cluster/node/logger-1/', 'zeek/cluster/node/logger-10/'])).toEqual([
      'zeek/cluster/node/logger-1/',
      'zeek/cluster/node/logger-10/',
    ]);
    expect(normalizeFilter([])).toEqual([]);
    expect(normalizeFilter(new Set(['b', 'a']))).toEqual(['a', 'b']);
  });

  it('gives [""] when any prefix is ""', () => {
    expect(normalizeFilter(['x', '', 'a/b'])).toEqual(['']);
    expect(normalizeFilter(['', ''])).toEqual(['']);
  });

  it('sorts by UTF-8 bytes (code points), not UTF-16 units', () => {
    // U+FF61 is below U+1F600 in code point order, above its surrogates in UTF-16 order.
    expect(normalizeFilter(['\u{1F600}', '\uFF61', 'z'])).toEqual(['z', '\uFF61', '\u{1F600}']);
  });

  it('rejects non-string prefixes', () => {
    expect(() => normalizeFilter(['a', 1 as never])).toThrow(ValueError);
  });
});

describe('filterMatches', () => {
  it('matches when any prefix starts the topic', () => {
    expect(filterMatches(['alice/dogs'], 'alice/dogs/corgi')).toBe(true);
    expect(filterMatches(['alice/dogs'], 'alice/dogsarecool')).toBe(true);
    expect(filterMatches(['alice/dogs'], 'alice/dog')).toBe(false);
    expect(filterMatches(['x', 'alice/dogs'], 'alice')).toBe(false);
    expect(filterMatches([''], '')).toBe(true);
    expect(filterMatches([], '')).toBe(false);
  });
});

describe('normalizeFilter properties', () => {
  const unit = fc.constantFrom('a', 'b', '/', 'é', '\u{1F600}', '\uFF61');
  const str = fc.array(unit, { maxLength: 5 }).map((xs) => xs.join(''));

  it('keeps exactly the same set of matched topics', () => {
    fc.assert(
      fc.property(fc.array(str, { maxLength: 12 }), fc.array(str, { maxLength: 20 }), (prefixes, topics) => {
        const normal = normalizeFilter(prefixes);
        // Probe with random topics and with every prefix itself and its one-unit extensions.
        const probes = [
          ...topics,
          ...prefixes,
          ...prefixes.map((p) => `${p}a`),
          ...prefixes.map((p) => p.slice(0, -1)),
        ];
        for (const t of probes) expect(filterMatches(normal, t)).toBe(filterMatches(prefixes, t));
      }),
      { numRuns: 1000 },
    );
  });

  it('is sorted, duplicate-free, prefix-free and idempotent', () => {
    fc.assert(
      fc.property(fc.array(str, { maxLength: 12 }), (prefixes) => {
        const normal = normalizeFilter(prefixes);
        const enc = new TextEncoder();
        for (let i = 1; i < normal.length; i++) {
          expect(Buffer.compare(enc.encode(normal[i - 1]!), enc.encode(normal[i]!))).toBe(-1);
        }
        for (const a of normal) for (const b of normal) if (a !== b) expect(b.startsWith(a)).toBe(false);
        for (const p of prefixes) expect(normal.some((n) => p.startsWith(n))).toBe(true);
        expect(normalizeFilter(normal)).toEqual(normal);
      }),
      { numRuns: 1000 },
    );
  });
});
