/**
 * Leaves and routers: what a client costs its hub and everyone else, bounded interest, and a
 * routing table that returns to the live set. CI sizes by default; `ISOBROKER_LOAD=1` (npm run
 * test:load) runs the full sizes of issue 10.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, MemoryNetwork, count, type Message } from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import {
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
  type AnnounceMessage,
} from '../../src/internal.js';
import { jsonClient, rawClient, type RawClient } from '../support/ws-client.js';
import { until } from '../support/endpoints.js';

const LOAD = process.env.ISOBROKER_LOAD === '1';
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function track<T extends { close(): unknown }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

let rawCount = 0;
/** A raw native client that only says hello (and, as a router, announces itself) and counts bytes. */
async function observer(
  l: Listener,
  link: 'leaf' | 'router',
  hubId?: string,
): Promise<RawClient & { bytes(): number }> {
  const c = track(await rawClient(`${l.url}/v1/messages/native`));
  const id = `0b1b2c3d-0000-4000-8000-${String(++rawCount).padStart(12, '0')}`;
  const msgs = [
    encodeMessage({
      kind: MessageKind.Hello,
      version: NATIVE_PROTOCOL_VERSION,
      id: idToBytes(id),
      name: `observer-${link}`,
      role: 'test',
      link,
    }),
    encodeMessage({
      kind: MessageKind.Announce,
      origin: idToBytes(id),
      version: 1,
      name: 'observer',
      filter: [],
      neighbors: hubId ? [idToBytes(hubId)] : [],
    }),
  ];
  c.ws.send(encodeFrame(msgs));
  // Answer pings so that the hub keeps us.
  c.ws.on('message', (d: Buffer) => {
    for (const m of decodeFrame(new Uint8Array(d)))
      if (m.kind === MessageKind.Ping)
        c.ws.send(encodeFrame([encodeMessage({ kind: MessageKind.Pong, nonce: m.nonce })]));
  });
  return { ...c, bytes: () => c.binaries.reduce((n, b) => n + b.length, 0) };
}

describe('leaves cost the rest of the network nothing', () => {
  const N = LOAD ? 2000 : 300;
  it(`${N} native and ${N} JSON v1 leaves join beside an honest pair: constant cost per join, every honest message delivered`, async () => {
    const hub = track(new Endpoint({ name: 'hub', role: 'hub' }));
    const l = track(await listen(hub));
    const r = await observer(l, 'router', hub.id);
    const o = await observer(l, 'leaf');
    await until(() => hub.routing().endpoints === 1 && hub.routing().leaves === 1, 5000, 'observers');
    // The honest pair: a publisher and a subscriber, leaves too.
    const a = track(new Endpoint({ name: 'a' }));
    const b = track(new Endpoint({ name: 'b' }));
    const got: Message[] = [];
    b.subscribe('honest/', (m) => got.push(m));
    await Promise.all([a.peer(l.url), b.peer(l.url)]);
    await a.whenRoutable('honest/x');
    let sent = 0;
    const publish = (n: number): void => {
      for (let i = 0; i < n; i++) a.publish('honest/x', count(sent++));
    };

    const leaves: Endpoint[] = [];
    const curve: { n: number; routerBytes: number; leafBytes: number; joinerBytes: number }[] = [];
    const batch = 50;
    while (leaves.length < N) {
      const r0 = r.bytes();
      const o0 = o.bytes();
      const joiners: Endpoint[] = [];
      const jsons: RawClient[] = [];
      for (let i = 0; i < batch; i++) {
        // Dashboards: every one subscribes to the same topics plus one of its own.
        const ep = track(new Endpoint({ name: `leaf-${leaves.length + i}`, pingInterval: 0 }));
        ep.subscribe(['stats/', `<$>/store/kv/clone/${ep.id}`], () => undefined);
        joiners.push(ep);
      }
      await Promise.all(joiners.map((ep) => ep.peer(l.url)));
      for (let i = 0; i < batch; i++) jsons.push(track(await jsonClient(l.jsonUrl, ['stats/'])));
      await until(() => hub.routing().leaves === 3 + leaves.length + batch, 10_000, 'leaves to join');
      leaves.push(...joiners);
      publish(10);
      await new Promise((res) => setTimeout(res, 120)); // two interest intervals
      curve.push({
        n: leaves.length,
        routerBytes: (r.bytes() - r0) / batch,
        leafBytes: (o.bytes() - o0) / batch,
        joinerBytes: 0,
      });
    }
    await until(() => got.length === sent, 10_000, `honest delivery (${got.length}/${sent})`);
    expect(got.length).toBeGreaterThanOrEqual(Math.ceil(sent * 0.99));
    expect(new Set(got.map((m) => String((m.data as { value: bigint }).value))).size).toBe(got.length);
    // After the first batch (which brought new prefixes), a join costs the router and the other
    // leaves nothing but pings: far below one announcement per join.
    for (const c of curve.slice(1)) {
      expect(c.routerBytes).toBeLessThan(20);
      expect(c.leafBytes).toBeLessThan(20);
    }
    // The router heard of the leaves' prefixes once, coarsened or exact, never a leaf's id.
    const announced = r.binaries
      .flatMap((f) => decodeFrame(f))
      .filter((m): m is AnnounceMessage => m.kind === MessageKind.Announce);
    for (const m of announced) expect(m.neighbors.length).toBeLessThanOrEqual(1);
    expect(hub.routing()).toMatchObject({ endpoints: 1 });
    console.log(`[leaves] per-join bytes to the router / to another leaf by size: ${JSON.stringify(curve)}`);
  }, 120_000);
});

describe('interest stays bounded', () => {
  it('100,000 prefixes from one JSON v1 client: refused beyond the limit with a clear error, routers stay connected', async () => {
    const hub = track(new Endpoint({ name: 'hub', role: 'hub' }));
    const l = track(await listen(hub));
    const peerHub = track(new Endpoint({ name: 'peer-hub', role: 'hub', retry: 50 }));
    const down: string[] = [];
    peerHub.on('status', (s) => {
      if (s.code === 'peer_lost') down.push(s.message);
    });
    await peerHub.peer(l.url);
    const prefixes = Array.from({ length: 100_000 }, (_, i) => `flood/${i}/`);
    const c = track(await jsonClient(l.jsonUrl, prefixes));
    await c.waitTexts(1);
    expect(c.texts[0]).toContain('subscription_limit: 100000 prefixes subscribed, the limit per connection is 1024');
    await until(() => peerHub.reachable().some((e) => e.id === hub.id && e.filter.length >= 1024));
    peerHub.publish('flood/0/x', count(1));
    await c.waitTexts(2);
    expect(c.texts[1]).toContain('flood/0/x');
    expect(down).toEqual([]);
  });

  it('with the limit raised, 100,000 prefixes reach peers coarsened below what they accept', async () => {
    const hub = track(new Endpoint({ name: 'hub', role: 'hub', maxSubscriptions: 200_000 }));
    const l = track(await listen(hub));
    const peerHub = track(new Endpoint({ name: 'peer-hub', role: 'hub', retry: 50 }));
    const lost: string[] = [];
    peerHub.on('status', (s) => {
      if (s.code === 'peer_lost') lost.push(s.message);
    });
    await peerHub.peer(l.url);
    const prefixes = Array.from({ length: 100_000 }, (_, i) => `flood/${i}/`);
    const c = track(await jsonClient(l.jsonUrl, prefixes));
    await until(() => peerHub.reachable().some((e) => e.id === hub.id && e.filter.some((p) => p.startsWith('flood'))));
    const f = peerHub.reachable().find((e) => e.id === hub.id)!.filter;
    expect(f.length).toBeLessThanOrEqual(10_000);
    // A superset: every subscribed topic still matches, and delivery filters exactly.
    peerHub.publish('flood/99999/x', count(1));
    peerHub.publish('flood/x', count(2));
    peerHub.publish('flood/99998/x', count(3));
    await c.waitTexts(2);
    // flood/x matched the coarsened filter at most, never a subscription: not delivered.
    expect(c.texts.map((t) => JSON.parse(t).topic)).toEqual(['flood/99999/x', 'flood/99998/x']);
    expect(lost).toEqual([]);
  });

  it('a native leaf subscribing beyond the limit is told so and served the first prefixes', async () => {
    const net = new MemoryNetwork();
    const hub = track(new Endpoint({ name: 'hub', role: 'hub', connector: net.connector, maxSubscriptions: 10 }));
    net.listen('hub', hub);
    const leaf = track(new Endpoint({ name: 'leaf', connector: net.connector }));
    const errors: string[] = [];
    leaf.on('error', (e) => errors.push(`${e.code}: ${e.context}`));
    const got: Message[] = [];
    leaf.subscribe(
      Array.from({ length: 20 }, (_, i) => `t/${String(i).padStart(2, '0')}/`),
      (m) => got.push(m),
    );
    await leaf.peer('ws://hub');
    await until(() => errors.length > 0);
    expect(errors[0]).toMatch(/^subscription_limit: 20 prefixes subscribed, the limit per connection is 10/);
    await until(() => hub.hasRoute('t/00/x'));
    hub.publish('t/00/x', count(1));
    hub.publish('t/19/x', count(2));
    await until(() => got.length === 1);
    expect(hub.hasRoute('t/19/x')).toBe(false);
  });
});

describe('the routing table holds only live endpoints', () => {
  const CYCLES = 10_000;
  it(`${CYCLES} connect/disconnect cycles of leaves and routers leave only the live set`, async () => {
    const net = new MemoryNetwork();
    const hub = track(new Endpoint({ name: 'hub', role: 'hub', connector: net.connector, tombstoneTime: 50 }));
    net.listen('hub', hub);
    const peer = track(new Endpoint({ name: 'peer', role: 'hub', connector: net.connector, tombstoneTime: 50 }));
    net.listen('peer', peer);
    await peer.peer('ws://hub');
    const got: Message[] = [];
    peer.subscribe('honest/', (m) => got.push(m));
    await until(() => hub.hasRoute('honest/x'));
    const routers = Math.floor(CYCLES / 10);
    const leaves = CYCLES - routers;
    const parallel = 50;
    let sent = 0;
    for (let done = 0; done < CYCLES; done += parallel) {
      const eps = Array.from({ length: parallel }, (_, i) => {
        const asRouter = done + i < routers;
        return new Endpoint({
          name: `c${done + i}`,
          connector: net.connector,
          linkKind: asRouter ? 'router' : 'leaf',
          pingInterval: 0,
          tombstoneTime: 50,
        });
      });
      for (const ep of eps) ep.subscribe(`own/${ep.id}/`, () => undefined);
      await Promise.all(eps.map((ep) => ep.peer('ws://hub')));
      hub.publish('honest/x', count(sent++));
      await Promise.all(eps.map((ep) => ep.close()));
    }
    await until(() => got.length === sent, 10_000, 'honest traffic');
    await until(
      () => hub.routing().leaves === 0 && hub.routing().endpoints === 1 && hub.routing().tombstones === 0,
      10_000,
      `the table to return to the live set (${JSON.stringify(hub.routing())})`,
    );
    await until(() => peer.routing().endpoints === 1 && peer.routing().tombstones === 0, 10_000, 'the peer table');
    expect(hub.reachable().map((e) => e.name)).toEqual(['peer']);
    expect(hub.subscriptions()).toEqual([]);
    await until(
      () => peer.reachable().find((e) => e.name === 'hub')?.filter.length === 0,
      5000,
      `the hub's announced filter to empty (${peer.reachable().find((e) => e.name === 'hub')?.filter.length})`,
    );
    console.log(`[leaves] ${routers} router and ${leaves} leaf cycles: ${JSON.stringify(hub.routing())}`);
  }, 120_000);
});
