/** SendQueue: FIFO order, the bound, Broker's three overflow policies, and the statistics. */
import { describe, expect, it } from 'vitest';
import { MAX_QUEUED_WINDOW_MS, SendQueue, type OverflowPolicy } from '../../src/util/send-queue.js';

/** A queue on a clock the test moves by hand. */
function queue(limit: number, policy: OverflowPolicy = 'drop_oldest') {
  const clock = { t: 1_000 };
  const q = new SendQueue<number>(limit, policy, () => clock.t);
  return { q, clock };
}

const fill = (q: SendQueue<number>, from: number, to: number): string[] => {
  const results: string[] = [];
  for (let i = from; i < to; i++) results.push(q.push(i));
  return results;
};

describe('SendQueue order and take', () => {
  it('hands items out oldest first, at most `max` at a time, and counts them as sent', () => {
    const { q } = queue(10);
    expect(fill(q, 0, 5)).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    expect(q.length).toBe(5);
    expect(q.take(2)).toEqual([0, 1]);
    expect(q.length).toBe(3);
    q.push(5);
    expect(q.take(100)).toEqual([2, 3, 4, 5]);
    expect(q.take(3)).toEqual([]);
    expect(q.length).toBe(0);
    expect(q.stats()).toMatchObject({ queued: 0, sent: 6, overflows: 0 });
  });

  it('keeps FIFO order across many pushes and takes (including its internal compaction)', () => {
    const { q } = queue(5000);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      fill(q, next, next + 700);
      next += 700;
      out.push(...q.take(650));
    }
    out.push(...q.take(Infinity));
    expect(out).toEqual([...Array(next).keys()]);
    expect(q.stats().sent).toBe(next);
  });

  it('clear() empties the queue without counting anything as sent', () => {
    const { q } = queue(10);
    fill(q, 0, 4);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.take(10)).toEqual([]);
    q.push(9);
    expect(q.take(10)).toEqual([9]);
    expect(q.stats()).toMatchObject({ queued: 0, sent: 1 });
  });
});

describe('SendQueue overflow policies', () => {
  it('drop_oldest: a push into a full queue evicts the oldest item and still queues the new one', () => {
    const { q } = queue(3, 'drop_oldest');
    expect(fill(q, 0, 5)).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([2, 3, 4]);
    expect(q.stats()).toMatchObject({ overflows: 2, sent: 3 });
  });

  it('drop_newest: a push into a full queue is refused and the queued items stay', () => {
    const { q } = queue(3, 'drop_newest');
    expect(fill(q, 0, 5)).toEqual(['queued', 'queued', 'queued', 'dropped', 'dropped']);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([0, 1, 2]);
    expect(q.stats()).toMatchObject({ overflows: 2, sent: 3 });
  });

  it('disconnect: a push into a full queue asks for a disconnect and queues nothing', () => {
    const { q } = queue(3, 'disconnect');
    expect(fill(q, 0, 4)).toEqual(['queued', 'queued', 'queued', 'overflow-disconnect']);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([0, 1, 2]);
    expect(q.stats().overflows).toBe(1);
  });

  it.each(['drop_oldest', 'drop_newest', 'disconnect'] as const)(
    '%s: nothing overflows while the queue stays within its limit, and taking makes room again',
    (policy) => {
      const { q } = queue(3, policy);
      expect(fill(q, 0, 3)).toEqual(['queued', 'queued', 'queued']);
      expect(q.take(1)).toEqual([0]);
      expect(q.push(3)).toBe('queued');
      expect(q.length).toBe(3);
      expect(q.stats().overflows).toBe(0);
      expect(q.take(10)).toEqual([1, 2, 3]);
    },
  );

  it('a limit of one still holds one item', () => {
    const { q } = queue(1, 'drop_oldest');
    q.push(1);
    q.push(2);
    expect(q.take(5)).toEqual([2]);
  });
});

describe('SendQueue statistics', () => {
  it('reports the backlog now and the largest backlog of the current window', () => {
    const { q } = queue(100);
    fill(q, 0, 7);
    q.take(5);
    expect(q.stats()).toMatchObject({ queued: 2, maxQueuedRecently: 7, overflows: 0, sent: 5 });
  });

  it('remembers a peak for one more window after its own, then forgets it', () => {
    const { q, clock } = queue(100);
    fill(q, 0, 9);
    q.take(8); // peak 9, now 1
    clock.t += MAX_QUEUED_WINDOW_MS - 1;
    expect(q.stats().maxQueuedRecently).toBe(9); // same window
    clock.t += 1;
    expect(q.stats().maxQueuedRecently).toBe(9); // next window: the previous peak still counts
    q.push(100); // 2 queued
    clock.t += MAX_QUEUED_WINDOW_MS;
    expect(q.stats().maxQueuedRecently).toBe(2); // the peak of 9 is two windows old
    expect(q.stats().queued).toBe(2);
  });

  it('after a long silence the remembered maximum is the current backlog', () => {
    const { q, clock } = queue(100);
    fill(q, 0, 50);
    q.take(47);
    clock.t += 5 * MAX_QUEUED_WINDOW_MS;
    expect(q.stats()).toMatchObject({ queued: 3, maxQueuedRecently: 3 });
  });

  it('a backlog still waiting counts as the maximum of every later window', () => {
    const { q, clock } = queue(100);
    fill(q, 0, 5); // never taken
    for (let w = 1; w <= 3; w++) {
      clock.t += MAX_QUEUED_WINDOW_MS;
      expect(q.stats().maxQueuedRecently).toBe(5);
    }
  });

  it('forgets a peak exactly two windows after it without a look in between', () => {
    const { q, clock } = queue(100);
    fill(q, 0, 50);
    q.take(47);
    clock.t += 2 * MAX_QUEUED_WINDOW_MS - 1;
    expect(q.stats().maxQueuedRecently).toBe(50); // one window ago, as far as the queue can tell
    const q2 = queue(100);
    fill(q2.q, 0, 50);
    q2.q.take(47);
    q2.clock.t += 2 * MAX_QUEUED_WINDOW_MS;
    expect(q2.q.stats().maxQueuedRecently).toBe(3);
  });

  it('the peak never exceeds the limit however many pushes overflow', () => {
    const { q } = queue(4, 'drop_oldest');
    fill(q, 0, 50);
    expect(q.stats()).toMatchObject({ queued: 4, maxQueuedRecently: 4, overflows: 46, sent: 0 });
  });
});
