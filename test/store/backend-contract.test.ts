/**
 * The store backend contract, run against every backend: memory, SQLite in memory, and SQLite
 * files in a temp dir (WAL + synchronous NORMAL, and DELETE journal + synchronous FULL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ValueError,
  address,
  boolean,
  count,
  createMemoryBackend,
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
  vector,
  type Data,
  type StoreBackend,
  type StoreEntry,
} from 'isobroker';
import { dataKey, decodeValue } from '../../src/internal.js';
import { openSqliteBackend, type SqliteBackendOptions } from 'isobroker/node';
import { dataArb } from '../support/arbitraries.js';

/** Opens backends of one kind; `open()` again after `close()` reopens the same storage. */
interface Harness {
  open(): StoreBackend;
  /** Whether a reopened backend keeps what the closed one held. */
  readonly persistent: boolean;
  /** Property runs: files with synchronous FULL pay an fsync per autocommitted write. */
  readonly runs: number;
  dispose(): void;
}

function memoryHarness(): Harness {
  const opened: StoreBackend[] = [];
  return {
    persistent: false,
    runs: 100,
    open: () => {
      const b = createMemoryBackend();
      opened.push(b);
      return b;
    },
    dispose: () => {
      for (const b of opened) b.close();
    },
  };
}

function sqliteHarness(options: SqliteBackendOptions, file: boolean, runs: number): () => Harness {
  return () => {
    const dir = file ? mkdtempSync(join(tmpdir(), 'isobroker-store-')) : undefined;
    const opened: StoreBackend[] = [];
    return {
      persistent: file,
      runs,
      open: () => {
        const b = openSqliteBackend({ ...options, path: dir === undefined ? ':memory:' : join(dir, 'store.db') });
        opened.push(b);
        return b;
      },
      dispose: () => {
        opened.forEach((b) => {
          b.close();
        });
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

const sameEntry = (a: StoreEntry | undefined, b: StoreEntry | undefined): boolean =>
  a === undefined || b === undefined
    ? a === b
    : equals(a.key, b.key) && equals(a.value, b.value) && a.expiry === b.expiry && a.interval === b.interval;

function expectEntry(actual: StoreEntry | undefined, expected: StoreEntry | undefined): void {
  if (!sameEntry(actual, expected)) expect(actual).toEqual(expected);
}

/** Every entry of a backend by scanning, with the number of times each key was seen. */
function scanAll(b: StoreBackend, limit: number, between?: (page: number) => void): StoreEntry[] {
  const out: StoreEntry[] = [];
  let cursor: unknown;
  for (let page = 0; ; page++) {
    const p = b.scan(cursor, limit);
    expect(p.entries.length).toBeLessThanOrEqual(limit);
    out.push(...p.entries);
    if (p.cursor === undefined) return out;
    expect(p.entries.length).toBe(limit);
    cursor = p.cursor;
    between?.(page);
  }
}

const byKey = (entries: readonly StoreEntry[]): string[] => entries.map((e) => dataKey(e.key)).sort();

/** The same Broker value with every real 0 and −0 swapped and every NaN given a payload. */
function flipZeros(v: Data): Data {
  switch (v.type) {
    case 'real':
      if (Number.isNaN(v.value)) return decodeValue(Uint8Array.of(0xcb, 0xff, 0xf8, 0, 0, 0, 0, 0, 1));
      return v.value === 0 ? real(Object.is(v.value, -0) ? 0 : -0) : v;
    case 'vector':
    case 'set':
      return { type: v.type, elements: v.elements.map(flipZeros) };
    case 'table':
      return { type: 'table', entries: v.entries.map(([k, x]) => [flipZeros(k), flipZeros(x)] as const) };
    default:
      return v;
  }
}

/** Keys that often hold reals 0, −0 and NaN, alone or inside containers. */
const specialReal = fc.constantFrom(real(0), real(-0), real(NaN));
const keyWithRealsArb: fc.Arbitrary<Data> = fc.oneof(
  dataArb(),
  specialReal,
  fc.array(fc.oneof(specialReal, dataArb({ depth: 1 })), { maxLength: 4 }).map(vector),
  fc.array(fc.oneof(specialReal, dataArb({ depth: 1 })), { maxLength: 4 }).map(set),
  fc.array(fc.tuple(fc.oneof(specialReal, dataArb({ depth: 1 })), specialReal), { maxLength: 3 }).map(table),
);

/** One value of every kind of Broker data, containers included. */
const EVERY_KIND: readonly Data[] = [
  none(),
  boolean(false),
  boolean(true),
  count(0),
  count((1n << 64n) - 1n),
  integer(-(1n << 63n)),
  integer(42),
  real(1.5),
  real(Number.NEGATIVE_INFINITY),
  real(NaN),
  string(''),
  string('héllo 🌍'),
  address('10.0.0.1'),
  address('2001:db8::1'),
  subnet('10.0.0.0/8'),
  subnet('2001:db8::/32'),
  port(80, 'tcp'),
  port(53, 'udp'),
  timestamp(1_700_000_000_000_000_000n),
  timespan(-5n),
  enumValue('Log::WRITER_ASCII'),
  set([]),
  set([count(1), string('a')]),
  vector([]),
  vector([vector([real(-0.5)]), none()]),
  table([]),
  table([[string('k'), set([integer(1)])]]),
];

function backendContract(name: string, harness: () => Harness): void {
  describe(`store backend contract: ${name}`, () => {
    let h: Harness;
    let b: StoreBackend;
    beforeEach(() => {
      h = harness();
      b = h.open();
    });
    afterEach(() => h.dispose());

    it('starts empty', () => {
      expect(b.size()).toBe(0);
      expect(b.keys()).toEqual([]);
      expect(b.get(string('x'))).toBeUndefined();
      expect(b.erase(string('x'))).toBe(false);
      expect(b.scan(undefined, 10)).toEqual({ entries: [], cursor: undefined });
      expect(b.expiring()).toEqual([]);
      expect(b.getMeta('x')).toBeUndefined();
    });

    it('puts, replaces, erases and clears keys of every kind', () => {
      EVERY_KIND.forEach((k, i) => {
        b.put({ key: k, value: count(i) });
      });
      expect(b.size()).toBe(EVERY_KIND.length);
      EVERY_KIND.forEach((k, i) => {
        expectEntry(b.get(k), { key: k, value: count(i) });
      });
      expect(byKey(b.keys().map((k) => ({ key: k, value: none() })))).toEqual(
        byKey(EVERY_KIND.map((k) => ({ key: k, value: none() }))),
      );
      // Replacing keeps one entry per key.
      EVERY_KIND.forEach((k) => {
        b.put({ key: k, value: k });
      });
      expect(b.size()).toBe(EVERY_KIND.length);
      EVERY_KIND.forEach((k) => {
        expectEntry(b.get(k), { key: k, value: k });
      });
      EVERY_KIND.forEach((k, i) => {
        if (i % 2 === 0) expect(b.erase(k)).toBe(true);
      });
      EVERY_KIND.forEach((k, i) => {
        expect(b.get(k) === undefined).toBe(i % 2 === 0);
      });
      expect(b.erase(EVERY_KIND[0]!)).toBe(false);
      expect(b.size()).toBe(Math.floor(EVERY_KIND.length / 2));
      b.clear();
      expect(b.size()).toBe(0);
      expect(b.keys()).toEqual([]);
      EVERY_KIND.forEach((k) => {
        expect(b.get(k)).toBeUndefined();
      });
    });

    it('treats keys equal under Broker equality as one key (−0 = 0, NaN = NaN)', () => {
      b.put({ key: real(-0), value: string('neg') });
      expectEntry(b.get(real(0)), { key: real(0), value: string('neg') });
      b.put({ key: vector([real(0), real(NaN)]), value: none() });
      const weirdNaN = decodeValue(Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 7));
      expect(b.get(vector([real(-0), weirdNaN]))).toBeDefined();
      expect(b.erase(vector([real(-0), weirdNaN]))).toBe(true);
      expect(b.size()).toBe(1);
      // Values keep their exact bits.
      b.put({ key: string('z'), value: real(-0) });
      const v = b.get(string('z'))?.value;
      expect(v?.type === 'real' && Object.is(v.value, -0)).toBe(true);
    });

    it('maps every pair of equal keys to one entry (property)', () => {
      fc.assert(
        fc.property(keyWithRealsArb, dataArb(), (k, v) => {
          b.clear();
          b.put({ key: k, value: v });
          const twin = flipZeros(k);
          expect(b.get(twin)).toBeDefined();
          b.put({ key: twin, value: none() });
          expect(b.size()).toBe(1);
          expect(equals(b.get(k)!.value, none())).toBe(true);
        }),
        { numRuns: h.runs },
      );
    });

    it('behaves like a map of Broker values (property against a model)', () => {
      const entryArb = (pool: readonly Data[]): fc.Arbitrary<StoreEntry> =>
        fc
          .record({
            key: fc.constantFrom(...pool),
            value: dataArb({ depth: 2 }),
            expiry: fc.option(fc.integer({ min: 0, max: 2 ** 47 }), { nil: undefined }),
            interval: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: undefined }),
          })
          .map(({ key, value, expiry, interval }) => ({
            key,
            value,
            ...(expiry === undefined ? {} : { expiry }),
            ...(interval === undefined ? {} : { interval }),
          }));
      type Op = { put: StoreEntry } | { erase: Data } | { get: Data } | 'clear';
      const opsArb = fc
        .array(dataArb({ depth: 2 }), { minLength: 1, maxLength: 8 })
        .chain((pool) =>
          fc.array(
            fc.oneof(
              { weight: 5, arbitrary: entryArb(pool).map((e): Op => ({ put: e })) },
              { weight: 2, arbitrary: fc.constantFrom(...pool).map((k): Op => ({ erase: k })) },
              { weight: 2, arbitrary: fc.constantFrom(...pool).map((k): Op => ({ get: k })) },
              { weight: 1, arbitrary: fc.constant<Op>('clear') },
            ),
            { maxLength: 25 },
          ),
        );
      fc.assert(
        fc.property(opsArb, (ops) => {
          b.clear();
          const model = new Map<string, StoreEntry>();
          for (const op of ops) {
            if (op === 'clear') {
              b.clear();
              model.clear();
            } else if ('put' in op) {
              b.put(op.put);
              model.set(dataKey(op.put.key), op.put);
            } else if ('erase' in op) {
              expect(b.erase(op.erase)).toBe(model.delete(dataKey(op.erase)));
            } else {
              expectEntry(b.get(op.get), model.get(dataKey(op.get)));
            }
          }
          expect(b.size()).toBe(model.size);
          expect(b.keys().map(dataKey).sort()).toEqual([...model.keys()].sort());
          const scanned = scanAll(b, 3);
          expect(byKey(scanned)).toEqual([...model.keys()].sort());
          for (const e of scanned) expectEntry(e, model.get(dataKey(e.key)));
          const expiring = b.expiring();
          expect(byKey(expiring)).toEqual(byKey([...model.values()].filter((e) => e.expiry !== undefined)));
          for (const e of expiring) expectEntry(e, model.get(dataKey(e.key)));
        }),
        { numRuns: h.runs },
      );
    });

    it('peek and putValue, where offered, agree with get and put', () => {
      if (b.peek === undefined && b.putValue === undefined) return;
      b.put({ key: string('plain'), value: count(1) });
      b.put({ key: string('armed'), value: count(2), expiry: 50, interval: 30 });
      if (b.peek !== undefined) {
        expect(b.peek(string('absent'))).toBeUndefined();
        expect(b.peek(string('plain'))).toEqual({});
        expect(b.peek(string('armed'))).toEqual({ interval: 30 });
      }
      if (b.putValue !== undefined) {
        // New: no expiry. Present without an interval: still none. With one: kept, re-armed from now.
        expect(b.putValue(string('new'), string('n'), 1000)).toBeUndefined();
        expect(b.get(string('new'))).toEqual({ key: string('new'), value: string('n') });
        expect(b.putValue(string('plain'), string('p'), 1000)).toBeUndefined();
        expect(b.get(string('plain'))).toEqual({ key: string('plain'), value: string('p') });
        expect(b.putValue(string('armed'), string('a'), 1000)).toBe(30);
        expect(b.get(string('armed'))).toEqual({
          key: string('armed'),
          value: string('a'),
          expiry: 1030,
          interval: 30,
        });
        expect(b.size()).toBe(3);
      }
    });

    it('round-trips expiry and interval, each present or absent', () => {
      const now = Date.now();
      const entries: StoreEntry[] = [
        { key: string('none'), value: count(1) },
        { key: string('expiry'), value: count(2), expiry: now + 5000 },
        { key: string('interval'), value: count(3), interval: 250 },
        { key: string('both'), value: count(4), expiry: now + 100, interval: 100 },
        { key: string('zero'), value: count(5), expiry: 0, interval: 0 },
      ];
      entries.forEach((e) => {
        b.put(e);
      });
      for (const e of entries) {
        const got = b.get(e.key)!;
        expect(got.expiry).toBe(e.expiry);
        expect(got.interval).toBe(e.interval);
        expect('expiry' in got && got.expiry === undefined).toBe(false);
      }
      expect(byKey(b.expiring())).toEqual(byKey(entries.filter((e) => e.expiry !== undefined)));
      // Replacing an entry replaces its times too.
      b.put({ key: string('both'), value: count(9) });
      expectEntry(b.get(string('both')), { key: string('both'), value: count(9) });
      expect(b.expiring().length).toBe(2);
    });

    it('keeps meta values apart from the entries', () => {
      b.setMeta('epoch', 'abc');
      b.setMeta('seq', '1');
      b.setMeta('seq', '2');
      b.setMeta('', 'empty name');
      b.put({ key: string('epoch'), value: none() });
      b.clear();
      expect(b.getMeta('epoch')).toBe('abc');
      expect(b.getMeta('seq')).toBe('2');
      expect(b.getMeta('')).toBe('empty name');
      expect(b.getMeta('other')).toBeUndefined();
    });

    it('scans in pages with no empty last page, and rejects bad limits and foreign cursors', () => {
      for (let i = 0; i < 10; i++) b.put({ key: count(i), value: none() });
      const one = b.scan(undefined, 10);
      expect(one.entries.length).toBe(10);
      expect(one.cursor).toBeUndefined();
      const first = b.scan(undefined, 5);
      expect(first.cursor).toBeDefined();
      const second = b.scan(first.cursor, 5);
      expect(second.entries.length).toBe(5);
      expect(second.cursor).toBeUndefined();
      expect(byKey([...first.entries, ...second.entries])).toEqual(byKey(one.entries));
      expect(byKey(scanAll(b, 1))).toEqual(byKey(one.entries));
      for (const bad of [0, -1, 1.5, NaN]) expect(() => b.scan(undefined, bad)).toThrow(ValueError);
      expect(() => b.scan({ not: 'a cursor' }, 5)).toThrow(ValueError);
    });

    it('scans every key present throughout exactly once while others change between pages', () => {
      const stable = Array.from({ length: 300 }, (_, i) =>
        i % 3 === 0 ? count(i) : i % 3 === 1 ? string(`s${i}`) : vector([integer(i)]),
      );
      const volatile = Array.from({ length: 100 }, (_, i) => string(`v${i}`));
      stable.forEach((k) => {
        b.put({ key: k, value: count(0) });
      });
      volatile.forEach((k) => {
        b.put({ key: k, value: count(0) });
      });
      let fresh = 0;
      const seen = scanAll(b, 7, (page) => {
        b.put({ key: stable[(page * 37) % stable.length]!, value: count(1) }); // replace
        b.erase(volatile[page % volatile.length]!);
        b.put({ key: string(`new${fresh++}`), value: count(2) });
        b.put({ key: string(`new${fresh++}`), value: count(2) });
        b.erase(string(`new${fresh - 3}`));
      });
      const counts = new Map<string, number>();
      for (const e of seen) counts.set(dataKey(e.key), (counts.get(dataKey(e.key)) ?? 0) + 1);
      for (const k of stable) expect(counts.get(dataKey(k))).toBe(1);
      for (const n of counts.values()) expect(n).toBe(1);
      const known = new Set([...stable, ...volatile].map(dataKey));
      for (const e of seen) {
        if (!known.has(dataKey(e.key))) expect(dataKey(e.key)).toMatch(/new/);
      }
    });

    it('scans each key once across a rolled-back transaction between pages', () => {
      for (let i = 0; i < 50; i++) b.put({ key: count(i), value: none() });
      const seen: StoreEntry[] = [];
      let cursor: unknown;
      let p = b.scan(undefined, 10);
      seen.push(...p.entries);
      cursor = p.cursor;
      expect(() =>
        b.transaction(() => {
          for (const e of seen) b.erase(e.key);
          b.clear();
          throw new Error('abort');
        }),
      ).toThrow('abort');
      while (cursor !== undefined) {
        p = b.scan(cursor, 10);
        seen.push(...p.entries);
        cursor = p.cursor;
      }
      expect(byKey(seen)).toEqual(byKey(Array.from({ length: 50 }, (_, i) => ({ key: count(i), value: none() }))));
    });

    it('runs a transaction atomically: a throw rolls every change back', () => {
      for (let i = 0; i < 20; i++) b.put({ key: count(i), value: count(i), expiry: 1000 + i });
      b.setMeta('seq', '20');
      const before = scanAll(b, 100);
      const boom = new Error('boom');
      expect(() =>
        b.transaction(() => {
          b.put({ key: count(0), value: string('changed') });
          b.put({ key: string('added'), value: none() });
          b.erase(count(1));
          b.setMeta('seq', '21');
          b.setMeta('new', 'x');
          b.clear();
          b.put({ key: count(1), value: string('back') });
          b.erase(count(1));
          throw boom;
        }),
      ).toThrow(boom);
      expect(b.size()).toBe(20);
      const after = scanAll(b, 100);
      expect(byKey(after)).toEqual(byKey(before));
      for (const e of after)
        expectEntry(
          e,
          before.find((x) => equals(x.key, e.key)),
        );
      expect(b.getMeta('seq')).toBe('20');
      expect(b.getMeta('new')).toBeUndefined();
      expect(b.get(string('added'))).toBeUndefined();
    });

    it('commits a transaction and returns its result', () => {
      b.put({ key: count(1), value: none() });
      const r = b.transaction(() => {
        b.erase(count(1));
        b.put({ key: count(2), value: none() });
        b.setMeta('seq', '2');
        return 'done';
      });
      expect(r).toBe('done');
      expect(b.get(count(1))).toBeUndefined();
      expect(b.get(count(2))).toBeDefined();
      expect(b.size()).toBe(1);
      expect(b.getMeta('seq')).toBe('2');
    });

    it('nests transactions: an inner failure undoes only the inner part', () => {
      b.put({ key: count(0), value: none() });
      b.transaction(() => {
        b.put({ key: count(1), value: none() });
        expect(() =>
          b.transaction(() => {
            b.put({ key: count(2), value: none() });
            b.erase(count(0));
            b.setMeta('inner', 'yes');
            throw new Error('inner');
          }),
        ).toThrow('inner');
        expect(b.get(count(0))).toBeDefined();
        expect(b.size()).toBe(2);
        b.transaction(() => b.put({ key: count(3), value: none() }));
      });
      expect(b.keys().map(dataKey).sort()).toEqual([count(0), count(1), count(3)].map(dataKey).sort());
      expect(b.getMeta('inner')).toBeUndefined();
      // An outer failure undoes a committed inner transaction too.
      expect(() =>
        b.transaction(() => {
          b.transaction(() => b.erase(count(3)));
          throw new Error('outer');
        }),
      ).toThrow('outer');
      expect(b.get(count(3))).toBeDefined();
    });

    it('rejects an asynchronous transaction function and rolls back its synchronous part', () => {
      expect(() =>
        b.transaction(() => {
          b.put({ key: count(1), value: none() });
          return Promise.resolve();
        }),
      ).toThrow(ValueError);
      expect(b.size()).toBe(0);
    });

    it('throws ClosedError after close, and close is idempotent', () => {
      b.close();
      b.close();
      expect(() => b.get(count(1))).toThrow(ClosedError);
      expect(() => b.put({ key: count(1), value: none() })).toThrow(ClosedError);
      expect(() => b.transaction(() => 1)).toThrow(ClosedError);
    });

    it('keeps everything across close and reopen when persistent', () => {
      if (!h.persistent) return;
      EVERY_KIND.forEach((k, i) => {
        b.put({ key: k, value: k, expiry: 1000 + i, ...(i % 2 === 0 ? { interval: i } : {}) });
      });
      b.erase(EVERY_KIND[3]!);
      b.setMeta('epoch', 'e1');
      b.transaction(() => b.setMeta('seq', '7'));
      const before = scanAll(b, 1000);
      b.close();
      const again = h.open();
      expect(again.size()).toBe(EVERY_KIND.length - 1);
      const after = scanAll(again, 4);
      expect(byKey(after)).toEqual(byKey(before));
      for (const e of after)
        expectEntry(
          e,
          before.find((x) => equals(x.key, e.key)),
        );
      expect(again.expiring().length).toBe(EVERY_KIND.length - 1);
      expect(again.getMeta('epoch')).toBe('e1');
      expect(again.getMeta('seq')).toBe('7');
    });
  });
}

backendContract('memory', memoryHarness);
backendContract('SQLite :memory:', sqliteHarness({}, false, 100));
backendContract('SQLite file, WAL + NORMAL', sqliteHarness({ journalMode: 'WAL', synchronous: 'NORMAL' }, true, 30));
backendContract('SQLite file, DELETE + FULL', sqliteHarness({ journalMode: 'DELETE', synchronous: 'FULL' }, true, 15));

describe('memory backend', () => {
  it('continues a scan cursor once only', () => {
    const b = createMemoryBackend();
    for (let i = 0; i < 5; i++) b.put({ key: count(i), value: none() });
    const p = b.scan(undefined, 2);
    b.scan(p.cursor, 2);
    expect(() => b.scan(p.cursor, 2)).toThrow(ValueError);
    expect(() => createMemoryBackend().scan(b.scan(undefined, 2).cursor, 2)).toThrow(ValueError);
  });
});
