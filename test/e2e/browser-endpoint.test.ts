/**
 * The "." entry in real Chromium: a page subscribes through a hub and receives what a Node
 * endpoint publishes, and publishes an event the Node endpoint receives with its types intact.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Endpoint, address, count, equals, makeEvent, real, string, type Message } from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import { PAGE_HTML, bundlePage, launchChromium } from '../support/browser.js';
import { until } from '../support/endpoints.js';

let hub: Endpoint;
let listener: Listener;
let browser: Browser;
let page: Page;
let node: Endpoint;
const consoleErrors: string[] = [];

type Api = {
  start(url: string): Promise<string>;
  received(): { topic: string; type: string; text: string }[];
  publish(): void;
  hasRoute(topic: string): boolean;
};

beforeAll(async () => {
  const js = await bundlePage(fileURLToPath(new URL('./pages/endpoint-page.ts', import.meta.url)));
  hub = new Endpoint({ name: 'hub', role: 'hub' });
  listener = await listen(hub, {
    http: (req, res) => {
      if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
    },
  });
  node = new Endpoint({ name: 'node' });
  await node.peer(listener.url);
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`http://127.0.0.1:${listener.port}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  await node?.close();
  await hub?.close();
  await listener?.close();
});

it('a browser page peers through a hub and receives events published by a Node endpoint', async () => {
  const id = await page.evaluate(
    (url) => (globalThis as unknown as { isobrokerTest: Api }).isobrokerTest.start(url),
    listener.url,
  );
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  await node.whenRoutable('demo/event');
  node.publish('demo/event', makeEvent('ping', [string('hello'), count(2n ** 64n - 1n), address('2001:db8::1')]));
  node.publish('other/event', string('not for the page'));
  await expect
    .poll(() => page.evaluate(() => (globalThis as unknown as { isobrokerTest: Api }).isobrokerTest.received()), {
      timeout: 10_000,
    })
    .toEqual([
      { topic: 'demo/event', type: 'vector', text: '[1, 1, ["ping", ["hello", 18446744073709551615, 2001:db8::1]]]' },
    ]);
});

it('an event published from the page reaches the Node endpoint with its types intact', async () => {
  const got: Message[] = [];
  node.subscribe('from-browser/', (m) => got.push(m));
  await expect
    .poll(
      () =>
        page.evaluate(() =>
          (globalThis as unknown as { isobrokerTest: Api }).isobrokerTest.hasRoute('from-browser/event'),
        ),
      { timeout: 10_000 },
    )
    .toBe(true);
  await page.evaluate(() => (globalThis as unknown as { isobrokerTest: Api }).isobrokerTest.publish());
  await until(() => got.length === 1, 10_000, 'event from the browser');
  expect(equals(got[0]!.data, makeEvent('clicked', [count(42), address('10.0.0.1'), real(1.5)]))).toBe(true);
  expect(consoleErrors).toEqual([]);
});
