/**
 * NatsBackbone on the in-memory NATS: options, batching bounds, limits, superset filtering,
 * error isolation, RTT on injected timers, linger of old subscriptions, connection loss and close.
 * (What must hold on any NATS system is in the contract suite, `contract.ts`.)
 */
import { describe, expect, it } from 'vitest';
import { MemoryNats, type MemoryNatsConnection } from '../../src/backbone/memory-nats.js';
import { NatsBackbone, type NatsBackboneOptions } from '../../src/backbone/nats-backbone.js';
import type { BackboneSink, BackboneState, NatsConnectionLike, NatsStatusLike } from '../../src/backbone/types.js';
import { decodeFrame } from '../../src/codec/native/frame.js';
import { encodeDataMessage } from '../../src/codec/native/messages.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { count, string } from '../../src/data/constructors.js';
import { ConfigError } from '../../src/errors.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Manual timers: nothing fires until the test calls `advance`. */

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const ORIGIN = new Uint8Array(16).fill(7);
let seq = 0;
const msg = (topic: string, value: string | number = ++seq): Uint8Array =>
  encodeDataMessage(topic, ORIGIN, ++seq, 16, encodeValue(typeof value === 'string' ? string(value) : count(value)));

/** A sink that records everything. */
function recorder(): BackboneSink & { frames: Uint8Array[]; topics: () => string[]; states: BackboneState[] } {
  const frames: Uint8Array[] = [];
  const states: BackboneState[] = [];
  return {
    frames,
    states,
    topics: () => frames.flatMap((f) => decodeFrame(f).map((m) => ('topic' in m ? m.topic : '?'))),
    data: (f) => frames.push(f),
    control: () => {},
    state: (s) => states.push(s),
  };
}

/** A connection passing everything on to `nc`, with `overrides`. */
function wrap(nc: MemoryNatsConnection, overrides: Partial<NatsConnectionLike> = {}): NatsConnectionLike {
  return {
    subscribe: (s, o) => nc.subscribe(s, o),
    publish: (s, d) => nc.publish(s, d),
    flush: () => nc.flush(),
    status: () => nc.status(),
    closed: () => nc.closed(),
    isClosed: () => nc.isClosed(),
    getServer: () => nc.getServer(),
    rtt: () => nc.rtt(),
    info: nc.info,
    ...overrides,
  };
}

/** A connection that records what is published (and passes it on). */
function spy(nc: MemoryNatsConnection): NatsConnectionLike & { published: { subject: string; data: Uint8Array }[] } {
  const published: { subject: string; data: Uint8Array }[] = [];
  const publish = (subject: string, data?: Uint8Array): void => {
    published.push({ subject, data: data ?? new Uint8Array(0) });
    nc.publish(subject, data);
  };
  return Object.assign(wrap(nc, { publish }), { published });
}

function pair(opts: NatsBackboneOptions = {}, natsOpts: ConstructorParameters<typeof MemoryNats>[0] = {}) {
  const nats = new MemoryNats(natsOpts);
  const pubConn = nats.connect({ noEcho: true, host: 'a' });
  const pubNc = spy(pubConn);
  const subNc = nats.connect({ noEcho: true, host: 'b' });
  const pub = new NatsBackbone(pubNc, { rttInterval: 0, ...opts });
  const sub = new NatsBackbone(subNc, { rttInterval: 0, ...opts });
  const pubSink = recorder();
  const subSink = recorder();
  pub.start(pubSink);
  sub.start(subSink);
  return { nats, pub, sub, pubConn, pubNc, subNc, pubSink, subSink };
}

describe('NatsBackbone options', () => {
  const nats = new MemoryNats();
  const nc = nats.connect({ noEcho: true });
  const bad: [keyof NatsBackboneOptions, unknown][] = [
    ['namespace', ''],
    ['namespace', 'x'.repeat(300)],
    ['separator', ':'],
    ['superset', 'yes'],
    ['queueSize', 0],
    ['queueSize', 1.5],
    ['queueBytes', 0],
    ['overflowPolicy', 'disconnect'],
    ['maxBatchBytes', 10],
    ['maxBatchMessages', 0],
    ['maxBatchMessages', 70_000],
    ['timers', { now: () => 0 }],
    ['rttInterval', -1],
    ['extensionLinger', Number.NaN],
    ['onError', 'log'],
  ];
  for (const [option, value] of bad) {
    it(`refuses ${option} = ${String(JSON.stringify(value)).slice(0, 20)} with a ConfigError naming it`, () => {
      let error: unknown;
      try {
        new NatsBackbone(nc, { [option]: value } as NatsBackboneOptions);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe(option);
    });
  }

  it('refuses a missing connection and a non-object options argument', () => {
    expect(() => new NatsBackbone(undefined as unknown as NatsConnectionLike)).toThrow(ConfigError);
    expect(() => new NatsBackbone(nc, [] as unknown as NatsBackboneOptions)).toThrow(ConfigError);
  });

  it('uses the namespace and separator in its subjects', async () => {
    const { pub, pubNc, sub } = pair({ namespace: 'my cluster', separator: '.' });
    sub.setInterest(['zeek.']);
    await settle();
    pub.publish('zeek.x/y', msg('zeek.x/y'));
    await settle();
    expect(pubNc.published.map((p) => p.subject)).toEqual(['ib.my_20cluster.t.zeek.x_2Fy']);
  });
});

describe('NatsBackbone', () => {
  it('reports every stats field, and its state to the sink when started', async () => {
    const nats = new MemoryNats();
    const b = new NatsBackbone(nats.connect({ noEcho: true, server: 'mem:1' }), { rttInterval: 0 });
    expect(b.stats().state).toBe('connecting');
    const sink = recorder();
    b.start(sink);
    expect(sink.states).toEqual(['connected']);
    expect(() => b.start(sink)).toThrow(/already started/);
    expect(b.stats()).toEqual({
      state: 'connected',
      server: 'mem:1',
      published: 0,
      batchesOut: 0,
      bytesOut: 0,
      batchesIn: 0,
      bytesIn: 0,
      queued: 0,
      queuedBytes: 0,
      dropped: 0,
      tooLong: 0,
      reconnects: 0,
      rtt: undefined,
      wasted: 0,
      subscriptions: 1,
    });
  });

  it('hands a batch on as soon as it holds maxBatchMessages, the rest at the end of the turn', async () => {
    const { pub, pubNc, sub, subSink } = pair({ maxBatchMessages: 4 });
    sub.setInterest(['t/']);
    await settle();
    for (let i = 0; i < 10; i++) pub.publish('t/a', msg('t/a'));
    expect(pubNc.published.length).toBe(2);
    await settle();
    expect(pubNc.published.length).toBe(3);
    expect(subSink.frames.map((f) => decodeFrame(f).length)).toEqual([4, 4, 2]);
    expect(pub.stats()).toMatchObject({ published: 10, batchesOut: 3 });
    expect(sub.stats().batchesIn).toBe(3);
    expect(sub.stats().bytesIn).toBe(pub.stats().bytesOut);
  });

  it('keeps batches under the server max_payload whatever maxBatchBytes says, and sends a large message alone', async () => {
    const { pub, pubNc, sub, subSink } = pair({ maxBatchBytes: 64 * 1024 }, { maxPayload: 1024 });
    sub.setInterest(['t/']);
    await settle();
    for (let i = 0; i < 100; i++) expect(pub.publish('t/a', msg('t/a'))).toBe(true);
    await settle();
    expect(Math.max(...pubNc.published.map((p) => p.data.length))).toBeLessThanOrEqual(1024);
    expect(subSink.topics()).toHaveLength(100);
    // Larger than maxBatchBytes but within max_payload: travels in a frame of its own.
    const small = pair({ maxBatchBytes: 256 });
    small.sub.setInterest(['t/']);
    await settle();
    small.pub.publish('t/a', msg('t/a'));
    small.pub.publish('t/a', msg('t/a', 'x'.repeat(1000)));
    small.pub.publish('t/a', msg('t/a'));
    await settle();
    expect(small.subSink.frames.map((f) => decodeFrame(f).length)).toEqual([1, 1, 1]);
  });

  it('refuses a message larger than max_payload (dropped) and a topic too long for a subject (tooLong)', async () => {
    const { pub } = pair({}, { maxPayload: 1024 });
    expect(pub.publish('t/a', msg('t/a', 'x'.repeat(2000)))).toBe(false);
    expect(pub.publish('x'.repeat(5000), msg('x'))).toBe(false);
    expect(pub.stats()).toMatchObject({ dropped: 1, tooLong: 1, published: 0 });
  });

  it('publishes to the extension subjects of announced partial prefixes only when the topic extends them', async () => {
    const { pub, pubNc, sub } = pair();
    sub.setInterest(['zeek/cluster/manager']);
    expect(sub.partials()).toEqual(['zeek/cluster/manager']);
    pub.remotePartials('sub', sub.partials());
    for (const t of ['zeek/cluster/manager', 'zeek/cluster/managerX', 'zeek/cluster/manager/x']) pub.publish(t, msg(t));
    await settle();
    expect(pubNc.published.map((p) => p.subject)).toEqual([
      'ib.isobroker.t.zeek.cluster.manager',
      'ib.isobroker.t.zeek.cluster.managerX',
      'ib.isobroker.x.zeek.cluster.manager',
      'ib.isobroker.t.zeek.cluster.manager.x',
    ]);
    pub.forgetRemote('sub');
    pub.publish('zeek/cluster/managerY', msg('zeek/cluster/managerY'));
    await settle();
    expect(pubNc.published.at(-1)?.subject).toBe('ib.isobroker.t.zeek.cluster.managerY');
    expect(pubNc.published).toHaveLength(5);
  });

  it('superset mode: subscribes the token superset, announces nothing, filters at the receiver and counts the waste', async () => {
    const { pub, sub, subSink } = pair({ superset: true });
    sub.setInterest(['zeek/cluster/manager']);
    expect(sub.partials()).toEqual([]);
    await settle();
    for (const t of ['zeek/cluster/manager', 'zeek/cluster/worker-1', 'zeek/cluster/managerX/y', 'zeek/other'])
      pub.publish(t, msg(t));
    await settle();
    expect(subSink.topics()).toEqual(['zeek/cluster/manager', 'zeek/cluster/managerX/y']);
    expect(sub.stats()).toMatchObject({ wasted: 1, batchesIn: 3 });
  });

  it('keeps a dropped subscription until the flush and the linger passed, then unsubscribes it', async () => {
    const timers = new ManualTimers();
    const { sub } = pair({ timers, extensionLinger: 1000 });
    sub.setInterest(['a/', 'b/']);
    await settle();
    expect(sub.stats().subscriptions).toBe(3);
    sub.setInterest(['a/']);
    await settle();
    expect(sub.stats().subscriptions).toBe(3);
    timers.advance(999);
    expect(sub.stats().subscriptions).toBe(3);
    timers.advance(1);
    expect(sub.stats().subscriptions).toBe(2);
    // Wanted again before its linger ended: it stays.
    sub.setInterest(['a/', 'c/']);
    await settle();
    sub.setInterest(['a/', 'c/', 'd/']);
    sub.setInterest(['a/', 'c/']);
    await settle();
    timers.advance(5000);
    expect(sub.stats().subscriptions).toBe(3);
    expect(timers.armed).toBe(0);
  });

  it('delivers nothing on a lingering subscription that the current interest does not want', async () => {
    const timers = new ManualTimers();
    const { pub, sub, subSink } = pair({ timers });
    sub.setInterest(['a/']);
    await settle();
    sub.setInterest(['a/b/']);
    await settle();
    pub.publish('a/c', msg('a/c'));
    pub.publish('a/b/c', msg('a/b/c'));
    await settle();
    expect(subSink.topics()).toEqual(['a/b/c']);
  });

  it('measures the round trip on the injected timers, and never with rttInterval 0', async () => {
    const timers = new ManualTimers();
    const nats = new MemoryNats({ rtt: 7 });
    const b = new NatsBackbone(nats.connect({ noEcho: true }), { timers, rttInterval: 1000 });
    b.start(recorder());
    await settle();
    expect(b.stats().rtt).toBe(7);
    expect(timers.armed).toBe(1);
    await b.close();
    expect(timers.armed).toBe(0);
    const quiet = new NatsBackbone(nats.connect({ noEcho: true }), { timers, rttInterval: 0 });
    quiet.start(recorder());
    await settle();
    expect(quiet.stats().rtt).toBeUndefined();
    expect(timers.armed).toBe(0);
  });

  it('never throws into the NATS client: a throwing sink goes to onError', async () => {
    const errors: unknown[] = [];
    const nats = new MemoryNats();
    const pub = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0 });
    const sub = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0, onError: (e) => errors.push(e) });
    pub.start(recorder());
    sub.start({
      data: () => {
        throw new Error('sink data');
      },
      control: () => {
        throw new Error('sink control');
      },
      state: () => {},
    });
    sub.setInterest(['t/']);
    await settle();
    pub.publish('t/x', msg('t/x'));
    pub.publishControl(new Uint8Array([1]));
    await settle();
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['sink control', 'sink data']);
    expect(nats.stats().callbackErrors).toBe(0);
  });

  it('reports a subscription the client refuses instead of throwing', async () => {
    const nats = new MemoryNats();
    const nc = nats.connect({ noEcho: true });
    const errors: unknown[] = [];
    const refusing = wrap(nc, {
      subscribe: () => {
        throw new Error('refused');
      },
    });
    const b = new NatsBackbone(refusing, { rttInterval: 0, onError: (e) => errors.push(e) });
    b.start(recorder());
    b.setInterest(['a/']);
    expect(errors).toHaveLength(2);
    expect(b.stats().subscriptions).toBe(0);
  });

  it('remembers an interest set before start and subscribes it at start', async () => {
    const nats = new MemoryNats();
    const b = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0 });
    b.setInterest(['zeek/m']);
    expect(b.partials()).toEqual(['zeek/m']);
    expect(b.stats().subscriptions).toBe(0);
    b.start(recorder());
    expect(b.stats().subscriptions).toBe(4);
  });

  it('queues while disconnected and hands the queue to the client at close, which sends it on reconnect', async () => {
    const { nats, pub, pubConn, sub, subSink, pubSink } = pair();
    sub.setInterest(['q/']);
    await settle();
    pub.publish('q/a', msg('q/a', 1));
    nats.disconnect(pubConn);
    await settle();
    pub.publish('q/a', msg('q/a', 2));
    expect(pub.stats()).toMatchObject({ state: 'disconnected', queued: 1 });
    expect(pubSink.states).toEqual(['connected', 'disconnected']);
    await pub.close();
    expect(pub.publish('q/a', msg('q/a'))).toBe(false);
    expect(pub.stats()).toMatchObject({ state: 'closed', queued: 0, dropped: 0 });
    nats.reconnect(pubConn);
    await settle();
    const seqs = subSink.frames.flatMap((f) => decodeFrame(f).map((m) => ('seq' in m ? m.seq : -1)));
    expect(seqs).toHaveLength(2);
    expect(seqs[0]).toBeLessThan(seqs[1]!);
  });

  it('close sends the open batches, also of a backbone never started, and ends its status iteration', async () => {
    const nats = new MemoryNats();
    const rx = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0 });
    const rxSink = recorder();
    rx.start(rxSink);
    rx.setInterest(['s/']);
    await settle();
    const nc = nats.connect({ noEcho: true });
    let returned = 0;
    const status = (): AsyncIterable<NatsStatusLike> => {
      const it = nc.status()[Symbol.asyncIterator]();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => it.next(),
          return: async () => {
            returned++;
            return (await it.return?.()) ?? { value: undefined, done: true };
          },
        }),
      };
    };
    const b = new NatsBackbone(wrap(nc, { status }), { rttInterval: 0 });
    b.publish('s/x', msg('s/x'));
    b.start(recorder());
    await b.close();
    expect(returned).toBe(1);
    const unstarted = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0 });
    unstarted.publish('s/y', msg('s/y'));
    await unstarted.close();
    await settle();
    expect(rxSink.topics()).toEqual(['s/x', 's/y']);
  });

  it('a batch still open when the disconnect is seen goes to the queue before what is published afterwards', async () => {
    const nats = new MemoryNats();
    const rx = new NatsBackbone(nats.connect({ noEcho: true }), { rttInterval: 0 });
    const rxSink = recorder();
    rx.start(rxSink);
    rx.setInterest(['d/']);
    await settle();
    const conn = nats.connect({ noEcho: true });
    const b = new NatsBackbone(conn, { rttInterval: 0 });
    b.start({
      data: () => {},
      control: () => {},
      // The link publishes from its state callback (a hello, say): behind the open batch.
      state: (s) => {
        if (s === 'disconnected') b.publish('d/x', msg('d/x', 'second'));
      },
    });
    nats.disconnect(conn);
    b.publish('d/x', msg('d/x', 'first'));
    await settle();
    expect(b.stats()).toMatchObject({ state: 'disconnected', queued: 2 });
    nats.reconnect(conn);
    await settle();
    const seqs = rxSink.frames.flatMap((f) => decodeFrame(f).map((m) => ('seq' in m ? m.seq : -1)));
    expect(seqs).toHaveLength(2);
    expect(seqs[0]).toBeLessThan(seqs[1]!);
  });

  it('goes closed when the connection closes under it: counted drops, publish refused', async () => {
    const { pub, pubConn, pubSink } = pair();
    pub.publish('q/a', msg('q/a'));
    await pubConn.close();
    await settle();
    expect(pubSink.states.at(-1)).toBe('closed');
    expect(pub.publish('q/a', msg('q/a'))).toBe(false);
    expect(pub.stats()).toMatchObject({ state: 'closed', server: undefined, dropped: 2 });
    await pub.close();
  });
});
