/** The page's operator view of the cluster: totals, top topics, clients, uptimes; the event sampler; log times. */
import { describe, expect, it } from 'vitest';
import { ClusterState, readSupervisorStates } from '../../web-demo/src/cluster-state.js';
import { Sampler, matches, parseFilter } from '../../web-demo/src/event-stream.js';
import type { ClientInfo, NodeStats } from '../../server/dashboard/shapes.js';

const layout = [
  { name: 'manager', role: 'manager', host: '127.0.0.1', port: 1 },
  { name: 'worker-1', role: 'worker', host: '127.0.0.1', port: 2 },
] as const;

const client = (name: string, over: Partial<ClientInfo> = {}): ClientInfo => ({
  name,
  kind: 'browser',
  protocol: 'native',
  link: 'leaf',
  direction: 'inbound',
  address: '127.0.0.1:4000',
  subscriptions: 3,
  queued: 0,
  fill: 0,
  drops: 0,
  ...over,
});

const stats = (name: string, role: string, published: number, over: Partial<NodeStats> = {}): NodeStats => ({
  name,
  role,
  id: `${name}-id`,
  peers: name === 'manager' ? ['worker-1'] : ['manager'],
  published,
  received: 0,
  publishedBytes: published * 100,
  drops: 0,
  intervalMs: 500,
  topics: [],
  clients: [],
  ...over,
});

describe('ClusterState totals', () => {
  it('sums rates of the nodes that are up, counts links and clients, keeps drops', () => {
    const s = new ClusterState(layout);
    const managerClients = [
      client('worker-1', { kind: 'worker', link: 'router' }),
      client('dashboard-1'),
      client('127.0.0.1:9', { protocol: 'json', link: '', kind: 'json' }),
    ];
    s.apply(stats('manager', 'manager', 0, { clients: managerClients, drops: 2 }), 0);
    s.apply(stats('worker-1', 'worker', 0, { clients: [client('manager', { kind: 'manager', link: 'router' })] }), 0);
    s.apply(stats('manager', 'manager', 10, { clients: managerClients, drops: 2, intervalMs: 1000 }), 1000);
    // Rates go by the node's interval, not by when the page took the stats (a burst).
    s.apply(stats('worker-1', 'worker', 50, { drops: 3, intervalMs: 1000 }), 1010);
    const t = s.totals();
    expect(t.messages).toBeCloseTo(60);
    expect(t.bytes).toBeCloseTo(6000);
    expect(t.clients).toBe(2);
    expect(t.connections).toBe(3); // manager–worker-1, and two clients
    expect(t.drops).toBe(5);
    expect(t.nodesUp).toBe(2);
    expect(s.clients().map((c) => [c.node, c.client.name])).toEqual([
      ['manager', 'dashboard-1'],
      ['manager', '127.0.0.1:9'],
    ]);
    // Silent for longer than DOWN_AFTER_MS: its rates leave the totals, its drops stay.
    s.tick(1010 + 2500);
    expect(s.totals().messages).toBe(0);
    expect(s.totals().drops).toBe(5);
  });

  it('ranks topics by messages/s over the recent stats of every node', () => {
    const s = new ClusterState(layout);
    s.apply(stats('manager', 'manager', 0, { topics: [{ topic: 'a', messages: 5, bytes: 50 }] }), 0);
    s.apply(stats('worker-1', 'worker', 0, { topics: [{ topic: 'b', messages: 20, bytes: 10 }] }), 0);
    s.apply(
      stats('worker-1', 'worker', 1, {
        topics: [
          { topic: 'b', messages: 30, bytes: 10 },
          { topic: 'a', messages: 1, bytes: 1 },
        ],
      }),
      500,
    );
    const top = s.topTopics();
    expect(top.map((t) => t.topic)).toEqual(['b', 'a']);
    expect(top[0]!.messages).toBeCloseTo(50); // 50 messages in 1 s
    expect(top[1]!.messages).toBeCloseTo(10 + 1); // manager 5 in 0.5 s, worker 1 in 1 s
  });

  it('moves the launcher’s upSince onto the page clock', () => {
    const m = readSupervisorStates(
      { now: 10_000, nodes: [{ name: 'manager', state: 'up', restarts: 2, upSince: 4000 }] },
      50_000,
    );
    expect(m.get('manager')).toEqual({ state: 'up', restarts: 2, upSince: 44_000 });
  });
});

describe('event stream', () => {
  it('an empty filter or * is every topic', () => {
    expect(parseFilter('')).toEqual(['']);
    expect(parseFilter(' , ')).toEqual(['']);
    expect(parseFilter('*')).toEqual(['']);
    expect(parseFilter('demo/, isobroker/stats/')).toEqual(['demo/', 'isobroker/stats/']);
    expect(matches(['demo/'], 'demo/x')).toBe(true);
    expect(matches(['demo/'], 'other')).toBe(false);
  });

  it('shows everything below the budget and one in k above it', () => {
    const s = new Sampler(10);
    let shown = 0;
    for (let i = 0; i < 10; i++) if (s.take(i * 100)) shown++;
    expect(shown).toBe(10);
    // 100 a second for 3 s: the first window (11 in 1 s) gives one in 2, later ones one in 10.
    shown = 0;
    for (let i = 0; i < 300; i++) if (s.take(1000 + i * 10)) shown++;
    expect(s.every).toBe(10);
    expect(shown).toBe(100 / 2 + 200 / 10);
  });
});

describe('log times', () => {
  it('shows a time column in local time, and leaves anything else alone', async () => {
    const { localTime } = await import('../../web-demo/src/log-tail.js');
    const d = new Date(2024, 4, 1, 13, 2, 3, 456);
    const raw = (d.getTime() / 1000).toFixed(6);
    expect(localTime(raw, d)).toBe('13:02:03.456');
    expect(localTime(raw, new Date(2024, 4, 2))).toBe('2024-05-01 13:02:03.456');
    expect(localTime('-', d)).toBeUndefined();
    expect(localTime('C1x', d)).toBeUndefined();
  });
});

describe('sampling after a stall', () => {
  it('one quiet-looking window (a burst after the page was busy) does not switch sampling off', async () => {
    const { Sampler: S } = await import('../../web-demo/src/event-stream.js');
    const s = new S(10);
    for (let i = 0; i < 200; i++) s.take(i * 10); // 100 a second for 2 s
    const busy = s.every;
    expect(busy).toBeGreaterThanOrEqual(10);
    // The page stalls 3 s; the first arrival after it closes a window of a few: still sampled.
    s.take(5000);
    expect(s.every).toBe(busy);
  });

  it('names the prefixes the cluster serves, without internal ones', async () => {
    const { servedPrefixes } = await import('../../web-demo/src/event-stream.js');
    expect(servedPrefixes('the hub serves ["demo/","isobroker/stats/","<$>/store/x"] (changed or refused: [""])')).toBe(
      'demo/, isobroker/stats/',
    );
    expect(servedPrefixes('something else')).toBe('something else');
  });
});
