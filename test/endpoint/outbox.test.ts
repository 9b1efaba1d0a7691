/** Outbox: batching per turn, control before data, congestion back-off, flushNow and close. */
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxOptions } from '../../src/endpoint/outbox.js';
import type { Frame, Transport, TransportHandlers } from '../../src/transport/transport.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Manual timers: nothing fires until the test calls `advance`. */

/** A transport that records what is sent and reports whatever backlog the test sets. */
class RecordingTransport implements Transport {
  readonly remote = 'test';
  readonly sent: Frame[] = [];
  buffered = 0;
  send(frame: Frame): void {
    this.sent.push(frame);
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  close(): void {}
  attach(_handlers: TransportHandlers): void {}
}

/** One frame per batch, spelling out its items: "d:1,2,3". */
const batchFrames = (items: number[]): Frame[] => [`d:${items.join(',')}`];

function setup(over: Partial<OutboxOptions<number>> = {}) {
  const timers = new ManualTimers();
  const transport = new RecordingTransport();
  const outbox = new Outbox<number>(transport, {
    limit: 100,
    policy: 'drop_oldest',
    highWaterMark: 1000,
    maxBatch: 10,
    toFrames: batchFrames,
    timers,
    ...over,
  });
  return { timers, transport, outbox };
}

const turn = (): Promise<void> => new Promise((r) => queueMicrotask(r));

describe('Outbox batching', () => {
  it('sends nothing synchronously below a full batch, then everything of the turn in one frame', async () => {
    const { transport, outbox } = setup();
    for (let i = 0; i < 4; i++) expect(outbox.push(i)).toBe('queued');
    expect(transport.sent).toEqual([]);
    await turn();
    expect(transport.sent).toEqual(['d:0,1,2,3']);
    expect(outbox.queue.length).toBe(0);
    expect(outbox.queue.stats().sent).toBe(4);
  });

  it('writes a full batch at once, without waiting for the end of the turn', () => {
    const { transport, outbox } = setup({ maxBatch: 3 });
    outbox.push(1);
    outbox.push(2);
    expect(transport.sent).toEqual([]);
    outbox.push(3);
    expect(transport.sent).toEqual(['d:1,2,3']);
  });

  it('splits a large backlog into frames of at most maxBatch, in order', async () => {
    const { transport, outbox } = setup({ maxBatch: 4, limit: 1000 });
    transport.buffered = 5000; // congested: everything stays queued
    for (let i = 0; i < 10; i++) outbox.push(i);
    await turn();
    expect(transport.sent).toEqual([]);
    outbox.flushNow();
    expect(transport.sent).toEqual(['d:0,1,2,3', 'd:4,5,6,7', 'd:8,9']);
  });

  it('a small limit lowers the batch threshold to half the limit', () => {
    const { transport, outbox } = setup({ limit: 4, maxBatch: 100 });
    outbox.push(1);
    expect(transport.sent).toEqual([]);
    outbox.push(2);
    expect(transport.sent).toEqual(['d:1,2']);
  });

  it('sends control frames first, even when they were queued after data', async () => {
    const { transport, outbox } = setup();
    outbox.push(1);
    outbox.pushControl('c:hello');
    outbox.push(2);
    outbox.pushControl('c:announce');
    await turn();
    expect(transport.sent).toEqual(['c:hello', 'c:announce', 'd:1,2']);
  });
});

describe('Outbox congestion', () => {
  it('holds data while the transport is above the high-water mark and polls until it drains', async () => {
    const { timers, transport, outbox } = setup({ highWaterMark: 100 });
    transport.buffered = 101;
    outbox.push(1);
    outbox.push(2);
    await turn();
    expect(transport.sent).toEqual([]);
    expect(timers.armed).toBe(1);
    outbox.push(3); // joins the backlog; no second poll timer
    await turn();
    expect(timers.armed).toBe(1);
    timers.advance(5);
    expect(transport.sent).toEqual([]); // still congested: polls again
    expect(timers.armed).toBe(1);
    transport.buffered = 100; // at the mark is not above it
    timers.advance(5);
    expect(transport.sent).toEqual(['d:1,2,3']);
    expect(timers.armed).toBe(0);
    // Drained: the next message goes out at the end of its turn again, without a poll.
    outbox.push(4);
    await turn();
    expect(transport.sent).toEqual(['d:1,2,3', 'd:4']);
  });

  it('full batches pushed while congested arm no further poll timers', () => {
    const { timers, transport, outbox } = setup({ maxBatch: 10, limit: 1000 });
    transport.buffered = 5000;
    for (let i = 0; i < 35; i++) outbox.push(i);
    expect(transport.sent).toEqual([]);
    expect(timers.armed).toBe(1);
    transport.buffered = 0;
    timers.advance(5);
    expect(transport.sent).toEqual([
      'd:0,1,2,3,4,5,6,7,8,9',
      'd:10,11,12,13,14,15,16,17,18,19',
      'd:20,21,22,23,24,25,26,27,28,29',
      'd:30,31,32,33,34',
    ]);
  });

  it('control frames wait while congested (bounded by the byte limit), then go before data', async () => {
    const { timers, transport, outbox } = setup({ highWaterMark: 0 });
    outbox.pushControl('c:hello');
    await turn();
    expect(transport.sent).toEqual(['c:hello']);
    transport.buffered = 1;
    outbox.push(7);
    outbox.pushControl('c:ping');
    await turn();
    timers.advance(5);
    expect(transport.sent).toEqual(['c:hello']);
    expect(outbox.stats()).toMatchObject({ queued: 1, queuedBytes: 'c:ping'.length, bufferedBytes: 1 });
    transport.buffered = 0;
    timers.advance(5);
    expect(transport.sent).toEqual(['c:hello', 'c:ping', 'd:7']);
  });

  it('the overflow policy applies to the backlog built up while congested', async () => {
    const { transport, outbox } = setup({ limit: 4, maxBatch: 100, policy: 'drop_newest' });
    transport.buffered = 5000;
    const results = [1, 2, 3, 4, 5, 6].map((i) => outbox.push(i));
    await turn();
    expect(results).toEqual(['queued', 'queued', 'queued', 'queued', 'dropped', 'dropped']);
    expect(outbox.queue.stats().overflows).toBe(2);
    transport.buffered = 0;
    outbox.flushNow();
    expect(transport.sent).toEqual(['d:1,2,3,4']);
  });

  it('disconnect policy: reports the overflow to the caller', () => {
    const { transport, outbox } = setup({ limit: 2, maxBatch: 100, policy: 'disconnect' });
    transport.buffered = 5000;
    outbox.push(1);
    outbox.push(2);
    expect(outbox.push(3)).toBe('overflow-disconnect');
  });
});

describe('Outbox close', () => {
  it('drops what is queued, refuses new messages and cancels its poll timer', async () => {
    const { timers, transport, outbox } = setup();
    transport.buffered = 5000;
    outbox.push(1);
    await turn();
    expect(timers.armed).toBe(1);
    outbox.close();
    expect(timers.armed).toBe(0);
    expect(outbox.queue.length).toBe(0); // queued messages are released
    expect(outbox.push(2)).toBe('dropped');
    outbox.pushControl('c:late');
    transport.buffered = 0;
    outbox.flushNow();
    timers.advance(100);
    await turn();
    expect(transport.sent).toEqual([]);
  });

  it('a flush scheduled before close sends nothing', async () => {
    const { transport, outbox } = setup();
    outbox.push(1);
    outbox.pushControl('c:x');
    outbox.close();
    await turn();
    expect(transport.sent).toEqual([]);
  });
});
