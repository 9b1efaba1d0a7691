/**
 * The clone persistence contract (ARCHITECTURE.md, Data stores), run against every
 * implementation: memory, and IndexedDB through idb-keyval on fake-indexeddb — once through the
 * global `indexedDB` (the default path) and once through a factory handed in with the `indexedDB`
 * option. The same contract runs in real Chromium in test/e2e/persistence-indexeddb.test.ts.
 */
import 'fake-indexeddb/auto';
import fc from 'fast-check';
import { IDBDatabase, IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DataMap,
  count,
  createMemoryPersistence,
  equals,
  real,
  set,
  string,
  vector,
  type ClonePersistence,
  type CloneCheckpoint,
  type Data,
  type PersistedClone,
} from 'isobroker';
import { createIndexedDbPersistence } from 'isobroker/browser';
import { dataArb } from '../support/arbitraries.js';

interface Harness {
  readonly name: string;
  /** A handle on what store `storeName` persisted — what a reloaded clone is given. */
  open(storeName: string): ClonePersistence;
  /** Storage commits so far (IndexedDB read-write transactions); absent where none exist. */
  readonly commits?: () => number;
}

let seq = 0;
const freshName = (): string => `store-${++seq}`;
const cp = (n: number, epoch = 'epoch-1'): CloneCheckpoint => ({ epoch, seq: n });
const s = string;

/** Loaded entries as a map, checking that no key appears twice. */
function asMap(p: PersistedClone): DataMap<Data> {
  const m = new DataMap<Data>(p.entries);
  expect(m.size).toBe(p.entries.length);
  return m;
}

function expectEntries(p: PersistedClone, expected: readonly (readonly [Data, Data])[]): void {
  const got = asMap(p);
  expect(got.size).toBe(expected.length);
  for (const [k, v] of expected) {
    const value = got.get(k);
    expect(
      value !== undefined && equals(value, v),
      `key ${JSON.stringify(k, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))}`,
    ).toBe(true);
  }
}

/** The contract every `ClonePersistence` keeps. */
function persistenceContract(h: Harness): void {
  describe(`ClonePersistence contract: ${h.name}`, () => {
    const opened: ClonePersistence[] = [];
    const open = (name: string): ClonePersistence => {
      const p = h.open(name);
      opened.push(p);
      return p;
    };
    /** Makes everything durable, then hands out a new handle as a reloaded clone would get. */
    const reload = async (p: ClonePersistence, name: string): Promise<ClonePersistence> => {
      await p.flush();
      return open(name);
    };
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((p) => p.close()));
    });

    it('loads nothing and no checkpoint from a fresh store', async () => {
      const loaded = await open(freshName()).load();
      expect(loaded.entries).toEqual([]);
      expect(loaded.checkpoint).toBeUndefined();
    });

    it('a new handle on the same store sees the entries and the checkpoint written', async () => {
      const name = freshName();
      const p = open(name);
      p.write([{ key: s('a'), value: count(1) }], cp(1));
      p.write([{ key: s('b'), value: vector([s('x'), real(1.5)]) }], cp(2));
      const loaded = await (await reload(p, name)).load();
      expect(loaded.checkpoint).toEqual(cp(2));
      expectEntries(loaded, [
        [s('a'), count(1)],
        [s('b'), vector([s('x'), real(1.5)])],
      ]);
    });

    it('the writing handle itself loads what it wrote, flushed or not', async () => {
      const p = open(freshName());
      p.write([{ key: s('a'), value: count(1) }], cp(7));
      const loaded = await p.load();
      expect(loaded.checkpoint).toEqual(cp(7));
      expectEntries(loaded, [[s('a'), count(1)]]);
    });

    it('removals remove, in the same batch and in a later one', async () => {
      const name = freshName();
      const p = open(name);
      p.write(
        [
          { key: s('a'), value: count(1) },
          { key: s('b'), value: count(2) },
          { key: s('c'), value: count(3) },
        ],
        cp(1),
      );
      await p.flush();
      p.write([{ key: s('a') }, { key: s('never-written') }], cp(2));
      p.write([{ key: s('d'), value: count(4) }, { key: s('d') }], cp(3));
      const loaded = await (await reload(p, name)).load();
      expect(loaded.checkpoint).toEqual(cp(3));
      expectEntries(loaded, [
        [s('b'), count(2)],
        [s('c'), count(3)],
      ]);
    });

    it('many writes of one key keep the last value and the last checkpoint', async () => {
      const name = freshName();
      const p = open(name);
      const before = h.commits?.() ?? 0;
      for (let i = 1; i <= 100; i++) p.write([{ key: s('k'), value: count(i) }], cp(i));
      p.write([{ key: s('gone'), value: count(0) }], cp(101));
      p.write([{ key: s('gone') }, { key: s('k'), value: count(500) }], cp(102));
      const loaded = await (await reload(p, name)).load();
      expect(loaded.checkpoint).toEqual(cp(102));
      expectEntries(loaded, [[s('k'), count(500)]]);
      if (h.commits) expect(h.commits() - before).toBe(1);
    });

    it('keys that Broker calls equal are one entry (−0 and 0, NaN, inside containers)', async () => {
      const name = freshName();
      const p = open(name);
      p.write([{ key: real(-0), value: s('minus zero') }], cp(1));
      await p.flush();
      p.write(
        [
          { key: real(0), value: s('zero') },
          { key: real(NaN), value: s('nan') },
        ],
        cp(2),
      );
      p.write([{ key: set([real(-0), s('x')]), value: count(1) }], cp(3));
      await p.flush();
      p.write(
        [
          { key: set([real(0), s('x')]), value: count(2) },
          { key: s('value'), value: real(-0) },
        ],
        cp(4),
      );
      const loaded = await (await reload(p, name)).load();
      expectEntries(loaded, [
        [real(0), s('zero')],
        [real(NaN), s('nan')],
        [set([real(0), s('x')]), count(2)],
        [s('value'), real(-0)],
      ]);
      expect(asMap(loaded).get(s('value'))).toEqual({ type: 'real', value: -0 }); // a value keeps its sign
    });

    it('reset drops every entry and the checkpoint', async () => {
      const name = freshName();
      const p = open(name);
      p.write([{ key: s('a'), value: count(1) }], cp(1));
      await p.flush();
      p.reset();
      const loaded = await (await reload(p, name)).load();
      expect(loaded.entries).toEqual([]);
      expect(loaded.checkpoint).toBeUndefined();
    });

    it('keeps the order of writes, resets and writes within one tick', async () => {
      const name = freshName();
      const p = open(name);
      const before = h.commits?.() ?? 0;
      p.write(
        [
          { key: s('old'), value: count(1) },
          { key: s('both'), value: count(1) },
        ],
        cp(1),
      );
      p.reset();
      p.write([{ key: s('new'), value: count(2) }], cp(1, 'epoch-2'));
      p.write([{ key: s('both'), value: count(3) }], cp(2, 'epoch-2'));
      const loaded = await (await reload(p, name)).load();
      expect(loaded.checkpoint).toEqual(cp(2, 'epoch-2'));
      expectEntries(loaded, [
        [s('new'), count(2)],
        [s('both'), count(3)],
      ]);
      if (h.commits) expect(h.commits() - before).toBe(1); // the reset commits with the writes after it
    });

    it('a reset after writes already on their way is not overtaken by them', async () => {
      const name = freshName();
      const p = open(name);
      p.write([{ key: s('persisted'), value: count(1) }], cp(1));
      await p.flush();
      p.write([{ key: s('in-flight'), value: count(2) }], cp(2));
      await Promise.resolve(); // the batch holding 'in-flight' has started
      await Promise.resolve();
      p.reset();
      p.write([{ key: s('after'), value: count(3) }], cp(1, 'epoch-2'));
      await new Promise((r) => setTimeout(r, 0));
      p.write([{ key: s('later'), value: count(4) }], cp(2, 'epoch-2'));
      const loaded = await (await reload(p, name)).load();
      expect(loaded.checkpoint).toEqual(cp(2, 'epoch-2'));
      expectEntries(loaded, [
        [s('after'), count(3)],
        [s('later'), count(4)],
      ]);
    });

    it('every kind of Broker key and value round-trips', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(dataArb(), dataArb()), { maxLength: 30 }), fc.nat(), async (pairs, n) => {
          const name = freshName();
          const p = open(name);
          const expected = new DataMap<Data>();
          for (const [k, v] of pairs) {
            p.write([{ key: k, value: v }], cp(n));
            expected.set(k, v);
          }
          const loaded = await (await reload(p, name)).load();
          expect(loaded.checkpoint).toEqual(pairs.length > 0 ? cp(n) : undefined);
          expectEntries(loaded, [...expected]);
        }),
        { numRuns: 60 },
      );
    });

    it('two store names are isolated', async () => {
      const [n1, n2] = [freshName(), freshName()];
      const a = open(n1);
      const b = open(n2);
      a.write([{ key: s('k'), value: s('from a') }], cp(1, 'a'));
      b.write(
        [
          { key: s('k'), value: s('from b') },
          { key: s('only-b'), value: count(1) },
        ],
        cp(9, 'b'),
      );
      await b.flush();
      a.reset();
      b.write([{ key: s('b-again'), value: count(2) }], cp(10, 'b'));
      const la = await (await reload(a, n1)).load();
      const lb = await (await reload(b, n2)).load();
      expect(la.entries).toEqual([]);
      expect(la.checkpoint).toBeUndefined();
      expect(lb.checkpoint).toEqual(cp(10, 'b'));
      expectEntries(lb, [
        [s('k'), s('from b')],
        [s('only-b'), count(1)],
        [s('b-again'), count(2)],
      ]);
    });

    it('10,000 changes written in one tick persist in one commit', async () => {
      const name = freshName();
      const p = open(name);
      const before = h.commits?.() ?? 0;
      for (let i = 0; i < 10_000; i++) p.write([{ key: count(i), value: s(`value ${i}`) }], cp(i));
      await p.flush();
      if (h.commits) expect(h.commits() - before).toBe(1);
      const loaded = await open(name).load();
      expect(loaded.entries).toHaveLength(10_000);
      expect(loaded.checkpoint).toEqual(cp(9_999));
      expect(equals(asMap(loaded).get(count(1234))!, s('value 1234'))).toBe(true);
    });
  });
}

// --- memory: the same instance is the "disk" a reloaded clone gets
const memoryStores = new Map<string, ClonePersistence>();
persistenceContract({
  name: 'memory',
  open(name) {
    let p = memoryStores.get(name);
    if (p === undefined) memoryStores.set(name, (p = createMemoryPersistence()));
    return p;
  },
});

// --- IndexedDB: read-write transactions counted on fake-indexeddb's IDBDatabase
const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
const readWriteTransactions = (): number => transaction.mock.calls.filter((c) => c[1] === 'readwrite').length;

persistenceContract({
  name: 'IndexedDB (global indexedDB, idb-keyval createStore)',
  open: (name) => createIndexedDbPersistence(name),
  commits: readWriteTransactions,
});

const factory = new IDBFactory();
persistenceContract({
  name: 'IndexedDB (indexedDB option)',
  open: (name) => createIndexedDbPersistence(name, { indexedDB: factory }),
  commits: readWriteTransactions,
});
