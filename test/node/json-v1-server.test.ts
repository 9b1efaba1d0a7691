/**
 * The Broker JSON v1 server on a real listener (127.0.0.1, port 0), driven by plain `ws` clients
 * as any existing Broker WebSocket client would, next to native peers.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Endpoint, count, equals, string, type Message } from 'isobroker';
import { decodeJsonMessage, encodeJsonMessage } from '../../src/internal.js';
import { listen, type Listener } from 'isobroker/node';
import { jsonV1 } from 'isobroker/json-v1';
import { jsonClient, rawClient } from '../support/ws-client.js';
import { until } from '../support/endpoints.js';
import { readJsonFixture } from '../support/fixtures.js';

interface Vector {
  name: string;
  json: string;
  note: string;
}
const vectors = readJsonFixture<{ vectors: Vector[] }>('vectors/broker-json-v1.json').vectors;

let hub: Endpoint;
let listener: Listener;
const cleanup: (() => unknown)[] = [];

beforeEach(async () => {
  hub = new Endpoint({ name: 'hub', role: 'hub' });
  listener = await listen(hub);
});
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  await hub.close();
  await listener.close();
});

async function nativePeer(name: string): Promise<Endpoint> {
  const ep = new Endpoint({ name, retry: 50 });
  cleanup.push(() => ep.close());
  await ep.peer(listener.url);
  return ep;
}

describe('Broker JSON v1 server', () => {
  it('binds 127.0.0.1 by default and acks the handshake with its id and version', async () => {
    expect(listener.host).toBe('127.0.0.1');
    const c = await rawClient(listener.jsonUrl);
    cleanup.push(() => c.close());
    c.ws.send('["/topic/good", "/duplicate", "/duplicate", "/is/okay"]');
    const [ack] = await c.waitTexts(1);
    expect(JSON.parse(ack!)).toEqual({ type: 'ack', endpoint: hub.id, version: expect.stringMatching(/^isobroker-/) });
    expect(ack!.startsWith('{"type":"ack","endpoint":')).toBe(true);
  });

  it.each([
    ['["broken", "brrr', 'subscriptions not an array'],
    ['[1, 2]', 'individual subscription not a string'],
    ['[1, "/my_topic"]', 'individual subscription not a string'],
  ])('answers the bad handshake %s with an error and no ack, keeping the connection', async (input, context) => {
    const c = await rawClient(listener.jsonUrl);
    cleanup.push(() => c.close());
    c.ws.send(input);
    const [err] = await c.waitTexts(1);
    expect(err).toBe(JSON.stringify({ type: 'error', code: 'deserialization_failed', context }));
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    // A valid handshake afterwards is still accepted. The socket is ordered: anything else the
    // server had sent about the bad handshake would arrive before this ack.
    c.ws.send('["/x"]');
    await c.waitTexts(2);
    expect(JSON.parse(c.texts[1]!).type).toBe('ack');
    expect(c.texts).toHaveLength(2);
  });

  it('rejects a wrong path with invalid_uri and close code 1008', async () => {
    const c = await rawClient(listener.url.replace(/\/?$/, '/v0/messages/json'));
    const [err] = await c.waitTexts(1);
    expect(JSON.parse(err!)).toEqual({
      type: 'error',
      code: 'invalid_uri',
      context: 'Invalid URI - use /v1/messages/json',
    });
    expect(await c.closed).toEqual({ code: 1008, reason: 'Invalid URI - use /v1/messages/json' });
  });

  it('reports a bad message as input #N and keeps the connection working', async () => {
    const a = await jsonClient(listener.jsonUrl, ['/test']);
    const b = await jsonClient(listener.jsonUrl, []);
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    b.ws.send('{"topic": "/test", "@data-type": "phone", "data": "555-0123"}');
    b.ws.send('this is not json!');
    b.ws.send(new Uint8Array([1, 2, 3]));
    await b.waitTexts(3);
    const errs = b.texts.map((t) => JSON.parse(t) as { type: string; code: string; context: string });
    expect(errs.map((e) => [e.type, e.code])).toEqual([
      ['error', 'deserialization_failed'],
      ['error', 'deserialization_failed'],
      ['error', 'deserialization_failed'],
    ]);
    expect(errs[0]!.context.startsWith('input #1 contained invalid data')).toBe(true);
    expect(errs[1]!.context.startsWith('input #2')).toBe(true);
    expect(errs[2]!.context.startsWith('input #3')).toBe(true);
    b.ws.send('{"type": "data-message", "topic": "/test", "@data-type": "count", "data": 5}');
    await a.waitTexts(1);
    expect(a.texts[0]).toBe('{"type":"data-message","topic":"/test","@data-type":"count","data":5}');
  });

  it('never echoes a message back to the client that sent it; others get it', async () => {
    const a = await jsonClient(listener.jsonUrl, ['/echo']);
    const b = await jsonClient(listener.jsonUrl, ['/echo']);
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    a.ws.send('{"type":"data-message","topic":"/echo/1","@data-type":"string","data":"hi"}');
    await b.waitTexts(1);
    // b answers after it got the message; an echo to a would have been queued to a before it.
    b.ws.send('{"type":"data-message","topic":"/echo/2","@data-type":"string","data":"back"}');
    await a.waitTexts(1);
    expect(a.texts).toEqual(['{"type":"data-message","topic":"/echo/2","@data-type":"string","data":"back"}']);
  });

  it('accepts messages pipelined before the ack', async () => {
    const sub = await jsonClient(listener.jsonUrl, ['/p']);
    const c = await rawClient(listener.jsonUrl);
    cleanup.push(
      () => sub.close(),
      () => c.close(),
    );
    c.ws.send('[]');
    c.ws.send('{"type":"data-message","topic":"/p","@data-type":"count","data":1}');
    await sub.waitTexts(1);
    expect(JSON.parse(sub.texts[0]!).data).toBe(1);
  });

  it('re-encodes in canonical compact form (sorted sets, %f reals, .mmm UTC timestamps)', async () => {
    const sub = await jsonClient(listener.jsonUrl, ['/c']);
    const pub = await jsonClient(listener.jsonUrl, []);
    cleanup.push(
      () => sub.close(),
      () => pub.close(),
    );
    pub.ws.send(`{
      "type": "data-message", "topic": "/c", "@data-type": "vector", "data": [
        {"@data-type": "set", "data": [{"@data-type": "string", "data": "b"}, {"@data-type": "string", "data": "a"}]},
        {"@data-type": "real", "data": 1.5},
        {"@data-type": "timestamp", "data": "2022-04-10T09:00:00.123456+02:00"}
      ]}`);
    await sub.waitTexts(1);
    expect(sub.texts[0]).toBe(
      '{"type":"data-message","topic":"/c","@data-type":"vector","data":[' +
        '{"@data-type":"set","data":[{"@data-type":"string","data":"a"},{"@data-type":"string","data":"b"}]},' +
        '{"@data-type":"real","data":1.500000},' +
        '{"@data-type":"timestamp","data":"2022-04-10T07:00:00.123"}]}',
    );
  });
});

describe('native peers and JSON v1 clients see each other', () => {
  const decodable = vectors.filter((v) =>
    /^(enc-msg|btest\/unencrypted\/send-input|pcap\/client-pong|zeek\/metadata\/.*\/ping)/.test(v.name),
  );

  it('a JSON client publishing every vector value reaches a native subscriber with types preserved', async () => {
    const native = await nativePeer('native-sub');
    const got: Message[] = [];
    native.subscribe('', (m) => got.push(m));
    const pub = await jsonClient(listener.jsonUrl, []);
    cleanup.push(() => pub.close());
    await until(() => hub.hasRoute('/anything'));
    expect(decodable.length).toBeGreaterThan(20);
    for (const v of decodable) pub.ws.send(v.json);
    await until(() => got.length === decodable.length, 5000, 'all vectors');
    decodable.forEach((v, i) => {
      const expected = decodeJsonMessage(v.json);
      if (expected.type !== 'data-message') throw new Error('not a data message');
      expect(got[i]!.topic).toBe(expected.topic);
      expect(equals(got[i]!.data, expected.data)).toBe(true);
    });
  });

  it('a native publisher reaches a JSON client in canonical JSON, and the reverse', async () => {
    const native = await nativePeer('native-pub');
    const sub = await jsonClient(listener.jsonUrl, ['/test/topic']);
    cleanup.push(() => sub.close());
    await until(() => native.hasRoute('/test/topic'));
    for (const v of decodable.filter((x) => x.name.startsWith('enc-msg/'))) {
      const m = decodeJsonMessage(v.json);
      if (m.type !== 'data-message') continue;
      native.publish(m.topic, m.data);
    }
    const exact = decodable.filter((x) => x.name.startsWith('enc-msg/'));
    await sub.waitTexts(exact.length);
    expect(sub.texts).toEqual(exact.map((v) => v.json));

    const back: Message[] = [];
    native.subscribe('/from-json', (m) => back.push(m));
    await until(() => hub.hasRoute('/from-json'));
    sub.ws.send(encodeJsonMessage({ type: 'data-message', topic: '/from-json', data: count(2n ** 64n - 1n) }));
    await until(() => back.length === 1);
    expect(equals(back[0]!.data, count(2n ** 64n - 1n))).toBe(true);
  });

  it('an Endpoint pointed at /v1/messages/json speaks JSON v1 to the hub', async () => {
    const client = new Endpoint({ name: 'json-client', retry: 50, protocols: [jsonV1] });
    cleanup.push(() => client.close());
    const got: Message[] = [];
    client.subscribe('/j', (m) => got.push(m));
    await client.peer(listener.jsonUrl);
    expect(client.peers()[0]).toMatchObject({ protocol: 'json', id: hub.id, status: 'connected' });
    const native = await nativePeer('n');
    await until(() => native.hasRoute('/j/x'));
    native.publish('/j/x', string('to json'));
    await until(() => got.length === 1);
    expect(equals(got[0]!.data, string('to json'))).toBe(true);
    const back: Message[] = [];
    native.subscribe('/k', (m) => back.push(m));
    await until(() => hub.hasRoute('/k'));
    client.publish('/k', count(9));
    await until(() => back.length === 1);
    // Subscribing later reconnects with a new handshake.
    const late: Message[] = [];
    client.subscribe('/late', (m) => late.push(m));
    await until(() => native.hasRoute('/late'), 5000, 'resubscription');
    native.publish('/late', count(1));
    await until(() => late.length === 1);
  });
});
