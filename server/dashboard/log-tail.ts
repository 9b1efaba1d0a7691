/**
 * A log writer wrapper for loggers: everything written also goes out as a live tail on
 * `isobroker/logtail/<path>` (values formatted as in the TSV file, with each column's Zeek type),
 * for the dashboard. The event's layout is in `shapes.ts`.
 */
import type { Data, Endpoint, LogBatchKey, LogStream, LogWriter } from '../../src/index.js';
import { formatLogValue } from '../../src/internal.js';
import { logTailEvent, logTailTopic } from './shapes.js';

export function tailingWriter(inner: LogWriter, ep: Endpoint): LogWriter {
  return {
    ...inner,
    write(stream: LogStream, records: readonly Data[], batch?: LogBatchKey): void {
      inner.write(stream, records, batch);
      if (ep.isClosed || records.length === 0) return;
      const rows = records.map((r) =>
        r.type === 'vector' ? stream.columns.map((c, i) => formatLogValue(c, r.elements[i]!)) : [],
      );
      ep.publish(
        logTailTopic(stream.path),
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
