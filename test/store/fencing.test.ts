/**
 * Fencing of store masters: the lease revision stamped on a master's messages (store protocol
 * revision 4), clones ignoring lower epochs, and masters with leases on simulated endpoints and a
 * virtual clock — racing managers, a master cut off from the lease bucket stepping down and coming
 * back, a failover to a master elsewhere whose predecessor's late messages are ignored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { count, createClone, createMaster, none, string, toText, type Data, type StoreMaster } from 'isobroker';
import { MemoryLeaseKv } from '../../src/backbone/memory-kv.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { CloneCore } from '../../src/store/clone.js';
import {
  ChangeKind,
  STORE_PROTOCOL_REVISION,
  StoreMsg,
  decodeStoreMessage,
  encodeStoreMessage,
  updatesTopic,
  type StoreMessage,
} from '../../src/store/store-protocol.js';
import { mastersOn } from '../../src/store/stores.js';
import { SimClock } from '../support/sim-network.js';
import { simEndpoints, type SimNet } from '../support/sim-endpoints.js';

const fields = (m: StoreMessage, fence?: number): number =>
  (encodeStoreMessage(m, fence) as { elements: readonly Data[] }).elements.length;

const update = (epoch: string, seq: number, key: string, value: number, fence?: number): StoreMessage => ({
  kind: StoreMsg.Update,
  epoch,
  seq,
  changes: [{ kind: ChangeKind.Put, key: string(key), value: count(value) }],
  ...(fence === undefined ? {} : { fence }),
});

describe('the fencing epoch on the wire', () => {
  it('is revision 4', () => {
    expect(STORE_PROTOCOL_REVISION).toBe(4);
  });

  it('is appended to every kind a master sends, and read back', () => {
    const sent: StoreMessage[] = [
      { kind: StoreMsg.Ack, reqId: 1, seq: 2, result: none() },
      update('e', 1, 'k', 1),
      { kind: StoreMsg.SnapshotBegin, epoch: 'e', seq: 3, stream: 1 },
      { kind: StoreMsg.SnapshotChunk, epoch: 'e', index: 0, entries: [[string('k'), count(1)]], stream: 1 },
      { kind: StoreMsg.SnapshotEnd, epoch: 'e', seq: 3, chunks: 1, stream: 1 },
      { kind: StoreMsg.DeltaEnd, epoch: 'e', seq: 3, stream: 1 },
      { kind: StoreMsg.Heartbeat, epoch: 'e', seq: 3 },
      { kind: StoreMsg.SyncFailed, stream: 1, code: 'value_too_large', text: 't' },
      { kind: StoreMsg.Resend, from: 4, held: 0 },
    ];
    for (const m of sent) {
      expect(fields(m, 7)).toBe(fields(m) + 1);
      expect(decodeStoreMessage(encodeStoreMessage(m, 7))).toEqual({ ...m, fence: 7 });
      // Without a lease (0 or absent) the layout is revision 3's, read back without a fence.
      expect(decodeStoreMessage(encodeStoreMessage(m, 0))).toEqual(m);
      expect(decodeStoreMessage(encodeStoreMessage({ ...m, fence: 9 } as StoreMessage))).toEqual({ ...m, fence: 9 });
    }
  });

  it('is never put on a clone message, and a clone message with an extra field is refused', () => {
    const attach: StoreMessage = { kind: StoreMsg.Attach, cloneId: 'c', seq: 0, stream: 1 };
    expect(fields(attach, 7)).toBe(fields(attach));
    const v = encodeStoreMessage(attach) as { type: 'vector'; elements: Data[] };
    expect(() => decodeStoreMessage({ type: 'vector', elements: [...v.elements, count(7)] })).toThrow(/needs 5 fields/);
  });

  it('must be a count', () => {
    const v = encodeStoreMessage(update('e', 1, 'k', 1)) as { type: 'vector'; elements: Data[] };
    expect(() => decodeStoreMessage({ type: 'vector', elements: [...v.elements, string('7')] })).toThrow(
      /fencing epoch must be a count/,
    );
  });
});

describe('a clone ignores masters of lower epochs', () => {
  function clone() {
    const clock = new SimClock();
    const sent: StoreMessage[] = [];
    const core = new CloneCore({
      name: 'kv',
      cloneId: 'c1',
      timers: clock,
      send: (_t, m) => sent.push(m),
      staleInterval: 60_000,
      mutationBufferInterval: 60_000,
      masterTimeout: 3000,
      resyncInterval: 1000,
      masterReachable: () => true,
      maxEntryBytes: 1 << 20,
      onError: () => undefined,
    });
    return { clock, core, sent };
  }

  /** Brings the clone in sync with master epoch `epoch` at seq 0 through an empty snapshot. */
  async function sync(core: CloneCore, sent: StoreMessage[], epoch: string, fence: number) {
    await core.start();
    const attach = sent.filter((m) => m.kind === StoreMsg.Attach).at(-1) as { stream: number };
    core.onMessage({ kind: StoreMsg.SnapshotBegin, epoch, seq: 0, stream: attach.stream, fence });
    core.onMessage({ kind: StoreMsg.SnapshotEnd, epoch, seq: 0, chunks: 0, stream: attach.stream, fence });
    expect(core.status).toBe('in-sync');
  }

  it('applies updates of its epoch and above, ignores and counts lower ones', async () => {
    const { core, sent } = clone();
    await sync(core, sent, 'E', 5);
    core.onMessage(update('E', 1, 'a', 1, 5));
    core.onMessage(update('E', 2, 'b', 2, 4)); // from a master that stepped down: ignored
    core.onMessage(update('E', 2, 'c', 3)); // no fence at all (0) is lower too
    expect(core.fencing).toEqual({ epoch: 5, ignored: 2 });
    expect(core.exists(string('b'))).toBe(false);
    expect(core.exists(string('c'))).toBe(false);
    expect(core.seq).toBe(1);
    core.onMessage(update('E', 2, 'd', 4, 6)); // a re-claim by the same master: a higher epoch
    expect(core.fencing).toEqual({ epoch: 6, ignored: 2 });
    expect(toText(core.get(string('d')))).toBe('4');
    core.onMessage(update('E', 3, 'e', 5, 5)); // the old epoch is now below the highest seen
    expect(core.exists(string('e'))).toBe(false);
    expect(core.fencing.ignored).toBe(3);
  });

  it('a late acknowledgement of a stepped-down master does not settle a write', async () => {
    const { core, sent } = clone();
    await sync(core, sent, 'E', 5);
    core.raiseFence(8); // a lease watch saw a new master take the store
    expect(core.status).toBe('stale'); // it attaches to the new master at once
    let settled = false;
    const w = core.mutate({ op: 1, key: string('k'), args: [count(1)] }).finally(() => {
      settled = true;
    });
    w.catch(() => undefined);
    core.onMessage({ kind: StoreMsg.Ack, reqId: 1, seq: 1, result: count(1), fence: 5 });
    await Promise.resolve();
    expect(settled).toBe(false);
    expect(core.fencing).toEqual({ epoch: 8, ignored: 1 });
    core.close();
  });

  it('a lease watch raising the epoch re-attaches only a clone that followed an older master', async () => {
    const { core, sent } = clone();
    await core.start();
    const attaches = () => sent.filter((m) => m.kind === StoreMsg.Attach).length;
    expect(attaches()).toBe(1);
    core.raiseFence(5); // the first holder seen while the first attach is out: no second attach
    expect(attaches()).toBe(1);
    const stream = (sent.at(-1) as { stream: number }).stream;
    core.onMessage({ kind: StoreMsg.SnapshotBegin, epoch: 'E', seq: 0, stream, fence: 5 });
    core.onMessage({ kind: StoreMsg.SnapshotEnd, epoch: 'E', seq: 0, chunks: 0, stream, fence: 5 });
    expect(core.status).toBe('in-sync');
    core.raiseFence(5); // the same master: nothing
    expect(attaches()).toBe(1);
    core.raiseFence(9); // a newer one took the store: attach to it at once
    expect(attaches()).toBe(2);
    expect(core.status).toBe('stale');
    core.close();
  });

  it('without leases nothing is fenced', async () => {
    const { core, sent } = clone();
    await sync(core, sent, 'E', 0);
    core.onMessage(update('E', 1, 'a', 1));
    expect(core.fencing).toEqual({ epoch: 0, ignored: 0 });
    expect(toText(core.get(string('a')))).toBe('1');
  });
});

describe('masters with leases', () => {
  let net: SimNet | undefined;
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    await net?.close();
    net = undefined;
  });

  /** Endpoints ep0 – ep1 – ep2 in a line, and a lease bucket with a 6 s TTL on the same clock. */
  async function line(n = 3) {
    const s = simEndpoints(n);
    net = s;
    for (let i = 1; i < n; i++) await s.settle(s.eps[i]!.peer(s.url(i - 1)));
    const kv = new MemoryLeaseKv(s.clock, { ttl: 6000 });
    return { s, kv };
  }

  async function master(s: SimNet, ep: number, kv: MemoryLeaseKv): Promise<StoreMaster> {
    const m = await s.settle(
      createMaster(s.eps[ep]!, 'kv', { timers: s.clock, heartbeatInterval: 100, lease: { kv, ttl: 6000 } }),
    );
    closers.push(() => m.close());
    return m;
  }

  it('two managers racing for one store: exactly one master, the loser gets master_exists', async () => {
    const { s, kv } = await line(2);
    const opts = { timers: s.clock, lease: { kv } };
    const results = await s.settle(
      Promise.allSettled([
        createMaster(s.eps[0]!, 'kv', opts),
        createMaster(s.eps[1]!, 'kv', { ...opts, lease: { kv: kv.client() } }),
      ]),
    );
    for (const r of results) if (r.status === 'fulfilled') closers.push(() => r.value.close());
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'master_exists' } });
    // The same endpoint cannot race itself into two masters either.
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    await expect(s.settle(createMaster(s.eps[winner]!, 'kv', opts))).rejects.toMatchObject({ code: 'master_exists' });
  });

  it('mastersOn lists the masters of an endpoint: epoch 0 without a lease', async () => {
    const s = simEndpoints(1);
    net = s;
    expect(mastersOn(s.eps[0]!)).toEqual([]);
    const a = await s.settle(createMaster(s.eps[0]!, 'a', { timers: s.clock }));
    const b = await s.settle(createMaster(s.eps[0]!, 'b', { timers: s.clock }));
    expect(mastersOn(s.eps[0]!)).toEqual([
      { name: 'a', epoch: 0 },
      { name: 'b', epoch: 0 },
    ]);
    a.close();
    expect(mastersOn(s.eps[0]!)).toEqual([{ name: 'b', epoch: 0 }]);
    b.close();
    expect(a.leaseState).toBeUndefined();
  });

  it('the lease decides, not reachability: a master is refused while another holds the lease even when unseen', async () => {
    const s = simEndpoints(2); // not peered: neither sees the other
    net = s;
    const kv = new MemoryLeaseKv(s.clock, { ttl: 6000 });
    const m = await s.settle(createMaster(s.eps[0]!, 'kv', { timers: s.clock, lease: { kv } }));
    closers.push(() => m.close());
    await expect(
      s.settle(createMaster(s.eps[1]!, 'kv', { timers: s.clock, lease: { kv: kv.client() } })),
    ).rejects.toMatchObject({ code: 'master_exists' });
    // Closed cleanly, the lease is handed back: the other endpoint may serve the store at once.
    m.close();
    const m2 = await s.settle(createMaster(s.eps[1]!, 'kv', { timers: s.clock, lease: { kv: kv.client() } }));
    closers.push(() => m2.close());
    expect(m2.leaseState).toEqual({ epoch: expect.any(Number), held: true });
    expect(m2.leaseState!.epoch).toBeGreaterThan(m.leaseState!.epoch);
  });

  it('a master whose bucket becomes unavailable steps down after the ttl; after the heal it serves again and clones resync by delta', async () => {
    const { s, kv } = await line(2);
    const m = await master(s, 0, kv);
    const errors: string[] = [];
    m.onError((e) => errors.push(e.code));
    const c = await s.settle(
      createClone(s.eps[1]!, 'kv', { timers: s.clock, resyncInterval: 100, masterTimeout: 500, staleInterval: 2000 }),
    );
    closers.push(() => c.close());
    await s.until(() => c.status === 'in-sync', 5000, 'clone in sync');
    await s.settle(c.put('a', count(1)));
    const epoch = m.leaseState!.epoch;
    expect(c.fencing.epoch).toBe(epoch);
    const snapshotBytes = m.resyncBytes.snapshot;
    expect(mastersOn(s.eps[0]!)).toEqual([{ name: 'kv', epoch }]);

    kv.unavailable(true);
    await s.until(() => !m.leaseState!.held, 7000, 'the master steps down');
    expect(errors).toContain('stale_data');
    await expect(s.settle(m.put('b', count(2)))).rejects.toMatchObject({ code: 'stale_data' });
    expect(mastersOn(s.eps[0]!)).toEqual([]); // a presence heartbeat no longer lists it
    // Clones hear nothing more: stale, and after staleInterval their queries fail.
    await s.until(() => c.status === 'stale', 2000, 'clone stale');
    await s.run(2500);
    expect(() => c.get('a')).toThrow(expect.objectContaining({ code: 'stale_data' }));

    kv.unavailable(false);
    await s.until(() => m.leaseState!.held, 5000, 'the master holds its lease again');
    expect(m.leaseState!.epoch).toBeGreaterThan(epoch);
    expect(mastersOn(s.eps[0]!)).toEqual([{ name: 'kv', epoch: m.leaseState!.epoch }]);
    await s.until(() => c.status === 'in-sync', 5000, 'clone in sync again');
    expect(c.fencing.epoch).toBe(m.leaseState!.epoch);
    expect(m.resyncBytes.snapshot).toBe(snapshotBytes); // by delta
    expect(toText(c.get('a'))).toBe('1');
    await s.settle(c.put('b', count(2)));
    expect(toText(m.get('b'))).toBe('2');
  });

  it("failover: a master cut off from the bucket steps down, one elsewhere takes a higher epoch, and the old one's late messages are ignored", async () => {
    const { s, kv } = await line(3);
    const mine = kv.client();
    const m1 = await master(s, 0, mine);
    const c = await s.settle(
      createClone(s.eps[1]!, 'kv', { timers: s.clock, resyncInterval: 100, masterTimeout: 500, lease: { kv } }),
    );
    closers.push(() => c.close());
    await s.until(() => c.status === 'in-sync', 5000, 'clone in sync');
    await s.settle(m1.put('a', count(1)));
    await s.until(() => c.exists('a'), 2000, 'update applied');
    const e1 = m1.leaseState!.epoch;
    // Capture one of m1's broadcasts as it went out (it will be replayed late).
    let late: Data | undefined;
    const tap = s.eps[1]!.subscribe(updatesTopic('kv'), ({ data }) => {
      late ??= data;
    });
    await s.settle(m1.put('z', count(26)));
    await s.until(() => late !== undefined && c.exists('z'), 2000, 'broadcast captured');
    tap.unsubscribe();

    mine.isolate(true); // m1 is cut off from the bucket's quorum, not from the clone
    await expect(s.settle(master(s, 2, kv.client()), 100)).rejects.toMatchObject({ code: 'master_exists' });
    await s.until(() => !m1.leaseState!.held, 7000, 'm1 steps down');
    // Another manager claims the store as soon as the bucket expired m1's lease.
    let m2: StoreMaster | undefined;
    for (let i = 0; i < 20 && m2 === undefined; i++) {
      m2 = await master(s, 2, kv.client()).catch(async () => {
        await s.run(250);
        return undefined;
      });
    }
    const e2 = m2!.leaseState!.epoch;
    expect(e2).toBeGreaterThan(e1);
    await s.settle(m2!.put('b', count(2)));
    await s.until(() => c.status === 'in-sync' && c.exists('b'), 5000, 'the clone follows m2');
    expect(c.fencing.epoch).toBe(e2);
    expect(c.exists('z')).toBe(false); // m2's store never had it: the snapshot swept it

    // m1's broadcast arrives late (say, from a reconnect buffer): ignored and counted.
    const ignored = c.fencing.ignored;
    s.eps[0]!.publishEncoded(updatesTopic('kv'), encodeValue(late!));
    // And one with m2's own store epoch but m1's fence (a lineage both share) would be ignored too.
    const forged = update(m2!.position.epoch, m2!.position.seq + 1, 'ghost', 1, e1);
    s.eps[0]!.publishEncoded(updatesTopic('kv'), encodeValue(encodeStoreMessage(forged)));
    await s.until(() => c.fencing.ignored === ignored + 2, 1000, 'late messages ignored');
    expect(c.exists('ghost')).toBe(false);
    expect(c.exists('z')).toBe(false);
    expect(c.status).toBe('in-sync');
    // The same message stamped with m2's epoch is applied: only the fence kept it out.
    s.eps[0]!.publishEncoded(updatesTopic('kv'), encodeValue(encodeStoreMessage(forged, e2)));
    await s.until(() => c.exists('ghost'), 1000, 'a current-epoch update applied');

    // m1, back in touch with the bucket, finds m2 holding the lease: it stays down for good.
    const errors: string[] = [];
    m1.onError((e) => errors.push(e.code));
    mine.isolate(false);
    await s.until(() => errors.includes('master_exists'), 5000, 'm1 superseded');
    await s.run(5000);
    expect(m1.leaseState!.held).toBe(false);
    expect(m2!.leaseState!.held).toBe(true);
  });
});
