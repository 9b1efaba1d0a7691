/**
 * What only the SQLite backend has: pragmas, corrupt files and `failureMode`, `integrityCheck`, a
 * handed-in database, and the stored bytes themselves. The shared contract is in
 * backend-contract.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError, ValueError, count, none, real, string, vector, type StoreBackend } from 'isobroker';
import { encodeValue } from '../../src/internal.js';
import { DEFAULT_SQLITE_OPTIONS, openSqliteBackend, type SqliteBackendOptions } from 'isobroker/node';

let dir: string;
let file: string;
const toClose: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'isobroker-sqlite-'));
  file = join(dir, 'store.db');
});
afterEach(() => {
  toClose.splice(0).forEach((x) => {
    x.close();
  });
  rmSync(dir, { recursive: true, force: true });
});

function open(options: SqliteBackendOptions = {}): StoreBackend {
  const b = openSqliteBackend({ path: file, ...options });
  toClose.push(b);
  return b;
}

function database(path = file): Database.Database {
  const db = new Database(path);
  toClose.push(db);
  return db;
}

/** The StoreError an open throws. */
function openError(options: SqliteBackendOptions): StoreError {
  try {
    open(options);
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('open did not throw');
}

/** A file of 3000 entries written through the backend, closed. */
function writeStore(): void {
  const b = openSqliteBackend({ path: file });
  b.transaction(() => {
    for (let i = 0; i < 3000; i++) b.put({ key: string(`key${i}`), value: string('x'.repeat(100)) });
  });
  b.close();
}

describe('SQLite backend options', () => {
  it('has documented defaults that set no pragma', () => {
    expect(DEFAULT_SQLITE_OPTIONS).toEqual({
      path: ':memory:',
      synchronous: undefined,
      journalMode: undefined,
      failureMode: 'FAIL',
      integrityCheck: false,
    });
  });

  it.each([
    ['OFF', 0],
    ['NORMAL', 1],
    ['FULL', 2],
    ['EXTRA', 3],
  ] as const)('sets synchronous = %s', (mode, level) => {
    const db = database();
    db.pragma('synchronous = OFF');
    open({ database: db, path: undefined, synchronous: mode });
    expect(db.pragma('synchronous', { simple: true })).toBe(level);
  });

  it.each(['WAL', 'DELETE'] as const)('sets journal_mode = %s', (mode) => {
    const db = database();
    db.pragma(`journal_mode = ${mode === 'WAL' ? 'DELETE' : 'WAL'}`);
    open({ database: db, path: undefined, journalMode: mode });
    expect(db.pragma('journal_mode', { simple: true })).toBe(mode.toLowerCase());
  });

  it('sets the journal mode of a file it opens itself (seen from a second connection)', () => {
    open({ journalMode: 'WAL', synchronous: 'NORMAL' });
    expect(database().pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it("leaves SQLite's defaults when unset (journal DELETE, synchronous FULL)", () => {
    const db = database();
    open({ database: db, path: undefined });
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    open({ path: join(dir, 'own.db') });
    expect(database(join(dir, 'own.db')).pragma('journal_mode', { simple: true })).toBe('delete');
  });

  it('rejects invalid options', () => {
    expect(() => open({ synchronous: 'SOMETIMES' as 'OFF' })).toThrow(ValueError);
    expect(() => open({ journalMode: 'MEMORY' as 'WAL' })).toThrow(ValueError);
    expect(() => open({ failureMode: 'IGNORE' as 'FAIL' })).toThrow(ValueError);
    expect(() => open({ integrityCheck: 'yes' as unknown as boolean })).toThrow(ValueError);
    expect(() => open({ database: database() })).toThrow(ValueError); // path and database both given
  });

  it('creates the documented schema', () => {
    const db = database();
    open({ database: db, path: undefined });
    const columns = (table: string): string[][] =>
      (db.pragma(`table_info(${table})`) as { name: string; type: string; pk: number }[]).map((c) => [
        c.name,
        c.type,
        String(c.pk),
      ]);
    expect(columns('store')).toEqual([
      ['key', 'BLOB', '1'],
      ['value', 'BLOB', '0'],
      ['expiry', 'INTEGER', '0'],
      ['interval', 'INTEGER', '0'],
    ]);
    expect(columns('meta')).toEqual([
      ['key', 'TEXT', '1'],
      ['value', 'TEXT', '0'],
    ]);
  });
});

describe('SQLite backend with a handed-in database', () => {
  it('leaves the database open on close', () => {
    const db = database();
    const b = open({ database: db, path: undefined });
    b.put({ key: string('k'), value: count(1) });
    b.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) FROM store').pluck().get()).toBe(1);
  });

  it('stores keys and values as their native encoding, −0 and NaN keys canonical', () => {
    const db = database();
    const b = open({ database: db, path: undefined });
    b.put({ key: vector([real(-0), string('a')]), value: real(-0), expiry: 5, interval: 7 });
    b.put({ key: real(NaN), value: none() });
    const rows = db.prepare('SELECT key, value, expiry, interval FROM store ORDER BY key').raw().all() as unknown[][];
    const bytes = (v: Parameters<typeof encodeValue>[0]): Buffer => Buffer.from(encodeValue(v));
    expect(rows).toContainEqual([bytes(vector([real(0), string('a')])), bytes(real(-0)), 5, 7]);
    expect(rows).toContainEqual([Buffer.from([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), bytes(none()), null, null]);
  });

  it('reports undecodable stored bytes as backend_failure', () => {
    const db = database();
    const b = open({ database: db, path: undefined });
    db.prepare('INSERT INTO store(key, value) VALUES (?, ?)').run(
      Buffer.from(encodeValue(string('k'))),
      Buffer.from([0xc1]),
    );
    expect(() => b.get(string('k'))).toThrow(expect.objectContaining({ name: 'StoreError', code: 'backend_failure' }));
    expect(() => b.scan(undefined, 10)).toThrow(StoreError);
  });

  it('reports SQLite failures of an operation as backend_failure', () => {
    const db = database();
    const b = open({ database: db, path: undefined });
    db.exec('DROP TABLE store');
    const e = (() => {
      try {
        b.size();
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({ code: 'backend_failure', message: expect.stringMatching(/size failed: no such table/) });
  });
});

describe('SQLite backend on a corrupt or missing file', () => {
  const garbage = (): void => writeFileSync(file, Buffer.from('this is not a SQLite database '.repeat(200)));

  it('fails with backend_failure naming the file and SQLite’s reason (failureMode FAIL)', () => {
    garbage();
    const e = openError({});
    expect(e.code).toBe('backend_failure');
    expect(e.message).toContain(file);
    expect(e.message).toContain('file is not a database');
    expect(e.cause).toBeInstanceOf(Database.SqliteError);
    expect(readFileSync(file, 'utf8')).toMatch(/^this is not a SQLite database/); // left alone
    expect(openError({ failureMode: 'FAIL', journalMode: 'WAL' }).code).toBe('backend_failure');
  });

  it('deletes the file with its -wal, -shm and -journal files and starts empty (failureMode DELETE)', () => {
    garbage();
    for (const s of ['-wal', '-shm', '-journal']) writeFileSync(file + s, 'junk'.repeat(100));
    const b = open({ failureMode: 'DELETE', journalMode: 'DELETE' });
    expect(b.size()).toBe(0);
    for (const s of ['-wal', '-shm', '-journal']) expect(existsSync(file + s)).toBe(false);
    b.put({ key: string('k'), value: count(1) });
    b.close();
    expect(open().get(string('k'))?.value).toEqual(count(1));
  });

  it('fails without deleting anything when the file cannot be opened at all', () => {
    const e = openError({ path: join(dir, 'missing', 'store.db'), failureMode: 'DELETE' });
    expect(e.code).toBe('backend_failure');
    expect(e.message).toContain(join(dir, 'missing', 'store.db'));
  });

  it('fails on a corrupt handed-in database even with failureMode DELETE', () => {
    garbage();
    const db = database();
    expect(openError({ database: db, path: undefined, failureMode: 'DELETE' }).code).toBe('backend_failure');
    expect(existsSync(file)).toBe(true);
  });
});

describe('SQLite backend integrityCheck', () => {
  /** Changes one key inside the table's row so the primary-key index no longer matches it. */
  function damageIndex(): void {
    const buf = readFileSync(file);
    const at = buf.indexOf(Buffer.from('key1234'));
    expect(at).toBeGreaterThan(0);
    buf[at + 2] = 'z'.charCodeAt(0);
    writeFileSync(file, buf);
  }

  /** Overwrites one page in the middle of the file with noise. */
  function damagePage(): void {
    const buf = readFileSync(file);
    const page = 4096 * 20;
    expect(buf.length).toBeGreaterThan(page + 4096);
    for (let i = 0; i < 4096; i++) buf[page + i] = (i * 7919) & 0xff;
    writeFileSync(file, buf);
  }

  it.each([
    ['a key changed under its index', damageIndex, /integrity check failed: row \d+ missing from index/],
    ['a page of noise', damagePage, /malformed/],
  ])('detects %s at open only when asked', (_, damage, reason) => {
    writeStore();
    damage();
    open().close(); // damaged but openable without the check
    const e = openError({ integrityCheck: true });
    expect(e.code).toBe('backend_failure');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(reason);
    const b = open({ integrityCheck: true, failureMode: 'DELETE' });
    expect(b.size()).toBe(0);
    b.close();
    expect(open({ integrityCheck: true }).size()).toBe(0);
  });

  it('passes a healthy file', () => {
    writeStore();
    expect(open({ integrityCheck: true }).size()).toBe(3000);
  });
});
