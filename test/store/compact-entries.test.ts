/**
 * CompactEntries (the clone's encoded copy) behaves as a map keyed by Broker equality: checked
 * against a DataMap under random operations, with values small and large enough to fill pages,
 * get pages of their own, move, and be compacted away.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { count, real, string, vector } from '../../src/data/constructors.js';
import { DataMap, dataKey } from '../../src/data/data-map.js';
import { compare, equals } from '../../src/data/order.js';
import type { Data } from '../../src/data/types.js';
import { CompactEntries, PRESENT } from '../../src/store/compact-entries.js';
import { dataArb } from '../support/arbitraries.js';

const sortByKey = (xs: [Data, Data][]): [Data, Data][] => [...xs].sort((a, b) => compare(a[0], b[0]));

function expectSame(c: CompactEntries, m: DataMap<Data>): void {
  expect(c.size).toBe(m.size);
  const got = sortByKey([...c.entries()]);
  const want = sortByKey([...m.entries()]);
  expect(got.map(([k, v]) => [dataKey(k), dataKey(v)])).toEqual(want.map(([k, v]) => [dataKey(k), dataKey(v)]));
}

describe('CompactEntries', () => {
  it('keys equal under Broker equality are one entry; keys read back canonical', () => {
    const c = new CompactEntries();
    expect(c.set(real(-0), string('a'))).toBeUndefined();
    expect(c.set(real(0), string('b'), true)).toEqual(string('a'));
    expect(c.size).toBe(1);
    expect(c.get(real(-0))).toEqual(string('b'));
    const [[k]] = [...c.entries()] as [[Data, Data]];
    expect(Object.is((k as { value: number }).value, 0)).toBe(true);
    expect(c.delete(real(-0))).toBe(PRESENT);
    expect(c.delete(real(0))).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('answers like a DataMap under random sets, deletes and clears (property)', () => {
    const keyPool = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => string(`k${i}`)) },
      { weight: 1, arbitrary: dataArb({ depth: 1 }) },
    );
    const valueArb = fc.oneof(
      { weight: 4, arbitrary: dataArb({ depth: 2 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }).map((n) => string('x'.repeat(n))) },
    );
    type Op = { set: [Data, Data] } | { del: Data } | 'clear';
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(keyPool, valueArb).map((kv): Op => ({ set: kv })) },
      { weight: 3, arbitrary: keyPool.map((k): Op => ({ del: k })) },
      { weight: 1, arbitrary: fc.constant<Op>('clear') },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const c = new CompactEntries();
        const m = new DataMap<Data>();
        for (const op of ops) {
          if (op === 'clear') {
            c.clear();
            m.clear();
          } else if ('set' in op) {
            const [k, v] = op.set;
            const before = m.get(k);
            const old = c.set(k, v, true);
            if (before === undefined) expect(old).toBeUndefined();
            else expect(equals(old as Data, before)).toBe(true);
            m.set(k, v);
          } else {
            const before = m.get(op.del);
            const old = c.delete(op.del, true);
            if (before === undefined) expect(old).toBeUndefined();
            else expect(equals(old as Data, before)).toBe(true);
            m.delete(op.del);
          }
          for (const k of [op === 'clear' ? string('k0') : 'set' in op ? op.set[0] : op.del]) {
            const want = m.get(k);
            const got = c.get(k);
            expect(got === undefined ? undefined : dataKey(got)).toBe(want === undefined ? undefined : dataKey(want));
            expect(c.has(k)).toBe(want !== undefined);
          }
        }
        expectSame(c, m);
      }),
      { numRuns: 150 },
    );
  });

  it('holds many entries, frees the space of removed ones, and keeps record numbers during an iteration', () => {
    const c = new CompactEntries();
    const n = 60_000;
    const value = (i: number, tag: string): Data => vector([count(i), string(`${tag}${'y'.repeat(90)}`)]);
    for (let i = 0; i < n; i++) c.set(string(`key-${i}`), value(i, 'a'));
    expect(c.size).toBe(n);
    const full = c.pageBytes;
    // About the bytes themselves: no per-entry objects.
    expect(full).toBeLessThan(n * 140);
    // Remove every other key while iterating: every key present throughout is met exactly once.
    const met = new Set<number>();
    for (const id of c.ids()) {
      expect(met.has(id)).toBe(false);
      met.add(id);
      if (id % 2 === 0) c.deleteRecord(id);
    }
    expect(met.size).toBe(n);
    expect(c.size).toBe(n / 2);
    // Values that outgrow their records move; the freed bytes are compacted away in time.
    for (let round = 0; round < 4; round++)
      for (let i = 0; i < n; i++)
        if (c.has(string(`key-${i}`))) c.set(string(`key-${i}`), value(i, `b${round}${'z'.repeat(round * 30)}`));
    expect(c.pageBytes).toBeLessThan(full * 1.5);
    let seen = 0;
    for (const [k, v] of c.entries()) {
      const i = Number((k as { value: string }).value.slice(4));
      expect(v).toEqual(value(i, `b3${'z'.repeat(90)}`));
      seen++;
    }
    expect(seen).toBe(n / 2);
    // Freed record numbers are reused: no growth past the largest size.
    for (let i = 0; i < n / 2; i++) c.set(string(`new-${i}`), string('v'));
    expect(Math.max(...c.ids())).toBeLessThan(n);
  });
});
