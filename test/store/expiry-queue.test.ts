/** ExpiryQueue: deadlines in order, expiry strictly after the deadline, re-arming and cancellation. */
import { describe, expect, it } from 'vitest';
import { count, string, vector } from '../../src/data/constructors.js';
import { toText } from '../../src/data/text.js';
import { ExpiryQueue } from '../../src/store/expiry-queue.js';
import type { Data } from '../../src/data/types.js';

const names = (keys: Data[]): string[] => keys.map((k) => toText(k));

describe('ExpiryQueue deadlines', () => {
  it('returns keys only once `now` is strictly after their deadline, earliest first', () => {
    const q = new ExpiryQueue();
    q.add(string('c'), 300);
    q.add(string('a'), 100);
    q.add(string('b'), 200);
    expect(q.size).toBe(3);
    expect(q.due(100)).toEqual([]); // at the deadline: not yet
    expect(names(q.due(101))).toEqual(['a']);
    expect(q.due(101)).toEqual([]); // returned once
    expect(names(q.due(1000))).toEqual(['b', 'c']);
    expect(q.size).toBe(0);
  });

  it('returns many keys in deadline order whatever the insertion order', () => {
    const q = new ExpiryQueue();
    const deadlines = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    deadlines.forEach((at, i) => {
      q.add(count(i), at);
    });
    const out: number[] = [];
    for (let now = 0; now <= 1036; now += 37) {
      for (const k of q.due(now)) {
        const at = deadlines[Number((k as { value: bigint }).value)]!;
        expect(at).toBeLessThan(now);
        out.push(at);
      }
    }
    expect(out).toHaveLength(500);
    expect(out).toEqual([...out].sort((a, b) => a - b));
  });

  it('identifies keys by value, not by object identity', () => {
    const q = new ExpiryQueue();
    q.add(vector([string('x'), count(1)]), 10);
    q.add(vector([string('x'), count(1)]), 50); // the same key, re-armed
    expect(q.size).toBe(1);
    expect(q.due(20)).toEqual([]);
    expect(names(q.due(51))).toEqual(['["x", 1]']);
  });
});

describe('ExpiryQueue re-arming and cancellation', () => {
  it('re-arming later moves the deadline: the old one no longer fires', () => {
    const q = new ExpiryQueue();
    q.add(string('k'), 100);
    q.add(string('k'), 500);
    expect(q.due(200)).toEqual([]);
    expect(q.size).toBe(1);
    expect(names(q.due(501))).toEqual(['k']);
    expect(q.due(10_000)).toEqual([]);
  });

  it('re-arming earlier fires at the new deadline and only once', () => {
    const q = new ExpiryQueue();
    q.add(string('k'), 500);
    q.add(string('k'), 100);
    expect(names(q.due(101))).toEqual(['k']);
    expect(q.due(10_000)).toEqual([]);
  });

  it('re-arming with the same deadline still fires once', () => {
    const q = new ExpiryQueue();
    q.add(string('k'), 100);
    q.add(string('k'), 100);
    expect(names(q.due(101))).toEqual(['k']);
    expect(q.due(10_000)).toEqual([]);
  });

  it('a removed key never fires; other keys are unaffected', () => {
    const q = new ExpiryQueue();
    q.add(string('gone'), 100);
    q.add(string('kept'), 100);
    q.remove(string('gone'));
    expect(q.size).toBe(1);
    expect(names(q.due(101))).toEqual(['kept']);
    q.remove(string('never-added')); // harmless
    expect(q.size).toBe(0);
  });

  it('a key removed and added again fires at its new deadline', () => {
    const q = new ExpiryQueue();
    q.add(string('k'), 100);
    q.remove(string('k'));
    q.add(string('k'), 300);
    expect(q.due(200)).toEqual([]);
    expect(names(q.due(301))).toEqual(['k']);
  });

  it('clear() cancels everything', () => {
    const q = new ExpiryQueue();
    for (let i = 0; i < 10; i++) q.add(count(i), i);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.due(1_000)).toEqual([]);
    q.add(string('after'), 5);
    expect(names(q.due(6))).toEqual(['after']);
  });

  it('stays correct when most entries are stale (re-armed thousands of times)', () => {
    const q = new ExpiryQueue();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 500; i++) q.add(count(i), 10_000 - round * 10 + (i % 7)); // the live ones are the earliest
    }
    q.add(string('early'), 5);
    expect(names(q.due(6))).toEqual(['early']); // the stale heap may be rebuilt here
    expect(q.size).toBe(500);
    const fired = q.due(20_000);
    expect(fired).toHaveLength(500);
    expect(new Set(names(fired)).size).toBe(500);
    expect(q.due(30_000)).toEqual([]);
  });
});
