/** The in-memory NATS: NATS core semantics and the faults tests inject. */
import { describe, expect, it } from 'vitest';
import { MemoryNats, type MemoryNatsConnection } from '../../src/backbone/memory-nats.js';
import type { NatsMsgLike, NatsStatusLike } from '../../src/backbone/types.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Manual timers: nothing fires until the test calls `advance`. */

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
/** Lets every queued microtask (and so every pending delivery) run. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** Subscribes and records what arrives as `subject=payload`. */
function record(conn: MemoryNatsConnection, subject: string): string[] {
  const got: string[] = [];
  conn.subscribe(subject, {
    callback: (err, msg: NatsMsgLike) => {
      if (err) throw err;
      got.push(`${msg.subject}=${dec(msg.data)}`);
    },
  });
  return got;
}

/** Collects a connection's status events as they come. */
function statuses(conn: MemoryNatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of conn.status() as AsyncIterable<NatsStatusLike>) seen.push(s.type);
    seen.push('end');
  })();
  return seen;
}

describe('MemoryNats routing', () => {
  it('delivers to matching subscriptions only, wildcards included', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const exact = record(b, 'ib.x.t.zeek.cluster');
    const star = record(b, 'ib.x.t.*.cluster');
    const tail = record(b, 'ib.x.t.>');
    const other = record(b, 'ib.y.>');
    a.publish('ib.x.t.zeek.cluster', enc('1'));
    a.publish('ib.x.t.zeek.cluster.node', enc('2'));
    a.publish('ib.x.t.zeek', enc('3'));
    await settle();
    expect(exact).toEqual(['ib.x.t.zeek.cluster=1']);
    expect(star).toEqual(['ib.x.t.zeek.cluster=1']);
    expect(tail).toEqual(['ib.x.t.zeek.cluster=1', 'ib.x.t.zeek.cluster.node=2', 'ib.x.t.zeek=3']);
    expect(other).toEqual([]);
    expect(nats.stats()).toMatchObject({ routed: 3, delivered: 5, dropped: 0, callbackErrors: 0 });
  });

  it('gives one copy per matching subscription, even two on one connection', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const got: string[] = [];
    b.subscribe('s.>', { callback: (_e, m) => got.push(`wide:${dec(m.data)}`) });
    b.subscribe('s.t', { callback: (_e, m) => got.push(`exact:${dec(m.data)}`) });
    a.publish('s.t', enc('x'));
    await settle();
    expect(got.sort()).toEqual(['exact:x', 'wide:x']);
  });

  it('delivers asynchronously, and a copy per subscriber (no shared buffer with the publisher)', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const got: Uint8Array[] = [];
    b.subscribe('s', { callback: (_e, m) => got.push(m.data) });
    b.subscribe('s', { callback: (_e, m) => got.push(m.data) });
    const data = enc('abc');
    a.publish('s', data);
    expect(got).toEqual([]);
    data[0] = 0x7a;
    await settle();
    expect(got.map(dec)).toEqual(['abc', 'abc']);
    got[0]![1] = 0x7a;
    expect(dec(got[1]!)).toBe('abc');
  });

  it('echoes to the publisher unless noEcho', async () => {
    const nats = new MemoryNats();
    const echo = nats.connect();
    const quiet = nats.connect({ noEcho: true });
    const gotEcho = record(echo, 's');
    const gotQuiet = record(quiet, 's');
    echo.publish('s', enc('from-echo'));
    quiet.publish('s', enc('from-quiet'));
    await settle();
    expect(gotEcho).toEqual(['s=from-echo', 's=from-quiet']);
    expect(gotQuiet).toEqual(['s=from-echo']);
  });

  it('keeps each publisher order, also through callbacks that publish', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const relay = nats.connect();
    const got = record(b, 'out');
    relay.subscribe('in', { callback: (_e, m) => relay.publish('out', m.data) });
    // Enough for one delivery pass to outgrow its queue's compaction threshold.
    for (let i = 0; i < 20_000; i++) a.publish(i % 2 === 0 ? 'in' : 'out', enc(String(i)));
    await settle();
    const direct = got.filter((g) => Number(g.slice(4)) % 2 === 1).map((g) => Number(g.slice(4)));
    const relayed = got.filter((g) => Number(g.slice(4)) % 2 === 0).map((g) => Number(g.slice(4)));
    expect(direct).toEqual([...direct].sort((x, y) => x - y));
    expect(relayed).toEqual([...relayed].sort((x, y) => x - y));
    expect(got).toHaveLength(20_000);
    expect(relayed).toHaveLength(10_000);
  });

  it('routes at publish time: a later subscription misses it, an unsubscribed one gets nothing more', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const early: string[] = [];
    const sub = b.subscribe('s', { callback: (_e, m) => early.push(dec(m.data)) });
    a.publish('s', enc('1'));
    const late = record(b, 's');
    sub.unsubscribe();
    a.publish('s', enc('2'));
    await settle();
    expect(early).toEqual([]);
    expect(late).toEqual(['s=2']);
    expect(nats.stats().subscriptions).toBe(1);
  });

  it('unsubscribe(max) stops after max messages', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const got: string[] = [];
    const sub = b.subscribe('s', { callback: (_e, m) => got.push(dec(m.data)) });
    sub.unsubscribe(2);
    for (const x of ['1', '2', '3']) a.publish('s', enc(x));
    await settle();
    expect(got).toEqual(['1', '2']);
    expect(nats.stats().subscriptions).toBe(0);
  });

  it('flush resolves after what was published before was delivered', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const got = record(nats.connect(), 's');
    a.publish('s', enc('1'));
    await a.flush();
    expect(got).toEqual(['s=1']);
  });

  it('refuses what nats.js refuses: bad subjects, wildcards in publish, payloads over max_payload', () => {
    const nats = new MemoryNats({ maxPayload: 8 });
    const a = nats.connect();
    expect(a.info.max_payload).toBe(8);
    expect(new MemoryNats().connect().info.max_payload).toBe(1024 * 1024);
    const code = (f: () => void): unknown => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => a.publish('a.*', enc('x')))).toBe('BAD_SUBJECT');
    expect(code(() => a.publish('a b', enc('x')))).toBe('BAD_SUBJECT');
    expect(code(() => a.publish('a..b', enc('x')))).toBe('BAD_SUBJECT');
    expect(code(() => a.publish('a'.repeat(5000), enc('x')))).toBe('BAD_SUBJECT');
    expect(code(() => a.subscribe('a.>.b', { callback: () => {} }))).toBe('BAD_SUBJECT');
    expect(code(() => a.publish('a', new Uint8Array(9)))).toBe('MAX_PAYLOAD_EXCEEDED');
    expect(code(() => a.publish('a', new Uint8Array(8)))).toBe('no error');
  });

  it('counts callbacks that throw without stopping delivery to others', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    a.subscribe('s', {
      callback: () => {
        throw new Error('boom');
      },
    });
    const got = record(a, 's');
    a.publish('s', enc('1'));
    await settle();
    expect(got).toEqual(['s=1']);
    expect(nats.stats().callbackErrors).toBe(1);
    expect((nats.errors[0] as Error).message).toBe('boom');
  });
});

describe('MemoryNats faults', () => {
  it('partition loses messages between the two sides only; heal restores', async () => {
    const nats = new MemoryNats();
    const a1 = nats.connect({ host: 'a' });
    const a2 = nats.connect({ host: 'a' });
    const b = nats.connect({ host: 'b' });
    const c = nats.connect({ host: 'c' });
    const gotA2 = record(a2, 's');
    const gotB = record(b, 's');
    const gotC = record(c, 's');
    nats.partition(['a'], ['b']);
    a1.publish('s', enc('1'));
    b.publish('s', enc('2'));
    await settle();
    expect(gotA2).toEqual(['s=1']);
    expect(gotB).toEqual(['s=2']);
    expect(gotC).toEqual(['s=1', 's=2']);
    expect(nats.stats().droppedPartition).toBe(2);
    nats.heal();
    a1.publish('s', enc('3'));
    await settle();
    expect(gotB).toEqual(['s=2', 's=3']);
  });

  it('isolate cuts a host off every other host, also ones connecting later', async () => {
    const nats = new MemoryNats();
    const a = nats.connect({ host: 'a' });
    const a2 = nats.connect({ host: 'a' });
    const b = nats.connect({ host: 'b' });
    nats.isolate('a');
    const c = nats.connect({ host: 'c' });
    const gotA2 = record(a2, 's');
    const gotB = record(b, 's');
    const gotC = record(c, 's');
    a.publish('s', enc('from-a'));
    c.publish('s', enc('from-c'));
    await settle();
    expect(gotA2).toEqual(['s=from-a']);
    expect(gotB).toEqual(['s=from-c']);
    expect(gotC).toEqual(['s=from-c']);
    nats.heal();
    a.publish('s', enc('healed'));
    await settle();
    expect(gotC).toEqual(['s=from-c', 's=healed']);
  });

  it('dropRate loses copies reproducibly for a seed, and differently for another seed', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const nats = new MemoryNats({ seed });
      const a = nats.connect();
      const got = record(nats.connect(), 's');
      nats.dropRate(0.3);
      for (let i = 0; i < 500; i++) a.publish('s', enc(String(i)));
      await settle();
      expect(nats.stats().droppedRandom + got.length).toBe(500);
      return got;
    };
    const first = await run(7);
    expect(first.length).toBeGreaterThan(250);
    expect(first.length).toBeLessThan(450);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
    expect(() => new MemoryNats().dropRate(1.5)).toThrow();
  });

  it('disconnect: status events, client-side buffering, loss of what others sent, subscriptions kept', async () => {
    const timers = new ManualTimers();
    const nats = new MemoryNats({ timers });
    const a = nats.connect({ name: 'a' });
    const b = nats.connect({ name: 'b' });
    const seen = statuses(a);
    const gotA = record(a, 'to-a');
    const gotB = record(b, 'to-b');
    nats.disconnect(a, 1000);
    await settle();
    expect(seen).toEqual(['disconnect']);
    a.publish('to-b', enc('1'));
    a.publish('to-b', enc('2'));
    b.publish('to-a', enc('lost'));
    let flushed = false;
    void a.flush().then(() => {
      flushed = true;
    });
    await settle();
    expect(gotB).toEqual([]);
    expect(gotA).toEqual([]);
    expect(flushed).toBe(false);
    expect(nats.stats()).toMatchObject({ buffered: 2, droppedDisconnected: 1 });
    timers.advance(999);
    await settle();
    expect(gotB).toEqual([]);
    timers.advance(1);
    a.publish('to-b', enc('3'));
    await settle();
    expect(seen).toEqual(['disconnect', 'reconnecting', 'reconnect']);
    expect(gotB).toEqual(['to-b=1', 'to-b=2', 'to-b=3']);
    expect(flushed).toBe(true);
    b.publish('to-a', enc('after'));
    await settle();
    expect(gotA).toEqual(['to-a=after']);
    expect(nats.stats().buffered).toBe(0);
  });

  it('a copy routed before a cut but not yet delivered is lost', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const got = record(b, 's');
    a.publish('s', enc('1'));
    nats.disconnect(b);
    nats.reconnect(b);
    a.publish('s', enc('2'));
    await settle();
    expect(got).toEqual(['s=2']);
    expect(nats.stats().droppedDisconnected).toBe(1);
  });

  it('close ends status iterators, resolves closed(), discards the buffer and refuses further use', async () => {
    const nats = new MemoryNats();
    const a = nats.connect();
    const b = nats.connect();
    const got = record(b, 's');
    const seen = statuses(a);
    nats.disconnect(a);
    a.publish('s', enc('buffered'));
    const pendingFlush = a.flush().then(
      () => 'resolved',
      (e: { code?: string }) => e.code,
    );
    let closedWith: unknown = 'pending';
    void a.closed().then((v) => {
      closedWith = v;
    });
    await a.close();
    await settle();
    expect(seen).toEqual(['disconnect', 'end']);
    expect(closedWith).toBeUndefined();
    expect(a.isClosed()).toBe(true);
    expect(await pendingFlush).toBe('CONNECTION_CLOSED');
    expect(() => a.publish('s', enc('x'))).toThrow(expect.objectContaining({ code: 'CONNECTION_CLOSED' }));
    await expect(a.rtt()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    nats.reconnect(a);
    await settle();
    expect(got).toEqual([]);
    expect(nats.stats().connections).toBe(1);
    // A status iterator asked for after close ends at once.
    const after: NatsStatusLike[] = [];
    for await (const s of a.status()) after.push(s);
    expect(after).toEqual([]);
  });

  it('reports its server, a round trip and closes every connection at once', async () => {
    const nats = new MemoryNats({ rtt: 2 });
    const a = nats.connect({ server: 'nats-a:4222' });
    const b = nats.connect();
    expect(a.getServer()).toBe('nats-a:4222');
    expect(b.getServer()).toBe('memory:4222');
    expect(await a.rtt()).toBe(2);
    await nats.close();
    expect(a.isClosed() && b.isClosed()).toBe(true);
    expect(nats.stats().connections).toBe(0);
  });
});
