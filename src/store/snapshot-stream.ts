/**
 * Snapshots streamed to clones in chunks with a window: at most `window` chunks are unacknowledged
 * at a time, so neither side ever holds a second full copy of the store and a slow clone slows
 * its own stream only. The backend is paged with a cursor; writes may continue meanwhile (the
 * clone replays the updates after the snapshot's starting sequence number, which converges
 * because updates carry resulting states).
 */
import type { Timers } from '../endpoint/timers.js';
import type { StoreBackend } from './backend.js';
import { StoreMsg, type StoreMessage } from './store-protocol.js';

export interface SnapshotStreamConfig {
  readonly backend: StoreBackend;
  readonly chunkSize: number;
  readonly window: number;
  readonly timers: Timers;
  readonly send: (cloneId: string, msg: StoreMessage) => void;
  readonly epoch: string;
  readonly seq: () => number;
}

/** A stream with no acknowledgement for this long is abandoned (the clone will attach again). */
export const SNAPSHOT_STALL_MS = 30_000;

interface Stream {
  readonly startSeq: number;
  cursor: unknown;
  sent: number;
  acked: number;
  finished: boolean;
  watchdog: unknown;
}

export class SnapshotStreams {
  private readonly streams = new Map<string, Stream>();

  constructor(private readonly cfg: SnapshotStreamConfig) {}

  get active(): number {
    return this.streams.size;
  }

  start(cloneId: string): void {
    this.cancel(cloneId);
    const s: Stream = { startSeq: this.cfg.seq(), cursor: undefined, sent: 0, acked: -1, finished: false, watchdog: undefined };
    this.streams.set(cloneId, s);
    this.cfg.send(cloneId, { kind: StoreMsg.SnapshotBegin, epoch: this.cfg.epoch, seq: s.startSeq });
    this.pump(cloneId, s);
  }

  ack(cloneId: string, index: number): void {
    const s = this.streams.get(cloneId);
    if (!s || index < s.acked) return;
    s.acked = index;
    this.pump(cloneId, s);
  }

  cancel(cloneId: string): void {
    const s = this.streams.get(cloneId);
    if (!s) return;
    if (s.watchdog !== undefined) this.cfg.timers.clearTimeout(s.watchdog);
    this.streams.delete(cloneId);
  }

  cancelAll(): void {
    for (const id of [...this.streams.keys()]) this.cancel(id);
  }

  private pump(cloneId: string, s: Stream): void {
    while (!s.finished && s.sent - (s.acked + 1) < this.cfg.window) {
      const page = this.cfg.backend.scan(s.cursor, this.cfg.chunkSize);
      s.cursor = page.cursor;
      if (page.entries.length > 0) {
        this.cfg.send(cloneId, {
          kind: StoreMsg.SnapshotChunk,
          epoch: this.cfg.epoch,
          index: s.sent,
          entries: page.entries.map((e) => [e.key, e.value] as const),
        });
        s.sent++;
      }
      if (page.cursor === undefined) s.finished = true;
    }
    if (s.finished && s.acked + 1 >= s.sent) {
      this.cfg.send(cloneId, { kind: StoreMsg.SnapshotEnd, epoch: this.cfg.epoch, seq: s.startSeq, chunks: s.sent });
      this.cancel(cloneId);
      return;
    }
    if (s.watchdog !== undefined) this.cfg.timers.clearTimeout(s.watchdog);
    s.watchdog = this.cfg.timers.setTimeout(() => this.cancel(cloneId), SNAPSHOT_STALL_MS);
  }
}
