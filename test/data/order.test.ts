import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  address,
  boolean,
  compare,
  count,
  enumValue,
  equals,
  integer,
  none,
  port,
  real,
  set,
  string,
  subnet,
  table,
  timespan,
  timestamp,
  toText,
  vector,
  type Data,
} from 'isobroker';
import { DATA_TYPES, MAX_COUNT, MAX_INTEGER, MIN_INTEGER } from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';

const sign = (n: number): number => Math.sign(n) || 0;

/** Asserts that `xs` is strictly increasing under `compare`. */
function expectAscending(xs: readonly Data[]): void {
  for (let i = 1; i < xs.length; i++) {
    const [a, b] = [xs[i - 1]!, xs[i]!];
    expect(sign(compare(a, b)), `${toText(a)} < ${toText(b)}`).toBe(-1);
    expect(sign(compare(b, a)), `${toText(b)} > ${toText(a)}`).toBe(1);
    expect(equals(a, b)).toBe(false);
  }
}

describe('total order', () => {
  it('orders by type index first, in Broker order', () => {
    // One value per type, each chosen to be "large" within its type, so only the type decides.
    const oneOfEach: Data[] = [
      none(),
      boolean(true),
      count(MAX_COUNT),
      integer(MAX_INTEGER),
      real(Number.POSITIVE_INFINITY),
      string('\u{10ffff}'),
      address('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
      subnet('ffff::/128'),
      port(65535, 'icmp'),
      timestamp(MAX_INTEGER),
      timespan(MAX_INTEGER),
      enumValue('zzz'),
      set([string('z')]),
      table([[string('z'), none()]]),
      vector([string('z')]),
    ];
    expect(oneOfEach.map((d) => d.type)).toEqual([...DATA_TYPES]);
    expectAscending(oneOfEach);
    // A "small" value of a later type still sorts after a "large" one of an earlier type.
    expectAscending([count(MAX_COUNT), integer(MIN_INTEGER)]);
    expectAscending([integer(MAX_INTEGER), real(Number.NEGATIVE_INFINITY)]);
    expectAscending([table([[string('z'), none()]]), vector([])]);
  });

  it('false < true', () => expectAscending([boolean(false), boolean(true)]));

  it('numbers numerically, including 64-bit extremes', () => {
    expectAscending([
      count(0),
      count(1),
      count(2n ** 53n),
      count(2n ** 53n + 1n),
      count(MAX_COUNT - 1n),
      count(MAX_COUNT),
    ]);
    expectAscending([
      integer(MIN_INTEGER),
      integer(MIN_INTEGER + 1n),
      integer(-1),
      integer(0),
      integer(1),
      integer(MAX_INTEGER),
    ]);
    expectAscending([timestamp(MIN_INTEGER), timestamp(-1n), timestamp(0n), timestamp(MAX_INTEGER)]);
    expectAscending([timespan(MIN_INTEGER), timespan(0n), timespan(MAX_INTEGER)]);
    expect(compare(count(7), count(7n))).toBe(0);
  });

  it('reals numerically; -0 equals 0; NaN equals NaN and sorts after +Infinity', () => {
    expectAscending([
      real(Number.NEGATIVE_INFINITY),
      real(-Number.MAX_VALUE),
      real(-1),
      real(-Number.MIN_VALUE),
      real(0),
      real(Number.MIN_VALUE),
      real(1),
      real(Number.MAX_VALUE),
      real(Number.POSITIVE_INFINITY),
      real(Number.NaN),
    ]);
    expect(compare(real(-0), real(0))).toBe(0);
    expect(equals(real(-0), real(0))).toBe(true);
    expect(compare(real(Number.NaN), real(Number.NaN))).toBe(0);
    expect(equals(real(Number.NaN), real(-Number.NaN))).toBe(true);
  });

  it('strings bytewise by UTF-8, not by UTF-16 code unit', () => {
    // U+E000–U+FFFF come before characters above U+FFFF in UTF-8 (EE.. / EF.. < F0..) even though
    // their UTF-16 code units are larger than the surrogates (D800–DFFF).
    expectAscending([
      string(''),
      string('\0'),
      string('A'),
      string('Z'),
      string('a'),
      string('aa'),
      string('b'),
      string('\u007f'),
      string('\u0080'),
      string('é'),
      string('\u07ff'),
      string('\u0800'),
      string('\ud7ff'),
      string('\ue000'),
      string('\uffff'),
      string('\u{10000}'),
      string('😀'),
      string('\u{10ffff}'),
    ]);
    expectAscending([string('a\uffff'), string('a\u{10000}'), string('a\u{10000}a')]);
    expectAscending([enumValue('Log::A'), enumValue('Log::B'), enumValue('Log::a'), enumValue('Log::\u{1f600}')]);
    const enc = new TextEncoder();
    const bytewise = (a: string, b: string): number => {
      const [x, y] = [enc.encode(a), enc.encode(b)];
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
      return sign(x.length - y.length);
    };
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(sign(compare(string(a), string(b)))).toBe(bytewise(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('addresses by their 16-byte form: ::1 < 1.2.3.4 < 2001:db8::', () => {
    expectAscending([
      address('::'),
      address('::1'),
      address('::1.2.3.4'),
      address('::fffe:ffff:ffff'),
      address('0.0.0.0'),
      address('1.2.3.4'),
      address('1.2.3.5'),
      address('255.255.255.255'),
      address('::1:0:0:0'),
      address('1::'),
      address('2001:db8::'),
      address('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
    ]);
  });

  it('subnets by network, then length', () => {
    expectAscending([
      subnet('::/0'),
      subnet('::/1'),
      subnet('::1/128'),
      subnet('0.0.0.0/0'),
      subnet('0.0.0.0/8'),
      subnet('10.0.0.0/8'),
      subnet('10.0.0.0/9'),
      subnet('10.0.0.0/32'),
      subnet('10.128.0.0/9'),
      subnet('2001:db8::/32'),
    ]);
  });

  it('ports by number, then unknown < tcp < udp < icmp', () => {
    expectAscending([
      port(0, 'unknown'),
      port(0, 'tcp'),
      port(0, 'udp'),
      port(0, 'icmp'),
      port(1, 'unknown'),
      port(80, 'icmp'),
      port(81, 'unknown'),
      port(65535, 'tcp'),
    ]);
  });

  it('containers lexicographically (a prefix first)', () => {
    expectAscending([
      vector([]),
      vector([count(1)]),
      vector([count(1), count(1)]),
      vector([count(2)]),
      vector([string('a')]),
    ]);
    expectAscending([set([]), set([count(1)]), set([count(1), count(2)]), set([count(2)])]);
    expectAscending([
      table([]),
      table([[count(1), count(1)]]),
      table([[count(1), count(2)]]),
      table([
        [count(1), count(2)],
        [count(2), none()],
      ]),
      table([[count(2), count(0)]]),
    ]);
    expectAscending([vector([set([])]), vector([table([])]), vector([vector([])]), vector([vector([none()])])]);
  });
});

describe('total order properties', () => {
  const data = dataArb();

  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(data, data, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(sign(compare(a, b)) + sign(compare(b, a))).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(data, data, data, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compare);
        expect(compare(x!, y!)).toBeLessThanOrEqual(0);
        expect(compare(y!, z!)).toBeLessThanOrEqual(0);
        expect(compare(x!, z!)).toBeLessThanOrEqual(0);
        if (compare(x!, y!) === 0 && compare(y!, z!) === 0) expect(compare(x!, z!)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('equals holds exactly when compare is 0, and for structural copies', () => {
    fc.assert(
      fc.property(data, data, (a, b) => {
        expect(equals(a, b)).toBe(compare(a, b) === 0);
        expect(equals(a, structuredClone(a))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('constructed sets and tables are sorted and duplicate-free, all the way down', () => {
    const check = (d: Data): void => {
      if (d.type === 'set') {
        for (let i = 1; i < d.elements.length; i++) expect(compare(d.elements[i - 1]!, d.elements[i]!)).toBeLessThan(0);
        d.elements.forEach(check);
      } else if (d.type === 'table') {
        for (let i = 1; i < d.entries.length; i++)
          expect(compare(d.entries[i - 1]![0], d.entries[i]![0])).toBeLessThan(0);
        for (const [k, v] of d.entries) {
          check(k);
          check(v);
        }
      } else if (d.type === 'vector') d.elements.forEach(check);
    };
    fc.assert(
      fc.property(data, (d) => check(d)),
      { numRuns: 1000 },
    );
  });

  it('set() keeps one of each equal element, whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(data, { maxLength: 12 }), (xs) => {
        const s = set([...xs, ...xs.slice().reverse()]);
        const distinct = xs.filter((x, i) => xs.findIndex((y) => equals(x, y)) === i);
        expect(s.elements.length).toBe(distinct.length);
        for (const x of xs) expect(s.elements.some((e) => equals(e, x))).toBe(true);
        expect(equals(s, set(xs.slice().reverse()))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('table() keeps the last value given for each key', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(data, data), { maxLength: 10 }), (pairs) => {
        const t = table(pairs);
        for (const [k] of pairs) {
          const last = pairs.filter(([k2]) => equals(k, k2)).at(-1)![1];
          const hits = t.entries.filter(([k2]) => equals(k, k2));
          expect(hits).toHaveLength(1);
          expect(equals(hits[0]![1], last)).toBe(true);
        }
        expect(t.entries.length).toBeLessThanOrEqual(pairs.length);
      }),
      { numRuns: 500 },
    );
  });
});
