/**
 * The cluster examples of Zeek's manual, on a real in-process cluster (endpoints listening on
 * 127.0.0.1): manager → all workers, worker → manager, worker → all workers relayed through the
 * manager and through a proxy (round-robin), worker → proxies by HRW, and a Broker-backed table
 * with its master on the manager.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackedTable,
  count,
  hrwTopic,
  makeEvent,
  nodeTopic,
  parseZeekMessage,
  string,
  toText,
  type Message,
} from 'isobroker';
import { MANAGER_TOPIC, WORKER_TOPIC } from '../../src/internal.js';
import { allUp, layoutOf, startCluster, type TestCluster } from '../support/cluster.js';
import { until } from '../support/endpoints.js';

let c: TestCluster;
beforeAll(async () => {
  const layout = await layoutOf([
    ['manager', 'manager'],
    ['logger-1', 'logger'],
    ['proxy-1', 'proxy'],
    ['proxy-2', 'proxy'],
    ['worker-1', 'worker'],
    ['worker-2', 'worker'],
    ['worker-3', 'worker'],
  ]);
  c = await startCluster(layout);
  await allUp(c);
});
afterAll(async () => c?.close());

const eventName = (m: Message): string => {
  const z = parseZeekMessage(m.data);
  return z.kind === 'event' ? `${z.name}(${z.args.map((a) => toText(a)).join(', ')})` : z.kind;
};

function inbox(node: string, prefix: string): string[] {
  const got: string[] = [];
  c.node(node).endpoint.subscribe(prefix, (m) => got.push(eventName(m)));
  return got;
}

async function routable(from: string, topic: string, n = 1): Promise<void> {
  await until(
    () =>
      c
        .node(from)
        .endpoint.reachable()
        .filter((r) => r.filter.some((p) => topic.startsWith(p))).length >= n,
    5000,
    `routes for ${topic}`,
  );
}

describe("Zeek manual's cluster examples", () => {
  it('each node knows its name and role, and saw its peers come up with the hello handshake', () => {
    expect(c.node('worker-1').role).toBe('worker');
    const w1 = c
      .node('worker-1')
      .nodes()
      .filter((n) => n.up)
      .map((n) => n.name)
      .sort();
    expect(w1).toEqual(['logger-1', 'manager', 'proxy-1', 'proxy-2']);
    expect(
      c
        .node('logger-1')
        .nodes()
        .filter((n) => n.up).length,
    ).toBe(6);
  });

  it('manager → all workers', async () => {
    const boxes = ['worker-1', 'worker-2', 'worker-3'].map((w) => inbox(w, WORKER_TOPIC));
    await routable('manager', WORKER_TOPIC, 3);
    c.node('manager').endpoint.publish(WORKER_TOPIC, makeEvent('hello_workers', [count(1)]));
    await until(() => boxes.every((b) => b.length === 1));
    expect(boxes.map((b) => b[0])).toEqual(['hello_workers(1)', 'hello_workers(1)', 'hello_workers(1)']);
  });

  it('worker → manager', async () => {
    const got = inbox('manager', MANAGER_TOPIC);
    c.node('worker-2').endpoint.publish(MANAGER_TOPIC, makeEvent('report', [string('worker-2')]));
    await until(() => got.length === 1);
    expect(got[0]).toBe('report(worker-2)');
  });

  it('worker → all workers, relayed by the manager and by a proxy chosen round-robin', async () => {
    // The manager and the proxies re-publish what they get to all workers (Zeek's relay pattern).
    for (const relay of ['manager', 'proxy-1', 'proxy-2']) {
      const ep = c.node(relay).endpoint;
      ep.subscribe(`${nodeTopic(relay)}relay`, (m) => ep.publish(WORKER_TOPIC, m.data));
    }
    const boxes = ['worker-1', 'worker-2', 'worker-3'].map((w) => inbox(w, WORKER_TOPIC));
    const w1 = c.node('worker-1');
    w1.endpoint.publish(`${nodeTopic('manager')}relay`, makeEvent('via_manager', []));
    const proxyTopic = w1.pools.proxyPool.rrTopic('relay-key');
    expect(proxyTopic).toMatch(/^zeek\/cluster\/node\/proxy-[12]\/$/);
    w1.endpoint.publish(`${proxyTopic}relay`, makeEvent('via_proxy', []));
    await until(() => boxes.every((b) => b.length >= 2), 5000, 'relayed events');
    for (const b of boxes) expect([...b].sort()).toEqual(['via_manager()', 'via_proxy()']);
    // Round-robin: the next key's pick moves to the other proxy.
    expect(w1.pools.proxyPool.rrTopic('relay-key')).not.toBe(proxyTopic);
  });

  it('worker → proxies by HRW: each key goes to the proxy Zeek would pick', async () => {
    const p1 = inbox('proxy-1', nodeTopic('proxy-1'));
    const p2 = inbox('proxy-2', nodeTopic('proxy-2'));
    const w = c.node('worker-3');
    const keys = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`);
    for (const k of keys) expect(w.publishHrw(w.pools.proxyPool, k, makeEvent('count_orig', [string(k)]))).toBe(true);
    await until(() => p1.length + p2.length === keys.length);
    for (const k of keys) {
      const owner = hrwTopic(w.pools.proxyPool, k) === nodeTopic('proxy-1') ? p1 : p2;
      expect(owner).toContain(`count_orig(${k})`);
    }
    expect(p1.length).toBeGreaterThan(0);
    expect(p2.length).toBeGreaterThan(0);
  });

  it('a Broker-backed table with its master on the manager', async () => {
    const m = await BackedTable.open(c.node('manager').endpoint, 'known_services', { master: true });
    const w = await BackedTable.open(c.node('worker-1').endpoint, 'known_services', { clone: { resyncInterval: 100 } });
    const w2 = await BackedTable.open(c.node('worker-2').endpoint, 'known_services', {
      clone: { resyncInterval: 100 },
    });
    w.set('10.0.0.1:80', string('http'));
    await until(() => m.has('10.0.0.1:80') && w2.has('10.0.0.1:80'), 5000, 'table replication');
    expect(toText(w2.get('10.0.0.1:80')!)).toBe('http');
    for (const t of [m, w, w2]) t.close();
  });
});
