/**
 * Stores of large values (issue 16): a clone syncs a SQLite-backed store of large values over a
 * real WebSocket on 127.0.0.1 while the master's endpoint publishes a steady event stream to the
 * clone's endpoint on the same connection. Reported: the event stream's latency (p50/p99/max)
 * without a sync and during the sync, side by side in one run, and the sync's time and the
 * process's peak RSS growth against the store size. Master and clone share one process (so the
 * latency includes the sync's CPU work on both sides: a worst case).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Endpoint, count, createClone, createMaster } from '../../src/index.js';
import { listen, openSqliteBackend } from '../../src/node/index.js';
import type { Table } from '../lib/markdown.js';
import { goalAtMost, type BenchSection, type SectionContext, type SectionReport } from '../lib/section.js';

const MiB = 1024 * 1024;
const EVENT_EVERY_MS = 2;
const QUIET_MS = 3000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function run(ctx: SectionContext, n: number, valueBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-bench-large-'));
  const hub = new Endpoint({ name: 'hub' });
  const listener = await listen(hub, { host: '127.0.0.1', port: 0 });
  const client = new Endpoint({ name: 'client' });
  try {
    const master = await createMaster(hub, 'large', {
      backend: openSqliteBackend({ path: join(dir, 'large.db'), journalMode: 'WAL', synchronous: 'NORMAL' }),
    });
    const value = 'x'.repeat(valueBytes - 16);
    for (let i = 0; i < n; i += 20)
      await Promise.all(
        Array.from({ length: Math.min(20, n - i) }, (_, j) => master.put(`k${i + j}`, `${i + j}:${value}`)),
      );
    ctx.log(`stores-large: filled ${n} × ${valueBytes / MiB} MiB`);
    let phase: 'quiet' | 'sync' | 'off' = 'off';
    const lat = { quiet: [] as number[], sync: [] as number[] };
    client.subscribe('bench/events', (m) => {
      if (phase === 'off' || m.data.type !== 'count') return;
      lat[phase].push(performance.now() - Number(m.data.value) / 1000);
    });
    await client.peer(listener.url);
    await hub.whenRoutable('bench/events', { timeoutMs: 10_000 });
    const ticker = setInterval(
      () => hub.publish('bench/events', count(Math.round(performance.now() * 1000))),
      EVENT_EVERY_MS,
    );
    phase = 'quiet';
    await new Promise((r) => setTimeout(r, QUIET_MS));
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    phase = 'sync';
    const t0 = performance.now();
    const clone = await createClone(client, 'large');
    await clone.whenInSync(600_000);
    const syncMs = performance.now() - t0;
    phase = 'off';
    clearInterval(sampler);
    clearInterval(ticker);
    const storeBytes = n * valueBytes;
    clone.close();
    master.close();
    return {
      n,
      valueBytes,
      storeBytes,
      syncMs,
      rssGrowth: peak - rss0,
      quiet: lat.quiet,
      sync: lat.sync,
      snapshotBytes: master.resyncBytes.snapshot,
    };
  } finally {
    await client.close();
    await hub.close();
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const storesLargeSection: BenchSection = {
  id: 'stores-large',
  title: 'Stores of large values: sync in bounded chunks, live traffic during a sync',
  about:
    'A clone syncs a store of 1 MiB values from a SQLite master (WAL, a real file) over a WebSocket on 127.0.0.1, while the ' +
    `master's endpoint publishes an event every ${EVENT_EVERY_MS} ms to the clone's endpoint on the same connection. The event ` +
    `latency is measured for ${QUIET_MS / 1000} s without a sync and then during the sync, in one run. Master and clone share one ` +
    'process: the RSS growth covers both sides (the clone keeps the whole store in memory: about 1× is the floor).',
  async run(ctx): Promise<SectionReport> {
    const sizes = ctx.quick ? [20] : [100];
    const rows: string[][] = [];
    const goals = [];
    for (const n of sizes) {
      const r = await run(ctx, n, MiB);
      const f = (x: number): string => `${x.toFixed(1)} ms`;
      rows.push([
        `${n} × 1 MiB`,
        'no sync',
        String(r.quiet.length),
        f(pct(r.quiet, 50)),
        f(pct(r.quiet, 99)),
        f(Math.max(...r.quiet)),
        '—',
        '—',
      ]);
      rows.push([
        `${n} × 1 MiB`,
        'during the sync',
        String(r.sync.length),
        f(pct(r.sync, 50)),
        f(pct(r.sync, 99)),
        f(Math.max(...r.sync)),
        `${(r.syncMs / 1000).toFixed(1)} s (${(r.storeBytes / MiB / (r.syncMs / 1000)).toFixed(0)} MiB/s)`,
        `${(r.rssGrowth / MiB).toFixed(0)} MiB (${(r.rssGrowth / r.storeBytes).toFixed(2)}× the store)`,
      ]);
      goals.push(
        goalAtMost(`event p99 during a ${n} MiB sync ≤ 100 ms`, pct(r.sync, 99), 100, (x) => `${x.toFixed(1)} ms`),
      );
    }
    const table: Table = {
      title: 'Event latency with and without a concurrent store sync (same connection)',
      headers: ['store', 'phase', 'events', 'p50', 'p99', 'max', 'sync time', 'peak RSS growth'],
      rows,
    };
    return { tables: [table], goals };
  },
};
