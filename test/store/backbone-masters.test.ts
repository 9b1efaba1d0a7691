/**
 * Store masters on a backbone (the in-memory NATS, real endpoints): presence heartbeats list the
 * stores each endpoint masters; without a lease a second master elsewhere is refused, and of two
 * masters that raced the later claim steps down with `master_exists` once heartbeats cross; with a
 * lease the bucket decides.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, MemoryNetwork, toText } from 'isobroker';
import { MemoryNats } from '../../src/backbone/memory-nats.js';
import { MemoryLeaseKv } from '../../src/backbone/memory-kv.js';
import { NatsBackbone } from '../../src/backbone/nats-backbone.js';
import { decodeControl, encodeControl, type ControlMessage } from '../../src/backbone/control.js';
import { linkBackbone } from '../../src/endpoint/backbone-link.js';
import { StoreError } from '../../src/errors.js';
import { isLaterClaim, mustStepDown, type BackboneMaster } from '../../src/store/backbone-masters.js';
import { createClone, createMaster, mastersOn, type MasterOptions } from '../../src/store/stores.js';
import { systemTimers, type Timers } from '../../src/util/timers.js';
import { until } from '../support/endpoints.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function world() {
  const nats = new MemoryNats();
  const net = new MemoryNetwork();
  const attach = (ep: Endpoint) =>
    linkBackbone(ep, new NatsBackbone(nats.connect({ name: ep.name, noEcho: true, host: ep.name })));
  const make = (name: string, opts: { backbone?: boolean } = {}) => {
    const ep = new Endpoint({ name, connector: net.connector, retry: 20 });
    closers.push(() => ep.close());
    if (opts.backbone !== false) attach(ep);
    return ep;
  };
  return { nats, make, attach };
}

/** What `other`'s presence says `ep` masters. */
const listedAt = (other: Endpoint, ep: Endpoint) => other.backbone?.presence.endpoint(ep.id)?.stores ?? [];

/** The system's timers with a fixed clock reading: a master's claim time, chosen by the test. */
const claimAt = (t: number): Timers => ({ ...systemTimers, now: () => t });

async function master(ep: Endpoint, name: string, opts: MasterOptions = {}) {
  const errors: StoreError[] = [];
  const m = await createMaster(ep, name, { ...opts, onError: (e) => errors.push(e) });
  closers.push(() => m.close());
  return { m, errors };
}

const exists = (errors: StoreError[]) => errors.filter((e) => e.code === 'master_exists');

describe('store masters in presence heartbeats', () => {
  it('list the stores an endpoint masters, at once, and drop them on close', async () => {
    const w = world();
    const a = w.make('a');
    const b = w.make('b');
    await until(() => b.backbone!.presence.isPresent(a.id), 5000, 'a present at b');
    const { m } = await master(a, 'users', { timers: claimAt(1234) });
    await until(() => listedAt(b, a).length === 1, 5000, "a's store at b");
    expect(listedAt(b, a)).toEqual([{ name: 'users', epoch: 0, claimedAt: 1234 }]);
    const { m: m2 } = await master(a, 'hosts');
    await until(() => listedAt(b, a).length === 2, 5000, "a's two stores at b");
    expect(listedAt(b, a).map((s) => s.name)).toEqual(['users', 'hosts']);
    m.close();
    await until(() => listedAt(b, a).length === 1, 5000, 'users unlisted');
    expect(listedAt(b, a)[0]?.name).toBe('hosts');
    m2.close();
    await until(() => listedAt(b, a).length === 0, 5000, 'hosts unlisted');
  });

  it('a backbone attached after masters were opened lists them at once (and again after a re-attach)', async () => {
    const w = world();
    const a = w.make('a', { backbone: false });
    const b = w.make('b');
    await master(a, 'early');
    expect(a.backbone).toBeUndefined();
    w.attach(a);
    await until(() => listedAt(b, a).length === 1, 5000, "a's store at b");
    expect(listedAt(b, a)[0]?.name).toBe('early');
    await a.detachBackbone();
    await until(() => !b.backbone!.presence.isPresent(a.id), 5000, 'a gone at b');
    w.attach(a);
    await until(() => listedAt(b, a).length === 1, 5000, "a's store at b after the re-attach");
  });

  it('a second master elsewhere on the backbone is refused with master_exists', async () => {
    const w = world();
    const a = w.make('a');
    const b = w.make('b');
    const { m } = await master(a, 'users');
    await until(() => listedAt(b, a).length === 1, 5000, "a's store at b");
    const refused = await createMaster(b, 'users').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreError);
    expect((refused as StoreError).code).toBe('master_exists');
    expect((refused as StoreError).message).toContain("'a'");
    expect(mastersOn(b)).toEqual([]);
    // Another store is fine, and once a's master closes the name is free again.
    await master(b, 'hosts');
    m.close();
    await until(() => listedAt(b, a).length === 0, 5000, 'users unlisted');
    const { m: again } = await master(b, 'users');
    expect(again.isClosed).toBe(false);
  });

  it('two masters created at once: the later claim steps down with master_exists once heartbeats cross', async () => {
    const w = world();
    const a = w.make('a');
    const b = w.make('b');
    await until(() => a.backbone!.presence.isPresent(b.id) && b.backbone!.presence.isPresent(a.id));
    // Both claims before either heartbeat can arrive (delivery is asynchronous): neither is refused.
    const [ra, rb] = await Promise.all([
      master(a, 'users', { timers: claimAt(2000) }),
      master(b, 'users', { timers: claimAt(1000) }),
    ]);
    await until(() => ra.m.isClosed, 5000, "a's later master stepped down");
    await until(() => listedAt(b, a).length === 0, 5000, "a's store unlisted at b");
    expect(rb.m.isClosed).toBe(false);
    expect(exists(ra.errors)).toHaveLength(1);
    expect(exists(ra.errors)[0]!.message).toContain("'b'");
    expect(exists(rb.errors)).toHaveLength(0);
    expect(mastersOn(a)).toEqual([]);
    expect(mastersOn(b)).toEqual([{ name: 'users', epoch: 0 }]);
    // A write to the one that stepped down fails; the other takes writes.
    await expect(ra.m.put('k', 1)).rejects.toThrow();
    await rb.m.put('k', 1);
  });

  it("a clone that followed the master that stepped down ends up with the remaining master's data", async () => {
    const w = world();
    const [a, b, c] = [w.make('a'), w.make('b'), w.make('c')];
    w.nats.partition(['a', 'c'], ['b']);
    const ra = await master(a, 'users', { timers: claimAt(2000) });
    const rb = await master(b, 'users', { timers: claimAt(1000) });
    await ra.m.put('k', 'from a');
    await rb.m.put('k', 'from b');
    const clone = await createClone(c, 'users', { masterTimeout: 300, resyncInterval: 100 });
    closers.push(() => clone.close());
    await clone.whenInSync(5000);
    expect(toText(clone.get('k'))).toBe('from a'); // the only master c can reach
    w.nats.heal();
    await until(() => ra.m.isClosed, 5000, "a's later master stepped down");
    await until(
      () => clone.status === 'in-sync' && toText(clone.get('k')) === 'from b',
      10_000,
      "b's data at the clone",
    );
    await clone.put('n', 1);
    await until(() => rb.m.exists('n'), 5000, "the clone's write at b");
  });

  it('equal claim times: the greater endpoint id steps down, whichever side looks', async () => {
    const w = world();
    const eps = [w.make('a'), w.make('b')];
    await until(() => eps.every((e) => e.backbone!.stats().endpoints === 1));
    const rs = await Promise.all(eps.map((e) => master(e, 'users', { timers: claimAt(5000) })));
    const loser = eps[0]!.id > eps[1]!.id ? 0 : 1;
    await until(() => rs[loser]!.m.isClosed, 5000, 'the greater id stepped down');
    expect(rs[1 - loser]!.m.isClosed).toBe(false);
    expect(exists(rs[loser]!.errors)).toHaveLength(1);
  });

  it('partitioned: both keep serving; after the heal exactly one of three remains, the earliest claim', async () => {
    const w = world();
    const eps = [w.make('a'), w.make('b'), w.make('c')];
    w.nats.partition(['a'], ['b', 'c']);
    w.nats.partition(['b'], ['c']);
    const claims = [3000, 1000, 2000];
    const rs = await Promise.all(eps.map((e, i) => master(e, 'users', { timers: claimAt(claims[i]!) })));
    await new Promise((r) => setTimeout(r, 600)); // more than a heartbeat interval: nothing crosses
    expect(rs.map((r) => r.m.isClosed)).toEqual([false, false, false]);
    await rs[0]!.m.put('k', 'only at a'); // each side takes writes while cut off
    w.nats.heal();
    await until(() => rs[0]!.m.isClosed && rs[2]!.m.isClosed, 5000, 'a and c stepped down');
    expect(rs[1]!.m.isClosed).toBe(false);
    expect(rs.map((r) => exists(r.errors).length)).toEqual([1, 0, 1]);
    expect(eps.map((e) => mastersOn(e).length)).toEqual([0, 1, 0]);
    await until(() => listedAt(eps[0]!, eps[2]!).length === 0 && listedAt(eps[2]!, eps[0]!).length === 0);
    expect(listedAt(eps[0]!, eps[1]!).map((s) => s.name)).toEqual(['users']);
  });
});

describe('store masters on a backbone with a lease', () => {
  it('the lease decides: a second leased master is refused by the bucket; the epoch is listed', async () => {
    const w = world();
    const kv = new MemoryLeaseKv();
    const a = w.make('a');
    const b = w.make('b');
    await until(() => b.backbone!.presence.isPresent(a.id));
    const { m } = await master(a, 'users', { lease: { kv } });
    const epoch = m.leaseState!.epoch;
    expect(epoch).toBeGreaterThan(0);
    await until(() => listedAt(b, a).length === 1, 5000, "a's store at b");
    expect(listedAt(b, a)).toEqual([{ name: 'users', epoch }]); // no claim time: leased
    const refused = await createMaster(b, 'users', { lease: { kv } }).catch((e: unknown) => e);
    expect((refused as StoreError).code).toBe('master_exists');
    expect((refused as StoreError).message).toContain('lease');
  });

  it('a master that lost its lease is unlisted at once, and listed with its new epoch when it holds it again', async () => {
    const w = world();
    const kv = new MemoryLeaseKv();
    const a = w.make('a');
    const b = w.make('b');
    const { m } = await master(a, 'users', { lease: { kv, ttl: 300, renewInterval: 50 } });
    const epoch = m.leaseState!.epoch;
    await until(() => listedAt(b, a)[0]?.epoch === epoch, 5000, "a's store at b");
    kv.unavailable(true);
    await until(() => !m.leaseState!.held, 5000, 'the master steps down');
    await until(() => listedAt(b, a).length === 0, 5000, 'unlisted at b');
    kv.unavailable(false);
    await until(() => m.leaseState!.held, 5000, 'the lease held again');
    await until(() => listedAt(b, a).length === 1, 5000, 'listed again at b');
    expect(listedAt(b, a)[0]!.epoch).toBe(m.leaseState!.epoch);
    expect(m.leaseState!.epoch).toBeGreaterThan(epoch);
  });

  it('a leased master never steps down for presence; a lease-less one yields to it', async () => {
    const w = world();
    const kv = new MemoryLeaseKv();
    const a = w.make('a');
    const b = w.make('b');
    w.nats.partition(['a'], ['b']);
    // a's lease-less master claimed first, b's leased one later: the lease still wins.
    const ra = await master(a, 'users', { timers: claimAt(1) });
    const rb = await master(b, 'users', { lease: { kv } });
    w.nats.heal();
    await until(() => ra.m.isClosed, 5000, 'the lease-less master stepped down');
    expect(exists(ra.errors)[0]!.message).toContain('lease');
    await new Promise((r) => setTimeout(r, 600)); // heartbeats crossed both ways
    expect(rb.m.isClosed).toBe(false);
    expect(rb.m.leaseState).toEqual({ epoch: rb.m.leaseState!.epoch, held: true });
    expect(exists(rb.errors)).toHaveLength(0);
  });
});

describe('the step-down rule', () => {
  const local = (claimedAt: number | undefined): BackboneMaster => ({
    name: 's',
    epoch: claimedAt === undefined ? 7 : 0,
    claimedAt,
    stepDown: () => undefined,
  });

  it('the later claim loses; equal times: the greater id', () => {
    expect(isLaterClaim({ claimedAt: 2, endpointId: 'a' }, { claimedAt: 1, endpointId: 'b' })).toBe(true);
    expect(isLaterClaim({ claimedAt: 1, endpointId: 'b' }, { claimedAt: 2, endpointId: 'a' })).toBe(false);
    expect(isLaterClaim({ claimedAt: 1, endpointId: 'b' }, { claimedAt: 1, endpointId: 'a' })).toBe(true);
    expect(isLaterClaim({ claimedAt: 1, endpointId: 'a' }, { claimedAt: 1, endpointId: 'b' })).toBe(false);
  });

  it('exactly one of any two lease-less claims steps down', () => {
    for (const [ta, tb] of [
      [1, 2],
      [2, 1],
      [5, 5],
    ] as const) {
      const a = mustStepDown(local(ta), 'id-a', { name: 's', epoch: 0, claimedAt: tb }, 'id-b');
      const b = mustStepDown(local(tb), 'id-b', { name: 's', epoch: 0, claimedAt: ta }, 'id-a');
      expect(a !== b).toBe(true);
    }
  });

  it('leased masters never step down; lease-less ones yield to leased ones and to claims of unknown time', () => {
    expect(mustStepDown(local(undefined), 'a', { name: 's', epoch: 0, claimedAt: 1 }, 'b')).toBe(false);
    expect(mustStepDown(local(1), 'a', { name: 's', epoch: 3 }, 'b')).toBe(true);
    expect(mustStepDown(local(1), 'a', { name: 's', epoch: 0 }, 'b')).toBe(true);
  });
});

describe('claim times in control messages', () => {
  const msg = (stores: ControlMessage['stores']): ControlMessage => ({
    kind: 'heartbeat',
    id: '00000000-0000-4000-8000-000000000001',
    name: 'a',
    seq: 1,
    nodes: [],
    partials: [],
    stores,
    interval: 500,
  });
  const wire = (m: ControlMessage) => JSON.parse(new TextDecoder().decode(encodeControl(m))) as Record<string, unknown>;
  const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

  it('round-trip as `sc`, one per store, absent when no store has one', () => {
    const stores = [
      { name: 'x', epoch: 0, claimedAt: 1_700_000_000_000 },
      { name: 'y', epoch: 4 },
    ];
    expect(wire(msg(stores)).sc).toEqual([1_700_000_000_000, 0]);
    expect(decodeControl(encodeControl(msg(stores)))!.stores).toEqual(stores);
    expect(wire(msg([{ name: 'y', epoch: 4 }]))).not.toHaveProperty('sc');
    expect(decodeControl(encodeControl(msg([{ name: 'y', epoch: 4 }])))!.stores[0]).not.toHaveProperty('claimedAt');
  });

  it('are checked: one per store, safe non-negative integers', () => {
    const base = wire(msg([{ name: 'x', epoch: 0, claimedAt: 5 }]));
    for (const sc of [[], [1, 2], [-1], [1.5], ['1'], 'x', null]) {
      expect(() => decodeControl(bytes({ ...base, sc }))).toThrow(/sc/);
    }
    expect(() => encodeControl(msg([{ name: 'x', epoch: 0, claimedAt: 0.5 }]))).toThrow(/sc/);
  });
});
