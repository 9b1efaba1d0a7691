/**
 * Auth across a network: a three-hub line (hubs trusted among themselves) where a limited client
 * on the far hub sees only its grant and the hubs hear only its effective prefixes; and the same
 * checks through a real listener with authentication on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, MemoryNetwork, count, type ErrorEvent, type Message } from 'isobroker';
import { listen } from 'isobroker/node';
import { sleep, until } from '../support/endpoints.js';
import { rawClient } from '../support/ws-client.js';
import { principal, tokenTable } from './auth-helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
function track<T extends { close(): unknown }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

describe('a three-hub line', () => {
  it('a limited client on the far hub sees only its grant; upstream hears only its effective prefixes', async () => {
    const net = new MemoryNetwork();
    const auth = tokenTable({ lim: principal('lim', { subscribe: { allow: ['a/'], deny: ['a/secret'] } }) });
    const hubs = ['h0', 'h1', 'h2'].map((name) =>
      track(new Endpoint({ name, role: 'hub', connector: net.connector, pingInterval: 0, retry: 20 })),
    );
    // Hubs accept each other without auth (trusted); h2 also serves clients with auth.
    for (const [i, h] of hubs.entries()) net.listen(`h${i}`, h);
    net.listen('h2-clients', {
      accept: (t, protocol) =>
        hubs[2]!.accept(t, protocol, { conn: { ip: '127.0.0.3', remote: t.remote, protocol }, authenticate: auth }),
    });
    await hubs[1]!.peer('ws://h0');
    await hubs[2]!.peer('ws://h1');
    const client = track(new Endpoint({ name: 'client', connector: net.connector, pingInterval: 0 }));
    const errors: ErrorEvent[] = [];
    client.on('error', (e) => errors.push(e));
    const got: Message[] = [];
    client.subscribe('', (m) => got.push(m));
    await client.peer('ws://h2-clients', { token: 'lim' });
    await until(() => hubs[0]!.hasRoute('a/x'));
    // Upstream routers hear the effective prefixes only.
    const h2AtH0 = hubs[0]!.reachable().find((e) => e.name === 'h2')!;
    expect(h2AtH0.filter).toEqual(['a/']);
    expect(hubs[0]!.hasRoute('b/x')).toBe(false);
    for (const t of ['b/x', 'a/secret/1', 'c', 'a/x', 'a/secretive', 'a/y']) hubs[0]!.publish(t, count(1));
    await until(() => got.length === 2);
    await sleep(50);
    expect(got.map((m) => m.topic)).toEqual(['a/x', 'a/y']);
    expect(errors.map((e) => e.code)).toEqual(['subscription_narrowed']);
  });
});

describe('through a real listener with auth on', () => {
  it('native: token in the hello, forbidden publish dropped; JSON v1 without a credential refused', async () => {
    const auth = tokenTable({ ann: principal('ann', { publish: { allow: ['a/'] } }) });
    const hub = track(new Endpoint({ name: 'hub', role: 'hub' }));
    const l = track(await listen(hub, { auth: { authenticate: auth } }));
    const all: Message[] = [];
    hub.subscribe('', (m) => all.push(m));
    const leaf = track(new Endpoint({ name: 'leaf' }));
    const errors: ErrorEvent[] = [];
    leaf.on('error', (e) => errors.push(e));
    await leaf.peer(l.url, { token: 'ann' });
    await leaf.whenRoutable('b/x');
    leaf.publish('b/x', count(1));
    leaf.publish('a/x', count(2));
    await until(() => all.length === 1 && errors.some((e) => e.code === 'forbidden'));
    expect(all.map((m) => m.topic)).toEqual(['a/x']);
    expect(auth.seen.map((c) => c?.kind)).toContain('bearer');

    // JSON v1 without any credential: refused (before or after the upgrade), never acked.
    let refused: string;
    try {
      const c = await rawClient(l.jsonUrl);
      c.ws.send(JSON.stringify(['']));
      const closed = await c.closed;
      refused = `${closed.code} ${c.texts.join('')}`;
    } catch (err) {
      refused = String(err);
    }
    expect(refused).not.toContain('"ack"');
    expect(refused).toMatch(/401|1008|unauthenticated/);
  });
});
