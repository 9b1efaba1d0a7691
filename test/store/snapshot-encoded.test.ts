/**
 * Snapshots from a backend that keeps values encoded (SQLite): the stored bytes are sent as they
 * are, so a chunk must be byte-for-byte what encoding the decoded entries gives, and stored bytes
 * that are not a value (corruption) or not a value peers accept must never be sent.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue, preEncoded } from '../../src/codec/native/values.js';
import { count, real, set, string, table, vector } from '../../src/data/constructors.js';
import type { Data } from '../../src/data/types.js';
import type { StoreError } from '../../src/errors.js';
import { openSqliteBackend } from '../../src/node/index.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { ChangeLog } from '../../src/store/change-log.js';
import { createMemoryBackend } from '../../src/store/memory-backend.js';
import { SnapshotStreams } from '../../src/store/snapshot-stream.js';
import { decodeStoreMessage, encodeStoreMessage, StoreMsg, type StoreMessage } from '../../src/store/store-protocol.js';
import { DEFAULT_MAX_ENTRY_BYTES, encodedSize } from '../../src/store/value-size.js';

const KiB = 1024;

function run(backend: StoreBackend, chunkBytes = 64 * KiB) {
  const sent: StoreMessage[] = [];
  const errors: StoreError[] = [];
  const pending: (() => void)[] = [];
  const streams = new SnapshotStreams({
    name: 'enc',
    backend,
    log: new ChangeLog(100, 0),
    chunkSize: 1000,
    chunkBytes,
    maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
    window: 1000,
    windowBytes: Number.MAX_SAFE_INTEGER,
    timers: {
      now: () => 0,
      setTimeout: (fn: () => void, ms: number) => {
        if (ms === 0) pending.push(fn);
        return {};
      },
      clearTimeout: () => undefined,
    },
    send: (_clone, msg) => sent.push(msg),
    epoch: 'e',
    seq: () => 0,
    onError: (e) => errors.push(e),
  });
  streams.start('c', 1);
  for (let fn = pending.shift(); fn; fn = pending.shift()) fn();
  // What travels: each message as the sender encodes it.
  const wire = sent.map((m) => encodeValue(encodeStoreMessage(m)));
  return { sent, wire, errors };
}

const ENTRIES: [Data, Data][] = [
  [string('ascii'), string('x'.repeat(300 * KiB))],
  [string('utf8'), string('é😀'.repeat(20 * KiB))],
  [string('nan'), real(Number.NaN)],
  [string('neg-zero'), real(-0)],
  [count(7), set([string('a'), string('b')])],
  [string('table'), table([[string('k'), vector([count(1), string('v')])]])],
  [string('small'), string('v')],
];

function fill(backend: StoreBackend, entries: [Data, Data][]): void {
  backend.transaction(() => {
    for (const [key, value] of entries) backend.put({ key, value });
  });
}

describe('snapshots from SQLite send the stored bytes', () => {
  it('chunks are byte-for-byte those of the decoded entries, and round-trip', () => {
    const sqlite = openSqliteBackend();
    expect(sqlite.scanEncoded).toBeDefined();
    fill(sqlite, ENTRIES);
    const raw = run(sqlite);
    // The same store decoded into memory (the encoding path, in SQLite's key order).
    const memory = createMemoryBackend();
    fill(
      memory,
      sqlite.scan(undefined, 1000).entries.map((e) => [e.key, e.value]),
    );
    const encoded = run(memory);
    expect(raw.errors).toEqual([]);
    expect(raw.sent.map((m) => m.kind)).toEqual(encoded.sent.map((m) => m.kind));
    expect(raw.sent.filter((m) => m.kind === StoreMsg.SnapshotChunk).length).toBeGreaterThan(1);
    expect(raw.wire).toEqual(encoded.wire);
    // And the clone side gets the entries back.
    const received = raw.wire
      .map((b) => decodeStoreMessage(decodeValue(b)))
      .flatMap((m) => (m.kind === StoreMsg.SnapshotChunk ? m.entries : []));
    const stored = sqlite.scan(undefined, 1000).entries.map((e) => [e.key, e.value]);
    expect(received).toEqual(stored);
    sqlite.close();
  });

  it('counts the stored bytes against chunkBytes as encoding would', () => {
    const sqlite = openSqliteBackend();
    const entries: [Data, Data][] = Array.from({ length: 20 }, (_, i) => [
      string(`k${i}`),
      string(`${i}`.padEnd(10 * KiB, 'z')),
    ]);
    fill(sqlite, entries);
    const chunks = run(sqlite, 32 * KiB).sent.flatMap((m) => (m.kind === StoreMsg.SnapshotChunk ? [m] : []));
    expect(chunks.length).toBe(7); // 3 entries of ~10 KiB per 32 KiB chunk
    for (const c of chunks) {
      const bytes = c.entries.reduce((n, [k, v]) => n + encodedSize(k) + encodedSize(v), 0);
      expect(bytes).toBeLessThanOrEqual(32 * KiB);
    }
    sqlite.close();
  });

  it('a stored value that is not a value is reported and never sent', () => {
    const db = new Database(':memory:');
    const sqlite = openSqliteBackend({ database: db });
    fill(sqlite, [
      [string('a'), string('fine')],
      [string('b'), string('x'.repeat(100))],
      [string('c'), string('fine too')],
    ]);
    // Invalid UTF-8 (a lone continuation byte) after a long ASCII run, as a damaged file might hold.
    const bad = encodeValue(string('x'.repeat(100)));
    bad[90] = 0x80;
    db.prepare('UPDATE store SET value = ? WHERE key = ?').run(bad, encodeValue(string('b')));
    const { sent, wire, errors } = run(sqlite);
    expect(errors.map((e) => e.code)).toEqual(['backend_failure']);
    expect(errors[0]!.message).toMatch(/stored value cannot be decoded/);
    expect(sent.some((m) => m.kind === StoreMsg.SnapshotEnd)).toBe(false);
    for (const b of wire) expect(Buffer.from(b).includes(Buffer.from(bad))).toBe(false);
    sqlite.close();
    db.close();
  });

  it('a stored value beyond what peers accept fails the sync with value_too_large', () => {
    const db = new Database(':memory:');
    const sqlite = openSqliteBackend({ database: db });
    fill(sqlite, [[string('a'), string('fine')]]);
    // 70 nested vectors: well-formed, but deeper than a receiving decoder allows.
    let deep: Data = count(1);
    for (let i = 0; i < 70; i++) deep = vector([deep]);
    db.prepare('INSERT INTO store(key, value) VALUES (?, ?)').run(encodeValue(string('deep')), encodeValue(deep));
    const { sent, errors } = run(sqlite);
    expect(errors.map((e) => e.code)).toEqual(['value_too_large']);
    const failed = sent.find((m) => m.kind === StoreMsg.SyncFailed);
    expect(failed).toMatchObject({ code: 'value_too_large' });
    expect(sent.some((m) => m.kind === StoreMsg.SnapshotEnd)).toBe(false);
    sqlite.close();
    db.close();
  });
});

describe('pre-encoded values', () => {
  it('are spliced verbatim and measured by their length', () => {
    const inner = table([[string('k'), set([count(1), count(300)])]]);
    const bytes = encodeValue(inner);
    const outer: Data = { type: 'vector', elements: [string('a'), preEncoded(bytes), count(2)] };
    expect(encodeValue(outer)).toEqual(encodeValue(vector([string('a'), inner, count(2)])));
    expect(encodedSize(outer)).toBe(encodedSize(vector([string('a'), inner, count(2)])));
  });
});
