/**
 * Credentials of outgoing peerings against a real authenticating listener on 127.0.0.1: a Node
 * endpoint (`peer` from isobroker/node) reaches it over JSON v1 and native with `token` or
 * `getToken`; an endpoint with a browser-like WebSocket (no headers) reaches the JSON v1 path
 * through the `bearer.<token>` subprotocol, and its `headers` are refused with a ConfigError;
 * native peerings present the token in the hello and renew it in band when the hub warns that it
 * expires; without a credential the hub refuses the peering.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, Endpoint, count, type Message } from 'isobroker';
import { listen, peer, type Listener } from 'isobroker/node';
import { jsonV1 } from 'isobroker/json-v1';
import { AuthError, type Credential, type Principal } from '../../src/auth/types.js';
import { FULL_ACCESS } from '../../src/auth/prefix-acl.js';
import { DEFAULT_LIMITS } from '../../src/auth/policy.js';
import type { WebSocketConstructor } from '../../src/transport/websocket-transport.js';

/** Like a browser's WebSocket: two constructor arguments, no `pause`/`terminate` on its prototype. */
class BrowserLikeWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    // biome-ignore lint/correctness/noConstructorReturn: stands in for the browser's class
    return new WebSocket(url, protocols) as unknown as BrowserLikeWebSocket;
  }
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (sub: string, n: number) =>
  `${b64url({ alg: 'EdDSA' })}.${b64url({ sub, n, exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;

function principal(sub: string, expiresAt?: number): Principal {
  return {
    sub,
    roles: ['client'],
    node: null,
    router: false,
    publish: FULL_ACCESS,
    subscribe: FULL_ACCESS,
    storeAccess: () => 'write',
    limits: DEFAULT_LIMITS,
    strict: false,
    expiresAt,
    issuedAt: undefined,
    credentialId: undefined,
    method: 'token',
  };
}

interface Hub {
  readonly hub: Endpoint;
  readonly listener: Listener;
  readonly valid: Set<string>;
  /** Expiry (ms since the epoch) the hub gives a token's principal; none when absent. */
  readonly expiry: Map<string, number>;
  /** Credentials the hub was shown, in order (test-only: a real hub never records them). */
  readonly seen: Credential[];
}

let h: Hub | undefined;
const endpoints: Endpoint[] = [];
afterEach(async () => {
  for (const ep of endpoints.splice(0)) await ep.close();
  if (h) {
    await h.listener.close();
    await h.hub.close();
  }
  h = undefined;
});

async function hub(): Promise<Hub> {
  const valid = new Set<string>();
  const expiry = new Map<string, number>();
  const seen: Credential[] = [];
  const ep = new Endpoint({ name: 'hub', role: 'hub' });
  const listener = await listen(ep, {
    host: '127.0.0.1',
    port: 0,
    auth: {
      authenticate: async (credential) => {
        if (credential) seen.push(credential);
        if (!credential || !valid.has(credential.value)) throw new AuthError('unauthenticated', 'unknown token');
        return principal(credential.value.slice(0, 8), expiry.get(credential.value));
      },
    },
  });
  h = { hub: ep, listener, valid, expiry, seen };
  return h;
}

function client(o: ConstructorParameters<typeof Endpoint>[0] = {}): Endpoint {
  const ep = new Endpoint({ name: `client-${endpoints.length}`, protocols: [jsonV1], ...o });
  endpoints.push(ep);
  return ep;
}

/** A message published by `from` on `topic` reaches `to`. */
async function travels(from: Endpoint, to: Endpoint, topic: string): Promise<void> {
  const got = new Promise<Message>((resolve) => to.subscribe(topic, resolve));
  for (let i = 0; i < 50; i++) {
    from.publish(topic, count(BigInt(i)));
    const r = await Promise.race([got, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (r) return;
  }
  throw new Error(`nothing arrived on ${topic}`);
}

describe('peering with an authenticating hub', () => {
  it('Node, JSON v1, getToken: the Authorization header authenticates the peering', async () => {
    const { hub: hubEp, listener, valid, seen } = await hub();
    const token = jwt('json-client', 1);
    valid.add(token);
    const ep = client();
    let calls = 0;
    await peer(ep, listener.jsonUrl, {
      retry: 0,
      getToken: async () => {
        calls++;
        return token;
      },
    });
    expect(calls).toBe(1);
    expect(seen.map((c) => c.value)).toEqual([token]);
    await travels(ep, hubEp, 'creds/json-up');
  });

  it('Node, native, token: the peering comes up', async () => {
    const { listener, valid, seen } = await hub();
    const token = jwt('native-client', 2);
    valid.add(token);
    const ep = client();
    await peer(ep, listener.url, { retry: 0, token });
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((c) => c.value === token)).toBe(true);
  });

  it('browser-like, JSON v1, token: the bearer subprotocol authenticates the peering', async () => {
    const { hub: hubEp, listener, valid, seen } = await hub();
    const token = jwt('browser', 3);
    valid.add(token);
    const ep = client({ WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor });
    await ep.peer(listener.jsonUrl, { retry: 0, token });
    expect(seen.map((c) => c.value)).toEqual([token]);
    await travels(ep, hubEp, 'creds/browser-up');
  });

  it('browser-like, native, getToken: the hello carries the token (no header, no subprotocol)', async () => {
    const { hub: hubEp, listener, valid, seen } = await hub();
    const token = jwt('browser-native', 5);
    valid.add(token);
    const ep = client({ WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor });
    await ep.peer(listener.url, { retry: 0, getToken: () => token });
    expect(seen.map((c) => c.value)).toEqual([token]);
    await travels(ep, hubEp, 'creds/browser-native-up');
  });

  for (const [name, WebSocketImpl] of [
    ['Node', undefined],
    ['browser-like', BrowserLikeWebSocket as unknown as WebSocketConstructor],
  ] as const) {
    it(`${name}, native: the hub warns the token expires, getToken renews it in band`, async () => {
      const { hub: hubEp, listener, valid, expiry, seen } = await hub();
      const tokens = [jwt('refresher', 6), jwt('refresher', 7)];
      for (const t of tokens) valid.add(t);
      // The first expires within the hub's warning time: the hub asks for a Reauth at once.
      expiry.set(tokens[0]!, Date.now() + 5000);
      let calls = 0;
      const ep = client(WebSocketImpl ? { WebSocket: WebSocketImpl } : {});
      const statuses: string[] = [];
      ep.on('status', (ev) => statuses.push(ev.code));
      await ep.peer(listener.url, { retry: 0, getToken: () => tokens[calls++]! });
      for (let i = 0; i < 200 && seen.at(-1)?.value !== tokens[1]; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.at(-1)?.value).toBe(tokens[1]);
      expect(calls).toBe(2);
      await travels(ep, hubEp, `creds/refreshed-${name}`);
      expect(statuses).not.toContain('peer_lost');
    });
  }

  it('browser-like: headers are a ConfigError before anything is dialled', async () => {
    const { listener, seen } = await hub();
    const ep = client({ WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor });
    const err = await ep.peer(listener.jsonUrl, { headers: { Authorization: 'Bearer x' } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('headers');
    expect(seen).toEqual([]);
  });

  it('without a valid credential the hub refuses the peering', async () => {
    const { listener } = await hub();
    const ep = client();
    await expect(peer(ep, listener.jsonUrl, { retry: 0, token: jwt('stranger', 4) })).rejects.toBeDefined();
    await expect(peer(ep, listener.url, { retry: 0 })).rejects.toBeDefined();
  });
});
