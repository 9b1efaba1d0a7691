/**
 * The backbone benchmark's clients: one publisher and N subscribers, each an isobroker `Endpoint`
 * peered as a native WebSocket leaf with a hub of its own choosing (the publisher with one hub,
 * the subscribers with others), all in the benchmark process. Every message is the pub/sub
 * benchmark's 100-byte text carrying its sequence number and publish time, so each subscriber can
 * count losses and duplicates per (origin, sequence) and take the latency on the same clock.
 */
import { Endpoint, string } from '../../src/index.js';
import { nowUs, parseText, payloadText, type ParsedPayload } from '../sections/pubsub-payload.js';
import type { DeliverFn, PubSubClients } from '../sections/pubsub-clients.js';

/** The topic every message goes to; subscribers subscribe to its prefix. */
const TOPIC = 'bench/backbone/data';
const PREFIX = 'bench/backbone';

/** Clients whose deliveries go to a callback that can be swapped. */
export interface SpreadClients extends PubSubClients {
  /** Sends every later delivery to `fn`. */
  setDeliver(fn: DeliverFn): void;
}

/** A publisher peered with the hub at `pubUrl`, subscriber `i` with the hub at `subUrls[i]`. */
export async function openSpread(
  pubUrl: string,
  subUrls: readonly string[],
  deliver: DeliverFn,
): Promise<SpreadClients> {
  let target = deliver;
  const subs: Endpoint[] = [];
  for (const [i, url] of subUrls.entries()) {
    const ep = new Endpoint({ name: `bench-sub-${i}` });
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    ep.subscribe(PREFIX, (m) => {
      if (m.data.type === 'string' && parseText(m.data.value, parsed)) target(i, parsed.seq, parsed.sentUs);
    });
    await ep.peer(url, { retry: 0 });
    subs.push(ep);
  }
  const pub = new Endpoint({ name: 'bench-pub' });
  await pub.peer(pubUrl, { retry: 0 });
  await pub.whenRoutable(TOPIC);
  return {
    publish: (seq, sentUs) => pub.publish(TOPIC, string(payloadText(seq, sentUs))),
    clientDrops: () =>
      [pub, ...subs].reduce((n, ep) => n + ep.peers().reduce((k, p) => k + (p.stats?.overflows ?? 0), 0), 0),
    setDeliver: (fn) => {
      target = fn;
    },
    close: async () => {
      await Promise.all([pub, ...subs].map((ep) => ep.close()));
    },
  };
}

/**
 * A steady stream for failover trials: `rate` messages per second published in small bursts,
 * every delivery checked against the last sequence number its subscriber saw.
 */
export class SteadyStream {
  private seq = 1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly last: number[];
  /** Messages missing (sequence gaps) and delivered twice since {@link reset}. */
  lost = 0;
  duplicates = 0;
  delivered = 0;
  private waiters: { afterUs: number; resolve: (arrivalUs: number) => void }[] = [];

  constructor(
    private readonly clients: SpreadClients,
    subscribers: number,
    private readonly rate: number,
  ) {
    this.last = new Array<number>(subscribers).fill(0);
    clients.setDeliver(this.deliver);
  }

  private readonly deliver = (sub: number, seq: number, sentUs: number): void => {
    const last = this.last[sub]!;
    if (seq <= last) {
      this.duplicates++;
      return;
    }
    if (last > 0 && seq > last + 1) this.lost += seq - last - 1;
    this.last[sub] = seq;
    this.delivered++;
    if (this.waiters.length === 0) return;
    const now = nowUs();
    this.waiters = this.waiters.filter((w) => {
      if (sentUs < w.afterUs) return true;
      w.resolve(now);
      return false;
    });
  };

  /** Starts publishing (5 ms ticks). */
  start(): void {
    const perTick = Math.max(1, Math.round(this.rate / 200));
    this.timer = setInterval(() => {
      for (let k = 0; k < perTick; k++) this.clients.publish(this.seq++, nowUs());
    }, 5);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Zeroes the counters. */
  reset(): void {
    this.lost = 0;
    this.duplicates = 0;
    this.delivered = 0;
  }

  /**
   * Resolves with the arrival time (µs, `nowUs`) of the first delivery of a message published at
   * or after `afterUs`; rejects after `timeoutMs`.
   */
  firstDeliveryAfter(afterUs: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        reject(new Error(`no delivery within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        afterUs,
        resolve: (at: number) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.waiters.push(entry);
    });
  }
}
