/**
 * Cluster membership over a backbone (Zeek's ZeroMQ semantics), with a PresenceTracker driven by
 * hand on virtual time: every layout node presence lists is up (global reach) or only the nodes
 * Broker's connectivity peers with (layout reach); a crashed node (no more heartbeats) goes down
 * within the presence timeout, its HRW keys move exactly as the pools' HRW says and come back
 * after it is up again; a cluster node on an endpoint with a backbone lists itself and peers
 * with nobody.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ControlMessage } from '../../src/backbone/control.js';
import { PresenceTracker } from '../../src/backbone/presence.js';
import {
  BackboneMembership,
  reachableNodes,
  type BackboneLinkLike,
  type BackboneReach,
} from '../../src/cluster/backbone-membership.js';
import { ClusterNode } from '../../src/cluster/cluster-node.js';
import type { ClusterLayout, Role } from '../../src/cluster/layout.js';
import { PoolRegistry } from '../../src/cluster/pools.js';
import { nodeTopic } from '../../src/cluster/topics.js';
import { Endpoint } from '../../src/endpoint/endpoint.js';
import { ConfigError } from '../../src/errors.js';
import { SimClock } from '../support/sim-network.js';

const NODES: [string, Role][] = [
  ['manager', 'manager'],
  ['logger-1', 'logger'],
  ['logger-2', 'logger'],
  ['proxy-1', 'proxy'],
  ['proxy-2', 'proxy'],
  ['proxy-3', 'proxy'],
  ['worker-1', 'worker'],
  ['worker-2', 'worker'],
  ['worker-3', 'worker'],
];
const LAYOUT: ClusterLayout = {
  nodes: NODES.map(([name, role], i) => ({ name, role, host: '127.0.0.1', port: 30000 + i })),
  managerIsLogger: false,
};
const SELF_EP = 'ffffffff-0000-4000-8000-000000000000';
/** Each remote node runs on its own endpoint; node id = endpoint id, as a ClusterNode lists it. */
const idOf = (name: string, incarnation = 0): string =>
  `${(NODES.findIndex(([n]) => n === name) + 1).toString(16).padStart(8, '0')}-0000-4000-8000-${incarnation.toString(16).padStart(12, '0')}`;
const roleOf = (name: string): Role => NODES.find(([n]) => n === name)![1];

/** Drives presence by hand: heartbeats every 500 ms from the nodes that are alive. */
class Driver {
  readonly clock = new SimClock(0);
  readonly presence = new PresenceTracker(SELF_EP, this.clock);
  private readonly seqs = new Map<string, number>();
  readonly alive = new Map<string, number>(); // name → incarnation

  beat(kind: ControlMessage['kind'] = 'heartbeat'): void {
    for (const [name, inc] of this.alive) this.send(kind, name, inc);
  }

  send(kind: ControlMessage['kind'], name: string, inc = 0): void {
    const id = idOf(name, inc);
    const seq = (this.seqs.get(id) ?? 0) + 1;
    this.seqs.set(id, seq);
    this.presence.receive({
      kind,
      id,
      name,
      seq,
      nodes: [{ name, role: roleOf(name), id }],
      partials: [],
      stores: [],
      interval: 500,
    });
  }

  /** Lets `ms` pass with heartbeats from the alive nodes every 500 ms. */
  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 500) {
      await this.clock.run(Math.min(500, ms - t));
      this.beat();
    }
  }
}

function recorder() {
  const log: string[] = [];
  return {
    log,
    sink: {
      up: (name: string, id: string) => log.push(`up ${name} ${id}`),
      down: (name: string, id: string) => log.push(`down ${name} ${id}`),
      duplicate: (name: string, id: string, existing: string) => log.push(`dup ${name} ${id} ${existing}`),
    },
  };
}

const others = (self: string): string[] => NODES.map(([n]) => n).filter((n) => n !== self);

describe('reachableNodes', () => {
  const sorted = (s: Set<string>): string[] => [...s].sort();
  it('global: every other node of the layout', () => {
    for (const [self] of NODES) expect(sorted(reachableNodes(LAYOUT, self, 'global'))).toEqual(others(self).sort());
  });

  it("layout: the nodes Broker's connectivity peers with, in both directions", () => {
    expect(sorted(reachableNodes(LAYOUT, 'worker-1', 'layout'))).toEqual([
      'logger-1',
      'logger-2',
      'manager',
      'proxy-1',
      'proxy-2',
      'proxy-3',
    ]);
    expect(sorted(reachableNodes(LAYOUT, 'proxy-1', 'layout'))).toEqual([
      'logger-1',
      'logger-2',
      'manager',
      'worker-1',
      'worker-2',
      'worker-3',
    ]);
    // Loggers dial nobody, but every other role dials them.
    expect(sorted(reachableNodes(LAYOUT, 'logger-1', 'layout'))).toEqual(
      others('logger-1')
        .filter((n) => !n.startsWith('logger'))
        .sort(),
    );
    expect(sorted(reachableNodes(LAYOUT, 'manager', 'layout'))).toEqual(others('manager').sort());
  });
});

describe('BackboneMembership', () => {
  it('reports up every layout node presence lists (global reach), and nothing else', async () => {
    const d = new Driver();
    for (const n of others('worker-1')) d.alive.set(n, 0);
    const { log, sink } = recorder();
    const m = new BackboneMembership(d.presence, LAYOUT, 'worker-1', 'global', sink);
    d.beat('hello');
    // Not of the layout, a role the layout does not give it, and this node's own name elsewhere.
    const stranger = '0000abcd-0000-4000-8000-000000000001';
    d.presence.receive({
      kind: 'heartbeat',
      id: stranger,
      name: 'dashboard',
      seq: 1,
      nodes: [
        { name: 'dashboard', role: 'worker', id: stranger },
        { name: 'proxy-9', role: 'proxy', id: '0000abcd-0000-4000-8000-000000000002' },
      ],
      partials: [],
      stores: [],
      interval: 500,
    });
    expect(log.sort()).toEqual(
      others('worker-1')
        .map((n) => `up ${n} ${idOf(n)}`)
        .sort(),
    );
    expect(m.ignored).toBe(2);
    await d.run(5000);
    expect(log).toHaveLength(8);
    m.close();
  });

  it('replays nodes already present when it starts', () => {
    const d = new Driver();
    d.alive.set('proxy-1', 0);
    d.alive.set('manager', 0);
    d.beat();
    const { log, sink } = recorder();
    const m = new BackboneMembership(d.presence, LAYOUT, 'worker-1', 'global', sink);
    expect(log.sort()).toEqual([`up manager ${idOf('manager')}`, `up proxy-1 ${idOf('proxy-1')}`]);
    expect([...m.up.keys()].sort()).toEqual(['manager', 'proxy-1']);
  });

  it('layout reach: only the nodes Broker would peer with', () => {
    const d = new Driver();
    for (const n of others('worker-1')) d.alive.set(n, 0);
    const { log, sink } = recorder();
    new BackboneMembership(d.presence, LAYOUT, 'worker-1', 'layout', sink);
    d.beat();
    expect(log.map((l) => l.split(' ')[1]).sort()).toEqual([
      'logger-1',
      'logger-2',
      'manager',
      'proxy-1',
      'proxy-2',
      'proxy-3',
    ]);
  });

  it('a crashed node goes down within the timeout; a restart with a new id downs the old id first', async () => {
    const d = new Driver();
    for (const n of ['manager', 'proxy-1', 'proxy-2']) d.alive.set(n, 0);
    const { log, sink } = recorder();
    new BackboneMembership(d.presence, LAYOUT, 'worker-1', 'global', sink);
    d.beat();
    log.length = 0;
    d.alive.delete('proxy-2'); // crashed: no heartbeat, no bye
    await d.run(1500);
    expect(log).toEqual([]);
    await d.run(500);
    expect(log).toEqual([`down proxy-2 ${idOf('proxy-2')}`]);
    // proxy-1 restarts as a new process (new id) before its old endpoint timed out.
    d.alive.set('proxy-1', 1);
    d.beat('hello');
    expect(log.slice(1)).toEqual([`down proxy-1 ${idOf('proxy-1')}`, `up proxy-1 ${idOf('proxy-1', 1)}`]);
    await d.run(3000);
    expect(log).toHaveLength(3);
  });
});

describe('ClusterNode over a backbone', () => {
  const endpoints: Endpoint[] = [];
  afterEach(async () => {
    for (const ep of endpoints.splice(0)) await ep.close();
  });

  function clusterNode(d: Driver, name: string, reach?: BackboneReach) {
    const ep = new Endpoint({ id: SELF_EP, name, timers: d.clock });
    endpoints.push(ep);
    const listed: unknown[] = [];
    const link: BackboneLinkLike = { presence: d.presence, setNodes: (nodes) => listed.push(nodes) };
    // What `endpoint.attachBackbone` provides: `endpoint.backbone`, the link.
    Object.defineProperty(ep, 'backbone', { value: link, configurable: true });
    const node = new ClusterNode(ep, LAYOUT, name, reach === undefined ? {} : { backboneReach: reach });
    const events: string[] = [];
    node.on('nodeUp', (e) => events.push(`up ${e.name}`));
    node.on('nodeDown', (e) => events.push(`down ${e.name}`));
    return { ep, node, listed, events };
  }

  /** Where the proxy pool's HRW sends each key when exactly `alive` proxies are up, per pools.ts. */
  function expectedHrw(alive: readonly string[], keys: readonly string[]): string[] {
    const reg = new PoolRegistry({ localNode: 'worker-1' });
    for (const [n, r] of NODES) reg.addNode(n, r);
    reg.distribute();
    for (const n of alive) reg.markAlive(n);
    return keys.map((k) => reg.proxyPool.hrwTopic(k));
  }

  it('lists itself, peers with nobody, and is up for every layout node presence lists', async () => {
    const d = new Driver();
    const { ep, node, listed, events } = clusterNode(d, 'worker-1');
    node.start();
    expect(listed).toEqual([[{ name: 'worker-1', role: 'worker', id: SELF_EP }]]);
    expect(ep.peers()).toEqual([]);
    for (const n of others('worker-1')) d.alive.set(n, 0);
    d.beat('hello');
    expect(events.sort()).toEqual(
      others('worker-1')
        .map((n) => `up ${n}`)
        .sort(),
    );
    // Global reach: worker → worker works.
    expect(node.liveNodes('worker')).toEqual(['worker-1', 'worker-2', 'worker-3']);
    expect(node.nodes().every((n) => n.up && n.id === idOf(n.name))).toBe(true);
    await d.run(4000);
    expect(events).toHaveLength(8);
    node.close();
    expect(listed.at(-1)).toEqual([]);
  });

  it('a crashed proxy goes down within 2 s; its HRW keys move as the pools say, and come back', async () => {
    const d = new Driver();
    const { ep, node, events } = clusterNode(d, 'worker-1');
    node.start();
    for (const n of others('worker-1')) d.alive.set(n, 0);
    d.beat('hello');
    const keys = Array.from({ length: 600 }, (_, i) => `key-${i}`);
    const proxies = ['proxy-1', 'proxy-2', 'proxy-3'];
    const before = keys.map((k) => node.pools.proxyPool.hrwTopic(k));
    expect(before).toEqual(expectedHrw(proxies, keys));
    expect(new Set(before)).toEqual(new Set(proxies.map(nodeTopic)));

    // Publishing goes to the chosen node's own topic.
    const seen: string[] = [];
    const publish = ep.publish.bind(ep);
    ep.publish = (topic: string, value: unknown): void => {
      seen.push(topic);
      publish(topic, value);
    };
    for (const k of keys.slice(0, 20)) expect(node.publishHrw(node.pools.proxyPool, k, 'v')).toBe(true);
    expect(seen).toEqual(before.slice(0, 20));

    events.length = 0;
    d.alive.delete('proxy-2');
    await d.run(1500);
    expect(node.isUp('proxy-2')).toBe(true);
    await d.run(500);
    expect(events).toEqual(['down proxy-2']);
    expect(node.isUp('proxy-2')).toBe(false);
    const during = keys.map((k) => node.pools.proxyPool.hrwTopic(k));
    expect(during).toEqual(expectedHrw(['proxy-1', 'proxy-3'], keys));
    // HRW moves only the dead node's keys.
    const moved = keys.filter((_, i) => during[i] !== before[i]);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((k) => before[keys.indexOf(k)] === nodeTopic('proxy-2'))).toBe(true);
    expect(during).not.toContain(nodeTopic('proxy-2'));
    // Round-robin skips it too.
    const rr = Array.from({ length: 6 }, () => node.pools.proxyPool.rrTopic('x'));
    expect(rr).not.toContain(nodeTopic('proxy-2'));

    // proxy-2 comes back (a new process: a new id); its keys come back with it.
    d.alive.set('proxy-2', 1);
    d.beat('hello');
    expect(events).toEqual(['down proxy-2', 'up proxy-2']);
    expect(node.nodes().find((n) => n.name === 'proxy-2')?.id).toBe(idOf('proxy-2', 1));
    expect(keys.map((k) => node.pools.proxyPool.hrwTopic(k))).toEqual(before);
  });

  it('a bye downs a node at once', () => {
    const d = new Driver();
    const { node, events } = clusterNode(d, 'manager');
    node.start();
    d.alive.set('logger-1', 0);
    d.beat();
    d.send('bye', 'logger-1');
    expect(events).toEqual(['up logger-1', 'down logger-1']);
    expect(node.pools.loggerPool.hrwTopic('k')).toBe('');
  });

  it('layout reach: a worker is up only for the nodes Broker peers it with', () => {
    const d = new Driver();
    const { node, events } = clusterNode(d, 'worker-2', 'layout');
    node.start();
    for (const n of others('worker-2')) d.alive.set(n, 0);
    d.beat();
    expect(events.sort()).toEqual(
      ['logger-1', 'logger-2', 'manager', 'proxy-1', 'proxy-2', 'proxy-3'].map((n) => `up ${n}`).sort(),
    );
    expect(node.liveNodes('worker')).toEqual(['worker-2']);
    expect(node.pools.workerPool.hrwTopic('k')).toBe('');
  });

  it('refuses an unknown backboneReach', () => {
    const ep = new Endpoint({ id: SELF_EP });
    endpoints.push(ep);
    expect(() => new ClusterNode(ep, LAYOUT, 'worker-1', { backboneReach: 'mesh' as BackboneReach })).toThrow(
      ConfigError,
    );
  });
});
