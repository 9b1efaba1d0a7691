import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DataMap,
  DataSet,
  ValueError,
  address,
  boolean,
  compare,
  count,
  dataToJs,
  enumValue,
  equals,
  from,
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
  toBigInt,
  toDate,
  toNumber,
  vector,
  type Data,
} from 'isobroker';
import { MAX_COUNT, MAX_INTEGER, MIN_INTEGER, dataKey } from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';

describe('accessors', () => {
  it('toNumber reads counts, integers and reals exactly', () => {
    expect(toNumber(count(5))).toBe(5);
    expect(toNumber(integer(-5))).toBe(-5);
    expect(toNumber(real(2.5))).toBe(2.5);
    expect(toNumber(integer(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toNumber(count(MAX_COUNT))).toThrow(ValueError);
    expect(() => toNumber(integer(-(2n ** 53n)))).toThrow(ValueError);
    expect(() => toNumber(string('5'))).toThrow(ValueError);
    expect(() => toNumber(timespan(5n))).toThrow(/expected count, integer or real, got timespan/);
  });

  it('toBigInt reads 64-bit values and nanoseconds', () => {
    expect(toBigInt(count(MAX_COUNT))).toBe(MAX_COUNT);
    expect(toBigInt(integer(MIN_INTEGER))).toBe(MIN_INTEGER);
    expect(toBigInt(timestamp(-3n))).toBe(-3n);
    expect(toBigInt(timespan(7n))).toBe(7n);
    expect(() => toBigInt(real(1))).toThrow(ValueError);
  });

  it('toDate floors to the millisecond', () => {
    expect(toDate(timestamp(1_999_999n)).getTime()).toBe(1);
    expect(toDate(timestamp(-1n)).getTime()).toBe(-1);
    expect(toDate(timestamp(MAX_INTEGER)).toISOString()).toBe('2262-04-11T23:47:16.854Z');
    expect(() => toDate(count(1) as unknown as Parameters<typeof toDate>[0])).toThrow(ValueError);
  });
});

describe('dataToJs', () => {
  it('converts every type to its plain JavaScript form', () => {
    expect(dataToJs(none())).toBeNull();
    expect(dataToJs(boolean(true))).toBe(true);
    expect(dataToJs(count(5))).toBe(5);
    expect(dataToJs(count(MAX_COUNT))).toBe(MAX_COUNT);
    expect(dataToJs(integer(-9007199254740991n))).toBe(-9007199254740991);
    expect(dataToJs(integer(-9007199254740992n))).toBe(-9007199254740992n);
    expect(dataToJs(real(1.5))).toBe(1.5);
    expect(dataToJs(string('x'))).toBe('x');
    expect(dataToJs(address('::ffff:10.0.0.1'))).toBe('10.0.0.1');
    expect(dataToJs(subnet('2001:db8::1/32'))).toBe('2001:db8::/32');
    expect(dataToJs(port(0, 'unknown'))).toBe('0/?');
    expect(dataToJs(timestamp(1_500_000n))).toEqual(new Date(1));
    expect(dataToJs(timespan(1_500_000_000n))).toBe(1500);
    expect(dataToJs(timespan(-1_500n))).toBe(-0.0015);
    expect(dataToJs(enumValue('Conn::LOG'))).toBe('Conn::LOG');
    expect(dataToJs(vector([count(1), string('a')]))).toEqual([1, 'a']);
    expect(dataToJs(set([count(2), count(1)]))).toEqual(new Set([1, 2]));
    expect(dataToJs(table([[string('a'), vector([])]]))).toEqual(new Map([['a', []]]));
  });

  it('honours the int64 option', () => {
    expect(dataToJs(count(5), { int64: 'bigint' })).toBe(5n);
    expect(dataToJs(vector([integer(1)]), { int64: 'bigint' })).toEqual([1n]);
    expect(dataToJs(count(MAX_COUNT), { int64: 'number' })).toBe(2 ** 64);
  });

  it('round-trips through from() for the types from() produces', () => {
    const v = vector([
      integer(1),
      real(1.5),
      string('s'),
      boolean(false),
      none(),
      set([integer(2)]),
      table([[string('k'), integer(3)]]),
    ]);
    expect(equals(from(dataToJs(v, { int64: 'bigint' })), v)).toBe(true);
  });
});

describe('dataKey, DataMap, DataSet', () => {
  it('dataKey is equal exactly when the values are equal (property)', () => {
    fc.assert(
      fc.property(dataArb(), dataArb(), (a, b) => {
        expect(dataKey(a) === dataKey(b)).toBe(equals(a, b));
        expect(dataKey(structuredClone(a))).toBe(dataKey(a));
      }),
      { numRuns: 2000 },
    );
  });

  it('dataKey separates values that look alike', () => {
    const lookalikes: Data[] = [
      count(1),
      integer(1),
      real(1),
      string('1'),
      enumValue('1'),
      timestamp(1n),
      timespan(1n),
      port(1, 'udp'),
      port(1, 'unknown'),
      vector([string('ab')]),
      vector([string('a'), string('b')]),
      set([string('ab')]),
      vector([vector([]), vector([])]),
      vector([vector([vector([])])]),
      table([[count(1), count(2)]]),
      vector([count(1), count(2)]),
      address('1.2.3.4'),
      subnet('1.2.3.4/32'),
    ];
    expect(new Set(lookalikes.map(dataKey)).size).toBe(lookalikes.length);
    expect(dataKey(real(-0))).toBe(dataKey(real(0)));
    expect(dataKey(real(Number.NaN))).toBe(dataKey(real(-Number.NaN)));
  });

  it('DataMap looks keys up by value', () => {
    const m = new DataMap<number>([[vector([string('a')]), 1]]);
    m.set(string('z'), 2).set(count(1), 3);
    m.set(vector([string('a')]), 4); // same key: value replaced, position kept
    expect(m.size).toBe(3);
    expect(m.get(vector([string('a')]))).toBe(4);
    expect(m.has(address('1.2.3.4'))).toBe(false);
    expect([...m.values()]).toEqual([4, 2, 3]);
    expect(m.sorted().map(([, v]) => v)).toEqual([3, 2, 4]);
    expect(m.delete(string('z'))).toBe(true);
    expect(m.delete(string('z'))).toBe(false);
    expect([...m].map(([k]) => k.type)).toEqual(['vector', 'count']);
    m.clear();
    expect(m.size).toBe(0);
  });

  it('DataSet agrees with set() (property)', () => {
    fc.assert(
      fc.property(fc.array(dataArb({ depth: 2 }), { maxLength: 10 }), (xs) => {
        const s = new DataSet(xs);
        expect(s.sorted()).toEqual(set(xs).elements);
        for (const x of xs) expect(s.has(structuredClone(x))).toBe(true);
        const sorted = [...s].sort(compare);
        expect(sorted.length).toBe(s.size);
        if (xs.length > 0) {
          expect(s.delete(xs[0]!)).toBe(true);
          expect(s.has(xs[0]!)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
