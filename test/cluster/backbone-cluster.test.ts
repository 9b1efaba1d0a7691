/**
 * A whole cluster on a backbone, on virtual time: the default layout's six nodes, each on its
 * own "host" with its own endpoint attached to one in-memory NATS (NATS core semantics), no
 * native peerings. Every node sees every other up (global reach); a host cut off is seen down by
 * all others within the 2 s presence timeout, the publishers' HRW keys move to the remaining
 * proxies (and are delivered there over the backbone), and everything is up again after the heal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNats } from '../../src/backbone/memory-nats.js';
import { NatsBackbone } from '../../src/backbone/nats-backbone.js';
import { ClusterNode } from '../../src/cluster/cluster-node.js';
import { defaultLayout } from '../../src/cluster/layout.js';
import { PoolRegistry } from '../../src/cluster/pools.js';
import { nodeTopic } from '../../src/cluster/topics.js';
import { linkBackbone } from '../../src/endpoint/backbone-link.js';
import { Endpoint } from '../../src/endpoint/endpoint.js';
import { SimClock } from '../support/sim-network.js';

const LAYOUT = defaultLayout();
const NAMES = LAYOUT.nodes.map((n) => n.name);

const endpoints: Endpoint[] = [];
afterEach(async () => {
  for (const ep of endpoints.splice(0)) await ep.close();
});

function cluster() {
  const clock = new SimClock(0);
  const nats = new MemoryNats({ timers: clock });
  const nodes = new Map<string, ClusterNode>();
  const downAt = new Map<string, number>(); // "observer>node" → virtual time
  for (const name of NAMES) {
    const ep = new Endpoint({ name, timers: clock });
    endpoints.push(ep);
    linkBackbone(ep, new NatsBackbone(nats.connect({ name, noEcho: true, host: name }), { timers: clock }));
    const node = new ClusterNode(ep, LAYOUT, name);
    node.on('nodeDown', (e) => downAt.set(`${name}>${e.name}`, clock.now()));
    node.start();
    nodes.set(name, node);
  }
  const allUp = (): boolean => [...nodes.values()].every((n) => n.nodes().every((s) => s.up));
  return { clock, nats, nodes, downAt, allUp };
}

describe('a cluster on a backbone', () => {
  it('every node sees every other up; a host cut off is down everywhere within 2 s, and back after the heal', async () => {
    const { clock, nats, nodes, downAt, allUp } = cluster();
    expect(await clock.runUntil(allUp, 1000)).toBe(true);
    for (const n of nodes.values()) expect(n.endpoint.peers()).toEqual([]);
    const worker = nodes.get('worker-1')!;
    expect(worker.liveNodes('worker')).toEqual(['worker-1', 'worker-2']);

    const keys = Array.from({ length: 200 }, (_, i) => `conn-${i}`);
    const before = keys.map((k) => worker.pools.proxyPool.hrwTopic(k));
    expect(new Set(before)).toEqual(new Set([nodeTopic('proxy-1'), nodeTopic('proxy-2')]));

    // proxy-2's machine drops off the network: no bye, its heartbeats stop arriving.
    await clock.run(250);
    const cut = clock.now();
    nats.isolate('proxy-2');
    const others = NAMES.filter((n) => n !== 'proxy-2');
    const seenDown = (): boolean => others.every((o) => downAt.has(`${o}>proxy-2`));
    expect(await clock.runUntil(seenDown, 5000, 1)).toBe(true);
    for (const o of others) {
      const t = downAt.get(`${o}>proxy-2`)! - cut;
      expect(t, o).toBeLessThanOrEqual(2000);
      expect(t, o).toBeGreaterThan(1000);
    }
    // The cut-off node sees everyone else down too.
    expect(
      nodes
        .get('proxy-2')!
        .nodes()
        .every((s) => !s.up),
    ).toBe(true);

    // HRW keys move exactly as Zeek's pools say with proxy-1 alone, and arrive there.
    const ref = new PoolRegistry({ localNode: 'worker-1' });
    for (const n of LAYOUT.nodes) ref.addNode(n.name, n.role);
    ref.distribute();
    ref.markAlive('proxy-1');
    expect(keys.map((k) => worker.pools.proxyPool.hrwTopic(k))).toEqual(keys.map((k) => ref.proxyPool.hrwTopic(k)));
    const atProxy1: string[] = [];
    nodes.get('proxy-1')!.endpoint.subscribe(nodeTopic('proxy-1'), (m) => atProxy1.push(m.topic));
    await clock.run(10);
    for (const k of keys.slice(0, 10)) expect(worker.publishHrw(worker.pools.proxyPool, k, k)).toBe(true);
    expect(await clock.runUntil(() => atProxy1.length === 10, 1000, 1)).toBe(true);

    // After the heal, its next heartbeats bring it back everywhere, and its keys with it.
    nats.heal();
    expect(await clock.runUntil(allUp, 1000, 1)).toBe(true);
    expect(keys.map((k) => worker.pools.proxyPool.hrwTopic(k))).toEqual(before);
  });

  it('a clean shutdown (bye) is seen down at once', async () => {
    const { clock, nodes, downAt, allUp } = cluster();
    expect(await clock.runUntil(allUp, 1000)).toBe(true);
    const t0 = clock.now();
    const logger = endpoints[NAMES.indexOf('logger-1')]!;
    await logger.detachBackbone();
    const seen = (): boolean => NAMES.filter((n) => n !== 'logger-1').every((o) => downAt.has(`${o}>logger-1`));
    expect(await clock.runUntil(seen, 1000, 1)).toBe(true);
    for (const [k, t] of downAt) if (k.endsWith('>logger-1')) expect(t - t0, k).toBeLessThan(100);
    expect(nodes.get('manager')!.pools.loggerPool.hrwTopic('x')).toBe('');
  });

  it('a cluster node closed on an endpoint that stays on the backbone is unlisted, so down at once', async () => {
    const { clock, nodes, downAt, allUp } = cluster();
    expect(await clock.runUntil(allUp, 1000)).toBe(true);
    const t0 = clock.now();
    nodes.get('worker-2')!.close();
    const seen = (): boolean => NAMES.filter((n) => n !== 'worker-2').every((o) => downAt.has(`${o}>worker-2`));
    expect(await clock.runUntil(seen, 1000, 1)).toBe(true);
    for (const [k, t] of downAt) if (k.endsWith('>worker-2')) expect(t - t0, k).toBeLessThan(100);
    expect(endpoints[NAMES.indexOf('worker-2')]!.backbone?.presence.endpoints()).toHaveLength(5);
  });
});
