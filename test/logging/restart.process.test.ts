/**
 * Remote logging across logger crashes, with real processes: loggers are `isobroker node`
 * children killed with SIGKILL under load and restarted; the sending worker runs in this process.
 * Every record carries a unique uid, so the log files tell exactly what was lost or written twice.
 *
 * CI sizes by default; `npm run test:load` (ISOBROKER_LOAD=1) runs more records and more kills.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONN_LOG,
  ClusterNode,
  Endpoint,
  LogRouter,
  address,
  enumValue,
  parseZeekTsv,
  port,
  timestamp,
  toRecord,
} from 'isobroker';
import { listen } from 'isobroker/node';
import { killAll, type Cli } from '../support/processes.js';
import { processClusterEnv, type ProcessClusterEnv } from '../support/process-cluster.js';
import { sleep, until } from '../support/endpoints.js';

const LOAD = process.env.ISOBROKER_LOAD === '1';
/** Records written per test, and logger kills spread over them. */
const TOTAL = LOAD ? 30_000 : 4000;
const KILLS = LOAD ? 4 : 1;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await killAll();
});

type Env = ProcessClusterEnv;
const env = (nodes: Parameters<typeof processClusterEnv>[0]): Promise<Env> => processClusterEnv(nodes, cleanup);

async function worker(e: Env, name: string): Promise<{ node: ClusterNode; router: LogRouter }> {
  const spec = e.layout.nodes.find((n) => n.name === name)!;
  const ep = new Endpoint({ name, role: spec.role, retry: 100, maxRetry: 300 });
  const node = new ClusterNode(ep, e.layout, name);
  node.start();
  const listener = await listen(ep, { host: spec.host, port: spec.port });
  const router = new LogRouter(node, { ackTimeout: 1000 });
  cleanup.push(async () => {
    router.close();
    node.close();
    await ep.close();
    await listener.close();
  });
  return { node, router };
}

const record = (i: number) =>
  toRecord(CONN_LOG, {
    ts: timestamp(new Date()),
    uid: `C${i}`,
    'id.orig_h': address('10.0.0.1'),
    'id.orig_p': port(1024 + (i % 60000), 'tcp'),
    'id.resp_h': address('10.0.0.2'),
    'id.resp_p': port(80, 'tcp'),
    proto: enumValue('tcp'),
  });

/**
 * Writes TOTAL records at about 5,000/s; at KILLS points spread over them, SIGKILLs `victim` and
 * starts it again (without pausing the writes). Resolves once every batch is acknowledged.
 */
async function writeWithKills(e: Env, router: LogRouter, victim: { cli: Cli; name: string }): Promise<void> {
  const killAt = new Set(Array.from({ length: KILLS }, (_, k) => Math.floor((TOTAL * (k + 1)) / (KILLS + 1))));
  let restarting: Promise<void> = Promise.resolve();
  for (let i = 0; i < TOTAL; i++) {
    router.write(CONN_LOG, record(i));
    if (i % 100 === 99) await sleep(20);
    if (killAt.has(i)) {
      await restarting; // one restart at a time
      // The victim has written something (else the kill tests nothing).
      await until(() => i + 1 - router.inFlight > 0, 10_000, 'a first acknowledgement');
      restarting = (async () => {
        await victim.cli.kill('SIGKILL');
        victim.cli = await e.start(victim.name);
      })();
    }
  }
  await restarting;
  await until(() => router.inFlight === 0, 30_000, 'every batch acknowledged');
}

interface Tally {
  lost: number[];
  twice: string[];
  rows: number;
  files: string[];
  /** Files without a `#close` footer. */
  unclosed: string[];
}

/** Reads every conn log in `dirs` (rotated ones too) and counts each uid. */
function tally(dirs: readonly string[]): Tally {
  const counts = new Map<string, number>();
  const files: string[] = [];
  const unclosed: string[] = [];
  let rows = 0;
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((x) => x.startsWith('conn') && x.endsWith('.log'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      files.push(f);
      if (!/^#close\t/m.test(text)) unclosed.push(f);
      const log = parseZeekTsv(text);
      const col = log.header.fields.indexOf('uid');
      for (const row of log.rows) {
        rows++;
        counts.set(row[col]!, (counts.get(row[col]!) ?? 0) + 1);
      }
    }
  }
  const lost = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => !counts.has(`C${i}`));
  const twice = [...counts].filter(([, n]) => n > 1).map(([u]) => u);
  return { lost, twice, rows, files, unclosed };
}

/** The run's figures on stdout (`npm run test:load` reports them). */
function report(what: string, ms: number, t: Tally, router: LogRouter): void {
  console.log(
    `[log-restart] ${what}: ${TOTAL} records, SIGKILL of logger-1 ×${KILLS}, ${ms} ms to the last acknowledgement; ` +
      `${t.rows} rows in ${t.files.length} files, lost ${t.lost.length}, written twice ${t.twice.length}, ` +
      `files without #close ${t.unclosed.length}; router ${JSON.stringify(router.stats())}`,
  );
}

describe('remote logging across logger restarts (real processes)', () => {
  it(`the only logger killed ${KILLS}× under load and restarted: no record lost, none written twice, every file closed`, async () => {
    const e = await env([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['worker-t', 'worker'],
    ]);
    await e.start('manager');
    const victim = { cli: await e.start('logger-1'), name: 'logger-1' };
    const { node, router } = await worker(e, 'worker-t');
    await until(() => node.isUp('logger-1'), 15_000, 'logger up');

    const started = Date.now();
    await writeWithKills(e, router, victim);
    const ms = Date.now() - started;
    // A clean stop closes the current file with its footer.
    expect(await victim.cli.kill('SIGTERM')).toBe(0);

    const t = tally([join(e.dir, 'logs')]);
    report('one logger', ms, t, router);
    expect(t.lost, 'records lost').toEqual([]);
    expect(t.twice, 'records written twice').toEqual([]);
    expect(t.rows).toBe(TOTAL);
    // A kill left a file (the first one always: the logger had acknowledged records), rotated away
    // with the footer it lacked when the logger came back.
    expect(t.files.length).toBeGreaterThanOrEqual(2);
    expect(t.files.length).toBeLessThanOrEqual(KILLS + 1);
    expect(t.unclosed, 'files without #close').toEqual([]);
    expect(router.stats().dropped).toBe(0);
  });

  it(`one of two loggers killed ${KILLS}× under load and restarted: no record lost, none written twice`, async () => {
    const e = await env([
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['logger-2', 'logger'],
      ['worker-t', 'worker'],
    ]);
    await e.start('manager');
    const victim = { cli: await e.start('logger-1'), name: 'logger-1' };
    const other = await e.start('logger-2');
    const { node, router } = await worker(e, 'worker-t');
    await until(() => node.isUp('logger-1') && node.isUp('logger-2'), 15_000, 'loggers up');

    const started = Date.now();
    await writeWithKills(e, router, victim);
    const ms = Date.now() - started;
    expect(await victim.cli.kill('SIGTERM')).toBe(0);
    expect(await other.kill('SIGTERM')).toBe(0);

    const t = tally([join(e.dir, 'logs', 'logger-1'), join(e.dir, 'logs', 'logger-2')]);
    report('two loggers', ms, t, router);
    expect(t.lost, 'records lost').toEqual([]);
    expect(t.twice, 'records written twice').toEqual([]);
    expect(t.rows).toBe(TOTAL);
    expect(t.unclosed, 'files without #close').toEqual([]);
  });
});
