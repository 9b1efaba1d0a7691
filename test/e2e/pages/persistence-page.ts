/**
 * Test page: the IndexedDB clone persistence in the browser's own IndexedDB, driven by
 * test/e2e/persistence-indexeddb.test.ts. Values cross the page boundary as native encodings.
 */
import { createStore, set as idbSet } from 'idb-keyval';
import { count, string, type ClonePersistence, type CloneCheckpoint, type Data } from 'isobroker';
import { decodeValue, encodeValue } from '../../../src/internal.js';
import { createIndexedDbPersistence } from 'isobroker/browser';

// Count read-write transactions (every commit of a batch is one).
let readWriteTransactions = 0;
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
  if (args[1] === 'readwrite') readWriteTransactions++;
  return transaction.apply(this, args);
} as IDBDatabase['transaction'];

const handles = new Map<string, ClonePersistence>();
const errors: string[] = [];
const handle = (name: string): ClonePersistence => {
  let p = handles.get(name);
  if (p === undefined)
    handles.set(
      name,
      (p = createIndexedDbPersistence(name, { onError: (e) => errors.push(`${e.code}: ${e.message}`) })),
    );
  return p;
};

type Bytes = number[];
const enc = (d: Data): Bytes => [...encodeValue(d)];
const dec = (b: Bytes): Data => decodeValue(new Uint8Array(b));

const api = {
  /** Writes `pairs` in one tick, one `write()` per pair, each with its own checkpoint seq. */
  write(name: string, pairs: [Bytes, Bytes | null][], epoch: string, firstSeq: number): void {
    const p = handle(name);
    pairs.forEach(([k, v], i) => {
      p.write([v === null ? { key: dec(k) } : { key: dec(k), value: dec(v) }], { epoch, seq: firstSeq + i });
    });
  },
  /** Writes `n` small entries (count i → "value i") in one tick. */
  writeMany(name: string, n: number): void {
    const p = handle(name);
    for (let i = 0; i < n; i++) p.write([{ key: count(i), value: string(`value ${i}`) }], { epoch: 'many', seq: i });
  },
  reset(name: string): void {
    handle(name).reset();
  },
  flush(name: string): Promise<void> {
    return handle(name).flush();
  },
  async load(name: string): Promise<{ checkpoint: CloneCheckpoint | null; entries: [Bytes, Bytes][] }> {
    const loaded = await handle(name).load();
    return { checkpoint: loaded.checkpoint ?? null, entries: loaded.entries.map(([k, v]) => [enc(k), enc(v)]) };
  },
  transactions(): number {
    return readWriteTransactions;
  },
  errors(): string[] {
    return errors;
  },
  /** Persists `n` small entries both ways; returns the milliseconds each took. */
  async bench(n: number, run: string): Promise<{ batchedMs: number; unbatchedMs: number }> {
    const p = createIndexedDbPersistence(`bench-${run}`);
    await p.load(); // open the database outside the timing
    let t = performance.now();
    for (let i = 0; i < n; i++) p.write([{ key: count(i), value: string(`value ${i}`) }], { epoch: 'bench', seq: i });
    await p.flush();
    const batchedMs = performance.now() - t;
    await p.close();

    const store = createStore(`bench-unbatched-${run}`, 'keyval');
    await idbSet('warm-up', 0, store);
    t = performance.now();
    for (let i = 0; i < n; i++)
      await idbSet(encodeValue(count(i)).slice(), encodeValue(string(`value ${i}`)).slice(), store);
    const unbatchedMs = performance.now() - t;
    return { batchedMs, unbatchedMs };
  },
};

(globalThis as unknown as { persistenceTest: typeof api }).persistenceTest = api;
document.body.dataset.ready = 'yes';
