/** Store master leases over an in-memory bucket on a virtual clock: claim, renew, step down, release, watch. */
import { describe, expect, it } from 'vitest';
import { MemoryLeaseKv } from '../../src/backbone/memory-kv.js';
import {
  MasterLease,
  currentMaster,
  leaseKey,
  parseHolder,
  watchMaster,
  type LeaseHolder,
} from '../../src/store/master-lease.js';
import { SimClock } from '../support/sim-network.js';

function setup(ttl = 6000) {
  const clock = new SimClock();
  const kv = new MemoryLeaseKv(clock, { ttl });
  return { clock, kv };
}

/** Resolves `p` by running virtual time. */
async function settle<T>(clock: SimClock, p: Promise<T>, ms = 1000): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  await clock.runUntil(() => done, ms, 1);
  return watched;
}

const lease = (kv: MemoryLeaseKv, clock: SimClock, endpointId: string, store = 'kv') =>
  new MasterLease({ kv, store, endpointId, name: `node-${endpointId}`, timers: clock, ttl: 6000 });

describe('lease keys', () => {
  it('keeps [-_a-zA-Z0-9] and escapes every other UTF-8 byte as =XX', () => {
    expect(leaseKey('kv')).toBe('store.kv');
    expect(leaseKey('___sync_store_x-1')).toBe('store.___sync_store_x-1');
    expect(leaseKey('a.b/c=d e')).toBe('store.a=2Eb=2Fc=3Dd=20e');
    expect(leaseKey('é')).toBe('store.=C3=A9');
    expect(leaseKey('')).toBe('store.=');
    // Distinct names give distinct keys (the escape character is escaped too).
    expect(leaseKey('=2E')).not.toBe(leaseKey('.'));
  });

  it('gives keys the bucket accepts', async () => {
    const { clock, kv } = setup();
    for (const name of ['.', '..', 'a b', 'ü/ö', '', '*>', 'x'.repeat(200)]) {
      const rev = await settle(clock, kv.create(leaseKey(name), new Uint8Array([1])));
      expect(rev).toBeGreaterThan(0);
    }
  });
});

describe('MasterLease', () => {
  it('a renewal stored but whose reply was lost does not cost the lease: the next one re-reads the entry', async () => {
    const { clock, kv } = setup();
    let loseReplies = 0;
    // The bucket applies the update, but the answer never comes back (a timeout at the client).
    const lossy = Object.create(kv) as MemoryLeaseKv;
    lossy.update = async (key, value, revision) => {
      const rev = await kv.update(key, value, revision);
      if (loseReplies-- > 0) throw Object.assign(new Error('timeout'), { code: 'unavailable' });
      return rev;
    };
    const a = new MasterLease({ kv: lossy, store: 'kv', endpointId: 'A', name: 'node-A', timers: clock, ttl: 6000 });
    const lost: unknown[] = [];
    a.on('lost', (e) => lost.push(e));
    const epoch = await settle(clock, a.claim());
    loseReplies = 1;
    await clock.run(2100); // one renewal: stored, reply lost
    await clock.run(2100); // the next: wrong_revision, then the entry still names A at this epoch
    await clock.run(6000);
    expect(lost.map((e) => (e as { reason: Error }).reason.message)).toEqual([]);
    expect(a.state).toBe('held');
    expect((await settle(clock, currentMaster(kv, 'kv')))?.epoch).toBe(epoch);
  });

  it('claims with create: the revision is the fencing epoch, and the value names the holder', async () => {
    const { clock, kv } = setup();
    await settle(clock, kv.create('store.other', new Uint8Array([1]))); // revisions are bucket-wide
    const l = lease(kv, clock, 'A');
    const epoch = await settle(clock, l.claim());
    expect(epoch).toBe(2);
    expect(l.held).toBe(true);
    expect(l.epoch).toBe(2);
    const h = await settle(clock, currentMaster(kv, 'kv'));
    expect(h).toEqual({ endpointId: 'A', name: 'node-A', claimedAt: clock.now(), epoch: 2 });
  });

  it('refuses a second claimant with master_exists, naming the holder', async () => {
    const { clock, kv } = setup();
    await settle(clock, lease(kv, clock, 'A').claim());
    const b = lease(kv.client(), clock, 'B');
    await expect(settle(clock, b.claim())).rejects.toMatchObject({
      code: 'master_exists',
      message: expect.stringContaining("'node-A' (A)"),
    });
    expect(b.held).toBe(false);
    expect(b.state).toBe('idle');
  });

  it('two claimants racing: exactly one holds the lease', async () => {
    const { clock, kv } = setup();
    const a = lease(kv, clock, 'A');
    const b = lease(kv.client(), clock, 'B');
    const results = await settle(clock, Promise.allSettled([a.claim(), b.claim()]));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ code: 'master_exists' });
    expect([a.held, b.held].filter(Boolean)).toHaveLength(1);
  });

  it('renews every ttl/3 and keeps the lease (and its epoch) far beyond the ttl', async () => {
    const { clock, kv } = setup();
    const a = lease(kv, clock, 'A');
    const epoch = await settle(clock, a.claim());
    const lost: unknown[] = [];
    a.on('lost', (e) => lost.push(e));
    const before = kv.revision;
    await clock.run(60_000);
    expect(lost).toEqual([]);
    expect(a.held).toBe(true);
    expect(a.epoch).toBe(epoch);
    // 60 s / 2 s = 30 renewals, each a new revision; the watchers' epoch stays the claim's.
    expect(kv.revision - before).toBe(30);
    expect((await settle(clock, currentMaster(kv, 'kv')))?.epoch).toBe(epoch);
    await expect(settle(clock, lease(kv.client(), clock, 'B').claim())).rejects.toMatchObject({
      code: 'master_exists',
    });
  });

  it('steps down at once when a renewal is refused (the lease was taken over)', async () => {
    const { clock, kv } = setup();
    const a = lease(kv, clock, 'A');
    const epoch = await settle(clock, a.claim());
    const lost: { epoch: number; reason: { code: string } }[] = [];
    a.on('lost', (e) => lost.push(e));
    // Someone rewrites the key behind A's back (an operator, or a split bucket healing).
    const cur = (await settle(clock, kv.get(leaseKey('kv'))))!;
    await settle(clock, kv.update(leaseKey('kv'), new TextEncoder().encode('{}'), cur.revision));
    await clock.runUntil(() => lost.length > 0, 2100, 1);
    expect(lost).toEqual([{ epoch, reason: expect.objectContaining({ code: 'master_exists' }) }]);
    expect(a.state).toBe('lost');
    expect(a.held).toBe(false);
  });

  it('a master cut off from the bucket steps down ttl (less ttl/10) after the last renewal it sent, before the bucket expires it', async () => {
    const { clock, kv } = setup();
    const mine = kv.client();
    const a = lease(mine, clock, 'A');
    await settle(clock, a.claim());
    await clock.run(2500); // one renewal went through at +2000
    const lastRenewal = clock.start + 2000;
    const failed: unknown[] = [];
    a.on('renewFailed', (e) => failed.push(e));
    let lostAt: number | undefined;
    let expiredAt: number | undefined;
    a.on('lost', () => {
      lostAt = clock.now();
    });
    watchMaster(kv, 'kv', (h) => {
      if (h === undefined) expiredAt = clock.now();
    });
    mine.isolate(true);
    await clock.runUntil(() => expiredAt !== undefined, 10_000, 1);
    expect(failed.length).toBeGreaterThanOrEqual(2); // the renewals at +4000 and +6000 failed
    expect(lostAt).toBe(lastRenewal + 6000 - 600);
    expect(expiredAt).toBe(lastRenewal + 6000);
    // Now another master may claim it, with a higher epoch.
    const b = lease(kv.client(), clock, 'B');
    expect(await settle(clock, b.claim())).toBeGreaterThan(a.epoch);
  });

  it('a lease lost only to an unavailable bucket is claimed again after the heal, with a new epoch', async () => {
    const { clock, kv } = setup();
    const a = lease(kv, clock, 'A');
    const first = await settle(clock, a.claim());
    kv.unavailable(true);
    await clock.runUntil(() => a.state === 'lost', 7000, 1);
    await expect(settle(clock, a.claim())).rejects.toMatchObject({ code: 'backend_failure' });
    expect(a.state).toBe('lost');
    kv.unavailable(false);
    const second = await settle(clock, a.claim());
    expect(second).toBeGreaterThan(first);
    expect(a.held).toBe(true);
    expect((await settle(clock, currentMaster(kv, 'kv')))?.epoch).toBe(second);
  });

  it('takes over its own lease that has not expired yet (same endpoint id), with a new epoch', async () => {
    const { clock, kv } = setup();
    const first = await settle(clock, lease(kv, clock, 'A').claim()); // never released (a crash)
    const again = lease(kv.client(), clock, 'A');
    const second = await settle(clock, again.claim());
    expect(second).toBeGreaterThan(first);
  });

  it('release deletes the lease so another master can claim it at once', async () => {
    const { clock, kv } = setup();
    const a = lease(kv, clock, 'A');
    await settle(clock, a.claim());
    await clock.run(3000);
    await settle(clock, a.release());
    expect(a.state).toBe('released');
    expect(await settle(clock, currentMaster(kv, 'kv'))).toBeUndefined();
    await expect(settle(clock, a.claim())).rejects.toMatchObject({ code: 'closed' });
    expect(await settle(clock, lease(kv.client(), clock, 'B').claim())).toBeGreaterThan(0);
  });

  it('watchMaster reports each new holder and epoch once (not the renewals) and the expiry', async () => {
    const { clock, kv } = setup();
    const seen: (Pick<LeaseHolder, 'endpointId' | 'epoch'> | undefined)[] = [];
    const off = watchMaster(kv, 'kv', (h) => seen.push(h && { endpointId: h.endpointId, epoch: h.epoch }));
    const mine = kv.client();
    const a = lease(mine, clock, 'A');
    const ea = await settle(clock, a.claim());
    await clock.run(5000); // two renewals
    mine.isolate(true);
    await clock.runUntil(() => seen.length >= 2, 10_000, 1);
    const b = lease(kv.client(), clock, 'B');
    const eb = await settle(clock, b.claim());
    await clock.run(10);
    off();
    expect(seen).toEqual([{ endpointId: 'A', epoch: ea }, undefined, { endpointId: 'B', epoch: eb }]);
  });

  it('an unreadable lease value counts as held by someone unknown', async () => {
    const { clock, kv } = setup();
    await settle(clock, kv.create(leaseKey('kv'), new TextEncoder().encode('not json')));
    await expect(settle(clock, lease(kv, clock, 'A').claim())).rejects.toMatchObject({ code: 'master_exists' });
    expect(parseHolder({ value: new TextEncoder().encode('{"endpointId":1}'), revision: 3 })).toBeUndefined();
    expect(parseHolder({ value: new Uint8Array(5000).fill(32), revision: 3 })).toBeUndefined();
    const ok = new TextEncoder().encode('{"endpointId":"x","name":"n","claimedAt":5}');
    expect(parseHolder({ value: ok, revision: 3 })).toEqual({ endpointId: 'x', name: 'n', claimedAt: 5, epoch: 3 });
  });

  it('checks its options', () => {
    const { clock, kv } = setup();
    expect(() => new MasterLease({ kv, store: 'kv', endpointId: 'A', timers: clock, ttl: 0 })).toThrow(/lease.ttl/);
    expect(
      () => new MasterLease({ kv, store: 'kv', endpointId: 'A', timers: clock, ttl: 1000, renewInterval: 2000 }),
    ).toThrow(/lease.renewInterval/);
  });
});
