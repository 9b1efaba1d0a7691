/**
 * The NATS backbone's per-topic batcher: the data messages published on one topic within one
 * turn of the event loop travel as one native frame (one NATS message), bounded in messages and
 * bytes. A batch is handed on when it is full, and every batch at the end of the turn (on a
 * queued microtask), in the order their topics were first published in that turn; the messages
 * of one topic keep their order.
 */

/** Bytes of the largest frame header `encodeFrame` writes for up to 65,535 messages. */
export const FRAME_HEADER_BYTES = 3;

/** The most messages one batch may hold (a frame header of 3 bytes counts up to this). */
export const MAX_BATCH_MESSAGES = 0xffff;

/** The messages of one topic waiting to travel as one frame. */
export interface TopicBatch {
  readonly topic: string;
  /** The encoded data messages, in publishing order. */
  readonly parts: Uint8Array[];
  /** Their total length (without the frame header). */
  bytes: number;
}

/** Builds per-topic batches and hands each one to `emit` once full or at the end of the turn. */
export class TopicBatcher {
  readonly #batches = new Map<string, TopicBatch>();
  #scheduled = false;
  readonly #flushQueued = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /**
   * @param emit takes a finished batch (it must not throw)
   * @param maxMessages most messages per batch
   * @param maxBytes most bytes of a frame (header included); read at every add, since the
   *   server's payload limit may change after a reconnect
   */
  constructor(
    private readonly emit: (batch: TopicBatch) => void,
    private readonly maxMessages: number,
    private readonly maxBytes: () => number,
  ) {}

  /** Messages waiting in open batches. */
  get pending(): number {
    let n = 0;
    for (const b of this.#batches.values()) n += b.parts.length;
    return n;
  }

  /**
   * Adds one encoded message to `topic`'s batch. A message larger than `maxBytes()` travels in a
   * batch of its own (the caller checked that it fits the server's payload limit).
   */
  add(topic: string, message: Uint8Array): void {
    let batch = this.#batches.get(topic);
    if (batch !== undefined && FRAME_HEADER_BYTES + batch.bytes + message.length > this.maxBytes()) {
      this.#batches.delete(topic);
      this.emit(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { topic, parts: [], bytes: 0 };
      this.#batches.set(topic, batch);
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#flushQueued);
      }
    }
    batch.parts.push(message);
    batch.bytes += message.length;
    if (batch.parts.length >= this.maxMessages || FRAME_HEADER_BYTES + batch.bytes >= this.maxBytes()) {
      this.#batches.delete(topic);
      this.emit(batch);
    }
  }

  /** Hands on every open batch now. */
  flush(): void {
    if (this.#batches.size === 0) return;
    const batches = [...this.#batches.values()];
    this.#batches.clear();
    for (const b of batches) this.emit(b);
  }

  /** Forgets every open batch, returning them (in topic order of first publication). */
  takeAll(): TopicBatch[] {
    const batches = [...this.#batches.values()];
    this.#batches.clear();
    return batches;
  }
}
