/**
 * What the IndexedDB persistence does beyond the shared contract (test/store/
 * persistence-contract.test.ts): its record layout, failures reported to `onError` and retried,
 * unreadable data, a caller-owned store, and use after close. On fake-indexeddb in Node.
 */
import { IDBFactory } from 'fake-indexeddb';
import { entries, get, set as idbSet, type UseStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { ClosedError, StoreError, count, equals, real, string } from 'isobroker';
import { encodeValue } from '../../src/internal.js';
import { INDEXEDDB_NAME_PREFIX, INDEXEDDB_OBJECT_STORE, createIndexedDbPersistence } from 'isobroker/browser';

/** idb-keyval's `createStore`, on a given factory (the library itself only uses the global). */
function storeOn(factory: IDBFactory, dbName: string): UseStore {
  let db: Promise<IDBDatabase> | undefined;
  return (mode, callback) => {
    db ??= new Promise((resolve, reject) => {
      const req = factory.open(dbName);
      req.onupgradeneeded = () => req.result.createObjectStore(INDEXEDDB_OBJECT_STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return db.then((d) => callback(d.transaction(INDEXEDDB_OBJECT_STORE, mode).objectStore(INDEXEDDB_OBJECT_STORE)));
  };
}

const bytes = (b: ArrayBuffer | ArrayBufferView): number[] => [
  ...(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
];

describe('IndexedDB persistence', () => {
  it('stores one record per key (native encodings) and the checkpoint under a string key', async () => {
    const factory = new IDBFactory();
    const p = createIndexedDbPersistence('layout', { indexedDB: factory });
    p.write(
      [
        { key: string('k'), value: count(5) },
        { key: real(-0), value: real(-0) },
      ],
      { epoch: 'e', seq: 3 },
    );
    await p.close();
    const records = await entries<IDBValidKey, unknown>(storeOn(factory, `${INDEXEDDB_NAME_PREFIX}layout`));
    const byKey = new Map(records.map(([k, v]) => [typeof k === 'string' ? k : bytes(k as ArrayBuffer).join(','), v]));
    expect(byKey.get('checkpoint')).toEqual({ format: 1, epoch: 'e', seq: 3 });
    expect(bytes(byKey.get(bytes(encodeValue(string('k'))).join(',')) as Uint8Array)).toEqual(
      bytes(encodeValue(count(5))),
    );
    // The key −0 is stored as 0; the value −0 stays −0.
    expect(bytes(byKey.get(bytes(encodeValue(real(0))).join(',')) as Uint8Array)).toEqual(bytes(encodeValue(real(-0))));
    expect(records).toHaveLength(3);
  });

  it('reports a batch IndexedDB did not commit, commits none of it, and retries it with the next flush', async () => {
    const factory = new IDBFactory();
    const real_ = storeOn(factory, 'flaky');
    let failing = true;
    const flaky: UseStore = (mode, callback) =>
      real_(mode, (s) => {
        const result = callback(s);
        if (failing && mode === 'readwrite') s.transaction.abort();
        return result;
      });
    const errors: StoreError[] = [];
    const p = createIndexedDbPersistence('flaky', { customStore: flaky, onError: (e) => errors.push(e) });
    p.write([{ key: string('a'), value: count(1) }], { epoch: 'e', seq: 1 });
    p.write([{ key: string('b'), value: count(2) }], { epoch: 'e', seq: 2 });
    await expect(p.flush()).rejects.toBeInstanceOf(StoreError);
    expect(errors.map((e) => [e.name, e.code])).toEqual([['StoreError', 'backend_failure']]);
    expect(await entries(real_)).toEqual([]); // atomic: nothing of the aborted batch
    failing = false;
    p.write([{ key: string('b') }, { key: string('c'), value: count(3) }], { epoch: 'e', seq: 3 });
    await p.flush();
    const loaded = await p.load();
    expect(loaded.checkpoint).toEqual({ epoch: 'e', seq: 3 });
    expect(loaded.entries).toHaveLength(2);
    expect(loaded.entries.some(([k, v]) => equals(k, string('a')) && equals(v, count(1)))).toBe(true);
    expect(loaded.entries.some(([k, v]) => equals(k, string('c')) && equals(v, count(3)))).toBe(true);
    expect(errors).toHaveLength(1);
    await p.close();
  });

  it('a request that throws mid-batch aborts the whole batch, which is reported', async () => {
    const base = storeOn(new IDBFactory(), 'throwing');
    const throwing: UseStore = (mode, callback) =>
      base(mode, (s) => {
        let puts = 0;
        const put = s.put.bind(s);
        s.put = (value, key) => {
          if (++puts === 2) throw new Error('put refused');
          return put(value, key);
        };
        return callback(s);
      });
    const errors: StoreError[] = [];
    const p = createIndexedDbPersistence('throwing', { customStore: throwing, onError: (e) => errors.push(e) });
    p.write(
      [
        { key: string('first'), value: count(1) },
        { key: string('second'), value: count(2) },
      ],
      { epoch: 'e', seq: 1 },
    );
    await expect(p.flush()).rejects.toMatchObject({ code: 'backend_failure', cause: new Error('put refused') });
    expect(errors).toHaveLength(1);
    expect(await entries(base)).toEqual([]);
  });

  for (const [what, key, value] of [
    ['an undecodable key', new Uint8Array([0xc1]).buffer, encodeValue(count(1)).slice()],
    ['an undecodable value', encodeValue(string('k')).slice().buffer, new Uint8Array([0xc1])],
    ['a record of an unknown kind', 'something-else', 1],
  ] as const) {
    it(`loads nothing, and reports invalid_data, from a database holding ${what}`, async () => {
      const factory = new IDBFactory();
      const raw = storeOn(factory, `${INDEXEDDB_NAME_PREFIX}corrupt`);
      await idbSet('checkpoint', { format: 1, epoch: 'e', seq: 1 }, raw);
      await idbSet(key, value, raw);
      const errors: StoreError[] = [];
      const p = createIndexedDbPersistence('corrupt', { indexedDB: factory, onError: (e) => errors.push(e) });
      expect(await p.load()).toEqual({ entries: [] });
      expect(errors.map((e) => e.code)).toEqual(['invalid_data']);
    });
  }

  it('a checkpoint of another format reads as no data', async () => {
    const factory = new IDBFactory();
    await idbSet('checkpoint', { format: 2, epoch: 'e', seq: 1 }, storeOn(factory, `${INDEXEDDB_NAME_PREFIX}future`));
    const errors: StoreError[] = [];
    const p = createIndexedDbPersistence('future', { indexedDB: factory, onError: (e) => errors.push(e) });
    expect(await p.load()).toEqual({ entries: [] });
    expect(errors.map((e) => e.code)).toEqual(['invalid_data']);
  });

  it('leaves a caller-owned store open on close', async () => {
    const store = storeOn(new IDBFactory(), 'owned-by-caller');
    const p = createIndexedDbPersistence('ignored', { customStore: store });
    p.write([{ key: string('k'), value: count(1) }], { epoch: 'e', seq: 1 });
    await p.close();
    expect(await get('checkpoint', store)).toEqual({ format: 1, epoch: 'e', seq: 1 });
  });

  it('refuses use after close, and closing twice is harmless', async () => {
    const factory = new IDBFactory();
    const p = createIndexedDbPersistence('closed', { indexedDB: factory });
    p.write([{ key: string('k'), value: count(1) }], { epoch: 'e', seq: 1 });
    await p.close();
    expect(() => p.write([], { epoch: 'e', seq: 2 })).toThrow(ClosedError);
    expect(() => p.reset()).toThrow(ClosedError);
    await expect(p.load()).rejects.toBeInstanceOf(ClosedError);
    await p.close();
    await p.flush();
    // Closing flushed: a new handle sees the write.
    const again = createIndexedDbPersistence('closed', { indexedDB: factory });
    expect((await again.load()).checkpoint).toEqual({ epoch: 'e', seq: 1 });
    await again.close();
  });
});
