/** Master and clones over memory transports: every operation, replication, resync, staleness. */
import { afterEach, describe, expect, it } from 'vitest';
import {
  StoreError,
  count,
  createClone,
  createMaster,
  equals,
  integer,
  set,
  string,
  table,
  vector,
  toText,
  type StoreChangeEvent,
} from 'isobroker';
import { openSqliteBackend } from 'isobroker/node';
import { memoryEndpoints, until, type Net } from '../support/endpoints.js';
import { simEndpoints, type SimNet } from '../support/sim-endpoints.js';

let net: Net | SimNet | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await net?.close();
  net = undefined;
});

/**
 * A master on ep0 and an in-sync clone on ep1, on virtual time: endpoints, master and clone all
 * run on the SimClock of a calm simulated network.
 */
async function simSetup(
  cloneOpts: Parameters<typeof createClone>[2] = {},
  masterOpts: Parameters<typeof createMaster>[2] = {},
) {
  const n = simEndpoints(2);
  net = n;
  await n.settle(n.eps[1]!.peer(n.url(0)));
  const master = await createMaster(n.eps[0]!, 'kv', { timers: n.clock, heartbeatInterval: 100, ...masterOpts });
  closers.push(() => master.close());
  await n.until(() => n.eps[1]!.hasRoute('<$>/store/kv/master'), 2000, 'route to the master');
  const c = await n.settle(
    createClone(n.eps[1]!, 'kv', { timers: n.clock, resyncInterval: 100, masterTimeout: 500, ...cloneOpts }),
  );
  closers.push(() => c.close());
  await n.until(() => c.status === 'in-sync', 5000, 'clone in sync');
  return { n, master, c };
}

async function setup(n = 2) {
  net = memoryEndpoints(n);
  for (let i = 1; i < n; i++) await net.eps[i]!.peer(net.url(i - 1));
  const master = await createMaster(net.eps[0]!, 'kv', { heartbeatInterval: 100 });
  closers.push(() => master.close());
  return { net, master };
}

async function clone(ep: number, opts: Parameters<typeof createClone>[2] = {}) {
  const c = await createClone(net!.eps[ep]!, 'kv', { resyncInterval: 100, masterTimeout: 500, ...opts });
  closers.push(() => c.close());
  await c.whenInSync(5000);
  return c;
}

const text = (d: unknown) => toText(d as never);

describe('store operations (Broker semantics) through a clone', () => {
  it('applies every operation on the master and replicates it', async () => {
    const { master } = await setup();
    const c = await clone(1);
    await c.put('a', count(1));
    expect(text(c.get('a'))).toBe('1');
    expect(await c.putUnique('a', count(2))).toBe(false);
    expect(await c.putUnique('b', string('x'))).toBe(true);
    await c.increment('a', count(5));
    await c.decrement('a', count(2));
    expect(text(c.get('a'))).toBe('4');
    await c.increment('fresh'); // a missing key starts at count 0
    expect(text(c.get('fresh'))).toBe('1');
    await c.append('b', string('yz'));
    expect(text(c.get('b'))).toBe('xyz');
    await c.insertInto('s', string('q'));
    await c.insertInto('s', string('p'));
    expect(text(c.get('s'))).toBe('{"p", "q"}');
    await c.removeFrom('s', string('q'));
    expect(text(c.get('s'))).toBe('{"p"}');
    await c.insertInto('t', string('k'), integer(-1));
    expect(text(c.get('t'))).toBe('{"k" -> -1}');
    expect(text(c.getIndexFromValue('t', 'k'))).toBe('-1');
    await c.push('v', count(1));
    await c.push('v', count(2));
    await c.pop('v');
    expect(text(c.get('v'))).toBe('[1]');
    expect(text(c.getIndexFromValue('v', count(0)))).toBe('1');
    expect(text(c.getIndexFromValue('s', string('p')))).toBe('T');
    await c.erase('b');
    expect(c.exists('b')).toBe(false);
    expect(text(c.keys())).toBe(text(master.keys()));
    expect(equals(master.get('t'), table([[string('k'), integer(-1)]]))).toBe(true);
  });

  it("fails with Broker's error codes", async () => {
    await setup();
    const c = await clone(1);
    await c.put('str', string('x'));
    await expect(c.increment('str', count(1))).rejects.toMatchObject({ name: 'StoreError', code: 'type_clash' });
    await expect(c.decrement('missing', count(1))).rejects.toMatchObject({ code: 'no_such_key' });
    await expect(c.pop('missing')).rejects.toMatchObject({ code: 'no_such_key' });
    await expect(c.removeFrom('missing', count(1))).rejects.toMatchObject({ code: 'no_such_key' });
    expect(() => c.get('missing')).toThrow(StoreError);
    expect(() => c.get('missing')).toThrow(/no such key/);
    await c.put('vec', vector([count(1)]));
    expect(() => c.getIndexFromValue('vec', count(5))).toThrow(/out of range/);
  });

  it('refuses a second master with master_exists', async () => {
    const { net } = await setup();
    await until(() => net.eps[1]!.hasRoute('<$>/store/kv/master'), 2000, 'master announcement');
    await expect(createMaster(net.eps[1]!, 'kv')).rejects.toMatchObject({ code: 'master_exists' });
    await expect(createMaster(net.eps[0]!, 'kv')).rejects.toMatchObject({ code: 'master_exists' });
  });

  it('feeds changes with old and new values to clones and the master', async () => {
    const { master } = await setup();
    const c = await clone(1);
    const seen: StoreChangeEvent[] = [];
    const onMaster: StoreChangeEvent[] = [];
    c.onChange((e) => seen.push(e));
    master.onChange((e) => onMaster.push(e));
    await master.put('k', count(1));
    await master.put('k', count(2));
    await master.erase('k');
    await until(() => seen.length === 3);
    expect(seen.map((e) => e.type)).toEqual(['insert', 'update', 'erase']);
    expect(onMaster.map((e) => e.type)).toEqual(['insert', 'update', 'erase']);
    const upd = seen[1] as Extract<StoreChangeEvent, { type: 'update' }>;
    expect(text(upd.oldValue)).toBe('1');
    expect(text(upd.newValue)).toBe('2');
  });
});

describe('expiry', () => {
  // SQLite: a put nobody watches on the master is one upsert that keeps and re-arms the interval itself.
  it.each([
    ['memory', () => ({})],
    ['SQLite', () => ({ backend: openSqliteBackend() })],
  ])('expires relative to the last change, re-arms without an expiry, clears with 0 (%s)', async (_, masterOpts) => {
    const { n, master, c } = await simSetup({}, masterOpts());
    const events: StoreChangeEvent[] = [];
    c.onChange((e) => events.push(e));
    const t0 = n.clock.now();
    await master.put('gone', count(1), { expiry: 300 });
    await master.put('kept', count(1), { expiry: 300 });
    await master.put('cleared', count(1), { expiry: 300 });
    await n.run(150);
    await master.put('kept', count(2)); // keeps its 300 ms interval, re-armed from now
    await master.put('cleared', count(2), { expiry: 0 });
    await n.run(150 - 1); // just before the first deadline
    expect(master.exists('gone')).toBe(true);
    await n.until(() => !master.exists('gone'), 2000);
    expect(n.clock.now() - t0).toBeGreaterThanOrEqual(300);
    expect(master.exists('kept')).toBe(true); // re-armed: its deadline is 450 ms after the start
    await n.until(() => !master.exists('kept'), 2000);
    expect(n.clock.now() - t0).toBeGreaterThanOrEqual(450);
    await n.run(2000);
    expect(master.exists('cleared')).toBe(true);
    await n.until(() => events.filter((e) => e.type === 'expire').length === 2);
    expect(c.exists('gone')).toBe(false);
    expect(c.exists('cleared')).toBe(true);
  });
});

describe('resync', () => {
  it('catches up by delta after a network outage', async () => {
    const { master, net } = await setup();
    const c = await clone(1);
    for (let i = 0; i < 100; i++) await master.put(`k${i}`, count(i));
    await until(() => c.size === 100);
    const before = master.resyncBytes;
    net.net.unlisten('ep0');
    net.net.cutAll();
    await until(() => c.status !== 'in-sync', 3000, 'clone notices the outage');
    for (let i = 0; i < 5; i++) await master.put(`k${i}`, count(1000 + i));
    net.net.listen('ep0', net.eps[0]!);
    await c.whenInSync(10_000);
    await until(() => text(c.get('k4')) === '1004');
    const after = master.resyncBytes;
    expect(after.snapshot).toBe(before.snapshot);
    expect(after.delta).toBeGreaterThan(before.delta);
    expect(text(c.keys())).toBe(text(master.keys()));
  });

  it('buffers writes made while cut off and replays them in order', async () => {
    const { n, master, c } = await simSetup();
    n.sim.isolate('ep0', 60_000);
    await n.until(() => c.status !== 'in-sync', 3000);
    const writes = [
      c.put('x', count(1)),
      c.increment('x', count(1)),
      c.push('log', string('a')),
      c.push('log', string('b')),
    ];
    await n.run(200);
    expect(master.exists('x')).toBe(false); // buffered on the clone: nothing reached the master
    n.sim.heal();
    await n.settle(Promise.all(writes), 10_000, 'buffered writes');
    expect(text(master.get('x'))).toBe('2');
    expect(text(master.get('log'))).toBe('["a", "b"]');
    expect(text(c.get('log'))).toBe('["a", "b"]');
  });

  it('fails buffered writes after mutationBufferInterval and queries after staleInterval', async () => {
    const { n, c } = await simSetup({ mutationBufferInterval: 300, staleInterval: 1500 });
    await n.settle(c.put('k', count(1)));
    const cutAt = n.clock.now();
    void n.eps[0]!.close();
    await n.until(() => c.status !== 'in-sync', 3000);
    expect(text(c.get('k'))).toBe('1'); // not stale yet
    const putAt = n.clock.now();
    const put = c.put('k', count(2)).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await n.run(300 - 1);
    const early = await Promise.race([put, Promise.resolve('pending')]);
    expect(early).toBe('pending'); // buffered for mutationBufferInterval
    expect(await n.settle(put, 1000)).toMatchObject({ code: 'request_timeout' });
    expect(n.clock.now() - putAt).toBeGreaterThanOrEqual(300);
    await n.run(cutAt + 1300 - n.clock.now());
    expect(text(c.get('k'))).toBe('1'); // heard from the master less than 1500 ms ago
    await n.run(300);
    expect(() => c.get('k')).toThrow(expect.objectContaining({ code: 'stale_data' }));
  });

  it('snapshots a clone of a new master incarnation', async () => {
    const { master, net } = await setup(3);
    const c = await clone(2);
    await master.put('old', count(1));
    await until(() => c.exists('old'));
    master.close();
    await until(() => !net.eps[1]!.hasRoute('<$>/store/kv/master'), 2000, 'old master withdrawn');
    const again = await createMaster(net.eps[1]!, 'kv', { heartbeatInterval: 100 });
    closers.push(() => again.close());
    await again.put('new', count(2));
    await until(
      () => c.status === 'in-sync' && c.exists('new') && !c.exists('old'),
      10_000,
      'resync to the new master',
    );
    expect(text(c.keys())).toBe('{"new"}');
    expect(again.resyncBytes.snapshot).toBeGreaterThan(0);
  });

  it('gives a clone of a large store the whole store in chunks', async () => {
    const { master } = await setup();
    for (let i = 0; i < 5000; i++) void master.put(count(i), set([count(i)]));
    await master.put('last', count(0));
    const c = await clone(1);
    expect(c.size).toBe(5001);
    expect(text(c.get(count(4999)))).toBe('{4999}');
  });
});
