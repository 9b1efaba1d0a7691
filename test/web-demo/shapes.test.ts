/** The dashboard's shared event shapes (server/dashboard/shapes.ts): what a node builds, the page reads. */
import { describe, expect, it } from 'vitest';
import { count, makeEvent, string, vector } from 'isobroker';
import {
  logBatchOf,
  logTailEvent,
  nodeStatsEvent,
  nodeStatsOf,
  type NodeStats,
} from '../../server/dashboard/shapes.js';
import {
  TopicCounter,
  OTHER_TOPICS,
  MAX_COUNTED_TOPICS,
  BYTES_SAMPLE_EVERY,
} from '../../server/dashboard/node-status.js';

const FULL: NodeStats = {
  name: 'worker-1',
  role: 'worker',
  id: 'abc',
  peers: ['manager', 'proxy-1'],
  published: 1200,
  received: 340,
  logging: { bufferedRecords: 3, bufferedBytes: 400, dropped: 1, duplicates: 0 },
  publishedBytes: 98765,
  drops: 7,
  intervalMs: 501,
  topics: [
    { topic: 'demo/conn/worker-1', messages: 25, bytes: 4000 },
    { topic: 'isobroker/stats/worker-1', messages: 1, bytes: 300 },
  ],
  clients: [
    {
      name: 'manager',
      kind: 'manager',
      protocol: 'native',
      link: 'router',
      direction: 'outbound',
      address: 'ws://127.0.0.1:1',
      subscriptions: 4,
      queued: 2,
      fill: 0.25,
      drops: 0,
    },
    {
      name: '127.0.0.1:5555',
      kind: 'json',
      protocol: 'json',
      link: '',
      direction: 'inbound',
      address: '127.0.0.1:5555',
      subscriptions: -1,
      queued: 0,
      fill: 0,
      drops: 3,
    },
  ],
};

describe('node_stats', () => {
  it('reads back what a node builds, every field', () => {
    expect(nodeStatsOf(nodeStatsEvent(FULL))).toEqual(FULL);
  });

  it('reads the older layout (no traffic, topics or clients) with those fields absent', () => {
    const old = makeEvent('isobroker::node_stats', [
      string('manager'),
      string('manager'),
      string('id'),
      vector([string('worker-1')]),
      count(5),
      count(6),
    ]);
    expect(nodeStatsOf(old)).toEqual({
      name: 'manager',
      role: 'manager',
      id: 'id',
      peers: ['worker-1'],
      published: 5,
      received: 6,
    });
  });

  it('skips malformed clients and topics, refuses a malformed head', () => {
    const bad = makeEvent('isobroker::node_stats', [
      string('n'),
      string('worker'),
      string('i'),
      vector([]),
      count(1),
      count(1),
      vector([]),
      vector([count(1), count(2)]),
      count(500),
      vector([vector([string('ok'), count(1), count(2)]), vector([count(1)]), string('x')]),
      vector([vector([string('only a name')])]),
    ]);
    const s = nodeStatsOf(bad)!;
    expect(s.topics).toEqual([{ topic: 'ok', messages: 1, bytes: 2 }]);
    expect(s.clients).toEqual([]);
    expect(nodeStatsOf(makeEvent('isobroker::node_stats', [string('n')]))).toBeUndefined();
    expect(nodeStatsOf(makeEvent('other::event', []))).toBeUndefined();
    expect(nodeStatsOf(string('not an event'))).toBeUndefined();
  });
});

describe('log_tail', () => {
  it('carries the column types; a batch without them reads with none', () => {
    const b = { path: 'conn', fields: ['ts', 'uid'], types: ['time', 'string'], rows: [['1714564800.5', 'C1']] };
    expect(logBatchOf(logTailEvent(b))).toEqual(b);
    const old = makeEvent('isobroker::log_tail', [
      string('conn'),
      vector([string('ts')]),
      vector([vector([string('1')])]),
    ]);
    expect(logBatchOf(old)).toEqual({ path: 'conn', fields: ['ts'], types: [], rows: [['1']] });
  });
});

describe('TopicCounter', () => {
  it('counts every message, measures one in BYTES_SAMPLE_EVERY, and starts afresh at each take', () => {
    const c = new TopicCounter();
    let measured = 0;
    for (let i = 0; i < 3 * BYTES_SAMPLE_EVERY; i++)
      c.add(i % 3 === 0 ? 'a' : 'b', () => {
        measured++;
        return 10;
      });
    expect(measured).toBe(3);
    const t = c.take();
    expect(t.map((x) => [x.topic, x.messages])).toEqual([
      ['b', 2 * BYTES_SAMPLE_EVERY],
      ['a', BYTES_SAMPLE_EVERY],
    ]);
    expect(t.reduce((s, x) => s + x.bytes, 0)).toBe(3 * 10 * BYTES_SAMPLE_EVERY);
    expect(c.bytes).toBe(3 * 10 * BYTES_SAMPLE_EVERY);
    expect(c.take()).toEqual([]);
    c.add('k', () => 7, true);
    expect(c.take()).toEqual([{ topic: 'k', messages: 1, bytes: 7 }]);
  });

  it('keeps at most MAX_COUNTED_TOPICS topics per interval, the rest under one name', () => {
    const c = new TopicCounter();
    for (let i = 0; i < MAX_COUNTED_TOPICS + 5; i++) c.add(`t/${i}`, () => 1, true);
    const all = c.take(MAX_COUNTED_TOPICS + 10);
    expect(all.length).toBe(MAX_COUNTED_TOPICS + 1);
    expect(all.find((x) => x.topic === OTHER_TOPICS)?.messages).toBe(5);
  });
});
