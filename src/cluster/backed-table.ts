/**
 * Broker-backed tables (Zeek's `&backend`): a Map-like table bound to the store
 * `___sync_store_<name>`. The master lives where configured (the manager in a cluster) and every
 * other node holds a clone. Local writes apply at once and go to the store; changes made by
 * others arrive through the store and apply too; with a SQLite master the table survives restarts.
 */
import { DataMap } from '../data/data-map.js';
import { from, isData } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import type { StoreError } from '../errors.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import type { StoreBackend } from '../store/backend.js';
import type { StoreChangeEvent } from '../store/store-events.js';
import { createClone, createMaster, type CloneOptions, type StoreClone, type StoreMaster, type WriteOptions } from '../store/stores.js';

/** Zeek's naming of the store behind a `&backend` table. */
export const backedTableStoreName = (name: string): string => `___sync_store_${name}`;

export interface BackedTableOptions {
  /** Host the master here (true on the manager). @default false */
  readonly master?: boolean;
  /** Backend of the master (e.g. SQLite so the table survives restarts). @default memory */
  readonly backend?: StoreBackend;
  /** Options of the clone (when not the master). */
  readonly clone?: CloneOptions;
  /** Expiry applied to every write (Zeek's `&write_expire`-like behaviour through the store). */
  readonly expiry?: WriteOptions['expiry'];
  /** Failures of writes that were applied locally but refused by the store. @default ignored */
  readonly onError?: (err: StoreError, key: Data) => void;
}

const toData = (v: unknown): Data => (isData(v) ? v : from(v));

export class BackedTable implements Iterable<[Data, Data]> {
  private readonly map = new DataMap<Data>();
  private readonly listeners = new Set<(ev: StoreChangeEvent) => void>();
  private readonly off: () => void;

  private constructor(
    readonly name: string,
    readonly store: StoreMaster | StoreClone,
    private readonly opts: BackedTableOptions,
  ) {
    for (const [k, v] of store.entries()) this.map.set(k, v);
    this.off = store.onChange((ev) => this.apply(ev));
  }

  /** Binds a table to its store on `endpoint` (as master or clone, per `opts.master`). */
  static async open(endpoint: Endpoint, name: string, opts: BackedTableOptions = {}): Promise<BackedTable> {
    const storeName = backedTableStoreName(name);
    const store = opts.master
      ? await createMaster(endpoint, storeName, opts.backend ? { backend: opts.backend } : {})
      : await createClone(endpoint, storeName, opts.clone ?? {});
    return new BackedTable(name, store, opts);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: unknown): Data | undefined {
    return this.map.get(toData(key));
  }

  has(key: unknown): boolean {
    return this.map.has(toData(key));
  }

  /** Sets `key` here at once and writes it to the store. */
  set(key: unknown, value: unknown): this {
    const k = toData(key);
    const v = toData(value);
    this.map.set(k, v);
    const w = this.opts.expiry === undefined ? undefined : { expiry: this.opts.expiry };
    this.store.put(k, v, w).catch((err: StoreError) => this.opts.onError?.(err, k));
    return this;
  }

  /** Deletes `key` here at once and in the store. */
  delete(key: unknown): boolean {
    const k = toData(key);
    const had = this.map.delete(k);
    this.store.erase(k).catch((err: StoreError) => this.opts.onError?.(err, k));
    return had;
  }

  keys(): IterableIterator<Data> {
    return this.map.keys();
  }

  values(): IterableIterator<Data> {
    return this.map.values();
  }

  entries(): IterableIterator<[Data, Data]> {
    return this.map.entries();
  }

  [Symbol.iterator](): IterableIterator<[Data, Data]> {
    return this.map.entries();
  }

  forEach(fn: (value: Data, key: Data, table: this) => void): void {
    for (const [k, v] of this.map) fn(v, k, this);
  }

  /** Changes that arrive through the store (including echoes of our own writes). */
  onChange(fn: (ev: StoreChangeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.off();
    this.store.close();
  }

  private apply(ev: StoreChangeEvent): void {
    switch (ev.type) {
      case 'insert':
      case 'update':
        this.map.set(ev.key, ev.newValue);
        break;
      case 'erase':
      case 'expire':
        this.map.delete(ev.key);
        break;
      case 'clear':
        this.map.clear();
        break;
    }
    for (const fn of this.listeners) fn(ev);
  }
}
