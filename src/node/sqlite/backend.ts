/**
 * The SQLite store backend (better-sqlite3): durable storage for a store master.
 *
 * Schema (created when missing):
 *
 *     store(key blob primary key, value blob, expiry integer, interval integer)
 *     meta(key text primary key, value text)
 *
 * Keys and values are the native MessagePack encoding of the Broker values (`encodeValue`). That
 * encoding is canonical — sets and tables sorted, integers in their smallest form, IPv4 addresses
 * as 4 bytes — with two exceptions `canonicalKey` (store/canonical-key.ts) removes from keys: −0 is
 * stored as 0 and every NaN as the one canonical NaN, so keys equal under Broker's `equals` are
 * identical bytes (values keep their exact bits). `expiry` is the key's deadline in ms since the Unix epoch; `interval` is the
 * key's expiry interval in ms, which the master re-arms when a later change passes no expiry;
 * NULL means none for both. Every operation runs one statement prepared at open; `put` is one
 * upsert with no read before it, and `peek` (what a master's put reads first) reads no blob.
 */
import { unlinkSync } from 'node:fs';
import { decodeValue, encodeValue, validateEncodedValue } from '../../codec/native/values.js';
import type { NativeLimits } from '../../codec/native/limits.js';
import type { Data } from '../../data/types.js';
import { ClosedError, IsobrokerError, StoreError, ValueError } from '../../errors.js';
import type {
  EncodedScanPage,
  EncodedStoreEntry,
  EntryPresence,
  ScanPage,
  StoreBackend,
  StoreEntry,
} from '../../store/backend.js';
import { checkScanLimit, checkSynchronous } from '../../store/backend-checks.js';
import { canonicalKey } from '../../store/canonical-key.js';
import { isSqliteError, loadBetterSqlite3, type SqliteDatabase, type SqliteStatement } from './database.js';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
export type SqliteJournalMode = 'DELETE' | 'WAL';
export type SqliteFailureMode = 'FAIL' | 'DELETE';

export interface SqliteBackendOptions {
  /** Database file (`:memory:` for a private in-memory database). Not allowed with `database`. @default ':memory:' */
  readonly path?: string;
  /**
   * An open better-sqlite3 `Database` to use instead of opening `path`. The backend creates its
   * tables in it, and `close()` leaves it open: whoever opened it closes it. `failureMode`
   * 'DELETE' cannot delete a handed-in database; a corrupt one fails. Without it, opening `path`
   * loads better-sqlite3 (an optional peer dependency) and fails with code `missing_dependency`
   * when it is not installed.
   * @default undefined
   */
  readonly database?: SqliteDatabase;
  /** `PRAGMA synchronous`; unset leaves SQLite's default (FULL). @default undefined */
  readonly synchronous?: SqliteSynchronous;
  /**
   * `PRAGMA journal_mode`; unset leaves SQLite's default (DELETE, or whatever mode the file was
   * left in: WAL persists). An in-memory database keeps its 'memory' journal whatever is asked.
   * @default undefined
   */
  readonly journalMode?: SqliteJournalMode;
  /**
   * What to do at open when the file is corrupt or not a database: 'FAIL' throws a `StoreError`
   * with code `backend_failure`; 'DELETE' deletes the file with its -wal, -shm and -journal files
   * and starts again empty. Corruption found after open always fails the operation.
   * @default 'FAIL'
   */
  readonly failureMode?: SqliteFailureMode;
  /** Run `PRAGMA integrity_check` at open and treat any problem it reports as corruption. @default false */
  readonly integrityCheck?: boolean;
}

/** The defaults of `SqliteBackendOptions` (undefined pragmas: SQLite's own defaults apply). */
export const DEFAULT_SQLITE_OPTIONS: {
  readonly path: string;
  readonly synchronous: SqliteSynchronous | undefined;
  readonly journalMode: SqliteJournalMode | undefined;
  readonly failureMode: SqliteFailureMode;
  readonly integrityCheck: boolean;
} = Object.freeze({
  path: ':memory:',
  synchronous: undefined,
  journalMode: undefined,
  failureMode: 'FAIL',
  integrityCheck: false,
});

const SYNCHRONOUS: readonly string[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
const JOURNAL_MODES: readonly string[] = ['DELETE', 'WAL'];
const FAILURE_MODES: readonly string[] = ['FAIL', 'DELETE'];

/** Stored bytes were written by this backend: decode them without the wire's size limits. */
const STORED_LIMITS: NativeLimits = Object.freeze({
  maxFrameBytes: Number.MAX_SAFE_INTEGER,
  maxDepth: 1000,
  maxStringBytes: Number.MAX_SAFE_INTEGER,
  maxArrayLength: Number.MAX_SAFE_INTEGER,
});

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS store(key BLOB PRIMARY KEY, value BLOB, expiry INTEGER, interval INTEGER);
  CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
`;
const COLUMNS = 'key, value, expiry, interval';

/** A row of `store` in raw mode. */
type Row = [key: Buffer, value: Buffer, expiry: number | null, interval: number | null];

/** `peek`'s answer for a present key without an interval (one object for all). */
const NO_INTERVAL: EntryPresence = Object.freeze({});

/** `integrity_check` reported problems. */
class IntegrityFailure extends Error {}

function encodeKey(key: Data): Uint8Array {
  return encodeValue(canonicalKey(key));
}

function isCorruption(e: unknown): boolean {
  if (e instanceof IntegrityFailure) return true;
  if (!isSqliteError(e)) return false;
  return e.code === 'SQLITE_NOTADB' || e.code.startsWith('SQLITE_CORRUPT');
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class SqliteBackend implements StoreBackend {
  readonly #db: SqliteDatabase;
  readonly #owned: boolean;
  readonly #label: string;
  #closed = false;
  readonly #get: SqliteStatement;
  readonly #peek: SqliteStatement;
  readonly #putValue: SqliteStatement;
  /**
   * The key last encoded and its bytes: a master reads a key and then writes it, one encoding
   * for both (keys are immutable values; the bytes are a view no later encoding overwrites).
   */
  #lastKey: Data | undefined;
  #lastKeyBytes: Uint8Array = new Uint8Array(0);
  readonly #put: SqliteStatement;
  readonly #erase: SqliteStatement;
  readonly #clear: SqliteStatement;
  readonly #size: SqliteStatement;
  readonly #keys: SqliteStatement;
  readonly #scanFirst: SqliteStatement;
  readonly #scanNext: SqliteStatement;
  /** Sizes of the next rows (key and value bytes; `length` reads no blob), for scans bounded in bytes. */
  readonly #sizesFirst: SqliteStatement;
  readonly #sizesNext: SqliteStatement;
  readonly #expiring: SqliteStatement;
  readonly #getMeta: SqliteStatement;
  readonly #setMeta: SqliteStatement;
  readonly #deleteMeta: SqliteStatement;
  readonly #metaNames: SqliteStatement;
  readonly #tx: (fn: () => unknown) => unknown;

  /** Applies the options, checks integrity if asked, creates the schema and prepares everything. */
  constructor(db: SqliteDatabase, owned: boolean, label: string, o: typeof DEFAULT_SQLITE_OPTIONS) {
    this.#db = db;
    this.#owned = owned;
    this.#label = label;
    if (o.journalMode !== undefined) db.pragma(`journal_mode = ${o.journalMode}`);
    if (o.synchronous !== undefined) db.pragma(`synchronous = ${o.synchronous}`);
    if (o.integrityCheck) {
      const problems = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
      const lines = problems.map((r) => r.integrity_check);
      if (lines.length !== 1 || lines[0] !== 'ok') {
        throw new IntegrityFailure(`integrity check failed: ${lines.slice(0, 5).join('; ')}`);
      }
    }
    db.exec(SCHEMA);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM store WHERE key = ?`).raw();
    this.#peek = db.prepare('SELECT interval FROM store WHERE key = ?').pluck();
    this.#putValue = db
      .prepare(
        'INSERT INTO store(key, value, expiry, interval) VALUES (?, ?, NULL, NULL) ' +
          'ON CONFLICT(key) DO UPDATE SET value = excluded.value, ' +
          'expiry = CASE WHEN interval IS NULL THEN NULL ELSE ? + interval END RETURNING interval',
      )
      .pluck();
    this.#put = db.prepare(
      'INSERT INTO store(key, value, expiry, interval) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiry = excluded.expiry, interval = excluded.interval',
    );
    this.#erase = db.prepare('DELETE FROM store WHERE key = ?');
    this.#clear = db.prepare('DELETE FROM store');
    this.#size = db.prepare('SELECT count(*) FROM store').pluck();
    this.#keys = db.prepare('SELECT key FROM store ORDER BY key').pluck();
    this.#scanFirst = db.prepare(`SELECT ${COLUMNS} FROM store ORDER BY key LIMIT ?`).raw();
    this.#scanNext = db.prepare(`SELECT ${COLUMNS} FROM store WHERE key > ? ORDER BY key LIMIT ?`).raw();
    this.#sizesFirst = db.prepare('SELECT length(key) + length(value) FROM store ORDER BY key LIMIT ?').pluck();
    this.#sizesNext = db
      .prepare('SELECT length(key) + length(value) FROM store WHERE key > ? ORDER BY key LIMIT ?')
      .pluck();
    this.#expiring = db.prepare(`SELECT ${COLUMNS} FROM store WHERE expiry IS NOT NULL`).raw();
    this.#getMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.#setMeta = db.prepare(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    this.#deleteMeta = db.prepare('DELETE FROM meta WHERE key = ?');
    this.#metaNames = db.prepare('SELECT key FROM meta WHERE substr(key, 1, ?) = ?').pluck();
    this.#tx = db.transaction((fn: () => unknown) => {
      const result = fn();
      checkSynchronous(result);
      return result;
    });
  }

  get(key: Data): StoreEntry | undefined {
    this.#open();
    let row: Row | undefined;
    try {
      row = this.#get.get(this.#key(key)) as Row | undefined;
    } catch (e) {
      throw this.#fail('get', e);
    }
    return row === undefined ? undefined : this.#entry(key, row);
  }

  /** Presence and interval only: no blob is read, nothing decoded. */
  peek(key: Data): EntryPresence | undefined {
    this.#open();
    let interval: number | null | undefined;
    try {
      interval = this.#peek.get(this.#key(key)) as number | null | undefined;
    } catch (e) {
      throw this.#fail('peek', e);
    }
    return interval === undefined ? undefined : interval === null ? NO_INTERVAL : { interval };
  }

  /** One upsert that keeps an existing key's interval and re-arms its expiry (`RETURNING` the interval). */
  putValue(key: Data, value: Data, now: number): number | undefined {
    this.#open();
    const k = this.#key(key);
    const v = encodeValue(value);
    let interval: number | null | undefined;
    try {
      interval = this.#putValue.get(k, v, now) as number | null | undefined;
    } catch (e) {
      throw this.#fail('put', e);
    }
    return interval ?? undefined;
  }

  put(entry: StoreEntry): void {
    this.#open();
    const key = this.#key(entry.key);
    const value = encodeValue(entry.value);
    try {
      this.#put.run(key, value, entry.expiry ?? null, entry.interval ?? null);
    } catch (e) {
      throw this.#fail('put', e);
    }
  }

  erase(key: Data): boolean {
    this.#open();
    try {
      return this.#erase.run(this.#key(key)).changes > 0;
    } catch (e) {
      throw this.#fail('erase', e);
    }
  }

  clear(): void {
    this.#open();
    try {
      this.#clear.run();
    } catch (e) {
      throw this.#fail('clear', e);
    }
  }

  /** Counts the rows (SQLite counts by walking the table: O(n)). */
  size(): number {
    this.#open();
    try {
      return (this.#size.get() as number | undefined) ?? 0;
    } catch (e) {
      throw this.#fail('size', e);
    }
  }

  keys(): Data[] {
    this.#open();
    let rows: Buffer[];
    try {
      rows = this.#keys.all() as Buffer[];
    } catch (e) {
      throw this.#fail('keys', e);
    }
    return rows.map((k) => this.#decode(k, 'key'));
  }

  /** Pages in key-byte order; the cursor is the last key's bytes, so it can be reused. */
  scan(cursor: unknown, limit: number, maxBytes?: number): ScanPage {
    const { rows, cursor: next } = this.#page(cursor, limit, maxBytes);
    const entries: StoreEntry[] = [];
    for (let i = 0; i < rows.length; i++) entries.push(this.#row(rows[i]!));
    return { entries, cursor: next };
  }

  /**
   * `scan` with the values as stored: their native encoding, which is what a snapshot sends, so
   * a large value is neither decoded nor encoded again (a 1 MiB string costs ~10 ms each way).
   * Each value is validated instead (no strings or objects built).
   */
  scanEncoded(cursor: unknown, limit: number, maxBytes: number | undefined, limits: NativeLimits): EncodedScanPage {
    const { rows, cursor: next } = this.#page(cursor, limit, maxBytes);
    const entries: EncodedStoreEntry[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const key = this.#decode(r[0], 'key');
      const value = r[1];
      try {
        validateEncodedValue(value, limits);
        entries.push({ key, value });
      } catch (e) {
        // Well-formed but beyond what peers accept, or not a value at all (corrupt).
        this.#decode(value, 'value');
        entries.push({ key, value, unsendable: messageOf(e) });
      }
    }
    return { entries, cursor: next };
  }

  /** The rows of one page of a scan and the cursor after it. */
  #page(cursor: unknown, limit: number, maxBytes: number | undefined): { rows: Row[]; cursor: unknown } {
    this.#open();
    checkScanLimit(limit);
    if (cursor !== undefined && !(cursor instanceof Uint8Array)) {
      throw new ValueError('scan cursor does not come from a SQLite backend');
    }
    let rows: Row[];
    try {
      if (maxBytes !== undefined) {
        // Bounded in bytes too: read only the sizes first (one more than asked says whether
        // another page follows), so a page of large values is never loaded whole; at least one
        // entry, even one larger than maxBytes.
        const sizes = (
          cursor === undefined ? this.#sizesFirst.all(limit + 1) : this.#sizesNext.all(cursor, limit + 1)
        ) as number[];
        let n = 0;
        for (let bytes = 0; n < Math.min(limit, sizes.length) && (n === 0 || bytes + sizes[n]! <= maxBytes); n++)
          bytes += sizes[n]!;
        const page = (
          cursor === undefined ? this.#scanFirst.all(Math.max(1, n)) : this.#scanNext.all(cursor, Math.max(1, n))
        ) as Row[];
        return { rows: page, cursor: sizes.length > n && page.length > 0 ? page[page.length - 1]![0] : undefined };
      }
      // One row more than asked says whether another page follows.
      rows = (cursor === undefined ? this.#scanFirst.all(limit + 1) : this.#scanNext.all(cursor, limit + 1)) as Row[];
    } catch (e) {
      throw this.#fail('scan', e);
    }
    const more = rows.length > limit;
    const n = more ? limit : rows.length;
    return { rows: more ? rows.slice(0, n) : rows, cursor: more ? rows[n - 1]![0] : undefined };
  }

  expiring(): StoreEntry[] {
    this.#open();
    let rows: Row[];
    try {
      rows = this.#expiring.all() as Row[];
    } catch (e) {
      throw this.#fail('expiring', e);
    }
    return rows.map((r) => this.#row(r));
  }

  getMeta(name: string): string | undefined {
    this.#open();
    try {
      return this.#getMeta.get(name) as string | undefined;
    } catch (e) {
      throw this.#fail('getMeta', e);
    }
  }

  setMeta(name: string, value: string): void {
    this.#open();
    try {
      this.#setMeta.run(name, value);
    } catch (e) {
      throw this.#fail('setMeta', e);
    }
  }

  deleteMeta(name: string): void {
    this.#open();
    try {
      this.#deleteMeta.run(name);
    } catch (e) {
      throw this.#fail('deleteMeta', e);
    }
  }

  metaNames(prefix: string): string[] {
    this.#open();
    try {
      return this.#metaNames.all(prefix.length, prefix) as string[];
    } catch (e) {
      throw this.#fail('metaNames', e);
    }
  }

  /** One SQLite transaction; a nested call is a savepoint, so its failure undoes only its part. */
  transaction<T>(fn: () => T): T {
    this.#open();
    try {
      return this.#tx(fn) as T;
    } catch (e) {
      // Errors of the body pass through; a failed BEGIN or COMMIT is the backend's.
      throw isSqliteError(e) ? this.#fail('transaction', e) : e;
    }
  }

  /** Closes the database when this backend opened it; a handed-in database stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new ClosedError(`SQLite store ${this.#label} is closed`);
  }

  /** The stored form of `key`, encoded once for consecutive calls with the same key. */
  #key(key: Data): Uint8Array {
    if (key !== this.#lastKey) {
      this.#lastKeyBytes = encodeKey(key);
      this.#lastKey = key;
    }
    return this.#lastKeyBytes;
  }

  #row(r: Row): StoreEntry {
    return this.#entry(this.#decode(r[0], 'key'), r);
  }

  #entry(key: Data, r: Row): StoreEntry {
    const value = this.#decode(r[1], 'value');
    const expiry = r[2];
    const interval = r[3];
    if (expiry === null && interval === null) return { key, value };
    if (interval === null) return { key, value, expiry: expiry! };
    if (expiry === null) return { key, value, interval };
    return { key, value, expiry, interval };
  }

  #decode(bytes: Uint8Array, what: string): Data {
    try {
      return decodeValue(bytes, STORED_LIMITS);
    } catch (e) {
      throw new StoreError(
        'backend_failure',
        `SQLite store ${this.#label}: a stored ${what} cannot be decoded: ${messageOf(e)}`,
        {
          cause: e,
        },
      );
    }
  }

  #fail(action: string, e: unknown): Error {
    if (e instanceof IsobrokerError) return e;
    return new StoreError('backend_failure', `SQLite store ${this.#label}: ${action} failed: ${messageOf(e)}`, {
      cause: e,
    });
  }
}

function resolveOptions(options: SqliteBackendOptions): typeof DEFAULT_SQLITE_OPTIONS {
  const o = {
    path: options.path ?? DEFAULT_SQLITE_OPTIONS.path,
    synchronous: options.synchronous ?? DEFAULT_SQLITE_OPTIONS.synchronous,
    journalMode: options.journalMode ?? DEFAULT_SQLITE_OPTIONS.journalMode,
    failureMode: options.failureMode ?? DEFAULT_SQLITE_OPTIONS.failureMode,
    integrityCheck: options.integrityCheck ?? DEFAULT_SQLITE_OPTIONS.integrityCheck,
  };
  if (typeof o.path !== 'string') throw new ValueError('SQLite store path must be a string');
  if (o.synchronous !== undefined && !SYNCHRONOUS.includes(o.synchronous)) {
    throw new ValueError(`synchronous must be one of ${SYNCHRONOUS.join(', ')}, got ${String(o.synchronous)}`);
  }
  if (o.journalMode !== undefined && !JOURNAL_MODES.includes(o.journalMode)) {
    throw new ValueError(`journalMode must be one of ${JOURNAL_MODES.join(', ')}, got ${String(o.journalMode)}`);
  }
  if (!FAILURE_MODES.includes(o.failureMode)) {
    throw new ValueError(`failureMode must be one of ${FAILURE_MODES.join(', ')}, got ${String(o.failureMode)}`);
  }
  if (typeof o.integrityCheck !== 'boolean') throw new ValueError('integrityCheck must be a boolean');
  return o;
}

function openFailure(label: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError('backend_failure', `cannot open SQLite store ${label}: ${messageOf(e)}`, { cause: e });
}

/** Opens the file and sets the backend up in it, closing the file again if that fails. */
function openFile(Database: new (path: string) => SqliteDatabase, o: typeof DEFAULT_SQLITE_OPTIONS): SqliteBackend {
  const db = new Database(o.path);
  try {
    return new SqliteBackend(db, true, o.path, o);
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Deletes a database file and the files SQLite keeps beside it (those that exist). */
function deleteDatabaseFiles(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/**
 * Opens a SQLite store backend: the file at `options.path` (created if missing) or the handed-in
 * `options.database`. Throws a `StoreError` with code `backend_failure` when the database cannot be
 * opened or is corrupt (unless `failureMode` is 'DELETE'), and a `ValueError` for invalid options.
 */
export function openSqliteBackend(options: SqliteBackendOptions = {}): StoreBackend {
  const o = resolveOptions(options);
  const db = options.database;
  if (db !== undefined) {
    if (options.path !== undefined) throw new ValueError('give either path or database, not both');
    try {
      return new SqliteBackend(db, false, db.name, o);
    } catch (e) {
      throw openFailure(db.name, e);
    }
  }
  const Database = loadBetterSqlite3(); // outside the try: a missing package is not a backend failure
  try {
    return openFile(Database, o);
  } catch (e) {
    const onDisk = o.path !== '' && o.path !== ':memory:';
    if (o.failureMode !== 'DELETE' || !onDisk || !isCorruption(e)) throw openFailure(o.path, e);
  }
  try {
    deleteDatabaseFiles(o.path);
    return openFile(Database, o);
  } catch (e) {
    throw openFailure(o.path, e);
  }
}
