/**
 * Cluster failures with real processes (`isobroker node` children); the test itself runs one
 * worker in-process, so it sees the cluster as a worker does.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackedTable,
  CONN_LOG,
  ClusterNode,
  Endpoint,
  LogRouter,
  address,
  count,
  createClone,
  hrwTopic,
  nodeTopic,
  parseZeekTsv,
  string,
  toText,
  type StoreClone,
} from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import { killAll, spawnCli } from '../support/processes.js';
import { layoutOf } from '../support/cluster.js';
import { processClusterEnv, type ProcessClusterEnv } from '../support/process-cluster.js';
import { sleep, until } from '../support/endpoints.js';
import { connRecord } from '../support/log-records.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await killAll();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-cluster-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

type Env = ProcessClusterEnv;
const env = (nodes: Parameters<typeof processClusterEnv>[0]): Promise<Env> => processClusterEnv(nodes, cleanup);

/** Runs `name` of the layout in this process. */
async function inProcess(e: Env, name: string): Promise<{ node: ClusterNode; listener: Listener }> {
  const spec = e.layout.nodes.find((n) => n.name === name)!;
  const ep = new Endpoint({ name, role: spec.role, retry: 100, maxRetry: 300 });
  const node = new ClusterNode(ep, e.layout, name);
  node.start();
  const listener = await listen(ep, { host: spec.host, port: spec.port });
  cleanup.push(async () => {
    node.close();
    await ep.close();
    await listener.close();
  });
  return { node, listener };
}

describe('cluster failures with real processes', () => {
  it('a killed proxy leaves the HRW set within 2 s and its keys come back when it returns', async () => {
    const e = await env([
      ['manager', 'manager'],
      ['proxy-1', 'proxy'],
      ['proxy-2', 'proxy'],
      ['worker-t', 'worker'],
    ]);
    await e.start('manager');
    const p1 = await e.start('proxy-1');
    await e.start('proxy-2');
    const { node } = await inProcess(e, 'worker-t');
    await until(() => node.isUp('proxy-1') && node.isUp('proxy-2') && node.isUp('manager'), 15_000, 'cluster up');
    const pool = node.pools.proxyPool;
    const keys = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    const before = new Map(keys.map((k) => [k, hrwTopic(pool, k)]));
    const owned = keys.filter((k) => before.get(k) === nodeTopic('proxy-1'));
    expect(owned.length).toBeGreaterThan(20);

    const killedAt = Date.now();
    await p1.kill('SIGKILL');
    await until(() => owned.every((k) => hrwTopic(pool, k) === nodeTopic('proxy-2')), 2000, 'keys moved to proxy-2');
    const moved = Date.now() - killedAt;
    expect(moved).toBeLessThan(2000);
    // Keys of proxy-2 did not move.
    for (const k of keys) if (!owned.includes(k)) expect(hrwTopic(pool, k)).toBe(before.get(k));

    await e.start('proxy-1');
    await until(() => keys.every((k) => hrwTopic(pool, k) === before.get(k)), 15_000, 'keys back on proxy-1');
  });

  it('killing a logger while a worker logs at a steady rate loses no record and writes none twice', async () => {
    const e = await env([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['logger-2', 'logger'],
      ['worker-t', 'worker'],
    ]);
    await e.start('manager');
    const l1 = await e.start('logger-1');
    await e.start('logger-2');
    const { node } = await inProcess(e, 'worker-t');
    await until(() => node.isUp('logger-1') && node.isUp('logger-2'), 15_000, 'loggers up');
    // logger-1 does not come back: its unacknowledged batches go to logger-2 after 1 s.
    const router = new LogRouter(node, { ackTimeout: 1000, handoverTimeout: 1000 });
    cleanup.push(() => router.close());

    const total = 3000;
    for (let i = 0; i < total; i++) {
      router.write(CONN_LOG, connRecord(i));
      // Both loggers have acknowledged a record before the load starts (interest updates are debounced).
      if (i === 1) await until(() => router.inFlight === 0, 10_000, 'both loggers reachable');
      if (i % 100 === 99) await sleep(20); // about 5000 records/s
      if (i === total / 2) void l1.kill('SIGKILL');
    }
    await until(() => router.inFlight === 0, 20_000, 'every batch acknowledged');

    const uids: string[] = [];
    const perLogger = new Map<string, number>();
    for (const logger of ['logger-1', 'logger-2']) {
      const dir = join(e.dir, 'logs', logger);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((x) => x.startsWith('conn') && x.endsWith('.log'))) {
        const log = parseZeekTsv(readFileSync(join(dir, f), 'utf8'));
        const col = log.header.fields.indexOf('uid');
        for (const row of log.rows) uids.push(row[col]!);
        perLogger.set(logger, (perLogger.get(logger) ?? 0) + log.rows.length);
      }
    }
    const counts = new Map<string, number>();
    for (const u of uids) counts.set(u, (counts.get(u) ?? 0) + 1);
    const missing = Array.from({ length: total }, (_, i) => `C${i}`).filter((u) => !counts.has(u));
    const twice = [...counts].filter(([, n]) => n > 1).map(([u]) => u);
    expect(missing, 'records lost').toEqual([]);
    expect(twice, 'records written twice').toEqual([]);
    expect(uids.length).toBe(total);
    // Round-robin used both loggers; the survivor took over after the kill.
    expect(perLogger.get('logger-1')).toBeGreaterThan(0);
    expect(perLogger.get('logger-2')).toBeGreaterThan(total / 2);
  });

  it('a manager killed and restarted: workers re-peer, nodeUp fires again, stores and the backed table recover', async () => {
    const e = await env([
      ['manager', 'manager'],
      ['worker-t', 'worker'],
    ]);
    let manager = await e.start('manager');
    const { node } = await inProcess(e, 'worker-t');
    const ups: string[] = [];
    node.on('nodeUp', ({ name }) => ups.push(name));
    await until(() => node.isUp('manager'), 15_000, 'manager up');
    const hosts = await createClone(node.endpoint, 'known_hosts', { resyncInterval: 200, masterTimeout: 1000 });
    const table = await BackedTable.open(node.endpoint, 'known_services', {
      clone: { resyncInterval: 200, masterTimeout: 1000 },
    });
    cleanup.push(() => {
      hosts.close();
      table.close();
    });
    await hosts.whenInSync(10_000);
    for (let i = 0; i < 50; i++) await hosts.put(address(`10.9.0.${i}`), count(i));
    const tableClone = table.store as StoreClone;
    const before = tableClone.position.seq;
    table.set('10.0.0.1:80', string('http'));
    // The master committed the write once its update comes back: the clone's seq moves past it.
    await until(
      () => tableClone.status === 'in-sync' && tableClone.size === 1 && tableClone.position.seq > before,
      5000,
      'the table write to reach the master',
    );

    await manager.kill('SIGKILL');
    await until(() => !node.isUp('manager'), 5000, 'nodeDown');
    manager = await e.start('manager');
    await until(() => node.isUp('manager') && ups.filter((n) => n === 'manager').length === 2, 15_000, 'nodeUp again');
    await hosts.whenInSync(15_000);
    expect(hosts.size).toBe(50);
    expect(toText(hosts.get(address('10.9.0.49')))).toBe('49');
    await until(() => table.has('10.0.0.1:80'), 5000);
    expect(toText(table.get('10.0.0.1:80')!)).toBe('http');
    // A new write after the restart lands in the restarted master's SQLite store.
    await hosts.put(address('10.9.1.1'), count(1));
    expect(hosts.exists(address('10.9.1.1'))).toBe(true);
  });

  it('the launcher refuses a bad layout or a port in use before any node starts', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        nodes: [
          { name: 'm', role: 'manager', port: 1 },
          { name: 'x', role: 'scanner', port: 2 },
        ],
      }),
    );
    const a = spawnCli(['cluster', '--layout', bad, '--dir', join(dir, 'a'), '--http', '127.0.0.1:0']);
    expect(await a.exited).not.toBe(0);
    expect(a.stderr.join('\n')).toContain('unknown role "scanner"');

    const busy = await listen(new Endpoint({ name: 'squatter' }));
    cleanup.push(() => busy.close());
    const layout = await layoutOf([
      ['manager', 'manager'],
      ['worker-1', 'worker'],
    ]);
    const taken = { ...layout, nodes: [layout.nodes[0]!, { ...layout.nodes[1]!, port: busy.port }] };
    const file = join(dir, 'taken.json');
    writeFileSync(file, JSON.stringify(taken));
    const b = spawnCli(['cluster', '--layout', file, '--dir', join(dir, 'b'), '--http', '127.0.0.1:0']);
    expect(await b.exited).not.toBe(0);
    expect(b.stderr.join('\n')).toContain(
      `node 'worker-1' cannot listen on 127.0.0.1:${busy.port}: the port is in use`,
    );
    expect(b.stdout.join('\n')).not.toContain('up at');
  });
});
