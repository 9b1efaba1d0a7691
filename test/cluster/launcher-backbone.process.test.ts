/**
 * `isobroker cluster --backbone`: the launcher and its nodes as real processes (the built bin,
 * `npm run build` first) on a real three-server NATS cluster. Every node attaches and lists itself
 * in backbone presence; nodes come up without a single peering between them; the dashboard's
 * view (a client of the manager) gets every node's stats across the backbone, with the backbone
 * in them. The layout's `backbone` key is checked like the flags.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, nodeUrl } from 'isobroker';
import { UsageError } from '../../server/cli/args.js';
import { loadLayout } from '../../server/cli/cluster.js';
import { type NodeStats, STATS_TOPIC_PREFIX, nodeStatsOf } from '../../server/dashboard/shapes.js';
import { layoutOf } from '../support/cluster.js';
import { type NatsCluster, describeNats, startNatsCluster, until } from '../support/nats-cluster.js';
import { killAll, spawnCli } from '../support/processes.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await killAll();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-launcher-bb-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe("a layout's backbone key", () => {
  it('is read with the layout, and a bad one is a usage error naming it', async () => {
    const dir = tempDir();
    const layout = await layoutOf([['manager', 'manager']]);
    const file = join(dir, 'layout.json');
    writeFileSync(file, JSON.stringify({ ...layout, backbone: { servers: ['nats://n1:4222'], namespace: 'ns' } }));
    expect(loadLayout(file).backbone).toEqual({ servers: ['nats://n1:4222'], namespace: 'ns' });
    writeFileSync(file, JSON.stringify({ ...layout, backbone: { servers: 'nats://n1:4222' } }));
    expect(() => loadLayout(file)).toThrow(UsageError);
    expect(() => loadLayout(file)).toThrow(/backbone: servers: expected a non-empty array of NATS server URLs/);
  });
});

describeNats('isobroker cluster --backbone on a real NATS cluster', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNatsCluster();
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it('every node attaches and lists itself; nodes are up without peerings; the dashboard sees them all', async () => {
    const layout = await layoutOf([
      ['manager', 'manager'],
      ['proxy-1', 'proxy'],
      ['worker-1', 'worker'],
    ]);
    const dir = tempDir();
    const file = join(dir, 'layout.json');
    writeFileSync(file, JSON.stringify(layout));
    const ns = `launcher-${process.pid}`;
    const cli = spawnCli([
      'cluster',
      '--layout',
      file,
      '--dir',
      join(dir, 'c'),
      '--http',
      '127.0.0.1:0',
      '--backbone',
      nats.urls.join(','),
      '--backbone-namespace',
      ns,
    ]);
    await cli.line(/all 3 nodes up/, 30_000);
    expect(cli.stdout.join('\n')).toContain(`nodes join the backbone ${nats.urls.join(',')} (namespace ${ns})`);
    // The layout the nodes read carries the backbone.
    expect(JSON.parse(readFileSync(join(dir, 'c', 'layout.json'), 'utf8')).backbone).toEqual({
      servers: nats.urls,
      namespace: ns,
      separator: '/',
    });

    const manager = layout.nodes.find((n) => n.name === 'manager')!;
    const metricsUrl = `http://127.0.0.1:${manager.port}/metrics`;
    await until('the manager sees both nodes up over the backbone', 15_000, async () => {
      const text = await (await fetch(metricsUrl)).text();
      for (const n of ['proxy-1', 'worker-1'])
        if (!text.includes(`isobroker_cluster_node_up{node="${n}",role="${n.split('-')[0]}"} 1`))
          throw new Error(`${n} not up`);
    });
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/^isobroker_backbone_endpoints 2$/m);
    expect(text).toMatch(/^isobroker_backbone_state\{state="connected"\} 1$/m);
    expect(text).not.toMatch(/^isobroker_connections\{link="router"/m); // no peering between nodes

    // The page's view: a client of the manager gets every node's stats, the others' across the backbone.
    const page = new Endpoint({ name: 'page', role: 'browser' });
    cleanup.push(() => page.close());
    const latest = new Map<string, NodeStats>();
    page.subscribe(STATS_TOPIC_PREFIX, ({ data }) => {
      const s = nodeStatsOf(data);
      if (s) latest.set(s.name, s);
    });
    await page.peer(nodeUrl(manager), { retry: 0 });
    await until('stats of every node', 10_000, async () => {
      if (latest.size < 3 || (latest.get('manager')?.backbone?.nodes.length ?? 0) < 2) throw new Error('not yet');
    });
    for (const s of latest.values()) {
      expect(s.backbone, s.name).toMatchObject({ state: 'connected', endpoints: 2, dropped: 0 });
      expect(s.backbone!.server).toMatch(/^127\.0\.0\.1[123]:\d+$/);
    }
    expect([...latest.get('manager')!.backbone!.nodes].sort()).toEqual(['proxy-1', 'worker-1']);
    for (const n of ['manager', 'proxy-1', 'worker-1']) {
      const out = readFileSync(join(dir, 'c', 'logs', `${n}.out`), 'utf8');
      expect(out, n).toMatch(/ ready: ws:\/\/\S+; backbone .* connected to 127\.0\.0\.1[123]:\d+$/m);
    }
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 90_000);
});
