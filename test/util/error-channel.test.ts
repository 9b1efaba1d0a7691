/**
 * One channel for asynchronous failures: a throwing status listener, subscriber handler or cluster
 * listener is reported as an `error` event with a code, and the endpoint keeps working; calls that
 * fail reject or throw an IsobrokerError (never a plain TypeError/Error).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ClusterNode,
  ConfigError,
  Endpoint,
  IsobrokerError,
  MemoryNetwork,
  ValueError,
  count,
  parseLayout,
  type ErrorEvent,
  type Message,
} from 'isobroker';
import { Emitter } from '../../src/util/emitter.js';

const open: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

/** Two endpoints on a memory network, `a` peered with `b`. */
async function pair(): Promise<{ a: Endpoint; b: Endpoint; aErrors: ErrorEvent[]; bErrors: ErrorEvent[] }> {
  const net = new MemoryNetwork();
  const a = new Endpoint({ name: 'a', connector: net.connector, retry: 20 });
  const b = new Endpoint({ name: 'b', connector: net.connector, retry: 20 });
  open.push(a, b);
  net.listen('b', b);
  const aErrors: ErrorEvent[] = [];
  const bErrors: ErrorEvent[] = [];
  a.on('error', (e) => aErrors.push(e));
  b.on('error', (e) => bErrors.push(e));
  return { a, b, aErrors, bErrors };
}

const next = (ep: Endpoint, prefix: string): Promise<Message> =>
  new Promise((resolve) => ep.subscribe(prefix, resolve));

describe('the Emitter', () => {
  it('reports a throwing listener, still calls the others, and drops failures of error listeners', () => {
    const reported: [string, unknown][] = [];
    const e = new Emitter<{ tick: number; error: string }>((event, err) => reported.push([event, err]));
    const seen: number[] = [];
    e.on('tick', () => {
      throw new Error('boom');
    });
    e.on('tick', (n) => seen.push(n));
    e.on('error', () => {
      throw new Error('error listener broke');
    });
    expect(() => e.emit('tick', 1)).not.toThrow();
    expect(() => e.emit('error', 'x')).not.toThrow();
    expect(seen).toEqual([1]);
    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBe('tick');
    expect((reported[0]![1] as Error).message).toBe('boom');
  });

  it('once and unsubscribe remove the listener', () => {
    const e = new Emitter<{ tick: number }>();
    const seen: number[] = [];
    e.once('tick', (n) => seen.push(n));
    const off = e.on('tick', (n) => seen.push(n * 10));
    e.emit('tick', 1);
    off();
    off();
    e.emit('tick', 2);
    expect(seen).toEqual([1, 10]);
    expect(e.has('tick')).toBe(false);
  });
});

describe('listener failures are error events', () => {
  it('a throwing status listener is reported as listener_failed and the endpoint keeps working', async () => {
    const { a, b, aErrors } = await pair();
    a.on('status', () => {
      throw new Error('status listener broke');
    });
    const statuses: string[] = [];
    a.on('status', (s) => statuses.push(s.code));
    await a.peer('ws://b');
    expect(statuses).toContain('peer_added');
    const failure = aErrors.find((e) => e.code === 'listener_failed');
    expect(failure).toBeDefined();
    expect(failure!.context).toContain('status listener broke');
    expect((failure!.cause as Error).message).toBe('status listener broke');

    const got = next(b, 'x/');
    await a.whenRoutable('x/1');
    a.publish('x/1', count(1));
    expect((await got).data).toEqual(count(1));
  });

  it('a throwing subscriber is reported as handler_failed; other subscribers and later messages still arrive', async () => {
    const { a, b, bErrors } = await pair();
    b.subscribe('x/', () => {
      throw new TypeError('handler broke');
    });
    const got: Message[] = [];
    b.subscribe('x/', (m) => got.push(m));
    await a.peer('ws://b');
    await a.whenRoutable('x/1');
    const second = new Promise<Message>((resolve) => b.subscribe('x/2', resolve));
    a.publish('x/1', count(1));
    a.publish('x/2', count(2));
    await second;
    expect(got.map((m) => m.topic)).toEqual(['x/1', 'x/2']);
    const failures = bErrors.filter((e) => e.code === 'handler_failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]!.context).toContain("'x/1'");
    expect(failures[0]!.cause).toBeInstanceOf(TypeError);
  });

  it('a throwing error listener cannot loop or break the endpoint', async () => {
    const { a, b } = await pair();
    let calls = 0;
    b.on('error', () => {
      calls++;
      throw new Error('error listener broke');
    });
    b.subscribe('x/', () => {
      throw new Error('handler broke');
    });
    const ok = next(b, 'x/');
    await a.peer('ws://b');
    await a.whenRoutable('x/1');
    a.publish('x/1', count(1));
    await ok;
    expect(calls).toBe(1);
  });

  it('a throwing cluster listener is the cluster node’s listener_failed error; the others still run', async () => {
    const net = new MemoryNetwork();
    const layout = parseLayout({
      nodes: [
        { name: 'manager', role: 'manager', host: 'mgr', port: 1 },
        { name: 'worker-1', role: 'worker', host: 'w1', port: 2 },
      ],
    });
    const mgrEp = new Endpoint({ name: 'manager', connector: net.connector, retry: 20 });
    const wEp = new Endpoint({ name: 'worker-1', connector: net.connector, retry: 20 });
    open.push(mgrEp, wEp);
    net.listen('mgr:1', mgrEp);
    net.listen('w1:2', wEp);
    const mgr = new ClusterNode(mgrEp, layout, 'manager');
    const worker = new ClusterNode(wEp, layout, 'worker-1');
    const errors: ErrorEvent[] = [];
    mgr.on('error', (e) => errors.push(e));
    mgr.on('nodeUp', () => {
      throw new Error('nodeUp listener broke');
    });
    const up = new Promise<string>((resolve) => mgr.on('nodeUp', ({ name }) => resolve(name)));
    mgr.start();
    worker.start();
    expect(await up).toBe('worker-1');
    expect(errors.map((e) => e.code)).toEqual(['listener_failed']);
    expect(errors[0]!.context).toContain('nodeUp listener broke');
    mgr.close();
    worker.close();
  });
});

describe('only isobroker errors leave the API', () => {
  it("peer('notaurl') rejects with a ValueError, not a TypeError", async () => {
    const ep = new Endpoint({ name: 'x' });
    open.push(ep);
    const err = await ep.peer('notaurl').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValueError);
    expect(err).toBeInstanceOf(IsobrokerError);
    expect((err as ValueError).code).toBe('invalid_argument');
    expect(await ep.peer(42 as unknown as string).catch((e: unknown) => e)).toBeInstanceOf(ValueError);
    expect(await ep.unpeer('notaurl').catch((e: unknown) => e)).toBeInstanceOf(ValueError);
  });

  it('peer() with bad options rejects with a ConfigError naming the option', async () => {
    const ep = new Endpoint({ name: 'x' });
    open.push(ep);
    const err = await ep.peer('ws://somewhere', { retry: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('retry');
  });

  it('an unreachable peer without retries rejects with peer_unavailable; unpeer rejects the wait with a ClosedError', async () => {
    const net = new MemoryNetwork();
    const ep = new Endpoint({ name: 'x', connector: net.connector, retry: 1000 });
    open.push(ep);
    const errors: ErrorEvent[] = [];
    ep.on('error', (e) => errors.push(e));
    const err = await ep.peer('ws://nowhere', { retry: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsobrokerError);
    expect((err as IsobrokerError).code).toBe('peer_unavailable');
    expect(errors.map((e) => e.code)).toEqual(['peer_unavailable']);

    const waiting = ep.peer('ws://elsewhere').catch((e: unknown) => e);
    await ep.unpeer('ws://elsewhere');
    expect(await waiting).toBeInstanceOf(ClosedError);
  });

  it('calls on a closed endpoint reject or throw a ClosedError', async () => {
    const ep = new Endpoint({ name: 'x' });
    await ep.close();
    expect(await ep.peer('ws://b').catch((e: unknown) => e)).toBeInstanceOf(ClosedError);
    expect(() => ep.publish('x', count(1))).toThrow(ClosedError);
  });
});
