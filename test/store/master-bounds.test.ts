/**
 * A store master stays bounded whatever clones send: out-of-order commands are held only within a
 * window per clone (the clone is told to resend), bookkeeping of clones gone longer than the
 * retention is pruned, and deltas leave within the same byte window as snapshots.
 *
 * Most tests wire a MasterCore and CloneCores over a tiny hand-driven bus on virtual time (the
 * SimClock), so a message can be dropped, a clone cut off, and hours pass without waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { count, string, toText, type Data } from 'isobroker';
import { openSqliteBackend } from 'isobroker/node';
import { encodeValue } from '../../src/codec/native/values.js';
import type { StoreError } from '../../src/errors.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { CloneCore } from '../../src/store/clone.js';
import { MasterCore, type MasterConfig } from '../../src/store/master.js';
import { createMemoryBackend } from '../../src/store/memory-backend.js';
import { StoreOp } from '../../src/store/operations.js';
import {
  StoreMsg,
  cloneTopic,
  decodeStoreMessage,
  encodeStoreMessage,
  masterTopic,
  updatesTopic,
  type StoreMessage,
} from '../../src/store/store-protocol.js';
import { createClone, createMaster } from 'isobroker';
import { memoryEndpoints, until, type Net } from '../support/endpoints.js';
import { SimClock } from '../support/sim-network.js';

const NAME = 'kv';
type Command = Extract<StoreMessage, { kind: typeof StoreMsg.Command }>;

/**
 * A master and clones joined by a bus: every message is encoded, decoded and delivered 1 ms later
 * (in order). `cut` holds clones that are cut off (nothing passes either way, and the master sees
 * their topic unreachable); `dropToMaster` may swallow a message on its way to the master.
 */
function bus(masterOpts: Partial<MasterConfig> = {}, backend: StoreBackend = createMemoryBackend()) {
  const clock = new SimClock();
  const clones = new Map<string, CloneCore>();
  const cut = new Set<string>();
  const toClone: Record<string, StoreMessage[]> = {};
  const errors: StoreError[] = [];
  let dropToMaster: (m: StoreMessage) => boolean = () => false;
  const wire = (msg: StoreMessage): { msg: StoreMessage; bytes: number } => {
    const bytes = encodeValue(encodeStoreMessage(msg));
    return { msg: decodeStoreMessage(encodeStoreMessage(msg)), bytes: bytes.length };
  };
  const deliverToClone = (id: string, msg: StoreMessage): void => {
    if (cut.has(id)) return;
    (toClone[id] ??= []).push(msg);
    clones.get(id)?.onMessage(msg);
  };
  const master: MasterCore = new MasterCore({
    name: NAME,
    backend,
    timers: clock,
    send: (topic, m) => {
      const { msg, bytes } = wire(m);
      clock.setTimeout(() => {
        if (topic === updatesTopic(NAME)) for (const id of clones.keys()) deliverToClone(id, msg);
        else for (const id of clones.keys()) if (topic === cloneTopic(NAME, id)) deliverToClone(id, msg);
        // Messages to clones the bus does not host (a hostile sender's id) are recorded.
        const id = topic.slice(cloneTopic(NAME, '').length);
        if (topic.startsWith(cloneTopic(NAME, '')) && !clones.has(id)) (toClone[id] ??= []).push(msg);
      }, 1);
      return bytes;
    },
    changeLogSize: 100_000,
    chunkSize: 1000,
    chunkBytes: 512 * 1024,
    maxEntryBytes: 16 * 1024 * 1024 - 65536,
    chunkWindow: 8,
    chunkWindowBytes: 1024 * 1024,
    aheadWindow: 1024,
    aheadWindowBytes: 8 * 1024 * 1024,
    aheadTotalBytes: 64 * 1024 * 1024,
    cloneRetention: 3_600_000,
    cloneReachable: (id) => clones.has(id) && !cut.has(id),
    heartbeatInterval: 100,
    expiryTick: 100,
    newEpoch: () => 'epoch-1',
    onError: (e) => errors.push(e),
    ...masterOpts,
  });
  /** Delivers a message to the master 1 ms from now, unless dropped. */
  const toMaster = (from: string | undefined, m: StoreMessage): void => {
    if (from !== undefined && cut.has(from)) return;
    if (dropToMaster(m)) return;
    const { msg } = wire(m);
    clock.setTimeout(() => master.onMessage(msg), 1);
  };
  const addClone = async (id: string): Promise<CloneCore> => {
    const c = new CloneCore({
      name: NAME,
      cloneId: id,
      timers: clock,
      send: (topic, m) => {
        expect(topic).toBe(masterTopic(NAME));
        toMaster(id, m);
      },
      staleInterval: 300_000,
      mutationBufferInterval: 120_000,
      masterTimeout: 500,
      resyncInterval: 100,
      masterReachable: () => !cut.has(id),
      maxEntryBytes: 16 * 1024 * 1024 - 65536,
      onError: (e) => errors.push(e),
    });
    clones.set(id, c);
    await c.start();
    expect(await clock.runUntil(() => c.status === 'in-sync', 5000)).toBe(true);
    return c;
  };
  /** Runs virtual time until `p` settles. */
  const settle = async <T>(p: Promise<T>, maxMs = 10_000): Promise<T> => {
    let done = false;
    const watched = p.finally(() => (done = true));
    watched.catch(() => undefined);
    await clock.runUntil(() => done, maxMs, 1);
    return watched;
  };
  return {
    clock,
    settle,
    master,
    clones,
    cut,
    toClone,
    errors,
    toMaster,
    addClone,
    drop(fn: (m: StoreMessage) => boolean) {
      dropToMaster = fn;
    },
    close() {
      for (const c of clones.values()) c.close();
      master.close();
    },
  };
}

const closers: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const command = (cloneId: string, reqId: number, lowest: number, key: string, value: Data): Command => ({
  kind: StoreMsg.Command,
  cloneId,
  reqId,
  lowest,
  op: StoreOp.Put,
  key: string(key),
  args: [value],
});

const text = (d: Data): string => toText(d);
const MiB = 1024 * 1024;

describe('out-of-order commands are held only within a window per clone', () => {
  /** A hostile clone floods ids 2..n+1 (id 1 never comes), `valueBytes` each; returns what the master held at most. */
  async function flood(b: ReturnType<typeof bus>, n: number, valueBytes: number) {
    const big = string('x'.repeat(valueBytes));
    let peakHeld = 0;
    let peakCount = 0;
    for (let i = 0; i < n; i++) {
      b.toMaster(undefined, command('evil', i + 2, 1, `evil-${i}`, big));
      if (i % 64 === 63 || i === n - 1) {
        await b.clock.run(2);
        peakHeld = Math.max(peakHeld, b.master.stats.heldBytes);
        peakCount = Math.max(peakCount, b.master.stats.heldCommands);
      }
    }
    return { peakHeld, peakCount };
  }

  it('holds at most the window of a flood with a gap (64 MiB sent), tells the clone once, and applies nothing of it', async () => {
    const b = bus({ aheadWindow: 256, aheadWindowBytes: MiB });
    closers.push(() => b.close());
    const { peakHeld, peakCount } = await flood(b, 1024, 64 * 1024);
    expect(peakHeld).toBeLessThanOrEqual(MiB);
    expect(peakHeld).toBeGreaterThan(MiB / 2); // the window is used, not refused wholesale
    expect(peakCount).toBeLessThan(256);
    const s = b.master.stats;
    expect(s.heldCommands + s.refusedCommands).toBe(1024);
    expect(s.resendsSent).toBe(1);
    expect(b.toClone.evil?.filter((m) => m.kind === StoreMsg.Resend)).toEqual([
      { kind: StoreMsg.Resend, from: 1, held: s.heldCommands },
    ]);
    expect(b.master.size()).toBe(0);
  });

  it('without the window (limits raised to the maximum) the same flood is held whole: the figure the window removes', async () => {
    const b = bus({ aheadWindow: 1_000_000, aheadWindowBytes: 1024 ** 3, aheadTotalBytes: 4 * 1024 ** 3 });
    closers.push(() => b.close());
    const { peakHeld } = await flood(b, 1024, 64 * 1024);
    expect(peakHeld).toBeGreaterThan(64 * MiB);
    expect(b.master.stats.refusedCommands).toBe(0);
  });

  it('a flooding clone that resends from the missing id on gets every command applied once, in order', async () => {
    const b = bus({ aheadWindow: 64, aheadWindowBytes: 256 * 1024 });
    closers.push(() => b.close());
    const n = 300;
    for (let i = 2; i <= n; i++) b.toMaster(undefined, command('evil', i, 1, 'k', count(i)));
    await b.clock.run(5);
    const resend = b.toClone.evil?.find((m) => m.kind === StoreMsg.Resend);
    expect(resend).toMatchObject({ from: 1 });
    expect(b.master.stats.heldCommands).toBe(63);
    // It resyncs: everything from `from` on, in order (the held ones again too).
    for (let i = 1; i <= n; i++) b.toMaster(undefined, command('evil', i, 1, 'k', count(i)));
    await b.clock.run(5);
    expect(b.master.stats.heldCommands).toBe(0);
    expect(b.master.stats.heldBytes).toBe(0);
    expect(text(b.master.get(string('k')))).toBe(String(n));
    // Each id applied once: one change per command.
    expect(b.master.seq).toBe(n);
  });

  it('an honest clone whose command was lost beyond the window is told, resends, and each write is applied once', async () => {
    const b = bus({ aheadWindow: 4, aheadWindowBytes: 64 * 1024 });
    closers.push(() => b.close());
    const c = await b.addClone('honest');
    let dropped = false;
    b.drop((m) => {
      if (dropped || m.kind !== StoreMsg.Command) return false;
      dropped = true;
      return true;
    });
    const writes = Array.from({ length: 20 }, () =>
      c.mutate({ op: StoreOp.Increment, key: string('n'), args: [count(1)] }),
    );
    const settled = Promise.allSettled(writes);
    let done = false;
    void settled.then(() => (done = true));
    // Well before the clone's own retransmission (resyncInterval 100 ms), the Resend brings it.
    expect(await b.clock.runUntil(() => done, 50, 1)).toBe(true);
    expect((await settled).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(dropped).toBe(true);
    expect(b.master.stats.resendsSent).toBe(1);
    expect(text(b.master.get(string('n')))).toBe('20');
    expect(text(c.get(string('n')))).toBe('20');
    expect(b.master.stats.heldCommands).toBe(0);
  });

  it('many clone ids cannot add up past the total', async () => {
    const b = bus({ aheadWindow: 1024, aheadWindowBytes: MiB, aheadTotalBytes: 4 * MiB });
    closers.push(() => b.close());
    const big = string('y'.repeat(32 * 1024));
    for (let c = 0; c < 32; c++) for (let i = 2; i < 40; i++) b.toMaster(undefined, command(`id${c}`, i, 1, 'k', big));
    await b.clock.run(5);
    expect(b.master.stats.heldBytes).toBeLessThanOrEqual(4 * MiB);
    expect(b.master.stats.heldBytes).toBeGreaterThan(3 * MiB);
  });
});

describe('a hostile flood over a real network', () => {
  let net: Net | undefined;
  afterEach(async () => {
    await net?.close();
    net = undefined;
  });

  it('keeps the master bounded while an honest clone keeps working; the flooder is told and resyncs', async () => {
    net = memoryEndpoints(3);
    await net.eps[1]!.peer(net.url(0));
    await net.eps[2]!.peer(net.url(0));
    const window = 2 * MiB;
    const master = await createMaster(net.eps[0]!, NAME, { heartbeatInterval: 100, aheadWindowBytes: window });
    closers.push(() => master.close());
    const honest = await createClone(net.eps[1]!, NAME, { resyncInterval: 100, masterTimeout: 500 });
    closers.push(() => honest.close());
    await honest.whenInSync(5000);
    const evil = net.eps[2]!;
    const told: StoreMessage[] = [];
    evil.subscribe(cloneTopic(NAME, 'evil'), (m) => told.push(decodeStoreMessage(m.data)));
    evil.flushSubscriptions();
    await until(() => evil.hasRoute(masterTopic(NAME)), 2000, 'route to the master');
    const big = string('z'.repeat(128 * 1024));
    const n = 256; // 32 MiB of commands ahead of a missing id 1
    let peak = 0;
    for (let i = 0; i < n; i += 16) {
      for (let j = i; j < i + 16; j++)
        evil.publish(masterTopic(NAME), encodeStoreMessage(command('evil', j + 2, 1, `e${j}`, big)));
      await honest.put(`h${i}`, count(i)); // the honest clone's writes go through meanwhile
      await until(() => master.stats.heldCommands + master.stats.refusedCommands >= i + 16, 5000, 'flood received');
      peak = Math.max(peak, master.stats.heldBytes);
    }
    expect(peak).toBeLessThanOrEqual(window);
    expect(master.stats.refusedCommands).toBeGreaterThan(n - 20);
    for (let i = 0; i < n; i += 16) expect(text(honest.get(`h${i}`))).toBe(String(i));
    await until(() => told.some((m) => m.kind === StoreMsg.Resend), 2000, 'the flooder told');
    expect(told.find((m) => m.kind === StoreMsg.Resend)).toMatchObject({ from: 1 });
    // The flooder resyncs: from id 1 on, in order; every command is applied, once.
    const acks = new Set<number>();
    evil.subscribe(cloneTopic(NAME, 'evil'), (m) => {
      const msg = decodeStoreMessage(m.data);
      if (msg.kind === StoreMsg.Ack) acks.add(msg.reqId);
    });
    for (let r = 1; r <= n + 1; r += 16) {
      const last = Math.min(r + 15, n + 1);
      for (let id = r; id <= last; id++) {
        const key = id === 1 ? 'e-first' : `e${id - 2}`;
        evil.publish(masterTopic(NAME), encodeStoreMessage(command('evil', id, 1, key, big)));
      }
      await until(() => acks.size >= last, 10_000, 'resent commands acknowledged');
    }
    expect(master.stats.heldCommands).toBe(0);
    expect(master.size).toBe(n + 1 + n / 16);
  });
});

describe('per-clone bookkeeping is pruned after the retention', () => {
  it('drops a clone gone longer than the retention (its SQLite progress row too); it returns and writes cleanly', async () => {
    const backend = openSqliteBackend({ path: ':memory:' });
    const retention = 10 * 60_000; // above the clone's mutationBufferInterval (2 min)
    const b = bus({ cloneRetention: retention }, backend);
    closers.push(() => b.close());
    const c = await b.addClone('c1');
    await b.settle(c.mutate({ op: StoreOp.Increment, key: string('n'), args: [count(1)] }));
    expect(b.master.stats.clones).toBe(1);
    expect(backend.getMeta('clone-next:c1')).toBe('2');
    b.cut.add('c1');
    await b.clock.run(retention / 2);
    expect(b.master.stats.clones).toBe(1); // gone, but not long enough
    await b.clock.run(retention);
    expect(b.master.stats.clones).toBe(0);
    expect(b.master.stats.clonesPruned).toBe(1);
    expect(backend.getMeta('clone-next:c1')).toBeUndefined();
    expect(backend.metaNames!('clone-next:')).toEqual([]);
    // Meanwhile the clone failed the writes it made while cut off (mutation_buffer_interval).
    const lost = c.mutate({ op: StoreOp.Increment, key: string('n'), args: [count(100)] });
    lost.catch(() => undefined);
    await b.clock.run(130_000);
    await expect(lost).rejects.toMatchObject({ code: 'request_timeout' });
    // It comes back: resyncs, and its writes are applied once each.
    b.cut.delete('c1');
    expect(await b.clock.runUntil(() => c.status === 'in-sync', 10_000)).toBe(true);
    for (let i = 0; i < 5; i++) await b.settle(c.mutate({ op: StoreOp.Increment, key: string('n'), args: [count(1)] }));
    expect(text(b.master.get(string('n')))).toBe('6');
    expect(b.master.stats.clones).toBe(1);
  });

  it('a clone heard from or reachable is kept however long it is idle', async () => {
    const b = bus({ cloneRetention: 1000 });
    closers.push(() => b.close());
    const c = await b.addClone('idle');
    await b.settle(c.mutate({ op: StoreOp.Put, key: string('a'), args: [count(1)] }));
    await b.clock.run(10_000);
    expect(b.master.stats.clones).toBe(1);
    expect(b.master.stats.clonesPruned).toBe(0);
  });

  it('prunes rows that an earlier run of a durable master left behind', async () => {
    const backend = openSqliteBackend({ path: ':memory:' });
    backend.transaction(() => {
      backend.setMeta('clone-next:old-1', '7');
      backend.setMeta('clone-next:old-2', '3');
    });
    const b = bus({ cloneRetention: 1000 }, backend);
    closers.push(() => b.close());
    await b.clock.run(5000);
    expect(backend.metaNames!('clone-next:')).toEqual([]);
    expect(b.master.stats.clonesPruned).toBe(2);
  });
});

describe('deltas are paced by acknowledgements within the byte window', () => {
  it('sends a 12 MiB catch-up with at most the window (plus one update) unacknowledged', async () => {
    const windowBytes = MiB;
    const chunkBytes = 256 * 1024;
    const b = bus({ chunkWindowBytes: windowBytes, chunkBytes });
    closers.push(() => b.close());
    const c = await b.addClone('late');
    b.cut.add('late');
    await b.clock.run(1000); // the clone notices
    const value = string('v'.repeat(64 * 1024));
    const snapshotBytes = b.master.resyncBytes.snapshot;
    for (let i = 0; i < 200; i++)
      await b.settle(b.master.mutate({ op: StoreOp.Put, key: string(`k${i}`), args: [value] }));
    b.cut.delete('late');
    expect(await b.clock.runUntil(() => c.status === 'in-sync' && c.seq === b.master.seq, 30_000)).toBe(true);
    const sent = b.master.stats;
    expect(b.master.size()).toBe(200);
    expect(c.size()).toBe(200);
    const resync = b.master.resyncBytes;
    expect(resync.snapshot).toBe(snapshotBytes);
    expect(resync.delta).toBeGreaterThan(12 * MiB);
    expect(sent.resyncInFlightBytesPeak).toBeGreaterThan(0);
    expect(sent.resyncInFlightBytesPeak).toBeLessThanOrEqual(windowBytes + chunkBytes);
    expect(sent.resyncInFlightBytes).toBe(0);
  });

  it('a clone that never acknowledges deltas (store protocol revision 2) gets a snapshot when it asks again', async () => {
    const b = bus({ chunkWindowBytes: 256 * 1024, chunkBytes: 64 * 1024 });
    closers.push(() => b.close());
    const c = await b.addClone('old');
    b.drop((m) => m.kind === StoreMsg.DeltaAck);
    b.cut.add('old');
    await b.clock.run(1000);
    const value = string('w'.repeat(32 * 1024));
    for (let i = 0; i < 100; i++)
      await b.settle(b.master.mutate({ op: StoreOp.Put, key: string(`k${i}`), args: [value] }));
    const before = { ...b.master.resyncBytes };
    b.cut.delete('old');
    expect(await b.clock.runUntil(() => c.status === 'in-sync' && c.seq === b.master.seq, 60_000)).toBe(true);
    expect(c.size()).toBe(100);
    expect(b.master.resyncBytes.delta - before.delta).toBeLessThan(512 * 1024); // one window, then it stalled
    expect(b.master.resyncBytes.snapshot - before.snapshot).toBeGreaterThan(3 * MiB);
  });
});

describe('the new master options are validated', () => {
  it('refuses out-of-range windows and retention with a ConfigError naming the option', async () => {
    const { resolveMasterOptions } = await import('../../src/store/stores.js');
    for (const [name, bad] of [
      ['aheadWindow', 0],
      ['aheadWindow', 1.5],
      ['aheadWindowBytes', 10],
      ['aheadTotalBytes', -1],
      ['cloneRetention', 0],
      ['cloneRetention', Number.NaN],
    ] as const) {
      expect(() => resolveMasterOptions({ [name]: bad }), name).toThrow(
        expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining(name) }),
      );
    }
    const o = resolveMasterOptions({});
    expect([o.aheadWindow, o.aheadWindowBytes, o.aheadTotalBytes, o.cloneRetention]).toEqual([
      1024,
      8 * MiB,
      64 * MiB,
      3_600_000,
    ]);
  });
});
