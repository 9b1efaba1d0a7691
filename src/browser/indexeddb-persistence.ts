/**
 * Clone persistence in IndexedDB through idb-keyval: one database per store name
 * (`isobroker-store-<name>`, object store `entries`). A key is the native encoding of the Broker
 * key (a binary IndexedDB key, after mapping −0 to 0 and every NaN to one NaN so that keys Broker
 * calls equal are one record); its record is the native encoding of the value. The checkpoint lives
 * under the string key `checkpoint`, which no binary key can equal.
 *
 * Writes are batched: `write()` and `reset()` only buffer. One IndexedDB transaction at a time
 * commits everything buffered — clear (after a reset), removals, new values (the last one per key)
 * and the latest checkpoint — atomically, so a crash never leaves a checkpoint that does not match
 * the entries. A batch starts one microtask after the first write of a turn, or as soon as the
 * previous transaction commits; writes made meanwhile join the next one (group commit).
 */
import { createStore, entries as idbEntries, promisifyRequest, type UseStore } from 'idb-keyval';
import { decodeValue, encodeValue } from '../codec/native/values.js';
import { DataMap } from '../data/data-map.js';
import type { Data } from '../data/types.js';
import { ClosedError, StoreError } from '../errors.js';
import { canonicalKey } from '../store/canonical-key.js';
import type { CloneCheckpoint, ClonePersistence, PersistChange, PersistedClone } from '../store/persistence.js';

/** Database name of a store: this prefix, then the store name. */
export const INDEXEDDB_NAME_PREFIX = 'isobroker-store-';
/** Object store holding a store's records inside its database. */
export const INDEXEDDB_OBJECT_STORE = 'entries';
/** Record key of the checkpoint (a string: every entry key is binary). */
const CHECKPOINT_KEY = 'checkpoint';
/** Version of the record layout, stored with the checkpoint; another version reads as no data. */
const FORMAT = 1;

/** Default `onError`: print the failure (a lost write must never pass unnoticed). */
export const DEFAULT_ON_PERSISTENCE_ERROR = (error: StoreError): void => {
  console.error(error);
};

export interface IndexedDbPersistenceOptions {
  /**
   * The IndexedDB factory to open `isobroker-store-<name>` with (e.g. fake-indexeddb in Node).
   * @default the global `indexedDB`, through idb-keyval's `createStore`
   */
  readonly indexedDB?: IDBFactory;
  /**
   * An idb-keyval store to use instead of opening one; takes precedence over `indexedDB`. The
   * caller owns it: `close()` leaves its connection open.
   * @default a store opened for `isobroker-store-<name>` / `entries`
   */
  readonly customStore?: UseStore;
  /**
   * Receives every failure: a batch IndexedDB did not commit (code `backend_failure`; the batch is
   * retried with the next write, `flush()` or `close()`), or unreadable persisted data
   * (`invalid_data`; `load()` then returns nothing, so the clone takes a full snapshot).
   * @default DEFAULT_ON_PERSISTENCE_ERROR (console.error)
   */
  readonly onError?: (error: StoreError) => void;
}

/** What the next transaction commits. */
interface Batch {
  /** Clear the object store first (a reset happened). */
  clear: boolean;
  /** Per key the last change: a value, or undefined for a removal. */
  readonly changes: DataMap<Data | undefined>;
  checkpoint: CloneCheckpoint | undefined;
}

const emptyBatch = (): Batch => ({ clear: false, changes: new DataMap(), checkpoint: undefined });
const isEmpty = (b: Batch): boolean => !b.clear && b.changes.size === 0 && b.checkpoint === undefined;

/** Persisted data is ours, so only the nesting depth keeps its wire limit. */
const LOAD_LIMITS = {
  maxFrameBytes: Number.MAX_SAFE_INTEGER,
  maxStringBytes: Number.MAX_SAFE_INTEGER,
  maxArrayLength: 2 ** 32 - 1,
};

/** Persists a clone of store `storeName` in IndexedDB. */
export function createIndexedDbPersistence(
  storeName: string,
  options: IndexedDbPersistenceOptions = {},
): ClonePersistence {
  const dbName = INDEXEDDB_NAME_PREFIX + storeName;
  const owned = options.customStore === undefined;
  const store: UseStore =
    options.customStore ??
    (options.indexedDB === undefined
      ? createStore(dbName, INDEXEDDB_OBJECT_STORE)
      : openStore(options.indexedDB, dbName));
  const onError = options.onError ?? DEFAULT_ON_PERSISTENCE_ERROR;

  let pending = emptyBatch();
  let scheduled = false;
  /** The chain of committed batches; never rejects. */
  let tail: Promise<void> = Promise.resolve();
  /** The failure of the last batch, until a batch commits. */
  let failure: StoreError | undefined;
  let closed = false;
  /** Whether a connection may be open (idb-keyval opens lazily; closing must not open one). */
  let used = false;

  /** Hands an error to `onError`; an exception from the handler itself surfaces as uncaught. */
  function report(error: StoreError): void {
    try {
      onError(error);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    tail = tail.then(commitPending);
  }

  async function commitPending(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = emptyBatch();
    if (isEmpty(batch)) return;
    used = true;
    try {
      const ops = prepare(batch);
      await store('readwrite', (s) => {
        try {
          if (batch.clear) s.clear();
          for (const key of ops.removals) s.delete(key);
          for (const [key, value] of ops.puts) s.put(value, key);
          if (ops.checkpoint !== undefined) s.put(ops.checkpoint, CHECKPOINT_KEY);
        } catch (e) {
          s.transaction.abort(); // nothing of a half-issued batch may commit
          throw e;
        }
        return promisifyRequest(s.transaction);
      });
      failure = undefined;
    } catch (e) {
      failure = new StoreError('backend_failure', `IndexedDB did not commit a batch of store '${storeName}'`, {
        cause: e,
      });
      pending = merge(batch, pending);
      report(failure);
    }
  }

  async function settle(): Promise<void> {
    if (!isEmpty(pending)) schedule();
    await tail;
    if (failure !== undefined) throw failure;
  }

  function checkOpen(): void {
    if (closed) throw new ClosedError(`the persistence of store '${storeName}' is closed`);
  }

  return {
    async load(): Promise<PersistedClone> {
      checkOpen();
      await tail;
      used = true;
      const records = await idbEntries<IDBValidKey, unknown>(store);
      try {
        return readRecords(records);
      } catch (e) {
        report(
          new StoreError('invalid_data', `unreadable IndexedDB data for store '${storeName}'; starting empty`, {
            cause: e,
          }),
        );
        return { entries: [] };
      }
    },
    write(changes: readonly PersistChange[], checkpoint: CloneCheckpoint): void {
      checkOpen();
      for (const c of changes) pending.changes.set(c.key, c.value);
      pending.checkpoint = { epoch: checkpoint.epoch, seq: checkpoint.seq };
      schedule();
    },
    reset(): void {
      checkOpen();
      pending = { clear: true, changes: new DataMap(), checkpoint: undefined };
      schedule();
    },
    flush(): Promise<void> {
      return settle();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await settle();
      } finally {
        // Close the connection we opened, through the store itself (idb-keyval keeps it private).
        if (owned && used) await store('readonly', (s) => s.transaction.db.close()).catch(onCloseError);
      }
    },
  };

  function onCloseError(e: unknown): void {
    report(new StoreError('backend_failure', `closing IndexedDB for store '${storeName}' failed`, { cause: e }));
  }
}

/** A failed batch goes back under the changes buffered since (newer changes win). */
function merge(failed: Batch, newer: Batch): Batch {
  if (newer.clear) return newer;
  const changes = new DataMap<Data | undefined>(failed.changes);
  for (const [k, v] of newer.changes) changes.set(k, v);
  return { clear: failed.clear, changes, checkpoint: newer.checkpoint ?? failed.checkpoint };
}

/** Encoded bytes (the encoder's slabs are plain ArrayBuffers, which IndexedDB takes as keys). */
type Bytes = Uint8Array<ArrayBuffer>;

interface Ops {
  readonly removals: Bytes[];
  readonly puts: [Bytes, Bytes][];
  readonly checkpoint: { format: number; epoch: string; seq: number } | undefined;
}

/** Encodes a batch before its transaction opens (an encoding error must not leave half a batch). */
function prepare(batch: Batch): Ops {
  const removals: Bytes[] = [];
  const puts: [Bytes, Bytes][] = [];
  for (const [key, value] of batch.changes) {
    // IndexedDB copies a key's bytes; a value is cloned with its whole buffer, so copy it out of
    // the encoder's shared slab.
    const k = encodeValue(canonicalKey(key)) as Bytes;
    if (value === undefined) removals.push(k);
    else puts.push([k, encodeValue(value).slice() as Bytes]);
  }
  const cp = batch.checkpoint;
  return {
    removals,
    puts,
    checkpoint: cp === undefined ? undefined : { format: FORMAT, epoch: cp.epoch, seq: cp.seq },
  };
}

/** Decodes every record; throws on anything this version did not write. */
function readRecords(records: readonly [IDBValidKey, unknown][]): PersistedClone {
  let checkpoint: CloneCheckpoint | undefined;
  const entries: (readonly [Data, Data])[] = [];
  for (const [key, value] of records) {
    if (key === CHECKPOINT_KEY) {
      checkpoint = readCheckpoint(value);
    } else if (key instanceof ArrayBuffer && value instanceof Uint8Array) {
      entries.push([decodeValue(new Uint8Array(key), LOAD_LIMITS), decodeValue(value, LOAD_LIMITS)]);
    } else {
      throw new TypeError(`unexpected record ${String(key)}`);
    }
  }
  if (checkpoint === undefined && entries.length > 0) throw new TypeError('entries without a checkpoint');
  return checkpoint === undefined ? { entries } : { checkpoint, entries };
}

function readCheckpoint(v: unknown): CloneCheckpoint {
  const r = v as { format?: unknown; epoch?: unknown; seq?: unknown } | null;
  if (typeof r !== 'object' || r === null || r.format !== FORMAT) throw new TypeError('unknown checkpoint format');
  if (typeof r.epoch !== 'string' || typeof r.seq !== 'number' || !Number.isFinite(r.seq)) {
    throw new TypeError('malformed checkpoint');
  }
  return { epoch: r.epoch, seq: r.seq };
}

/** An idb-keyval store on a given IndexedDB factory (idb-keyval's `createStore` uses the global). */
function openStore(factory: IDBFactory, dbName: string): UseStore {
  let db: Promise<IDBDatabase> | undefined;
  const connect = (): Promise<IDBDatabase> => {
    if (db !== undefined) return db;
    const request = factory.open(dbName);
    request.onupgradeneeded = () => request.result.createObjectStore(INDEXEDDB_OBJECT_STORE);
    const opened = promisifyRequest(request);
    db = opened;
    opened.then(
      (conn) => {
        conn.onclose = () => (db = undefined); // closed by the browser: reopen on next use
      },
      () => (db = undefined),
    );
    return opened;
  };
  return (mode, callback) =>
    connect().then((conn) =>
      callback(conn.transaction(INDEXEDDB_OBJECT_STORE, mode).objectStore(INDEXEDDB_OBJECT_STORE)),
    );
}
