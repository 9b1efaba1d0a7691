/** NATS subject rules: wildcard matching and subject validity, against a token-split oracle. */
import { describe, expect, it } from 'vitest';
import { SubjectIndex, hasWildcard, isValidSubject, subjectMatches } from '../../src/backbone/subject-match.js';
import { Rng } from '../support/sim-network.js';

/** The rules written the obvious way (split, compare), to check the scanning matcher against. */
function oracle(pattern: string, subject: string): boolean {
  if (pattern === '' || subject === '') return false;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (t === '*') {
      if (s[i] === '') return false;
    } else if (t !== s[i]) {
      return false;
    }
  }
  return p.length === s.length;
}

describe('subjectMatches', () => {
  it('matches literals token by token', () => {
    expect(subjectMatches('a.b.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.b.c', 'a.b')).toBe(false);
    expect(subjectMatches('a.bc', 'a.b')).toBe(false);
    expect(subjectMatches('ab', 'a')).toBe(false);
    expect(subjectMatches('', '')).toBe(false);
    expect(subjectMatches('a', '')).toBe(false);
  });

  it('`*` matches exactly one token', () => {
    expect(subjectMatches('a.*', 'a.b')).toBe(true);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.*', 'a')).toBe(false);
    expect(subjectMatches('*.b.*', 'x.b.y')).toBe(true);
    expect(subjectMatches('*.b.*', 'x.c.y')).toBe(false);
    expect(subjectMatches('*', 'a')).toBe(true);
    expect(subjectMatches('*', 'a.b')).toBe(false);
  });

  it('`>` matches one or more tokens, and only as the last token', () => {
    expect(subjectMatches('a.>', 'a.b')).toBe(true);
    expect(subjectMatches('a.>', 'a.b.c.d')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('>', 'a')).toBe(true);
    expect(subjectMatches('>', 'a.b')).toBe(true);
    expect(subjectMatches('a.>.c', 'a.b.c')).toBe(false);
    expect(subjectMatches('*.>', 'a.b')).toBe(true);
    expect(subjectMatches('*.>', 'a')).toBe(false);
  });

  it('wildcards inside a longer token are ordinary characters', () => {
    expect(subjectMatches('a.b*', 'a.bc')).toBe(false);
    expect(subjectMatches('a.b*', 'a.b*')).toBe(true);
    expect(subjectMatches('a.>x', 'a.b')).toBe(false);
    expect(subjectMatches('a.>x', 'a.>x')).toBe(true);
  });

  it('wildcards never match empty tokens', () => {
    expect(subjectMatches('a.*', 'a.')).toBe(false);
    expect(subjectMatches('a.>', 'a.')).toBe(false);
    expect(subjectMatches('*.b', '.b')).toBe(false);
  });

  it('agrees with a split-and-compare oracle on 20,000 random pairs', () => {
    const rng = new Rng(20260814);
    const tokens = ['a', 'b', 'ab', '*', '>', '', 'a*', '_2F'];
    const literals = ['a', 'b', 'ab', 'a*', '_2F'];
    const gen = (from: readonly string[]): string => {
      const n = rng.int(1, 4);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(rng.pick(from));
      return out.join('.');
    };
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      // Patterns of any shape (even invalid ones); subjects as publishers send them (literal, valid).
      const p = gen(tokens);
      const s = gen(literals);
      const want = oracle(p, s);
      if (subjectMatches(p, s) !== want) expect({ p, s, got: !want }).toEqual({ p, s, got: want });
      if (want) matched++;
    }
    // The generator reaches both outcomes often enough for the comparison to mean something.
    expect(matched).toBeGreaterThan(500);
  });
});

describe('isValidSubject', () => {
  it('accepts ordinary subjects and refuses empty tokens', () => {
    expect(isValidSubject('ib.isobroker.t.zeek.cluster', false)).toBe(true);
    expect(isValidSubject('a', false)).toBe(true);
    expect(isValidSubject('', false)).toBe(false);
    expect(isValidSubject('.a', false)).toBe(false);
    expect(isValidSubject('a.', false)).toBe(false);
    expect(isValidSubject('a..b', true)).toBe(false);
  });

  it('refuses whitespace', () => {
    for (const s of ['a b', 'a\tb', 'a\nb', 'a\rb', ' a', 'a.b ']) expect(isValidSubject(s, true)).toBe(false);
  });

  it('allows wildcards only when asked, `>` only last', () => {
    expect(isValidSubject('a.*', false)).toBe(false);
    expect(isValidSubject('a.>', false)).toBe(false);
    expect(isValidSubject('a.*', true)).toBe(true);
    expect(isValidSubject('a.>', true)).toBe(true);
    expect(isValidSubject('*.*.>', true)).toBe(true);
    expect(isValidSubject('a.>.b', true)).toBe(false);
    expect(isValidSubject('>', true)).toBe(true);
    // Inside a longer token they are literal characters.
    expect(isValidSubject('a*.b>', false)).toBe(true);
  });

  it('hasWildcard sees only whole-token wildcards', () => {
    expect(hasWildcard('a.*')).toBe(true);
    expect(hasWildcard('>')).toBe(true);
    expect(hasWildcard('a*.b>')).toBe(false);
    expect(hasWildcard('a.b')).toBe(false);
  });
});

describe('SubjectIndex', () => {
  it('finds exactly the items whose pattern matches, through random adds and deletes', () => {
    const rng = new Rng(99);
    const tokens = ['a', 'b', 'c', '*'];
    const genPattern = (): string => {
      const n = rng.int(1, 4);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(rng.pick(tokens));
      if (rng.chance(0.3)) out[n - 1] = '>';
      return out.join('.');
    };
    const genSubject = (): string => {
      const n = rng.int(1, 5);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(rng.pick(['a', 'b', 'c']));
      return out.join('.');
    };
    const index = new SubjectIndex<number>();
    const live = new Map<number, string>();
    let next = 0;
    let compared = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rng.next();
      if (r < 0.4 || live.size === 0) {
        const p = genPattern();
        live.set(next, p);
        index.add(p, next++);
      } else if (r < 0.7) {
        const id = rng.pick([...live.keys()]);
        index.delete(live.get(id)!, id);
        live.delete(id);
      } else {
        const s = genSubject();
        const got: number[] = [];
        index.match(s, (id) => got.push(id));
        const want = [...live].filter(([, p]) => subjectMatches(p, s)).map(([id]) => id);
        expect(got.sort((x, y) => x - y)).toEqual(want.sort((x, y) => x - y));
        compared += want.length;
      }
      expect(index.size).toBe(live.size);
    }
    expect(compared).toBeGreaterThan(1000);
    // Deleting everything leaves an empty tree behind (no levels kept alive).
    for (const [id, p] of live) index.delete(p, id);
    expect(index.size).toBe(0);
    expect(JSON.stringify(index)).toBe(JSON.stringify(new SubjectIndex<number>()));
  });

  it('deleting an item not under that pattern changes nothing', () => {
    const index = new SubjectIndex<string>();
    index.add('a.>', 'x');
    index.delete('a.*', 'x');
    index.delete('a.>', 'y');
    index.delete('b.c', 'x');
    const got: string[] = [];
    index.match('a.b', (v) => got.push(v));
    expect(got).toEqual(['x']);
    expect(index.size).toBe(1);
  });
});
