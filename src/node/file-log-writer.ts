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
 * All I/O runs one job at a time in order. A failed write keeps its data for the next flush;
 * every failure goes to `onError`, and the `flush()` / `rotate()` / `close()` that met it rejects.
 */
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { ClosedError, IsobrokerError } from '../errors.js';
import { resolveLogFormat } from '../cluster/log-format.js';
import type { LogStream } from '../cluster/log-types.js';
import {
  DEFAULT_LOG_WRITER_OPTIONS,
  checkShape,
  formatBatch,
  streamShape,
  type LogWriter,
  type LogWriterOptions,
  type RotationInfo,
} from '../cluster/log-writer.js';

export interface FileLogWriterOptions extends LogWriterOptions {
  /** Directory of the log files; created when missing. @default '.' */
  readonly dir?: string;
  /** Rotate every this many ms (aligned to multiples since the epoch); 0 never. @default 0 */
  readonly rotationInterval?: number;
  /** Wait this many ms after a write before flushing, to batch more. @default 0 (next turn) */
  readonly flushDelay?: number;
  /** `fsync` on every flush, so `flush()` resolves only when the data survives a crash. @default false */
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

interface OpenFile {
  readonly path: string;
  readonly file: string;
  readonly stream: LogStream;
  readonly shape: string;
  readonly openedAt: number;
  /** Text not yet handed to the disk. */
  pending: string[];
  /** Bytes a failed write left over; written before `pending`. */
  carry: Buffer | undefined;
  handle: FileHandle | undefined;
}

const EXTENSION = 'log';

/** Creates a writer of Zeek ASCII logs (TSV or JSON lines) in `options.dir`. */
export function createFileLogWriter(options: FileLogWriterOptions = {}): FileLogWriter {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FileLogWriterOptions;
  const o: Required<FileLogWriterOptions> = { ...DEFAULT_FILE_LOG_WRITER_OPTIONS, ...given };
  const format = resolveLogFormat(o.format, o.timeZone);
  const dir = o.dir;
  const files = new Map<string, OpenFile>();
  let tail: Promise<void> = Promise.resolve();
  let closed = false;
  let dirReady = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let rotationTimer: ReturnType<typeof setTimeout> | undefined;

  function report(e: unknown, what: string): IsobrokerError {
    const error = e instanceof IsobrokerError ? e : new IsobrokerError('write_failed', `log writer: ${what}: ${String(e)}`, { cause: e });
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

  async function openFile(f: OpenFile): Promise<FileHandle> {
    if (!dirReady) {
      await mkdir(dir, { recursive: true });
      dirReady = true;
    }
    try {
      const st = await stat(f.file);
      const info = { path: f.path, openedAt: st.birthtimeMs || st.mtimeMs, closedAt: st.mtimeMs, extension: EXTENSION, timeZone: o.timeZone };
      await moveAside(f.file, info);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return open(f.file, 'w');
  }

  /** Writes what `f` holds; on failure keeps the unwritten bytes for the next attempt. */
  async function writeOut(f: OpenFile, extra = ''): Promise<void> {
    if (f.pending.length === 0 && f.carry === undefined && extra === '') return;
    f.handle ??= await openFile(f);
    const text = f.pending.join('') + extra;
    f.pending = [];
    const fresh = Buffer.from(text, 'utf8');
    const buf = f.carry === undefined ? fresh : Buffer.concat([f.carry, fresh]);
    f.carry = undefined;
    let done = 0;
    try {
      while (done < buf.length) done += (await f.handle.write(buf, done, buf.length - done)).bytesWritten;
    } catch (e) {
      f.carry = buf.subarray(done);
      throw e;
    }
  }

  async function flushAll(): Promise<void> {
    let failure: IsobrokerError | undefined;
    for (const f of [...files.values()]) {
      try {
        await writeOut(f);
        if (o.durable && f.handle !== undefined) await f.handle.sync();
      } catch (e) {
        failure ??= report(e, `writing ${f.file}`);
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Makes `f` the past: records written since its footer start the path's next file. */
  function retire(f: OpenFile): void {
    files.delete(f.path);
    if (f.pending.length === 0) return;
    const next = newFile(f.stream, f.path);
    next.pending.push(...f.pending);
    files.set(f.path, next);
  }

  /** Writes the rest and the footer, closes and (when rotating) renames every open file. */
  async function closeAll(rotating: boolean): Promise<void> {
    let failure: IsobrokerError | undefined;
    const fail = (e: unknown, what: string): void => {
      const error = report(e, `${what} ${f.file}`);
      failure ??= error;
    };
    let f: OpenFile;
    for (f of [...files.values()]) {
      try {
        await writeOut(f);
      } catch (e) {
        fail(e, 'writing'); // the file stays open with its data; the next flush or rotation retries
        continue;
      }
      const closedAt = o.now();
      try {
        await writeOut(f, format.footer(f.stream, closedAt));
        if (o.durable) await f.handle?.sync();
      } catch (e) {
        f.carry = undefined; // a footer is not worth a broken file
        fail(e, 'writing the footer of');
      }
      try {
        await f.handle?.close();
      } catch (e) {
        fail(e, 'closing');
      }
      f.handle = undefined;
      retire(f);
      if (!rotating) continue;
      try {
        await moveAside(f.file, { path: f.path, openedAt: f.openedAt, closedAt, extension: EXTENSION, timeZone: o.timeZone });
      } catch (e) {
        fail(e, 'renaming'); // opening the path again moves it aside as a leftover
      }
    }
    if (failure !== undefined) throw failure;
  }

  function newFile(stream: LogStream, path: string): OpenFile {
    const openedAt = o.now();
    return {
      path,
      file: join(dir, `${path}.${EXTENSION}`),
      stream,
      shape: streamShape(stream),
      openedAt,
      pending: [format.header(stream, openedAt)],
      carry: undefined,
      handle: undefined,
    };
  }

  function scheduleFlush(): void {
    if (flushTimer !== undefined) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      run(flushAll).catch(() => undefined); // reported
    }, o.flushDelay);
  }

  function scheduleRotation(): void {
    const every = o.rotationInterval;
    if (!(every > 0) || closed) return;
    const delay = every - (o.now() % every);
    rotationTimer = setTimeout(() => {
      rotationTimer = undefined;
      if (closed) return;
      run(() => closeAll(true)).catch(() => undefined); // reported
      scheduleRotation();
    }, delay);
    rotationTimer.unref();
  }
  scheduleRotation();

  return {
    dir,
    write(stream, records) {
      if (closed) throw new ClosedError('the log writer is closed');
      const text = formatBatch(format, stream, records);
      let f = files.get(stream.path);
      if (f !== undefined) checkShape(stream.path, f.shape, stream);
      if (text === '') return;
      if (f === undefined) files.set(stream.path, (f = newFile(stream, stream.path)));
      f.pending.push(text);
      scheduleFlush();
    },
    flush: () => run(flushAll),
    rotate() {
      if (closed) return Promise.reject(new ClosedError('the log writer is closed'));
      return run(() => closeAll(true));
    },
    close() {
      if (closed) return run(() => Promise.resolve());
      closed = true;
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      if (rotationTimer !== undefined) clearTimeout(rotationTimer);
      flushTimer = rotationTimer = undefined;
      return run(() => closeAll(false));
    },
  };
}
