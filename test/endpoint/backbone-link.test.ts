/**
 * Endpoints on a backbone (the in-memory NATS, NATS core semantics): delivery across it, split
 * horizon with native peers, relaying for native peers that are not on it, presence, and bad
 * input from it. The real three-server NATS cluster runs the same paths in
 * test/node/backbone-*.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, MemoryNetwork, dataToJs, type Message } from 'isobroker';
import { MemoryNats } from '../../src/backbone/memory-nats.js';
import { NatsBackbone } from '../../src/backbone/nats-backbone.js';
import { linkBackbone } from '../../src/endpoint/backbone-link.js';
import { encodeDataMessage, encodeFrame, encodeValue } from '../../src/codec/native/messages.js';
import { idToBytes, newEndpointId } from '../../src/util/ids.js';
import { string } from '../../src/data/constructors.js';
import { until } from '../support/endpoints.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function world() {
  const nats = new MemoryNats();
  const net = new MemoryNetwork();
  const make = (name: string, opts: { backbone?: boolean; linkKind?: 'router' | 'leaf'; listen?: boolean } = {}) => {
    const ep = new Endpoint({ name, connector: net.connector, retry: 20, linkKind: opts.linkKind ?? 'router' });
    if (opts.listen !== false) net.listen(name, ep);
    closers.push(() => ep.close());
    if (opts.backbone) {
      const nc = nats.connect({ name, noEcho: true, host: name });
      linkBackbone(ep, new NatsBackbone(nc));
    }
    return ep;
  };
  return { nats, net, make };
}

function collect(ep: Endpoint, prefix: string): Message[] {
  const got: Message[] = [];
  ep.subscribe(prefix, (m) => got.push(m));
  return got;
}

const present = (ep: Endpoint, n: number) => () => ep.backbone!.stats().endpoints === n;

describe('endpoints on a backbone', () => {
  it('deliver by byte prefix across the backbone, once, and never back to the publisher', async () => {
    const w = world();
    const a = w.make('a', { backbone: true });
    const b = w.make('b', { backbone: true });
    const c = w.make('c', { backbone: true });
    const atB = collect(b, 'zeek/cluster/manager');
    const atC = collect(c, 'zeek/');
    const atA = collect(a, 'zeek/');
    await until(present(a, 2), 5000, 'presence of b and c at a');
    await until(() => a.backbone!.stats().subscriptions > 0 && b.backbone!.stats().subscriptions > 0);
    // b's prefix ends inside a segment: a must have learnt it before `managerX` reaches b.
    await until(() => a.backbone!.presence.endpoint(b.id)?.partials.length === 1, 5000, "b's partial prefix at a");
    await new Promise((r) => setTimeout(r, 50));
    for (const t of ['zeek/cluster/manager', 'zeek/cluster/manager/x', 'zeek/cluster/managerX', 'zeek/cluster/worker'])
      a.publish(t, t);
    await until(() => atC.length === 4, 5000, 'c got all four');
    await until(() => atB.length === 3, 5000, 'b got the three under its prefix');
    await new Promise((r) => setTimeout(r, 50));
    expect(atB.map((m) => m.topic).sort()).toEqual([
      'zeek/cluster/manager',
      'zeek/cluster/manager/x',
      'zeek/cluster/managerX',
    ]);
    expect(atC).toHaveLength(4);
    // Nothing came back to the publisher (Broker: an endpoint does not receive its own messages).
    expect(atA).toHaveLength(0);
    expect(b.stats().duplicates + c.stats().duplicates).toBe(0);
  });

  it('split horizon: hubs peered natively and on the backbone carry each message once, on the backbone', async () => {
    const w = world();
    const h1 = w.make('h1', { backbone: true });
    const h2 = w.make('h2', { backbone: true });
    await h1.peer('ws://h2');
    const l1 = w.make('l1', { linkKind: 'leaf', listen: false });
    const l2 = w.make('l2', { linkKind: 'leaf', listen: false });
    await l1.peer('ws://h1');
    await l2.peer('ws://h2');
    const got = collect(l2, 'data/');
    await until(present(h1, 1));
    await until(() => h1.hasRoute('data/x') && h2.backbone!.stats().subscriptions > 1, 5000, 'interest');
    await new Promise((r) => setTimeout(r, 100));
    const sentNativeBefore = h1.peers().find((p) => p.url.includes('h2'))?.stats?.sent ?? 0;
    for (let i = 0; i < 100; i++) l1.publish('data/x', i);
    await until(() => got.length === 100, 5000, 'l2 got 100');
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((m) => Number(dataToJs(m.data)))).toEqual([...Array(100).keys()]);
    expect(h2.stats().duplicates).toBe(0);
    const sentNativeAfter = h1.peers().find((p) => p.url.includes('h2'))?.stats?.sent ?? 0;
    // Nothing of the data went natively from h1 to h2 (only control traffic, if any).
    expect(sentNativeAfter - sentNativeBefore).toBeLessThan(10);
  });

  it('a member relays for a native router that is not on the backbone, both ways', async () => {
    const w = world();
    const h1 = w.make('h1', { backbone: true });
    const h2 = w.make('h2', { backbone: true });
    const d = w.make('d'); // a router behind h2, not on the backbone
    await d.peer('ws://h2');
    const atD = collect(d, 'from-h1/');
    const atH1 = collect(h1, 'from-d/');
    await until(present(h1, 1));
    await until(() => h2.reachable().some((r) => r.name === 'd'), 5000, 'd reachable from h2');
    await new Promise((r) => setTimeout(r, 200));
    h1.publish('from-h1/x', 1);
    d.publish('from-d/y', 2);
    await new Promise((r) => setTimeout(r, 300));
    await until(() => atD.length === 1 && atH1.length === 1, 5000, 'both ways');
    await new Promise((r) => setTimeout(r, 100));
    expect(atD).toHaveLength(1);
    expect(atH1).toHaveLength(1);
  });

  it('presence: up at once, down when heartbeats stop, bye on a clean detach', async () => {
    const w = world();
    const a = w.make('a', { backbone: true });
    const b = w.make('b', { backbone: true });
    await until(present(a, 1), 5000, 'b present at a');
    expect(a.backbone!.presence.isPresent(b.id)).toBe(true);
    expect(b.backbone!.state).toBe('connected');
    const states: string[] = [];
    b.backbone!.on('state', (st) => states.push(st));
    await b.detachBackbone();
    expect(states).toEqual(['closed']);
    expect(b.backbone).toBeUndefined();
    await until(present(a, 0), 5000, 'b gone at a after its bye');
    expect(a.backbone!.presence.isPresent(b.id)).toBe(false);
    // Detached through its link, a backbone can be attached again.
    const link = linkBackbone(b, new NatsBackbone(w.nats.connect({ name: 'b2', noEcho: true, host: 'b' })));
    await until(present(a, 1), 5000, 'b back at a');
    await link.detach();
    expect(b.backbone).toBeUndefined();
    linkBackbone(b, new NatsBackbone(w.nats.connect({ name: 'b3', noEcho: true, host: 'b' })));
    await until(present(a, 1), 5000, 'b back again at a');
  });

  it('a forged or broken frame on a data subject is counted and reported, and traffic goes on', async () => {
    const w = world();
    const a = w.make('a', { backbone: true });
    const b = w.make('b', { backbone: true });
    const got = collect(b, 'x/');
    const errors: string[] = [];
    b.on('error', (e) => errors.push(e.code));
    await until(present(a, 1));
    await until(() => b.backbone!.stats().subscriptions > 1);
    const raw = w.nats.connect({ name: 'attacker', host: 'attacker' });
    raw.publish('ib.isobroker.t.x.y', new Uint8Array([0x93, 0xff, 0x00, 0x01]));
    const forgedOrigin = idToBytes(newEndpointId());
    raw.publish(
      'ib.isobroker.t.x.y',
      encodeFrame([encodeDataMessage('x/y', forgedOrigin, 1, 16, encodeValue(string('ok')))]),
    );
    a.publish('x/z', 'after');
    await until(() => got.length === 2, 5000, 'the forged-but-well-formed message and a');
    expect(b.backbone!.stats().badFrames).toBe(1);
    expect(errors).toContain('deserialization_failed');
  });
});
