/**
 * A log writer wrapper for loggers: everything written also goes out as a live tail on
 * `isobroker/logtail/<path>` (values formatted as in the TSV file), for the dashboard.
 */
import {
  makeEvent,
  string,
  vector,
  type Data,
  type Endpoint,
  type LogBatchKey,
  type LogStream,
  type LogWriter,
} from '../../src/index.js';
import { formatLogValue } from '../../src/internal.js';

export const LOG_TAIL_EVENT = 'isobroker::log_tail';
export const logTailTopic = (path: string): string => `isobroker/logtail/${path}`;

export function tailingWriter(inner: LogWriter, ep: Endpoint): LogWriter {
  return {
    ...inner,
    write(stream: LogStream, records: readonly Data[], batch?: LogBatchKey): void {
      inner.write(stream, records, batch);
      if (ep.isClosed || records.length === 0) return;
      const rows = records.map((r) =>
        vector(r.type === 'vector' ? stream.columns.map((c, i) => string(formatLogValue(c, r.elements[i]!))) : []),
      );
      ep.publish(
        logTailTopic(stream.path),
        makeEvent(LOG_TAIL_EVENT, [
          string(stream.path),
          vector(stream.columns.map((c) => string(c.name))),
          vector(rows),
        ]),
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
