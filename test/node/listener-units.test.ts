/**
 * Pieces of the listener on their own and in small end-to-end checks: the connection limiter with
 * a fake clock (windows, cool-down expiry, release), client addresses behind trusted proxies,
 * the native hello credential path (the pre-auth deadline lifted once the hello authenticates),
 * and `auth.required: false`.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
} from '../../src/internal.js';
import { clientAddress, parseTrustProxy } from '../../src/node/listener/client-address.js';
import { ConnectionLimiter, isRefusal, resolveConnectionLimits } from '../../src/node/listener/connection-limits.js';
import { listenWarnings } from '../../src/node/listener/options.js';
import { selectSubprotocol, upgradeCredential } from '../../src/node/listener/upgrade-credential.js';
import { rawClient } from '../support/ws-client.js';
import {
  type AuthCall,
  fakeAuthenticate,
  GOOD_TOKEN,
  rawUpgrade,
  startHub,
  upgradeRequest,
} from './listener-fixtures.js';

describe('ConnectionLimiter', () => {
  it('counts per IP, releases, and cools an IP down after too many auth failures', () => {
    let now = 1_000_000;
    const limits = resolveConnectionLimits(
      {
        maxConnectionsPerIp: 2,
        maxConnections: 3,
        newConnectionsPerIpPerSecond: 3,
        maxPreAuthPerIp: 1,
        maxAuthFailuresPerIp: 3,
        authFailureWindow: 1000,
        authFailureCooldown: 5000,
      },
      true,
    );
    const l = new ConnectionLimiter(limits, () => now);
    const a = l.admit('10.0.0.1');
    if (isRefusal(a)) throw new Error('refused');
    expect(l.admit('10.0.0.1')).toEqual({ status: 429, limit: 'pre_auth_per_ip' });
    a.authenticated();
    a.authenticated(); // idempotent
    const b = l.admit('10.0.0.1');
    if (isRefusal(b)) throw new Error('refused');
    b.authenticated();
    expect(l.admit('10.0.0.1')).toEqual({ status: 429, limit: 'connections_per_ip' });
    const c = l.admit('10.0.0.2');
    expect(isRefusal(c)).toBe(false);
    expect(l.admit('10.0.0.3')).toEqual({ status: 503, limit: 'connections' });
    a.release();
    a.release(); // idempotent
    expect(l.connections).toBe(2);
    // Rate: 3 admitted for 10.0.0.1 in this second (a, b, and the next) → the 4th is refused.
    const d = l.admit('10.0.0.1');
    if (isRefusal(d)) throw new Error('refused');
    d.authenticated();
    d.release();
    expect(l.admit('10.0.0.1')).toEqual({ status: 429, limit: 'new_connections_per_ip' });
    now += 1000;
    const e = l.admit('10.0.0.1');
    expect(isRefusal(e)).toBe(false);
    // Failures: 2 in the window do nothing, the 3rd starts the cool-down (reported once).
    expect([l.authFailed('10.0.0.9'), l.authFailed('10.0.0.9'), l.authFailed('10.0.0.9')]).toEqual([
      false,
      false,
      true,
    ]);
    expect(l.blocked('10.0.0.9')).toBe(true);
    expect(l.admit('10.0.0.9')).toEqual({ status: 429, limit: 'auth_failures' });
    expect(l.blocked('10.0.0.8')).toBe(false);
    now += 5000;
    expect(l.blocked('10.0.0.9')).toBe(false);
    // Failures spread over more than the window never add up.
    l.authFailed('10.0.0.7');
    l.authFailed('10.0.0.7');
    now += 1000;
    expect(l.authFailed('10.0.0.7')).toBe(false);
  });

  it('has the per-IP defaults only with auth', () => {
    expect(resolveConnectionLimits(undefined, false)).toMatchObject({
      maxConnectionsPerIp: 0,
      newConnectionsPerIpPerSecond: 0,
      maxPreAuthPerIp: 0,
      maxConnections: 20000,
    });
    expect(resolveConnectionLimits(undefined, true)).toMatchObject({
      maxConnectionsPerIp: 2000,
      newConnectionsPerIpPerSecond: 500,
      maxPreAuthPerIp: 256,
      preAuthTimeout: 5000,
      preAuthMaxBytes: 65550,
    });
  });
});

describe('client address', () => {
  const req = (remoteAddress: string, headers: Record<string, string>): IncomingMessage =>
    ({ socket: { remoteAddress, remotePort: 4000 }, headers }) as unknown as IncomingMessage;
  const proxies = parseTrustProxy('trustProxy', ['10.0.0.0/8', '::1/128']);

  it('believes X-Forwarded-* only from a trusted proxy, taking the rightmost untrusted hop', () => {
    const fwd = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 10.1.2.3', 'x-forwarded-proto': 'https' };
    expect(clientAddress(req('10.0.0.5', fwd), proxies)).toEqual({ ip: '203.0.113.7', port: 0, scheme: 'https' });
    expect(clientAddress(req('::ffff:10.0.0.5', fwd), proxies).ip).toBe('203.0.113.7');
    expect(clientAddress(req('192.0.2.1', fwd), proxies)).toEqual({ ip: '192.0.2.1', port: 4000, scheme: 'http' });
    expect(clientAddress(req('10.0.0.5', fwd), undefined).ip).toBe('10.0.0.5');
    expect(clientAddress(req('::1', { 'x-forwarded-for': 'junk, 198.51.100.1' }), proxies).ip).toBe('198.51.100.1');
    expect(clientAddress(req('::1', { 'x-forwarded-for': '198.51.100.1, junk' }), proxies).ip).toBe('::1');
    expect(clientAddress(req('::1', { 'x-forwarded-for': '10.9.9.9' }), proxies).ip).toBe('10.9.9.9');
    expect(clientAddress(req('::1', {}), proxies)).toEqual({ ip: '::1', port: 4000, scheme: 'http' });
  });

  it('limits the forwarded IP, not the proxy', async () => {
    const calls: AuthCall[] = [];
    const h = await startHub({
      auth: { authenticate: fakeAuthenticate(calls) },
      trustProxy: ['127.0.0.1/32'],
      limits: { maxConnectionsPerIp: 1 },
    });
    try {
      const port = h.listener.port;
      const up = (xff: string) =>
        rawUpgrade(
          port,
          upgradeRequest(port, '/v1/messages/json', { Authorization: `Bearer ${GOOD_TOKEN}`, 'X-Forwarded-For': xff }),
        );
      const a = await up('198.51.100.1');
      const b = await up('198.51.100.2');
      const c = await up('198.51.100.1');
      for (const r of [a, b, c]) r.socket.destroy();
      expect([a.status, b.status, c.status]).toEqual([101, 101, 429]);
      expect(calls.map((x) => x.conn.ip)).toEqual(['198.51.100.1', '198.51.100.2']);
    } finally {
      await h.close();
    }
  });
});

describe('native hello credential', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  const hello = (credential: string | null) =>
    encodeFrame([
      encodeMessage({
        kind: MessageKind.Hello,
        version: NATIVE_PROTOCOL_VERSION,
        id: idToBytes('0a1b2c3d-0000-4000-8000-000000000002'),
        name: 'leaf',
        role: 'test',
        credential,
        link: 'leaf',
      }),
    ]);

  it('a good hello credential lifts the pre-auth deadline; a bad one closes 4401 and counts as a failure', async () => {
    const calls: AuthCall[] = [];
    const h = await startHub({
      auth: { authenticate: fakeAuthenticate(calls) },
      limits: { preAuthTimeout: 600, maxAuthFailuresPerIp: 2 },
    });
    stop = h.close;
    const url = `${h.listener.url}/v1/messages/native`;
    const good = await rawClient(url);
    good.ws.send(hello(GOOD_TOKEN));
    await new Promise((r) => setTimeout(r, 1200));
    expect(good.ws.readyState).toBe(good.ws.OPEN);
    expect(good.binaries.flatMap((b) => decodeFrame(b)).some((m) => m.kind === MessageKind.Welcome)).toBe(true);
    expect(calls[0]).toMatchObject({ credential: { kind: 'bearer', value: GOOD_TOKEN }, conn: { protocol: 'native' } });
    good.close();
    for (let i = 0; i < 2; i++) {
      const bad = await rawClient(url);
      bad.ws.send(hello('wrong'));
      expect((await bad.closed).code).toBe(4401);
    }
    // Two failures from 127.0.0.1: now cooling down.
    const r = await rawUpgrade(h.listener.port, upgradeRequest(h.listener.port, '/v1/messages/native'));
    r.socket.destroy();
    expect(r.status).toBe(429);
  });

  it('an authenticate that never answers: HTTP 408 at the pre-auth deadline, audited, the slot freed', async () => {
    const h = await startHub({
      auth: { authenticate: () => new Promise(() => {}) },
      limits: { preAuthTimeout: 500, maxConnections: 1 },
    });
    stop = h.close;
    const port = h.listener.port;
    const req = upgradeRequest(port, '/v1/messages/json', { Authorization: `Bearer ${GOOD_TOKEN}` });
    const r = await rawUpgrade(port, req);
    r.socket.destroy();
    expect(r.status).toBe(408);
    expect(h.audit.some((e) => e.kind === 'auth_failed' && e.code === 'timeout')).toBe(true);
    await new Promise((res) => setTimeout(res, 50));
    const again = await rawUpgrade(port, req);
    again.socket.destroy();
    expect(again.status).toBe(408); // not 503: the first one's slot was released
  });

  it('auth.required false: a credential-less upgrade is served as with auth off, a wrong credential is still refused', async () => {
    const h = await startHub({ auth: { authenticate: fakeAuthenticate(), required: false } });
    stop = h.close;
    const anon = await rawClient(h.listener.jsonUrl);
    anon.ws.send(JSON.stringify(['t/']));
    expect(JSON.parse((await anon.waitTexts(1))[0]!)).toMatchObject({ type: 'ack' });
    anon.close();
    const wrong = await rawClient(h.listener.jsonUrl, { Authorization: 'Bearer wrong' });
    wrong.ws.send(JSON.stringify(['t/']));
    expect(JSON.parse((await wrong.waitTexts(1))[0]!)).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect((await wrong.closed).code).toBe(1008);
  });
});

describe('subprotocols and credentials', () => {
  it('selects isobroker.v1, else the first offered one, never a bearer. entry', () => {
    expect(selectSubprotocol(new Set([`bearer.${GOOD_TOKEN}`, 'isobroker.v1']))).toBe('isobroker.v1');
    expect(selectSubprotocol(new Set(['foo', 'bar']))).toBe('foo');
    expect(selectSubprotocol(new Set([`bearer.${GOOD_TOKEN}`, 'foo']))).toBe('foo');
    expect(selectSubprotocol(new Set([`bearer.${GOOD_TOKEN}`]))).toBe(false);
  });

  it('reads Authorization before the subprotocol before the cookie; malformed ones are errors without the value', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
    const opts = { cookieName: 'isb', cookieOriginAllowed: true, maxBytes: 100 };
    expect(
      upgradeCredential(
        req({ authorization: 'Bearer a.b.c', 'sec-websocket-protocol': 'isobroker.v1, bearer.x', cookie: 'isb=y' }),
        opts,
      ),
    ).toEqual({ credential: { kind: 'bearer', value: 'a.b.c' }, source: 'authorization' });
    expect(
      upgradeCredential(req({ 'sec-websocket-protocol': 'isobroker.v1, bearer.isbk_k', cookie: 'isb=y' }), opts),
    ).toEqual({ credential: { kind: 'api_key', value: 'isbk_k' }, source: 'subprotocol' });
    expect(upgradeCredential(req({ cookie: 'a=1; isb="y.z"' }), opts)).toEqual({
      credential: { kind: 'bearer', value: 'y.z' },
      source: 'cookie',
    });
    expect(upgradeCredential(req({ cookie: 'isb=y' }), { ...opts, cookieOriginAllowed: false })).toEqual({
      credential: undefined,
    });
    for (const bad of <Record<string, string>[]>[
      { authorization: 'Basic dXNlcjpwdw==' },
      { authorization: 'Bearer a b' },
      { authorization: 'Bearer <script>' },
      { 'sec-websocket-protocol': 'bearer.a, bearer.b' },
    ]) {
      const r = upgradeCredential(req(bad), opts);
      expect('invalid' in r, JSON.stringify(bad)).toBe(true);
      if ('invalid' in r) expect(r.invalid.message).not.toMatch(/dXNlcjpwdw|script|bearer\.a/);
    }
    expect(upgradeCredential(req({ authorization: `Bearer ${'x'.repeat(101)}` }), opts)).toEqual({
      tooLarge: 'Authorization',
    });
  });

  it('warns about explicit opt-outs on non-loopback hosts only', () => {
    expect(listenWarnings({ host: '0.0.0.0', insecureTransport: true, insecureNoAuth: true })).toHaveLength(2);
    expect(listenWarnings({ host: '127.0.0.1', insecureTransport: true, insecureNoAuth: true })).toEqual([]);
    expect(listenWarnings(undefined)).toEqual([]);
  });
});
