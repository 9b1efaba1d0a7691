/**
 * attachBackbone on a real three-server NATS cluster: endpoints that are not peered with each
 * other, each on a connection pinned to a different server, see each other through presence and
 * exchange messages (nothing echoes back), and endpoints in another namespace stay apart. The
 * fault cases (the server an endpoint uses killed or stopped under load) are in
 * backbone-faults.test.ts.
 */
import { Endpoint, type Message } from 'isobroker';
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import { attachBackbone, connectNats, type NatsClient } from '../../src/node/index.js';
import { describeNats, type NatsCluster, startNatsCluster, until } from '../support/nats-cluster.js';

describeNats('attachBackbone on a three-server NATS cluster', () => {
  let cluster: NatsCluster;
  let endpoints: Endpoint[] = [];
  let conns: NatsClient[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(endpoints.map((e) => e.close()));
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    endpoints = [];
    conns = [];
  });

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  /** An endpoint attached through a connection whose first server is server `first`. */
  async function hub(name: string, first: number, namespace = 'attach-test', presenceTimeout?: number) {
    const urls = [...cluster.urls.slice(first), ...cluster.urls.slice(0, first)];
    const nc = await connectNats(urls, {
      name,
      reconnectTimeWait: 100,
      pingInterval: 500,
      timeout: 1000,
      extra: { noRandomize: true },
    });
    conns.push(nc);
    const ep = new Endpoint({ name });
    endpoints.push(ep);
    const link = attachBackbone(ep, nc, { namespace, rttInterval: 0, presenceTimeout });
    return { ep, nc, link };
  }

  const values = (got: Message[]) => got.map((m) => Number((m.data as { value: unknown }).value));

  it('endpoints see each other and exchange messages; nothing echoes back, other namespaces stay apart', async () => {
    const a = await hub('hub-a', 0);
    const b = await hub('hub-b', 1);
    const c = await hub('hub-c', 2, 'another-namespace');
    expect(a.nc.getServer()).not.toBe(b.nc.getServer());
    await until('presence', 10_000, async () => {
      expect(a.link.presence.isPresent(b.ep.id)).toBe(true);
      expect(b.link.presence.isPresent(a.ep.id)).toBe(true);
    });
    expect(a.link.presence.isPresent(c.ep.id)).toBe(false); // another namespace, another cluster

    const atA: Message[] = [];
    const atB: Message[] = [];
    const atC: Message[] = [];
    a.ep.subscribe('demo/', (m) => atA.push(m));
    b.ep.subscribe('demo/', (m) => atB.push(m));
    c.ep.subscribe('demo/', (m) => atC.push(m));
    await until('routable', 10_000, async () => expect(b.ep.hasRoute('demo/x')).toBe(true));
    for (let i = 1; i <= 100; i++) b.ep.publish('demo/x', i);
    await until('delivered', 10_000, async () => expect(atA).toHaveLength(100));
    expect(values(atA)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(atB).toEqual([]); // nothing of its own comes back through NATS (no echo)
    a.ep.publish('demo/back', 7);
    await until('the answer', 10_000, async () => expect(atB.map((m) => m.topic)).toEqual(['demo/back']));
    expect(atC).toEqual([]);
    const s = b.link.stats();
    expect(s.state).toBe('connected');
    expect(s.published).toBeGreaterThanOrEqual(100);
    expect(s.endpoints).toBe(1);
  });

  it('one backbone per endpoint; detaching says bye (gone at once for the others), the connection stays open', async () => {
    const a = await hub('hub-a', 0);
    // B would notice A's silence only after a minute: what downs A sooner is its bye.
    const b = await hub('hub-b', 1, 'attach-test', 60_000);
    await until('presence', 10_000, async () => expect(b.link.presence.isPresent(a.ep.id)).toBe(true));
    expect(() => attachBackbone(a.ep, a.nc, { namespace: 'attach-test' })).toThrow(/backbone/);
    const down: string[] = [];
    b.link.presence.on('endpointDown', (ev) => down.push(ev.id));
    await a.link.detach();
    await until('bye seen', 10_000, async () => expect(down).toEqual([a.ep.id]), 10);
    expect(a.nc.isClosed()).toBe(false);
    expect(a.link.stats().state).toBe('closed');
    const atA: Message[] = [];
    a.ep.subscribe('after/', (m) => atA.push(m));
    b.ep.publish('after/x', 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(atA).toEqual([]);
  });
});
