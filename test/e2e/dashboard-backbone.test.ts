/**
 * The dashboard over a NATS backbone: `isobroker cluster --demo --backbone` on a real three-server
 * NATS cluster (nodes do not peer), the built page in headless Chromium. The page shows the Backbone
 * panel with every node connected, and every node up although none peers with the manager.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { layoutOf } from '../support/cluster.js';
import { buildDashboard, tid } from '../support/dashboard.js';
import { type NatsCluster, describeNats, startNatsCluster } from '../support/nats-cluster.js';
import { type Cli, killAll, spawnCli } from '../support/processes.js';

describeNats('the dashboard over a NATS backbone', () => {
  let nats: NatsCluster;
  let browser: Browser;
  let cli: Cli;
  let dir: string;

  beforeAll(async () => {
    [nats] = await Promise.all([startNatsCluster(), buildDashboard()]);
    dir = mkdtempSync(join(tmpdir(), 'isobroker-dashboard-bb-'));
    const layout = await layoutOf([
      ['manager', 'manager'],
      ['proxy-1', 'proxy'],
      ['worker-1', 'worker'],
    ]);
    writeFileSync(join(dir, 'layout.json'), JSON.stringify(layout));
    cli = spawnCli([
      'cluster',
      '--layout',
      join(dir, 'layout.json'),
      '--dir',
      join(dir, 'c'),
      '--demo',
      '--http',
      '127.0.0.1:0',
      '--backbone',
      nats.urls.join(','),
      '--backbone-namespace',
      `dash-${process.pid}`,
    ]);
    await cli.line(/all 3 nodes up; dashboard/, 30_000);
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cli?.kill('SIGTERM');
    await killAll();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the Backbone panel with every node connected, and every node up without peerings', async () => {
    const url = /dashboard (http:\/\/\S+)/.exec(cli.stdout.find((l) => /all 3 nodes up/.test(l))!)![1]!;
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    await page.waitForSelector('#backbone-panel', { state: 'visible', timeout: 20_000 });
    for (const n of ['manager', 'proxy-1', 'worker-1']) {
      await page.waitForSelector(`${tid('backbone-row')}[data-node="${n}"][data-state="connected"]`, {
        state: 'attached',
        timeout: 15_000,
      });
      await page.waitForSelector(`${tid('nodes-row')}[data-node="${n}"][data-state="up"]`, {
        state: 'attached',
        timeout: 15_000,
      });
    }
    // The topology draws no peering; each node tells its backbone state instead.
    await page.waitForSelector(`${tid('node-worker-1')}[data-state="up"][data-backbone="connected"]`, {
      state: 'attached',
      timeout: 10_000,
    });
    expect(await page.getAttribute('#topology svg', 'data-links')).toBe('0');
    const row = await page.textContent(`${tid('backbone-row')}[data-node="manager"]`);
    expect(row).toMatch(/connected127\.0\.0\.1[123]:\d+2/); // state, server, 2 endpoints seen
    expect(await page.textContent(tid('backbone-meta'))).toMatch(
      /^3 nodes on the NATS backbone through [1-3] servers?$/,
    );
  }, 60_000);
});
