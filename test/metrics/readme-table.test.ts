/**
 * The README's metrics table lists exactly the `isobroker_…` metrics `createMetrics` exports, each
 * with its type and labels.
 */
import { readFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { fullyConfigured } from './exported.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

it('the README metrics table matches the exported isobroker metrics', async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = new Map<string, { type: string; labels: string[] }>();
  for (const m of readme.matchAll(/^\| `(isobroker_[a-z_]+)` \| (\w+) \| ([^|]*) \|/gm)) {
    const labels = [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!);
    rows.set(m[1]!, { type: m[2]!, labels });
  }
  const { families } = await fullyConfigured(cleanup);
  const ours = families.filter((f) => f.name.startsWith('isobroker_'));
  expect(ours.length).toBeGreaterThan(30);
  expect([...rows.keys()].sort()).toEqual(ours.map((f) => f.name).sort());
  for (const f of ours) expect(rows.get(f.name), f.name).toEqual({ type: f.type, labels: [...f.labels] });
  // Process metrics come from prom-client's defaults.
  expect(families.some((f) => f.name === 'process_cpu_seconds_total')).toBe(true);
});
