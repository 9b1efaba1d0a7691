/**
 * A peer can only speak for itself: forged announcements and data messages against a real hub on
 * 127.0.0.1 (port 0). Each forgery is ignored or closes the forger's link; the victim stays up and
 * honest traffic keeps flowing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, count, type ErrorEvent, type Message } from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import {
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeDataMessage,
  encodeFrame,
  encodeMessage,
  encodeValue,
  idToBytes,
  type NativeMessage,
} from '../../src/internal.js';
import { rawClient, type RawClient } from '../support/ws-client.js';
import { until } from '../support/endpoints.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function hubOn(opts: ConstructorParameters<typeof Endpoint>[0] = {}): Promise<{ hub: Endpoint; l: Listener }> {
  const hub = new Endpoint({ name: 'hub', role: 'hub', ...opts });
  const l = await listen(hub);
  cleanup.push(
    () => hub.close(),
    () => l.close(),
  );
  return { hub, l };
}

async function endpoint(opts: ConstructorParameters<typeof Endpoint>[0]): Promise<Endpoint> {
  const ep = new Endpoint({ retry: 50, ...opts });
  cleanup.push(() => ep.close());
  return ep;
}

let rawCount = 0;
interface Raw extends RawClient {
  readonly id: string;
  messages(): NativeMessage[];
  send(...msgs: Uint8Array[]): void;
}

/** A native client done by hand: hello with the given link kind, then whatever the test sends. */
async function raw(l: Listener, link: 'leaf' | 'router'): Promise<Raw> {
  const c = await rawClient(`${l.url}/v1/messages/native`);
  cleanup.push(() => c.close());
  const id = `0a1b2c3d-0000-4000-8000-${String(++rawCount).padStart(12, '0')}`;
  const send = (...msgs: Uint8Array[]): void => c.ws.send(encodeFrame(msgs));
  send(
    encodeMessage({
      kind: MessageKind.Hello,
      version: NATIVE_PROTOCOL_VERSION,
      id: idToBytes(id),
      name: `raw-${link}`,
      role: 'test',
      credential: null,
      link,
    }),
  );
  await until(() => c.binaries.length > 0, 5000, 'the hub hello');
  return { ...c, id, send, messages: () => c.binaries.flatMap((b) => decodeFrame(b)) };
}

function announce(origin: string, version: number, filter: string[], neighbors: string[] = []): Uint8Array {
  return encodeMessage({
    kind: MessageKind.Announce,
    origin: idToBytes(origin),
    version,
    name: 'forged',
    filter,
    neighbors: neighbors.map(idToBytes),
  });
}

/** An honest publisher and subscriber, both leaves of `l`; `check(n)` publishes n and waits for all. */
async function honestPair(
  l: Listener,
): Promise<{ a: Endpoint; b: Endpoint; got: Message[]; check: (n: number) => Promise<void> }> {
  const a = await endpoint({ name: 'a' });
  const b = await endpoint({ name: 'b' });
  const got: Message[] = [];
  b.subscribe('honest/', (m) => got.push(m));
  await Promise.all([a.peer(l.url), b.peer(l.url)]);
  await a.whenRoutable('honest/x');
  let sent = 0;
  const honest = (): Message[] => got.filter((m) => m.topic === 'honest/x');
  return {
    a,
    b,
    got,
    check: async (n) => {
      for (let i = 0; i < n; i++) a.publish('honest/x', count(sent++));
      await until(() => honest().length === sent, 5000, `honest traffic (${honest().length}/${sent})`);
      // Exactly once each, in order.
      expect(honest().map((m) => Number((m.data as { value: number | bigint }).value))).toEqual(
        Array.from({ length: sent }, (_, i) => i),
      );
    },
  };
}

function errorsOf(ep: Endpoint): ErrorEvent[] {
  const out: ErrorEvent[] = [];
  ep.on('error', (e) => out.push(e));
  return out;
}

describe('forged announcements', () => {
  it('a leaf announcing another endpoint (or the hub) is closed; the victim keeps its traffic', async () => {
    const { hub, l } = await hubOn();
    const errors = errorsOf(hub);
    const pair = await honestPair(l);
    await pair.check(5);
    for (const victim of [pair.b.id, hub.id]) {
      const x = await raw(l, 'leaf');
      x.send(announce(victim, Number.MAX_SAFE_INTEGER, ['honest/'], [x.id]));
      expect((await x.closed).code).toBe(1008);
      expect(x.messages().some((m) => m.kind === MessageKind.Error && m.code === 'peer_invalid')).toBe(true);
    }
    await pair.check(20);
    expect(hub.stats().violations).toBe(2);
    expect(errors.filter((e) => e.code === 'peer_invalid')).toHaveLength(2);
    // The hub's table never saw a leaf, forged or honest.
    expect(hub.routing()).toMatchObject({ endpoints: 0, leaves: 2 });
  });

  it('a router announcing the hub itself is ignored; at the maximum version its link is closed', async () => {
    const { hub, l } = await hubOn();
    const pair = await honestPair(l);
    const r = await raw(l, 'router');
    r.send(announce(hub.id, Date.now() + 1000, [''], [r.id]));
    r.send(announce(r.id, 1, ['nothing/'], [hub.id]));
    await until(() => hub.reachable().some((e) => e.id === r.id));
    expect(hub.stats().refused).toBe(1);
    await pair.check(10);
    r.send(announce(hub.id, Number.MAX_SAFE_INTEGER, [''], []));
    expect((await r.closed).code).toBe(1008);
    await pair.check(10);
    await until(() => !hub.reachable().some((e) => e.id === r.id));
  });

  it("a router cannot rewrite a direct peer's entry or push another's version near 2^53", async () => {
    const { hub, l } = await hubOn();
    // An honest router behind the hub, subscribed to honest/: its entry is the victim.
    const victim = await endpoint({ name: 'victim', role: 'worker' });
    const got: Message[] = [];
    victim.subscribe('honest/', (m) => got.push(m));
    await victim.peer(l.url);
    const a = await endpoint({ name: 'a' });
    await a.peer(l.url);
    await a.whenRoutable('honest/x');
    const r = await raw(l, 'router');
    // "The victim has no peers and wants nothing", with a newer version: ignored (first-hand wins).
    r.send(announce(victim.id, Date.now() + 10_000, [], []));
    r.send(announce(r.id, 1, [], [hub.id]));
    await until(() => hub.reachable().some((e) => e.id === r.id));
    for (let i = 0; i < 10; i++) a.publish('honest/x', count(i));
    await until(() => got.length === 10, 5000, 'the victim to get its messages');
    expect(hub.reachable().find((e) => e.id === victim.id)?.filter).toContain('honest/');
    // An unknown endpoint at the maximum version: the forger's link is closed.
    r.send(announce('0a1b2c3d-0000-4000-8000-ffffffffffff', Number.MAX_SAFE_INTEGER, ['x/'], [r.id]));
    expect((await r.closed).code).toBe(1008);
    for (let i = 0; i < 10; i++) a.publish('honest/x', count(i));
    await until(() => got.length === 20, 5000, 'the victim to get its messages');
  });
});

describe('forged data messages', () => {
  it("a leaf publishing with another's origin and a sequence number far ahead is closed; the publisher's deliveries are unaffected", async () => {
    const { hub, l } = await hubOn();
    const pair = await honestPair(l);
    await pair.check(5);
    // The hub stamps leaves' messages with its own origin: forge both the publisher's and the hub's.
    for (const origin of [pair.a.id, hub.id]) {
      const x = await raw(l, 'leaf');
      x.send(encodeDataMessage('honest/x', idToBytes(origin), 2 ** 40, 20, encodeValue(count(999))));
      expect((await x.closed).code).toBe(1008);
    }
    await pair.check(50);
  });

  it('a leaf that publishes as itself with any sequence numbers cannot disturb anyone', async () => {
    const { l } = await hubOn();
    const pair = await honestPair(l);
    await pair.check(5);
    const x = await raw(l, 'leaf');
    const v = encodeValue(count(7));
    // Repeated, far-ahead and hop-limited sequence numbers: the hub takes each as a message of
    // its own (its sequence numbers), so no window anywhere moves.
    x.send(
      encodeDataMessage('honest/raw', idToBytes(x.id), 5, 20, v),
      encodeDataMessage('honest/raw', idToBytes(x.id), 5, 20, v),
      encodeDataMessage('honest/raw', idToBytes(x.id), 2 ** 50, 20, v),
      encodeDataMessage('honest/raw', idToBytes(x.id), 2 ** 50 + 1, 1, v),
    );
    await until(() => pair.got.filter((m) => m.topic === 'honest/raw').length === 3, 5000, 'the raw leaf messages');
    await pair.check(50);
    expect(x.ws.readyState).toBe(x.ws.OPEN);
  });

  it('a router relaying an unknown origin is refused; one with a sequence number near 2^53 is closed', async () => {
    const { hub, l } = await hubOn();
    const pair = await honestPair(l);
    const r = await raw(l, 'router');
    r.send(announce(r.id, 1, [], [hub.id]));
    await until(() => hub.reachable().some((e) => e.id === r.id));
    const v = encodeValue(count(1));
    r.send(encodeDataMessage('honest/x', idToBytes('0a1b2c3d-0000-4000-8000-fffffffffffe'), 1, 20, v));
    await until(() => hub.stats().refused === 1);
    await pair.check(5);
    r.send(encodeDataMessage('honest/x', idToBytes(r.id), Number.MAX_SAFE_INTEGER, 20, v));
    expect((await r.closed).code).toBe(1008);
    await pair.check(5);
  });
});

describe('link kinds', () => {
  it('a listener with acceptRouters false refuses router links and serves leaves', async () => {
    const { l } = await hubOn({ acceptRouters: false });
    const r = await raw(l, 'router');
    expect((await r.closed).code).toBe(1008);
    expect(r.messages().some((m) => m.kind === MessageKind.Error && m.code === 'peer_refused')).toBe(true);
    const pair = await honestPair(l);
    await pair.check(5);
  });

  it('an unknown link kind or an old protocol version is refused with a reason', async () => {
    const { l } = await hubOn();
    const c = await rawClient(`${l.url}/v1/messages/native`);
    cleanup.push(() => c.close());
    c.ws.send(
      encodeFrame([
        encodeMessage({
          kind: MessageKind.Hello,
          version: NATIVE_PROTOCOL_VERSION,
          id: idToBytes('0a1b2c3d-0000-4000-8000-00000000abcd'),
          name: 'x',
          role: 'x',
          link: 'overlord',
        }),
      ]),
    );
    expect((await c.closed).code).toBe(1008);
    const old = await rawClient(`${l.url}/v1/messages/native`);
    cleanup.push(() => old.close());
    old.ws.send(
      encodeFrame([
        encodeMessage({
          kind: MessageKind.Hello,
          version: 1,
          id: idToBytes('0a1b2c3d-0000-4000-8000-00000000abce'),
          name: 'x',
          role: 'x',
        }),
      ]),
    );
    await old.closed;
    const msgs = old.binaries.flatMap((b) => decodeFrame(b));
    expect(msgs.some((m) => m.kind === MessageKind.Error && m.code === 'peer_incompatible')).toBe(true);
  });
});

describe('hostile driver', () => {
  it('well-formed hostile messages of every native kind, from leaves and routers, while an honest pair talks', async () => {
    const { hub, l } = await hubOn({ tombstoneTime: 100 });
    const pair = await honestPair(l);
    const v = encodeValue(count(1));
    const unknown = '0a1b2c3d-0000-4000-8000-00000000dead';
    const hostile = (x: Raw): Uint8Array[][] => [
      // Hello again, with our own id, with the hub's id.
      [
        encodeMessage({
          kind: MessageKind.Hello,
          version: NATIVE_PROTOCOL_VERSION,
          id: idToBytes(hub.id),
          name: 'x',
          role: 'x',
          link: 'router',
        }),
      ],
      // Announcements: of the hub, of the victim, of nobody, at extreme versions, huge neighbour lists.
      [announce(hub.id, Number.MAX_SAFE_INTEGER, [''], [])],
      [announce(pair.b.id, 2 ** 50 + 1, [], [])],
      [announce(unknown, 0, ['honest/'], [hub.id, x.id])],
      [
        announce(
          x.id,
          1,
          Array.from({ length: 2000 }, (_, i) => `h/${i}/`),
          [hub.id],
        ),
      ],
      [
        announce(
          x.id,
          0,
          [''],
          Array.from({ length: 20 }, () => unknown),
        ),
      ],
      // Data: forged origins, sequence numbers near 2^53, TTL 0 and 255, the internal topics.
      [encodeDataMessage('honest/x', idToBytes(pair.a.id), 2 ** 40, 20, v)],
      [encodeDataMessage('honest/x', idToBytes(x.id), Number.MAX_SAFE_INTEGER, 255, v)],
      [encodeDataMessage('<$>/store/kv/master', idToBytes(x.id), 1, 0, v)],
      [encodeDataMessage('honest/x', idToBytes(unknown), 1, 1, v)],
      // Errors, pings and pongs with odd nonces, and a goodbye.
      Array.from({ length: 50 }, () => encodeMessage({ kind: MessageKind.Error, code: 'x'.repeat(100), context: 'y' })),
      [encodeMessage({ kind: MessageKind.Ping, nonce: Number.MAX_SAFE_INTEGER })],
      [encodeMessage({ kind: MessageKind.Pong, nonce: 0 })],
      [encodeMessage({ kind: MessageKind.Bye, code: 'peer_removed', context: '' })],
    ];
    let closedLinks = 0;
    for (let round = 0; round < 3; round++) {
      for (const link of ['leaf', 'router'] as const) {
        for (let k = 0; k < hostile({ id: unknown } as Raw).length; k++) {
          const x = await raw(l, link);
          if (link === 'router') x.send(announce(x.id, 1, [], [hub.id]));
          x.send(...hostile(x)[k]!);
          // Whatever the hub makes of it, honest traffic goes on.
          await pair.check(3);
          x.close();
          await x.closed;
          closedLinks++;
        }
      }
    }
    expect(closedLinks).toBe(3 * 2 * 14);
    await pair.check(100);
    await until(() => hub.routing().endpoints === 0, 5000, 'the forgers to leave the table');
    expect(hub.routing().leaves).toBe(2);
    expect(hub.stats().violations).toBeGreaterThan(0);
  }, 60_000);
});
