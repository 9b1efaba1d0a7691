/**
 * The two sides of the `stores-large` benchmark, usable in one process or each in its own (see
 * `stores-large-peer.ts`): the master side (an endpoint listening on 127.0.0.1, a SQLite master,
 * and a steady event stream to the clone's endpoint) and the clone side (an endpoint that peers
 * with it, the clone, and the event subscriber).
 *
 * Events are stamped with the time they were *due* (one every `everyMs`, on the wall clock shared
 * by both processes), and a publisher that could not run on time publishes every overdue one when
 * it next runs: so an event loop held by the sync counts as latency, instead of silently
 * publishing fewer events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Endpoint, count, createClone, createMaster, type StoreMaster } from '../../src/index.js';
import { listen, openSqliteBackend } from '../../src/node/index.js';

const MiB = 1024 * 1024;
const EVENTS_TOPIC = 'bench/events';
const STORE = 'large';

/** Milliseconds on the wall clock, with sub-millisecond resolution (comparable across processes on one host). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Peak RSS of this process between `start` and `stop`, sampled every 20 ms. */
export class RssPeak {
  private base = 0;
  private peak = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  start(): void {
    global.gc?.();
    this.base = this.peak = process.memoryUsage().rss;
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, process.memoryUsage().rss)), 20);
  }
  /** Growth of the peak over the RSS at `start`, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    return this.peak - this.base;
  }
}

export class MasterSide {
  private dir = '';
  private ownDir = false;
  private readonly hub = new Endpoint({ name: 'hub' });
  private listener: Awaited<ReturnType<typeof listen>> | undefined;
  private master: StoreMaster | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  readonly rss = new RssPeak();

  /**
   * Listens, creates the master (its database in `dir`, else in a directory of its own removed on
   * `close`) and fills it with `n` values of `valueBytes`; returns the URL.
   */
  async setup(n: number, valueBytes: number, dir?: string): Promise<string> {
    this.ownDir = dir === undefined;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'isobroker-bench-large-'));
    this.listener = await listen(this.hub, { host: '127.0.0.1', port: 0 });
    const master = await createMaster(this.hub, STORE, {
      backend: openSqliteBackend({ path: join(this.dir, 'large.db'), journalMode: 'WAL', synchronous: 'NORMAL' }),
    });
    this.master = master;
    const value = 'x'.repeat(valueBytes - 16);
    for (let i = 0; i < n; i += 20)
      await Promise.all(
        Array.from({ length: Math.min(20, n - i) }, (_, j) => master.put(`k${i + j}`, `${i + j}:${value}`)),
      );
    return this.listener.url;
  }

  /** Publishes one event every `everyMs`, each stamped (µs) with the wall-clock time it was due. */
  async startEvents(everyMs: number): Promise<void> {
    await this.hub.whenRoutable(EVENTS_TOPIC, { timeoutMs: 10_000 });
    let due = wallMs();
    this.ticker = setInterval(() => {
      for (const now = wallMs(); due <= now; due += everyMs)
        this.hub.publish(EVENTS_TOPIC, count(Math.round(due * 1000)));
    }, everyMs);
  }

  stopEvents(): void {
    clearInterval(this.ticker);
  }

  snapshotBytes(): number {
    return this.master?.resyncBytes.snapshot ?? 0;
  }

  async close(): Promise<void> {
    this.stopEvents();
    this.master?.close();
    await this.hub.close();
    await this.listener?.close();
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One received event: when it was due and how late it arrived (ms). */
export type Arrival = readonly [due: number, latency: number];

export class CloneSide {
  private readonly client = new Endpoint({ name: 'client' });
  private arrivals: [number, number][] = [];
  private closeClone: (() => void) | undefined;
  readonly rss = new RssPeak();

  constructor() {
    this.client.subscribe(EVENTS_TOPIC, (m) => {
      if (m.data.type !== 'count') return;
      const due = Number(m.data.value) / 1000;
      this.arrivals.push([due, wallMs() - due]);
    });
  }

  async peer(url: string): Promise<void> {
    await this.client.peer(url);
  }

  /** Creates the clone and waits until it is in sync; returns the sync's start and end (wall clock, ms). */
  async sync(timeoutMs: number): Promise<{ start: number; end: number }> {
    const start = wallMs();
    const clone = await createClone(this.client, STORE);
    await clone.whenInSync(timeoutMs);
    const end = wallMs();
    this.closeClone = () => clone.close();
    if (clone.size === 0) throw new Error('the clone is empty after the sync');
    return { start, end };
  }

  /** The events received so far (and forgets them). */
  takeArrivals(): Arrival[] {
    const a = this.arrivals;
    this.arrivals = [];
    return a;
  }

  async close(): Promise<void> {
    this.closeClone?.();
    await this.client.close();
  }
}

export { MiB };
