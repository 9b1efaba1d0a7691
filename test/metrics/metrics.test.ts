/**
 * `createMetrics` on a hub endpoint with a real listener: GET /metrics on the listener's own port,
 * parsed with a real Prometheus parser, counters that move as traffic flows (native leaves, a
 * router peer, a Broker JSON v1 client, a store), send queues grouped by link kind with per-peer
 * labels only for router links, and the authentication of the scrape (401, 403, 200).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Endpoint, createMaster, parsePolicy, type StoreMaster } from 'isobroker';
import {
  createAuthenticator,
  createMetrics,
  generateApiKey,
  hashApiKey,
  listen,
  serveMetrics,
  type Listener,
  type MetricsServer,
} from 'isobroker/node';
import { until } from '../support/endpoints.js';
import { scrape, total } from './parse.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Hub {
  readonly ep: Endpoint;
  readonly listener: Listener;
  readonly master: StoreMaster;
  readonly url: string;
}

async function startHub(auth?: Parameters<typeof createMetrics>[0]['auth']): Promise<Hub> {
  const ep = new Endpoint({ name: 'hub', role: 'hub' });
  const master = await createMaster(ep, 'kv');
  const metrics = createMetrics({ endpoint: ep, stores: [master], ...(auth ? { auth } : {}) });
  const listener = await listen(ep, {
    http: metrics.handler,
    ...(auth ? { auth: { authenticate: auth.authenticate, required: false } } : {}),
  });
  metrics.observeListener(listener.server);
  cleanup.push(async () => {
    metrics.close();
    master.close();
    await ep.close();
    await listener.close();
  });
  return { ep, listener, master, url: `http://127.0.0.1:${listener.port}/metrics` };
}

function endpoint(name: string, role?: string): Endpoint {
  const ep = new Endpoint({ name, ...(role ? { role } : {}) });
  cleanup.push(() => ep.close());
  return ep;
}

/** A Broker JSON v1 client subscribed to `topics`; resolves once the hub acknowledged it. */
function jsonClient(url: string, topics: readonly string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    cleanup.push(() => ws.terminate());
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`JSON v1 client closed (${code})`)));
    ws.on('open', () => ws.send(JSON.stringify(topics)));
    ws.once('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string };
      if (m.type === 'ack') resolve(ws);
      else reject(new Error(`JSON v1 handshake: ${raw.toString()}`));
    });
  });
}

describe('GET /metrics on the listener port', () => {
  it('exports connections by link kind, and counters move as messages flow', async () => {
    const hub = await startHub();
    const before = await scrape(hub.url);
    expect(before.get('isobroker_messages_sent_total')?.type).toBe('COUNTER');
    expect(before.get('isobroker_send_queue_bytes')?.type).toBe('GAUGE');
    expect(before.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
    expect(before.get('nodejs_eventloop_lag_seconds')?.type).toBe('GAUGE');
    expect(total(before, 'isobroker_info', { name: 'hub', role: 'hub' })).toBe(1);

    const leaf = endpoint('leaf');
    const got: unknown[] = [];
    leaf.subscribe('demo/', (m) => got.push(m));
    await leaf.peer(hub.listener.url);
    const router = endpoint('w1', 'worker');
    router.subscribe('demo/', () => undefined);
    await router.peer(hub.listener.url);
    const json = await jsonClient(hub.listener.jsonUrl, ['demo/']);
    let jsonGot = 0;
    json.on('message', () => jsonGot++);
    const pub = endpoint('pub');
    await pub.peer(hub.listener.url);
    await pub.whenRoutable('demo/x');
    await until(() => hub.ep.peers().filter((p) => p.status === 'connected').length === 4, 5000, 'four links');

    const connected = await scrape(hub.url);
    expect(total(connected, 'isobroker_connections', { link: 'leaf', protocol: 'native' })).toBe(2);
    expect(total(connected, 'isobroker_connections', { link: 'router', protocol: 'native' })).toBe(1);
    expect(total(connected, 'isobroker_connections', { link: 'json_client', protocol: 'json' })).toBe(1);
    // Per-peer labels only for router links.
    const routerQueues = connected.get('isobroker_router_send_queue_messages')!.metrics;
    expect(routerQueues.map((m) => m.labels?.peer)).toEqual(['w1']);
    expect(total(connected, 'isobroker_subscriptions')).toBeGreaterThanOrEqual(0);

    const N = 50;
    for (let i = 0; i < N; i++) pub.publish(`demo/${i}`, i);
    await until(() => got.length === N && jsonGot === N, 5000, 'deliveries');
    await hub.master.put('a', 1);
    await hub.master.put('a', 2);
    const after = await scrape(hub.url);
    const sent = (link: string): number =>
      total(after, 'isobroker_messages_sent_total', { link }) -
      total(connected, 'isobroker_messages_sent_total', { link });
    expect(sent('leaf')).toBeGreaterThanOrEqual(N);
    expect(sent('router')).toBeGreaterThanOrEqual(N);
    expect(sent('json_client')).toBeGreaterThanOrEqual(N);
    expect(total(after, 'isobroker_listener_sent_bytes_total', { protocol: 'json' })).toBeGreaterThan(
      total(connected, 'isobroker_listener_sent_bytes_total', { protocol: 'json' }),
    );
    expect(total(after, 'isobroker_messages_received_total')).toBeGreaterThanOrEqual(
      total(connected, 'isobroker_messages_received_total') + N,
    );
    expect(total(after, 'isobroker_messages_forwarded_total')).toBeGreaterThan(
      total(connected, 'isobroker_messages_forwarded_total'),
    );
    expect(total(after, 'isobroker_listener_received_bytes_total', { protocol: 'native' })).toBeGreaterThan(
      total(connected, 'isobroker_listener_received_bytes_total', { protocol: 'native' }),
    );
    expect(total(after, 'isobroker_listener_sent_bytes_total', { protocol: 'native' })).toBeGreaterThan(
      total(connected, 'isobroker_listener_sent_bytes_total', { protocol: 'native' }),
    );
    expect(total(after, 'isobroker_store_entries', { store: 'kv', role: 'master' })).toBe(1);
    expect(total(after, 'isobroker_store_changes_total', { store: 'kv', kind: 'insert' })).toBe(1);
    expect(total(after, 'isobroker_store_changes_total', { store: 'kv', kind: 'update' })).toBe(1);

    // Counters never go back when a connection leaves.
    await leaf.close();
    await until(() => hub.ep.peers().filter((p) => p.status === 'connected').length === 3, 5000, 'leaf gone');
    const gone = await scrape(hub.url);
    expect(total(gone, 'isobroker_connections', { link: 'leaf' })).toBe(1);
    expect(total(gone, 'isobroker_messages_sent_total', { link: 'leaf' })).toBe(
      total(after, 'isobroker_messages_sent_total', { link: 'leaf' }),
    );
  });

  it('other paths are 404 and other methods 405; --metrics serves it on its own port', async () => {
    const hub = await startHub();
    expect((await fetch(`http://127.0.0.1:${hub.listener.port}/`)).status).toBe(404);
    expect((await fetch(hub.url, { method: 'POST' })).status).toBe(405);
    const ep = endpoint('alone', 'hub');
    const metrics = createMetrics({ endpoint: ep, processMetrics: false });
    const server: MetricsServer = await serveMetrics(metrics.handler, { host: '127.0.0.1', port: 0 });
    cleanup.push(() => server.close());
    const families = await scrape(server.url);
    expect(total(families, 'isobroker_info', { name: 'alone' })).toBe(1);
    expect(families.has('process_cpu_user_seconds_total')).toBe(false);
    await expect(serveMetrics(metrics.handler, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/not loopback/);
  });
});

describe('authentication of the scrape', () => {
  it('is 401 without a credential or with a wrong one, 403 without the metrics role, 200 with it', async () => {
    const reader = generateApiKey();
    const other = generateApiKey();
    const parsed = parsePolicy({
      version: 1,
      keys: [],
      apiKeys: [
        { id: 'prom', hash: hashApiKey(reader), sub: 'prometheus', roles: ['metrics'] },
        { id: 'app', hash: hashApiKey(other), sub: 'app', roles: ['app'] },
      ],
      roles: { metrics: {}, app: { subscribe: { allow: ['demo/'] } } },
      anonymous: 'app',
    });
    if (!parsed.policy) throw new Error(parsed.errors.join('\n'));
    const { authenticate } = createAuthenticator({ current: parsed.policy });
    const hub = await startHub({ authenticate });

    const none = await fetch(hub.url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await fetch(hub.url, { headers: { authorization: `Bearer ${generateApiKey()}` } })).status).toBe(401);
    expect((await fetch(hub.url, { headers: { authorization: 'Bearer not a token' } })).status).toBe(401);
    expect((await fetch(hub.url, { headers: { authorization: `ApiKey ${other}` } })).status).toBe(403);
    const families = await scrape(hub.url, reader);
    expect(total(families, 'isobroker_info', { name: 'hub' })).toBe(1);
  });
});
