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
 * echoes of our own writes). `error`: a write applied locally but refused by the store or by the
 * hub (`write_failed`, the `StoreError` or `AuthError` — e.g. `forbidden` — as `cause`, the key in
 * `context`; the local entry is rolled back by then), or a listener that threw.
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
  /**
   * Keys with local writes the store has not settled: how many, and the key's value as the store
   * last confirmed it (`undefined`: absent), to roll back to when they are all refused.
   */
  private readonly unsettled = new DataMap<{ writes: number; confirmed: Data | undefined }>();
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

  /**
   * Sets `key` here at once and writes it to the store. When the store (or the hub: `forbidden`)
   * refuses the write, the entry goes back to what the store holds and an `error` event says why.
   */
  set(key: unknown, value: unknown): this {
    const k = toData(key);
    const v = toData(value);
    this.begin(k);
    this.map.set(k, v);
    const w = this.opts.expiry === undefined ? undefined : { expiry: this.opts.expiry };
    this.settle('put', k, this.store.put(k, v, w));
    return this;
  }

  /** Deletes `key` here at once and in the store (restored, with an `error` event, when refused). */
  delete(key: unknown): boolean {
    const k = toData(key);
    this.begin(k);
    const had = this.map.delete(k);
    this.settle('erase', k, this.store.erase(k));
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
        this.confirm(ev.key, ev.newValue);
        break;
      case 'erase':
      case 'expire':
        this.map.delete(ev.key);
        this.confirm(ev.key, undefined);
        break;
      case 'clear':
        this.map.clear();
        for (const u of this.unsettled.values()) u.confirmed = undefined;
        break;
    }
    this.events.emit('change', ev);
  }

  /** A local write of `key` starts: with none unsettled, the current entry is what the store confirmed. */
  private begin(key: Data): void {
    const u = this.unsettled.get(key);
    if (u) u.writes++;
    else this.unsettled.set(key, { writes: 1, confirmed: this.map.get(key) });
  }

  private confirm(key: Data, value: Data | undefined): void {
    const u = this.unsettled.get(key);
    if (u) u.confirmed = value;
  }

  /**
   * Settles one local write. A refused one is rolled back once no other local write of the key is
   * unsettled (a later one decides the entry; if it is refused too, it rolls back then).
   */
  private settle(op: 'put' | 'erase', key: Data, write: Promise<void>): void {
    const done = (): { writes: number; confirmed: Data | undefined } | undefined => {
      const u = this.unsettled.get(key);
      if (u && --u.writes === 0) this.unsettled.delete(key);
      return u;
    };
    write.then(
      () => void done(),
      (err: unknown) => {
        const u = done();
        const rolledBack = u !== undefined && u.writes === 0;
        if (rolledBack) {
          if (u.confirmed === undefined) this.map.delete(key);
          else this.map.set(key, u.confirmed);
        }
        this.writeFailed(op, key, err, rolledBack);
      },
    );
  }

  private writeFailed(op: 'put' | 'erase', key: Data, err: unknown, rolledBack: boolean): void {
    const cause = err instanceof IsobrokerError ? err : new StoreError('backend_failure', String(err), { cause: err });
    const outcome = rolledBack ? ' (rolled back here)' : '';
    this.events.emit(
      'error',
      errorEvent('write_failed', undefined, `${op} ${toText(key)} in ${this.name}: ${cause.message}${outcome}`, cause),
    );
  }
}
