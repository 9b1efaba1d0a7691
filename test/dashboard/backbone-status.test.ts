/**
 * The backbone in the dashboard: a node's backbone link as its stats carry it (built from a real
 * link on the in-memory NATS), the event round trip, and the page's view — nodes that do not peer
 * with the manager are up while the manager's backbone lists them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, string } from 'isobroker';
import { MemoryNats } from '../../src/backbone/memory-nats.js';
import { NatsBackbone } from '../../src/backbone/nats-backbone.js';
import { linkBackbone } from '../../src/endpoint/backbone-link.js';
import { backboneStatusOf } from '../../server/dashboard/node-status.js';
import {
  type BackboneStatus,
  type NodeStats,
  nodeStatsEvent,
  nodeStatsOf,
  readNodeStats,
} from '../../server/dashboard/shapes.js';
import { ClusterState } from '../../web-demo/src/cluster-state.js';
import { until } from '../support/endpoints.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const bb = (over: Partial<BackboneStatus> = {}): BackboneStatus => ({
  state: 'connected',
  server: '127.0.0.11:4222',
  nodes: ['manager', 'worker-1'],
  endpoints: 1,
  queued: 3,
  dropped: 2,
  reconnects: 1,
  rtt: 0.25,
  published: 40,
  received: 17,
  wasted: 0,
  ...over,
});

const stats = (name: string, role: string, over: Partial<NodeStats> = {}): NodeStats => ({
  name,
  role,
  id: `${name}-id`,
  peers: [],
  published: 0,
  received: 0,
  ...over,
});

describe('backbone status in node stats', () => {
  it('round-trips through the node_stats event, RTT known or not, and is absent without a backbone', () => {
    for (const b of [bb(), bb({ rtt: undefined, state: 'disconnected', server: '' })]) {
      const back = nodeStatsOf(nodeStatsEvent(stats('manager', 'manager', { backbone: b })));
      expect(back?.backbone).toEqual(b);
    }
    expect(nodeStatsOf(nodeStatsEvent(stats('manager', 'manager')))?.backbone).toBeUndefined();
    // A malformed backbone argument is left out; the rest of the stats stays.
    const args = [string('m'), string('manager'), string('id'), { type: 'vector', elements: [] }];
    const bad = readNodeStats([
      ...args,
      { type: 'count', value: 1n },
      { type: 'count', value: 2n },
      ...Array.from({ length: 5 }, () => ({ type: 'vector', elements: [] })),
      { type: 'vector', elements: [string('connected'), string('x')] },
    ] as never);
    expect(bad).toMatchObject({ name: 'm', published: 1, received: 2 });
    expect(bad?.backbone).toBeUndefined();
  });

  it('is read from a real link: state, server, the endpoints and cluster nodes present', async () => {
    const nats = new MemoryNats();
    const eps = ['manager', 'worker-1'].map((name) => {
      const ep = new Endpoint({ name });
      closers.push(() => ep.close());
      const nodes = [{ name, role: name === 'manager' ? 'manager' : 'worker', id: ep.id }];
      linkBackbone(ep, new NatsBackbone(nats.connect({ name, noEcho: true, host: name }), { rttInterval: 0 }), {
        nodes,
      });
      return ep;
    });
    const [manager, worker] = eps as [Endpoint, Endpoint];
    const plain = new Endpoint({ name: 'plain' });
    closers.push(() => plain.close());
    expect(backboneStatusOf(plain)).toBeUndefined();
    await until(() => backboneStatusOf(manager)?.endpoints === 1, 5000, 'worker present at the manager');
    const s = backboneStatusOf(manager)!;
    expect(s).toMatchObject({ state: 'connected', endpoints: 1, queued: 0, dropped: 0, reconnects: 0 });
    expect(s.nodes).toEqual(['worker-1']);
    expect(s.rtt).toBeUndefined();
    await worker.close(); // a bye
    await until(() => backboneStatusOf(manager)?.endpoints === 0, 5000, 'worker gone');
    expect(backboneStatusOf(manager)!.nodes).toEqual([]);
  });
});

describe('the page over a backbone', () => {
  const layout = [
    { name: 'manager', role: 'manager', host: '127.0.0.1', port: 1 },
    { name: 'worker-1', role: 'worker', host: '127.0.0.1', port: 2 },
  ] as const;

  it("a node that does not peer with the manager is up while the manager's backbone lists it", () => {
    const st = new ClusterState(layout);
    const worker = stats('worker-1', 'worker', { backbone: bb({ nodes: ['manager'] }) });
    st.apply(stats('manager', 'manager', { backbone: bb({ nodes: ['worker-1'] }) }), 1000);
    st.apply(worker, 1000);
    expect(st.nodes.get('worker-1')!.up).toBe(true);
    expect(st.nodes.get('worker-1')!.backbone?.server).toBe('127.0.0.11:4222');
    // The manager's backbone no longer lists it: down, though it still reports.
    st.apply(stats('manager', 'manager', { backbone: bb({ nodes: [] }) }), 1100);
    st.apply(worker, 1100);
    expect(st.nodes.get('worker-1')!.up).toBe(false);
    // Without a backbone the manager's peers decide, as before.
    const plain = new ClusterState(layout);
    plain.apply(stats('manager', 'manager'), 1000);
    plain.apply(stats('worker-1', 'worker'), 1000);
    expect(plain.nodes.get('worker-1')!.up).toBe(false);
  });
});
