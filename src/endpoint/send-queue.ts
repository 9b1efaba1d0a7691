/**
 * A bounded per-peer send buffer with Broker's overflow policies and the statistics a user needs
 * to spot a slow peer. Items are already-encoded messages.
 */

/** Broker's overflow policies of a full send buffer. */
export const OVERFLOW_POLICIES = ['drop_oldest', 'drop_newest', 'disconnect'] as const;
/** What a full send buffer does: drop the oldest or newest message, or disconnect the peer. */
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

/** Broker's default per-peer buffer size, in messages. */
export const DEFAULT_SEND_BUFFER_SIZE = 8192;
/** How long a "recent" maximum is remembered. */
export const MAX_QUEUED_WINDOW_MS = 10_000;

/** Send-buffer statistics of one peer. */
export interface SendQueueStats {
  /** Messages waiting now. */
  readonly queued: number;
  /** Largest backlog seen in the last 10–20 s. */
  readonly maxQueuedRecently: number;
  /** Messages dropped (or disconnects) because the buffer was full. */
  readonly overflows: number;
  /** Messages handed to the transport. */
  readonly sent: number;
}

export type PushResult = 'queued' | 'dropped' | 'overflow-disconnect';

export class SendQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private overflows = 0;
  private sent = 0;
  private maxCurrent = 0;
  private maxPrevious = 0;
  private windowStart: number;

  constructor(
    readonly limit: number,
    readonly policy: OverflowPolicy,
    private readonly now: () => number,
  ) {
    this.windowStart = now();
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): PushResult {
    if (this.length >= this.limit) {
      this.overflows++;
      if (this.policy === 'drop_newest') return 'dropped';
      if (this.policy === 'disconnect') return 'overflow-disconnect';
      this.shift();
    }
    this.items.push(item);
    const n = this.length;
    if (n > this.maxCurrent) this.maxCurrent = n;
    return 'queued';
  }

  /** Removes and returns up to `max` items, oldest first. */
  take(max: number): T[] {
    const n = Math.min(max, this.length);
    const out = this.items.slice(this.head, this.head + n) as T[];
    // Release what was taken: sent messages must not stay reachable from the queue.
    this.items.fill(undefined, this.head, this.head + n);
    this.head += n;
    this.sent += n;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  stats(): SendQueueStats {
    this.rollWindow();
    return {
      queued: this.length,
      maxQueuedRecently: Math.max(this.maxCurrent, this.maxPrevious),
      overflows: this.overflows,
      sent: this.sent,
    };
  }

  private shift(): void {
    this.items[this.head] = undefined;
    this.head++;
  }

  private rollWindow(): void {
    const t = this.now();
    if (t - this.windowStart >= MAX_QUEUED_WINDOW_MS) {
      this.maxPrevious = t - this.windowStart >= 2 * MAX_QUEUED_WINDOW_MS ? this.length : this.maxCurrent;
      this.maxCurrent = this.length;
      this.windowStart = t;
    }
  }
}
