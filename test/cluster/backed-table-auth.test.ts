/**
 * A backed table applies its writes at once; a write the store refuses (the master answers with an
 * error) or the hub refuses (`forbidden`: the principal lacks `write` on the store) is rolled back
 * locally and reported on the table's `error` channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackedTable,
  count,
  createMaster,
  string,
  toText,
  type ErrorEvent,
  type StoreError,
  type StoreMaster,
} from 'isobroker';
import { backedTableStoreName } from '../../src/cluster/backed-table.js';
import { memoryEndpoints, until, type Net } from '../support/endpoints.js';
import { authHub, storePrincipal, type AuthHub } from '../store/store-permissions-support.js';

let net: Net | undefined;
const closers: { close(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await net?.close();
  net = undefined;
});

const text = (d: unknown): string | undefined => (d === undefined ? undefined : toText(d as never));

describe('BackedTable: refused writes roll back', () => {
  it('a write the master refuses goes back to the stored value (or away), with a write_failed error', async () => {
    net = memoryEndpoints(2);
    await net.eps[1]!.peer(net.url(0));
    // A master that refuses entries above 64 bytes; the clone's own limit is far larger, so it sends them.
    const master: StoreMaster = await createMaster(net.eps[0]!, backedTableStoreName('hosts'), { maxEntryBytes: 64 });
    closers.push(master);
    const table = await BackedTable.open(net.eps[1]!, 'hosts', { clone: { resyncInterval: 100 } });
    closers.push(table);
    const errors: ErrorEvent[] = [];
    table.on('error', (ev) => errors.push(ev));
    table.set('k', count(1));
    await until(() => master.exists('k'), 5000, 'the first write');

    const big = string('x'.repeat(200));
    table.set('k', big);
    table.set('fresh', big);
    expect(text(table.get('k'))).toBe(text(big)); // at once, before the master answers
    expect(table.has('fresh')).toBe(true);
    await until(() => errors.length >= 2, 5000, 'both refusals');
    expect(text(table.get('k'))).toBe('1');
    expect(table.has('fresh')).toBe(false);
    for (const ev of errors) {
      expect(ev.code).toBe('write_failed');
      expect((ev.cause as { code?: string }).code).toBe('value_too_large');
      expect(ev.context).toContain('rolled back');
    }
    expect(toText(master.get('k'))).toBe('1');
    expect(master.exists('fresh')).toBe(false);
  });

  it('a refused write while a later one is in flight leaves the entry to the later one', async () => {
    net = memoryEndpoints(2);
    await net.eps[1]!.peer(net.url(0));
    const master = await createMaster(net.eps[0]!, backedTableStoreName('hosts'), { maxEntryBytes: 64 });
    closers.push(master);
    const table = await BackedTable.open(net.eps[1]!, 'hosts', { clone: { resyncInterval: 100 } });
    closers.push(table);
    const errors: ErrorEvent[] = [];
    table.on('error', (ev) => errors.push(ev));
    table.set('k', string('x'.repeat(200))); // refused
    table.set('k', count(2)); // accepted
    await until(() => errors.length === 1 && master.exists('k'), 5000, 'refusal and write');
    await until(() => text(table.get('k')) === '2', 5000, 'the later write to stand');
    expect(errors[0]!.context).not.toContain('rolled back');
    expect(toText(master.get('k'))).toBe('2');
  });
});

describe('BackedTable: writes the hub refuses (store permissions) roll back', () => {
  let h: AuthHub | undefined;
  afterEach(async () => {
    for (const c of closers.splice(0)) c.close();
    await h?.close();
    h = undefined;
  });

  it('a backed table of a read-only client rolls its refused writes back', async () => {
    h = authHub();
    const store = backedTableStoreName('hosts');
    const manager = await BackedTable.open(h.hub, 'hosts', { master: true });
    closers.push(manager);
    manager.set('a', count(1));
    const ep = await h.client(storePrincipal('viewer', { [store]: 'read' }));
    const table = await BackedTable.open(ep, 'hosts', { clone: { resyncInterval: 100 } });
    closers.push(table);
    await until(() => table.has('a'), 5000, 'sync');
    const errors: ErrorEvent[] = [];
    table.on('error', (ev) => errors.push(ev));

    table.set('a', count(2));
    table.set('b', count(3));
    table.delete('a');
    expect(table.has('a')).toBe(false); // at once
    expect(toText(table.get('b')!)).toBe('3');
    await until(() => errors.length >= 3, 5000, 'three refusals');
    expect(toText(table.get('a')!)).toBe('1');
    expect(table.has('b')).toBe(false);
    for (const ev of errors) {
      expect(ev.code).toBe('write_failed');
      expect((ev.cause as StoreError).code).toBe('forbidden');
    }
    expect(errors.at(-1)!.context).toContain('rolled back');
    expect(toText(manager.get('a')!)).toBe('1');
    expect(manager.has('b')).toBe(false);
  });
});
