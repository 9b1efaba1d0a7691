import { afterEach, describe, expect, it } from 'vitest';
import { count, equals, makeEvent, string, type StatusEvent } from 'isobroker';
import { collect, memoryEndpoints, sleep, until, type Net } from '../support/endpoints.js';

let net: Net | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

/** Peers endpoints along `edges` and waits until every peering is up. */
async function wire(n: Net, edges: readonly (readonly [number, number])[]): Promise<void> {
  await Promise.all(edges.map(([a, b]) => n.eps[a]!.peer(n.url(b))));
}

/** Waits until every endpoint can route `topic` to every subscriber (subscriptions propagated). */
async function settled(n: Net, subscribers: readonly number[], topic: string): Promise<void> {
  await until(
    () =>
      n.eps.every((ep, i) =>
        subscribers.every(
          (s) => s === i || ep.reachable().some((r) => r.id === n.eps[s]!.id && r.filter.some((p) => topic.startsWith(p))),
        ),
      ),
    5000,
    'routes to settle',
  );
}

describe('publish/subscribe over the overlay', () => {
  it('delivers between two peers with types intact and never to the publisher itself', async () => {
    net = memoryEndpoints(2);
    const [a, b] = net.eps as [typeof net.eps[0], typeof net.eps[0]];
    const atB = collect(b, 'alice/dogs');
    const atA = collect(a, 'alice/');
    await wire(net, [[0, 1]]);
    await settled(net, [1], 'alice/dogs');
    const ev = makeEvent('bark', [count(3), string('loud')]);
    a.publish('alice/dogsarecool', ev);
    a.publish('alice/dog', count(1)); // not matched by alice/dogs
    await until(() => atB.length >= 1);
    await sleep(30);
    expect(atB).toHaveLength(1);
    expect(atB[0]!.topic).toBe('alice/dogsarecool');
    expect(equals(atB[0]!.data, ev)).toBe(true);
    expect(atA).toHaveLength(0);
  });

  it('publishing with no subscriber anywhere succeeds and drops the message', async () => {
    net = memoryEndpoints(2);
    await wire(net, [[0, 1]]);
    expect(() => net!.eps[0]!.publish('nobody/listens', count(1))).not.toThrow();
    expect(net.eps[0]!.stats().forwarded).toBe(0);
  });

  it('reaches a subscriber five hops away, exactly once per message', async () => {
    net = memoryEndpoints(6);
    await wire(net, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]);
    const got = collect(net.eps[5]!, 'far/');
    await settled(net, [5], 'far/x');
    for (let i = 0; i < 50; i++) net.eps[0]!.publish('far/x', count(i));
    await until(() => got.length >= 50);
    await sleep(50);
    expect(got.map((m) => (m.data as { value: bigint }).value)).toEqual([...Array(50).keys()].map(BigInt));
  });

  it.each([
    ['ring of 6', 6, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]]],
    ['full mesh of 5', 5, [[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]],
  ] as const)('delivers exactly once to every subscriber in a %s', async (_name, n, edges) => {
    net = memoryEndpoints(n);
    const boxes = net.eps.map((ep) => collect(ep, 'mesh/'));
    await wire(net, edges);
    const all = [...Array(n).keys()];
    await settled(net, all, 'mesh/t');
    for (let p = 0; p < n; p++) for (let i = 0; i < 20; i++) net.eps[p]!.publish('mesh/t', string(`${p}:${i}`));
    await until(() => boxes.every((b) => b.length >= 20 * (n - 1)), 5000, 'all deliveries');
    await sleep(100);
    for (let i = 0; i < n; i++) {
      const texts = boxes[i]!.map((m) => (m.data as { value: string }).value);
      expect(texts).toHaveLength(20 * (n - 1));
      expect(new Set(texts).size).toBe(texts.length);
      expect(texts.some((t) => t.startsWith(`${i}:`))).toBe(false);
    }
  });

  it('stops delivering after unsubscribe and propagates the removal', async () => {
    net = memoryEndpoints(3);
    await wire(net, [[0, 1], [1, 2]]);
    const got: unknown[] = [];
    const sub = net.eps[2]!.subscribe('u/', (m) => got.push(m));
    await settled(net, [2], 'u/1');
    net.eps[0]!.publish('u/1', count(1));
    await until(() => got.length === 1);
    sub.unsubscribe();
    await until(() => !net!.eps[0]!.hasRoute('u/2'), 5000, 'route withdrawal');
    net.eps[0]!.publish('u/2', count(2));
    await sleep(50);
    expect(got).toHaveLength(1);
  });

  it('enforces the TTL', async () => {
    net = memoryEndpoints(5, { ttl: 2 });
    await wire(net, [[0, 1], [1, 2], [2, 3], [3, 4]]);
    const near = collect(net.eps[2]!, 't/');
    const far = collect(net.eps[4]!, 't/');
    await settled(net, [2, 4], 't/x');
    net.eps[0]!.publish('t/x', count(1));
    await until(() => near.length === 1);
    await sleep(50);
    expect(far).toHaveLength(0);
    expect(net.eps[2]!.stats().ttlExpired).toBe(1);
  });

  it("reports Broker's status codes and texts, and reconnects after the link drops", async () => {
    net = memoryEndpoints(3);
    const events: StatusEvent[] = [];
    net.eps[0]!.on('status', (s) => events.push(s));
    await wire(net, [[0, 1], [1, 2]]);
    await until(() => events.filter((e) => e.code === 'endpoint_discovered').length === 2);
    const added = events.find((e) => e.code === 'peer_added')!;
    expect(added.message).toBe('handshake successful');
    expect(added.peer.id).toBe(net.eps[1]!.id);
    expect(events.find((e) => e.code === 'endpoint_discovered')!.message).toBe('found a new peer in the network');

    const got = collect(net.eps[2]!, 'r/');
    net.net.cutAll();
    await until(() => events.some((e) => e.code === 'peer_lost'));
    expect(events.find((e) => e.code === 'peer_lost')!.message).toBe('lost connection to remote peer');
    await until(() => events.some((e) => e.code === 'endpoint_unreachable'));
    expect(events.find((e) => e.code === 'endpoint_unreachable')!.message).toBe('lost the last path');
    // Both peerings were dialled with retry: they come back and subscriptions are restored.
    await until(() => events.filter((e) => e.code === 'peer_added').length === 2, 5000, 'reconnect');
    await settled(net, [2], 'r/x');
    net.eps[0]!.publish('r/x', count(7));
    await until(() => got.length === 1);
  });

  it('reports peer_removed on unpeer and peer_unavailable for a dead address', async () => {
    net = memoryEndpoints(2);
    const events: { code: string }[] = [];
    net.eps[0]!.on('status', (s) => events.push(s));
    net.eps[0]!.on('error', (e) => events.push(e));
    await wire(net, [[0, 1]]);
    await net.eps[0]!.unpeer(net.url(1));
    await until(() => events.some((e) => e.code === 'peer_removed'));
    await expect(net.eps[0]!.peer('ws://nowhere', { retry: 0 })).rejects.toThrow();
    expect(events.some((e) => e.code === 'peer_unavailable')).toBe(true);
  });

  it('keeps one connection when two endpoints dial each other', async () => {
    net = memoryEndpoints(2);
    await Promise.all([net.eps[0]!.peer(net.url(1)), net.eps[1]!.peer(net.url(0))]);
    await sleep(50);
    expect(net.eps[0]!.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
    expect(net.eps[1]!.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
    const got = collect(net.eps[1]!, 'x');
    await settled(net, [1], 'x');
    net.eps[0]!.publish('x', count(1));
    await until(() => got.length === 1);
  });
});
