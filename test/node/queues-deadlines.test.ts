/**
 * Queues and deadlines against a real hub on 127.0.0.1 with hostile raw `ws` clients: a client
 * that never reads but answers pings is dropped at the write deadline with what the hub held for it
 * bounded; a stream of bad frames from a client that never reads gets a bounded number of error
 * replies and is closed; a connection that never handshakes is closed at the handshake deadline;
 * large messages overflow a send buffer by bytes before its message count, under each policy.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, string, type EndpointOptions, type ErrorEvent, type Message } from 'isobroker';
import { listen, type Listener, type ListenOptions } from 'isobroker/node';
import { MessageKind, decodeFrame, encodeFrame, encodeMessage } from '../../src/internal.js';
import { BAD_INPUT_CLOSE_LIMIT, ERROR_REPLY_LIMIT } from '../../src/endpoint/limits.js';
import { rawClient, jsonClient, type RawClient } from '../support/ws-client.js';
import { until, sleep } from '../support/endpoints.js';

let hub: Endpoint;
let listener: Listener;
const cleanup: (() => unknown)[] = [];
const hubErrors: ErrorEvent[] = [];

async function start(opts: EndpointOptions = {}, listenOpts: ListenOptions = {}): Promise<void> {
  hub = new Endpoint({ name: 'hub', role: 'hub', ...opts });
  hub.on('error', (e) => hubErrors.push(e));
  listener = await listen(hub, listenOpts);
}
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  hubErrors.length = 0;
  await hub.close();
  await listener.close();
});

type Socketed = { _socket: { pause(): void; resume(): void } };
/** Stops reading from the socket (the kernel buffers fill up, then the hub's). */
const stopReading = (ws: WebSocket): void => {
  ws.pause();
  (ws as unknown as Socketed)._socket.pause();
};
const startReading = (ws: WebSocket): void => {
  (ws as unknown as Socketed)._socket.resume();
  ws.resume();
};

function nativeErrors(c: RawClient): { code: string; context: string }[] {
  return c.binaries.flatMap((b) => decodeFrame(b)).filter((m) => m.kind === MessageKind.Error) as unknown as {
    code: string;
    context: string;
  }[];
}

const KiB = 1024;

describe('a client that never reads but answers pings', () => {
  it.each([
    ['leaf', 'leaves'],
    ['router', 'peers'],
  ] as const)(
    'is dropped at the write deadline, the bytes the hub holds for it bounded, and told why (a %s, links.%s)',
    async (linkKind, kind) => {
      const bufferBytes = 256 * KiB;
      const highWaterMark = 64 * KiB;
      // The other kind gets generous bounds: the bound asserted below is the one of this kind.
      const other = kind === 'leaves' ? 'peers' : 'leaves';
      await start(
        {
          highWaterMark,
          links: { [kind]: { bufferBytes, writeTimeout: 500 }, [other]: { bufferBytes: 256 * 1024 * KiB } },
        },
        { closeTimeout: 30_000 },
      );
      // The stalled client is a real endpoint whose socket the test stops reading.
      const sockets: WebSocket[] = [];
      class RecordingWebSocket extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols);
          sockets.push(this);
        }
      }
      const stalled = new Endpoint({
        name: 'stalled',
        linkKind,
        retry: 60_000,
        pingInterval: 100, // it keeps talking: the hub always hears from it
        WebSocket: RecordingWebSocket as unknown as EndpointOptions['WebSocket'],
      });
      const stalledErrors: ErrorEvent[] = [];
      stalled.on('error', (e) => stalledErrors.push(e));
      const pub = new Endpoint({ name: 'pub' });
      const honest = new Endpoint({ name: 'honest' });
      cleanup.push(
        () => stalled.close(),
        () => pub.close(),
        () => honest.close(),
      );
      const got: Message[] = [];
      honest.subscribe('big/', (m) => got.push(m));
      let stalledGot = 0;
      stalled.subscribe('big/', () => stalledGot++);
      await Promise.all([stalled.peer(listener.url), pub.peer(listener.url), honest.peer(listener.url)]);
      await pub.whenRoutable('big/x');
      // Both subscribers are reached (probes until each has one).
      for (let i = 0; i < 500 && (stalledGot === 0 || got.length === 0); i++) {
        pub.publish('big/probe', string('probe'));
        await sleep(10);
      }
      expect(stalledGot).toBeGreaterThan(0);
      const ws = sockets[0]!;
      stopReading(ws);
      const pongs = setInterval(() => ws.pong(), 50); // answers pings (unsolicited pongs count too)
      cleanup.push(() => clearInterval(pongs));

      const payload = string('x'.repeat(16 * KiB));
      const isStalled = (p: ReturnType<Endpoint['peers']>[number]): boolean => p.name === 'stalled';
      let maxQueuedBytes = 0;
      let maxBuffered = 0;
      let sent = 0;
      // Up to 64 MiB towards a client that reads nothing; the hub must drop it long before.
      for (let round = 0; round < 400 && hub.peers().some(isStalled); round++) {
        for (let i = 0; i < 10; i++, sent++) pub.publish('big/x', payload);
        await sleep(2);
        for (const p of hub.peers().filter(isStalled)) {
          maxQueuedBytes = Math.max(maxQueuedBytes, p.stats!.queuedBytes);
          maxBuffered = Math.max(maxBuffered, p.stats!.bufferedBytes);
        }
      }
      await until(() => !hub.peers().some(isStalled), 10_000, 'the hub to drop the stalled client');
      // What the hub held for it: at most its byte bound plus one message (and a few control
      // frames), and in the socket the high-water mark plus one batch (FRAME_TARGET_BYTES, 1 MiB).
      expect(maxQueuedBytes).toBeGreaterThan(0);
      expect(maxQueuedBytes).toBeLessThanOrEqual(bufferBytes + 17 * KiB + 4 * KiB);
      expect(maxBuffered).toBeLessThanOrEqual(highWaterMark + 1024 * KiB + 17 * KiB);
      expect(sent * 16 * KiB).toBeGreaterThan(bufferBytes + highWaterMark + 1024 * KiB);

      // Once it reads again it finds, after what was in flight, why it was dropped.
      startReading(ws);
      await until(() => stalledErrors.some((e) => e.code === 'buffer_overflow'), 10_000, 'the notice');
      const notice = stalledErrors.find((e) => e.code === 'buffer_overflow')!;
      expect(notice.message + (notice.context ?? '')).toMatch(
        /has not drained for \d+ ms \(write deadline 500 ms\); \d+ messages \(\d+ bytes\) queued, \d+ bytes unsent, \d+ dropped for overflow; disconnecting/,
      );

      // Everyone else carries on.
      const before = got.length;
      await pub.whenRoutable('big/x');
      for (let i = 0; i < 10; i++) pub.publish('big/x', string('after'));
      await until(
        () => got.slice(before).filter((m) => m.data.type === 'string' && m.data.value === 'after').length === 10,
      );
    },
    60_000,
  );
});

describe('a stream of bad frames from a client that never reads', () => {
  it('native: error replies are bounded and rate-limited, the client is closed', async () => {
    await start();
    const c = await rawClient(`${listener.url}/v1/messages/native`);
    cleanup.push(() => c.ws.terminate());
    stopReading(c.ws);
    const N = 1000;
    for (let i = 0; i < N; i++) c.ws.send(new Uint8Array([0xc1, i & 0xff])); // 0xc1 is never valid MessagePack
    await until(() => hub.stats().badFrames > BAD_INPUT_CLOSE_LIMIT, 10_000, 'the bad frames to arrive');
    startReading(c.ws);
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    // The hub stopped reading it at the limit: the rest was never processed.
    expect(hub.stats().badFrames).toBe(BAD_INPUT_CLOSE_LIMIT + 1);
    const errors = nativeErrors(c);
    expect(errors.length).toBeLessThanOrEqual(ERROR_REPLY_LIMIT + 1);
    expect(errors.length).toBeGreaterThan(1);
    expect(errors.at(-1)!.context).toContain(`more than ${BAD_INPUT_CLOSE_LIMIT} bad inputs`);
    const replyBytes = c.binaries.reduce((n, b) => n + b.byteLength, 0);
    expect(replyBytes).toBeLessThan(16 * KiB);
    // Error events about it are bounded by the close as well.
    const events = hubErrors.filter((e) => e.code === 'deserialization_failed');
    expect(events.length).toBeLessThanOrEqual(BAD_INPUT_CLOSE_LIMIT + 1);
  });

  it('JSON v1: error replies are bounded and rate-limited, the client is closed', async () => {
    await start();
    const c = await jsonClient(listener.jsonUrl, ['x/']);
    cleanup.push(() => c.ws.terminate());
    stopReading(c.ws);
    const N = 1000;
    for (let i = 0; i < N; i++) c.ws.send('{');
    await sleep(50);
    startReading(c.ws);
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    const errors = c.texts.map((t) => JSON.parse(t) as { type: string; code: string; context: string });
    expect(errors.every((e) => e.type === 'error' && e.code === 'deserialization_failed')).toBe(true);
    expect(errors.length).toBeLessThanOrEqual(ERROR_REPLY_LIMIT + 1);
    expect(errors[0]!.context).toMatch(/^input #1 contained malformed JSON -> /);
    expect(errors.at(-1)!.context).toContain(`more than ${BAD_INPUT_CLOSE_LIMIT} bad inputs`);
  });

  it('an occasional bad input is still answered every time and the connection stays open', async () => {
    await start();
    const c = await jsonClient(listener.jsonUrl, ['x/']);
    cleanup.push(() => c.ws.terminate());
    for (let i = 0; i < ERROR_REPLY_LIMIT; i++) c.ws.send('[');
    await c.waitTexts(ERROR_REPLY_LIMIT);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('handshake deadlines', () => {
  it('closes a JSON v1 connection that never sends its handshake', async () => {
    await start({ links: { jsonClients: { handshakeTimeout: 300 } } });
    const idle = await rawClient(listener.jsonUrl);
    cleanup.push(() => idle.ws.terminate());
    const ok = await jsonClient(listener.jsonUrl, ['x/']); // handshakes in time and stays
    cleanup.push(() => ok.ws.terminate());
    const closed = await idle.closed;
    expect(closed.code).toBe(1008);
    const last = JSON.parse(idle.texts.at(-1)!) as { type: string; code: string; context: string };
    expect(last).toMatchObject({ type: 'error', code: 'peer_timeout' });
    expect(last.context).toContain('no handshake');
    await sleep(100);
    expect(ok.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a native connection that pings but never sends its hello', async () => {
    await start({ links: { peers: { handshakeTimeout: 300 } } });
    const c = await rawClient(`${listener.url}/v1/messages/native`);
    cleanup.push(() => c.ws.terminate());
    let nonce = 0;
    const pinger = setInterval(
      () =>
        c.ws.readyState === WebSocket.OPEN &&
        c.ws.send(encodeFrame([encodeMessage({ kind: MessageKind.Ping, nonce: ++nonce })])),
      50,
    );
    cleanup.push(() => clearInterval(pinger));
    const closed = await c.closed;
    expect(closed.code).toBe(1001);
    expect(nativeErrors(c).map((e) => e.code)).toContain('peer_timeout');
    expect(nativeErrors(c).at(-1)!.context).toContain('no hello within 300 ms');
  });
});

describe('send buffers bounded in bytes: large messages overflow by bytes before by count', () => {
  it.each(['drop_oldest', 'drop_newest', 'disconnect'] as const)(
    'policy %s',
    async (policy) => {
      const bufferBytes = 64 * KiB;
      await start({
        highWaterMark: 16 * KiB,
        links: { jsonClients: { bufferSize: 8192, bufferBytes, overflowPolicy: policy } },
      });
      const pub = new Endpoint({ name: 'pub' });
      cleanup.push(() => pub.close());
      await pub.peer(listener.url);
      const slow = await jsonClient(listener.jsonUrl, ['big/']);
      cleanup.push(() => slow.ws.terminate());
      stopReading(slow.ws);
      await pub.whenRoutable('big/x');
      const payload = string('y'.repeat(8 * KiB));
      const client = () => hub.peers().find((p) => p.protocol === 'json' && p.direction === 'inbound');
      let maxQueued = 0;
      let maxQueuedBytes = 0;
      let overflows = 0;
      // 16 MiB at most, in rounds; stop once the buffer overflowed (or the client was dropped).
      for (let round = 0; round < 200 && overflows === 0 && client(); round++) {
        for (let i = 0; i < 10; i++) pub.publish('big/x', payload);
        await sleep(2);
        const s = client()?.stats;
        if (s) {
          maxQueued = Math.max(maxQueued, s.maxQueuedRecently);
          maxQueuedBytes = Math.max(maxQueuedBytes, s.maxQueuedBytesRecently);
          overflows = s.overflows;
        }
      }
      if (policy === 'disconnect') {
        await until(() => client() === undefined, 10_000, 'the client to be dropped');
        startReading(slow.ws);
        expect((await slow.closed).code).toBe(1008);
        const last = JSON.parse(slow.texts.at(-1)!) as { code: string; context: string };
        expect(last.code).toBe('buffer_overflow');
        expect(last.context).toContain(`or ${bufferBytes} characters overflowed`);
      } else {
        expect(overflows).toBeGreaterThan(0);
        expect(client()).toBeDefined();
      }
      // Bounded by bytes: a handful of 8 KiB messages, nowhere near 8192.
      expect(maxQueued).toBeLessThanOrEqual(Math.ceil(bufferBytes / (8 * KiB)));
      expect(maxQueuedBytes).toBeLessThanOrEqual(bufferBytes);
    },
    60_000,
  );
});
