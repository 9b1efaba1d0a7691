/** The in-memory lease bucket: JetStream KV's compare-and-set, watches, expiry and lost quorum. */
import { describe, expect, it } from 'vitest';
import { MemoryLeaseKv } from '../../src/backbone/memory-kv.js';
import type { LeaseEntry } from '../../src/backbone/types.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Manual timers: nothing fires until the test calls `advance`. */

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
/** The error code a promise rejects with ('resolved' when it does not). */
const codeOf = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  );
/** Watches `key` and records each report as `value@revision` or `-`. */
function watchLog(kv: MemoryLeaseKv, key: string): { log: string[]; stop: () => void } {
  const log: string[] = [];
  const stop = kv.watch(key, (e: LeaseEntry | undefined) => log.push(e ? `${dec(e.value)}@${e.revision}` : '-'));
  return { log, stop };
}

describe('MemoryLeaseKv compare-and-set', () => {
  it('revisions increase strictly across the bucket', async () => {
    const kv = new MemoryLeaseKv();
    const r1 = await kv.create('a', enc('1'));
    const r2 = await kv.create('b', enc('1'));
    const r3 = await kv.update('a', enc('2'), r1);
    await kv.delete('b');
    const r5 = await kv.create('b', enc('3'));
    expect([r1, r2, r3, r5]).toEqual([1, 2, 3, 5]);
    expect(kv.revision).toBe(5);
    expect(await kv.get('a')).toEqual({ value: enc('2'), revision: 3 });
  });

  it('create fails with wrong_revision while the key exists, and succeeds after a delete', async () => {
    const kv = new MemoryLeaseKv();
    await kv.create('lease', enc('m1'));
    expect(await codeOf(kv.create('lease', enc('m2')))).toBe('wrong_revision');
    await kv.delete('lease');
    expect(await kv.get('lease')).toBeUndefined();
    expect(await kv.create('lease', enc('m2'))).toBe(3);
    expect(dec((await kv.get('lease'))!.value)).toBe('m2');
  });

  it('two racing creators: exactly one wins, the other gets wrong_revision', async () => {
    for (let round = 0; round < 20; round++) {
      const kv = new MemoryLeaseKv();
      const other = kv.client();
      const results = await Promise.all([
        codeOf(kv.create('lease', enc('a'))),
        codeOf(other.create('lease', enc('b'))),
      ]);
      expect(results.filter((r) => r === 'resolved')).toHaveLength(1);
      expect(results.filter((r) => r === 'wrong_revision')).toHaveLength(1);
      // The winner's value is the one stored.
      const winner = results[0] === 'resolved' ? 'a' : 'b';
      expect(dec((await other.get('lease'))!.value)).toBe(winner);
    }
  });

  it('update checks the revision; two renewers at the same revision: one wins', async () => {
    const kv = new MemoryLeaseKv();
    const r = await kv.create('lease', enc('m'));
    const [x, y] = await Promise.all([
      codeOf(kv.update('lease', enc('x'), r)),
      codeOf(kv.update('lease', enc('y'), r)),
    ]);
    expect([x, y]).toEqual(['resolved', 'wrong_revision']);
    expect(await codeOf(kv.update('lease', enc('z'), r))).toBe('wrong_revision');
    expect(await codeOf(kv.update('lease', enc('z'), r + 1))).toBe('resolved');
    // A key never written is at revision 0.
    expect(await codeOf(kv.update('fresh', enc('v'), 1))).toBe('wrong_revision');
    expect(await codeOf(kv.update('fresh', enc('v'), 0))).toBe('resolved');
  });

  it('delete at a revision checks it', async () => {
    const kv = new MemoryLeaseKv();
    const r = await kv.create('lease', enc('m'));
    expect(await codeOf(kv.delete('lease', r + 7))).toBe('wrong_revision');
    expect(await kv.get('lease')).toBeDefined();
    await kv.delete('lease', r);
    expect(await kv.get('lease')).toBeUndefined();
  });

  it('stores and returns copies', async () => {
    const kv = new MemoryLeaseKv();
    const v = enc('abc');
    await kv.create('k', v);
    v[0] = 0x7a;
    const e = (await kv.get('k'))!;
    e.value[1] = 0x7a;
    expect(dec((await kv.get('k'))!.value)).toBe('abc');
  });

  it('refuses keys JetStream KV refuses', async () => {
    const kv = new MemoryLeaseKv();
    for (const k of ['', 'a b', '.a', 'a.', 'a*', 'a>', 'é']) {
      expect(await codeOf(kv.create(k, enc('v')))).toBe('invalid_argument');
    }
    expect(await codeOf(kv.create('store/zeek-1.master_=x', enc('v')))).toBe('resolved');
  });
});

describe('MemoryLeaseKv watch', () => {
  it('reports the last record first, then every change in order, asynchronously', async () => {
    const kv = new MemoryLeaseKv();
    const r1 = await kv.create('k', enc('1'));
    const { log, stop } = watchLog(kv, 'k');
    const r2Promise = kv.update('k', enc('2'), r1);
    expect(log).toEqual([]);
    const r2 = await r2Promise;
    await kv.update('k', enc('3'), r2);
    await kv.delete('k');
    await kv.create('k', enc('4'));
    await settle();
    expect(log).toEqual(['1@1', '2@2', '3@3', '-', '4@5']);
    stop();
    await kv.delete('k');
    await settle();
    expect(log).toHaveLength(5);
  });

  it('a key never written reports nothing until it is created; a deleted one reports undefined first', async () => {
    const kv = new MemoryLeaseKv();
    const fresh = watchLog(kv, 'fresh');
    await kv.create('gone', enc('x'));
    await kv.delete('gone');
    const gone = watchLog(kv, 'gone');
    await settle();
    expect(fresh.log).toEqual([]);
    expect(gone.log).toEqual(['-']);
    await kv.create('fresh', enc('y'));
    await settle();
    expect(fresh.log).toEqual(['y@3']);
  });
});

describe('MemoryLeaseKv ttl', () => {
  it('an entry not updated for ttl ms expires; updates keep it alive', async () => {
    const timers = new ManualTimers();
    const kv = new MemoryLeaseKv(timers, { ttl: 1000 });
    const r1 = await kv.create('lease', enc('m'));
    const { log } = watchLog(kv, 'lease');
    timers.advance(900);
    const r2 = await kv.update('lease', enc('m'), r1);
    timers.advance(900);
    expect(await kv.get('lease')).toEqual({ value: enc('m'), revision: r2 });
    timers.advance(100);
    expect(await kv.get('lease')).toBeUndefined();
    await settle();
    expect(log).toEqual(['m@1', 'm@2', '-']);
    // Gone as if never written: the old revision is stale, create works again.
    expect(await codeOf(kv.update('lease', enc('m'), r2))).toBe('wrong_revision');
    expect(await kv.create('lease', enc('n'))).toBe(3);
  });

  it('refuses a ttl that is not positive', () => {
    expect(() => new MemoryLeaseKv(new ManualTimers(), { ttl: 0 })).toThrow();
  });
});

describe('MemoryLeaseKv faults', () => {
  it('unavailable: every operation of every client rejects with unavailable, until back', async () => {
    const kv = new MemoryLeaseKv();
    const other = kv.client();
    const r = await kv.create('lease', enc('m'));
    kv.unavailable(true);
    expect(await codeOf(kv.update('lease', enc('m'), r))).toBe('unavailable');
    expect(await codeOf(other.get('lease'))).toBe('unavailable');
    expect(await codeOf(other.create('x', enc('m')))).toBe('unavailable');
    expect(await codeOf(kv.delete('lease'))).toBe('unavailable');
    kv.unavailable(false);
    expect(await kv.update('lease', enc('m'), r)).toBe(2);
  });

  it('an isolated client is cut off alone; its watcher gets the latest state once it is back', async () => {
    const timers = new ManualTimers();
    const master = new MemoryLeaseKv(timers, { ttl: 1000 });
    const rival = master.client();
    const r = await master.create('lease', enc('m1'));
    const { log } = watchLog(master, 'lease');
    await settle();
    master.isolate(true);
    expect(await codeOf(master.update('lease', enc('m1'), r))).toBe('unavailable');
    timers.advance(1000);
    expect(await rival.get('lease')).toBeUndefined();
    const r2 = await rival.create('lease', enc('m2'));
    await rival.update('lease', enc('m2'), r2);
    await settle();
    expect(log).toEqual(['m1@1']);
    master.isolate(false);
    await settle();
    // One report, of the latest state (the intermediate ones coalesced).
    expect(log).toEqual(['m1@1', 'm2@3']);
    expect(await codeOf(master.update('lease', enc('m1'), r))).toBe('wrong_revision');
  });

  it('a change racing the end of a cut is reported once', async () => {
    const kv = new MemoryLeaseKv();
    const rival = kv.client();
    const r1 = await kv.create('lease', enc('a'));
    const { log } = watchLog(kv, 'lease');
    await settle();
    kv.isolate(true);
    const r2 = await rival.update('lease', enc('b'), r1);
    await settle();
    // The write lands after the release is queued but before it runs: the release already
    // reports it, and the write's own notification must not report it again.
    const p = rival.update('lease', enc('c'), r2);
    kv.isolate(false);
    await p;
    await settle();
    expect(log).toEqual(['a@1', 'c@3']);
  });

  it('a watcher held over an expiry alone learns the entry is gone', async () => {
    const timers = new ManualTimers();
    const kv = new MemoryLeaseKv(timers, { ttl: 1000 });
    const clone = kv.client();
    await kv.create('lease', enc('m'));
    const { log } = watchLog(clone, 'lease');
    await settle();
    clone.isolate(true);
    timers.advance(1000);
    await settle();
    clone.isolate(false);
    await settle();
    expect(log).toEqual(['m@1', '-']);
  });

  it('records watch callbacks that throw and keeps reporting', async () => {
    const kv = new MemoryLeaseKv();
    kv.watch('k', () => {
      throw new Error('boom');
    });
    const { log } = watchLog(kv, 'k');
    await kv.create('k', enc('1'));
    await settle();
    expect(log).toEqual(['1@1']);
    expect((kv.errors[0] as Error).message).toBe('boom');
  });
});
