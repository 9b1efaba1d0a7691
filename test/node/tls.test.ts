/**
 * TLS peerings from Node: `peer(endpoint, 'wss://…', { tls })` from isobroker/node, against local
 * TLS WebSocket servers that serve Broker JSON v1 like a Zeek does — one configured as Broker's
 * default listener (anonymous TLS: aNULL ciphers, ECDH on P-384, no certificates at all) and one
 * with a certificate signed by a throwaway CA generated here with `openssl`
 * (test/support/certs.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Endpoint, count, type Message } from 'isobroker';
import { BROKER_ANONYMOUS_TLS, peer } from 'isobroker/node';
import { jsonV1 } from 'isobroker/json-v1';
import { wrapWebSocket, type WebSocketLike } from '../../src/transport/websocket-transport.js';
import { makeCa, makeCert } from '../support/certs.js';

const JSON_PATH = '/v1/messages/json';

interface TlsHub {
  readonly hub: Endpoint;
  readonly url: string;
  close(): Promise<void>;
}

/** A hub whose JSON v1 path is served over TLS with `options` (like a Zeek's WebSocket listener). */
async function tlsHub(options: ServerOptions): Promise<TlsHub> {
  const hub = new Endpoint({ name: 'tls-hub', protocols: [jsonV1] });
  const server: Server = createServer(options, (_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: JSON_PATH });
  wss.on('connection', (ws, req) => {
    hub.accept(
      wrapWebSocket(ws as unknown as WebSocketLike, `${req.socket.remoteAddress}:${req.socket.remotePort}`),
      'json',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    url: `wss://127.0.0.1:${port}${JSON_PATH}`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Peers a fresh endpoint with `url` and checks that a message travels both ways. */
async function exchange(h: TlsHub, connect: (ep: Endpoint) => Promise<void>): Promise<void> {
  const ep = new Endpoint({ name: 'tls-client', protocols: [jsonV1] });
  try {
    const got = new Promise<Message>((resolve) => ep.subscribe('tls/down', resolve));
    const up = new Promise<Message>((resolve) => h.hub.subscribe('tls/up', resolve));
    await connect(ep);
    ep.publish('tls/up', count(1n));
    expect((await up).data).toEqual(count(1n));
    h.hub.publish('tls/down', count(2n));
    expect((await got).data).toEqual(count(2n));
  } finally {
    await ep.close();
  }
}

describe("TLS to a default Broker (anonymous TLS, Broker's cipher setup)", () => {
  let h: TlsHub;
  beforeAll(async () => {
    // Broker's default: no certificate, anonymous ECDH (AECDH) on P-384, TLS 1.2.
    h = await tlsHub({ ciphers: 'aNULL:eNULL:@SECLEVEL=0', ecdhCurve: 'P-384', maxVersion: 'TLSv1.2' });
  });
  afterAll(() => h.close());

  it('connects with BROKER_ANONYMOUS_TLS and exchanges messages', async () => {
    await exchange(h, (ep) => peer(ep, h.url, { tls: BROKER_ANONYMOUS_TLS, retry: 0 }));
  });

  it('fails without the preset (Node refuses anonymous ciphers by default)', async () => {
    const ep = new Endpoint({ name: 'plain', protocols: [jsonV1] });
    ep.on('error', () => undefined);
    await expect(peer(ep, h.url, { retry: 0 })).rejects.toThrow();
    await ep.close();
  });

  it('documents the preset exactly', () => {
    expect(BROKER_ANONYMOUS_TLS).toEqual({
      ciphers: 'aNULL:eNULL:@SECLEVEL=0',
      ecdhCurve: 'P-384',
      maxVersion: 'TLSv1.2',
      rejectUnauthorized: false,
    });
    expect(Object.isFrozen(BROKER_ANONYMOUS_TLS)).toBe(true);
  });
});

describe('TLS with certificates', () => {
  let dir: string;
  let ca: string;
  let otherCa: string;
  let h: TlsHub;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isobroker-tls-'));
    const caFiles = makeCa(dir, 'ca', 'isobroker test CA');
    const server = makeCert(dir, { name: 'server', cn: 'localhost', ca: caFiles, san: 'DNS:localhost,IP:127.0.0.1' });
    ca = caFiles.certPem;
    otherCa = makeCa(dir, 'other', 'another CA').certPem;
    h = await tlsHub({ key: server.keyPem, cert: server.certPem });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects when the server certificate is signed by the given CA', async () => {
    await exchange(h, (ep) => peer(ep, h.url, { tls: { ca }, retry: 0 }));
  });

  it('checks the name: servername localhost matches, another name does not', async () => {
    await exchange(h, (ep) => peer(ep, h.url, { tls: { ca, servername: 'localhost' }, retry: 0 }));
    const ep = new Endpoint({ name: 'wrong-name', protocols: [jsonV1] });
    ep.on('error', () => undefined);
    await expect(peer(ep, h.url, { tls: { ca, servername: 'zeek.example' }, retry: 0 })).rejects.toThrow();
    await ep.close();
  });

  it('refuses a server signed by another CA, and one without any CA given', async () => {
    for (const tls of [{ ca: otherCa }, {}]) {
      const ep = new Endpoint({ name: 'untrusted', protocols: [jsonV1] });
      ep.on('error', () => undefined);
      await expect(peer(ep, h.url, { tls, retry: 0 })).rejects.toThrow();
      await ep.close();
    }
  });

  it('validates TLS options with ConfigError', async () => {
    const ep = new Endpoint({ name: 'bad-options' });
    await expect(peer(ep, h.url, { tls: { ca: 42 as unknown as string } })).rejects.toThrow(ConfigError);
    await expect(peer(ep, h.url, { tls: { rejectUnauthorized: 'no' as unknown as boolean } })).rejects.toThrow(
      /tls.rejectUnauthorized/,
    );
    await expect(peer(ep, h.url, { tls: { maxVersion: 'SSLv3' as never } })).rejects.toThrow(/tls.maxVersion/);
    await expect(peer(ep, h.url, { tls: { cert: ca } })).rejects.toThrow(/cert and key go together/);
    await expect(peer(ep, h.url.replace('wss:', 'ws:'), { tls: { ca } })).rejects.toThrow(/wss:\/\//);
    await ep.close();
  });
});
