/**
 * `/metrics` of the real programs, as child processes (`npm run build` first): an `isobroker hub`
 * with a policy (401 without a token, 403 with a token that lacks the role `metrics`, 200 with
 * one; `--metrics HOST:PORT` moves it), and every node of a demo cluster started by
 * `isobroker cluster --demo` under a policy of the test's own, whose counters move as the demo's
 * traffic flows (messages, log records, store entries, cluster nodes seen up).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../support/cluster.js';
import { spawnCli, startHub } from '../support/processes.js';
import { authDir, cliTest } from '../cli/hub-auth-support.js';
import { type Family, scrape, total } from './parse.js';

const { cleanup } = cliTest();

const NODE_ROLE = { publish: { allow: [''] }, subscribe: { allow: [''] }, stores: { '*': 'master' } };
const ROLES = {
  manager: NODE_ROLE,
  logger: NODE_ROLE,
  proxy: NODE_ROLE,
  worker: NODE_ROLE,
  dashboard: { subscribe: { allow: ['demo/'] } },
  metrics: {},
  app: { subscribe: { allow: ['demo/'] } },
};

/** Polls `read` until `ok` holds for its result; fails after `ms`. */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('isobroker hub', () => {
  it('serves /metrics behind its policy: 401 without a token, 403 without the role, 200 with it', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: ROLES });
    // Tokens first: minting one takes a while, longer than an idle keep-alive connection lasts.
    const app = auth.token('someone', ['app']);
    const reader = auth.token('prometheus', ['metrics']);
    const { cli, port } = await startHub(['--policy', policy, '--quiet']);
    const url = `http://127.0.0.1:${port}/metrics`;
    expect(cli.stdout.find((l) => l.includes(' ready: '))).toContain(`; metrics ${url}`);
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${app}` } })).status).toBe(403);
    const families = await scrape(url, reader);
    expect(total(families, 'isobroker_info', { role: 'hub' })).toBe(1);
    expect(families.get('process_resident_memory_bytes')?.type).toBe('GAUGE');
  });

  it('--metrics HOST:PORT serves it there instead of the listener port', async () => {
    const { cli, port } = await startHub(['--metrics', '127.0.0.1:0', '--quiet']);
    const ready = cli.stdout.find((l) => l.includes(' ready: '))!;
    const url = /; metrics (http:\/\/\S+)/.exec(ready)![1]!;
    expect(url).not.toContain(`:${port}/`);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    expect(total(await scrape(url), 'isobroker_info', { role: 'hub' })).toBe(1);
  });
});

describe('a demo cluster', () => {
  it('answers /metrics on every node, and its counters move as the demo traffic flows', async () => {
    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: ROLES });
    const layout = await layoutOf([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['proxy-1', 'proxy'],
      ['worker-1', 'worker'],
    ]);
    const file = join(auth.dir, 'layout.json');
    writeFileSync(file, JSON.stringify(layout));
    const cli = spawnCli([
      'cluster',
      '--layout',
      file,
      '--dir',
      join(auth.dir, 'c'),
      '--http',
      '127.0.0.1:0',
      '--demo',
      '--policy',
      policy,
      '--key-file',
      auth.secretFile,
      '--kid',
      'k1',
    ]);
    await cli.line(/all 4 nodes up; dashboard http:\/\//, 30_000);
    const token = auth.token('prometheus', ['metrics']);
    const urlOf = (name: string): string => {
      const n = layout.nodes.find((x) => x.name === name)!;
      return `http://${n.host}:${n.port}/metrics`;
    };
    for (const n of layout.nodes) expect((await fetch(urlOf(n.name))).status).toBe(401);

    // Every node sees the three others up.
    const first = new Map<string, Map<string, Family>>();
    for (const n of layout.nodes) {
      const f = await eventually(
        () => scrape(urlOf(n.name), token),
        (m) => total(m, 'isobroker_cluster_node_up') === 3,
        20_000,
        `${n.name} to see the other nodes up`,
      );
      expect(total(f, 'isobroker_cluster_node_transitions_total', { state: 'up' })).toBeGreaterThanOrEqual(3);
      expect(total(f, 'isobroker_connections', { link: 'router' })).toBeGreaterThanOrEqual(1);
      first.set(n.name, f);
    }

    // The demo's traffic moves the counters: messages between nodes, log records, store entries.
    const grew = (name: string, metric: string, labels: Record<string, string> = {}) =>
      eventually(
        () => scrape(urlOf(name), token),
        (m) => total(m, metric, labels) > total(first.get(name)!, metric, labels),
        20_000,
        `${metric} to grow on ${name}`,
      );
    for (const n of layout.nodes) await grew(n.name, 'isobroker_messages_sent_total', { link: 'router' });
    await grew('worker-1', 'isobroker_messages_published_total');
    await grew('logger-1', 'isobroker_log_records_written_total');
    const worker = await grew('worker-1', 'isobroker_log_records_acknowledged_total');
    expect(total(worker, 'isobroker_log_records_sent_total')).toBeGreaterThan(0);
    // The demo fills the stores from its first seconds on (a small set of hosts and services).
    const manager = await eventually(
      () => scrape(urlOf('manager'), token),
      (m) => total(m, 'isobroker_store_changes_total', { store: 'known_hosts', kind: 'insert' }) > 0,
      20_000,
      'known_hosts inserts on the manager',
    );
    expect(total(manager, 'isobroker_store_entries', { store: 'known_hosts', role: 'master' })).toBeGreaterThan(0);
    expect(total(manager, 'isobroker_listener_received_bytes_total', { protocol: 'native' })).toBeGreaterThan(0);
  }, 120_000);
});
