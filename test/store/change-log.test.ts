/** ChangeLog: which sequence numbers it covers, delta extraction in batches, bounded trimming, gaps. */
import { describe, expect, it } from 'vitest';
import { count, string } from '../../src/data/constructors.js';
import { ChangeLog } from '../../src/store/change-log.js';
import { ChangeKind, type Change } from '../../src/store/store-protocol.js';

/** A put whose value is its own sequence number, so every extracted change names its seq. */
const put = (seq: number): Change => ({ kind: ChangeKind.Put, key: string(`k${seq}`), value: count(seq) });
const seqOf = (c: Change): number => Number((c as { value: { value: bigint } }).value.value);

/** Appends changes seq `from`..`to` (inclusive) one append per change. */
function appendRange(log: ChangeLog, from: number, to: number): void {
  for (let s = from; s <= to; s++) log.append(s, [put(s)]);
}

/** Every change after `seq`, flattened, checking that each batch's seq matches its first change. */
function delta(log: ChangeLog, seq: number, batch = 1000): number[] {
  const out: number[] = [];
  for (const b of log.since(seq, batch)) {
    expect(b.changes.length).toBeGreaterThan(0);
    expect(b.changes.length).toBeLessThanOrEqual(batch);
    expect(seqOf(b.changes[0]!)).toBe(b.seq);
    out.push(...b.changes.map(seqOf));
  }
  return out;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('ChangeLog coverage and deltas', () => {
  it('an empty log covers its head and nothing before it', () => {
    const log = new ChangeLog(100, 10);
    expect(log.covers(10)).toBe(true);
    expect(log.covers(9)).toBe(false);
    expect(delta(log, 10)).toEqual([]);
  });

  it('returns exactly the changes after a covered seq, in order', () => {
    const log = new ChangeLog(100, 0);
    appendRange(log, 1, 20);
    expect(log.covers(0)).toBe(true);
    expect(delta(log, 0)).toEqual(range(1, 20));
    expect(delta(log, 7)).toEqual(range(8, 20));
    expect(delta(log, 19)).toEqual([20]);
    expect(delta(log, 20)).toEqual([]);
  });

  it('splits a delta into batches of at most `batch`, each labelled with its first seq', () => {
    const log = new ChangeLog(100, 100);
    appendRange(log, 101, 125);
    const batches = [...log.since(103, 10)].map((b) => ({ seq: b.seq, n: b.changes.length }));
    expect(batches).toEqual([
      { seq: 104, n: 10 },
      { seq: 114, n: 10 },
      { seq: 124, n: 2 },
    ]);
    expect(delta(log, 103, 10)).toEqual(range(104, 125));
  });

  it('one append of several changes advances the seq by one per change', () => {
    const log = new ChangeLog(100, 0);
    log.append(1, [put(1), put(2), put(3)]);
    log.append(4, [put(4)]);
    expect(delta(log, 0)).toEqual([1, 2, 3, 4]);
    expect(delta(log, 2)).toEqual([3, 4]);
  });

  it('keeps every kind of change as it was appended', () => {
    const log = new ChangeLog(10, 0);
    const changes: Change[] = [
      { kind: ChangeKind.Put, key: string('a'), value: count(1) },
      { kind: ChangeKind.Erase, key: string('a') },
      { kind: ChangeKind.Expire, key: string('b') },
      { kind: ChangeKind.Clear },
    ];
    log.append(1, changes);
    expect([...log.since(0, 10)]).toEqual([{ seq: 1, changes }]);
  });
});

describe('ChangeLog trimming', () => {
  it('stays within 1.25 × capacity and keeps the newest changes', () => {
    const capacity = 8;
    const log = new ChangeLog(capacity, 0);
    for (let s = 1; s <= 200; s++) {
      log.append(s, [put(s)]);
      const kept = delta(log, firstCovered(log, s) - 1);
      expect(kept.length).toBeLessThanOrEqual(capacity * 1.25);
      expect(kept.length).toBeGreaterThanOrEqual(Math.min(s, capacity));
      expect(kept[kept.length - 1]).toBe(s);
    }
  });

  it('stops covering trimmed seqs, and still serves deltas from the oldest one kept', () => {
    const log = new ChangeLog(8, 0);
    appendRange(log, 1, 20);
    const oldest = firstCovered(log, 20);
    expect(oldest).toBeGreaterThan(1);
    expect(20 - oldest + 1).toBeGreaterThanOrEqual(8);
    expect(log.covers(oldest - 1)).toBe(true);
    expect(log.covers(oldest - 2)).toBe(false);
    expect(log.covers(0)).toBe(false);
    expect(delta(log, oldest - 1)).toEqual(range(oldest, 20));
  });

  it('trims in steps, not on every append past the capacity', () => {
    const log = new ChangeLog(8, 0);
    appendRange(log, 1, 9); // one over: within the 25 % slack
    expect(log.covers(0)).toBe(true);
    appendRange(log, 10, 10); // two over: trimmed back to 8
    expect(log.covers(0)).toBe(false);
    expect(log.covers(2)).toBe(true);
    expect(delta(log, 2)).toEqual(range(3, 10));
  });

  it('a capacity of one still keeps the latest change', () => {
    const log = new ChangeLog(1, 0);
    appendRange(log, 1, 5);
    expect(delta(log, 4)).toEqual([5]);
    expect(log.covers(3)).toBe(false);
  });
});

describe('ChangeLog gaps', () => {
  it('starts over at a gap: seqs before it are no longer covered', () => {
    const log = new ChangeLog(100, 0);
    appendRange(log, 1, 5);
    log.append(9, [put(9), put(10)]);
    expect(log.covers(5)).toBe(false);
    expect(log.covers(8)).toBe(true);
    expect(delta(log, 8)).toEqual([9, 10]);
    log.append(11, [put(11)]);
    expect(delta(log, 8)).toEqual([9, 10, 11]);
  });

  it('an append that repeats an old seq also starts over there', () => {
    const log = new ChangeLog(100, 0);
    appendRange(log, 1, 5);
    log.append(3, [put(3)]);
    expect(log.covers(1)).toBe(false);
    expect(delta(log, 2)).toEqual([3]);
  });
});

/** The smallest seq the log still holds, found through `covers` alone. */
function firstCovered(log: ChangeLog, head: number): number {
  let s = head;
  while (s > 0 && log.covers(s - 2)) s--;
  return s;
}
