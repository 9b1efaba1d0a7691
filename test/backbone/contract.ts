/**
 * The backbone contract: what `NatsBackbone` must do on any NATS system — the in-memory NATS
 * (`contract-memory.test.ts`) and a real three-server nats-server cluster. A test file calls
 * `backboneContract(name, makeWorld)` with a world that hands out connections to one NATS
 * system, each opened with `noEcho`.
 *
 * Waits are bounded and never assert timing: after an interest change the suite publishes probe
 * messages until every receiver got one from every publisher (on a real cluster, interest reaches
 * the other servers asynchronously), and before checking that nothing more arrives it sends end
 * markers (NATS keeps one publisher's order towards one subscriber).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsBackboneOptions } from '../../src/backbone/nats-backbone.js';
import { NatsBackbone } from '../../src/backbone/nats-backbone.js';
import type { BackboneState, NatsConnectionLike } from '../../src/backbone/types.js';
import { decodeFrame } from '../../src/codec/native/frame.js';
import { MessageKind } from '../../src/codec/native/kinds.js';
import { encodeDataMessage } from '../../src/codec/native/messages.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { count } from '../../src/data/constructors.js';

/** One NATS system for a test, and what it can do to its connections. */
export interface BackboneWorld {
  /** Connections to one NATS system, opened with `noEcho`, at least three. */
  readonly connections: readonly NatsConnectionLike[];
  /**
   * Cuts connection `i` off its server (it must see `disconnect`) and gives it back (`reconnect`).
   * Optional: the queue tests are skipped where the world cannot do it.
   */
  disconnect?(i: number): void | Promise<void>;
  reconnect?(i: number): void | Promise<void>;
  /** Closes the connections and whatever the world started. */
  close(): Promise<void>;
}

/** A received data message, as the tests look at it. */
export interface Received {
  readonly topic: string;
  /** Index of the node that published it. */
  readonly from: number;
  readonly seq: number;
}

/** One endpoint on the backbone, as the tests drive it. */
export class TestNode {
  readonly id: string;
  readonly origin: Uint8Array;
  readonly backbone: NatsBackbone;
  readonly received: Received[] = [];
  /** Messages per received frame. */
  readonly frameSizes: number[] = [];
  readonly frameBytes: number[] = [];
  readonly controls: Uint8Array[] = [];
  readonly states: BackboneState[] = [];
  filter: string[] = [];
  #seq = 0;

  constructor(
    readonly index: number,
    readonly nc: NatsConnectionLike,
    options: NatsBackboneOptions,
  ) {
    this.id = `node-${index}`;
    this.origin = new Uint8Array(16).fill(index + 1);
    this.backbone = new NatsBackbone(nc, options);
    this.backbone.start({
      data: (frame) => {
        const msgs = decodeFrame(frame);
        this.frameSizes.push(msgs.length);
        this.frameBytes.push(frame.length);
        for (const m of msgs) {
          if (m.kind !== MessageKind.Data) throw new Error('not a data message');
          this.received.push({ topic: m.topic, from: m.origin[0]! - 1, seq: m.seq });
        }
      },
      control: (payload) => this.controls.push(payload),
      state: (s) => this.states.push(s),
    });
  }

  /** The sequence number the next publish will use. */
  get nextSeq(): number {
    return this.#seq + 1;
  }

  /** Publishes one data message on `topic`; its sequence number identifies it. */
  publish(topic: string): { seq: number; accepted: boolean } {
    const seq = ++this.#seq;
    const accepted = this.backbone.publish(
      topic,
      encodeDataMessage(topic, this.origin, seq, 16, encodeValue(count(seq))),
    );
    return { seq, accepted };
  }

  /** What arrived on `topic` (or topics starting with it) from node `from`, in order. */
  got(from: number, topicPrefix: string): number[] {
    return this.received.filter((r) => r.from === from && r.topic.startsWith(topicPrefix)).map((r) => r.seq);
  }

  /** Received messages that are not probes or markers. */
  payload(): Received[] {
    return this.received.filter((r) => !r.topic.startsWith('probe/'));
  }
}

/** The byte-prefix oracle: some prefix of `filter` starts `topic`, internal topics only by internal prefixes. */
export function oracleWants(filter: readonly string[], topic: string): boolean {
  const internal = topic.startsWith('<$>/');
  return filter.some((p) => topic.startsWith(p) && (!internal || p.startsWith('<$>/')));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds, polling; fails naming `what` after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

let round = 0;

/** How late publishers learn new partial prefixes in the tests (presence's delay); the linger is 4× it. */
const PRESENCE_LAG = 60;

/** Every node's probe prefix: part of its interest, so that probes and markers reach it. */
const probePrefix = (i: number): string => `probe/${i}/`;

/**
 * Sets `node`'s interest to `filter` (plus its probe prefix, subscribed last), tells the others
 * its partial prefixes (as presence would), and waits until probes from every other node arrive.
 */
export async function setInterest(nodes: readonly TestNode[], node: TestNode, filter: string[]): Promise<void> {
  node.filter = filter;
  node.backbone.setInterest(filter);
  node.backbone.setInterest([...filter, probePrefix(node.index)].sort());
  for (const other of nodes) if (other !== node) other.backbone.remotePartials(node.id, node.backbone.partials());
  await reach(nodes, [node]);
}

/** Publishes probes from every node to each of `targets` until each got one from every other node. */
async function reach(nodes: readonly TestNode[], targets: readonly TestNode[]): Promise<void> {
  const r = ++round;
  const topic = (t: TestNode): string => `${probePrefix(t.index)}r${r}`;
  const done = (t: TestNode, from: TestNode): boolean =>
    t.received.some((m) => m.from === from.index && m.topic === topic(t));
  const all = (): boolean => targets.every((t) => nodes.every((n) => n === t || done(t, n)));
  const end = Date.now() + 15_000;
  while (!all()) {
    if (Date.now() > end) throw new Error(`probes of round ${r} did not arrive`);
    for (const t of targets) for (const n of nodes) if (n !== t && !done(t, n)) n.publish(topic(t));
    await sleep(20);
  }
}

/** Returns once everything published so far by any node reached its receivers. */
export async function settle(nodes: readonly TestNode[]): Promise<void> {
  await reach(nodes, nodes);
}

/** Asserts no (publisher, sequence number) pair arrived twice at `node`. */
function expectNoDuplicates(node: TestNode): void {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const r of node.received) {
    const k = `${r.from}:${r.seq}`;
    if (seen.has(k)) dups.push(`${k} ${r.topic}`);
    seen.add(k);
  }
  expect(dups).toEqual([]);
}

/**
 * Registers the contract suite. `makeWorld(n)` returns a world with `n` connections; `options`
 * go to every backbone (the suite adds its own where a test needs them).
 */
export function backboneContract(
  name: string,
  makeWorld: (n: number) => Promise<BackboneWorld>,
  options: NatsBackboneOptions = {},
): void {
  const superset = options.superset === true;
  describe(`backbone contract: ${name}${superset ? ' (superset mode)' : ''}`, () => {
    let world: BackboneWorld | undefined;
    let nodes: TestNode[] = [];

    const setup = async (n: number, extra: NatsBackboneOptions = {}): Promise<TestNode[]> => {
      world = await makeWorld(n);
      nodes = world.connections
        .slice(0, n)
        .map(
          (nc, i) => new TestNode(i, nc, { rttInterval: 0, extensionLinger: 4 * PRESENCE_LAG, ...options, ...extra }),
        );
      for (const node of nodes) await setInterest(nodes, node, []);
      return nodes;
    };

    afterEach(async () => {
      for (const n of nodes) await n.backbone.close();
      nodes = [];
      await world?.close();
      world = undefined;
    });

    it('delivers exactly by byte prefixes: partial prefixes, their extensions, internal topics, escaping', async () => {
      const ns = await setup(3);
      const filters = [
        ['<$>/store/', 'zeek/cluster/manager'],
        ['a/b', 'zeek/'],
        ['a/', 'x y', 'zeek/cluster/managerX', 'é'],
      ];
      for (const [i, f] of filters.entries()) await setInterest(ns, ns[i]!, f);
      expect(ns[0]!.backbone.partials()).toEqual(superset ? [] : ['zeek/cluster/manager']);
      const topics = [
        'zeek/cluster/manager',
        'zeek/cluster/manager/x',
        'zeek/cluster/managerX',
        'zeek/cluster/managerX/y',
        'zeek/cluster/manage',
        'zeek/cluster/worker-1',
        'zeek',
        'zeek/',
        'a/b',
        'a/b/c',
        'a/bc',
        'a/bc/d',
        'a/c',
        'ab',
        '<$>/store/x/y',
        '<$>/storex',
        '<$>/other',
        'é',
        'é/x',
        'éa',
        'x y',
        'x y/z*>',
        'x yz.w',
        '',
      ];
      const sent: { from: number; topic: string; seq: number }[] = [];
      for (const n of ns) {
        for (const topic of topics) {
          const { seq, accepted } = n.publish(topic);
          expect(accepted).toBe(true);
          sent.push({ from: n.index, topic, seq });
        }
      }
      await settle(ns);
      for (const n of ns) {
        const want = sent
          .filter((s) => s.from !== n.index && oracleWants(n.filter, s.topic))
          .map((s) => `${s.from} ${s.topic}`)
          .sort();
        const got = n
          .payload()
          .map((r) => `${r.from} ${r.topic}`)
          .sort();
        expect(got, `node ${n.index} (${n.filter.join(', ')})`).toEqual(want);
        expect(n.received.some((r) => r.from === n.index)).toBe(false);
        expectNoDuplicates(n);
      }
      // The extension subject carried what extends a partial prefix inside its last segment.
      expect(ns[2]!.got(0, 'zeek/cluster/managerX')).toHaveLength(2);
      expect(ns[0]!.got(1, 'zeek/cluster/managerX')).toHaveLength(2);
    });

    it('never echoes to the publisher, even when it wants the topic', async () => {
      const ns = await setup(3);
      for (const n of ns) await setInterest(ns, n, ['echo/']);
      for (const n of ns) n.publish('echo/x');
      await settle(ns);
      for (const n of ns) {
        expect(n.got(n.index, 'echo/')).toEqual([]);
        expect(
          n
            .payload()
            .map((r) => r.from)
            .sort(),
        ).toEqual(ns.filter((o) => o !== n).map((o) => o.index));
      }
    });

    it('batches per topic and keeps each topic in order, within maxBatchMessages and maxBatchBytes', async () => {
      const ns = await setup(2, { maxBatchMessages: 16, maxBatchBytes: 512 });
      const [pub, sub] = ns as [TestNode, TestNode];
      await setInterest(ns, sub, ['o/']);
      const frameCount = sub.frameSizes.length;
      const sent: Record<string, number[]> = { 'o/1': [], 'o/2': [], 'o/3': [] };
      for (let i = 0; i < 600; i++) {
        const topic = `o/${(i % 3) + 1}`;
        sent[topic]!.push(pub.publish(topic).seq);
      }
      await settle(ns);
      for (const topic of Object.keys(sent)) expect(sub.got(0, topic)).toEqual(sent[topic]);
      // 600 messages of about 40 bytes: batched by 16 or by 512 bytes, never one per message.
      const batches = sub.frameSizes.slice(frameCount);
      expect(batches.length).toBeLessThan(600 / 8);
      expect(Math.max(...batches)).toBeLessThanOrEqual(16);
      expect(Math.max(...sub.frameBytes.slice(frameCount))).toBeLessThanOrEqual(512);
    });

    it('loses and duplicates nothing when a covering prefix replaces a narrower one under traffic, and back', async () => {
      const ns = await setup(2);
      const [pub, sub] = ns as [TestNode, TestNode];
      await setInterest(ns, sub, ['c/a/b/']);
      let running = true;
      const published: Record<string, number[]> = { 'c/a/b/x': [], 'c/a/c': [] };
      const traffic = (async () => {
        while (running) {
          for (let i = 0; i < 5; i++) {
            published['c/a/b/x']!.push(pub.publish('c/a/b/x').seq);
            published['c/a/c']!.push(pub.publish('c/a/c').seq);
          }
          await sleep(1);
        }
      })();
      await waitFor(() => sub.got(0, 'c/a/b/x').length >= 50, 'traffic before the change');
      await setInterest(ns, sub, ['c/a/']);
      await waitFor(() => sub.got(0, 'c/a/c').length >= 50, 'traffic on the covering prefix');
      await setInterest(ns, sub, ['c/a/b/']);
      const mark = published['c/a/b/x']!.length;
      await waitFor(() => sub.got(0, 'c/a/b/x').length >= mark + 50, 'traffic after narrowing again');
      running = false;
      await traffic;
      await settle(ns);
      expect(sub.got(0, 'c/a/b/x')).toEqual(published['c/a/b/x']);
      const other = sub.got(0, 'c/a/c');
      // c/a/c arrives only while covered: without gaps inside that stretch and never twice.
      const first = published['c/a/c']!.indexOf(other[0]!);
      expect(other).toEqual(published['c/a/c']!.slice(first, first + other.length));
      expectNoDuplicates(sub);
    });

    it('loses and duplicates nothing when a partial prefix changes under traffic (extension subjects)', async () => {
      const ns = await setup(2);
      const [pub, sub] = ns as [TestNode, TestNode];
      await setInterest(ns, sub, ['p/a/b']);
      expect(sub.backbone.partials()).toEqual(superset ? [] : ['p/a/b']);
      let running = true;
      const topics = ['p/a/bc', 'p/a/b/x', 'p/a/b'];
      const published: Record<string, number[]> = Object.fromEntries(topics.map((t) => [t, []]));
      const traffic = (async () => {
        while (running) {
          for (const t of topics) published[t]!.push(pub.publish(t).seq);
          await sleep(1);
        }
      })();
      const exact = (t: string): number[] =>
        sub.received.filter((r) => r.topic === t && r.from === 0).map((r) => r.seq);
      await waitFor(() => exact('p/a/bc').length >= 30, 'extension traffic');
      // The publisher learns the new partial prefixes a little later, as presence would tell it.
      sub.filter = ['p/a/'];
      sub.backbone.setInterest(['p/a/', probePrefix(1)]);
      await sleep(PRESENCE_LAG);
      pub.backbone.remotePartials(sub.id, sub.backbone.partials());
      let mark = published['p/a/bc']!.length;
      await waitFor(() => exact('p/a/bc').length >= mark + 30, 'traffic after widening');
      sub.filter = ['p/a/b'];
      sub.backbone.setInterest(['p/a/b', probePrefix(1)]);
      await sleep(PRESENCE_LAG);
      pub.backbone.remotePartials(sub.id, sub.backbone.partials());
      mark = published['p/a/bc']!.length;
      await waitFor(() => exact('p/a/bc').length >= mark + 30, 'traffic after narrowing');
      running = false;
      await traffic;
      await settle(ns);
      for (const t of topics) expect(exact(t), t).toEqual(published[t]);
      expectNoDuplicates(sub);
    });

    it('delivers control messages to every other endpoint', async () => {
      const ns = await setup(3);
      ns[0]!.backbone.publishControl(new TextEncoder().encode('hello'));
      await waitFor(() => ns[1]!.controls.length > 0 && ns[2]!.controls.length > 0, 'control messages');
      await settle(ns);
      expect(new TextDecoder().decode(ns[1]!.controls[0])).toBe('hello');
      expect(ns[0]!.controls).toEqual([]);
    });

    for (const policy of ['drop_oldest', 'drop_newest'] as const) {
      it(`holds at most queueSize frames while disconnected (${policy}) and sends them in order on reconnect`, async (ctx) => {
        const ns = await setup(2, { queueSize: 10, overflowPolicy: policy });
        if (world?.disconnect === undefined || world.reconnect === undefined) {
          ctx.skip();
          return;
        }
        const [pub, sub] = ns as [TestNode, TestNode];
        await setInterest(ns, sub, ['q/']);
        await world!.disconnect!(0);
        await waitFor(() => pub.backbone.stats().state === 'disconnected', 'the disconnect');
        pub.backbone.publishControl(new Uint8Array([1])); // dropped: presence repeats
        const results = Array.from({ length: 25 }, () => pub.publish('q/x'));
        const accepted = results.filter((r) => r.accepted).map((r) => r.seq);
        let s = pub.backbone.stats();
        expect(s.queued).toBe(10);
        expect(s.dropped).toBe(15);
        const seqs = results.map((r) => r.seq);
        const expected = policy === 'drop_oldest' ? seqs.slice(15) : seqs.slice(0, 10);
        expect(accepted).toEqual(policy === 'drop_oldest' ? seqs : expected);
        await world!.reconnect!(0);
        await waitFor(() => pub.backbone.stats().state === 'connected', 'the reconnect');
        await settle(ns);
        expect(sub.got(0, 'q/')).toEqual(expected);
        expect(sub.controls).toEqual([]);
        s = pub.backbone.stats();
        expect(s.queued).toBe(0);
        expect(s.reconnects).toBe(1);
        expect(pub.states).toEqual(['connected', 'disconnected', 'reconnected', 'connected']);
      });
    }

    it('close sends the open batches, unsubscribes, refuses later publishes and leaves the connection open', async () => {
      const ns = await setup(3);
      const [a, b, c] = ns as [TestNode, TestNode, TestNode];
      await setInterest(ns, b, ['z/']);
      await setInterest(ns, a, ['z/']);
      const { seq } = a.publish('z/last');
      await a.backbone.close();
      expect(a.publish('z/after').accepted).toBe(false);
      expect(a.backbone.stats()).toMatchObject({ state: 'closed', subscriptions: 0 });
      expect(a.states.at(-1)).toBe('closed');
      expect(a.nc.isClosed()).toBe(false);
      const before = a.received.length;
      c.publish('z/to-a-and-b');
      await waitFor(() => b.got(2, 'z/to-a-and-b').length === 1, 'the message to b');
      await settle([b, c]);
      expect(b.got(0, 'z/')).toEqual([seq]);
      expect(a.received.length).toBe(before);
      await a.backbone.close(); // twice is fine
    });
  });
}
