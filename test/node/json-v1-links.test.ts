/**
 * Link kinds over real sockets: Broker's limits (a 20 MiB string and a 63-deep vector through a
 * hub and through the JSON v1 client), and slow JSON v1 clients treated as Broker's server treats
 * them (`buffer_overflow`, then close) or as the operator chooses (a drop policy, with the count
 * of lost messages told to the client, rate-limited).
 */
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  Endpoint,
  ValueError,
  integer,
  real,
  string,
  vector,
  type Data,
  type Message,
  type OverflowPolicy,
} from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import { jsonV1 } from 'isobroker/json-v1';

const MiB = 1024 * 1024;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function hubWith(
  options: ConstructorParameters<typeof Endpoint>[0],
  listenOptions = {},
): Promise<{ hub: Endpoint; listener: Listener }> {
  const hub = new Endpoint({ name: 'hub', ...options });
  const listener = await listen(hub, listenOptions);
  cleanup.push(
    () => listener.close(),
    () => hub.close(),
  );
  return { hub, listener };
}

function deep(levels: number): Data {
  let v: Data = integer(63n);
  for (let i = 0; i < levels; i++) v = vector([v]);
  return v;
}

/** The first message on `prefix` (the subscription stays: a JSON v1 client re-handshakes on every change). */
function nextMessage(ep: Endpoint, prefix: string): Promise<Message> {
  return new Promise((resolve) => ep.subscribe(prefix, resolve));
}

describe("Broker's limits: 20 MiB strings and 63-deep vectors", () => {
  const big = string('x'.repeat(20 * MiB));

  it('travel through a hub between native peers (trusted links take 64 MiB)', async () => {
    const { hub, listener } = await hubWith({});
    const a = new Endpoint({ name: 'a' });
    const b = new Endpoint({ name: 'b' });
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const atB = nextMessage(b, 'big/');
    const atB2 = nextMessage(b, 'deep/');
    await b.peer(listener.url);
    await a.peer(listener.url);
    await a.whenRoutable('deep/x');
    await hub.whenRoutable('big/x');
    a.publish('deep/x', deep(63));
    expect((await atB2).data).toEqual(deep(63));
    a.publish('big/x', big);
    const m = await atB;
    expect(m.data.type === 'string' && m.data.value.length).toBe(20 * MiB);
  }, 60_000);

  it('travel both ways between a JSON v1 client endpoint and a hub configured for it', async () => {
    const { hub, listener } = await hubWith(
      { links: { jsonClients: { maxMessageSize: 64 * MiB, maxStringSize: 64 * MiB } } },
      { maxJsonPayload: 64 * MiB },
    );
    const client = new Endpoint({ name: 'json-client', protocols: [jsonV1] });
    cleanup.push(() => client.close());
    const atClientDeep = nextMessage(client, 'down/deep');
    const atClientBig = nextMessage(client, 'down/big');
    const atHubDeep = nextMessage(hub, 'up/deep');
    const atHubBig = nextMessage(hub, 'up/big');
    await client.peer(listener.jsonUrl);
    client.publish('up/deep', deep(63));
    expect((await atHubDeep).data).toEqual(deep(63));
    client.publish('up/big', big);
    const up = await atHubBig;
    expect(up.data.type === 'string' && up.data.value === big.value).toBe(true);
    hub.publish('down/deep', deep(63));
    expect((await atClientDeep).data).toEqual(deep(63));
    hub.publish('down/big', big);
    const down = await atClientBig;
    expect(down.data.type === 'string' && down.data.value === big.value).toBe(true);
  }, 60_000);

  it('untrusted JSON v1 clients keep the small defaults: a 5 MiB string is refused with Broker-style text', async () => {
    const { listener } = await hubWith({});
    const ws = new WebSocket(listener.jsonUrl);
    cleanup.push(() => ws.terminate());
    const texts: string[] = [];
    ws.on('message', (d) => texts.push(String(d)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send('[]');
    ws.send(JSON.stringify({ type: 'data-message', topic: 't', '@data-type': 'string', data: 'y'.repeat(5 * MiB) }));
    await waitFor(() => texts.length >= 2);
    const err = JSON.parse(texts[1]!) as { type: string; code: string; context: string };
    expect(err.type).toBe('error');
    expect(err.code).toBe('deserialization_failed');
    expect(err.context).toMatch(/^input #1 contained malformed JSON -> .*maxStringLength 4194304/);
  });

  it('link options are validated with ConfigError', () => {
    expect(() => new Endpoint({ links: { jsonClients: { overflowPolicy: 'drop_all' as OverflowPolicy } } })).toThrow(
      ConfigError,
    );
    expect(() => new Endpoint({ links: { peers: { maxMessageSize: 0 } } })).toThrow(/links.peers.maxMessageSize/);
    expect(() => new Endpoint({ links: { jsonServers: { stringEscapes: 'c' as 'json' } } })).toThrow(
      /links.jsonServers.stringEscapes/,
    );
    expect(() => new Endpoint({ links: { jsonClients: { bufferSize: 1.5 } } })).toThrow(/links.jsonClients.bufferSize/);
  });
});

describe('non-finite reals towards a JSON v1 server', () => {
  it('publish throws a ValueError before anything is sent, and the link keeps working', async () => {
    const { hub, listener } = await hubWith({});
    const client = new Endpoint({ name: 'json-client', protocols: [jsonV1] });
    cleanup.push(() => client.close());
    const atHub: Message[] = [];
    hub.subscribe('nf/', (m) => atHub.push(m));
    await client.peer(listener.jsonUrl);
    expect(() => client.publish('nf/x', vector([real(NaN)]))).toThrow(ValueError);
    expect(() => client.publish('nf/x', real(-Infinity))).toThrow(/cannot be sent to a JSON v1 server/);
    client.publish('nf/x', real(1.5));
    await waitFor(() => atHub.length === 1);
    expect(atHub.map((m) => m.data)).toEqual([real(1.5)]);
  });
});

describe('what a Broker server writes', () => {
  it('bare nan/inf/-inf from a server arrive as reals; relaying them to another JSON v1 server is reported, not sent', async () => {
    // A minimal Broker-like JSON v1 server: acks the handshake, then sends what Broker's server
    // writes for non-finite reals (bare words, not JSON).
    const broker = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => new Promise<void>((r) => broker.close(() => r())));
    const fromClient: string[] = [];
    broker.on('connection', (ws) => {
      ws.once('message', () => {
        ws.send('{"type":"ack","endpoint":"00000000-0000-4000-8000-000000000001","version":"2.8.0-dev"}');
        for (const w of ['nan', 'inf', '-inf'])
          ws.send(`{"type":"data-message","topic":"nf/${w}","@data-type":"real","data":${w}}`);
      });
      ws.on('message', (d) => fromClient.push(String(d)));
    });
    await new Promise((r) => broker.once('listening', r));
    const brokerUrl = `ws://127.0.0.1:${(broker.address() as { port: number }).port}/v1/messages/json`;
    const { hub, listener } = await hubWith({});
    const atHub: Message[] = [];
    hub.subscribe('nf/', (m) => atHub.push(m));
    const client = new Endpoint({ name: 'json-client', protocols: [jsonV1] });
    cleanup.push(() => client.close());
    const got: Message[] = [];
    const errors: string[] = [];
    client.on('error', (e) => errors.push(`${e.code} ${e.context ?? e.message}`));
    client.subscribe('nf/', (m) => got.push(m));
    await client.peer(listener.jsonUrl); // a second JSON v1 server (our hub)
    await client.peer(brokerUrl);
    await waitFor(() => got.length === 3);
    expect(got.map((m) => [m.topic, m.data])).toEqual([
      ['nf/nan', real(NaN)],
      ['nf/inf', real(Infinity)],
      ['nf/-inf', real(-Infinity)],
    ]);
    await waitFor(() => errors.filter((e) => e.startsWith('serialization_failed')).length === 3);
    expect(errors.filter((e) => e.startsWith('deserialization_failed'))).toEqual([]);
    client.publish('nf/ok', real(0.1));
    await waitFor(() => atHub.length === 1);
    expect(atHub.map((m) => m.topic)).toEqual(['nf/ok']); // the non-finite ones never reached the hub
    expect(fromClient.at(-1)).toBe('{"type":"data-message","topic":"nf/ok","@data-type":"real","data":0.1}');
  });
});

describe('string escapes for older Zeek (links.jsonServers.stringEscapes)', () => {
  it("'json' by default (\\u000b), 'broker' writes Broker's own escapes (\\v, raw control bytes), handshake included", async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const received: string[] = [];
    server.on('connection', (ws) => {
      ws.once('message', () =>
        ws.send('{"type":"ack","endpoint":"00000000-0000-4000-8000-000000000002","version":"7.0.0"}'),
      );
      ws.on('message', (d) => received.push(String(d)));
    });
    await new Promise((r) => server.once('listening', r));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/messages/json`;
    const texts: Record<string, string[]> = {};
    for (const mode of ['json', 'broker'] as const) {
      received.length = 0;
      const ep = new Endpoint({ name: mode, protocols: [jsonV1], links: { jsonServers: { stringEscapes: mode } } });
      cleanup.push(() => ep.close());
      ep.subscribe('esc\u0001/', () => undefined);
      await ep.peer(url);
      ep.publish('esc/x', string('a\u000bb\u0001c\n'));
      await waitFor(() => received.length === 2);
      texts[mode] = [...received];
      await ep.close();
    }
    expect(texts.json).toEqual([
      '["esc\\u0001/"]',
      '{"type":"data-message","topic":"esc/x","@data-type":"string","data":"a\\u000bb\\u0001c\\n"}',
    ]);
    expect(texts.broker).toEqual([
      '["esc\u0001/"]',
      '{"type":"data-message","topic":"esc/x","@data-type":"string","data":"a\\vb\u0001c\\n"}',
    ]);
  });
});

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw JSON v1 client that has subscribed to `slow/` and then stops reading its socket. */
async function stalledClient(
  url: string,
): Promise<{ ws: WebSocket; texts: string[]; closed: Promise<number>; resume(): void }> {
  const ws = new WebSocket(url);
  const texts: string[] = [];
  ws.on('message', (d) => texts.push(String(d)));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send('["slow/"]');
  await waitFor(() => texts.length === 1);
  expect(JSON.parse(texts[0]!).type).toBe('ack');
  texts.length = 0;
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  return { ws, texts, closed, resume: () => socket.resume() };
}

const PAYLOAD = 'z'.repeat(8 * 1024);

async function flood(hub: Endpoint, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    hub.publish('slow/x', string(PAYLOAD));
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
}

describe('slow JSON v1 clients', () => {
  it("by default get Broker's treatment: buffer_overflow, then the connection is closed", async () => {
    const { hub, listener } = await hubWith({ highWaterMark: 16 * 1024 });
    const c = await stalledClient(listener.jsonUrl);
    cleanup.push(() => c.ws.terminate());
    await flood(hub, 4000);
    c.resume();
    expect(await c.closed).toBe(1008);
    const last = JSON.parse(c.texts.at(-1)!) as { type: string; code: string; context: string };
    expect(last).toMatchObject({ type: 'error', code: 'buffer_overflow' });
    expect(last.context).toContain('send buffer of 512 messages');
    expect(c.texts.length).toBeLessThan(4000);
  }, 60_000);

  for (const policy of ['drop_oldest', 'drop_newest'] as const) {
    it(`with ${policy} stays connected and is told exactly how many messages it lost, rate-limited`, async () => {
      const { hub, listener } = await hubWith({
        highWaterMark: 16 * 1024,
        links: { jsonClients: { overflowPolicy: policy, bufferSize: 64 } },
      });
      const c = await stalledClient(listener.jsonUrl);
      cleanup.push(() => c.ws.terminate());
      const N = 4000;
      const start = Date.now();
      await flood(hub, N);
      c.resume();
      let data = 0;
      let dropped = 0;
      let notices = 0;
      let seen = 0;
      await waitFor(() => {
        for (; seen < c.texts.length; seen++) {
          const m = JSON.parse(c.texts[seen]!) as { type: string; code?: string; context?: string };
          if (m.type === 'data-message') data++;
          else {
            expect(m.code).toBe('buffer_overflow');
            const k =
              /^dropped (\d+) messages?: send buffer of 64 messages or \d+ characters full \(policy (\w+)\)/.exec(
                m.context!,
              );
            expect(k?.[2]).toBe(policy);
            dropped += Number(k![1]);
            notices++;
          }
        }
        return data + dropped === N;
      }, 30_000);
      expect(dropped).toBeGreaterThan(0);
      expect(data).toBeGreaterThan(0);
      // At most one notice per second (plus the first).
      expect(notices).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - start) / 1000));
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
    }, 60_000);
  }
});
