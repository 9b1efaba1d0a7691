/**
 * The live dashboard end to end: a real cluster (`isobroker cluster --demo`, one child process per
 * node, started for this file, auth on), the built page in headless Chromium, and Node endpoints
 * peered with the manager on the side — everything on 127.0.0.1. The tests run in order on one page.
 *
 * The demo refuses clients without a token. The side endpoint `ep` holds the dashboard's token,
 * fetched from the launcher's `/token` as the page does, and does only what the page may do
 * (subscribe under `demo/`); the store is written by `writer`, a hub joining the demo with a
 * token signed with the demo's secret (read from the policy file the nodes were started with).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  Endpoint,
  address,
  boolean,
  count,
  createClone,
  defaultLayout,
  enumValue,
  equals,
  integer,
  makeEvent,
  port,
  real,
  string,
  subnet,
  timespan,
  timestamp,
  type Message,
  type StoreClone,
} from 'isobroker';
import { launchChromium } from '../support/browser.js';
import {
  buildDashboard,
  recordConsole,
  startLauncher,
  tid,
  type ConsoleRecord,
  type Launcher,
} from '../support/dashboard.js';
import { mintToken, parseSigningKey } from '../../server/cli/token.js';

/**
 * The default layout's nodes (manager, logger-1, proxy-1/2, worker-1/2), what `npm start` runs, so
 * the README's screenshot shows that cluster; the ports are free ones, not the default 27760+.
 */
const NODES = defaultLayout().nodes.map((n) => [n.name, n.role] as const);
const NAMES = NODES.map(([n]) => n);
const SCREENSHOT = fileURLToPath(new URL('../../test-results/dashboard.png', import.meta.url));
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
/** `ISOBROKER_UPDATE_DOCS=1` (`npm run docs:screenshot`) also refreshes the README's screenshot, a tracked file. */
const UPDATE_DOCS = process.env.ISOBROKER_UPDATE_DOCS === '1';
const MAX_DOCS_PNG_BYTES = 400 * 1024;

/** A key the test writes into the manager's `known_hosts` (the demo's hosts are 10.0.x.y). */
const HOST_1 = '203.0.113.5';
const HOST_2 = '203.0.113.6';

let launcher: Launcher;
let browser: Browser;
let page: Page;
let consoleLog: ConsoleRecord;
let ep: Endpoint;
let writer: Endpoint;
let clone: StoreClone | undefined;

/** The dashboard's token, from the launcher's `/token` (same origin, loopback) as the page gets it. */
async function dashboardToken(): Promise<string> {
  const res = await fetch(new URL('/token', launcher.url));
  if (!res.ok) throw new Error(`/token answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * A token of the demo's `hub` role (hubs that join the cluster: every topic, any store; a node
 * role, so the token names the endpoint, `writer`), signed with the demo's secret from the policy
 * file the manager was started with (its `--policy`).
 */
async function hubToken(): Promise<string> {
  const args = readFileSync(`/proc/${launcher.pid('manager')}/cmdline`, 'utf8').split('\0');
  const policy = JSON.parse(readFileSync(args[args.indexOf('--policy') + 1]!, 'utf8')) as {
    keys: { kid: string; secret: string }[];
  };
  const { kid, secret } = policy.keys[0]!;
  return mintToken({
    key: await parseSigningKey(secret, 'HS256'),
    kid,
    sub: 'e2e-writer',
    roles: ['hub'],
    node: 'e2e-writer',
  });
}

beforeAll(async () => {
  // `npm test` compiles dist/ (the launcher runs it) but not the page: build it here.
  await buildDashboard();
  launcher = await startLauncher(NODES);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  consoleLog = recordConsole(page);
  ep = new Endpoint({ name: 'e2e-node', retry: 100, maxRetry: 500 });
  await ep.peer(launcher.managerUrl, { token: await dashboardToken(), getToken: dashboardToken });
  writer = new Endpoint({ name: 'e2e-writer', retry: 100, maxRetry: 500 });
  await writer.peer(launcher.managerUrl, { token: await hubToken() });
  await page.goto(launcher.url);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
}, 60_000);

afterAll(async () => {
  clone?.close();
  await ep?.close();
  await writer?.close();
  await browser?.close();
  await launcher?.stop();
});

// ---- small readers of the page

const bodyData = (key: 'mode' | 'connection'): Promise<string | undefined> =>
  page.evaluate((k) => document.body.dataset[k], key);
const nodeStates = (): Promise<Record<string, string>> =>
  page.$$eval('[data-testid^="node-"]', (els) =>
    Object.fromEntries(els.map((e) => [e.getAttribute('data-testid')!.slice(5), e.getAttribute('data-state') ?? ''])),
  );
const allUp = async (): Promise<boolean> => {
  const s = await nodeStates();
  return NAMES.every((n) => s[n] === 'up');
};
const eventRows = (): Promise<{ topic: string; name: string }[]> =>
  page.$$eval(tid('event-row'), (els) =>
    els.map((e) => ({ topic: e.getAttribute('data-topic') ?? '', name: e.getAttribute('data-name') ?? '' })),
  );
const topicsShown = async (): Promise<string[]> => [...new Set((await eventRows()).map((r) => r.topic))].sort();
const storeKeys = (): Promise<string[]> =>
  page.$$eval(tid('store-row'), (els) => els.map((e) => e.getAttribute('data-key') ?? ''));
const storeState = (): Promise<string | null> => page.getAttribute(tid('store-status'), 'data-state');
const storeRow = (key: string): string => `${tid('store-row')}[data-key="${key}"]`;
/** Width and height from a PNG's IHDR chunk. */
const pngSize = (png: Buffer): { width: number; height: number } => ({
  width: png.readUInt32BE(16),
  height: png.readUInt32BE(20),
});
const logTotal = async (): Promise<number> =>
  Number(/ of (\d+) rows/.exec((await page.textContent('#log-meta')) ?? '')?.[1] ?? 0);

async function setFilter(text: string): Promise<void> {
  const filter = page.locator(tid('event-filter'));
  await filter.fill(text, { timeout: 10_000 });
  // Enter applies at once (typing applies after a debounce); Clear drops rows of the old filter.
  await filter.press('Enter', { timeout: 10_000 });
  await page.click(tid('events-clear'), { timeout: 10_000 });
}

// ---- the tests, in order

it('shows every node of the layout up', async () => {
  await page.waitForFunction(
    (names) =>
      names.every((n) => document.querySelector(`[data-testid="node-${n}"]`)?.getAttribute('data-state') === 'up'),
    NAMES,
    {
      timeout: 15_000,
    },
  );
  expect(Object.keys(await nodeStates()).sort()).toEqual([...NAMES].sort());
  expect(await bodyData('mode')).toBe('cluster');
  expect(await bodyData('connection')).toBe('connected');
  expect(await page.isHidden(tid('banner'))).toBe(true);
});

it('shows every event by default, sampled above what the page draws, and says so', async () => {
  // A fresh page has no filter: every topic the page may read (the demo's, stats, log tails).
  expect(await page.inputValue(tid('event-filter'))).toBe('');
  await expect
    .poll(async () => (await topicsShown()).filter((t) => t.startsWith('isobroker/stats/')).length, { timeout: 10_000 })
    .toBeGreaterThan(0);
  await expect
    .poll(async () => (await topicsShown()).some((t) => t.startsWith('demo/conn/')), { timeout: 10_000 })
    .toBe(true);
  // Two workers publish 50 connections a second each: more than the page draws (25 a second).
  await expect
    .poll(() => page.textContent('#events-meta'), { timeout: 15_000 })
    .toMatch(/^all topics · .* sampled: 1 in \d+ shown \(\d+\/s arriving, the page draws up to 25\/s\)/);
  expect(Number(await page.getAttribute('#events-meta', 'data-sample'))).toBeGreaterThan(1);
});

it('shows cluster totals, and each node with its uptime and restarts from the launcher', async () => {
  const total = async (k: string): Promise<number> => Number(await page.getAttribute(tid(`total-${k}`), 'data-value'));
  await expect.poll(() => total('messages'), { timeout: 10_000 }).toBeGreaterThan(50);
  await expect.poll(() => total('bytes'), { timeout: 10_000 }).toBeGreaterThan(1000);
  // Every node peers with the manager at least, and the page and the two Node endpoints are clients.
  await expect.poll(() => total('connections'), { timeout: 10_000 }).toBeGreaterThanOrEqual(NAMES.length - 1 + 3);
  expect(await total('drops')).toBeGreaterThanOrEqual(0);
  expect(await page.textContent(tid('total-messages'))).toMatch(/ msg\/s$/);
  expect(await page.textContent(tid('total-bytes'))).toMatch(/ (B|KiB|MiB)\/s$/);
  expect(await page.textContent(tid('total-nodes'))).toBe(`${NAMES.length} / ${NAMES.length}`);
  const rows = (): Promise<{ node: string; state: string; uptime: string; restarts: string }[]> =>
    page.$$eval(tid('nodes-row'), (els) =>
      els.map((e) => ({
        node: e.getAttribute('data-node') ?? '',
        state: e.getAttribute('data-state') ?? '',
        uptime: e.querySelector('[data-testid="nodes-uptime"]')?.textContent ?? '',
        restarts: e.querySelector('[data-testid="nodes-restarts"]')?.textContent ?? '',
      })),
    );
  await expect
    .poll(async () => (await rows()).filter((r) => r.state === 'up' && /^\d+ (s|min \d+ s)$/.test(r.uptime)).length, {
      timeout: 10_000,
    })
    .toBe(NAMES.length);
  expect((await rows()).map((r) => r.node).sort()).toEqual([...NAMES].sort());
  expect((await rows()).every((r) => r.restarts === '0')).toBe(true);
});

it('lists the busiest topics by messages/s', async () => {
  const topics = (): Promise<{ topic: string; rate: number }[]> =>
    page.$$eval(tid('topic-row'), (els) =>
      els.map((e) => ({ topic: e.getAttribute('data-topic') ?? '', rate: Number(e.getAttribute('data-rate')) })),
    );
  await expect
    .poll(async () => (await topics()).filter((t) => t.topic.startsWith('demo/conn/worker-')).length, {
      timeout: 10_000,
    })
    .toBe(2);
  const list = await topics();
  // Each worker publishes 50 connections a second; the list is sorted, busiest first.
  for (const t of list.filter((x) => x.topic.startsWith('demo/conn/'))) expect(t.rate).toBeGreaterThan(10);
  expect(list.map((t) => t.rate)).toEqual([...list.map((t) => t.rate)].sort((a, b) => b - a));
  expect(await page.textContent(`${tid('topic-row')} td:nth-child(2)`)).toMatch(/ msg\/s$/);
});

it('lists the clients of each node, and the list changes as a client connects and leaves', async () => {
  const clients = (): Promise<{ node: string; name: string; kind: string; cells: string[] }[]> =>
    page.$$eval(tid('client-row'), (els) =>
      els.map((e) => ({
        node: e.getAttribute('data-node') ?? '',
        name: e.getAttribute('data-name') ?? '',
        kind: e.getAttribute('data-kind') ?? '',
        cells: Array.from(e.querySelectorAll('td')).map((td) => td.textContent ?? ''),
      })),
    );
  // The page itself and the two Node endpoints of this file are clients of the manager.
  await expect
    .poll(
      async () =>
        (await clients())
          .filter((c) => c.node === 'manager')
          .map((c) => c.name)
          .sort(),
      {
        timeout: 10_000,
      },
    )
    .toEqual(expect.arrayContaining(['e2e-node', 'e2e-writer']));
  expect((await clients()).some((c) => c.node === 'manager' && c.kind === 'browser')).toBe(true);
  // No peering between nodes is listed as a client.
  expect((await clients()).filter((c) => NAMES.includes(c.name))).toEqual([]);

  const visitor = new Endpoint({ name: 'e2e-visitor', retry: 100, maxRetry: 500 });
  try {
    await visitor.peer(launcher.managerUrl, { token: await dashboardToken() });
    visitor.subscribe(['demo/conn/', 'demo/pong'], () => undefined);
    await expect
      .poll(async () => (await clients()).find((c) => c.name === 'e2e-visitor'), { timeout: 10_000 })
      .toBeDefined();
    const row = (await clients()).find((c) => c.name === 'e2e-visitor')!;
    expect(row.node).toBe('manager');
    // node, client, kind, protocol, address, subscriptions, queue, drops
    expect(row.cells[2]).toBe('endpoint');
    expect(row.cells[3]).toBe('native · leaf');
    expect(row.cells[4]).toContain('127.0.0.1');
    // Its two prefixes at least (the endpoint may subscribe to internal topics of its own).
    await expect
      .poll(async () => Number((await clients()).find((c) => c.name === 'e2e-visitor')?.cells[5]), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    expect(row.cells[6]).toMatch(/^\d+(\.\d)? % \(\d+\)$/);
    expect(row.cells[7]).toBe('0');
  } finally {
    await visitor.close();
  }
  await expect
    .poll(async () => (await clients()).some((c) => c.name === 'e2e-visitor'), { timeout: 10_000 })
    .toBe(false);
  expect((await clients()).map((c) => c.name)).toEqual(expect.arrayContaining(['e2e-node', 'e2e-writer']));
}, 60_000);

it('charts have a time axis, a unit axis and show the values under the pointer', async () => {
  const chart = `${tid('rate-chart')}[data-node="worker-1"]`;
  await page.waitForSelector(`${chart} .u-over`, { timeout: 10_000 });
  const axes = await page.$$eval(`${chart} .u-axis`, (els) => els.map((e) => e.textContent ?? ''));
  expect(axes.length).toBe(2);
  // uPlot draws tick values and axis titles on its canvas; the container names the axes.
  expect(await page.getAttribute(`${chart} .rate-plot`, 'data-axes')).toBe('time | msg/s');
  const legend = (sel: string): Promise<string[]> =>
    page.$$eval(`${sel} .u-legend .u-value`, (els) => els.map((e) => e.textContent ?? ''));
  // Hover over the middle of the totals chart: the legend holds the time and both values there.
  await expect.poll(async () => page.locator(`${tid('totals-chart')} .u-over`).count(), { timeout: 10_000 }).toBe(1);
  const over = page.locator(`${tid('totals-chart')} .u-over`);
  const box = (await over.boundingBox())!;
  await expect
    .poll(
      async () => {
        await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
        return legend(tid('totals-chart'));
      },
      { timeout: 10_000, interval: 500 },
    )
    .toEqual([
      expect.stringMatching(/\d\d:\d\d:\d\d/),
      expect.stringMatching(/ msg\/s$/),
      expect.stringMatching(/ (B|KiB|MiB)\/s$/),
    ]);
  expect(await page.locator(`${tid('totals-chart')} .u-axis`).count()).toBe(3);
  expect(await page.getAttribute(tid('totals-chart'), 'data-axes')).toBe('time | msg/s | bytes/s');
  await page.mouse.move(0, 0);
}, 60_000);

it('log timestamps show in local time, the raw value on hover', async () => {
  await page.waitForSelector(`${tid('log-row')} td.time`, { timeout: 10_000 });
  const cells = await page.$$eval(`${tid('log-row')} td.time`, (tds) =>
    tds.slice(0, 20).map((td) => {
      const raw = td.getAttribute('data-raw') ?? '';
      const d = new Date(Number(raw) * 1000);
      const p = (n: number, w = 2): string => String(n).padStart(w, '0');
      const local = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
      return { text: td.textContent ?? '', title: td.getAttribute('title') ?? '', raw, local };
    }),
  );
  expect(cells.length).toBeGreaterThan(0);
  for (const c of cells) {
    expect(c.raw).toMatch(/^\d{10}\.\d{6}$/);
    expect(c.text).toBe(c.local);
    expect(c.title).toContain(c.raw);
  }
  // The time column is the log's `ts`.
  const fields = await page.$$eval('#log-head th', (ths) => ths.map((t) => t.textContent ?? ''));
  const ts = fields.indexOf('ts');
  expect(await page.$eval(`${tid('log-row')} td:nth-child(${ts + 1})`, (td) => td.classList.contains('time'))).toBe(
    true,
  );
});

it('a typed topic filter shows only matching events', async () => {
  // The broad prefix shows both workers' connections…
  await setFilter('demo/');
  await expect.poll(topicsShown, { timeout: 10_000 }).toEqual(['demo/conn/worker-1', 'demo/conn/worker-2']);
  // …the narrow one only worker-1's, while worker-2 keeps publishing.
  await setFilter('demo/conn/worker-1');
  await expect.poll(async () => (await eventRows()).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
  const rows = await eventRows();
  expect(new Set(rows.map((r) => r.topic))).toEqual(new Set(['demo/conn/worker-1']));
  expect(new Set(rows.map((r) => r.name))).toEqual(new Set(['Demo::conn']));
  expect(await page.inputValue(tid('event-filter'))).toBe('demo/conn/worker-1');
}, 60_000);

it('changing the filter drops the rows it no longer matches, and keeps the rest', async () => {
  await setFilter('demo/conn/');
  await expect.poll(topicsShown, { timeout: 10_000 }).toEqual(['demo/conn/worker-1', 'demo/conn/worker-2']);
  // No Clear this time: the rows of worker-1 go at once, those of worker-2 stay.
  const filter = page.locator(tid('event-filter'));
  await filter.fill('demo/conn/worker-2');
  await filter.press('Enter');
  const after = await topicsShown();
  expect(after).toEqual(['demo/conn/worker-2']);
  await expect.poll(topicsShown, { timeout: 10_000 }).toEqual(['demo/conn/worker-2']);
}, 60_000);

it('the publish form’s defaults reach the demo’s manager, and the page shows its own publish', async () => {
  // Ping and pong only: few enough that nothing is sampled away.
  await setFilter('demo/p');
  const pongs: Message[] = [];
  const sub = ep.subscribe('demo/pong', (m) => pongs.push(m));
  try {
    expect(await page.inputValue(tid('publish-topic'))).toBe('demo/ping');
    expect(await page.inputValue(tid('publish-name'))).toBe('Demo::ping');
    // Publish until the page knows a route to the manager's subscription (it says so when it has none).
    await expect
      .poll(
        async () => {
          await page.click(tid('publish-send'));
          return page.textContent('#publish-result');
        },
        { timeout: 10_000, interval: 300 },
      )
      .toMatch(/^sent Demo::ping\(string hello from the dashboard, count 42, addr 10\.0\.0\.1\) on demo\/ping$/);
    await page.waitForSelector(`${tid('event-row')}[data-own="yes"][data-topic="demo/ping"]`, { timeout: 5000 });
    await page.waitForSelector(`${tid('event-row')}[data-topic="demo/pong"][data-name="Demo::pong"]`, {
      timeout: 10_000,
    });
    expect(await page.textContent(`${tid('event-row')}[data-topic="demo/pong"] .ev-args`)).toMatch(
      /^string manager\s*string Demo::ping\s*string hello from the dashboard\s*count 42\s*addr 10\.0\.0\.1$/,
    );
    // A Node subscriber of the demo cluster got the manager's answer too.
    await expect.poll(() => pongs.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.textContent('#events-meta')).toMatch(/\d+ sent by this page/);
  } finally {
    sub.unsubscribe();
  }
}, 60_000);

it('saves a screenshot of the whole dashboard at 1280×800', async () => {
  await setFilter('demo/');
  await expect.poll(topicsShown, { timeout: 10_000 }).toEqual(['demo/conn/worker-1', 'demo/conn/worker-2']);
  await expect.poll(allUp, { timeout: 10_000 }).toBe(true);
  await page.waitForSelector(tid('log-row'), { timeout: 10_000 });
  await expect.poll(storeState, { timeout: 10_000 }).toBe('in-sync');
  // Every node's rate chart has samples (each node publishes its stats at least).
  const published = (): Promise<number[]> =>
    page.$$eval(tid('rate-chart'), (els) => els.map((e) => Number(e.getAttribute('data-published'))));
  await expect
    .poll(async () => (await published()).filter((r) => r > 0).length, { timeout: 10_000 })
    .toBe(NAMES.length);
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  const { width, height } = pngSize(readFileSync(SCREENSHOT));
  expect(width).toBe(1280);
  expect(height).toBeGreaterThan(800);
  // The README's copy is the first screen (topology, rates, events, store, publish form): the
  // whole page is 360–420 KB depending on what it shows, over the budget for a tracked image.
  if (UPDATE_DOCS) {
    mkdirSync(dirname(DOCS_SCREENSHOT), { recursive: true });
    await page.screenshot({ path: DOCS_SCREENSHOT });
    expect(statSync(DOCS_SCREENSHOT).size).toBeLessThan(MAX_DOCS_PNG_BYTES);
  }
  // Five waits of up to 10 s each: on a loaded machine they add up past the default 30 s, and a
  // test that timed out would keep running and photograph the next test's half-filled form.
}, 60_000);

it('an event published from the form reaches a Node subscriber with its types intact', async () => {
  const got: Message[] = [];
  const sub = ep.subscribe('demo/from-page', (m) => got.push(m));
  try {
    await page.fill(tid('publish-topic'), 'demo/from-page');
    await page.fill(tid('publish-name'), 'E2E::typed');
    const args: (readonly [string, string])[] = [
      ['string', 'héllo — wörld'],
      ['count', '18446744073709551615'],
      ['addr', '2001:db8::1'],
      ['integer', '-7'],
      ['real', '1.5'],
      ['port', '53/udp'],
      ['subnet', '10.1.0.0/16'],
      ['time', '2024-05-01T12:00:00'],
      ['interval', '250ms'],
      ['enum', 'Log::WRITER_ASCII'],
      ['bool', 'T'],
    ];
    // The first row with Playwright's own actions; the other ten in one step through the same
    // controls (the "+ Argument" button, the type menu, the value box, firing the events a user's
    // input fires): while the log tail keeps the page's main thread busy (see the report), each
    // Playwright action costs a few hundred ms, and thirty of them made this test slow.
    await page.selectOption(tid('publish-arg-type-0'), args[0]![0]);
    await page.fill(tid('publish-arg-value-0'), args[0]![1]);
    await page.evaluate((rows) => {
      rows.forEach(([type, value], k) => {
        const q = <T extends Element>(id: string): T => document.querySelector<T>(`[data-testid="${id}"]`)!;
        if (!document.querySelector(`[data-testid="publish-arg-type-${k + 1}"]`))
          q<HTMLButtonElement>('publish-add-arg').click();
        const select = q<HTMLSelectElement>(`publish-arg-type-${k + 1}`);
        select.value = type;
        select.dispatchEvent(new Event('change', { bubbles: true }));
        const input = q<HTMLInputElement>(`publish-arg-value-${k + 1}`);
        input.value = value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
    }, args.slice(1));
    // The form holds exactly these rows (a type the menu lacks would read as '').
    const form = await page.$$eval('#publish-args .arg-row', (rows) =>
      rows.map((r) => [r.querySelector('select')!.value, r.querySelector('input')!.value] as const),
    );
    expect(form).toEqual(args);

    // Bad input is refused inline and nothing is sent.
    await page.fill(tid('publish-arg-value-1'), '-1');
    await page.click(tid('publish-send'));
    await page.waitForSelector(tid('publish-error'), { state: 'visible' });
    expect(await page.textContent(tid('publish-error'))).toContain('argument 2 (count)');
    await page.fill(tid('publish-arg-value-1'), args[1]![1]);
    await page.waitForSelector(tid('publish-error'), { state: 'hidden' });

    // Publish until the page knows a route to our subscription (it says so when it has none:
    // the subscription reaches the page through the manager); those sends are dropped unseen.
    await expect
      .poll(
        async () => {
          await page.click(tid('publish-send'));
          return page.textContent('#publish-result');
        },
        { timeout: 10_000, interval: 200 },
      )
      .toMatch(/^sent E2E::typed\(.*\) on demo\/from-page$/);
    await expect.poll(() => got.length, { timeout: 10_000 }).toBeGreaterThan(0);

    const expected = makeEvent('E2E::typed', [
      string('héllo — wörld'),
      count(18446744073709551615n),
      address('2001:db8::1'),
      integer(-7n),
      real(1.5),
      port(53, 'udp'),
      subnet('10.1.0.0/16'),
      timestamp(1_714_564_800_000_000_000n),
      timespan(250_000_000n),
      enumValue('Log::WRITER_ASCII'),
      boolean(true),
    ]);
    for (const m of got) {
      expect(m.topic).toBe('demo/from-page');
      expect(
        equals(m.data, expected),
        `received ${JSON.stringify(m.data, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`,
      ).toBe(true);
    }
  } finally {
    sub.unsubscribe();
  }
}, 60_000);

it('the store browser shows a change made on the manager', async () => {
  await expect.poll(storeState, { timeout: 15_000 }).toBe('in-sync');
  clone = await createClone(writer, 'known_hosts');
  await clone.whenInSync(10_000);
  await clone.put(address(HOST_1), timestamp(1_714_564_800_000_000_000n));
  await page.waitForSelector(storeRow(HOST_1), { timeout: 10_000 });
  expect(await page.textContent(storeRow(HOST_1))).toMatch(/^addr 203\.0\.113\.5\s*time 2024-05-01T12:00:00/);
  // The demo's hosts are there too; a search narrows the table down to ours.
  expect((await storeKeys()).length).toBeGreaterThan(1);
  await page.fill(tid('store-search'), '203.0.113');
  await expect.poll(storeKeys, { timeout: 5000 }).toEqual([HOST_1]);
  await page.fill(tid('store-search'), '');
  await expect.poll(async () => (await storeKeys()).length, { timeout: 5000 }).toBeGreaterThan(1);
});

it('the log tail shows new conn records', async () => {
  await page.waitForSelector(tid('log-row'), { timeout: 10_000 });
  const fields = await page.$$eval('#log-head th', (ths) => ths.map((t) => t.textContent ?? ''));
  expect(fields).toEqual(
    expect.arrayContaining(['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'conn_state']),
  );
  const uidColumn = fields.indexOf('uid');
  const newestUid = (): Promise<string> =>
    page.$$eval(`${tid('log-row')}:first-child td`, (tds, k) => tds[k]?.textContent ?? '', uidColumn);
  expect(await newestUid()).toMatch(/^C[0-9A-Za-z]{12,17}$/); // Zeek-style: C and 96 random bits in base62
  const total = await logTotal();
  const rows = await page.locator(tid('log-row')).count();
  const newest = await newestUid();
  expect(total).toBeGreaterThan(0);
  // The tail grows: more records written since the page opened, a newer one on top.
  await expect.poll(logTotal, { timeout: 10_000 }).toBeGreaterThan(total);
  await expect.poll(newestUid, { timeout: 10_000 }).not.toBe(newest);
  expect(await page.locator(tid('log-row')).count()).toBeGreaterThanOrEqual(rows);
});

it('is readable at 1280×800 and at 390×844', async () => {
  const panels = ['topology-h', 'rates-h', 'events-h', 'publish-h', 'store-h', 'log-h'].map(
    (h) => `section[aria-labelledby="${h}"]`,
  );
  // Wide tables scroll inside their own box (`.table-wrap`), not the page.
  const controls = [
    'h1',
    tid('node-manager'),
    tid('event-filter'),
    tid('publish-send'),
    tid('store-status'),
    tid('store-search'),
    '.log-panel .table-wrap',
  ];
  for (const [width, height] of [
    [390, 844],
    [1280, 800],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.waitForFunction((w) => window.innerWidth === w, width);
    // One look at the laid-out page (each Playwright call costs a round trip to a busy page).
    const seen = await page.evaluate(
      (sels) => {
        const out = sels.map((sel) => {
          const el = document.querySelector(sel);
          const r = el?.getBoundingClientRect();
          const visible =
            !!el &&
            !!r &&
            r.width > 0 &&
            r.height > 0 &&
            el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
          return { sel, visible, left: r?.left ?? NaN, right: r?.right ?? NaN };
        });
        const fonts = Array.from(
          document.querySelectorAll('main :is(h2, p, label, button, input, select, td, th, .ev-topic, .arg)'),
        )
          .filter((e) => e.getClientRects().length > 0)
          .map((e) => parseFloat(getComputedStyle(e).fontSize));
        return {
          out,
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
          smallestFont: Math.min(...fonts),
        };
      },
      [...panels, ...controls],
    );
    expect(seen.scroll, `horizontal overflow at ${width}×${height}`).toBeLessThanOrEqual(seen.inner);
    for (const e of seen.out) {
      expect(e.visible, `${e.sel} visible at ${width}×${height}`).toBe(true);
      expect(e.left, `${e.sel} starts inside at ${width}`).toBeGreaterThanOrEqual(0);
      expect(e.right, `${e.sel} ends inside at ${width}`).toBeLessThanOrEqual(width + 0.5);
    }
    expect(seen.smallestFont, `smallest text at ${width}×${height}`).toBeGreaterThanOrEqual(11);
  }
});

it('a killed worker turns down, and the launcher’s restart brings it back up', async () => {
  const starts = launcher.ups('worker-1').length;
  const old = launcher.pid('worker-1');
  const nodeTitle = (): Promise<string> => page.$eval(`${tid('node-worker-1')} title`, (t) => t.textContent ?? '');
  const oldId = /\nid (\S+)/.exec(await nodeTitle())?.[1];
  expect(oldId).toMatch(/^[0-9a-f-]{36}$/);
  // When the page changes worker-1's state, by the page's clock (the test's too: one machine).
  await page.evaluate(() => {
    const w = window as unknown as { e2eChanges: { state: string; at: number }[] };
    const now = (): string => document.querySelector('[data-testid="node-worker-1"]')?.getAttribute('data-state') ?? '';
    let last = now();
    w.e2eChanges = [];
    new MutationObserver(() => {
      if (now() !== last) w.e2eChanges.push({ state: (last = now()), at: Date.now() });
    }).observe(document.getElementById('topology')!, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
  const changes = (): Promise<{ state: string; at: number }[]> =>
    page.evaluate(() => (window as unknown as { e2eChanges: { state: string; at: number }[] }).e2eChanges);

  // Every node peers with the manager, and the manager reports its peers twice a second: the page
  // shows a node down as soon as the manager no longer lists it — before the launcher's restart
  // (1 s later) brings it back, and within 2 s even if the restart were instant.
  const killedAt = Date.now();
  process.kill(old, 'SIGKILL');
  await page.waitForSelector(`${tid('node-worker-1')}[data-state="down"]`, { state: 'attached', timeout: 8000 });
  expect(await page.textContent(`${tid('node-worker-1')} .node-sub`)).toBe('down');
  // The other nodes stay up (on a loaded machine one may miss its 2 s of stats for a moment, which
  // the page rightly shows: so the check is that they are all up while worker-1 is not).
  await expect
    .poll(
      async () => {
        const states = await nodeStates();
        return NAMES.filter((n) => n !== 'worker-1' && states[n] !== 'up');
      },
      { timeout: 10_000 },
    )
    .toEqual([]);
  const again = await launcher.waitUp('worker-1', starts + 1);
  expect(again.pid).not.toBe(old);
  await page.waitForSelector(`${tid('node-worker-1')}[data-state="up"]`, { state: 'attached', timeout: 10_000 });
  // It is the new process: its endpoint has a new id.
  await expect.poll(async () => /\nid (\S+)/.exec(await nodeTitle())?.[1], { timeout: 5000 }).not.toBe(oldId);
  const seen = await changes();
  // Down first, up last. On a loaded machine the new process's stats may pause longer than the
  // page's silence limit while it starts, which the page rightly shows as one more down/up.
  const shown = seen.map((c) => c.state);
  expect(shown[0]).toBe('down');
  expect(shown.at(-1)).toBe('up');
  expect(shown.every((st, i) => st === (i % 2 === 0 ? 'down' : 'up'))).toBe(true);
  const downAfter = seen[0]!.at - killedAt;
  // The requirement: a node that dies is shown down within 2 s.
  expect(downAfter).toBeLessThan(2000);
  console.info(
    `worker-1 shown down ${downAfter} ms after SIGKILL, changes ${JSON.stringify(seen.map((c) => [c.state, c.at - killedAt]))}`,
  );
  await expect.poll(allUp, { timeout: 10_000 }).toBe(true);
  // The launcher counts the restart; the page shows it (it reads the launcher every 2 s).
  await expect
    .poll(() => page.textContent(`${tid('nodes-row')}[data-node="worker-1"] ${tid('nodes-restarts')}`), {
      timeout: 10_000,
    })
    .toBe('1');
});

it('after a reload the store shows its persisted copy before the network answers, stale, then catches up', async () => {
  // The persisted copy holds HOST_1, which the page showed live.
  await page.waitForSelector(storeRow(HOST_1));
  expect(await storeState()).toBe('in-sync');
  // The network "does not answer": the manager is paused (SIGSTOP), not killed, so the launcher
  // does not restart it and the kernel still accepts TCP on its port — the page's WebSocket
  // handshake just hangs, as behind a dead link, while the launcher keeps serving the page and
  // /cluster.json. Rejected alternatives: Chromium's offline emulation also fails the reload
  // itself; `page.routeWebSocket` can hold the socket, but then every later socket of the page
  // runs through Playwright's proxy instead of the network.
  const manager = launcher.pid('manager');
  let put: Promise<void> | undefined;
  process.kill(manager, 'SIGSTOP');
  try {
    await page.reload();
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    await page.waitForSelector(storeRow(HOST_1), { timeout: 5000 });
    expect(await storeState()).toBe('stale');
    expect(await page.textContent(tid('store-status'))).toBe('stale');
    expect(await bodyData('connection')).toBe('connecting');
    // A change the persisted copy cannot hold: it reaches the master once it runs again.
    put = clone!.put(address(HOST_2), timestamp(1_714_564_801_000_000_000n));
    put.catch(() => undefined);
    expect(await page.locator(storeRow(HOST_2)).count()).toBe(0);
  } finally {
    process.kill(manager, 'SIGCONT');
  }
  await page.waitForSelector(storeRow(HOST_2), { timeout: 15_000 });
  await expect.poll(storeState, { timeout: 10_000 }).toBe('in-sync');
  expect(await storeKeys()).toEqual(expect.arrayContaining([HOST_1, HOST_2]));
  await put;
  await expect.poll(bodyData.bind(null, 'connection'), { timeout: 10_000 }).toBe('connected');
});

it('shows the disconnected banner instead of a blank page while the manager is down', async () => {
  const starts = launcher.ups('manager').length;
  const old = launcher.pid('manager');
  await consoleLog.whileCut(async () => {
    process.kill(old, 'SIGKILL');
    await page.waitForSelector(tid('banner'), { state: 'visible', timeout: 10_000 });
    expect(['lost', 'unavailable']).toContain(await page.getAttribute(tid('banner'), 'data-state'));
    expect(await page.textContent(tid('banner'))).toMatch(/lost — reconnecting|Cannot reach/);
    expect(await page.textContent(tid('banner'))).toContain(launcher.managerUrl);
    // The rest of the page keeps what it had.
    expect(await bodyData('mode')).toBe('cluster');
    expect(await page.locator('[data-testid^="node-"]').count()).toBe(NAMES.length);
    expect((await storeKeys()).length).toBeGreaterThan(1);
    expect(await page.locator(tid('log-row')).count()).toBeGreaterThan(0);
    await launcher.waitUp('manager', starts + 1);
    await expect.poll(bodyData.bind(null, 'connection'), { timeout: 15_000 }).toBe('connected');
  });
  expect(await page.isHidden(tid('banner'))).toBe(true);
  await expect.poll(storeState, { timeout: 15_000 }).toBe('in-sync');
  await expect.poll(allUp, { timeout: 10_000 }).toBe(true);
});

it('logged no console errors', () => {
  expect(consoleLog.errors()).toEqual([]);
  console.info(
    `allowed ${consoleLog.allowedFailures} 'WebSocket connection … failed' lines while the manager was down`,
  );
});
