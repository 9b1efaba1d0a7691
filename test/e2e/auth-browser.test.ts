/**
 * Browser-side checks of the listener's Origin and credential rules in real Chromium:
 * - with auth off, a page served from another local port cannot open the hub (the WebSocket
 *   fails; the hub refused the upgrade with 403 and audited `origin_rejected`);
 * - with `auth.origins` + `cookieName`, a page from the allowed origin is authenticated by its
 *   cookie; the same cookie from another origin is refused (403 when the origin is not allowed
 *   at all, `unauthenticated` + 1008 and no ack when it may connect but not with a cookie);
 * - a browser client using the `bearer.<jwt>` subprotocol (`bearerProtocols`) is accepted, the
 *   hub selects `isobroker.v1`, and it receives only its grant (native SDK peering and JSON v1).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Endpoint, count } from 'isobroker';
import type { AuditEvent } from '../../src/auth/types.js';
import { parsePolicy } from '../../src/auth/policy.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { PolicyHolder } from '../../src/node/auth/policy-file.js';
import { listen, type Listener } from '../../src/node/listener/listener.js';
import { PAGE_HTML, bundlePage, launchChromium } from '../support/browser.js';

type Attempt = {
  opened: boolean;
  protocol: string;
  messages: string[];
  closeCode: number | undefined;
  error: boolean;
};
type Api = {
  jsonAttempt(url: string, topics: string[], protocols: string[] | null, ms: number): Promise<Attempt>;
  offer(token: string): string[];
  peerNative(url: string, token: string): Promise<void>;
  received(): string[];
  stop(): Promise<void>;
};

const secret = randomBytes(32);
const cleanup: (() => unknown)[] = [];
let browser: Browser;
let context: BrowserContext;
let js: string;

/** A page server on its own port (its own origin). */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function openPage(origin: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  return page;
}

function call<K extends keyof Api>(
  page: Page,
  name: K,
  ...args: Parameters<Api[K]>
): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const api = (globalThis as unknown as { authTest: Record<string, (...x: unknown[]) => unknown> }).authTest;
      return api[n as string]!(...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<Awaited<ReturnType<Api[K]>>>;
}

async function token(sub: string, role: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, iat: now, exp: now + 600, isb: { roles: [role] } })
    .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .sign(secret);
}

/** A hub endpoint with a listener (`options`), collecting its audit events. */
async function hubWith(
  options: Parameters<typeof listen>[1],
): Promise<{ hub: Endpoint; listener: Listener; audit: AuditEvent[] }> {
  const hub = new Endpoint({ name: 'hub', role: 'hub' });
  const audit: AuditEvent[] = [];
  hub.on('audit', (e: AuditEvent) => audit.push(e));
  const listener = await listen(hub, options);
  cleanup.push(
    () => hub.close(),
    () => listener.close(),
  );
  return { hub, listener, audit };
}

function authenticator() {
  const r = parsePolicy({
    version: 1,
    keys: [{ kid: 'k1', alg: 'HS256', secret: secret.toString('base64url') }],
    roles: { viewer: { publish: { allow: ['app/allowed/'] }, subscribe: { allow: ['app/allowed/'] } } },
  });
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return createAuthenticator(new PolicyHolder(r.policy)).authenticate;
}

beforeAll(async () => {
  js = await bundlePage(fileURLToPath(new URL('./pages/auth-page.ts', import.meta.url)));
  browser = await launchChromium();
  context = await browser.newContext();
});

afterAll(async () => {
  await browser?.close();
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('Origin with auth off', () => {
  it('a page served from another local port is refused: the WebSocket fails and the hub answered 403', async () => {
    const { listener, audit } = await hubWith({});
    // What the hub answered each upgrade (the browser hides the status from the page).
    const statuses: number[] = [];
    listener.server.prependListener('upgrade', (_req, socket) => {
      for (const name of ['write', 'end'] as const) {
        const orig = socket[name].bind(socket) as (...a: unknown[]) => unknown;
        (socket as unknown as Record<string, unknown>)[name] = (chunk: unknown, ...rest: unknown[]) => {
          const m =
            typeof chunk === 'string' || Buffer.isBuffer(chunk) ? /^HTTP\/1\.1 (\d{3})/.exec(String(chunk)) : null;
          if (m) statuses.push(Number(m[1]));
          return orig(chunk, ...rest);
        };
      }
    });
    const other = await pageServer();
    const page = await openPage(other.origin);
    const a = await call(page, 'jsonAttempt', listener.jsonUrl, ['app/'], null, 3000);
    expect(a).toMatchObject({ opened: false, error: true, closeCode: 1006, messages: [] });
    expect(statuses).toEqual([403]);
    expect(audit.filter((e) => e.kind === 'origin_rejected').map((e) => e.detail)).toEqual([
      `Origin ${JSON.stringify(other.origin)}`,
    ]);

    // The same page may connect once the hub lists its origin.
    const listed = await hubWith({ allowedOrigins: [other.origin] });
    const ok = await call(page, 'jsonAttempt', listed.listener.jsonUrl, ['app/'], null, 3000);
    expect(ok.opened).toBe(true);
    expect(JSON.parse(ok.messages[0]!)).toMatchObject({ type: 'ack' });
    await page.close();
  });
});

describe('cookie and bearer subprotocol credentials with auth on', () => {
  let listener: Listener;
  let hub: Endpoint;
  let audit: AuditEvent[];
  let allowed: string;
  let connectOnly: string;
  let unlisted: string;

  beforeAll(async () => {
    [allowed, connectOnly, unlisted] = (await Promise.all([pageServer(), pageServer(), pageServer()]).then((s) =>
      s.map((x) => x.origin),
    )) as [string, string, string];
    ({ hub, listener, audit } = await hubWith({
      // The cookie page's origin is an auth origin; connectOnly may open WebSockets but its cookie is no credential.
      allowedOrigins: [connectOnly],
      auth: { authenticate: authenticator(), required: true, cookieName: 'isb', origins: [allowed] },
    }));
    // Cookies are per host, not per port: every page on 127.0.0.1 sends it to the hub.
    await context.addCookies([
      { name: 'isb', value: await token('cookie-user', 'viewer'), domain: '127.0.0.1', path: '/', httpOnly: true },
    ]);
  });

  it('accepts the cookie from the allowed origin and refuses the same cookie from other origins', async () => {
    const pageA = await openPage(allowed);
    const a = await call(pageA, 'jsonAttempt', listener.jsonUrl, ['app/allowed/'], null, 3000);
    expect(a.opened).toBe(true);
    expect(JSON.parse(a.messages[0]!)).toMatchObject({ type: 'ack' });

    // Allowed to connect, but not with a cookie: an error, close 1008, no ack.
    const pageB = await openPage(connectOnly);
    const b = await call(pageB, 'jsonAttempt', listener.jsonUrl, ['app/allowed/'], null, 3000);
    expect(b.opened).toBe(true);
    expect(b.messages.map((m) => JSON.parse(m) as { type: string; code?: string })).toEqual([
      expect.objectContaining({ type: 'error', code: 'unauthenticated' }),
    ]);
    expect(b.closeCode).toBe(1008);

    // Not allowed at all: 403 before any WebSocket, the cookie never looked at.
    const pageC = await openPage(unlisted);
    const c = await call(pageC, 'jsonAttempt', listener.jsonUrl, ['app/allowed/'], null, 3000);
    expect(c).toMatchObject({ opened: false, error: true, closeCode: 1006, messages: [] });
    expect(audit.some((e) => e.kind === 'origin_rejected' && e.detail === `Origin ${JSON.stringify(unlisted)}`)).toBe(
      true,
    );
    expect(JSON.stringify(audit)).not.toContain((await context.cookies())[0]!.value);
    await Promise.all([pageA.close(), pageB.close(), pageC.close()]);
  });

  it('a browser client with the bearer subprotocol is accepted and receives only its grant', async () => {
    await context.clearCookies(); // only the subprotocol carries a credential now
    const t = await token('bearer-user', 'viewer');
    const page = await openPage(allowed);
    expect(await call(page, 'offer', t)).toEqual(['isobroker.v1', `bearer.${t}`]);

    // JSON v1 over a raw browser WebSocket offering bearerProtocols(token): isobroker.v1 selected.
    const j = await call(page, 'jsonAttempt', listener.jsonUrl, [''], await call(page, 'offer', t), 1500);
    expect(j.opened).toBe(true);
    expect(j.protocol).toBe('isobroker.v1');
    const first = j.messages.map((m) => JSON.parse(m) as { type: string; code?: string });
    expect(first[0]).toMatchObject({ type: 'ack' });
    expect(first.slice(1)).toEqual([expect.objectContaining({ type: 'error', code: 'subscription_narrowed' })]);

    // The SDK's browser Endpoint: peer(url, { protocols: bearerProtocols(token) }), subscribed to everything.
    await call(page, 'peerNative', listener.url, t);
    await hub.whenRoutable('app/allowed/x');
    for (let i = 0; i < 5; i++) {
      hub.publish('app/secret/x', count(i));
      hub.publish('other/x', count(i));
      hub.publish('app/allowed/x', count(i));
    }
    hub.publish('app/allowed/end', count(0));
    await expect
      .poll(async () => (await call(page, 'received')).includes('app/allowed/end'), { timeout: 10_000 })
      .toBe(true);
    const got = await call(page, 'received');
    expect(got).toEqual([...Array(5).fill('app/allowed/x'), 'app/allowed/end']);
    await call(page, 'stop');
    await page.close();
  });
});
