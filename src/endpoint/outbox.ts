/**
 * The sending half of a connection: control messages go first and are never dropped; data
 * messages wait in a bounded SendQueue. Everything queued during one turn of the event loop leaves
 * in as few frames as possible, and nothing is written while the transport is congested (its
 * buffered bytes above the high-water mark) — then the queue absorbs the backlog and its overflow
 * policy decides. One slow peer therefore never blocks another.
 */
import type { Frame, Transport } from '../transport/transport.js';
import { SendQueue, type OverflowPolicy, type PushResult } from './send-queue.js';
import type { Timers } from './timers.js';

export interface OutboxOptions<T> {
  readonly limit: number;
  readonly policy: OverflowPolicy;
  readonly highWaterMark: number;
  /** Most messages in one frame. */
  readonly maxBatch: number;
  /** Turns queued messages into frames (native: one frame per batch; JSON: one per message). */
  readonly toFrames: (items: T[]) => Frame[];
  readonly timers: Timers;
}

const CONGESTION_POLL_MS = 5;

export class Outbox<T> {
  readonly queue: SendQueue<T>;
  private control: Frame[] = [];
  private scheduled = false;
  private pollTimer: unknown;
  private closed = false;
  private readonly flushThreshold: number;

  constructor(
    private readonly transport: Transport,
    private readonly opts: OutboxOptions<T>,
  ) {
    this.queue = new SendQueue<T>(opts.limit, opts.policy, opts.timers.now);
    this.flushThreshold = Math.max(1, Math.min(opts.maxBatch, Math.floor(opts.limit / 2)));
  }

  /** Queues a data message; the result tells whether it was dropped or must disconnect. */
  push(item: T): PushResult {
    if (this.closed) return 'dropped';
    const r = this.queue.push(item);
    if (r !== 'queued') return r;
    // A full batch leaves at once unless the transport is congested, so the queue only grows
    // (and the overflow policy only bites) while the peer cannot keep up.
    if (this.queue.length >= this.flushThreshold && this.pollTimer === undefined) this.flush(false);
    else this.schedule();
    return r;
  }

  /** Queues a control frame: sent before data, never dropped. */
  pushControl(frame: Frame): void {
    if (this.closed) return;
    this.control.push(frame);
    this.schedule();
  }

  /** Writes everything now (used before a close). */
  flushNow(): void {
    this.flush(true);
  }

  close(): void {
    this.closed = true;
    this.queue.clear();
    this.control = [];
    if (this.pollTimer !== undefined) this.opts.timers.clearTimeout(this.pollTimer);
  }

  private schedule(): void {
    if (this.scheduled || this.pollTimer !== undefined) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush(false);
    });
  }

  private flush(force: boolean): void {
    if (this.closed) return;
    for (const f of this.control) this.transport.send(f);
    this.control = [];
    while (this.queue.length > 0) {
      if (!force && this.transport.bufferedAmount() > this.opts.highWaterMark) {
        this.pollTimer = this.opts.timers.setTimeout(() => {
          this.pollTimer = undefined;
          this.flush(false);
        }, CONGESTION_POLL_MS);
        return;
      }
      for (const f of this.opts.toFrames(this.queue.take(this.opts.maxBatch))) this.transport.send(f);
    }
  }
}
