import { afterEach, describe, expect, it } from 'vitest';
import { count, equals, makeEvent, string, type StatusEvent } from 'isobroker';
import { collect, memoryEndpoints, until, type Net } from '../support/endpoints.js';
import { simEndpoints, type SimNet } from '../support/sim-endpoints.js';

let net: Net | SimNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

/** Peers endpoints along `edges` and waits until every peering is up. */
async function wire(n: Net | SimNet, edges: readonly (readonly [number, number])[]): Promise<void> {
  const all = Promise.all(edges.map(([a, b]) => n.eps[a]!.peer(n.url(b))));
  await ('clock' in n ? n.settle(all, 5000, 'peerings') : all);
}

/** Waits until every endpoint can route `topic` to every subscriber (subscriptions propagated). */
async function settled(n: Net | SimNet, subscribers: readonly number[], topic: string): Promise<void> {
  await ('clock' in n ? n.until : until)(
    () =>
      n.eps.every((ep, i) =>
        subscribers.every(
          (s) =>
            s === i || ep.reachable().some((r) => r.id === n.eps[s]!.id && r.filter.some((p) => topic.startsWith(p))),
        ),
      ),
    5000,
    'routes to settle',
  );
}

describe('publish/subscribe over the overlay', () => {
  it('delivers between two peers with types intact and never to the publisher itself', async () => {
    const n = (net = simEndpoints(2));
    const [a, b] = n.eps as [(typeof n.eps)[0], (typeof n.eps)[0]];
    const atB = collect(b, 'alice/dogs');
    const atA = collect(a, 'alice/');
    await wire(n, [[0, 1]]);
    await settled(n, [1], 'alice/dogs');
    const ev = makeEvent('bark', [count(3), string('loud')]);
    a.publish('alice/dogsarecool', ev);
    a.publish('alice/dog', count(1)); // not matched by alice/dogs
    await n.until(() => atB.length >= 1);
    await n.run(100); // anything else would have arrived by now
    expect(atB).toHaveLength(1);
    expect(atB[0]!.topic).toBe('alice/dogsarecool');
    expect(equals(atB[0]!.data, ev)).toBe(true);
    expect(atA).toHaveLength(0);
  });

  it('publishing with no subscriber anywhere succeeds and drops the message', async () => {
    const n = (net = simEndpoints(3));
    const marks = collect(n.eps[1]!, 'mark/');
    collect(n.eps[2]!, 'elsewhere/');
    await wire(n, [
      [0, 1],
      [1, 2],
    ]);
    await settled(n, [1], 'mark/');
    await settled(n, [2], 'elsewhere/');
    expect(() => n.eps[0]!.publish('nobody/listens', count(1))).not.toThrow();
    expect(n.eps[0]!.hasRoute('nobody/listens')).toBe(false);
    // A message published next on a subscribed topic travels the same link behind it: once it is
    // in, the peer has seen everything sent before, and it received only that one message.
    n.eps[0]!.publish('mark/1', count(2));
    await n.until(() => marks.length === 1, 5000, 'the marker');
    expect(n.eps[1]!.stats()).toMatchObject({ received: 1, duplicates: 0 });
    expect(n.eps[0]!.stats()).toMatchObject({ published: 2, forwarded: 0 });
    // Nor is the marker forwarded past its only subscriber.
    await n.run(200);
    expect(n.eps[1]!.stats().forwarded).toBe(0);
    expect(n.eps[2]!.stats().received).toBe(0);
  });

  it('reaches a subscriber five hops away, exactly once per message', async () => {
    const n = (net = simEndpoints(6));
    await wire(n, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
    const got = collect(n.eps[5]!, 'far/');
    await settled(n, [5], 'far/x');
    for (let i = 0; i < 50; i++) n.eps[0]!.publish('far/x', count(i));
    await n.until(() => got.length >= 50);
    await n.run(200);
    expect(got.map((m) => (m.data as { value: bigint }).value)).toEqual([...Array(50).keys()].map(BigInt));
    // Along the line each intermediate endpoint forwards every message exactly once, the last one
    // not at all, and nobody sees a copy twice.
    expect(n.eps.map((ep) => ep.stats().forwarded)).toEqual([0, 50, 50, 50, 50, 0]);
    expect(n.eps.map((ep) => ep.stats().received)).toEqual([0, 50, 50, 50, 50, 50]);
    expect(n.eps.map((ep) => ep.stats().duplicates)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it.each([
    [
      'ring of 6',
      6,
      [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
        [4, 5],
        [5, 0],
      ],
    ],
    [
      'full mesh of 5',
      5,
      [
        [0, 1],
        [0, 2],
        [0, 3],
        [0, 4],
        [1, 2],
        [1, 3],
        [1, 4],
        [2, 3],
        [2, 4],
        [3, 4],
      ],
    ],
  ] as const)('delivers exactly once to every subscriber in a %s', async (_name, n, edges) => {
    const sn = (net = simEndpoints(n));
    const boxes = sn.eps.map((ep) => collect(ep, 'mesh/'));
    await wire(sn, edges);
    const all = [...Array(n).keys()];
    await settled(sn, all, 'mesh/t');
    for (let p = 0; p < n; p++) for (let i = 0; i < 20; i++) sn.eps[p]!.publish('mesh/t', string(`${p}:${i}`));
    await sn.until(() => boxes.every((b) => b.length >= 20 * (n - 1)), 5000, 'all deliveries');
    await sn.run(500); // TTL 20 and a few ms per hop: any looping copy would have arrived
    const degree = (i: number): number => edges.filter(([a, b]) => a === i || b === i).length;
    for (let i = 0; i < n; i++) {
      const texts = boxes[i]!.map((m) => (m.data as { value: string }).value);
      expect(texts).toHaveLength(20 * (n - 1));
      expect(new Set(texts).size).toBe(texts.length);
      expect(texts.some((t) => t.startsWith(`${i}:`))).toBe(false);
      // Every message from the others is accepted exactly once. A copy is forwarded at most once
      // to each neighbour but the one it came from, and arrives at most once per link.
      const st = sn.eps[i]!.stats();
      expect(st.received).toBe(20 * (n - 1));
      expect(st.forwarded).toBeLessThanOrEqual(st.received * (degree(i) - 1));
      expect(st.duplicates).toBeLessThanOrEqual(st.received * (degree(i) - 1));
      expect(st.ttlExpired).toBe(0);
    }
  });

  it('stops delivering after unsubscribe and propagates the removal', async () => {
    const n = (net = simEndpoints(3));
    await wire(n, [
      [0, 1],
      [1, 2],
    ]);
    const got: unknown[] = [];
    const sub = n.eps[2]!.subscribe('u/', (m) => got.push(m));
    await settled(n, [2], 'u/1');
    n.eps[0]!.publish('u/1', count(1));
    await n.until(() => got.length === 1);
    sub.unsubscribe();
    await n.until(() => !n.eps[0]!.hasRoute('u/2'), 5000, 'route withdrawal');
    n.eps[0]!.publish('u/2', count(2));
    await n.run(200);
    expect(got).toHaveLength(1);
    expect(n.eps[2]!.stats().received).toBe(1); // not even sent: nobody forwarded it
  });

  it('enforces the TTL', async () => {
    const n = (net = simEndpoints(5, { ttl: 2 }));
    await wire(n, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    const near = collect(n.eps[2]!, 't/');
    const far = collect(n.eps[4]!, 't/');
    await settled(n, [2, 4], 't/x');
    n.eps[0]!.publish('t/x', count(1));
    await n.until(() => near.length === 1);
    await n.run(200);
    expect(far).toHaveLength(0);
    expect(n.eps[2]!.stats().ttlExpired).toBe(1);
    expect(n.eps[3]!.stats().received).toBe(0);
  });

  it("reports Broker's status codes and texts, and reconnects after the link drops", async () => {
    net = memoryEndpoints(3);
    const events: StatusEvent[] = [];
    net.eps[0]!.on('status', (s) => events.push(s));
    await wire(net, [
      [0, 1],
      [1, 2],
    ]);
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
    const n = (net = simEndpoints(2));
    await n.settle(Promise.all([n.eps[0]!.peer(n.url(1)), n.eps[1]!.peer(n.url(0))]));
    await n.run(200); // the redundant connection is closed on both sides
    expect(n.eps[0]!.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
    expect(n.eps[1]!.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
    const got = collect(n.eps[1]!, 'x');
    await settled(n, [1], 'x');
    n.eps[0]!.publish('x', count(1));
    await n.until(() => got.length === 1);
  });
});
