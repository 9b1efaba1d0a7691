/**
 * Metrics of data stores: entries, changes applied by kind, errors by code, and for masters their
 * clones, held commands, resends and resync bytes (delta or snapshot). Sizes and master counters
 * are read at scrape time; changes and errors are counted from each store's change feed and error
 * channel (one listener per store).
 */
import type { Registry } from 'prom-client';
import type { StoreClone, StoreMaster } from '../../index.js';
import { mirroredCounter, mirroredGauge, type Sample } from './mirrored.js';

/** A store whose metrics are exported: a master or a clone. */
export type MeteredStore = StoreMaster | StoreClone;

const isMaster = (s: MeteredStore): s is StoreMaster => 'resyncBytes' in s;

/** Registers the metrics of `stores`; returns a function that stops listening to their feeds. */
export function registerStoreMetrics(registry: Registry, stores: readonly MeteredStore[]): () => void {
  const changes = new Map<string, { labels: Record<string, string>; value: number }>();
  const errors = new Map<string, { labels: Record<string, string>; value: number }>();
  const bump = (m: typeof changes, labels: Record<string, string>): void => {
    const k = JSON.stringify(labels);
    const e = m.get(k);
    if (e) e.value++;
    else m.set(k, { labels, value: 1 });
  };
  const offs: (() => void)[] = [];
  for (const s of stores) {
    const role = isMaster(s) ? 'master' : 'clone';
    offs.push(s.onChange((ev) => bump(changes, { store: s.name, role, kind: ev.type })));
    offs.push(s.onError((err) => bump(errors, { store: s.name, role, code: err.code })));
  }
  const masters = stores.filter(isMaster);
  const perMaster =
    (read: (m: StoreMaster) => number): (() => Sample[]) =>
    () =>
      masters.map((m) => [{ store: m.name }, read(m)] as const);
  const samples = (m: typeof changes) => (): Sample[] => [...m.values()].map((e) => [e.labels, e.value] as const);

  mirroredGauge(registry, 'isobroker_store_entries', 'Entries in each store.', ['store', 'role'], () =>
    stores.map((s) => [{ store: s.name, role: isMaster(s) ? 'master' : 'clone' }, s.size] as const),
  );
  mirroredCounter(
    registry,
    'isobroker_store_changes_total',
    'Changes applied to each store, by kind (insert, update, erase, expire, clear).',
    ['store', 'role', 'kind'],
    samples(changes),
  );
  mirroredCounter(
    registry,
    'isobroker_store_errors_total',
    'Store failures that concern no single call (backend failures, refused syncs, …), by code.',
    ['store', 'role', 'code'],
    samples(errors),
  );
  mirroredCounter(
    registry,
    'isobroker_store_resync_bytes_total',
    'Bytes a master sent to clones to bring them up to date, by kind (delta or snapshot).',
    ['store', 'kind'],
    () =>
      masters.flatMap((m) => {
        const b = m.resyncBytes;
        return [
          [{ store: m.name, kind: 'delta' }, b.delta] as const,
          [{ store: m.name, kind: 'snapshot' }, b.snapshot] as const,
        ];
      }),
  );
  mirroredGauge(
    registry,
    'isobroker_store_resync_in_flight_bytes',
    'Resync bytes sent to clones and not acknowledged yet.',
    ['store'],
    perMaster((m) => m.stats.resyncInFlightBytes),
  );
  mirroredGauge(
    registry,
    'isobroker_store_clones',
    'Clones a master keeps track of.',
    ['store'],
    perMaster((m) => m.stats.clones),
  );
  mirroredGauge(
    registry,
    'isobroker_store_held_commands',
    'Out-of-order commands a master holds for its clones.',
    ['store'],
    perMaster((m) => m.stats.heldCommands),
  );
  mirroredCounter(
    registry,
    'isobroker_store_resends_total',
    'Resend requests a master sent to clones (a command was missing).',
    ['store'],
    perMaster((m) => m.stats.resendsSent),
  );
  mirroredCounter(
    registry,
    'isobroker_store_refused_commands_total',
    "Commands a master did not hold because they fell outside their clone's window.",
    ['store'],
    perMaster((m) => m.stats.refusedCommands),
  );
  return () => {
    for (const off of offs.splice(0)) off();
  };
}
