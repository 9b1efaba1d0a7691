/**
 * Authentication at the listener: where credentials are read on the upgrade (Authorization,
 * `bearer.` subprotocol, cookie only from an allowed Origin, never the query string), what a
 * refused JSON v1 client sees (error + 1008, no ack), Origin/Host look-alikes refused before any
 * WebSocket exists, and the per-IP auth-failure cool-down (HTTP 429) that leaves other IPs alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AuditEvent } from '../../src/auth/types.js';
import {
  type AuthCall,
  fakeAuthenticate,
  GOOD_KEY,
  GOOD_TOKEN,
  rawUpgrade,
  startHub,
  upgradeRequest,
} from './listener-fixtures.js';
import { rawClient } from '../support/ws-client.js';

const JSON_PATH = '/v1/messages/json';
const NATIVE_PATH = '/v1/messages/native';
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function hub(extra: Parameters<typeof startHub>[0] = {}, calls: AuthCall[] = []) {
  const h = await startHub({ auth: { authenticate: fakeAuthenticate(calls) }, ...extra });
  stop = h.close;
  return h;
}

/** Opens a JSON v1 client with `opts` and sends the topic array: the ack (or error) and the close. */
async function jsonAttempt(
  url: string,
  opts: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<{ first: { type: string; code?: string; context?: string }; close: Promise<number>; ws: WebSocket }> {
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
  const close = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  const first = new Promise<{ type: string }>((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(String(d))));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  ws.once('open', () => ws.send(JSON.stringify(['t/'])));
  return { first: await first, close, ws };
}

describe('JSON v1 with auth', () => {
  it('refuses a missing credential with an error and close 1008, and no ack', async () => {
    const { listener } = await hub();
    const a = await jsonAttempt(listener.jsonUrl);
    expect(a.first).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(await a.close).toBe(1008);
  });

  it('refuses a wrong credential the same way, and a token in the query string is ignored', async () => {
    const calls: AuthCall[] = [];
    const { listener } = await hub({}, calls);
    const wrong = await jsonAttempt(listener.jsonUrl, { headers: { Authorization: 'Bearer not.the.token' } });
    expect(wrong.first).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(await wrong.close).toBe(1008);
    const query = await jsonAttempt(`${listener.jsonUrl}?token=${GOOD_TOKEN}&access_token=${GOOD_TOKEN}`);
    expect(query.first).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(await query.close).toBe(1008);
    expect(calls.map((c) => c.credential?.value)).toEqual(['not.the.token', undefined]);
  });

  it('accepts a bearer token in the Authorization header and an API key as ApiKey or Bearer', async () => {
    const calls: AuthCall[] = [];
    const { listener } = await hub({}, calls);
    for (const auth of [`Bearer ${GOOD_TOKEN}`, `ApiKey ${GOOD_KEY}`, `bearer ${GOOD_KEY}`]) {
      const a = await jsonAttempt(listener.jsonUrl, { headers: { Authorization: auth } });
      expect(a.first.type, auth.split(' ')[0]).toBe('ack');
      a.ws.close();
    }
    expect(calls.map((c) => c.credential?.kind)).toEqual(['bearer', 'api_key', 'api_key']);
    expect(calls[0]!.conn).toMatchObject({ ip: '127.0.0.1', protocol: 'json' });
  });

  it('accepts bearer.<token> as a subprotocol, selects isobroker.v1 and never echoes the token', async () => {
    const { listener } = await hub();
    const r = await rawUpgrade(
      listener.port,
      upgradeRequest(listener.port, JSON_PATH, { 'Sec-WebSocket-Protocol': `isobroker.v1, bearer.${GOOD_TOKEN}` }),
    );
    r.socket.destroy();
    expect(r.status).toBe(101);
    expect(r.head).toMatch(/\r\nSec-WebSocket-Protocol: isobroker\.v1(\r\n|$)/i);
    expect(r.head).not.toContain(GOOD_TOKEN);
    expect(r.head).not.toContain('bearer.');
    const a = await jsonAttempt(listener.jsonUrl, { protocols: ['isobroker.v1', `bearer.${GOOD_TOKEN}`] });
    expect(a.first.type).toBe('ack');
    expect(a.ws.protocol).toBe('isobroker.v1');
    a.ws.close();
  });

  it('reads a cookie credential only from an allowed Origin', async () => {
    const { listener } = await hub({
      auth: { authenticate: fakeAuthenticate(), cookieName: 'isb', origins: ['https://dash.example.test'] },
    });
    const cookie = `other=1; isb=${GOOD_TOKEN}`;
    const ok = await jsonAttempt(listener.jsonUrl, {
      headers: { Cookie: cookie, Origin: 'https://dash.example.test' },
    });
    expect(ok.first.type).toBe('ack');
    ok.ws.close();
    // The listener's own origin may open WebSockets, but its cookie is not a credential.
    const other = await jsonAttempt(listener.jsonUrl, {
      headers: { Cookie: cookie, Origin: `http://127.0.0.1:${listener.port}` },
    });
    expect(other.first).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(await other.close).toBe(1008);
    const none = await jsonAttempt(listener.jsonUrl, { headers: { Cookie: cookie } });
    expect(none.first).toMatchObject({ type: 'error', code: 'unauthenticated' });
  });

  it('refuses over-long credential headers with 431 before any WebSocket', async () => {
    const { listener } = await hub();
    const r = await rawUpgrade(
      listener.port,
      upgradeRequest(listener.port, JSON_PATH, { Authorization: `Bearer ${'a'.repeat(9000)}` }),
    );
    r.socket.destroy();
    expect(r.status).toBe(431);
  });
});

describe('native with auth', () => {
  it('authenticates an Authorization header at the upgrade and hands over the principal', async () => {
    const calls: AuthCall[] = [];
    const { listener } = await hub({}, calls);
    const c = await rawClient(`${listener.url}${NATIVE_PATH}`, { Authorization: `Bearer ${GOOD_TOKEN}` });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.conn).toMatchObject({ protocol: 'native', ip: '127.0.0.1' });
    c.close();
  });

  it('refuses a wrong header credential with 4401', async () => {
    const { listener } = await hub();
    const c = await rawClient(`${listener.url}${NATIVE_PATH}`, { Authorization: 'Bearer wrong' });
    expect((await c.closed).code).toBe(4401);
  });
});

describe('Origin and Host', () => {
  it('refuses look-alike origins, wrong ports and schemes, null and a rebinding Host with 403 before any WebSocket', async () => {
    const { listener, audit } = await hub({ allowedOrigins: ['https://app.example.test:8443'] });
    const port = listener.port;
    for (const origin of [
      'http://127.0.0.1.evil.test',
      `http://127.0.0.1.evil.test:${port}`,
      'https://app.example.test.evil.test:8443',
      'https://evil-app.example.test:8443',
      'https://app.example.test:8444',
      'https://app.example.test',
      'http://app.example.test:8443',
      'null',
      'file://',
      // Loopback pages on other ports are other origins.
      'http://localhost:5173',
      `http://127.0.0.1:${port + 1}`,
    ]) {
      const r = await rawUpgrade(
        port,
        upgradeRequest(port, JSON_PATH, { Origin: origin, Authorization: `Bearer ${GOOD_TOKEN}` }),
      );
      r.socket.destroy();
      expect(r.status, origin).toBe(403);
    }
    const ok = await rawUpgrade(
      port,
      upgradeRequest(port, JSON_PATH, {
        Origin: 'https://app.example.test:8443',
        Authorization: `Bearer ${GOOD_TOKEN}`,
      }),
    );
    ok.socket.destroy();
    expect(ok.status).toBe(101);
    const host = await rawUpgrade(port, upgradeRequest(port, JSON_PATH, { Host: `evil.test:${port}` }));
    host.socket.destroy();
    expect(host.status).toBe(403);
    const kinds = new Set(audit.map((e: AuditEvent) => e.kind));
    expect(kinds).toContain('origin_rejected');
    expect(kinds).toContain('host_rejected');
    expect(JSON.stringify(audit)).not.toContain(GOOD_TOKEN);
  });
});

describe('auth failures per IP', () => {
  it('1,000 bad credentials from 127.0.0.2 → 429 without upgrade, while 127.0.0.3 connects promptly', async () => {
    const { listener, audit } = await hub({
      limits: { maxAuthFailuresPerIp: 20, authFailureWindow: 10_000, authFailureCooldown: 30_000 },
    });
    const port = listener.port;
    const statuses = new Map<number, number>();
    const started = Date.now();
    const bad = upgradeRequest(port, JSON_PATH, { Authorization: 'Bearer forged.token.value' });
    // 1,000 attempts, 50 at a time; every one gets an answer.
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => rawUpgrade(port, bad, { localAddress: '127.0.0.2' })),
      );
      for (const r of batch) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        r.socket.destroy();
      }
    }
    const floodMs = Date.now() - started;
    expect((statuses.get(101) ?? 0) + (statuses.get(429) ?? 0)).toBe(1000);
    expect(statuses.get(101) ?? 0).toBeLessThanOrEqual(20 + 50); // the failures of the first batches in flight
    expect(statuses.get(429)).toBeGreaterThanOrEqual(900);
    // The good client from another IP.
    const t0 = Date.now();
    const good = await rawUpgrade(port, upgradeRequest(port, JSON_PATH, { Authorization: `Bearer ${GOOD_TOKEN}` }), {
      localAddress: '127.0.0.3',
    });
    const goodMs = Date.now() - t0;
    good.socket.destroy();
    expect(good.status).toBe(101);
    // A good credential from the blocked IP waits for the cool-down too.
    const blocked = await rawUpgrade(port, upgradeRequest(port, JSON_PATH, { Authorization: `Bearer ${GOOD_TOKEN}` }), {
      localAddress: '127.0.0.2',
    });
    blocked.socket.destroy();
    expect(blocked.status).toBe(429);
    expect(blocked.head).toMatch(/Retry-After: 30/);
    expect(audit.some((e) => e.kind === 'limit_exceeded' && e.ip === '127.0.0.2')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain('forged.token.value');
    expect(JSON.stringify(audit)).not.toContain(GOOD_TOKEN);
    // Rate-limited audit: a flood yields a few records, not a thousand.
    expect(audit.filter((e) => e.kind === 'limit_exceeded').length).toBeLessThan(20);
    console.log(
      `auth-failure flood: ${JSON.stringify(Object.fromEntries(statuses))} in ${floodMs} ms; good client from 127.0.0.3 upgraded in ${goodMs} ms`,
    );
  });
});
