/**
 * Resyncs of clones, streamed: a delta from the change log, or a snapshot of the backend in
 * chunks with a window (at most `window` chunks and `windowBytes` bytes unacknowledged), so
 * neither side ever holds a second full copy of the store and a slow clone slows its own stream
 * only.
 *
 * Both are bounded in bytes as well as in entries: a chunk or a delta batch is closed once it
 * reaches `chunkBytes` of encoded keys and values (an entry larger than that travels alone), so
 * no message nears the frame limit however large the values. Between two messages the stream
 * yields to the event loop (a timer of 0 ms), and the byte window is what keeps live traffic on
 * the same connection flowing: the clone acknowledges a chunk once it applied it, so whatever is
 * published meanwhile waits behind at most `windowBytes` (plus one chunk) of snapshot in the
 * send queue, the socket buffers and the clone's decoder — not behind as much as the transport
 * would take.
 *
 * Every stream carries the id the clone chose in its Attach; the clone accepts only the stream of
 * its latest Attach, so chunks of an abandoned stream are never mixed into a new one.
 *
 * The backend is paged with a cursor; writes may continue meanwhile (the clone replays the
 * updates after the snapshot's starting sequence number, which converges because updates carry
 * resulting states).
 */
import type { Data } from '../data/types.js';
import type { Timers } from '../util/timers.js';
import { toText } from '../data/text.js';
import { StoreError } from '../errors.js';
import { preEncoded } from '../codec/native/values.js';
import type { StoreBackend } from './backend.js';
import type { ChangeLog } from './change-log.js';
import { StoreMsg, type Change, type StoreMessage } from './store-protocol.js';
import { changeSize, encodedSize, entrySize, SENDABLE_VALUE_LIMITS } from './value-size.js';

export interface SnapshotStreamConfig {
  readonly name: string;
  readonly backend: StoreBackend;
  readonly log: ChangeLog;
  /** Most entries in one chunk or delta batch. */
  readonly chunkSize: number;
  /** Target bytes (encoded keys and values) of one chunk or delta batch. */
  readonly chunkBytes: number;
  /** Largest entry that can be sent at all. */
  readonly maxEntryBytes: number;
  readonly window: number;
  /** Most bytes (encoded keys and values) of unacknowledged chunks; one chunk is always allowed. */
  readonly windowBytes: number;
  readonly timers: Timers;
  readonly send: (cloneId: string, msg: StoreMessage, kind: 'delta' | 'snapshot') => void;
  readonly epoch: string;
  readonly seq: () => number;
  readonly onError: (err: StoreError) => void;
}

/** A stream with no acknowledgement for this long is abandoned (the clone will attach again). */
export const SNAPSHOT_STALL_MS = 30_000;

interface Stream {
  readonly cloneId: string;
  readonly id: number;
  /** Delta: the last seq sent. Snapshot: the seq the snapshot starts from. */
  seq: number;
  readonly kind: 'delta' | 'snapshot';
  cursor: unknown;
  /** Entries of the last page not sent yet. */
  rest: PendingEntry[];
  sent: number;
  acked: number;
  /** Sizes of the chunks sent and not acknowledged yet, oldest first (index `acked + 1` on). */
  inFlight: number[];
  /** Delta: the last seq of each unacknowledged update, parallel to `inFlight`. */
  inFlightSeqs: number[];
  /** Delta: a `DeltaAck` arrived for this stream. */
  deltaAcked: boolean;
  inFlightBytes: number;
  finished: boolean;
  watchdog: unknown;
  /** The yield before the next message. */
  step: unknown;
}

export class SnapshotStreams {
  private readonly streams = new Map<string, Stream>();
  /** The most bytes ever unacknowledged in one stream (deltas and snapshots). */
  peakInFlightBytes = 0;

  constructor(private readonly cfg: SnapshotStreamConfig) {}

  get active(): number {
    return this.streams.size;
  }

  /** Bytes sent and not acknowledged yet, over all streams. */
  get inFlightBytes(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.inFlightBytes;
    return n;
  }

  /** Starts a snapshot for `cloneId`'s attach `id`. */
  start(cloneId: string, id: number): void {
    this.cancel(cloneId);
    const s = this.stream(cloneId, id, 'snapshot', this.cfg.seq());
    this.cfg.send(cloneId, { kind: StoreMsg.SnapshotBegin, epoch: this.cfg.epoch, seq: s.seq, stream: id }, 'snapshot');
    this.schedule(s);
  }

  /** Starts a delta of every change after `seq` (the log covers it); falls back to a snapshot if the log moves past it meanwhile. */
  startDelta(cloneId: string, id: number, seq: number): void {
    // The previous delta stalled on its window with no acknowledgement at all: a clone of store
    // protocol revision 2, which never acknowledges deltas. It gets snapshots (which it does
    // acknowledge) instead of a delta that would stall again.
    const prev = this.streams.get(cloneId);
    if (prev?.kind === 'delta' && !prev.deltaAcked && prev.inFlight.length > 0 && prev.step === undefined) {
      this.start(cloneId, id);
      return;
    }
    this.cancel(cloneId);
    this.schedule(this.stream(cloneId, id, 'delta', seq));
  }

  /** The clone received every change of its delta up to `seq` (`DeltaAck`, store protocol revision 3). */
  ackDelta(cloneId: string, id: number, seq: number): void {
    const s = this.streams.get(cloneId);
    if (!s || s.id !== id || s.kind !== 'delta') return;
    s.deltaAcked = true;
    while (s.inFlightSeqs.length > 0 && s.inFlightSeqs[0]! <= seq) {
      s.inFlightSeqs.shift();
      s.inFlightBytes -= s.inFlight.shift() ?? 0;
    }
    this.schedule(s);
  }

  ack(cloneId: string, id: number, index: number): void {
    const s = this.streams.get(cloneId);
    if (!s || s.id !== id || s.kind !== 'snapshot' || index <= s.acked || index >= s.sent) return;
    for (; s.acked < index; s.acked++) s.inFlightBytes -= s.inFlight.shift() ?? 0;
    this.schedule(s);
  }

  cancel(cloneId: string): void {
    const s = this.streams.get(cloneId);
    if (!s) return;
    if (s.watchdog !== undefined) this.cfg.timers.clearTimeout(s.watchdog);
    if (s.step !== undefined) this.cfg.timers.clearTimeout(s.step);
    this.streams.delete(cloneId);
  }

  cancelAll(): void {
    for (const id of [...this.streams.keys()]) this.cancel(id);
  }

  private stream(cloneId: string, id: number, kind: 'delta' | 'snapshot', seq: number): Stream {
    const s: Stream = {
      cloneId,
      id,
      seq,
      kind,
      cursor: undefined,
      rest: [],
      sent: 0,
      acked: -1,
      inFlight: [],
      inFlightSeqs: [],
      deltaAcked: false,
      inFlightBytes: 0,
      finished: false,
      watchdog: undefined,
      step: undefined,
    };
    this.streams.set(cloneId, s);
    return s;
  }

  private live(s: Stream): boolean {
    return this.streams.get(s.cloneId) === s;
  }

  /** Runs the next step after a yield to the event loop (once; later calls while one waits are merged). */
  private schedule(s: Stream): void {
    if (s.step !== undefined || !this.live(s)) return;
    s.step = this.cfg.timers.setTimeout(() => {
      s.step = undefined;
      if (!this.live(s)) return;
      try {
        if (s.kind === 'delta') this.deltaStep(s);
        else this.snapshotStep(s);
      } catch (err) {
        this.cancel(s.cloneId);
        this.cfg.onError(
          err instanceof StoreError
            ? err
            : new StoreError(
                'backend_failure',
                `store ${this.cfg.name}: a resync of clone ${s.cloneId} failed: ${String(err)}`,
                { cause: err },
              ),
        );
      }
    }, 0);
  }

  private deltaStep(s: Stream): void {
    const head = this.cfg.seq();
    if (s.seq >= head) {
      this.cfg.send(s.cloneId, { kind: StoreMsg.DeltaEnd, epoch: this.cfg.epoch, seq: head, stream: s.id }, 'delta');
      this.cancel(s.cloneId);
      return;
    }
    if (!this.cfg.log.covers(s.seq)) {
      // The log moved past this clone while the delta was under way: a snapshot instead.
      this.start(s.cloneId, s.id);
      return;
    }
    // The same window as snapshots: the next update leaves only while fewer than `window` updates
    // and fewer than `windowBytes` are unacknowledged (one may always be in flight).
    const unacked = s.inFlight.length;
    if (unacked >= this.cfg.window || (unacked > 0 && s.inFlightBytes >= this.cfg.windowBytes)) {
      this.armWatchdog(s);
      return;
    }
    const changes: Change[] = [];
    let bytes = 0;
    for (const c of this.cfg.log.after(s.seq)) {
      const size = changeSize(c);
      if (changes.length > 0 && (changes.length >= this.cfg.chunkSize || bytes + size > this.cfg.chunkBytes)) break;
      changes.push(c);
      bytes += size;
    }
    this.cfg.send(s.cloneId, { kind: StoreMsg.Update, epoch: this.cfg.epoch, seq: s.seq + 1, changes }, 'delta');
    s.seq += changes.length;
    s.inFlight.push(bytes);
    s.inFlightSeqs.push(s.seq);
    this.sent(s, bytes);
    this.armWatchdog(s);
    this.schedule(s);
  }

  private snapshotStep(s: Stream): void {
    if (s.finished) {
      if (s.acked + 1 >= s.sent) {
        this.cfg.send(
          s.cloneId,
          { kind: StoreMsg.SnapshotEnd, epoch: this.cfg.epoch, seq: s.seq, chunks: s.sent, stream: s.id },
          'snapshot',
        );
        this.cancel(s.cloneId);
      } else this.armWatchdog(s);
      return;
    }
    const unacked = s.sent - (s.acked + 1);
    if (unacked >= this.cfg.window || (unacked > 0 && s.inFlightBytes >= this.cfg.windowBytes)) {
      this.armWatchdog(s);
      return;
    }
    const entries: (readonly [Data, Data])[] = [];
    let bytes = 0;
    for (;;) {
      if (s.rest.length === 0) {
        if (s.cursor === null) break;
        const page = scanPage(this.cfg.backend, s.cursor, this.cfg.chunkSize, this.cfg.chunkBytes);
        s.cursor = page.cursor === undefined ? null : page.cursor;
        s.rest = page.entries.reverse();
        if (s.rest.length === 0) continue;
      }
      const e = s.rest[s.rest.length - 1]!;
      const size = e.size;
      if (size > this.cfg.maxEntryBytes || e.unsendable !== undefined) {
        this.fail(s, e.key, size, e.unsendable);
        return;
      }
      if (entries.length > 0 && (entries.length >= this.cfg.chunkSize || bytes + size > this.cfg.chunkBytes)) break;
      s.rest.pop();
      entries.push([e.key, e.value]);
      bytes += size;
    }
    if (entries.length > 0) {
      this.cfg.send(
        s.cloneId,
        { kind: StoreMsg.SnapshotChunk, epoch: this.cfg.epoch, index: s.sent, entries, stream: s.id },
        'snapshot',
      );
      s.sent++;
      s.inFlight.push(bytes);
      this.sent(s, bytes);
    }
    if (s.cursor === null && s.rest.length === 0) s.finished = true;
    this.armWatchdog(s);
    this.schedule(s);
  }

  private sent(s: Stream, bytes: number): void {
    s.inFlightBytes += bytes;
    if (s.inFlightBytes > this.peakInFlightBytes) this.peakInFlightBytes = s.inFlightBytes;
  }

  /** An entry that can never be sent (stored before the limit was checked, or under a larger one). */
  private fail(s: Stream, key: Data, size: number, unsendable?: string): void {
    const what =
      unsendable === undefined
        ? `${size} bytes, limit ${this.cfg.maxEntryBytes}`
        : `no peer accepts it (${unsendable})`;
    const err = new StoreError(
      'value_too_large',
      `value too large for store ${this.cfg.name}: ${what} (key ${toText(key).slice(0, 80)}); clones cannot sync until it is erased or made smaller`,
    );
    this.cancel(s.cloneId);
    this.cfg.send(
      s.cloneId,
      { kind: StoreMsg.SyncFailed, stream: s.id, code: err.code, text: err.message },
      'snapshot',
    );
    this.cfg.onError(err);
  }

  private armWatchdog(s: Stream): void {
    if (s.watchdog !== undefined) this.cfg.timers.clearTimeout(s.watchdog);
    s.watchdog = this.cfg.timers.setTimeout(() => this.cancel(s.cloneId), SNAPSHOT_STALL_MS);
  }
}

/** An entry of a snapshot page, measured: its value decoded, or its stored encoding (`preEncoded`). */
interface PendingEntry {
  readonly key: Data;
  readonly value: Data;
  /** Encoded bytes of key and value. */
  readonly size: number;
  /** Why the value can never be sent, when the backend found it beyond what peers accept. */
  readonly unsendable?: string;
}

/**
 * One page of the backend for a snapshot. A backend that keeps the values' native encoding
 * (SQLite) hands those bytes over, validated, and they are sent as they are; otherwise the values
 * are encoded when the chunk is.
 */
function scanPage(
  backend: StoreBackend,
  cursor: unknown,
  limit: number,
  maxBytes: number,
): { entries: PendingEntry[]; cursor: unknown } {
  if (backend.scanEncoded !== undefined) {
    const page = backend.scanEncoded(cursor, limit, maxBytes, SENDABLE_VALUE_LIMITS);
    return {
      entries: page.entries.map((e) => ({
        key: e.key,
        value: preEncoded(e.value),
        size: encodedSize(e.key) + e.value.length,
        unsendable: e.unsendable,
      })),
      cursor: page.cursor,
    };
  }
  const page = backend.scan(cursor, limit, maxBytes);
  return {
    entries: page.entries.map((e) => ({ key: e.key, value: e.value, size: entrySize(e.key, e.value) })),
    cursor: page.cursor,
  };
}
