/** Broker-backed tables: a Map-like view of `___sync_store_<name>` on every node. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackedTable, count, string, toText } from 'isobroker';
import { openSqliteBackend } from 'isobroker/node';
import { memoryEndpoints, until, type Net } from '../support/endpoints.js';

let net: Net | undefined;
const tables: BackedTable[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const t of tables.splice(0)) t.close();
  await net?.close();
  net = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function open(ep: number, opts: Parameters<typeof BackedTable.open>[2] = {}): Promise<BackedTable> {
  const t = await BackedTable.open(net!.eps[ep]!, 'known_hosts', { clone: { resyncInterval: 100 }, ...opts });
  tables.push(t);
  return t;
}

describe('BackedTable', () => {
  it('binds to ___sync_store_<name>, applies local writes at once, and spreads them', async () => {
    net = memoryEndpoints(3);
    await net.eps[1]!.peer(net.url(0));
    await net.eps[2]!.peer(net.url(0));
    const manager = await open(0, { master: true });
    const w1 = await open(1);
    const w2 = await open(2);
    expect(manager.store.name).toBe('___sync_store_known_hosts');
    w1.set('10.0.0.1', count(1));
    expect(toText(w1.get('10.0.0.1')!)).toBe('1'); // at once, before the store answers
    await until(() => w2.has('10.0.0.1') && manager.has('10.0.0.1'), 5000, 'replication');
    manager.set('10.0.0.2', string('seen'));
    await until(() => w1.has('10.0.0.2') && w2.has('10.0.0.2'));
    w2.delete('10.0.0.1');
    expect(w2.has('10.0.0.1')).toBe(false);
    await until(() => !w1.has('10.0.0.1') && !manager.has('10.0.0.1'));
    expect([...w1.keys()].map((k) => toText(k))).toEqual(['10.0.0.2']);
    expect(w1.size).toBe(1);
  });

  it('survives a restart of its master when backed by SQLite', async () => {
    dir = mkdtempSync(join(tmpdir(), 'isobroker-table-'));
    const path = join(dir, 'table.sqlite');
    net = memoryEndpoints(2);
    await net.eps[1]!.peer(net.url(0));
    const first = await open(0, { master: true, backend: openSqliteBackend({ path }) });
    const worker = await open(1);
    worker.set('h1', count(7));
    await until(() => first.has('h1'));
    first.close();
    tables.splice(tables.indexOf(first), 1);
    await until(() => !net!.eps[1]!.hasRoute('<$>/store/___sync_store_known_hosts/master'), 3000);
    const second = await open(0, { master: true, backend: openSqliteBackend({ path }) });
    expect(toText(second.get('h1')!)).toBe('7');
    worker.set('h2', count(8));
    await until(() => second.has('h2'), 5000, 'writes reach the restarted master');
  });
});
