/**
 * The IndexedDB clone persistence in real Chromium: what a page persisted survives a reload,
 * reset drops it, batches are one transaction, every kind of Broker value round-trips, and the
 * batching pays against one idb-keyval `set` per write.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DataMap, count, equals, string, type Data } from 'isobroker';
import { decodeValue, encodeValue } from '../../src/internal.js';
import { PAGE_HTML, bundlePage, launchChromium } from '../support/browser.js';
import { dataArb } from '../support/arbitraries.js';

type Bytes = number[];
type Api = {
  write(name: string, pairs: [Bytes, Bytes | null][], epoch: string, firstSeq: number): void;
  writeMany(name: string, n: number): void;
  reset(name: string): void;
  flush(name: string): Promise<void>;
  load(name: string): Promise<{ checkpoint: { epoch: string; seq: number } | null; entries: [Bytes, Bytes][] }>;
  transactions(): number;
  errors(): string[];
  bench(n: number, run: string): Promise<{ batchedMs: number; unbatchedMs: number }>;
};

let server: Server;
let browser: Browser;
let page: Page;
let origin: string;
const pageErrors: string[] = [];

/** Calls the page's test API. */
function call<K extends keyof Api>(name: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const api = (globalThis as unknown as { persistenceTest: Record<string, (...x: unknown[]) => unknown> })
        .persistenceTest;
      return api[n as string]!(...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<Awaited<ReturnType<Api[K]>>>;
}

async function reload(): Promise<void> {
  await page.reload();
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
}

const enc = (d: Data): Bytes => [...encodeValue(d)];
const dec = (b: Bytes): Data => decodeValue(new Uint8Array(b));
const entriesOf = (loaded: { entries: [Bytes, Bytes][] }): DataMap<Data> => {
  const m = new DataMap<Data>(loaded.entries.map(([k, v]) => [dec(k), dec(v)]));
  expect(m.size).toBe(loaded.entries.length);
  return m;
};

beforeAll(async () => {
  const js = await bundlePage(fileURLToPath(new URL('./pages/persistence-page.ts', import.meta.url)));
  server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

it('a reloaded page loads the entries and checkpoint written before, and reset drops them', async () => {
  await call(
    'write',
    'dash',
    [
      [enc(string('a')), enc(count(1))],
      [enc(string('b')), enc(count(2))],
      [enc(string('a')), enc(count(3))],
      [enc(string('c')), enc(count(4))],
      [enc(string('c')), null],
    ],
    'epoch-1',
    1,
  );
  await call('flush', 'dash');
  await reload();
  const loaded = await call('load', 'dash');
  expect(loaded.checkpoint).toEqual({ epoch: 'epoch-1', seq: 5 });
  const m = entriesOf(loaded);
  expect(m.size).toBe(2);
  expect(equals(m.get(string('a'))!, count(3)) && equals(m.get(string('b'))!, count(2))).toBe(true);

  await call('reset', 'dash');
  await call('write', 'dash', [[enc(string('after-reset')), enc(count(9))]], 'epoch-2', 1);
  await call('flush', 'dash');
  await reload();
  const again = await call('load', 'dash');
  expect(again.checkpoint).toEqual({ epoch: 'epoch-2', seq: 1 });
  expect(again.entries).toEqual([[enc(string('after-reset')), enc(count(9))]]);

  await call('reset', 'dash');
  await call('flush', 'dash');
  await reload();
  expect(await call('load', 'dash')).toEqual({ checkpoint: null, entries: [] });
  expect(await call('errors')).toEqual([]);
});

it('10,000 writes in one tick commit in one IndexedDB transaction and survive a reload', async () => {
  const before = await call('transactions');
  await call('writeMany', 'many', 10_000);
  await call('flush', 'many');
  expect((await call('transactions')) - before).toBe(1);
  await reload();
  const loaded = await call('load', 'many');
  expect(loaded.checkpoint).toEqual({ epoch: 'many', seq: 9_999 });
  const m = entriesOf(loaded);
  expect(m.size).toBe(10_000);
  expect(equals(m.get(count(4321))!, string('value 4321'))).toBe(true);
});

it('every kind of Broker key and value round-trips through IndexedDB', async () => {
  const pairs = fc.sample(fc.tuple(dataArb(), dataArb()), { numRuns: 300, seed: 20250 });
  const expected = new DataMap<Data>();
  for (const [k, v] of pairs) expected.set(k, v);
  await call(
    'write',
    'kinds',
    pairs.map(([k, v]) => [enc(k), enc(v)]),
    'kinds',
    1,
  );
  await call('flush', 'kinds');
  await reload();
  const got = entriesOf(await call('load', 'kinds'));
  expect(got.size).toBe(expected.size);
  for (const [k, v] of expected) expect(got.get(k) !== undefined && equals(got.get(k)!, v)).toBe(true);
  expect(pageErrors).toEqual([]);
});

// Speed (batched vs one set per write) is measured by `npm run bench`, not asserted here; the
// test above proves the batching itself (10,000 writes in one transaction).
