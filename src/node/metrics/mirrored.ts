/**
 * Metrics read at scrape time from counters and gauges that live elsewhere (the endpoint, stores,
 * the log router): nothing is counted on the message path, the collect function copies the
 * current values into prom-client's metric when Prometheus asks.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Label values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** One sample of a mirrored metric: its labels and its value. */
export type Sample = readonly [labels: Labels, value: number];

/** What a mirrored metric reads at each scrape: its samples now. */
export type ReadSamples = () => Iterable<Sample>;

/** Registers a counter whose totals `read` returns at each scrape (they must never decrease). */
export function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: ReadSamples,
): Counter {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

/** Registers a gauge whose current values `read` returns at each scrape. */
export function mirroredGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: ReadSamples,
): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/**
 * Running totals per label set of per-connection counters that vanish with their connection:
 * `observe` takes each connection's current count, adds what it grew since the last look to its
 * label set's total, and forgets connections that were not seen in the last round. (What a
 * connection counted after the last scrape and before it closed is not seen.)
 */
export class DeltaTotals {
  private readonly last = new Map<string, number>();
  private readonly seen = new Set<string>();
  private readonly totals = new Map<string, { labels: Labels; value: number }>();

  /** Notes that connection `key`, counted under `labels`, is at `value` now. */
  observe(key: string, labels: Labels, value: number): void {
    const before = this.last.get(key);
    // A count below the last one is a new connection under the same key.
    const grew = before === undefined || value < before ? value : value - before;
    this.last.set(key, value);
    this.seen.add(key);
    if (grew <= 0) {
      this.ensure(labels);
      return;
    }
    this.ensure(labels).value += grew;
  }

  /** Ends a round: connections not observed since the previous `endRound` are forgotten. */
  endRound(): void {
    for (const k of this.last.keys()) if (!this.seen.has(k)) this.last.delete(k);
    this.seen.clear();
  }

  /** The totals per label set. */
  *samples(): Iterable<Sample> {
    for (const t of this.totals.values()) yield [t.labels, t.value];
  }

  private ensure(labels: Labels): { labels: Labels; value: number } {
    const k = JSON.stringify(labels);
    let t = this.totals.get(k);
    if (t === undefined) {
      t = { labels, value: 0 };
      this.totals.set(k, t);
    }
    return t;
  }
}
