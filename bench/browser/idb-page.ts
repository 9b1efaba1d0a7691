/**
 * Benchmark page: clone writes persisted to the browser's IndexedDB, with the batched clone
 * persistence (`createIndexedDbPersistence`) and with one awaited idb-keyval `set` per write (the
 * same native encodings as keys and values). Every run uses a fresh database, checks that every
 * entry was stored, and deletes the database. `benchIdb` on `globalThis` is driven by
 * `bench/sections/browser-idb.ts`.
 */
import { createStore, keys as idbKeys, set as idbSet, type UseStore } from 'idb-keyval';
import { count, string } from '../../src/index.js';
import { encodeValue } from '../../src/internal.js';
import { INDEXEDDB_NAME_PREFIX, INDEXEDDB_OBJECT_STORE, createIndexedDbPersistence } from '../../src/browser/index.js';

// Count read-write transactions: each commit of a batch, or each `set`, is one.
let readWriteTransactions = 0;
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
  if (args[1] === 'readwrite') readWriteTransactions++;
  return transaction.apply(this, args);
} as IDBDatabase['transaction'];

/** A macrotask without `setTimeout`'s 4 ms clamp. */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** What one run measured. */
export interface IdbRun {
  readonly ms: number;
  /** Entries found in the database afterwards (the checkpoint record not counted). */
  readonly stored: number;
  readonly transactions: number;
  readonly errors: readonly string[];
}

async function deleteDatabase(name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error ?? new Error(`cannot delete ${name}`));
  });
}

/** Closes the connection an idb-keyval store opened (it keeps it private). */
function closeStore(store: UseStore): Promise<void> {
  return store('readonly', (s) => s.transaction.db.close());
}

/** Entries of a database, read back through a connection of its own, which is then closed. */
async function countEntries(dbName: string, objectStore: string): Promise<IDBValidKey[]> {
  const store = createStore(dbName, objectStore);
  try {
    return await idbKeys(store);
  } finally {
    await closeStore(store);
  }
}

const api = {
  /**
   * `n` clone writes (count i → "value i", one `write()` each with its checkpoint) to a new
   * persistence, then `flush()`. `perTask` 0 makes every write in one task (a snapshot or a burst
   * of updates); otherwise `perTask` writes per macrotask (updates trickling in).
   */
  async batched(n: number, run: string, perTask: number): Promise<IdbRun> {
    const name = `bench-${run}`;
    const errors: string[] = [];
    const p = createIndexedDbPersistence(name, { onError: (e) => errors.push(`${e.code}: ${e.message}`) });
    await p.load(); // opens the database outside the timing
    const tx0 = readWriteTransactions;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      p.write([{ key: count(i), value: string(`value ${i}`) }], { epoch: 'bench', seq: i });
      if (perTask > 0 && (i + 1) % perTask === 0) await nextTask();
    }
    await p.flush();
    const ms = performance.now() - t0;
    const transactions = readWriteTransactions - tx0;
    await p.close();
    const dbName = INDEXEDDB_NAME_PREFIX + name;
    const stored = (await countEntries(dbName, INDEXEDDB_OBJECT_STORE)).filter((k) => k !== 'checkpoint').length;
    await deleteDatabase(dbName);
    return { ms, stored, transactions, errors };
  },
  /** `n` writes of the same encoded entries, one awaited idb-keyval `set` each. */
  async unbatched(n: number, run: string): Promise<IdbRun> {
    const dbName = `bench-unbatched-${run}`;
    const store = createStore(dbName, 'keyval');
    await idbSet('open', 0, store); // opens the database outside the timing
    const tx0 = readWriteTransactions;
    const t0 = performance.now();
    for (let i = 0; i < n; i++)
      await idbSet(encodeValue(count(i)).slice(), encodeValue(string(`value ${i}`)).slice(), store);
    const ms = performance.now() - t0;
    const transactions = readWriteTransactions - tx0;
    await closeStore(store);
    const stored = (await countEntries(dbName, 'keyval')).filter((k) => k !== 'open').length;
    await deleteDatabase(dbName);
    return { ms, stored, transactions, errors: [] };
  },
};

(globalThis as unknown as { benchIdb: typeof api }).benchIdb = api;
document.body.dataset.ready = 'yes';
