/**
 * Send buffers bounded in bytes as well as messages, the write deadline, bounded control traffic,
 * and the rate limits on bad input and on log lines — on a clock the test moves by hand.
 */
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxOptions } from '../../src/endpoint/outbox.js';
import { SendQueue, type OverflowPolicy } from '../../src/util/send-queue.js';
import { BadInputGuard, KeyedRateLimit, errorContext, MAX_ERROR_CONTEXT } from '../../src/endpoint/limits.js';
import type { Timers } from '../../src/util/timers.js';
import type { Frame, Transport, TransportHandlers } from '../../src/transport/transport.js';

class ManualTimers implements Timers {
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
  /** Moves the clock in steps of `step` ms, running what falls due (bounded). */
  advance(ms: number, step = 5): void {
    const end = this.t + ms;
    while (this.t < end) {
      this.t = Math.min(end, this.t + step);
      for (let guard = 0; guard < 10_000; guard++) {
        const due = this.pending.filter((p) => !p.cancelled && p.at <= this.t).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        this.pending.splice(this.pending.indexOf(due), 1);
        due.fn();
      }
    }
  }
}

/** A transport whose backlog the test controls: every frame sent adds to it unless `draining`. */
class StuckTransport implements Transport {
  readonly remote = 'test';
  readonly sent: Frame[] = [];
  buffered = 0;
  draining = false;
  send(frame: Frame): void {
    this.sent.push(frame);
    if (!this.draining) this.buffered += typeof frame === 'string' ? frame.length : frame.byteLength;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  close(): void {}
  attach(_handlers: TransportHandlers): void {}
}

const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);
const turn = (): Promise<void> => new Promise((r) => queueMicrotask(r));

describe('SendQueue bounded in bytes', () => {
  const queue = (policy: OverflowPolicy, limit = 1000, byteLimit = 10_000) =>
    new SendQueue<Uint8Array>(
      limit,
      policy,
      () => 0,
      byteLimit,
      (m) => m.byteLength,
    );

  it('large messages overflow by bytes long before the message count, with each policy', () => {
    for (const policy of ['drop_oldest', 'drop_newest', 'disconnect'] as const) {
      const q = queue(policy);
      const results = Array.from({ length: 5 }, (_, i) => q.push(bytes(3000, i)));
      // 3 × 3000 fit in 10,000 bytes; the fourth does not, though 1000 messages would be allowed.
      const expected = { drop_oldest: 'queued', drop_newest: 'dropped', disconnect: 'overflow-disconnect' }[policy];
      expect(results).toEqual(['queued', 'queued', 'queued', expected, expected]);
      const s = q.stats();
      expect(s.queuedBytes).toBeLessThanOrEqual(10_000);
      expect(s.maxQueuedBytesRecently).toBeLessThanOrEqual(10_000);
      expect(s.overflows).toBe(2);
      const kept = q.take(100).map((m) => m[0]);
      expect(kept).toEqual(policy === 'drop_oldest' ? [2, 3, 4] : [0, 1, 2]);
    }
  });

  it('drop_oldest drops as many old messages as a large one needs, and counts each', () => {
    const q = queue('drop_oldest');
    for (let i = 0; i < 10; i++) q.push(bytes(1000, i));
    expect(q.push(bytes(4500, 99))).toBe('queued');
    expect(q.stats()).toMatchObject({ queued: 6, queuedBytes: 9500, overflows: 5 });
    expect(q.take(100).map((m) => m[0])).toEqual([5, 6, 7, 8, 9, 99]);
  });

  it('a message larger than the whole bound still travels, alone', () => {
    const q = queue('drop_newest');
    q.push(bytes(100));
    expect(q.push(bytes(50_000))).toBe('dropped');
    q.take(1);
    expect(q.push(bytes(50_000))).toBe('queued');
    expect(q.push(bytes(1))).toBe('dropped');
    expect(q.stats().queuedBytes).toBe(50_000);
  });

  it('take stops at about maxBytes but always hands out one message', () => {
    const q = queue('drop_oldest', 1000, 1e9);
    for (let i = 0; i < 10; i++) q.push(bytes(400, i));
    expect(q.take(100, 1000).length).toBe(2);
    expect(q.take(100, 10).length).toBe(1);
    expect(q.byteLength).toBe(7 * 400);
  });
});

function outbox(over: Partial<OutboxOptions<Uint8Array>> = {}) {
  const timers = new ManualTimers();
  const transport = new StuckTransport();
  const stalls: string[] = [];
  const box = new Outbox<Uint8Array>(transport, {
    limit: 1000,
    policy: 'drop_oldest',
    highWaterMark: 1000,
    maxBatch: 10,
    toFrames: (items) => items,
    timers,
    byteLimit: 10_000,
    writeTimeout: 1000,
    onStall: (why) => stalls.push(why),
    ...over,
  });
  return { timers, transport, box, stalls };
}

describe('Outbox: write deadline and bounded control traffic', () => {
  it('a transport that stops draining is reported stalled after the write deadline, its queue dropped', async () => {
    const { timers, transport, box, stalls } = outbox();
    for (let i = 0; i < 30; i++) box.push(bytes(500));
    await turn();
    // Writes stop at the high-water mark (plus one batch); the rest waits, bounded in bytes.
    expect(transport.buffered).toBeGreaterThan(1000);
    expect(transport.buffered).toBeLessThanOrEqual(1000 + 10 * 500);
    const held = box.stats();
    expect(held.queuedBytes).toBeLessThanOrEqual(10_000);
    timers.advance(900);
    expect(stalls).toEqual([]);
    timers.advance(400);
    expect(stalls.length).toBe(1);
    expect(stalls[0]).toMatch(
      /has not drained for \d+ ms \(write deadline 1000 ms\); \d+ messages \(\d+ bytes\) queued/,
    );
    expect(box.queue.length).toBe(0);
  });

  it('a transport that drains, however slowly, is not stalled', async () => {
    const { timers, transport, box, stalls } = outbox();
    for (let i = 0; i < 30; i++) box.push(bytes(500));
    await turn();
    for (let i = 0; i < 20; i++) {
      transport.buffered -= 50; // a trickle
      timers.advance(250);
    }
    expect(stalls).toEqual([]);
    transport.buffered = 0;
    transport.draining = true;
    timers.advance(100);
    expect(box.queue.length).toBe(0);
    expect(stalls).toEqual([]);
  });

  it('control frames wait while congested; a control backlog beyond the byte bound drops the peer', () => {
    const { timers, transport, box, stalls } = outbox({ writeTimeout: 0 });
    transport.buffered = 5000;
    for (let i = 0; i < 99 && stalls.length === 0; i++) box.pushControl(bytes(100));
    timers.advance(20);
    expect(transport.sent).toEqual([]);
    for (let i = 0; i < 10 && stalls.length === 0; i++) box.pushControl(bytes(100));
    expect(stalls.length).toBe(1);
    expect(stalls[0]).toMatch(/^\d+ bytes of control messages waiting/);
    expect(box.stats().queuedBytes).toBe(0);
  });

  it('notices (error replies) count against the byte bound and are dropped beyond it', () => {
    const { transport, box } = outbox({ writeTimeout: 0 });
    transport.buffered = 6000;
    for (let i = 0; i < 3; i++) box.push(bytes(1000));
    expect(box.pushNotice(bytes(500))).toBe(true);
    expect(box.pushNotice(bytes(600))).toBe(false);
    expect(box.noticesDropped).toBe(1);
    expect(box.heldBytes()).toBe(6000 + 3000 + 500);
  });
});

describe('rate limits', () => {
  it('BadInputGuard answers the first few of a window, counts the rest, closes beyond the limit', () => {
    let t = 0;
    const g = new BadInputGuard(() => t, 20, 3, 1000);
    const actions = Array.from({ length: 22 }, () => g.record());
    expect(actions.slice(0, 3)).toEqual(['reply', 'reply', 'reply']);
    expect(actions.slice(3, 20).every((a) => a === 'quiet')).toBe(true);
    expect(actions.slice(20)).toEqual(['close', 'close']);
    expect(g.takeUnreported()).toBe(17);
    t = 1000; // a new window
    expect(g.record()).toBe('reply');
    expect(g.total).toBe(23);
    expect(g.closeContext()).toContain('more than 20 bad inputs within 1000 ms');
  });

  it('errorContext cuts long contexts and names what went unanswered', () => {
    expect(errorContext('x'.repeat(5000)).length).toBe(MAX_ERROR_CONTEXT);
    expect(errorContext('bad', 4)).toBe('bad (and 4 earlier bad inputs not answered)');
  });

  it('KeyedRateLimit lets a few per key and window through and reports the rest once', () => {
    let t = 0;
    const r = new KeyedRateLimit(() => t, 2, 1000, 3);
    const a = Array.from({ length: 10 }, () => r.admit('a'));
    expect(a).toEqual([0, 0, ...Array(8).fill(undefined)]);
    expect(r.admit('b')).toBe(0);
    expect(r.drain()).toEqual([]); // the windows have not ended
    t = 1000;
    expect(r.drain()).toEqual([['a', 8]]);
    // A suppressed count not drained yet is reported with the next line let through.
    for (let i = 0; i < 5; i++) r.admit('c');
    t = 2000;
    expect(r.admit('c')).toBe(3);
    // Beyond maxKeys, new keys share one.
    for (const k of ['d', 'e', 'f', 'g', 'h']) r.admit(k);
    expect(r.drain(true).length).toBeLessThanOrEqual(3);
  });
});
