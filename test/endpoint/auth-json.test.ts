/**
 * Authorization of Broker JSON v1 clients inside the endpoint: refusal without a principal,
 * publish ACLs, subscription narrowing and per-message delivery checks, expiry and revalidation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, count, type Message } from 'isobroker';
import { jsonV1 } from 'isobroker/json-v1';
import { memoryPair } from '../../src/transport/memory-transport.js';
import { AuthError, type AuditEvent, type Principal } from '../../src/auth/types.js';
import { until, sleep } from '../support/endpoints.js';
import { principal, rawEnd, type RawEnd } from './auth-helpers.js';
import type { Timers } from '../../src/util/timers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function hub(timers?: Timers): { hub: Endpoint; audit: AuditEvent[] } {
  const h = new Endpoint({
    name: 'hub',
    role: 'hub',
    pingInterval: 0,
    protocols: [jsonV1],
    ...(timers ? { timers } : {}),
  });
  cleanup.push(() => h.close());
  const audit: AuditEvent[] = [];
  h.on('audit', (e) => audit.push(e));
  return { hub: h, audit };
}

/** A JSON v1 client of `h` running as `p` (or refused by `error`), after its handshake. */
function jsonClient(h: Endpoint, p: Principal | undefined, prefixes: string[], error?: AuthError): RawEnd {
  const [client, server] = memoryPair();
  const end = rawEnd(client);
  h.accept(server, 'json', {
    conn: { ip: '127.0.0.9', remote: 'test-client', protocol: 'json' },
    ...(p ? { principal: p } : {}),
    ...(error ? { error } : {}),
  });
  client.send(JSON.stringify(prefixes));
  return end;
}

const parsed = (end: RawEnd): { type: string; code?: string; topic?: string; context?: string }[] =>
  end.texts.map((t) => JSON.parse(t));
const dataTopics = (end: RawEnd): string[] =>
  parsed(end)
    .filter((m) => m.type === 'data-message')
    .map((m) => m.topic!);
const errorCodes = (end: RawEnd): string[] =>
  parsed(end)
    .filter((m) => m.type === 'error')
    .map((m) => m.code!);

describe('JSON v1 clients: authentication', () => {
  it('no principal: an unauthenticated error, close 1008, no ack', async () => {
    const { hub: h, audit } = hub();
    const c = jsonClient(h, undefined, ['']);
    await until(() => c.closed !== undefined);
    expect(c.closed!.code).toBe(1008);
    expect(parsed(c)).toEqual([expect.objectContaining({ type: 'error', code: 'unauthenticated' })]);
    expect(audit.map((e) => [e.kind, e.code])).toEqual([['auth_failed', 'unauthenticated']]);
    expect(h.peers()).toEqual([]);
  });

  it('an upgrade error is passed on with its code', async () => {
    const { hub: h } = hub();
    const c = jsonClient(h, undefined, [''], new AuthError('token_expired', 'expired'));
    await until(() => c.closed !== undefined);
    expect(c.closed!.code).toBe(1008);
    expect(errorCodes(c)).toEqual(['token_expired']);
    expect(c.texts.join('')).not.toContain('"ack"');
  });
});

describe('JSON v1 clients: publish ACL', () => {
  it('a disallowed publish is dropped with forbidden, the connection stays, an allowed one arrives', async () => {
    const { hub: h, audit } = hub();
    const all: Message[] = [];
    h.subscribe('', (m) => all.push(m));
    const c = jsonClient(h, principal('ann', { publish: { allow: ['a/'] } }), []);
    await until(() => c.texts.length === 1);
    const send = (topic: string): void =>
      c.t.send(JSON.stringify({ type: 'data-message', topic, '@data-type': 'count', data: 1 }));
    send('b/x');
    send('a/x');
    await until(() => all.length === 1 && errorCodes(c).length === 1);
    await sleep(20);
    expect(all.map((m) => m.topic)).toEqual(['a/x']);
    expect(errorCodes(c)).toEqual(['forbidden']);
    expect(c.closed).toBeUndefined();
    expect(audit.filter((e) => e.kind === 'publish_denied').map((e) => [e.sub, e.subject])).toEqual([['ann', 'b/x']]);
    // No body in audit records.
    expect(JSON.stringify(audit)).not.toContain('"data"');
  });

  it('zeek/logs/ is for nodes only, zeek/logsecret is not reserved; a zeek/logs grant covers zeek/logsecret', async () => {
    const { hub: h } = hub();
    const all: Message[] = [];
    h.subscribe('zeek/', (m) => all.push(m));
    const c = jsonClient(h, principal('ann'), []);
    const narrow = jsonClient(h, principal('bob', { publish: { allow: ['zeek/logs'] } }), []);
    await until(() => c.texts.length === 1 && narrow.texts.length === 1);
    const send = (end: RawEnd, topic: string): void =>
      end.t.send(JSON.stringify({ type: 'data-message', topic, '@data-type': 'count', data: 1 }));
    send(c, 'zeek/logs/conn');
    send(c, 'zeek/logsecret');
    send(narrow, 'zeek/logsecret/x');
    send(narrow, 'zeek/other');
    await until(() => all.length >= 2 && errorCodes(c).length >= 1 && errorCodes(narrow).length >= 1, 10_000);
    await sleep(20);
    expect(all.map((m) => m.topic)).toEqual(['zeek/logsecret', 'zeek/logsecret/x']);
    expect([errorCodes(c), errorCodes(narrow)]).toEqual([['forbidden'], ['forbidden']]);
    // A node principal may publish there.
    const node = jsonClient(h, principal('w1', { node: 'worker-1', router: true }), []);
    await until(() => node.texts.length === 1);
    send(node, 'zeek/logs/conn');
    await until(() => all.length === 3);
  });
});

describe('JSON v1 clients: subscriptions', () => {
  it('"" is narrowed to the grant (ack, audit), refused in strict mode', async () => {
    const { hub: h, audit } = hub();
    const c = jsonClient(h, principal('ann', { subscribe: { allow: ['a/'] } }), ['']);
    const strict = jsonClient(h, principal('sam', { subscribe: { allow: ['a/'] }, strict: true }), ['']);
    await until(() => parsed(c).some((m) => m.type === 'ack') && errorCodes(strict).includes('forbidden'));
    expect(parsed(strict)[0]!.type).toBe('ack');
    expect(h.subscriptions()).toEqual(['a/']);
    h.publish('b/x', count(1));
    h.publish('a/x', count(2));
    await until(() => dataTopics(c).length === 1);
    await sleep(20);
    expect(dataTopics(c)).toEqual(['a/x']);
    expect(dataTopics(strict)).toEqual([]);
    expect(audit.filter((e) => e.kind.startsWith('subscribe_')).map((e) => [e.kind, e.sub, e.subject])).toEqual([
      ['subscribe_narrowed', 'ann', ''],
      ['subscribe_denied', 'sam', ''],
    ]);
  });

  it("the principal's subscription limit applies when it is below the endpoint's", async () => {
    const { hub: h } = hub();
    const c = jsonClient(h, principal('ann', { maxSubscriptions: 2 }), ['a/', 'b/', 'c/']);
    await until(() => errorCodes(c).length === 1);
    expect(parsed(c)[1]!.context).toContain('the limit per connection is 2');
    expect(h.subscriptions()).toEqual(['a/', 'b/']);
  });

  it('a deny inside the grant is never delivered; clients without such a filter get everything', async () => {
    const { hub: h } = hub();
    const c = jsonClient(h, principal('ann', { subscribe: { allow: ['a/'], deny: ['a/secret'] } }), ['a/']);
    const open = jsonClient(h, principal('bob'), ['a/']);
    await until(() => c.texts.length >= 1 && open.texts.length >= 1);
    for (const t of ['a/secret', 'a/secretive/x', 'a/ok', 'a/secret/y', 'a/x']) h.publish(t, count(1));
    await until(() => dataTopics(open).length === 5 && dataTopics(c).length === 2);
    await sleep(20);
    expect(dataTopics(c)).toEqual(['a/ok', 'a/x']);
  });
});

describe('JSON v1 clients: expiry and revalidation', () => {
  it('closed at expiry with token_expired and 1008', async () => {
    const { hub: h, audit } = hub();
    const c = jsonClient(h, principal('ann', { expiresAt: Date.now() + 150 }), ['']);
    await until(() => c.texts.length === 1);
    expect(c.closed).toBeUndefined();
    await until(() => c.closed !== undefined, 3000);
    expect(c.closed!.code).toBe(1008);
    expect(errorCodes(c)).toEqual(['token_expired']);
    expect(audit.map((e) => e.kind)).toContain('auth_expired');
  });

  it('revalidate closes a revoked connection within the call and keeps the others', async () => {
    const { hub: h, audit } = hub();
    const a = jsonClient(h, principal('ann'), ['']);
    const b = jsonClient(h, principal('bob'), ['']);
    await until(() => a.texts.length === 1 && b.texts.length === 1);
    h.revalidate((p) => (p.sub === 'ann' ? new AuthError('revoked', 'key revoked') : p));
    await until(() => a.closed !== undefined);
    expect(a.closed!.code).toBe(1008);
    expect(errorCodes(a)).toEqual(['revoked']);
    expect(b.closed).toBeUndefined();
    expect(audit.filter((e) => e.kind === 'auth_revoked').map((e) => e.sub)).toEqual(['ann']);
  });

  it('a changed subscribe grant drops the queued messages and closes with permissions_changed', async () => {
    const { hub: h } = hub();
    const a = jsonClient(h, principal('ann'), ['']);
    await until(() => a.texts.length === 1);
    h.publish('secret/x', count(1)); // queued, not yet written
    h.revalidate((p) => principal(p.sub, { subscribe: { allow: ['public/'] } }));
    await until(() => a.closed !== undefined);
    expect(dataTopics(a)).toEqual([]);
    expect(parsed(a).at(-1)).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(parsed(a).at(-1)!.context).toContain('permissions_changed');
  });

  it('a changed publish grant applies to the next message, the connection stays', async () => {
    const { hub: h } = hub();
    const all: Message[] = [];
    h.subscribe('', (m) => all.push(m));
    const a = jsonClient(h, principal('ann'), []);
    await until(() => a.texts.length === 1);
    h.revalidate((p) => principal(p.sub, { publish: { allow: ['ok/'] } }));
    a.t.send(JSON.stringify({ type: 'data-message', topic: 'x', '@data-type': 'count', data: 1 }));
    a.t.send(JSON.stringify({ type: 'data-message', topic: 'ok/x', '@data-type': 'count', data: 1 }));
    await until(() => all.length === 1 && errorCodes(a).length === 1);
    expect(all.map((m) => m.topic)).toEqual(['ok/x']);
    expect(errorCodes(a)).toEqual(['forbidden']);
    expect(a.closed).toBeUndefined();
  });
});
