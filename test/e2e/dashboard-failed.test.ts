/**
 * The dashboard with a node that cannot start: a small demo cluster (manager, worker-1) whose
 * manager finds its SQLite store corrupt. The launcher reports it `failed` with the reason and
 * retries with backoff; the page (served by the launcher, in real Chromium) shows the manager as
 * failed with that reason in the topology and the nodes table. Once the store is removed, the
 * next retry comes up, and the page shows the manager up with its restart counted and an uptime.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { buildDashboard, startLauncher, tid, type Launcher } from '../support/dashboard.js';

let launcher: Launcher;
let browser: Browser;
let page: Page;
let store: string;

beforeAll(async () => {
  await buildDashboard();
  launcher = await startLauncher(
    [
      ['manager', 'manager'],
      ['worker-1', 'worker'],
    ],
    {
      until: 'dashboard',
      prepare: (dir) => {
        mkdirSync(join(dir, 'stores'), { recursive: true });
        store = join(dir, 'stores', 'known_hosts.sqlite');
        writeFileSync(store, 'this is not a SQLite database, and it is long enough to be read as a header');
      },
    },
  );
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(launcher.url);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await launcher?.stop();
});

const nodeRow = (name: string): string => `${tid('nodes-row')}[data-node="${name}"]`;

it('shows a node that cannot start as failed, with the launcher’s reason', async () => {
  // The launcher says so first (its status line), the page within its next poll of /cluster.json.
  await launcher.cli.line(/manager failed to start/, 30_000);
  await page.waitForSelector(`${tid('node-manager')}[data-state="failed"]`, { state: 'attached', timeout: 15_000 });
  expect(await page.textContent(`${tid('node-manager')} .node-sub`)).toBe('failed to start');
  expect(await page.getAttribute(tid('node-manager'), 'data-error')).toMatch(/file is not a database/);
  await page.waitForSelector(`${nodeRow('manager')}[data-state="failed"]`, { state: 'attached', timeout: 10_000 });
  expect(await page.textContent(`${nodeRow('manager')} ${tid('nodes-reason')}`)).toMatch(
    /cannot open SQLite store .*known_hosts\.sqlite: file is not a database/,
  );
  expect(await page.textContent(`${nodeRow('manager')} ${tid('nodes-uptime')}`)).toBe('—');
  // The page says why it has no connection rather than showing nothing.
  expect(await page.isVisible(tid('banner'))).toBe(true);
}, 60_000);

it('shows the node up, its restarts counted and its uptime, once a retry succeeds', async () => {
  const failures = Number(
    (await page.textContent(`${nodeRow('manager')} ${tid('nodes-restarts')}`, { timeout: 10_000 })) ?? 0,
  );
  expect(failures).toBeGreaterThanOrEqual(1);
  rmSync(store, { force: true });
  // Retries back off (1 s, 2 s, 4 s, …): wait for the launcher's next start, then for the page.
  await launcher.waitUp('manager', 1, 45_000);
  await page.waitForSelector(`${nodeRow('manager')}[data-state="up"]`, { state: 'attached', timeout: 20_000 });
  await page.waitForSelector(`${tid('node-manager')}[data-state="up"]`, { state: 'attached', timeout: 10_000 });
  expect(await page.textContent(`${nodeRow('manager')} ${tid('nodes-reason')}`)).toBe('');
  await expect
    .poll(async () => page.textContent(`${nodeRow('manager')} ${tid('nodes-uptime')}`), { timeout: 10_000 })
    .toMatch(/^\d+ s$|^\d+ min \d+ s$/);
  expect(Number(await page.textContent(`${nodeRow('manager')} ${tid('nodes-restarts')}`))).toBeGreaterThanOrEqual(
    failures,
  );
  await expect.poll(() => page.evaluate(() => document.body.dataset.connection), { timeout: 20_000 }).toBe('connected');
}, 90_000);
