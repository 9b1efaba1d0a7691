/**
 * TLS serving: `wss://` with certificates made by the `openssl` CLI (test/support/certs.ts) — the right CA
 * connects and a wrong one fails, `reloadTls` swaps the certificate for new connections while an
 * open one stays up, and with `clientAuth: 'require'` a client without a certificate is refused
 * while a verified one's CN reaches `authenticate`. Also the non-loopback start refusals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Endpoint } from 'isobroker';
import { ConfigError } from '../../src/errors.js';
import { listen } from '../../src/node/listener/listener.js';
import { LOCAL_SAN, makeCa, makeCert } from '../support/certs.js';
import { type AuthCall, drain, fakeAuthenticate, GOOD_TOKEN, rawSocket, startHub } from './listener-fixtures.js';

let dir: string;
const pem: Record<string, string> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isb-listener-tls-'));
  const ca1 = makeCa(dir, 'ca1');
  const ca2 = makeCa(dir, 'ca2');
  const made = [
    makeCert(dir, { name: 'srv1', cn: 'localhost', ca: ca1, san: LOCAL_SAN }),
    makeCert(dir, { name: 'srv2', cn: 'localhost', ca: ca2, san: LOCAL_SAN }),
    makeCert(dir, { name: 'client', cn: 'node-a', ca: ca1, usage: 'clientAuth' }),
    makeCert(dir, { name: 'stranger', cn: 'node-a', ca: ca2, usage: 'clientAuth' }),
  ];
  for (const c of [ca1, ca2]) pem[`${c.name}.crt`] = c.certPem;
  for (const c of made) {
    pem[`${c.name}.crt`] = c.certPem;
    pem[`${c.name}.key`] = c.keyPem;
  }
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** Opens `url` with TLS client options; resolves the open socket or rejects with the error. */
function open(url: string, tls: WebSocket.ClientOptions, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...tls, headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

/** Subscribes a JSON v1 client to `t/` and waits for the ack. */
async function jsonReady(ws: WebSocket): Promise<string[]> {
  const texts: string[] = [];
  ws.on('message', (d) => texts.push(String(d)));
  ws.send(JSON.stringify(['t/']));
  const t0 = Date.now();
  while (texts.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  expect(JSON.parse(texts.shift() ?? 'null')).toMatchObject({ type: 'ack' });
  return texts;
}

describe('wss://', () => {
  it('serves wss:// to a client that trusts the CA and fails one that trusts another', async () => {
    const h = await startHub({ tls: { cert: pem['srv1.crt']!, key: Buffer.from(pem['srv1.key']!) } });
    stop = h.close;
    expect(h.listener.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(h.listener.jsonUrl).toMatch(/^wss:\/\/.*\/v1\/messages\/json$/);
    const ok = await open(h.listener.jsonUrl, { ca: pem['ca1.crt'] });
    await jsonReady(ok);
    ok.close();
    await expect(open(h.listener.jsonUrl, { ca: pem['ca2.crt'] })).rejects.toThrow(/certificate/i);
    // Plain ws:// to a TLS port gets nowhere.
    await expect(open(h.listener.jsonUrl.replace('wss:', 'ws:'), {})).rejects.toThrow();
  });

  it('reloadTls: new connections get the new certificate, an open connection stays up', async () => {
    const h = await startHub({ tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']! } });
    stop = h.close;
    const old = await open(h.listener.jsonUrl, { ca: pem['ca1.crt'] });
    const oldTexts = await jsonReady(old);
    h.listener.reloadTls({ cert: pem['srv2.crt']!, key: pem['srv2.key']! });
    await expect(open(h.listener.jsonUrl, { ca: pem['ca1.crt'] })).rejects.toThrow(/certificate/i);
    const fresh = await open(h.listener.jsonUrl, { ca: pem['ca2.crt'] });
    await jsonReady(fresh);
    fresh.send('{"type":"data-message","topic":"t/x","@data-type":"count","data":3}');
    const t0 = Date.now();
    while (oldTexts.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(JSON.parse(oldTexts[0]!)).toMatchObject({ topic: 't/x', data: 3 });
    expect(old.readyState).toBe(WebSocket.OPEN);
    old.close();
    fresh.close();
    // A bad certificate is refused and the good one stays.
    expect(() => h.listener.reloadTls({ cert: 'not a certificate', key: pem['srv2.key']! })).toThrow(ConfigError);
    const after = await open(h.listener.jsonUrl, { ca: pem['ca2.crt'] });
    after.close();
  });

  it("clientAuth 'require': no certificate or a stranger's is refused; a verified one's CN reaches authenticate", async () => {
    const calls: AuthCall[] = [];
    const h = await startHub({
      tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']!, ca: pem['ca1.crt']!, clientAuth: 'require' },
      auth: { authenticate: fakeAuthenticate(calls) },
    });
    stop = h.close;
    await expect(
      open(h.listener.jsonUrl, { ca: pem['ca1.crt'] }, { Authorization: `Bearer ${GOOD_TOKEN}` }),
    ).rejects.toThrow();
    await expect(
      open(h.listener.jsonUrl, { ca: pem['ca1.crt'], cert: pem['stranger.crt'], key: pem['stranger.key'] }),
    ).rejects.toThrow();
    expect(calls).toHaveLength(0);
    const ok = await open(h.listener.jsonUrl, { ca: pem['ca1.crt'], cert: pem['client.crt'], key: pem['client.key'] });
    await jsonReady(ok);
    ok.close();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.credential).toBeUndefined();
    expect(calls[0]!.conn).toMatchObject({ certificateName: 'node-a', protocol: 'json' });
  });

  it("clientAuth 'request': a client without a certificate connects with a token and has no certificateName", async () => {
    const calls: AuthCall[] = [];
    const h = await startHub({
      tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']!, ca: pem['ca1.crt']!, clientAuth: 'request' },
      auth: { authenticate: fakeAuthenticate(calls) },
    });
    stop = h.close;
    const ok = await open(h.listener.jsonUrl, { ca: pem['ca1.crt'] }, { Authorization: `Bearer ${GOOD_TOKEN}` });
    await jsonReady(ok);
    ok.close();
    // An unverified (stranger's) certificate is not a name.
    const s = await open(
      h.listener.jsonUrl,
      { ca: pem['ca1.crt'], cert: pem['stranger.crt'], key: pem['stranger.key'] },
      { Authorization: `Bearer ${GOOD_TOKEN}` },
    );
    s.close();
    expect(calls.map((c) => c.conn.certificateName)).toEqual([undefined, undefined]);
  });
});

describe('TLS handshake deadline', () => {
  it('closes TCP connections that never finish the handshake', async () => {
    const h = await startHub({
      tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']! },
      limits: { tlsHandshakeTimeout: 500 },
    });
    stop = h.close;
    const started = Date.now();
    const socks = await Promise.all(Array.from({ length: 20 }, () => rawSocket(h.listener.port)));
    const closed = await Promise.all(socks.map((s) => drain(s, 5000).then((d) => d.closed)));
    expect(closed.every(Boolean)).toBe(true);
    console.log(`TLS: 20 silent TCP sockets closed within ${Date.now() - started} ms (handshake deadline 500 ms)`);
    const ok = await open(h.listener.jsonUrl, { ca: pem['ca1.crt'] });
    ok.close();
  });
});

describe('start refusals and options', () => {
  it('refuses a non-loopback host without TLS or without auth unless told to, naming the option', async () => {
    const ep = new Endpoint({ name: 'x' });
    try {
      const err = (o: Parameters<typeof listen>[1]) =>
        listen(ep, o).then(
          () => undefined,
          (e: unknown) => e,
        );
      const noTls = await err({ host: '0.0.0.0', auth: { authenticate: fakeAuthenticate() } });
      expect(noTls).toBeInstanceOf(ConfigError);
      expect((noTls as ConfigError).option).toBe('insecureTransport');
      const noAuth = await err({ host: '0.0.0.0', tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']! } });
      expect((noAuth as ConfigError).option).toBe('insecureNoAuth');
      for (const [o, option] of [
        [{ tls: { cert: pem['srv1.crt']!, key: 'garbage' } }, 'tls'],
        [{ tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']!, clientAuth: 'require' } }, 'tls.ca'],
        [{ tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']!, minVersion: 'TLSv1' } }, 'tls.minVersion'],
        [{ auth: { authenticate: 'x' } }, 'auth.authenticate'],
        [{ auth: { authenticate: fakeAuthenticate(), cookieName: 'isb' } }, 'auth.origins'],
        [{ auth: { authenticate: fakeAuthenticate(), origins: ['https://a.test/path'] } }, 'auth.origins'],
        [{ limits: { maxConnections: -1 } }, 'limits.maxConnections'],
        [{ limits: { headersTimeout: 5000, requestTimeout: 1000 } }, 'limits.requestTimeout'],
        [{ trustProxy: ['10.0.0.0/33'] }, 'trustProxy'],
        [{ trustProxy: ['nonsense'] }, 'trustProxy'],
      ] as const) {
        const e = await err(o as never);
        expect(e, option).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).option, JSON.stringify(o).slice(0, 80)).toBe(option);
      }
      // Explicit opt-outs start; any 127.x address counts as loopback.
      const l = await listen(ep, { host: '0.0.0.0', insecureTransport: true, insecureNoAuth: true });
      await l.close();
      const lo = await listen(ep, { host: '127.0.0.2' });
      await lo.close();
    } finally {
      await ep.close();
    }
  });
});
