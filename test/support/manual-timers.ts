/** A clock and timers a test moves by hand (`Timers`, src/util/timers.ts). */
import type { Timers } from '../../src/util/timers.js';

/**
 * `advance(ms)` moves the clock by `ms` at once, then runs every timer that fell due, earliest
 * first (timers they set that fall due too run in the same call).
 */
export class ManualTimers implements Timers {
  t = 0;
  private pending: { at: number; fn: () => void; cancelled: boolean }[] = [];
  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const h = { at: this.t + ms, fn, cancelled: false };
    this.pending.push(h);
    return h;
  };
  readonly clearTimeout = (h: unknown): void => {
    (h as { cancelled: boolean }).cancelled = true;
  };
  /** Timers set and not yet fired or cleared. */
  get armed(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.pending.filter((p) => !p.cancelled && p.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      due.fn();
    }
  }
}
