/**
 * The logging benchmark's in-process references: the ceiling — appending already formatted
 * conn.log lines to a file in batches with `fs.writeSync`, the least any logger must do — and the
 * file log writer alone (`createFileLogWriter`: TSV formatting and batched writes, no network), with
 * the TSV format's fast path and without it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { CONN_LOG, createTsvFormat, type Data, type LogFormat } from '../../src/index.js';
import { createFileLogWriter } from '../../src/node/index.js';

/**
 * Appends `lines` (each ending in a newline) to a fresh file at `path`, `batch` lines per
 * `writeSync`; returns the milliseconds the writes took (opening the file not included).
 */
export function appendLines(path: string, lines: readonly string[], batch: number): number {
  const fd = openSync(path, 'w');
  try {
    const t0 = performance.now();
    for (let i = 0; i < lines.length; i += batch) {
      const text = lines.slice(i, i + batch).join('');
      let done = 0;
      const buf = Buffer.from(text, 'utf8');
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    }
    return performance.now() - t0;
  } finally {
    closeSync(fd);
  }
}

/** Zeek TSV without its fast path: every line built as a string by `record`, as before `writeRecords`. */
function stringPathTsv(): LogFormat {
  const tsv = createTsvFormat();
  return {
    name: 'tsv',
    header: (s, at) => tsv.header(s, at),
    record: (s, r) => tsv.record(s, r),
    footer: (s, at) => tsv.footer(s, at),
  };
}

/**
 * Writes `records` to a new file log writer in `dir` (TSV), `batch` records per `write` as a logger
 * receives them, yielding to the event loop between batches so the writer flushes as it would in a
 * logger; resolves with the milliseconds until the last `flush()` resolved and the CPU time the
 * process spent meanwhile (all its threads, the file system's included). With `stringPath` the
 * TSV format lacks its fast path (`writeRecords`): lines are built as strings and then encoded.
 */
export async function writeWithFileWriter(
  dir: string,
  records: readonly Data[],
  batch: number,
  stringPath = false,
): Promise<{ ms: number; cpuMs: number }> {
  const errors: string[] = [];
  const writer = createFileLogWriter({
    dir,
    onError: (e) => errors.push(e.message),
    ...(stringPath ? { format: stringPathTsv() } : {}),
  });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < records.length; i += batch) {
      writer.write(CONN_LOG, records.slice(i, i + batch));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.flush();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (errors.length > 0) throw new Error(`file log writer failed: ${errors.join('; ')}`);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await writer.close();
  }
}
