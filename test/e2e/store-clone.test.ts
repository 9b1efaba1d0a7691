/**
 * A store clone in real Chromium: the page clones a store hosted by a hub and shows its changes;
 * reloaded while the hub is down, it shows the persisted contents at once (stale), then catches
 * up when the hub returns.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Endpoint, count, createMaster, type StoreMaster } from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import { PAGE_HTML, bundlePage, launchChromium } from '../support/browser.js';

let hub: Endpoint;
let listener: Listener;
let master: StoreMaster;
let pages: Server;
let browser: Browser;
let page: Page;
let hubPort = 0;
const errors: string[] = [];

beforeAll(async () => {
  const js = await bundlePage(fileURLToPath(new URL('./pages/clone-page.ts', import.meta.url)));
  pages = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  hub = new Endpoint({ name: 'hub', role: 'hub' });
  master = await createMaster(hub, 'kv', { heartbeatInterval: 200 });
  // The page is served from another port: a different origin, which the hub must list.
  listener = await listen(hub, { allowedOrigins: [pagesOrigin()] });
  hubPort = listener.port;
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !m.text().includes('WebSocket') && errors.push(m.text()));
});

afterAll(async () => {
  await browser?.close();
  master?.close();
  await hub?.close();
  await listener?.close();
  await new Promise((r) => pages?.close(r));
});

const pagesOrigin = (): string => `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;

async function open(): Promise<void> {
  await page.goto(`${pagesOrigin()}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  await page.evaluate(
    (url) => (globalThis as unknown as { startClone(u: string): Promise<void> }).startClone(url),
    `ws://127.0.0.1:${hubPort}`,
  );
}

const text = (id: string) => page.evaluate((x) => document.getElementById(x)!.textContent, id);

it('shows a change made on the hub', async () => {
  await master.put('a', count(1));
  await open();
  await expect.poll(() => text('status'), { timeout: 10_000 }).toBe('in-sync');
  await expect.poll(() => text('entries'), { timeout: 10_000 }).toBe('a=1');
  await master.put('b', count(2));
  await expect.poll(() => text('entries'), { timeout: 10_000 }).toBe('a=1;b=2');
});

it('after a reload shows the persisted clone before the network answers, then catches up', async () => {
  const before = master.resyncBytes;
  // What the page showed is committed before it goes away (a reload may abort a pending transaction).
  await page.evaluate(() => (globalThis as unknown as { flushClone(): Promise<void> }).flushClone());
  await listener.close(); // the hub stops answering
  await master.put('c', count(3));
  await open();
  // Straight from IndexedDB, marked stale: the hub is down.
  await expect.poll(() => text('entries'), { timeout: 5000 }).toBe('a=1;b=2');
  expect(await text('status')).toBe('stale');
  listener = await listen(hub, { port: hubPort, allowedOrigins: [pagesOrigin()] });
  await expect.poll(() => text('entries'), { timeout: 15_000 }).toBe('a=1;b=2;c=3');
  await expect.poll(() => text('status'), { timeout: 10_000 }).toBe('in-sync');
  // It resumed from its persisted sequence number: a delta, no second snapshot.
  expect(master.resyncBytes.snapshot).toBe(before.snapshot);
  expect(master.resyncBytes.delta).toBeGreaterThan(before.delta);
  expect(errors).toEqual([]);
});
