/**
 * The sending half of a connection: control messages go first and are never dropped; data
 * messages wait in a SendQueue bounded in messages and bytes. Everything queued during one turn of
 * the event loop leaves in as few frames as possible, and nothing is written while the transport
 * is congested (its buffered bytes above the high-water mark) — then the queue absorbs the backlog
 * and its overflow policy decides. One slow peer therefore never blocks another.
 *
 * What a connection can hold is bounded: data by the queue's bounds, control frames by the byte
 * bound too (beyond it the peer is dropped), optional notices (error replies) are dropped when they
 * would not fit, and the transport's own backlog by the high-water mark plus one batch. A transport
 * that does not drain at all for `writeTimeout` ms (its backlog above the high-water mark and not
 * shrinking) is a stalled peer: the queue is dropped and `onStall` decides (the sessions tell the
 * peer why and close).
 */
import type { Frame, Transport } from '../transport/transport.js';
import { SendQueue, type OverflowPolicy, type PushResult, type SendQueueStats } from '../util/send-queue.js';
import type { Timers } from '../util/timers.js';

export interface OutboxOptions<T> {
  /** Most data messages queued. */
  readonly limit: number;
  readonly policy: OverflowPolicy;
  readonly highWaterMark: number;
  /** Most messages in one frame. */
  readonly maxBatch: number;
  /** Turns queued messages into frames (native: one frame per batch; JSON: one per message). */
  readonly toFrames: (items: T[]) => Frame[];
  readonly timers: Timers;
  /** Most bytes of data messages queued, and of control frames waiting. @default unbounded */
  readonly byteLimit?: number;
  /** The size of a data message in bytes. @default byte length (binary) or length (text) */
  readonly sizeOf?: (item: T) => number;
  /** Bytes of data taken for one write (at least one message). @default DEFAULT_MAX_BATCH_BYTES */
  readonly maxBatchBytes?: number;
  /** A transport that does not drain for this long (ms) is stalled; 0 disables. @default 0 */
  readonly writeTimeout?: number;
  /**
   * The peer is to be dropped: its transport stalled (write deadline) or its control backlog
   * outgrew the byte bound. The data queue is already dropped; `context` says why, with counts.
   */
  readonly onStall?: (context: string) => void;
}

/** Data bytes handed to the transport in one write, by default. */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;

const CONGESTION_POLL_MS = 5;

const frameSize = (f: Frame): number => (typeof f === 'string' ? f.length : f.byteLength);
const defaultSize = (item: unknown): number =>
  typeof item === 'string' ? item.length : item instanceof Uint8Array ? item.byteLength : 0;

export class Outbox<T> {
  readonly queue: SendQueue<T>;
  private control: Frame[] = [];
  private controlBytes = 0;
  private scheduled = false;
  private pollTimer: unknown;
  private closed = false;
  private flushThreshold: number;
  private byteLimit: number;
  private writeTimeout: number;
  private readonly maxBatchBytes: number;
  /** Notices (error replies) dropped because they would not fit the byte bound. */
  noticesDropped = 0;
  // Write deadline: the transport's backlog as last seen, and since when it has not shrunk.
  private watchTimer: unknown;
  private lastBuffered = 0;
  private stuckSince = 0;
  /** Something was written since the last check (writes happen only below the mark: progress). */
  private wrote = false;

  constructor(
    private readonly transport: Transport,
    private readonly opts: OutboxOptions<T>,
  ) {
    this.byteLimit = opts.byteLimit ?? Number.POSITIVE_INFINITY;
    this.writeTimeout = opts.writeTimeout ?? 0;
    this.maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.queue = new SendQueue<T>(
      opts.limit,
      opts.policy,
      opts.timers.now,
      this.byteLimit,
      opts.sizeOf ?? (defaultSize as (item: T) => number),
    );
    this.flushThreshold = Math.max(1, Math.min(opts.maxBatch, Math.floor(opts.limit / 2)));
  }

  /**
   * Changes the bounds, policy and write deadline (a native link learns from the hello whether
   * its peer is a leaf). What is queued already stays; the new bounds apply from the next push.
   */
  setBounds(b: { limit: number; byteLimit: number; policy: OverflowPolicy; writeTimeout: number }): void {
    this.queue.limit = b.limit;
    this.queue.byteLimit = b.byteLimit;
    this.queue.policy = b.policy;
    this.byteLimit = b.byteLimit;
    this.writeTimeout = b.writeTimeout;
    this.flushThreshold = Math.max(1, Math.min(this.opts.maxBatch, Math.floor(b.limit / 2)));
  }

  /** Queues a data message; the result tells whether it was dropped or must disconnect. */
  push(item: T): PushResult {
    if (this.closed) return 'dropped';
    const r = this.queue.push(item);
    if (r !== 'queued') return r;
    // A full batch leaves at once unless the transport is congested, so the queue only grows
    // (and the overflow policy only bites) while the peer cannot keep up.
    const full = this.queue.length >= this.flushThreshold || this.queue.byteLength >= this.maxBatchBytes;
    if (full && this.pollTimer === undefined) this.flush(false);
    else this.schedule();
    return r;
  }

  /**
   * Queues a control frame: sent before data, never dropped. A control backlog beyond the byte
   * bound (a peer that makes us answer but never reads) drops the peer (`onStall`).
   */
  pushControl(frame: Frame): void {
    if (this.closed) return;
    const size = frameSize(frame);
    if (this.controlBytes > 0 && this.controlBytes + size > this.byteLimit) {
      this.stall(`${this.controlBytes} bytes of control messages waiting`);
      return;
    }
    this.control.push(frame);
    this.controlBytes += size;
    this.schedule();
  }

  /**
   * Queues an optional control frame (an error reply, a notice): sent before data, but dropped
   * (and counted) when it would take the bytes held for this peer beyond the byte bound.
   */
  pushNotice(frame: Frame): boolean {
    if (this.closed) return false;
    const size = frameSize(frame);
    if (this.heldBytes() + size > this.byteLimit) {
      this.noticesDropped++;
      return false;
    }
    this.control.push(frame);
    this.controlBytes += size;
    this.schedule();
    return true;
  }

  /** Bytes held for this peer: queued data and control, and the transport's backlog. */
  heldBytes(): number {
    return this.queue.byteLength + this.controlBytes + this.transport.bufferedAmount();
  }

  /** Writes everything now (used before a close). */
  flushNow(): void {
    this.flush(true);
  }

  /** Drops every queued data message (counted as overflows); returns how many. */
  dropQueued(): number {
    const n = this.queue.length;
    this.queue.drop();
    return n;
  }

  /** The queue's state in words, for the notice that tells a peer why it is dropped. */
  describe(): string {
    const s = this.queue.stats();
    return (
      `${s.queued} messages (${s.queuedBytes} bytes) queued, ${this.transport.bufferedAmount()} bytes unsent, ` +
      `${s.overflows} dropped for overflow`
    );
  }

  stats(): SendQueueStats {
    const s = this.queue.stats();
    return {
      ...s,
      queuedBytes: s.queuedBytes + this.controlBytes,
      bufferedBytes: this.transport.bufferedAmount(),
    };
  }

  close(): void {
    this.closed = true;
    this.queue.clear();
    this.control = [];
    this.controlBytes = 0;
    if (this.pollTimer !== undefined) this.opts.timers.clearTimeout(this.pollTimer);
    if (this.watchTimer !== undefined) this.opts.timers.clearTimeout(this.watchTimer);
    this.pollTimer = undefined;
    this.watchTimer = undefined;
  }

  private schedule(): void {
    if (this.scheduled || this.pollTimer !== undefined) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush(false);
    });
  }

  private congested(): boolean {
    return this.transport.bufferedAmount() > this.opts.highWaterMark;
  }

  private flush(force: boolean): void {
    if (this.closed) return;
    if (this.control.length > 0) {
      if (!force && this.congested()) {
        this.poll();
        return;
      }
      const control = this.control;
      this.control = [];
      this.controlBytes = 0;
      for (const f of control) this.transport.send(f);
      this.wrote = true;
    }
    while (this.queue.length > 0) {
      if (!force && this.congested()) {
        this.poll();
        return;
      }
      for (const f of this.opts.toFrames(this.queue.take(this.opts.maxBatch, this.maxBatchBytes)))
        this.transport.send(f);
      this.wrote = true;
    }
    this.watch();
  }

  /** Tries again shortly: the transport is congested. */
  private poll(): void {
    if (this.pollTimer === undefined)
      this.pollTimer = this.opts.timers.setTimeout(() => {
        this.pollTimer = undefined;
        this.flush(false);
      }, CONGESTION_POLL_MS);
    this.watch();
  }

  /** Arms the write-deadline watch while the transport's backlog is above the high-water mark. */
  private watch(): void {
    const timeout = this.writeTimeout;
    if (timeout <= 0 || this.closed || this.watchTimer !== undefined) return;
    const b = this.transport.bufferedAmount();
    if (b <= this.opts.highWaterMark) return;
    this.lastBuffered = b;
    this.stuckSince = this.opts.timers.now();
    this.wrote = false;
    const tick = Math.max(CONGESTION_POLL_MS, Math.min(1000, timeout / 4));
    const check = (): void => {
      this.watchTimer = undefined;
      if (this.closed) return;
      const now = this.opts.timers.now();
      const buffered = this.transport.bufferedAmount();
      if (buffered <= this.opts.highWaterMark) return; // drained: nothing to watch
      if (this.wrote || buffered < this.lastBuffered) this.stuckSince = now; // draining, if slowly
      this.lastBuffered = buffered;
      this.wrote = false;
      if (now - this.stuckSince >= timeout) {
        this.stall(`the connection has not drained for ${now - this.stuckSince} ms (write deadline ${timeout} ms)`);
        return;
      }
      this.watchTimer = this.opts.timers.setTimeout(check, tick);
    };
    this.watchTimer = this.opts.timers.setTimeout(check, tick);
  }

  private stall(why: string): void {
    const context = `${why}; ${this.describe()}; disconnecting`;
    this.dropQueued();
    this.control = [];
    this.controlBytes = 0;
    if (this.opts.onStall) this.opts.onStall(context);
    else this.close();
  }
}
