/**
 * A log writer wrapper for loggers: what is written also goes out as a live tail on
 * `isobroker/logtail/<path>` (values formatted as in the TSV file, with each column's Zeek type),
 * for the dashboard. The event's layout is in `shapes.ts`.
 *
 * The tail costs the logger nothing while nobody watches it (no subscriber of the path's tail
 * topic is reachable: nothing is formatted), and at most `TAIL_ROWS_PER_SECOND` rows per path
 * while someone does — a page shows a few rows per second, not a logger's full rate; the newest
 * rows of a batch are the ones kept.
 */
import type { Data, Endpoint, LogBatchKey, LogStream, LogWriter } from '../../src/index.js';
import { formatLogValue } from '../../src/internal.js';
import { logTailEvent, logTailTopic } from './shapes.js';

/** Rows per second and per log path that the tail publishes at most. */
export const TAIL_ROWS_PER_SECOND = 200;

export function tailingWriter(inner: LogWriter, ep: Endpoint, now: () => number = Date.now): LogWriter {
  /** Per path: the start of the current one-second window and the rows published in it. */
  const windows = new Map<string, { start: number; rows: number }>();
  return {
    ...inner,
    write(stream: LogStream, records: readonly Data[], batch?: LogBatchKey): void {
      inner.write(stream, records, batch);
      if (ep.isClosed || records.length === 0) return;
      const topic = logTailTopic(stream.path);
      if (!ep.hasRoute(topic)) return;
      const t = now();
      let w = windows.get(stream.path);
      if (w === undefined || t - w.start >= 1000) {
        w = { start: t, rows: 0 };
        windows.set(stream.path, w);
      }
      const room = TAIL_ROWS_PER_SECOND - w.rows;
      if (room <= 0) return;
      const kept = records.length <= room ? records : records.slice(records.length - room);
      w.rows += kept.length;
      const rows = kept.map((r) =>
        r.type === 'vector' ? stream.columns.map((c, i) => formatLogValue(c, r.elements[i]!)) : [],
      );
      ep.publish(
        topic,
        logTailEvent({
          path: stream.path,
          fields: stream.columns.map((c) => c.name),
          types: stream.columns.map((c) => c.type),
          rows,
        }),
      );
    },
    flush: () => inner.flush(),
    close: () => inner.close(),
    ...(inner.rotate ? { rotate: () => inner.rotate!() } : {}),
    ...(inner.forgetBatches
      ? { forgetBatches: (sender: string, below: number) => inner.forgetBatches!(sender, below) }
      : {}),
  };
}
