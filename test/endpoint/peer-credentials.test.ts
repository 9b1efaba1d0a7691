/**
 * Credentials of outgoing peerings, as they reach a real WebSocket server on 127.0.0.1 (a plain
 * `ws` server that records each upgrade request): from Node a JSON v1 peering's token travels as
 * `Authorization: Bearer` with the given headers; from a browser (a WebSocket constructor that
 * takes no headers) it offers `isobroker.v1, bearer.<token>`; a native peering's token is left to
 * its hello; never in the URL.
 * `getToken` runs again on a reconnect when the token expires within a minute, and a failing
 * `getToken` is retried with the peering's backoff. Options are checked with `ConfigError`s.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePeerOptions, type PeerCredentialOptions } from '../../src/endpoint/endpoint-options.js';
import { JSON_PATH, NATIVE_PATH, Peering, type PeerProtocol } from '../../src/endpoint/peering.js';
import { systemTimers } from '../../src/util/timers.js';
import { ConfigError } from '../../src/errors.js';
import type { Connector, Transport } from '../../src/transport/transport.js';
import { websocketConnector, type WebSocketConstructor } from '../../src/transport/websocket-transport.js';
import { tlsConnector } from '../../src/node/tls.js';

const nodeConnector = websocketConnector(WebSocket as unknown as WebSocketConstructor);

/** Like a browser's WebSocket: two constructor arguments, no `pause`/`terminate` on its prototype. */
class BrowserLikeWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    // biome-ignore lint/correctness/noConstructorReturn: stands in for the browser's class
    return new WebSocket(url, protocols) as unknown as BrowserLikeWebSocket;
  }
}
const browserConnector = websocketConnector(BrowserLikeWebSocket as unknown as WebSocketConstructor);

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64url({ alg: 'EdDSA' })}.${b64url(claims)}.c2lnbmF0dXJl`;
const expiringIn = (ms: number, n: number) => jwt({ sub: 'client', n, exp: Math.floor((Date.now() + ms) / 1000) });

interface Upgrade {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly protocols: string[];
}

/** A WebSocket server that records upgrades, selects `isobroker.v1` when offered, and closes at once when told. */
class RecordingServer {
  readonly upgrades: Upgrade[] = [];
  closeAtOnce = false;
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {}

  static async start(): Promise<RecordingServer> {
    const server = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({
      server,
      handleProtocols: (protocols) => (protocols.has('isobroker.v1') ? 'isobroker.v1' : false),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const s = new RecordingServer(server, wss, (server.address() as AddressInfo).port);
    wss.on('connection', (ws, req) => {
      const offered = req.headers['sec-websocket-protocol'];
      s.upgrades.push({
        url: req.url ?? '',
        headers: req.headers,
        protocols: offered ? offered.split(',').map((p) => p.trim()) : [],
      });
      for (const w of s.waiters.filter((x) => s.upgrades.length >= x.n)) w.resolve();
      if (s.closeAtOnce) ws.close(1008, 'token_expired');
    });
    return s;
  }

  url(path: string): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `n` upgrades arrived. */
  upgraded(n: number): Promise<void> {
    if (this.upgrades.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Dialled {
  readonly peering: Peering;
  readonly transports: Transport[];
  readonly failures: unknown[];
}

/** A peering driven like the endpoint drives one: each transport is closed by the server or by us. */
function dial(
  url: string,
  protocol: PeerProtocol,
  connector: Connector,
  options: Parameters<typeof resolvePeerOptions>[0],
  retry = 20,
): Dialled {
  const { credentials } = resolvePeerOptions(options, 1000, connector);
  const transports: Transport[] = [];
  const failures: unknown[] = [];
  const peering: Peering = new Peering(url, protocol, retry, 200, {
    connector,
    timers: systemTimers,
    ...(credentials ? { credentials } : {}),
    open: (p, t) => {
      transports.push(t);
      t.attach({ onMessage: () => {}, onClose: () => p.down() });
      p.up('peer');
    },
    unavailable: (_p, err) => failures.push(err),
  });
  peering.start();
  return { peering, transports, failures };
}

let server: RecordingServer;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) f();
  await server?.close();
});
function stopAtEnd(d: Dialled): Dialled {
  cleanup.push(() => {
    d.peering.stop();
    for (const t of d.transports) t.close();
  });
  return d;
}

describe('credentials on the upgrade', () => {
  it('Node JSON v1: Authorization: Bearer plus the given headers and protocols; nothing in the URL', async () => {
    server = await RecordingServer.start();
    const token = expiringIn(3_600_000, 1);
    const d = stopAtEnd(
      dial(server.url(JSON_PATH), 'json', nodeConnector, {
        token,
        headers: { 'X-Tenant': 'blue', 'User-Agent': 'isobroker-test' },
        protocols: ['isobroker.v1'],
      }),
    );
    await d.peering.whenUp();
    const u = server.upgrades[0]!;
    expect(u.headers.authorization).toBe(`Bearer ${token}`);
    expect(u.headers['x-tenant']).toBe('blue');
    expect(u.headers['user-agent']).toBe('isobroker-test');
    expect(u.protocols).toEqual(['isobroker.v1']);
    expect(u.url).toBe(JSON_PATH);
    expect(u.url).not.toContain(token.split('.')[1]!);
  });

  it('Node native: the token is left to the hello (renewed in band); given headers go on the upgrade', async () => {
    server = await RecordingServer.start();
    const d = stopAtEnd(
      dial(server.url(NATIVE_PATH), 'native', nodeConnector, {
        getToken: () => 'opaque-key-1',
        headers: { 'X-Tenant': 'green' },
      }),
    );
    await d.peering.whenUp();
    expect(server.upgrades[0]!.headers.authorization).toBeUndefined();
    expect(server.upgrades[0]!.headers['x-tenant']).toBe('green');
    expect(server.upgrades[0]!.protocols).toEqual([]);
    // Fetched before the dial, for the hello.
    expect(d.peering.tokens?.current()).toBe('opaque-key-1');
  });

  it('browser JSON v1: offers isobroker.v1 and bearer.<token>, sends no Authorization header', async () => {
    server = await RecordingServer.start();
    const token = expiringIn(3_600_000, 2);
    const d = stopAtEnd(dial(server.url(JSON_PATH), 'json', browserConnector, { token }));
    await d.peering.whenUp();
    const u = server.upgrades[0]!;
    expect(u.protocols).toEqual(['isobroker.v1', `bearer.${token}`]);
    expect(u.headers.authorization).toBeUndefined();
    expect(u.url).toBe(JSON_PATH);
  });

  it('browser native: the token is left to the hello; given protocols are offered as they are', async () => {
    server = await RecordingServer.start();
    const d = stopAtEnd(
      dial(server.url(NATIVE_PATH), 'native', browserConnector, { token: 'opaque', protocols: ['isobroker.v1'] }),
    );
    await d.peering.whenUp();
    expect(server.upgrades[0]!.protocols).toEqual(['isobroker.v1']);
    expect(server.upgrades[0]!.headers.authorization).toBeUndefined();
  });

  it('the TLS connector of isobroker/node sends headers too (its WebSocket extends ws)', async () => {
    server = await RecordingServer.start();
    const connector = tlsConnector({ rejectUnauthorized: false });
    expect(connector.sendsHeaders).toBe(true);
    const d = stopAtEnd(dial(server.url(JSON_PATH), 'json', connector, { token: 'opaque-2', headers: { 'X-A': 'b' } }));
    await d.peering.whenUp();
    expect(server.upgrades[0]!.headers.authorization).toBe('Bearer opaque-2');
    expect(server.upgrades[0]!.headers['x-a']).toBe('b');
  });

  it('no credentials: the upgrade is what it always was', async () => {
    server = await RecordingServer.start();
    const d = stopAtEnd(dial(server.url(JSON_PATH), 'json', nodeConnector, {}));
    await d.peering.whenUp();
    expect(server.upgrades[0]!.headers.authorization).toBeUndefined();
    expect(server.upgrades[0]!.headers['sec-websocket-protocol']).toBeUndefined();
    expect(d.peering.tokens).toBeUndefined();
  });
});

describe('getToken across reconnects', () => {
  it('is called again on each reconnect while the token expires within a minute', async () => {
    server = await RecordingServer.start();
    server.closeAtOnce = true;
    let calls = 0;
    const d = stopAtEnd(
      dial(server.url(JSON_PATH), 'json', nodeConnector, {
        getToken: async () => expiringIn(30_000, ++calls),
      }),
    );
    await server.upgraded(3);
    d.peering.stop();
    const sent = server.upgrades.slice(0, 3).map((u) => u.headers.authorization);
    expect(new Set(sent).size).toBe(3);
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('is not called on a reconnect while the token is good for more than a minute', async () => {
    server = await RecordingServer.start();
    server.closeAtOnce = true;
    let calls = 0;
    const token = expiringIn(3_600_000, 0);
    const d = stopAtEnd(
      dial(server.url(JSON_PATH), 'json', nodeConnector, {
        token,
        getToken: async () => expiringIn(3_600_000, ++calls),
      }),
    );
    await server.upgraded(3);
    d.peering.stop();
    expect(calls).toBe(0);
    expect(server.upgrades.slice(0, 3).map((u) => u.headers.authorization)).toEqual(Array(3).fill(`Bearer ${token}`));
  });

  it('a failing getToken fails the dial (no connection), is retried with backoff, and never shows a token', async () => {
    server = await RecordingServer.start();
    let calls = 0;
    const at: number[] = [];
    const d = stopAtEnd(
      dial(
        server.url(JSON_PATH),
        'json',
        nodeConnector,
        {
          getToken: async () => {
            at.push(Date.now());
            if (++calls <= 3) throw new Error('login service unavailable');
            return expiringIn(3_600_000, calls);
          },
        },
        50,
      ),
    );
    await d.peering.whenUp();
    expect(calls).toBe(4);
    expect(server.upgrades).toHaveLength(1);
    expect(d.failures).toHaveLength(3);
    for (const f of d.failures) {
      expect((f as { code?: string }).code).toBe('token_unavailable');
      expect(String((f as Error).message)).toContain('login service unavailable');
    }
    // Backoff: the peering's delays grow (50 ms, then about 100, then about 200, ±20 %).
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[2]).toBeGreaterThanOrEqual(150);
  });
});

describe('resolvePeerOptions', () => {
  const configError = (f: () => unknown): ConfigError => {
    try {
      f();
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('no ConfigError');
  };

  it('refuses headers with a connector that cannot send them (a browser), naming the alternatives', () => {
    const e = configError(() => resolvePeerOptions({ headers: { 'X-A': '1' } }, 1000, browserConnector));
    expect(e.option).toBe('headers');
    expect(e.message).toMatch(/browsers cannot set/);
    expect(e.message).toMatch(/protocols/);
    expect(e.message).toMatch(/cookie/);
    // A connector that does not declare sendsHeaders counts as one that cannot.
    const plain: Connector = async () => {
      throw new Error('unused');
    };
    expect(configError(() => resolvePeerOptions({ headers: { 'X-A': '1' } }, 1000, plain)).option).toBe('headers');
    // The peering's own connector decides, not the endpoint's.
    const ok = resolvePeerOptions({ headers: { 'X-A': '1' }, connector: nodeConnector }, 1000, browserConnector);
    expect(ok.credentials?.sendsHeaders).toBe(true);
    expect(nodeConnector.sendsHeaders).toBe(true);
    expect(browserConnector.sendsHeaders).toBe(false);
  });

  it('checks each credential option and never shows a secret value', () => {
    const secret = 'sekrit-value';
    const cases: [unknown, string][] = [
      [{ token: '' }, 'token'],
      [{ token: `${secret} with spaces` }, 'token'],
      [{ token: 42 }, 'token'],
      [{ getToken: 'x' }, 'getToken'],
      [{ headers: [] }, 'headers'],
      [{ headers: { 'Bad Name': 'x' } }, 'headers'],
      [{ headers: { 'X-A': `${secret}\r\nX-Injected: 1` } }, 'headers'],
      [{ headers: { 'X-A': 1 } }, 'headers'],
      [{ headers: { Host: 'evil' } }, 'headers'],
      [{ headers: { 'Sec-WebSocket-Protocol': 'x' } }, 'headers'],
      [{ headers: { 'x-a': '1', 'X-A': '2' } }, 'headers'],
      [{ headers: { Authorization: `Bearer ${secret}` }, token: 'a' }, 'headers'],
      [{ protocols: 'isobroker.v1' }, 'protocols'],
      [{ protocols: ['has space'] }, 'protocols'],
      [{ protocols: [''] }, 'protocols'],
      [{ protocols: ['a', 'a'] }, 'protocols'],
      [{ protocols: [`bearer.${secret}`], getToken: () => 'x' }, 'protocols'],
    ];
    for (const [o, option] of cases) {
      const e = configError(() => resolvePeerOptions(o as never, 1000, nodeConnector));
      expect(e.option, JSON.stringify(o)).toBe(option);
      expect(e.message).not.toContain(secret);
    }
  });

  it('returns the credentials, or none when nothing was given', () => {
    expect(resolvePeerOptions({ retry: 5 }, 1000, nodeConnector).credentials).toBeUndefined();
    const getToken = () => 't';
    const c = resolvePeerOptions(
      { getToken, headers: { 'X-A': '1' }, protocols: ['isobroker.v1'] },
      1000,
      nodeConnector,
    ).credentials as PeerCredentialOptions;
    expect(c).toEqual({ getToken, headers: { 'X-A': '1' }, protocols: ['isobroker.v1'], sendsHeaders: true });
  });
});
