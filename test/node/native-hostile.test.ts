/**
 * Hostile input on a real listener: malformed and truncated MessagePack, oversize frames, text on
 * the native path, subscription floods, and clients that never read. The hub stays up, every other
 * connection keeps working, and nothing already accepted is lost.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Endpoint, count, string, type Message } from 'isobroker';
import {
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
} from '../../src/internal.js';
import { listen, type Listener } from 'isobroker/node';
import { rawClient, jsonClient, type RawClient } from '../support/ws-client.js';
import { until } from '../support/endpoints.js';

let hub: Endpoint;
let listener: Listener;
const cleanup: (() => unknown)[] = [];

async function start(opts: ConstructorParameters<typeof Endpoint>[0] = {}, maxPayload?: number): Promise<void> {
  hub = new Endpoint({ name: 'hub', role: 'hub', ...opts });
  listener = await listen(hub, maxPayload ? { maxPayload } : {});
}
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  await hub.close();
  await listener.close();
});

/** A native-protocol client done by hand: hello, then whatever the test sends. */
async function nativeRaw(): Promise<RawClient> {
  const c = await rawClient(`${listener.url}/v1/messages/native`);
  cleanup.push(() => c.close());
  const id = '0a1b2c3d-0000-4000-8000-000000000001';
  c.ws.send(
    encodeFrame([
      encodeMessage({
        kind: MessageKind.Hello,
        version: NATIVE_PROTOCOL_VERSION,
        id: idToBytes(id),
        name: 'raw',
        role: 'test',
        credential: null,
        link: 'router',
      }),
    ]),
  );
  await until(() => c.binaries.length > 0);
  return c;
}

function errorsIn(c: RawClient): { code: string; context: string }[] {
  return c.binaries.flatMap((b) => decodeFrame(b)).filter((m) => m.kind === MessageKind.Error) as unknown as {
    code: string;
    context: string;
  }[];
}

/** A healthy pair through the hub that must keep working whatever the others do. */
async function healthyPair(): Promise<{ check: (n: number, payload?: string) => Promise<void> }> {
  const a = new Endpoint({ name: 'a', retry: 50 });
  const b = new Endpoint({ name: 'b', retry: 50 });
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  const got: Message[] = [];
  b.subscribe('healthy/', (m) => got.push(m));
  await Promise.all([a.peer(listener.url), b.peer(listener.url)]);
  await a.whenRoutable('healthy/x');
  let sent = 0;
  return {
    check: async (n: number, payload?: string) => {
      for (let i = 0; i < n; i++) {
        a.publish('healthy/x', payload === undefined ? count(sent) : string(payload));
        sent++;
      }
      await until(() => got.length === sent, 5000, 'healthy traffic');
    },
  };
}

describe('hostile input on the native path', () => {
  beforeEach(async () => start());

  it('answers malformed and truncated frames with an error and keeps serving', async () => {
    const healthy = await healthyPair();
    const c = await nativeRaw();
    const good = encodeFrame([encodeMessage({ kind: MessageKind.Ping, nonce: 7 })]);
    c.ws.send(new Uint8Array([0xc1, 0xff, 0x00])); // 0xc1 is never valid MessagePack
    c.ws.send(good.subarray(0, good.length - 1)); // truncated
    c.ws.send(new Uint8Array([0x91, 0xdd, 0xff, 0xff, 0xff, 0xff])); // array claiming 2^32 elements
    await until(() => errorsIn(c).length >= 3);
    for (const e of errorsIn(c)) {
      expect(e.code).toBe('deserialization_failed');
      expect(e.context).toMatch(/^frame #\d+: /);
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    c.ws.send(good);
    await until(() => c.binaries.flatMap((b) => decodeFrame(b)).some((m) => m.kind === MessageKind.Pong));
    await healthy.check(10);
  });

  it('closes with a clear error when a text frame arrives on the native path', async () => {
    const c = await nativeRaw();
    c.ws.send('["/topic"]');
    const closed = await c.closed;
    expect(closed.code).toBe(1003);
    expect(errorsIn(c)[0]!.context).toContain('text frame on the native path');
  });

  it('refuses a subscription flood beyond the limit without falling over', async () => {
    const healthy = await healthyPair();
    const c = await nativeRaw();
    const filter = Array.from({ length: 200_000 }, (_, i) => `flood/${i}`);
    c.ws.send(
      encodeFrame([
        encodeMessage({
          kind: MessageKind.Announce,
          origin: idToBytes('0a1b2c3d-0000-4000-8000-000000000001'),
          version: 1,
          name: 'raw',
          filter,
          neighbors: [],
        }),
      ]),
    );
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    expect(errorsIn(c).map((e) => e.code)).toContain('filter_too_large');
    await healthy.check(10);
  });
});

describe('limits and slow consumers', () => {
  it('closes a connection whose frame exceeds the size limit with 1009', async () => {
    await start({}, 64 * 1024);
    const healthy = await healthyPair();
    const c = await nativeRaw();
    c.ws.send(new Uint8Array(65 * 1024));
    expect((await c.closed).code).toBe(1009);
    await healthy.check(10);
  });

  it.each(['drop_oldest', 'drop_newest'] as const)(
    'with %s, a client that never reads loses only its own messages and others get everything',
    async (policy) => {
      await start({ overflowPolicy: policy, sendBufferSize: 1000, highWaterMark: 64 * 1024 });
      const healthy = await healthyPair();
      const stalled = await jsonClient(listener.jsonUrl, ['healthy/']);
      cleanup.push(() => stalled.ws.terminate());
      stalled.ws.pause();
      (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const kb = 'x'.repeat(1024);
      for (let round = 0; round < 40; round++) await healthy.check(1000, kb);
      const stats = hub.peers().find((p) => p.protocol === 'json' && p.direction === 'inbound')!.stats!;
      expect(stats.overflows).toBeGreaterThan(0);
      expect(stats.maxQueuedRecently).toBe(1000);
    },
  );

  it('with disconnect, tells the slow client why before closing it', async () => {
    await start({ overflowPolicy: 'disconnect', sendBufferSize: 500, highWaterMark: 16 * 1024 });
    const healthy = await healthyPair();
    const slow = await jsonClient(listener.jsonUrl, ['healthy/']);
    slow.ws.pause();
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const closing = slow.closed;
    const kb = 'x'.repeat(1024);
    for (let round = 0; round < 40 && hub.peers().some((p) => p.protocol === 'json'); round++)
      await healthy.check(1000, kb);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    slow.ws.resume();
    const closed = await closing;
    expect(closed.code).toBe(1008);
    const last = slow.texts
      .map((t) => JSON.parse(t) as { type: string; code?: string; context?: string })
      .filter((m) => m.type === 'error');
    expect(last[0]).toMatchObject({ code: 'buffer_overflow' });
    expect(last[0]!.context).toContain('reads too slowly');
    await healthy.check(100);
    await until(() => !hub.peers().some((p) => p.protocol === 'json'), 5000, 'the slow client to be gone from the hub');
  });
});

describe('keepalive', () => {
  it('drops a peer that stops answering pings, with peer_timeout', async () => {
    await start({ pingInterval: 100, pingTimeout: 300 });
    const c = await nativeRaw();
    const closed = await c.closed;
    expect(closed.code).toBe(1001);
    expect(errorsIn(c).map((e) => e.code)).toContain('peer_timeout');
    expect(c.binaries.flatMap((b) => decodeFrame(b)).some((m) => m.kind === MessageKind.Ping)).toBe(true);
  });
});

describe('origin and host checks', () => {
  beforeEach(async () => start());

  it('refuses upgrades from foreign origins, loopback pages of other ports and rebinding hosts; accepts its own origin', async () => {
    await expect(rawClient(listener.jsonUrl, { Origin: 'https://evil.example' })).rejects.toThrow(/403/);
    await expect(rawClient(listener.jsonUrl, { Host: 'evil.example:80' })).rejects.toThrow(/403/);
    await expect(rawClient(listener.jsonUrl, { Origin: 'http://localhost:5173' })).rejects.toThrow(/403/);
    const ok = await rawClient(listener.jsonUrl, { Origin: `http://127.0.0.1:${listener.port}` });
    ok.close();
  });
});
