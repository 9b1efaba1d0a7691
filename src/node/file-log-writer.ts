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
import { ClosedError, IsobrokerError, ValueError } from '../errors.js';
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

  async function openFile(f: OpenFile): Promise<FileHandle> {
    if (!dirReady) {
      await mkdir(dir, { recursive: true });
      dirReady = true;
    }
    try {
      const st = await stat(f.file);
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
    job.settle();
  }

  async function closeAll(): Promise<void> {
    const job = failures();
    await finishRotated(job.fail);
    for (const f of [...files.values()]) if (await finish(f, false, job.fail)) files.delete(f.path);
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
      rotateNow().catch(() => undefined); // reported
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
      if (f !== undefined && f.stream !== stream) checkShape(stream.path, f.shape, stream);
      if (text === '') return;
      if (f === undefined) files.set(stream.path, (f = newFile(stream, stream.path)));
      f.pending.push(text);
      scheduleFlush();
    },
    flush: () => run(flushAll),
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
