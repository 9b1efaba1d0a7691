/**
 * The endpoint's one registry of sessions (`src/endpoint/sessions.ts`) and the JSON v1 plug-in:
 * `peers()` lists every kind of connection once with its protocol and direction, `unpeer()` and
 * `close()` end them through the registry, and a JSON v1 URL without the plug-in is refused with
 * an error naming the import to add.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, Endpoint, type PeerInfo } from 'isobroker';
import { listen } from 'isobroker/node';
import { JSON_PATH, jsonV1 } from 'isobroker/json-v1';
import { memoryPair } from '../../src/internal.js';
import { jsonClient, type RawClient } from '../support/ws-client.js';
import { until } from '../support/endpoints.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function hubWithListener(name: string, options: ConstructorParameters<typeof Endpoint>[0] = {}) {
  const ep = new Endpoint({ name, role: 'hub', retry: 50, ...options });
  const listener = await listen(ep);
  cleanup.push(
    () => ep.close(),
    () => listener.close(),
  );
  return { ep, listener };
}

/** What peers() says, without the parts that change from run to run. */
const shape = (list: readonly PeerInfo[]): string[] =>
  list.map((p) => `${p.protocol} ${p.direction} ${p.status}`).sort();

describe('the JSON v1 plug-in', () => {
  it('without it, peer() of a JSON v1 URL rejects with a ConfigError naming the import; with it, the same URL peers', async () => {
    const { listener } = await hubWithListener('zeek-like');
    const plain = new Endpoint({ name: 'plain' });
    cleanup.push(() => plain.close());
    const err = await plain.peer(listener.jsonUrl).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('invalid_config');
    expect((err as Error).message).toContain("import { jsonV1 } from 'isobroker/json-v1'");
    expect((err as Error).message).toContain('protocols: [jsonV1]');
    expect(plain.peers()).toEqual([]); // nothing was dialled or remembered
    expect(plain.speaks('json')).toBe(false);

    plain.use(jsonV1);
    expect(plain.speaks('json')).toBe(true);
    await plain.peer(listener.jsonUrl);
    expect(shape(plain.peers())).toEqual(['json outbound connected']);
  });

  it('a native URL needs no plug-in, and JSON_PATH is what marks a JSON v1 URL', async () => {
    const { listener } = await hubWithListener('hub');
    expect(listener.jsonUrl.endsWith(JSON_PATH)).toBe(true);
    const plain = new Endpoint({ name: 'plain' });
    cleanup.push(() => plain.close());
    await plain.peer(listener.url);
    expect(shape(plain.peers())).toEqual(['native outbound connected']);
  });

  it('an endpoint without the plug-in refuses a JSON v1 connection handed to accept() (close 1008)', async () => {
    const plain = new Endpoint({ name: 'plain' });
    cleanup.push(() => plain.close());
    const [server, client] = memoryPair();
    let closedWith: number | undefined;
    client.attach({ onMessage: () => undefined, onClose: (code) => (closedWith = code) });
    plain.accept(server, 'json');
    await until(() => closedWith !== undefined);
    expect(closedWith).toBe(1008);
    expect(plain.peers()).toEqual([]);
  });

  it('the Node listener registers JSON v1 on the endpoint it serves', async () => {
    const ep = new Endpoint({ name: 'served' });
    expect(ep.speaks('json')).toBe(false);
    const listener = await listen(ep);
    cleanup.push(
      () => ep.close(),
      () => listener.close(),
    );
    expect(ep.speaks('json')).toBe(true);
  });

  it('rejects something that is not a plug-in', () => {
    expect(() => new Endpoint({ protocols: [{} as typeof jsonV1] })).toThrow(ConfigError);
    expect(() => new Endpoint({ protocols: 'json' as unknown as [] })).toThrow(/protocols/);
  });
});

describe('one registry of sessions', () => {
  it('peers() lists each kind of connection once, with its protocol and direction', async () => {
    const zeek = await hubWithListener('zeek-like');
    const hub = await hubWithListener('hub', { protocols: [jsonV1] });
    const leaf = new Endpoint({ name: 'leaf', retry: 50 });
    cleanup.push(() => leaf.close());
    await leaf.peer(hub.listener.url); // native, inbound at the hub
    await hub.ep.peer(zeek.listener.jsonUrl); // JSON v1, outbound from the hub
    await hub.ep.peer(zeek.listener.url); // native, outbound from the hub
    const client: RawClient = await jsonClient(hub.listener.jsonUrl, ['demo/']); // JSON v1, inbound
    cleanup.push(() => client.close());

    // The client's prefixes change the hub's filter: its JSON v1 peering redials with the new list.
    await until(() => hub.ep.peers().length === 4 && hub.ep.peers().every((p) => p.status === 'connected'));
    const peers = hub.ep.peers();
    expect(shape(peers)).toEqual([
      'json inbound connected',
      'json outbound connected',
      'native inbound connected',
      'native outbound connected',
    ]);
    const byKind = (protocol: string, direction: string): PeerInfo =>
      peers.find((p) => p.protocol === protocol && p.direction === direction)!;
    expect(byKind('json', 'outbound').id).toBe(zeek.ep.id);
    expect(byKind('json', 'outbound').url).toBe(zeek.listener.jsonUrl);
    expect(byKind('native', 'outbound').id).toBe(zeek.ep.id);
    expect(byKind('native', 'inbound').id).toBe(leaf.id);
    expect(byKind('json', 'inbound').id).toBeUndefined(); // a JSON v1 client does not tell its id
    for (const p of peers) expect(p.stats).toBeDefined();

    // The "Zeek" sees the hub twice (a native and a JSON v1 client connection), both inbound.
    await until(() => zeek.ep.peers().length === 2);
    expect(shape(zeek.ep.peers())).toEqual(['json inbound connected', 'native inbound connected']);

    // unpeer() ends the JSON v1 session through the registry; the others stay.
    await hub.ep.unpeer(zeek.listener.jsonUrl);
    await until(() => hub.ep.peers().length === 3);
    expect(shape(hub.ep.peers())).toEqual([
      'json inbound connected',
      'native inbound connected',
      'native outbound connected',
    ]);

    // close() ends every session of every kind: the JSON v1 client sees 1001.
    await hub.ep.close();
    expect((await client.closed).code).toBe(1001);
    expect(hub.ep.peers()).toEqual([]);
  });

  it('a peering without a session is listed on its own while it redials', async () => {
    const ep = new Endpoint({ name: 'lonely', retry: 10_000, protocols: [jsonV1] });
    cleanup.push(() => ep.close());
    void ep.peer(`ws://127.0.0.1:1${JSON_PATH}`).catch(() => undefined);
    await until(() => ep.peers()[0]?.status === 'reconnecting');
    expect(ep.peers()).toEqual([
      { url: `ws://127.0.0.1:1${JSON_PATH}`, protocol: 'json', direction: 'outbound', status: 'reconnecting' },
    ]);
  });
});
