/**
 * The memory store backend: entries in one `Map` keyed by `dataKey` (Broker value equality).
 *
 * - `scan` streams without copying: its cursor holds a live `Map` iterator, which tolerates
 *   inserts and deletes between pages (a replaced key keeps its place; new keys come at the end).
 * - `transaction` keeps an undo log. Inside a transaction an erased entry stays in the map as a
 *   tombstone until the outermost transaction commits, so a rollback restores it in place and a
 *   scan in progress does not meet it a second time. Nested transactions roll back to their start.
 */
import { dataKey } from '../data/data-map.js';
import type { Data } from '../data/types.js';
import { ClosedError, ValueError } from '../errors.js';
import type { ScanPage, StoreBackend, StoreEntry } from './backend.js';
import { checkScanLimit, checkSynchronous } from './backend-checks.js';

/** Marks an entry erased inside a transaction (purged at commit). */
const ERASED: unique symbol = Symbol('erased');
type Slot = StoreEntry | typeof ERASED;

/** How to undo one change: the slot or meta value before it (undefined = absent). */
type Undo =
  | { readonly meta: false; readonly k: string; readonly prev: Slot | undefined }
  | { readonly meta: true; readonly k: string; readonly prev: string | undefined };

/** A scan position: the live iterator and the entry read ahead to see whether more follow. */
class MemoryCursor {
  used = false;
  constructor(
    readonly owner: MemoryBackend,
    readonly it: Iterator<[string, Slot]>,
    readonly ahead: string,
  ) {}
}

class MemoryBackend implements StoreBackend {
  readonly #entries = new Map<string, Slot>();
  readonly #meta = new Map<string, string>();
  /** Live entries (the map also holds tombstones during a transaction). */
  #size = 0;
  /** The undo log while a transaction runs. */
  #log: Undo[] | undefined;
  #closed = false;

  get(key: Data): StoreEntry | undefined {
    this.#open();
    const s = this.#entries.get(dataKey(key));
    return s === ERASED ? undefined : s;
  }

  put(entry: StoreEntry): void {
    this.#open();
    const k = dataKey(entry.key);
    const prev = this.#entries.get(k);
    this.#log?.push({ meta: false, k, prev });
    if (prev === undefined || prev === ERASED) this.#size++;
    this.#entries.set(k, entry);
  }

  erase(key: Data): boolean {
    this.#open();
    const k = dataKey(key);
    const prev = this.#entries.get(k);
    if (prev === undefined || prev === ERASED) return false;
    this.#size--;
    if (this.#log) {
      this.#log.push({ meta: false, k, prev });
      this.#entries.set(k, ERASED);
    } else {
      this.#entries.delete(k);
    }
    return true;
  }

  clear(): void {
    this.#open();
    const log = this.#log;
    if (log) {
      for (const [k, prev] of this.#entries) {
        if (prev === ERASED) continue;
        log.push({ meta: false, k, prev });
        this.#entries.set(k, ERASED);
      }
    } else {
      this.#entries.clear();
    }
    this.#size = 0;
  }

  size(): number {
    this.#open();
    return this.#size;
  }

  keys(): Data[] {
    this.#open();
    const out: Data[] = [];
    for (const s of this.#entries.values()) if (s !== ERASED) out.push(s.key);
    return out;
  }

  scan(cursor: unknown, limit: number): ScanPage {
    this.#open();
    checkScanLimit(limit);
    const entries: StoreEntry[] = [];
    let it: Iterator<[string, Slot]>;
    if (cursor === undefined) {
      it = this.#entries.entries();
    } else {
      if (!(cursor instanceof MemoryCursor) || cursor.owner !== this) {
        throw new ValueError('scan cursor does not come from this backend');
      }
      if (cursor.used) throw new ValueError('scan cursor was already used (a memory cursor continues once)');
      cursor.used = true;
      it = cursor.it;
      // The entry read ahead: take its current state (it may have changed or gone since).
      const s = this.#entries.get(cursor.ahead);
      if (s !== undefined && s !== ERASED) entries.push(s);
    }
    for (;;) {
      const r = it.next();
      if (r.done === true) return { entries, cursor: undefined };
      const s = r.value[1];
      if (s === ERASED) continue;
      if (entries.length === limit) return { entries, cursor: new MemoryCursor(this, it, r.value[0]) };
      entries.push(s);
    }
  }

  expiring(): StoreEntry[] {
    this.#open();
    const out: StoreEntry[] = [];
    for (const s of this.#entries.values()) if (s !== ERASED && s.expiry !== undefined) out.push(s);
    return out;
  }

  getMeta(name: string): string | undefined {
    this.#open();
    return this.#meta.get(name);
  }

  setMeta(name: string, value: string): void {
    this.#open();
    this.#log?.push({ meta: true, k: name, prev: this.#meta.get(name) });
    this.#meta.set(name, value);
  }

  deleteMeta(name: string): void {
    this.#open();
    if (!this.#meta.has(name)) return;
    this.#log?.push({ meta: true, k: name, prev: this.#meta.get(name) });
    this.#meta.delete(name);
  }

  metaNames(prefix: string): string[] {
    this.#open();
    return [...this.#meta.keys()].filter((k) => k.startsWith(prefix));
  }

  transaction<T>(fn: () => T): T {
    this.#open();
    const outer = this.#log === undefined;
    const log = (this.#log ??= []);
    const mark = log.length;
    try {
      const result = fn();
      checkSynchronous(result);
      if (outer) this.#commit(log);
      return result;
    } catch (e) {
      this.#rollback(log, mark);
      if (outer) this.#log = undefined;
      throw e;
    }
  }

  close(): void {
    this.#closed = true;
    this.#entries.clear();
    this.#meta.clear();
    this.#size = 0;
    this.#log = undefined;
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('store backend is closed');
  }

  /** Ends the outermost transaction: drops the tombstones it left. */
  #commit(log: readonly Undo[]): void {
    this.#log = undefined;
    for (const u of log) if (!u.meta && this.#entries.get(u.k) === ERASED) this.#entries.delete(u.k);
  }

  /** Undoes the changes logged after `mark`, newest first, and forgets them. */
  #rollback(log: Undo[], mark: number): void {
    for (let i = log.length - 1; i >= mark; i--) {
      const u = log[i]!;
      if (u.meta) {
        if (u.prev === undefined) this.#meta.delete(u.k);
        else this.#meta.set(u.k, u.prev);
        continue;
      }
      const now = this.#entries.get(u.k);
      const wasLive = u.prev !== undefined && u.prev !== ERASED;
      const isLive = now !== undefined && now !== ERASED;
      if (wasLive !== isLive) this.#size += wasLive ? 1 : -1;
      if (u.prev === undefined) this.#entries.delete(u.k);
      else this.#entries.set(u.k, u.prev);
    }
    log.length = mark;
  }
}

/**
 * A store backend in memory, for tests, demos and masters that need no durability. Scan cursors
 * are single-use (each page returns the next one). `close()` drops the contents.
 */
export function createMemoryBackend(): StoreBackend {
  return new MemoryBackend();
}
