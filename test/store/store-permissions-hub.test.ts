/**
 * Store permissions enforced at the hub, with real endpoints on the in-memory network: each client
 * connection is accepted with its own principal (`endpoint.accept(t, 'native', { conn, principal })`).
 * A read-only client syncs a clone but cannot write; a client without read cannot attach (and says
 * so instead of retrying unanswered); a client without master cannot take a store's name before
 * the real master starts (a backed table's refused writes: test/cluster/backed-table-auth.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  count,
  createClone,
  createMaster,
  string,
  toText,
  type Endpoint,
  type StoreChangeEvent,
  type StoreClone,
  type StoreError,
  type StoreMaster,
} from 'isobroker';
import type { StorePermission } from '../../src/auth/types.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { installStoreGuard } from '../../src/store/install-store-guard.js';
import { ChangeKind, StoreMsg, encodeStoreMessage, masterTopic, updatesTopic } from '../../src/store/store-protocol.js';
import { sleep, until } from '../support/endpoints.js';
import { authHub, storePrincipal, type AuthHub } from './store-permissions-support.js';

let h: AuthHub | undefined;
const closers: { close(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

const as = (sub: string, stores: Record<string, StorePermission>) => storePrincipal(sub, stores);
const FAST = { resyncInterval: 100, masterTimeout: 1000 } as const;

async function clone(ep: Endpoint, name: string): Promise<StoreClone> {
  const c = await createClone(ep, name, FAST);
  closers.push(c);
  return c;
}

describe('store permissions at the hub', () => {
  it('a read-only client syncs a clone but its put is refused, and no other clone sees a change', async () => {
    h = authHub();
    const master = await createMaster(h.hub, 'prefs'); // installs the store guard on the hub
    closers.push(master);
    await master.put('theme', 'dark');
    const reader = await clone(await h.client(as('reader', { prefs: 'read' })), 'prefs');
    const writer = await clone(await h.client(as('writer', { prefs: 'write' })), 'prefs');
    await reader.whenInSync(5000);
    await writer.whenInSync(5000);
    expect(toText(reader.get('theme'))).toBe('dark');

    const seen: StoreChangeEvent[] = [];
    writer.onChange((ev) => seen.push(ev));
    master.onChange((ev) => seen.push(ev));
    const err = await reader.put('theme', 'light').then(
      () => undefined,
      (e: StoreError) => e,
    );
    expect(err?.code).toBe('forbidden');
    expect(err?.message).toContain("store 'prefs'");
    expect(err?.message).toContain('needs write permission');
    await reader.erase('theme').then(
      () => expect.unreachable('erase went through'),
      (e: StoreError) => expect(e.code).toBe('forbidden'),
    );
    // The writer's write goes through (the guard refuses by permission, not all writes) …
    await writer.put('font', 'mono');
    await until(() => reader.exists('font'), 5000, "the writer's write at the reader");
    // … and the reader's writes changed nothing anywhere.
    expect(seen.map((ev) => ev.type === 'insert' && toText(ev.key))).toEqual(['font', 'font']);
    expect(toText(master.get('theme'))).toBe('dark');
    expect(toText(writer.get('theme'))).toBe('dark');
    expect(reader.status).toBe('in-sync');
  });

  it('without read the attach is refused: the clone reports forbidden and stops asking', async () => {
    h = authHub();
    closers.push(await createMaster(h.hub, 'secret'));
    const ep = await h.client(as('nobody', { other: 'master' }));
    let attaches = 0;
    const publish = ep.publishEncoded.bind(ep);
    ep.publishEncoded = (topic, bytes) => {
      if (topic === masterTopic('secret')) attaches++;
      publish(topic, bytes);
    };
    const errors: StoreError[] = [];
    const c = await createClone(ep, 'secret', { ...FAST, onError: (e) => errors.push(e) });
    closers.push(c);
    const refusal = await c.whenInSync(5000).then(
      () => undefined,
      (e: StoreError) => e,
    );
    expect(refusal?.code).toBe('forbidden');
    expect(refusal?.message).toContain("store 'secret'");
    expect(refusal?.message).toContain('needs read permission');
    expect(errors.some((e) => e.code === 'forbidden')).toBe(true);
    expect(c.status).not.toBe('in-sync');
    // Attaches every 100 ms would be ~10 more in a second; after the refusal it waits (30 s).
    const before = attaches;
    await sleep(1000);
    expect(attaches - before).toBeLessThanOrEqual(1);
    // A write fails at once instead of waiting out mutation_buffer_interval.
    await expect(c.put('k', 1)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('a client without master cannot take a store name before the real master starts', async () => {
    h = authHub();
    installStoreGuard(h.hub); // a hub that only routes store traffic
    // The real master: a cluster node peered with the hub as a (trusted) router.
    const manager = await h.trusted('manager', 'router');

    // A writer (not master) tries to serve the store first, and to act as its master.
    const squatterEp = await h.client(as('squatter', { known: 'write' }));
    const squatterErrors: StoreError[] = [];
    const squatter: StoreMaster = await createMaster(squatterEp, 'known', { onError: (e) => squatterErrors.push(e) });
    closers.push(squatter);
    await until(() => squatterErrors.some((e) => e.code === 'forbidden'), 5000, 'the refusal of the squatter');
    expect(squatterErrors.find((e) => e.code === 'forbidden')?.message).toContain('needs master permission');
    await sleep(100);
    expect(manager.reachable().some((r) => r.filter.includes(masterTopic('known')))).toBe(false);

    const real = await createMaster(manager, 'known'); // not master_exists
    closers.push(real);
    await real.put('h1', count(1));
    const follower = await clone(await h.client(as('follower', { known: 'read' })), 'known');
    await follower.whenInSync(5000);
    expect(toText(follower.get('h1'))).toBe('1');
    expect(follower.position.epoch).toBe(real.position.epoch);
    // Nor can it act as the master: a forged update in the real master's epoch is refused.
    const { epoch, seq } = real.position;
    const forged = encodeStoreMessage({
      kind: StoreMsg.Update,
      epoch,
      seq: seq + 1,
      changes: [{ kind: ChangeKind.Put, key: string('h1'), value: count(666) }],
    });
    squatterErrors.length = 0;
    squatterEp.publishEncoded(updatesTopic('known'), encodeValue(forged));
    await until(() => squatterErrors.some((e) => e.code === 'forbidden'), 5000, 'the refusal of the forged update');
    await real.put('h2', count(2)); // the next real update arrives after the forged one would have
    await until(() => follower.exists('h2'), 5000, 'the next real update');
    expect(toText(follower.get('h1'))).toBe('1');
  });

  it('control: an unguarded (trusted) client does take the name first', async () => {
    h = authHub();
    const manager = await h.trusted('manager', 'router');
    const trusted = await h.trusted('trusted', 'leaf');
    closers.push(await createMaster(trusted, 'known'));
    await until(() => manager.reachable().some((r) => r.filter.includes(masterTopic('known'))), 5000, 'announce');
    await expect(createMaster(manager, 'known')).rejects.toMatchObject({ code: 'master_exists' });
  });
});
