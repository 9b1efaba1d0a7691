/**
 * The pub/sub load: one publisher publishing in bursts (a burst per event-loop turn, then
 * `setImmediate`), either as fast as flow control allows or paced to a rate, and subscribers
 * that check sequence numbers (gaps are drops) and record each message's latency (publish time
 * carried in the message, read on the same clock when it arrives).
 *
 * Flow control: the publisher stops while more than `inFlightCap` messages per subscriber are
 * published but neither delivered nor known lost, so no broker is measured while its buffers
 * overflow.
 */
import { processCpuMs } from '../lib/processes.js';
import { nowUs } from './pubsub-payload.js';
import type { PubSubClients } from './pubsub-clients.js';

/** One round of load. */
export interface RoundSpec {
  /** How long the publisher publishes, in ms. */
  readonly durationMs: number;
  /** Published messages per second; omitted: as fast as flow control allows. */
  readonly rate?: number;
  /** Most messages published in one event-loop turn. */
  readonly burst: number;
  /** Most messages per subscriber in flight (published, not yet delivered) before the publisher waits. */
  readonly inFlightCap: number;
  /** How long to wait after publishing for the last messages, in ms. */
  readonly drainMs: number;
  /** Process whose CPU time is reported as the broker's (read from /proc). */
  readonly brokerPid?: number;
}

/** What one round measured. */
export interface RoundResult {
  readonly published: number;
  /** Deliveries (summed over subscribers) while the publisher was publishing. */
  readonly windowDelivered: number;
  /** Every delivery of the round, the drain included. */
  readonly delivered: number;
  readonly windowMs: number;
  /** `windowDelivered` per second. */
  readonly deliveredPerSec: number;
  readonly publishedPerSec: number;
  /** Messages missing at a subscriber (sequence gaps, and what never arrived by the end of the drain). */
  readonly lost: number;
  readonly duplicates: number;
  /** Times the publisher waited for flow control longer than the stall limit and went on anyway. */
  readonly stalls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU time of this (client) process during the round, in ms. */
  readonly clientCpuMs: number;
  /** CPU time of the broker process during the round, in ms, when known. */
  readonly brokerCpuMs: number | null;
  /** Wall time of the round, drain included, in ms. */
  readonly elapsedMs: number;
}

/** A wait for flow control longer than this counts as a stall; the publisher then goes on. */
const STALL_MS = 500;
const INITIAL_SAMPLES = 1 << 20;

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Value at quantile `q` of an ascending array (nearest rank). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Drives one set of clients; `deliver` is what the clients call for each message. */
export class PubSubLoad {
  private clients: PubSubClients | undefined;
  private seq = 1;
  private roundStart = Number.MAX_SAFE_INTEGER;
  private readonly lastSeq: number[];
  private readonly seen: boolean[];
  private published = 0;
  private delivered = 0;
  private windowDelivered = 0;
  private windowOpen = false;
  private lost = 0;
  private duplicates = 0;
  private latency = new Float64Array(INITIAL_SAMPLES);
  private samples = 0;
  private waiter: (() => void) | undefined;
  private waitLimit = 0;

  constructor(readonly subscribers: number) {
    this.lastSeq = new Array<number>(subscribers).fill(0);
    this.seen = new Array<boolean>(subscribers).fill(false);
  }

  /** Hands over the clients, whose subscribers must call {@link deliver}. */
  attach(clients: PubSubClients): void {
    this.clients = clients;
  }

  readonly deliver = (sub: number, seq: number, sentUs: number): void => {
    if (seq < this.roundStart) {
      // A probe, or a straggler of an earlier round.
      this.seen[sub] = true;
      return;
    }
    const last = this.lastSeq[sub]!;
    if (seq <= last) {
      this.duplicates++;
      return;
    }
    if (seq > last + 1) this.lost += seq - last - 1;
    this.lastSeq[sub] = seq;
    this.delivered++;
    if (this.windowOpen) this.windowDelivered++;
    if (this.samples === this.latency.length) {
      const bigger = new Float64Array(this.latency.length * 2);
      bigger.set(this.latency);
      this.latency = bigger;
    }
    this.latency[this.samples++] = (nowUs() - sentUs) / 1000;
    if (this.waiter !== undefined && this.inFlight() <= this.waitLimit) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    }
  };

  /** Published (this round) but neither delivered nor known lost, summed over subscribers. */
  private inFlight(): number {
    return this.published * this.subscribers - this.delivered - this.lost;
  }

  /** Resolves true once at most `limit` are in flight, false after `ms`. */
  private waitInFlight(limit: number, ms: number): Promise<boolean> {
    if (this.inFlight() <= limit) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(false);
      }, ms);
      this.waitLimit = limit;
      this.waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Publishes a probe every 20 ms until every subscriber received one (subscriptions are live). */
  async ready(timeoutMs: number): Promise<void> {
    const clients = this.need();
    const deadline = performance.now() + timeoutMs;
    while (this.seen.some((s) => !s)) {
      if (performance.now() > deadline) {
        throw new Error(
          `${this.seen.filter((s) => !s).length} of ${this.subscribers} subscribers got no message within ${timeoutMs} ms`,
        );
      }
      clients.publish(this.seq++, nowUs());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Runs one round and returns what it measured. */
  async round(spec: RoundSpec): Promise<RoundResult> {
    const clients = this.need();
    this.roundStart = this.seq;
    this.lastSeq.fill(this.seq - 1);
    this.published = 0;
    this.delivered = 0;
    this.windowDelivered = 0;
    this.lost = 0;
    this.duplicates = 0;
    this.samples = 0;
    let stalls = 0;
    const capTotal = spec.inFlightCap * this.subscribers;
    const cpu0 = process.cpuUsage();
    const broker0 = spec.brokerPid === undefined ? undefined : processCpuMs(spec.brokerPid);
    const t0 = performance.now();
    const end = t0 + spec.durationMs;
    this.windowOpen = true;
    for (let now = t0; now < end; now = performance.now()) {
      let n = spec.burst;
      if (spec.rate !== undefined) {
        n = Math.min(n, Math.floor((spec.rate * (now - t0)) / 1000) - this.published);
        if (n <= 0) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
      }
      if (this.inFlight() > capTotal) {
        if (!(await this.waitInFlight(capTotal, STALL_MS))) stalls++;
        continue;
      }
      for (let k = 0; k < n; k++) clients.publish(this.seq++, nowUs());
      this.published += n;
      await immediate();
    }
    const windowMs = performance.now() - t0;
    this.windowOpen = false;
    await this.waitInFlight(0, spec.drainMs);
    const elapsedMs = performance.now() - t0;
    // What has not arrived by now counts as lost.
    this.lost += Math.max(0, this.inFlight());
    this.roundStart = Number.MAX_SAFE_INTEGER;
    const cpu = process.cpuUsage(cpu0);
    const broker1 = spec.brokerPid === undefined ? undefined : processCpuMs(spec.brokerPid);
    const sorted = this.latency.slice(0, this.samples).sort();
    return {
      published: this.published,
      windowDelivered: this.windowDelivered,
      delivered: this.delivered,
      windowMs,
      deliveredPerSec: (this.windowDelivered * 1000) / windowMs,
      publishedPerSec: (this.published * 1000) / windowMs,
      lost: this.lost,
      duplicates: this.duplicates,
      stalls,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: quantile(sorted, 1),
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      brokerCpuMs: broker0 === undefined || broker1 === undefined ? null : broker1 - broker0,
      elapsedMs,
    };
  }

  private need(): PubSubClients {
    if (this.clients === undefined) throw new Error('no clients attached');
    return this.clients;
  }
}
