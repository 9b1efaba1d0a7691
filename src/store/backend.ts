/**
 * The store backend seam: where a master keeps its entries. Backends are plain synchronous
 * storage (memory, SQLite); every store semantic — operations, expiry, sequence numbers — lives
 * once in the master state machine.
 */
import type { NativeLimits } from '../codec/native/limits.js';
import type { Data } from '../data/types.js';

/** One key of a store. Times are milliseconds since the Unix epoch. */
export interface StoreEntry {
  readonly key: Data;
  readonly value: Data;
  /** When the key expires (strictly after this instant); undefined = never. */
  readonly expiry?: number;
  /** The key's expiry interval in ms, re-armed by later changes that pass none; undefined = none. */
  readonly interval?: number;
}

/** What a write needs to know of the entry it replaces, short of its value (`StoreBackend.peek`). */
export interface EntryPresence {
  /** The entry's expiry interval in ms; undefined = none. */
  readonly interval?: number;
}

/** A page of a scan: the entries and where to continue. */
export interface ScanPage {
  readonly entries: readonly StoreEntry[];
  /** Opaque position to pass to the next `scan`; undefined when the scan is complete. */
  readonly cursor: unknown;
}

/** An entry of `StoreBackend.scanEncoded`: the key decoded, the value in its native encoding. */
export interface EncodedStoreEntry {
  readonly key: Data;
  /** The value as `encodeValue` encodes it, checked to be one well-formed value. */
  readonly value: Uint8Array;
  /** Why the value cannot be sent (well-formed, but beyond the limits the scan was given); unset when it can. */
  readonly unsendable?: string;
}

/** A page of `StoreBackend.scanEncoded`. */
export interface EncodedScanPage {
  readonly entries: readonly EncodedStoreEntry[];
  /** As `ScanPage.cursor`. */
  readonly cursor: unknown;
}

/**
 * Where a master keeps its entries: a memory map or a SQLite file. Every backend passes the same
 * contract suite (test/store/backend-contract.test.ts); writes come in batches, one transaction each.
 */
export interface StoreBackend {
  get(key: Data): StoreEntry | undefined;
  /**
   * Optional: whether `key` is present, and its expiry interval, without reading or decoding its
   * value (a put that no listener watches needs nothing more of the entry it replaces); undefined
   * when absent. A backend without it is read with `get`.
   */
  peek?(key: Data): EntryPresence | undefined;
  /**
   * Optional: sets `key` to `value` in one step, without reading the entry first. A new key gets
   * no expiry; an existing one keeps its interval and, when it has one, now expires at
   * `now + interval` (a put that passes no expiry re-arms the key's). Returns the interval
   * (undefined: none). A backend without it is read (`peek` or `get`), then written with `put`.
   */
  putValue?(key: Data, value: Data, now: number): number | undefined;
  /** Inserts or replaces the entry for `entry.key`. */
  put(entry: StoreEntry): void;
  /** Removes a key; true when it existed. */
  erase(key: Data): boolean;
  clear(): void;
  size(): number;
  keys(): Data[];
  /**
   * Pages through all entries, `limit` at a time, starting with `cursor` undefined. Changes made
   * between pages may or may not be seen; every key present for the whole scan is seen once.
   * `maxBytes`, when given, also bounds a page by the encoded size of its keys and values (a page
   * holds at least one entry): a backend whose pages cost memory in proportion to their values
   * (SQLite decodes every row it returns) honours it; one that hands out references it already
   * holds (memory) may ignore it.
   */
  scan(cursor: unknown, limit: number, maxBytes?: number): ScanPage;
  /**
   * Optional, for a backend that keeps values in their native encoding (SQLite): `scan` with the
   * values as those bytes, so a snapshot sends them without decoding and encoding them again. Same
   * paging and cursors as `scan`. Each value is validated against `limits` without being decoded:
   * one that is well-formed but beyond them comes with `unsendable`; one that is not a value at
   * all (corrupt storage) fails the scan with a `StoreError` (`backend_failure`).
   */
  scanEncoded?(cursor: unknown, limit: number, maxBytes: number | undefined, limits: NativeLimits): EncodedScanPage;
  /** Every entry with an expiry (to rebuild the expiry schedule after a restart). */
  expiring(): StoreEntry[];
  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;
  /** Removes a meta value (optional: without it, pruned clones' progress rows stay). */
  deleteMeta?(name: string): void;
  /** Names of the meta values starting with `prefix` (optional: to prune rows left by an earlier run). */
  metaNames?(prefix: string): string[];
  /** Runs `fn` as one atomic unit (one transaction: the group commit of a batch). */
  transaction<T>(fn: () => T): T;
  close(): void;
}
