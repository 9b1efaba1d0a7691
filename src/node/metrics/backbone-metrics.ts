/**
 * Metrics of an endpoint's backbone link (`endpoint.backbone.stats()`), read at scrape time: its
 * state, what it published and received, the outbound queue while disconnected, drops,
 * reconnects, the round trip to the NATS server and the endpoints present. A backbone attached
 * after the metrics were made (a hub that reaches NATS late) is picked up at the next scrape;
 * without one, these metrics have no samples.
 */
import type { Registry } from 'prom-client';
import type { Endpoint } from '../../index.js';
import { mirroredCounter, mirroredGauge, type Sample } from './mirrored.js';

/** The states `isobroker_backbone_state` has a sample for (1 for the current one, 0 for the others). */
export const BACKBONE_STATES = ['connecting', 'connected', 'disconnected', 'reconnected', 'closed'] as const;

type LinkStats = NonNullable<Endpoint['backbone']>['stats'] extends () => infer S ? S : never;

/** Registers the backbone metrics of `endpoint`. */
export function registerBackboneMetrics(registry: Registry, endpoint: Endpoint): void {
  const stats = (): LinkStats | undefined => endpoint.backbone?.stats();
  const one =
    (read: (s: LinkStats) => number | undefined): (() => Sample[]) =>
    () => {
      const s = stats();
      const v = s === undefined ? undefined : read(s);
      return v === undefined ? [] : [[{}, v] as const];
    };
  mirroredGauge(
    registry,
    'isobroker_backbone_state',
    'State of the backbone connection: 1 for the current state, 0 for the others.',
    ['state'],
    () => {
      const s = stats();
      return s === undefined ? [] : BACKBONE_STATES.map((st) => [{ state: st }, s.state === st ? 1 : 0] as const);
    },
  );
  const counters: [string, string, (s: LinkStats) => number][] = [
    ['published_total', 'Data messages handed to the backbone and accepted.', (s) => s.published],
    ['batches_sent_total', 'NATS messages (batches of data messages) published.', (s) => s.batchesOut],
    ['batches_received_total', 'NATS messages received (data batches and presence).', (s) => s.batchesIn],
    ['sent_bytes_total', 'Bytes of the NATS messages published.', (s) => s.bytesOut],
    ['received_bytes_total', 'Bytes of the NATS messages received.', (s) => s.bytesIn],
    ['dropped_total', "Data messages the outbound queue's overflow policy dropped.", (s) => s.dropped],
    ['reconnects_total', 'Reconnections to the NATS system.', (s) => s.reconnects],
    ['wasted_total', 'Superset mode: batches received that nothing here wanted.', (s) => s.wasted],
    ['bad_frames_total', 'Backbone frames that could not be decoded.', (s) => s.badFrames],
    ['bad_control_total', 'Presence messages refused.', (s) => s.badControl],
  ];
  for (const [name, help, read] of counters)
    mirroredCounter(registry, `isobroker_backbone_${name}`, help, [], one(read));
  const gauges: [string, string, (s: LinkStats) => number | undefined][] = [
    ['queued_messages', 'Data messages waiting in the outbound queue (while disconnected).', (s) => s.queued],
    ['queued_bytes', 'Bytes waiting in the outbound queue.', (s) => s.queuedBytes],
    [
      'rtt_seconds',
      'Last measured round trip to the NATS server.',
      (s) => (s.rtt === undefined ? undefined : s.rtt / 1000),
    ],
    ['endpoints', 'Other endpoints present on the backbone.', (s) => s.endpoints],
    ['subscriptions', 'Active NATS subscriptions.', (s) => s.subscriptions],
  ];
  for (const [name, help, read] of gauges) mirroredGauge(registry, `isobroker_backbone_${name}`, help, [], one(read));
}
