/**
 * Duplicate suppression for flooded messages: per origin, a sliding window over sequence numbers.
 * A message is new once; its duplicates (arriving over another path) are refused. A jump far
 * outside the window means the origin restarted, and the window starts again.
 *
 * Only routers' sequence numbers reach a Deduplicator: a hub stamps its leaves' messages with its
 * own origin and sequence numbers (overlay.ts), so a client cannot poison anyone's window, and the
 * overlay refuses relayed sequence numbers that jump too far ahead (`ahead`).
 */

export const DEDUP_WINDOW = 4096;
/**
 * Most origins tracked at once. Backbone messages may carry origins nobody announced (routers
 * behind another backbone member), so the table is bounded: past this, the longest-tracked
 * origin is forgotten (at worst one of its later duplicates gets through once).
 */
export const MAX_DEDUP_ORIGINS = 65_536;
const RESTART_JUMP = 1 << 20;

class Window {
  highest: number;
  private readonly bits = new Uint32Array(DEDUP_WINDOW / 32);

  constructor(seq: number) {
    this.highest = seq;
    this.set(seq);
  }

  private set(seq: number): void {
    const i = seq % DEDUP_WINDOW;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private has(seq: number): boolean {
    const i = seq % DEDUP_WINDOW;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  private clear(seq: number): void {
    const i = seq % DEDUP_WINDOW;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** True when `seq` is new (and records it). */
  accept(seq: number): boolean {
    if (seq > this.highest) {
      if (seq - this.highest >= DEDUP_WINDOW) this.bits.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.clear(s);
      this.highest = seq;
      this.set(seq);
      return true;
    }
    if (this.highest - seq >= DEDUP_WINDOW) return false;
    if (this.has(seq)) return false;
    this.set(seq);
    return true;
  }
}

export class Deduplicator {
  private readonly windows = new Map<string, Window>();

  /** True when the message (origin, seq) was not seen before. */
  accept(origin: string, seq: number): boolean {
    const w = this.windows.get(origin);
    if (!w || Math.abs(seq - w.highest) > RESTART_JUMP) {
      if (!w && this.windows.size >= MAX_DEDUP_ORIGINS) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(origin, new Window(seq));
      return true;
    }
    return w.accept(seq);
  }

  /** How far `seq` is ahead of the highest sequence number seen from `origin` (0 when unknown or behind). */
  ahead(origin: string, seq: number): number {
    const w = this.windows.get(origin);
    return w && seq > w.highest ? seq - w.highest : 0;
  }

  /** Number of origins tracked. */
  get size(): number {
    return this.windows.size;
  }

  forget(origin: string): void {
    this.windows.delete(origin);
  }
}
