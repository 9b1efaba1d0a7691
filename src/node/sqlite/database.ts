/**
 * What the SQLite backend needs from a better-sqlite3 `Database`, as structural types, and the lazy
 * loader of better-sqlite3 itself.
 *
 * better-sqlite3 is an optional peer dependency: it compiles a native addon, and only users of the
 * SQLite backend need it. So nothing imports it at module load, and the published declarations do
 * not name its types — a consumer without it (or without `@types/better-sqlite3`) still compiles
 * strictly. A better-sqlite3 `Database` satisfies `SqliteDatabase` as it is.
 */
import { createRequire } from 'node:module';
import { IsobrokerError } from '../../errors.js';

/** The part of a better-sqlite3 `Statement` the backend uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { readonly changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Rows as arrays instead of objects. */
  raw(toggle?: boolean): this;
  /** Only the first column of each row. */
  pluck(toggle?: boolean): this;
}

/** The part of a better-sqlite3 `Database` the backend uses (a better-sqlite3 `Database` is one). */
export interface SqliteDatabase {
  /** The file name the database was opened with. */
  readonly name: string;
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** Wraps `fn` so each call runs in one transaction (a savepoint when nested). */
  transaction(fn: (body: () => unknown) => unknown): (body: () => unknown) => unknown;
  close(): unknown;
}

/** better-sqlite3's default export: opens a database file. */
export type SqliteDatabaseConstructor = new (path: string) => SqliteDatabase;

export const SQLITE_PACKAGE = 'better-sqlite3';
export const MISSING_SQLITE_MESSAGE = `${SQLITE_PACKAGE} is not installed: npm install ${SQLITE_PACKAGE}@12 to use the SQLite backend`;

const require = createRequire(import.meta.url);

/**
 * Loads better-sqlite3 on first use. Throws an `IsobrokerError` with code `missing_dependency`
 * when the package is not installed; any other loading failure passes through.
 */
export function loadBetterSqlite3(): SqliteDatabaseConstructor {
  try {
    return require(SQLITE_PACKAGE) as SqliteDatabaseConstructor;
  } catch (e) {
    // Only the package itself missing; a broken install (a missing module inside it) passes through.
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${SQLITE_PACKAGE}'`)) {
      throw new IsobrokerError('missing_dependency', MISSING_SQLITE_MESSAGE, { cause: e });
    }
    throw e;
  }
}

/** A better-sqlite3 `SqliteError` (recognised by shape, so a handed-in database needs no load). */
export function isSqliteError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && e.name === 'SqliteError' && typeof (e as { code?: unknown }).code === 'string';
}
