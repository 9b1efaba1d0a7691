/**
 * attachBackbone on a real three-server NATS cluster: endpoints that are not peered with each
 * other, each on a connection pinned to a different server, see each other through presence and
 * exchange messages (nothing echoes back); when the server one of them uses is killed with SIGKILL
 * or stopped with SIGSTOP, its connection moves to another server and delivery resumes with no duplicate and in order.
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
  async function hub(name: string, first: number, namespace = 'attach-test') {
    const urls = [...cluster.urls.slice(first), ...cluster.urls.slice(0, first)];
    // Pings every 500 ms, two unanswered: a stopped server is given up within about 1.5 s, and
    // the attempt to reconnect to it (it accepts TCP but never answers) after 1 s more.
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
    const link = attachBackbone(ep, nc, { namespace, rttInterval: 0 });
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

  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`the server an endpoint uses gets ${signal}: delivery resumes, no duplicate, in order`, async () => {
      const a = await hub('hub-a', 0);
      const b = await hub('hub-b', 1);
      await until('presence', 10_000, async () => expect(b.link.presence.isPresent(a.ep.id)).toBe(true));
      const got: number[] = [];
      const arrived: number[] = [];
      a.ep.subscribe('load/', (m) => {
        got.push(Number((m.data as { value: unknown }).value));
        arrived.push(Date.now());
      });
      await until('routable', 10_000, async () => expect(b.ep.hasRoute('load/x')).toBe(true));

      // B publishes 30 messages every 2 ms (about 10k/s) while A's server dies.
      let n = 0;
      let running = true;
      const sentAt: number[] = [];
      const traffic = (async () => {
        while (running) {
          for (let i = 0; i < 30; i++) {
            n++;
            sentAt[n] = Date.now();
            b.ep.publish('load/x', n);
          }
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await until('traffic', 10_000, async () => expect(got.length).toBeGreaterThan(500));
      const victim = cluster.servers.find((s) => a.nc.getServer().endsWith(`${s.host}:${s.port}`));
      expect(victim, `a's server ${a.nc.getServer()}`).toBeDefined();
      const killedAt = Date.now();
      const before = got.length;
      await victim!.kill(signal);
      await until('delivery after the kill', 30_000, async () => {
        expect(a.nc.getServer()).not.toContain(`${victim!.host}:${victim!.port}`);
        expect(got.length).toBeGreaterThan(before + 500);
      });
      running = false;
      await traffic;
      const last = n;
      const rate = Math.round((last / (Date.now() - sentAt[1]!)) * 1000);
      await until('the tail', 10_000, async () => expect(got.at(-1)).toBe(last));

      // No duplicate and in order; what was in flight on the dead server may be lost (reported).
      expect(new Set(got).size).toBe(got.length);
      for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
      // Resumed: the first message sent after the kill arrived (what was sent meanwhile is lost).
      const i = got.findIndex((v) => sentAt[v]! > killedAt);
      const lost = last - got.length;
      console.log(
        `server ${victim!.name} got ${signal} under ${rate} msg/s: ` +
          `delivery resumed ${arrived[i]! - killedAt} ms after the kill, ${lost} of ${last} lost in flight, ` +
          `A now on ${a.nc.getServer()}, A reconnects ${a.link.stats().reconnects}, A dropped ${a.link.stats().dropped}`,
      );
      if (signal === 'SIGSTOP') await victim!.kill('SIGCONT');
      else await victim!.restart();
    }, 120_000);
  }
});
