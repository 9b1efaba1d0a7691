/**
 * Broker-backed tables (Zeek's `&backend`): a Map-like table bound to the store
 * `___sync_store_<name>`. The master lives where configured (the manager in a cluster) and every
 * other node holds a clone. Local writes apply at once and go to the store; changes made by
 * others arrive through the store and apply too; with a SQLite master the table survives restarts.
 */
import { DataMap } from '../data/data-map.js';
import { from, isData } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { IsobrokerError, StoreError } from '../errors.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { errorEvent, listenerErrorEvent, type ErrorEvent } from '../endpoint/status.js';
import { toText } from '../data/text.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import { boolOption, checkOptionsObject, fnOption, objectOption } from '../util/options.js';
import type { StoreBackend } from '../store/backend.js';
import type { StoreChangeEvent } from '../store/store-events.js';
import {
  createClone,
  createMaster,
  type CloneOptions,
  type StoreClone,
  type StoreMaster,
  type WriteOptions,
} from '../store/stores.js';

/** Zeek's naming of the store behind a `&backend` table. */
export const backedTableStoreName = (name: string): string => `___sync_store_${name}`;

/** Options of `BackedTable.open(endpoint, name, options)`. */
export interface BackedTableOptions {
  /** Host the master here (true on the manager). @default false */
  readonly master?: boolean;
  /** Backend of the master (e.g. SQLite so the table survives restarts). @default a memory backend */
  readonly backend?: StoreBackend;
  /** Options of the clone (when not the master). @default DEFAULT_CLONE_OPTIONS */
  readonly clone?: CloneOptions;
  /** Expiry applied to every write (Zeek's `&write_expire`-like behaviour through the store). @default none */
  readonly expiry?: WriteOptions['expiry'];
  /** Sugar for `table.on('error', onError)`: it receives the same events. @default none */
  readonly onError?: (ev: ErrorEvent) => void;
}

/** Defaults of `BackedTableOptions`. */
export const DEFAULT_BACKED_TABLE_OPTIONS = Object.freeze({ master: false } as const);

/**
 * The events of a backed table. `change`: a change that arrived through the store (including
 * echoes of our own writes). `error`: a write applied locally but refused by the store
 * (`write_failed`, the `StoreError` as `cause`, the key in `context`), or a listener that threw.
 */
export interface BackedTableEvents {
  /** A change of the table. */
  change: StoreChangeEvent;
  /** An asynchronous failure (see above). */
  error: ErrorEvent;
}

function resolveBackedTableOptions(o: BackedTableOptions | undefined): BackedTableOptions {
  checkOptionsObject('options', o);
  const r = o ?? {};
  boolOption('master', r.master, DEFAULT_BACKED_TABLE_OPTIONS.master);
  if (r.backend !== undefined) objectOption('backend', r.backend, r.backend);
  checkOptionsObject('clone', r.clone);
  fnOption('onError', r.onError);
  return r;
}

const toData = (v: unknown): Data => (isData(v) ? v : from(v));

/**
 * A Broker-backed table (Zeek's `&backend`): a Map-like table kept in step with the store
 * `___sync_store_<name>` on every node.
 */
export class BackedTable implements Iterable<[Data, Data]> {
  private readonly map = new DataMap<Data>();
  private readonly events: Emitter<BackedTableEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  private readonly off: () => void;

  private constructor(
    /** The table's name (without the store prefix). */
    readonly name: string,
    /** The store behind the table. */
    readonly store: StoreMaster | StoreClone,
    private readonly opts: BackedTableOptions,
  ) {
    if (opts.onError) this.events.on('error', opts.onError);
    for (const [k, v] of store.entries()) this.map.set(k, v);
    this.off = store.onChange((ev) => this.apply(ev));
  }

  /** Binds a table to its store on `endpoint` (as master or clone, per `opts.master`). */
  static async open(endpoint: Endpoint, name: string, options?: BackedTableOptions): Promise<BackedTable> {
    const opts = resolveBackedTableOptions(options);
    const storeName = backedTableStoreName(name);
    const store = opts.master
      ? await createMaster(endpoint, storeName, opts.backend ? { backend: opts.backend } : {})
      : await createClone(endpoint, storeName, opts.clone ?? {});
    return new BackedTable(name, store, opts);
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** The value of `key` (Broker data, or a plain value converted with `from`). */
  get(key: unknown): Data | undefined {
    return this.map.get(toData(key));
  }

  /** Whether `key` is in the table. */
  has(key: unknown): boolean {
    return this.map.has(toData(key));
  }

  /** Sets `key` here at once and writes it to the store. */
  set(key: unknown, value: unknown): this {
    const k = toData(key);
    const v = toData(value);
    this.map.set(k, v);
    const w = this.opts.expiry === undefined ? undefined : { expiry: this.opts.expiry };
    this.store.put(k, v, w).catch((err: unknown) => this.writeFailed('put', k, err));
    return this;
  }

  /** Deletes `key` here at once and in the store. */
  delete(key: unknown): boolean {
    const k = toData(key);
    const had = this.map.delete(k);
    this.store.erase(k).catch((err: unknown) => this.writeFailed('erase', k, err));
    return had;
  }

  /** The keys. */
  keys(): IterableIterator<Data> {
    return this.map.keys();
  }

  /** The values. */
  values(): IterableIterator<Data> {
    return this.map.values();
  }

  /** The entries. */
  entries(): IterableIterator<[Data, Data]> {
    return this.map.entries();
  }

  [Symbol.iterator](): IterableIterator<[Data, Data]> {
    return this.map.entries();
  }

  /** Calls `fn` for every entry. */
  forEach(fn: (value: Data, key: Data, table: this) => void): void {
    for (const [k, v] of this.map) fn(v, k, this);
  }

  /** Listens to `change` or `error` events; returns a function that stops listening. */
  on<K extends keyof BackedTableEvents>(event: K, fn: (ev: BackedTableEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  /** Changes that arrive through the store (including echoes of our own writes); same as `on('change', fn)`. */
  onChange(fn: (ev: StoreChangeEvent) => void): Unsubscribe {
    return this.events.on('change', fn);
  }

  /** Unbinds the table and closes its store. */
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
    this.events.emit('change', ev);
  }

  private writeFailed(op: 'put' | 'erase', key: Data, err: unknown): void {
    const cause = err instanceof IsobrokerError ? err : new StoreError('backend_failure', String(err), { cause: err });
    this.events.emit(
      'error',
      errorEvent('write_failed', undefined, `${op} ${toText(key)} in ${this.name}: ${cause.message}`, cause),
    );
  }
}
