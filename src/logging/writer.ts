/**
 * The log writer seam: where a logger puts the records it receives. One file per stream path
 * (`conn.log`), a header when a file opens, a footer when it closes, and rotation: the current file
 * is closed and renamed (`conn.2026-11-26-14-40-00.log`, Zeek's default) and the next record opens
 * a fresh file with a new header. The memory implementation here keeps every file as text; the
 * file implementation is `createFileLogWriter` in `isobroker/node`.
 */
import { ClosedError, ValueError } from '../errors.js';
import type { Data } from '../data/types.js';
import { resolveLogFormat, type LogFormat } from './format.js';
import { formatLogClock, formatLogDate, formatLogStamp, type LogTimeZone } from './text.js';
import type { LogStream } from './types.js';

/** Which batch of which sender a write carries (remote logging: one batch of a `LogRouter`). */
export interface LogBatchKey {
  /** The sending endpoint's id (batch numbers are per sender process). */
  readonly sender: string;
  readonly id: number;
}

/** Receives log records and keeps them (in files, in memory, …). */
export interface LogWriter {
  /**
   * Appends records (vectors of the stream's columns, e.g. from `toRecord`) to the stream's path.
   * The whole batch is formatted first: a malformed record throws `ValueError` and nothing of
   * the batch is written. Throws `ClosedError` after `close()`. `batch` names the remote batch the
   * records are: a writer that keeps a ledger (the file writer) remembers it across restarts.
   */
  write(stream: LogStream, records: readonly Data[], batch?: LogBatchKey): void;
  /**
   * Batches an earlier run of this writer wrote completely (from its ledger), so that a logger
   * restarted after a crash writes none of them twice. Absent when the writer keeps no ledger.
   */
  readonly recoveredBatches?: readonly LogBatchKey[];
  /** The sender will never send its batches numbered below `below` again: forget them. */
  forgetBatches?(sender: string, below: number): void;
  /** Resolves when everything written so far is stored (on disk for a file writer). */
  flush(): Promise<void>;
  /** Closes every open file with its footer and renames it; the next record opens a new file. */
  rotate?(): Promise<void>;
  /** Flushes, closes every file with its footer; further writes throw. */
  close(): Promise<void>;
}

/** What a rotated file is named from. */
export interface RotationInfo {
  /** The stream path (`conn`). */
  readonly path: string;
  /** When the file was opened and closed, ms since the epoch. */
  readonly openedAt: number;
  readonly closedAt: number;
  /** The file extension without the dot (`log`). */
  readonly extension: string;
  readonly timeZone: LogTimeZone;
}

/**
 * Zeek's default name of a rotated ASCII log: path, `.`, the open time as
 * `Log::default_rotation_date_format` (`%Y-%m-%d-%H-%M-%S`), `.log` —
 * `conn.2026-11-26-14-40-00.log` (Zeek's `Log::rotation_format_func` for the ASCII writer).
 */
export function zeekRotatedName(info: RotationInfo): string {
  return `${info.path}.${formatLogStamp(info.openedAt, info.timeZone)}.${info.extension}`;
}

/**
 * ZeekControl's archive name (its `make-archive-name`): a directory per open date, the open and
 * close times of day — `2026-11-26/conn.14:40:00-15:00:00.log`.
 */
export function zeekctlArchiveName(info: RotationInfo): string {
  const z = info.timeZone;
  return `${formatLogDate(info.openedAt, z)}/${info.path}.${formatLogClock(info.openedAt, z)}-${formatLogClock(info.closedAt, z)}.${info.extension}`;
}

/** Options shared by the writers. */
export interface LogWriterOptions {
  /** `tsv`, `json` or a custom `LogFormat`. @default 'tsv' */
  readonly format?: 'tsv' | 'json' | LogFormat;
  /** The clock (ms since the epoch) for `#open`/`#close` and rotated names. @default Date.now */
  readonly now?: () => number;
  /** Zone of the stamps in headers and rotated names (when `format` is a name). @default 'local' */
  readonly timeZone?: LogTimeZone;
  /** Names a rotated file (a `/` makes a subdirectory). @default zeekRotatedName */
  readonly rotatedName?: (info: RotationInfo) => string;
}

/** Defaults of `LogWriterOptions`. */
export const DEFAULT_LOG_WRITER_OPTIONS: Required<LogWriterOptions> = Object.freeze({
  format: 'tsv',
  now: () => Date.now(),
  timeZone: 'local',
  rotatedName: zeekRotatedName,
});

/** The columns a path's file was opened with: a record of another shape must not join it. */
export function streamShape(stream: LogStream): string {
  return stream.columns.map((c) => `${c.name}:${c.type}`).join('\t');
}

/** Formats a batch into lines (each ending in `\n`), all or nothing. */
export function formatBatch(format: LogFormat, stream: LogStream, records: readonly Data[]): string {
  if (!Array.isArray(records)) throw new ValueError('write takes an array of records');
  let text = '';
  for (const r of records) text += `${format.record(stream, r)}\n`;
  return text;
}

/** Throws `ValueError` when `stream` does not fit the file `path` was opened with. */
export function checkShape(path: string, opened: string, stream: LogStream): void {
  if (streamShape(stream) !== opened) {
    throw new ValueError(`stream ${stream.id} writes to path '${path}', whose open file has other columns`);
  }
}

/** A writer that keeps every file as text, for tests and demos. */
export interface MemoryLogWriter extends LogWriter {
  rotate(): Promise<void>;
  /** Paths written to, in order of first write. */
  paths(): string[];
  /** Every record line written to `path`, across rotations, without newlines. */
  lines(path: string): readonly string[];
  /**
   * The file `<path>.log`: header, records, and the footer once the writer closed; `''` when there
   * is none (never written, or rotated away and not written since).
   */
  text(path: string): string;
  /** Every file by name (`conn.log`, rotated names), as a log directory would hold them. */
  files(): ReadonlyMap<string, string>;
}

interface MemoryFile {
  readonly stream: LogStream;
  readonly shape: string;
  readonly openedAt: number;
  text: string;
}

/** A `LogWriter` that keeps its files in memory. */
export function createMemoryLogWriter(options: LogWriterOptions = {}): MemoryLogWriter {
  const now = options.now ?? DEFAULT_LOG_WRITER_OPTIONS.now;
  const timeZone = options.timeZone ?? DEFAULT_LOG_WRITER_OPTIONS.timeZone;
  const rotatedName = options.rotatedName ?? DEFAULT_LOG_WRITER_OPTIONS.rotatedName;
  const format = resolveLogFormat(options.format ?? DEFAULT_LOG_WRITER_OPTIONS.format, timeZone);
  const open = new Map<string, MemoryFile>();
  const files = new Map<string, string>();
  const lines = new Map<string, string[]>();
  let closed = false;

  function closeFile(path: string, f: MemoryFile): number {
    const at = now();
    f.text += format.footer(f.stream, at);
    files.set(`${path}.log`, f.text);
    open.delete(path);
    return at;
  }

  return {
    write(stream, records) {
      if (closed) throw new ClosedError('the log writer is closed');
      const text = formatBatch(format, stream, records);
      let f = open.get(stream.path);
      if (f === undefined) {
        const openedAt = now();
        f = { stream, shape: streamShape(stream), openedAt, text: format.header(stream, openedAt) };
        open.set(stream.path, f);
      } else if (f.stream !== stream) checkShape(stream.path, f.shape, stream);
      f.text += text;
      files.set(`${stream.path}.log`, f.text);
      let list = lines.get(stream.path);
      if (list === undefined) lines.set(stream.path, (list = []));
      if (text !== '') list.push(...text.slice(0, -1).split('\n'));
    },
    flush: () => Promise.resolve(),
    rotate() {
      for (const [path, f] of [...open]) {
        const closedAt = closeFile(path, f);
        const name = rotatedName({ path, openedAt: f.openedAt, closedAt, extension: 'log', timeZone });
        files.set(name, f.text);
        files.delete(`${path}.log`);
      }
      return Promise.resolve();
    },
    close() {
      if (!closed) {
        closed = true;
        for (const [path, f] of [...open]) closeFile(path, f);
      }
      return Promise.resolve();
    },
    paths: () => [...lines.keys()],
    lines: (path) => lines.get(path) ?? [],
    text: (path) => files.get(`${path}.log`) ?? '',
    files: () => new Map(files),
  };
}
