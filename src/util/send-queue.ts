/**
 * A bounded per-peer send buffer with Broker's overflow policies and the statistics a user needs
 * to spot a slow peer. Items are already-encoded messages. The buffer is bounded twice: in
 * messages (Broker's bound) and in bytes (so that a few large messages cannot hold gigabytes); a
 * message larger than the byte bound is still accepted into an empty buffer, so that it can travel.
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
  /** Bytes (characters, for JSON v1 text) of the messages waiting now, control messages included. */
  readonly queuedBytes: number;
  /** Bytes handed to the connection but not yet written to the network (0 when unknown). */
  readonly bufferedBytes: number;
  /** Largest backlog seen in the last 10–20 s. */
  readonly maxQueuedRecently: number;
  /** Largest backlog in bytes seen in the last 10–20 s. */
  readonly maxQueuedBytesRecently: number;
  /** Messages dropped (or disconnects) because the buffer was full, in messages or in bytes. */
  readonly overflows: number;
  /** Messages handed to the transport. */
  readonly sent: number;
}

export type PushResult = 'queued' | 'dropped' | 'overflow-disconnect';

/** Statistics of the queue alone (the outbox adds control bytes and the transport's backlog). */
export type QueueOnlyStats = Omit<SendQueueStats, 'bufferedBytes'>;

export class SendQueue<T> {
  private items: (T | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private overflows = 0;
  private sent = 0;
  private maxCurrent = 0;
  private maxPrevious = 0;
  private maxBytesCurrent = 0;
  private maxBytesPrevious = 0;
  private windowStart: number;

  /**
   * @param limit most messages held
   * @param policy what a full buffer does
   * @param now the clock (for the "recently" statistics)
   * @param byteLimit most bytes held (a larger single message is held alone)
   * @param sizeOf the size of an item in bytes
   */
  constructor(
    public limit: number,
    public policy: OverflowPolicy,
    private readonly now: () => number,
    public byteLimit: number = Number.POSITIVE_INFINITY,
    private readonly sizeOf: (item: T) => number = () => 0,
  ) {
    this.windowStart = now();
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Messages dropped (or disconnects) for overflow so far. */
  get overflowCount(): number {
    return this.overflows;
  }

  /** Bytes of the messages waiting now. */
  get byteLength(): number {
    return this.bytes;
  }

  /** True when an item of `size` bytes does not fit now. */
  private full(size: number): boolean {
    return this.length >= this.limit || (this.length > 0 && this.bytes + size > this.byteLimit);
  }

  push(item: T): PushResult {
    const size = this.sizeOf(item);
    if (this.full(size)) {
      this.overflows++;
      if (this.policy === 'drop_newest') return 'dropped';
      if (this.policy === 'disconnect') return 'overflow-disconnect';
      // drop_oldest: as many of the oldest as it takes (one, when bounded by count).
      while (this.full(size)) {
        this.shift();
        if (this.full(size)) this.overflows++;
      }
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    const n = this.length;
    if (n > this.maxCurrent) this.maxCurrent = n;
    if (this.bytes > this.maxBytesCurrent) this.maxBytesCurrent = this.bytes;
    return 'queued';
  }

  /** Removes and returns up to `max` items and about `maxBytes` bytes (at least one item), oldest first. */
  take(max: number, maxBytes: number = Number.POSITIVE_INFINITY): T[] {
    let n = Math.min(max, this.length);
    if (maxBytes !== Number.POSITIVE_INFINITY) {
      let b = 0;
      for (let i = 0; i < n; i++) {
        b += this.sizes[this.head + i]!;
        if (b > maxBytes && i > 0) {
          n = i;
          break;
        }
      }
    }
    const out = this.items.slice(this.head, this.head + n) as T[];
    // Release what was taken: sent messages must not stay reachable from the queue.
    this.items.fill(undefined, this.head, this.head + n);
    for (let i = 0; i < n; i++) this.bytes -= this.sizes[this.head + i]!;
    this.head += n;
    this.sent += n;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    if (this.length === 0) this.bytes = 0;
    return out;
  }

  /** Drops every queued message, counted as overflows (the peer is being dropped). */
  drop(): void {
    this.overflows += this.length;
    this.clear();
  }

  clear(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }

  stats(): QueueOnlyStats {
    this.rollWindow();
    return {
      queued: this.length,
      queuedBytes: this.bytes,
      maxQueuedRecently: Math.max(this.maxCurrent, this.maxPrevious),
      maxQueuedBytesRecently: Math.max(this.maxBytesCurrent, this.maxBytesPrevious),
      overflows: this.overflows,
      sent: this.sent,
    };
  }

  private shift(): void {
    this.items[this.head] = undefined;
    this.bytes -= this.sizes[this.head]!;
    this.head++;
  }

  private rollWindow(): void {
    const t = this.now();
    if (t - this.windowStart >= MAX_QUEUED_WINDOW_MS) {
      const long = t - this.windowStart >= 2 * MAX_QUEUED_WINDOW_MS;
      this.maxPrevious = long ? this.length : this.maxCurrent;
      this.maxBytesPrevious = long ? this.bytes : this.maxBytesCurrent;
      this.maxCurrent = this.length;
      this.maxBytesCurrent = this.bytes;
      this.windowStart = t;
    }
  }
}
