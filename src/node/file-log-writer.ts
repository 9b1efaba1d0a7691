/**
 * The file log writer: Zeek's ASCII writer on disk. One file per stream path in `dir`
 * (`conn.log`), created with its header on the first record; records are buffered and written in
 * batches — one `write` per file per flush, on the next turn of the event loop (or after
 * `flushDelay`) — and the footer (`#close`) is written when the file closes.
 *
 * Rotation (`rotate()`, or every `rotationInterval`, aligned to multiples of it since the epoch):
 * each open file gets its footer, is closed and renamed (Zeek's default
 * `conn.2026-11-26-14-40-00.log`, see `rotatedName`); the next record to the path opens a fresh
 * file with a new header, as Zeek does. Records written while a rotation is under way go to the
 * fresh file. A file that already exists when a path is opened (left by an earlier run) is
 * rotated away first instead of being truncated (Zeek truncates unless
 * `LogAscii::enable_leftover_log_rotation` is set).
 *
 * A leftover file gets what a crash kept from it: a partial last line is cut and the missing
 * footer (`#close`, stamped with the file's last change) is added before it is rotated away.
 *
 * The ledger (`.isobroker-batches` in `dir`) makes remote logging exact across a logger's crash:
 * before the records of a remote batch (`write(stream, records, batch)`) reach the file, the
 * ledger gets the batch's sender, number and byte range in the file. A writer created on a
 * directory with a ledger reads it: a batch whose bytes are all in the file was written
 * (`recoveredBatches`; its sender's resend is not written again), a batch cut short by the crash
 * is cut from the file (its sender sends it again). The ledger is compacted at start and whenever
 * it grows past 1 MiB, keeping the batches senders may still send (`forgetBatches`).
 *
 * All I/O runs one job at a time in order. A failed write keeps its data for the next flush;
 * every failure goes to `onError`, and the `flush()` / `rotate()` / `close()` that met it rejects.
 */
import { readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { ClosedError, IsobrokerError, ValueError } from '../errors.js';
import { LogBytes } from '../logging/bytes.js';
import { resolveLogFormat } from '../logging/format.js';
import type { LogStream } from '../logging/types.js';
import type { Data } from '../data/types.js';
import {
  DEFAULT_LOG_WRITER_OPTIONS,
  checkShape,
  formatBatch,
  streamShape,
  type LogBatchKey,
  type LogWriter,
  type LogWriterOptions,
  type RotationInfo,
} from '../logging/writer.js';

export interface FileLogWriterOptions extends LogWriterOptions {
  /** Directory of the log files; created when missing. @default '.' */
  readonly dir?: string;
  /** Rotate every this many ms (aligned to multiples since the epoch); 0 never. @default 0 */
  readonly rotationInterval?: number;
  /** Wait this many ms after a write before flushing, to batch more. @default 0 (next turn) */
  readonly flushDelay?: number;
  /**
   * `fsync` on every flush, so `flush()` resolves only once the data survives a crash; without
   * it `flush()` resolves once the operating system has the data.
   * @default false
   */
  readonly durable?: boolean;
  /** Receives every I/O failure (code `write_failed`). @default DEFAULT_ON_LOG_WRITER_ERROR */
  readonly onError?: (error: IsobrokerError) => void;
}

/** Default `onError`: print the failure (a lost log record must never pass unnoticed). */
export const DEFAULT_ON_LOG_WRITER_ERROR = (error: IsobrokerError): void => {
  console.error(error);
};

export const DEFAULT_FILE_LOG_WRITER_OPTIONS: Required<FileLogWriterOptions> = Object.freeze({
  ...DEFAULT_LOG_WRITER_OPTIONS,
  dir: '.',
  rotationInterval: 0,
  flushDelay: 0,
  durable: false,
  onError: DEFAULT_ON_LOG_WRITER_ERROR,
});

/** A `LogWriter` over files. */
export interface FileLogWriter extends LogWriter {
  rotate(): Promise<void>;
  /** The directory the files are in. */
  readonly dir: string;
}

interface Chunk {
  /** UTF-8 text: a header, or the lines of one `write`. */
  readonly bytes: Uint8Array;
  /** The remote batch these records are (for the ledger). */
  readonly batch?: LogBatchKey;
}

interface OpenFile {
  readonly path: string;
  readonly file: string;
  readonly stream: LogStream;
  readonly shape: string;
  readonly openedAt: number;
  /** Text not yet handed to the disk. */
  pending: Chunk[];
  /** Bytes in the file on disk (header included). */
  written: number;
  /** The ledger holds byte ranges of this file. */
  inLedger: boolean;
  /** Bytes a failed write left over; written before `pending`. */
  carry: Uint8Array | undefined;
  handle: FileHandle | undefined;
}

const EXTENSION = 'log';
/** The ledger's name in the log directory. */
export const LOG_LEDGER_FILE = '.isobroker-batches';
/** The ledger is compacted when it grows past this. */
const LEDGER_COMPACT_BYTES = 1024 * 1024;

const esc = (s: string): string => encodeURIComponent(s);
const unesc = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Batch numbers by sender. */
type BatchSet = Map<string, Set<number>>;

function addBatch(set: BatchSet, sender: string, id: number): void {
  let ids = set.get(sender);
  if (ids === undefined) set.set(sender, (ids = new Set()));
  ids.add(id);
}

function ledgerText(set: BatchSet): string {
  let text = '';
  for (const [sender, ids] of set) for (const id of ids) text += `d\t${esc(sender)}\t${id}\n`;
  return text;
}

/**
 * Reads the ledger a previous run left in `dir`: the batches it wrote completely. Cuts a batch
 * the crash left partly written out of its file, and rewrites the ledger compacted.
 */
function recoverLedger(dir: string): BatchSet {
  const done: BatchSet = new Map();
  const ledger = join(dir, LOG_LEDGER_FILE);
  let text: string;
  try {
    text = readFileSync(ledger, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return done; // no ledger (yet): nothing to recover
    throw e;
  }
  /** Byte ranges in each path's current file since it was last closed. */
  const ranges = new Map<string, { start: number; end: number; sender: string; id: number }[]>();
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'd' && f.length === 3) addBatch(done, unesc(f[1]!), Number(f[2]));
    else if (f[0] === 'w' && f.length === 6) {
      const path = unesc(f[1]!);
      let list = ranges.get(path);
      if (list === undefined) ranges.set(path, (list = []));
      list.push({ start: Number(f[2]), end: Number(f[3]), sender: unesc(f[4]!), id: Number(f[5]) });
    } else if (f[0] === 'c' && f.length === 2) {
      // The file was complete when closed: every batch in it was written.
      const path = unesc(f[1]!);
      for (const r of ranges.get(path) ?? []) addBatch(done, r.sender, r.id);
      ranges.delete(path);
    }
    // Anything else (a line cut short by the crash) says nothing.
  }
  for (const [path, list] of ranges) {
    const file = join(dir, `${path}.${EXTENSION}`);
    let size = 0;
    try {
      size = statSync(file).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let cut = Number.POSITIVE_INFINITY;
    for (const r of list) {
      if (r.end <= size) addBatch(done, r.sender, r.id);
      else cut = Math.min(cut, r.start);
    }
    if (cut < size) truncateSync(file, cut);
  }
  writeFileSync(`${ledger}.tmp`, ledgerText(done));
  renameSync(`${ledger}.tmp`, ledger);
  return done;
}

/** Creates a writer of Zeek ASCII logs (TSV or JSON lines) in `options.dir`. */
export function createFileLogWriter(options: FileLogWriterOptions = {}): FileLogWriter {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FileLogWriterOptions;
  const o: Required<FileLogWriterOptions> = { ...DEFAULT_FILE_LOG_WRITER_OPTIONS, ...given };
  for (const key of ['rotationInterval', 'flushDelay'] as const) {
    if (typeof o[key] !== 'number' || !(o[key] >= 0))
      throw new ValueError(`${key} must be a number of ms >= 0, got ${String(o[key])}`);
  }
  const format = resolveLogFormat(o.format, o.timeZone);
  const dir = o.dir;
  /** The open file of each path. */
  const files = new Map<string, OpenFile>();
  /** Files rotated away, in order, until closed and renamed. */
  const rotated: OpenFile[] = [];
  let tail: Promise<void> = Promise.resolve();
  let closed = false;
  let dirReady = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let rotationTimer: ReturnType<typeof setTimeout> | undefined;
  /** Remote batches written (from the ledger of an earlier run, then this run's). */
  const batches = recoverLedger(dir);
  const recoveredBatches: LogBatchKey[] = [];
  for (const [sender, ids] of batches) for (const id of ids) recoveredBatches.push({ sender, id });
  const ledgerFile = join(dir, LOG_LEDGER_FILE);
  let ledger: FileHandle | undefined;
  let ledgerBytes = 0;

  async function appendLedger(text: string): Promise<void> {
    if (!dirReady) {
      await mkdir(dir, { recursive: true });
      dirReady = true;
    }
    ledger ??= await open(ledgerFile, 'a');
    const buf = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < buf.length) done += (await ledger.write(buf, done, buf.length - done)).bytesWritten;
    ledgerBytes += buf.length;
  }

  /** Rewrites the ledger with just the batches remembered (every one of them on disk). */
  async function compactLedger(): Promise<void> {
    if (ledgerBytes < LEDGER_COMPACT_BYTES) return;
    for (const f of [...files.values(), ...rotated]) if (f.carry !== undefined || f.pending.length > 0) return;
    const text = ledgerText(batches);
    const tmp = await open(`${ledgerFile}.tmp`, 'w');
    try {
      await tmp.writeFile(text);
    } finally {
      await tmp.close();
    }
    await ledger?.close();
    ledger = undefined;
    await rename(`${ledgerFile}.tmp`, ledgerFile);
    for (const f of files.values()) f.inLedger = false;
    ledgerBytes = Buffer.byteLength(text);
  }

  function report(e: unknown, what: string): IsobrokerError {
    const error =
      e instanceof IsobrokerError
        ? e
        : new IsobrokerError('write_failed', `log writer: ${what}: ${String(e)}`, { cause: e });
    try {
      o.onError(error);
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown;
      });
    }
    return error;
  }

  /** Runs `job` after every job before it; the returned promise carries its failure. */
  function run(job: () => Promise<void>): Promise<void> {
    const p = tail.then(job);
    tail = p.catch(() => undefined);
    return p;
  }

  async function exists(file: string): Promise<boolean> {
    try {
      await stat(file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Renames `from` to the rotated name, adding `-1`, `-2`, … before the extension if taken. */
  async function moveAside(from: string, info: RotationInfo): Promise<void> {
    const name = join(dir, o.rotatedName(info));
    await mkdir(dirname(name), { recursive: true });
    const ext = extname(name);
    const stem = name.slice(0, name.length - ext.length);
    let target = name;
    for (let n = 1; await exists(target); n++) target = `${stem}-${n}${ext}`;
    await rename(from, target);
  }

  /**
   * Completes a file an earlier run left behind (killed while writing): cuts a partial last line
   * and adds the footer it is missing.
   */
  async function completeLeftover(f: OpenFile): Promise<void> {
    const h = await open(f.file, 'r+');
    try {
      const st = await h.stat();
      let size = st.size;
      // Only a file that starts as this format's files do (`#separator`) is completed.
      const header = format.header(f.stream, st.mtimeMs);
      const start = Buffer.from(header.split(/[\t\n ]/)[0]!, 'utf8');
      const head = Buffer.alloc(start.length);
      await h.read(head, 0, head.length, 0);
      if (start.length === 0 || !head.equals(start)) return;
      const tailLength = Math.min(size, 64 * 1024);
      const tail = Buffer.alloc(tailLength);
      await h.read(tail, 0, tailLength, size - tailLength);
      const nl = tail.lastIndexOf(0x0a);
      if (tailLength > 0 && nl !== tailLength - 1) {
        size -= tailLength - (nl + 1);
        await h.truncate(size);
      }
      const footer = format.footer(f.stream, st.mtimeMs);
      const mark = footer.split(/[\t\n ]/)[0]!;
      const lastLine = tail.subarray(0, Math.max(nl, 0)).toString('utf8').split('\n').pop() ?? '';
      if (footer !== '' && size > 0 && !lastLine.startsWith(mark)) await h.write(footer, size);
    } finally {
      await h.close();
    }
  }

  async function openFile(f: OpenFile): Promise<FileHandle> {
    if (!dirReady) {
      await mkdir(dir, { recursive: true });
      dirReady = true;
    }
    try {
      const st = await stat(f.file);
      // An empty leftover (a crash right after it was created) is simply reused.
      if (st.size === 0) return open(f.file, 'w');
      await completeLeftover(f);
      const info = {
        path: f.path,
        openedAt: st.birthtimeMs || st.mtimeMs,
        closedAt: st.mtimeMs,
        extension: EXTENSION,
        timeZone: o.timeZone,
      };
      await moveAside(f.file, info);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return open(f.file, 'w');
  }

  /**
   * Writes what `f` holds; on failure keeps the unwritten bytes for the next attempt. The byte
   * ranges of remote batches go to the ledger first.
   */
  async function writeOut(f: OpenFile, extra = ''): Promise<void> {
    if (f.pending.length === 0 && f.carry === undefined && extra === '') return;
    if (f.handle === undefined) {
      f.handle = await openFile(f);
      f.written = 0;
      // The header goes in at once when the ledger is written first: a crash in between must
      // not leave an empty file.
      const head = f.pending[0];
      if (
        head !== undefined &&
        head.batch === undefined &&
        f.carry === undefined &&
        f.pending.some((c) => c.batch !== undefined)
      ) {
        f.pending.shift();
        f.carry = head.bytes;
        const n = (await f.handle.write(f.carry, 0, f.carry.length)).bytesWritten;
        f.written += n;
        f.carry = n === f.carry.length ? undefined : f.carry.subarray(n);
      }
    }
    // Taken now: records written while the ledger is being written wait for the next round.
    const chunks = f.pending;
    f.pending = [];
    let offset = f.written + (f.carry?.length ?? 0);
    let entries = '';
    for (const c of chunks) {
      const n = c.bytes.length;
      if (c.batch !== undefined)
        entries += `w\t${esc(f.path)}\t${offset}\t${offset + n}\t${esc(c.batch.sender)}\t${c.batch.id}\n`;
      offset += n;
    }
    if (entries !== '') {
      try {
        await appendLedger(entries);
      } catch (e) {
        f.pending = chunks.concat(f.pending); // the records stay pending
        throw e;
      }
      f.inLedger = true;
      for (const c of chunks) if (c.batch !== undefined) addBatch(batches, c.batch.sender, c.batch.id);
    }
    const parts = chunks.map((c) => c.bytes);
    if (extra !== '') parts.push(Buffer.from(extra, 'utf8'));
    if (f.carry !== undefined) parts.unshift(f.carry);
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    f.carry = undefined;
    let done = 0;
    try {
      while (done < buf.length) done += (await f.handle.write(buf, done, buf.length - done)).bytesWritten;
    } catch (e) {
      f.carry = buf.subarray(done);
      throw e;
    } finally {
      f.written += done;
    }
  }

  /** Collects the failures of one job: each goes to `onError`, the first is the job's. */
  function failures(): { fail(e: unknown, what: string): void; settle(): void } {
    let first: IsobrokerError | undefined;
    return {
      fail(e, what) {
        const error = report(e, what);
        first ??= error;
      },
      settle() {
        if (first !== undefined) throw first;
      },
    };
  }

  /**
   * Writes the rest of `f` and its footer, closes it and, when rotating, renames it. False when
   * its data could not be written: the file then stays as it is, to be tried again.
   */
  async function finish(f: OpenFile, rotating: boolean, fail: (e: unknown, what: string) => void): Promise<boolean> {
    try {
      await writeOut(f);
    } catch (e) {
      fail(e, `writing ${f.file}`);
      return false;
    }
    const closedAt = o.now();
    try {
      // Every batch in the file is on disk: the ledger no longer needs their byte ranges.
      if (f.inLedger) await appendLedger(`c\t${esc(f.path)}\n`);
      f.inLedger = false;
    } catch (e) {
      fail(e, `writing ${ledgerFile}`);
    }
    try {
      await writeOut(f, format.footer(f.stream, closedAt));
      if (o.durable) await f.handle?.sync();
    } catch (e) {
      f.carry = undefined; // a footer is not worth a broken file
      fail(e, `writing the footer of ${f.file}`);
    }
    try {
      await f.handle?.close();
    } catch (e) {
      fail(e, `closing ${f.file}`);
    }
    f.handle = undefined;
    if (rotating) {
      try {
        await moveAside(f.file, {
          path: f.path,
          openedAt: f.openedAt,
          closedAt,
          extension: EXTENSION,
          timeZone: o.timeZone,
        });
      } catch (e) {
        fail(e, `renaming ${f.file}`); // opening the path again moves it aside as a leftover
      }
    }
    return true;
  }

  /** Finishes the rotated files in order; returns the paths still held by one that failed. */
  async function finishRotated(fail: (e: unknown, what: string) => void): Promise<ReadonlySet<string>> {
    const blocked = new Set<string>();
    for (const f of [...rotated]) {
      if (blocked.has(f.path)) continue;
      if (await finish(f, true, fail)) rotated.splice(rotated.indexOf(f), 1);
      else blocked.add(f.path);
    }
    return blocked;
  }

  async function flushAll(): Promise<void> {
    const job = failures();
    const blocked = await finishRotated(job.fail);
    for (const f of [...files.values()]) {
      // A file opens only once the one rotated away before it has given up the name.
      if (blocked.has(f.path) || rotated.some((r) => r.path === f.path)) continue;
      try {
        await writeOut(f);
        if (o.durable && f.handle !== undefined) await f.handle.sync();
      } catch (e) {
        job.fail(e, `writing ${f.file}`);
      }
    }
    try {
      await compactLedger();
    } catch (e) {
      job.fail(e, `compacting ${ledgerFile}`);
    }
    job.settle();
  }

  async function closeAll(): Promise<void> {
    const job = failures();
    await finishRotated(job.fail);
    for (const f of [...files.values()]) if (await finish(f, false, job.fail)) files.delete(f.path);
    try {
      await ledger?.close();
    } catch (e) {
      job.fail(e, `closing ${ledgerFile}`);
    }
    ledger = undefined;
    job.settle();
  }

  /** Hands every open file to the next job to close and rename; new records open new files. */
  function rotateNow(): Promise<void> {
    rotated.push(...files.values());
    files.clear();
    return run(async () => {
      const job = failures();
      await finishRotated(job.fail);
      job.settle();
    });
  }

  function newFile(stream: LogStream, path: string): OpenFile {
    const openedAt = o.now();
    return {
      path,
      file: join(dir, `${path}.${EXTENSION}`),
      stream,
      shape: streamShape(stream),
      openedAt,
      pending: [{ bytes: Buffer.from(format.header(stream, openedAt), 'utf8') }],
      written: 0,
      inLedger: false,
      carry: undefined,
      handle: undefined,
    };
  }

  function scheduleFlush(): void {
    if (flushTimer !== undefined) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      flush().catch(() => undefined); // reported
    }, o.flushDelay);
  }

  function scheduleRotation(): void {
    const every = o.rotationInterval;
    if (!(every > 0) || closed) return;
    const delay = every - (o.now() % every);
    rotationTimer = setTimeout(() => {
      rotationTimer = undefined;
      if (closed) return;
      rotateNow().catch(() => undefined); // reported
      scheduleRotation();
    }, delay);
    rotationTimer.unref();
  }
  scheduleRotation();

  /** A flush queued behind other jobs and not yet started: later callers share it. */
  let queuedFlush: Promise<void> | undefined;
  function flush(): Promise<void> {
    if (queuedFlush !== undefined) return queuedFlush;
    const p = run(() => {
      queuedFlush = undefined;
      return flushAll();
    });
    queuedFlush = p;
    return p;
  }

  /** Where batches are formatted (formats with a fast path), reused from write to write. */
  const scratch = new LogBytes();

  /** The lines of `records` as UTF-8 (all or nothing). */
  function formatRecords(stream: LogStream, records: readonly Data[]): Uint8Array {
    if (format.writeRecords === undefined) return Buffer.from(formatBatch(format, stream, records), 'utf8');
    if (!Array.isArray(records)) throw new ValueError('write takes an array of records');
    scratch.clear();
    format.writeRecords(stream, records, scratch);
    const bytes = scratch.bytes().slice();
    // A huge batch should not keep its buffer for good.
    if (scratch.buf.length > 4 * 1024 * 1024) scratch.buf = new Uint8Array(64 * 1024);
    return bytes;
  }

  return {
    dir,
    recoveredBatches,
    forgetBatches(sender, below) {
      const ids = batches.get(sender);
      if (ids === undefined) return;
      for (const id of ids) if (id < below) ids.delete(id);
      if (ids.size === 0) batches.delete(sender);
    },
    write(stream, records, batch) {
      if (closed) throw new ClosedError('the log writer is closed');
      const bytes = formatRecords(stream, records);
      let f = files.get(stream.path);
      if (f !== undefined && f.stream !== stream) checkShape(stream.path, f.shape, stream);
      if (bytes.length === 0) return;
      if (f === undefined) files.set(stream.path, (f = newFile(stream, stream.path)));
      f.pending.push(batch === undefined ? { bytes } : { bytes, batch: { sender: batch.sender, id: batch.id } });
      scheduleFlush();
    },
    flush,
    rotate() {
      if (closed) return Promise.reject(new ClosedError('the log writer is closed'));
      return rotateNow();
    },
    close() {
      if (closed) return run(() => Promise.resolve());
      closed = true;
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      if (rotationTimer !== undefined) clearTimeout(rotationTimer);
      flushTimer = rotationTimer = undefined;
      return run(closeAll);
    },
  };
}
