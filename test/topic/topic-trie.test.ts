import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueError } from 'isobroker';
import { TopicTrie, type TrieHandle } from '../../src/internal.js';

const encoder = new TextEncoder();

/** Broker's rule: `prefix` matches `topic` when its UTF-8 bytes start the topic's bytes. */
function bytePrefix(prefix: string, topic: string): boolean {
  const p = encoder.encode(prefix);
  const t = encoder.encode(topic);
  return p.length <= t.length && p.every((b, i) => b === t[i]);
}

describe('TopicTrie semantics', () => {
  it('matches by prefix: alice/dogs', () => {
    const trie = new TopicTrie<string>();
    trie.add('alice/dogs', 'sub');
    expect(trie.match('alice/dogs/corgi')).toEqual(['sub']);
    expect(trie.match('alice/dogs')).toEqual(['sub']);
    expect(trie.match('alice/dogsarecool')).toEqual(['sub']);
    expect(trie.match('alice/dog')).toEqual([]);
    expect(trie.match('alice')).toEqual([]);
    expect(trie.match('')).toEqual([]);
    expect(trie.match('bob/dogs')).toEqual([]);
    expect(trie.hasMatch('alice/dogs/corgi')).toBe(true);
    expect(trie.hasMatch('alice/dog')).toBe(false);
  });

  it('"" matches everything, the empty topic included', () => {
    const trie = new TopicTrie<number>();
    trie.add('', 1);
    for (const t of ['', 'a', 'zeek/logs/conn', '\u{1F600}']) {
      expect(trie.match(t)).toEqual([1]);
      expect(trie.hasMatch(t)).toBe(true);
    }
  });

  it('returns every matching value once per handle, shorter prefixes first', () => {
    const trie = new TopicTrie<string>();
    trie.add('zeek/cluster/node/worker-1/', 'w1');
    trie.add('zeek/cluster/', 'cluster');
    trie.add('zeek/cluster/node/worker-10/', 'w10');
    trie.add('', 'all');
    trie.add('zeek/cluster/', 'cluster');
    trie.add('zeek/logs/conn', 'conn');
    expect(trie.size).toBe(6);
    expect(trie.match('zeek/cluster/node/worker-1/')).toEqual(['all', 'cluster', 'cluster', 'w1']);
    expect(trie.match('zeek/cluster/node/worker-10/x')).toEqual(['all', 'cluster', 'cluster', 'w10']);
    expect(trie.match('zeek/cluster/node/worker-1')).toEqual(['all', 'cluster', 'cluster']);
    expect(trie.match('zeek/logs/connections')).toEqual(['all', 'conn']);
    expect(trie.match('zeek/log')).toEqual(['all']);
  });

  it('forEachMatch visits the same values as match, with their handles', () => {
    const trie = new TopicTrie<string>();
    const a = trie.add('a', 'A');
    const ab = trie.add('a/b', 'AB');
    trie.add('a/c', 'AC');
    const seen: [string, TrieHandle<string>][] = [];
    trie.forEachMatch('a/b/c', (v, h) => seen.push([v, h]));
    expect(seen).toEqual([
      ['A', a],
      ['AB', ab],
    ]);
    expect(ab.prefix).toBe('a/b');
    expect(ab.value).toBe('AB');
  });

  it('removes one handle at a time; a removed or foreign handle gives false', () => {
    const trie = new TopicTrie<string>();
    const other = new TopicTrie<string>();
    const h1 = trie.add('x/y', 'v');
    const h2 = trie.add('x/y', 'v');
    const foreign = other.add('x/y', 'v');
    expect(trie.remove(foreign)).toBe(false);
    expect(trie.remove({ prefix: 'x/y', value: 'v' })).toBe(false);
    expect(trie.remove(h1)).toBe(true);
    expect(trie.remove(h1)).toBe(false);
    expect(trie.match('x/y/z')).toEqual(['v']);
    expect(trie.remove(h2)).toBe(true);
    expect(trie.match('x/y/z')).toEqual([]);
    expect(trie.size).toBe(0);
    expect(other.match('x/y')).toEqual(['v']);
  });

  it('keeps working after prefixes split and merge edges', () => {
    const trie = new TopicTrie<string>();
    const h = ['romane', 'romanus', 'romulus', 'rubens', 'ruber', 'rubicon', 'rubicundus', 'rom'].map((p) =>
      trie.add(p, p),
    );
    expect(trie.match('rubicundus!')).toEqual(['rubicundus']);
    expect(trie.match('romanesque')).toEqual(['rom', 'romane']);
    for (const x of h.slice(0, 4)) trie.remove(x);
    expect(trie.match('romanesque')).toEqual(['rom']);
    expect(trie.match('rubicon')).toEqual(['rubicon']);
    const again = trie.add('roma', 'roma');
    expect(trie.match('romanesque')).toEqual(['rom', 'roma']);
    trie.remove(again);
    trie.remove(h[7]!);
    expect(trie.match('romanesque')).toEqual([]);
    expect(trie.match('rubens')).toEqual([]);
    expect(trie.match('ruber')).toEqual(['ruber']);
    expect(trie.size).toBe(3);
  });

  it('splits edges on add and prunes and merges nodes on remove', () => {
    const trie = new TopicTrie<string>();
    expect(trie.nodeCount).toBe(1);
    const abc = trie.add('abc', 'abc');
    expect(trie.nodeCount).toBe(2); // root, "abc"
    const abd = trie.add('abd', 'abd');
    expect(trie.nodeCount).toBe(4); // root, "ab", "c", "d"
    const ab = trie.add('ab', 'ab');
    expect(trie.nodeCount).toBe(4);
    trie.remove(ab);
    expect(trie.nodeCount).toBe(4); // "ab" still branches
    trie.remove(abd);
    expect(trie.nodeCount).toBe(2); // "ab" merged into "c": root, "abc"
    expect(trie.match('abcd')).toEqual(['abc']);
    trie.remove(abc);
    expect(trie.nodeCount).toBe(1);
  });

  it('clear() empties the trie and retires old handles', () => {
    const trie = new TopicTrie<number>();
    const h = trie.add('a', 1);
    trie.clear();
    expect(trie.size).toBe(0);
    expect(trie.match('a')).toEqual([]);
    expect(trie.remove(h)).toBe(false);
    const h2 = trie.add('a', 2);
    expect(trie.remove(h)).toBe(false);
    expect(trie.match('a')).toEqual([2]);
    expect(trie.remove(h2)).toBe(true);
  });

  it('rejects non-string prefixes', () => {
    expect(() => new TopicTrie().add(1 as never, 1)).toThrow(ValueError);
  });

  it('agrees with UTF-8 byte prefixes on non-ASCII topics', () => {
    const prefixes = [
      'zeek/ü',
      'zeek/ü/',
      'zeek/\u{1F600}',
      'zeek/\u{1F600}x',
      'zeek/\uFFFD',
      'zeek/\u00FF',
      '日本',
      '日',
    ];
    const topics = [
      'zeek/ü/x',
      'zeek/üb',
      'zeek/u',
      'zeek/\u{1F600}xy',
      'zeek/\u{1F601}',
      'zeek/\uFFFD',
      'zeek/\u00FFa',
      '日本語',
      '日',
    ];
    const trie = new TopicTrie<string>();
    for (const p of prefixes) trie.add(p, p);
    for (const t of topics) {
      expect(trie.match(t)).toEqual(prefixes.filter((p) => bytePrefix(p, t)).sort((a, b) => a.length - b.length));
    }
    // Spot checks of the rule itself.
    expect(bytePrefix('zeek/ü', 'zeek/üb')).toBe(true);
    expect(bytePrefix('zeek/\u{1F600}', 'zeek/\u{1F601}')).toBe(false);
  });
});

describe('UTF-16 prefix equals UTF-8 byte prefix for well-formed strings', () => {
  it('holds on random Unicode strings, including shared leading code points', () => {
    const str = fc.string({ unit: 'binary', maxLength: 6 }); // any code point, well-formed
    fc.assert(
      fc.property(str, str, str, (common, a, b) => {
        const p = common + a;
        const t = common + b;
        expect(t.startsWith(p)).toBe(bytePrefix(p, t));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('TopicTrie against a naive scan', () => {
  // Small alphabets with multi-byte and astral characters make shared prefixes and splits common.
  const unit = fc.constantFrom('a', 'b', '/', 'ü', '\u{1F600}', '\uFFFD');
  const topicArb = fc.array(unit, { maxLength: 7 }).map((xs) => xs.join(''));

  type Op = { add: string } | { remove: number } | { probe: string };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: topicArb.map((add) => ({ add })) },
    { weight: 2, arbitrary: fc.nat(40).map((remove) => ({ remove })) },
    { weight: 3, arbitrary: topicArb.map((probe) => ({ probe })) },
  );

  it('match, forEachMatch, hasMatch and size agree with a scan through interleaved adds and removes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(topicArb, { maxLength: 8 }), (ops, finalProbes) => {
        const trie = new TopicTrie<number>();
        const live: { handle: TrieHandle<number>; prefix: string; id: number }[] = [];
        let next = 0;
        const check = (topic: string): void => {
          const expected = live
            .filter((e) => bytePrefix(e.prefix, topic))
            .map((e) => e.id)
            .sort((x, y) => x - y);
          expect([...trie.match(topic)].sort((x, y) => x - y)).toEqual(expected);
          const visited: number[] = [];
          trie.forEachMatch(topic, (v) => visited.push(v));
          expect(visited.sort((x, y) => x - y)).toEqual(expected);
          expect(trie.hasMatch(topic)).toBe(expected.length > 0);
        };
        for (const op of ops) {
          if ('add' in op) {
            const id = next++;
            live.push({ handle: trie.add(op.add, id), prefix: op.add, id });
          } else if ('remove' in op) {
            if (live.length === 0) continue;
            const [gone] = live.splice(op.remove % live.length, 1);
            expect(trie.remove(gone!.handle)).toBe(true);
            expect(trie.remove(gone!.handle)).toBe(false);
          } else {
            check(op.probe);
          }
          expect(trie.size).toBe(live.length);
        }
        for (const t of [...finalProbes, ...live.map((e) => e.prefix), '']) check(t);
        // Removing the last handle on a node prunes it: the shape equals a freshly built trie's.
        const fresh = new TopicTrie<number>();
        for (const e of live) fresh.add(e.prefix, e.id);
        expect(trie.nodeCount).toBe(fresh.nodeCount);
      }),
      { numRuns: 1000 },
    );
  });

  it('matches in order of prefix length', () => {
    fc.assert(
      fc.property(fc.array(topicArb, { maxLength: 20 }), topicArb, (prefixes, topic) => {
        const trie = new TopicTrie<string>();
        for (const p of prefixes) trie.add(p, p);
        const lengths = trie.match(topic).map((p) => p.length);
        expect(lengths).toEqual([...lengths].sort((x, y) => x - y));
      }),
    );
  });

  it('prunes emptied nodes: a trie emptied by removes behaves like a fresh one', () => {
    fc.assert(
      fc.property(
        fc.array(topicArb, { minLength: 1, maxLength: 30 }),
        fc.array(topicArb, { maxLength: 10 }),
        (prefixes, probes) => {
          const trie = new TopicTrie<string>();
          const handles = prefixes.map((p) => trie.add(p, p));
          for (const h of handles.reverse()) expect(trie.remove(h)).toBe(true);
          expect(trie.size).toBe(0);
          for (const t of [...probes, ...prefixes]) expect(trie.hasMatch(t)).toBe(false);
          expect(trie.nodeCount).toBe(1);
          trie.add('a', 'a');
          expect(trie.match('ab')).toEqual(['a']);
        },
      ),
      { numRuns: 300 },
    );
  });
});
