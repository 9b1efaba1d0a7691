/** Metrics of remote logging, read at scrape time from the log router's `stats()`. */
import type { Registry } from 'prom-client';
import type { LogRouter } from '../../index.js';
import { mirroredCounter, mirroredGauge } from './mirrored.js';

/** Registers the log router's metrics in `registry`. */
export function registerLogMetrics(registry: Registry, router: LogRouter): void {
  const counters = [
    ['isobroker_log_records_written_total', 'Log records written here (loggers).', 'written'],
    ['isobroker_log_records_sent_total', 'Log records sent to loggers, every resend included.', 'sent'],
    ['isobroker_log_records_acknowledged_total', 'Log records a logger acknowledged.', 'acknowledged'],
    [
      'isobroker_log_records_resent_total',
      'Log records sent again (no acknowledgement in time, or their logger came back).',
      'resent',
    ],
    [
      'isobroker_log_records_handed_over_total',
      'Log records handed to another logger because theirs stayed down.',
      'handedOver',
    ],
    [
      'isobroker_log_records_fallback_total',
      'Log records published to zeek/logs/<Stream::ID> (a layout without loggers).',
      'fallback',
    ],
    [
      'isobroker_log_records_duplicate_total',
      'Log records received again and not written again (loggers).',
      'duplicates',
    ],
    ['isobroker_log_records_dropped_total', 'Log records dropped because the buffer was full.', 'dropped'],
  ] as const;
  for (const [name, help, field] of counters)
    mirroredCounter(registry, name, help, [], () => [[{}, router.stats()[field] ?? 0]]);
  mirroredGauge(
    registry,
    'isobroker_log_buffered_records',
    'Log records kept until a logger acknowledges them.',
    [],
    () => [[{}, router.stats().bufferedRecords]],
  );
  mirroredGauge(
    registry,
    'isobroker_log_buffered_bytes',
    'Encoded bytes of the log records kept until acknowledged.',
    [],
    () => [[{}, router.stats().bufferedBytes]],
  );
}
