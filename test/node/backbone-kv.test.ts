/**
 * natsLeaseKv on a real three-server NATS cluster (JetStream, replicas 3): create, update,
 * compare-and-set conflicts, get, delete, watch, expiry, error codes, and recovery after the
 * stream leader is killed with SIGKILL. Also: `isobroker/node` loads without nats.js (only type
 * imports of `nats` in src/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseEntry, LeaseKv } from '../../src/backbone/types.js';
import { connectNats, type NatsClient, natsLeaseKv } from '../../src/node/index.js';
import { describeNats, type NatsCluster, startNatsCluster, streamInfo, until } from '../support/nats-cluster.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Resolves with the error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Records what a watch delivers. */
function recorder(kv: LeaseKv, key: string) {
  const seen: (string | undefined)[] = [];
  const entries: (LeaseEntry | undefined)[] = [];
  const stop = kv.watch(key, (e) => {
    entries.push(e);
    seen.push(e === undefined ? undefined : `${text(e.value)}@${e.revision}`);
  });
  return { seen, entries, stop };
}

describe('the nats package stays optional', () => {
  it('src/ imports nats only as types (loaded with import() on first use)', () => {
    const root = fileURLToPath(new URL('../../src/', import.meta.url));
    const offenders: string[] = [];
    let natsFiles = 0;
    const walk = (dir: string) => {
      for (const ent of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, ent.name);
        if (ent.isDirectory()) walk(path);
        else if (path.endsWith('.ts')) {
          const src = readFileSync(path, 'utf8');
          for (const m of src.matchAll(/^\s*(import|export)\s+([^;]*?)\s+from\s+['"](nats|nats\/[^'"]*)['"]/gms)) {
            natsFiles++;
            if (!/^type\s/.test(m[2]!)) offenders.push(`${path}: ${m[0].trim()}`);
          }
          if (/require\(\s*['"]nats['"]\s*\)/.test(src)) offenders.push(`${path}: require('nats')`);
        }
      }
    };
    walk(root);
    expect(natsFiles).toBeGreaterThan(0); // the scan sees the adapter's type imports
    expect(offenders).toEqual([]);
  });
});

describeNats('natsLeaseKv on a three-server NATS cluster', () => {
  let cluster: NatsCluster;
  const conns: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await cluster?.stop();
  }, 30_000);

  async function open(
    bucket: string,
    first = 0,
    opts?: { ttl?: number; timeout?: number; watchCheckInterval?: number },
  ) {
    const urls = [...cluster.urls.slice(first), ...cluster.urls.slice(0, first)];
    const nc = await connectNats(urls, { name: `kv-test-${bucket}-${first}`, extra: { noRandomize: true } });
    conns.push(nc);
    return { nc, kv: await natsLeaseKv(nc, bucket, { replicas: 3, ...opts }) };
  }

  it('create, update, compare-and-set conflicts, get and delete', async () => {
    const { kv } = await open('leases');
    expect(await kv.get('store/a')).toBeUndefined();
    const r1 = await kv.create('store/a', bytes('m1'));
    expect(r1).toBeGreaterThan(0);
    expect(await kv.get('store/a')).toEqual({ value: bytes('m1'), revision: r1 });

    const taken = await rejection(kv.create('store/a', bytes('m2')));
    expect(taken.code).toBe('wrong_revision');

    const r2 = await kv.update('store/a', bytes('m1 renewed'), r1);
    expect(r2).toBeGreaterThan(r1);
    const stale = await rejection(kv.update('store/a', bytes('late'), r1));
    expect(stale.code).toBe('wrong_revision');
    expect(text((await kv.get('store/a'))?.value)).toBe('m1 renewed');

    // A second key (dotted, as leaseKey makes them) is independent; revisions grow per bucket.
    const other = await kv.create('store.zeek=2Fb', bytes('x'));
    expect(other).toBeGreaterThan(r2);
    expect(text((await kv.get('store.zeek=2Fb'))?.value)).toBe('x');
    // Keys outside JetStream's alphabet are refused, as MemoryLeaseKv refuses them.
    for (const bad of ['', 'a b', '.a', 'a.', 'a..b', 'é', 'a*', 'a>']) {
      expect((await rejection(kv.create(bad, bytes('x')))).code, bad).toBe('invalid_argument');
    }

    expect((await rejection(kv.delete('store/a', r1))).code).toBe('wrong_revision');
    await kv.delete('store/a', r2);
    expect(await kv.get('store/a')).toBeUndefined();
    expect((await rejection(kv.update('store/a', bytes('gone'), r2))).code).toBe('wrong_revision');
    const r3 = await kv.create('store/a', bytes('m2'));
    expect(r3).toBeGreaterThan(other);
    await kv.delete('store/a');
    expect(await kv.get('store/a')).toBeUndefined();

    expect((await rejection(kv.update('store/a', bytes('x'), 0))).code).toBe('wrong_revision');
  });

  it('two clients on different servers race for one key: exactly one create wins', async () => {
    const a = await open('race', 0);
    const b = await open('race', 1);
    const c = await open('race', 2);
    const results = await Promise.allSettled(
      [a, b, c].map(({ kv }, i) => kv.create('master/store', bytes(`node${i}`))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => (r.reason as { code?: string }).code)).toEqual(['wrong_revision', 'wrong_revision']);
    const winner = results.indexOf(won[0]!);
    expect(text((await b.kv.get('master/store'))?.value)).toBe(`node${winner}`);
  });

  it('watch: the current entry, every update, undefined on delete, then a new create', async () => {
    const { kv } = await open('watched');
    // Only the JetStream watch (no reads of the key, which may skip a superseded state).
    const { kv: other } = await open('watched', 2, { watchCheckInterval: 0 });
    const r1 = await kv.create('lease', bytes('a'));
    const w = recorder(other, 'lease');
    await until('initial entry', 10_000, async () => expect(w.seen).toEqual([`a@${r1}`]));
    const r2 = await kv.update('lease', bytes('b'), r1);
    await kv.delete('lease', r2);
    const r4 = await kv.create('lease', bytes('c'));
    await until('changes', 10_000, async () => expect(w.seen).toEqual([`a@${r1}`, `b@${r2}`, undefined, `c@${r4}`]));
    w.stop();
    await kv.update('lease', bytes('d'), r4);
    await other.get('lease'); // a round trip after the update
    await new Promise((r) => setTimeout(r, 200));
    expect(w.seen).toHaveLength(4);

    // A watch of a deleted key reports undefined first (its delete marker), as MemoryLeaseKv does.
    await kv.delete('lease');
    const deleted = recorder(other, 'lease');
    await until('deleted reported', 10_000, async () => expect(deleted.seen).toEqual([undefined]));
    deleted.stop();

    // A watch of a key never written delivers nothing until it appears.
    const absent = recorder(other, 'nothing-here');
    await new Promise((r) => setTimeout(r, 300));
    expect(absent.seen).toEqual([]);
    const r = await kv.create('nothing-here', bytes('now'));
    await until('created', 10_000, async () => expect(absent.seen).toEqual([`now@${r}`]));
    absent.stop();
  });

  it('ttl: an entry not renewed expires; the watcher hears undefined and create works again', async () => {
    const { nc, kv } = await open('expiring', 1, { ttl: 1500 });
    const w = recorder(kv, 'lease');
    const r1 = await kv.create('lease', bytes('m'));
    await until('entry seen', 10_000, async () => expect(w.seen).toEqual([`m@${r1}`]), 50);
    const r2 = await kv.update('lease', bytes('m'), r1);
    await until('expiry seen', 15_000, async () => expect(w.seen).toEqual([`m@${r1}`, `m@${r2}`, undefined]), 100);
    expect(await kv.get('lease')).toBeUndefined();
    const r3 = await kv.create('lease', bytes('n'));
    expect(r3).toBeGreaterThan(r2);
    await until('new entry seen', 10_000, async () => expect(w.seen.at(-1)).toBe(`n@${r3}`));
    w.stop();
    // The bucket exists with its ttl: another ttl is refused, none given takes the bucket's.
    await expect(natsLeaseKv(nc, 'expiring', { ttl: 6000 })).rejects.toMatchObject({
      code: 'invalid_config',
      option: 'ttl',
    });
    await expect(natsLeaseKv(nc, 'expiring')).resolves.toBeDefined();
  });

  it('a closed connection rejects with closed', async () => {
    const { nc, kv } = await open('leases');
    await nc.close();
    expect((await rejection(kv.get('x'))).code).toBe('closed');
    await expect(natsLeaseKv(nc, 'leases')).rejects.toMatchObject({ code: 'closed' });
  });

  it("a watcher's own server killed (not the stream leader): it moves and hears what changed meanwhile", async () => {
    const bucket = 'moving-watcher';
    const { kv } = await open(bucket, 0);
    const probe = await connect({ servers: [...cluster.urls], name: 'kv-test-probe-2' });
    conns.push(probe);
    const leaderName = (await streamInfo(probe, `KV_${bucket}`))?.cluster?.leader;
    const victim = cluster.servers.findIndex((s) => s.name !== leaderName);
    // The writer sits on the third server (neither the leader nor the watcher's).
    const writerAt = cluster.servers.findIndex((s, i) => s.name !== leaderName && i !== victim);
    const { kv: writer } = await open(bucket, writerAt);
    const { nc: watcherNc, kv: watcherKv } = await open(bucket, victim);
    expect(watcherNc.getServer()).toContain(`:${cluster.servers[victim]!.port}`);
    let rev = await kv.create('lease', bytes('v0'));
    const w = recorder(watcherKv, 'lease');
    await until('watch started', 10_000, async () => expect(w.seen).toEqual([`v0@${rev}`]));
    await cluster.servers[victim]!.kill('SIGKILL');
    rev = await writer.update('lease', bytes('v1'), rev);
    await until('the change heard after moving', 30_000, async () => expect(w.seen.at(-1)).toBe(`v1@${rev}`));
    expect(watcherNc.getServer()).not.toContain(`:${cluster.servers[victim]!.port}`);
    rev = await writer.update('lease', bytes('v2'), rev);
    await until('later changes too', 10_000, async () => expect(w.seen.at(-1)).toBe(`v2@${rev}`));
    expect(w.seen.filter((x) => x === undefined)).toEqual([]);
    expect(new Set(w.seen).size).toBe(w.seen.length);
    w.stop();
    await cluster.servers[victim]!.restart();
  }, 60_000);

  it('the stream leader killed with SIGKILL: operations and watches resume', async () => {
    const bucket = 'failover';
    const probe: NatsConnection = await connect({ servers: [...cluster.urls], name: 'kv-test-probe' });
    const client: NatsClient = probe; // a nats.js connection is a NatsClient as it is (compile-time check)
    conns.push(client);
    const info = await streamInfo(probe, `KV_${bucket}`);
    expect(info).toBeUndefined(); // a fresh bucket
    const { kv } = await open(bucket, 0, { timeout: 1000 });
    const si = (await streamInfo(probe, `KV_${bucket}`))!;
    expect(si.config.num_replicas).toBe(3);
    const leaderName = si.cluster?.leader;
    const leader = cluster.servers.find((s) => s.name === leaderName);
    expect(leader, `leader ${leaderName}`).toBeDefined();
    // The watcher and a second writer sit on surviving servers.
    const survivor = cluster.servers.findIndex((s) => s !== leader);
    const { kv: watcherKv } = await open(bucket, survivor);
    let rev = await kv.create('lease', bytes('v0'));
    const w = recorder(watcherKv, 'lease');
    await until('watch started', 10_000, async () => expect(w.seen).toEqual([`v0@${rev}`]));

    const killedAt = Date.now();
    await leader!.kill('SIGKILL');
    let attempts = 0;
    let failures = 0;
    let lastError = '';
    const codes = new Set<string>();
    rev = await until(
      'an update after the leader died',
      60_000,
      async () => {
        attempts++;
        try {
          return await kv.update('lease', bytes('v1'), rev);
        } catch (e) {
          failures++;
          lastError = (e as { code?: string }).code ?? String(e);
          codes.add(lastError);
          expect(['unavailable', 'wrong_revision']).toContain(lastError);
          if (lastError === 'wrong_revision') {
            // An earlier attempt went through after all (its answer was lost): read the revision.
            const cur = await kv.get('lease');
            if (text(cur?.value) === 'v1') return cur!.revision;
          }
          throw e;
        }
      },
      100,
    );
    const recoveredAt = Date.now();
    await until('watch resumed', 60_000, async () => expect(w.seen.at(-1)).toBe(`v1@${rev}`));
    const watchAt = Date.now();
    const newLeader = (await streamInfo(probe, `KV_${bucket}`))?.cluster?.leader;
    expect(newLeader).not.toBe(leaderName);
    console.log(
      `stream leader ${leaderName} killed: update ok after ${recoveredAt - killedAt} ms (${attempts} attempts, ${failures} failed, last ${lastError || '-'}), watch after ${watchAt - killedAt} ms, new leader ${newLeader}`,
    );
    expect(codes.has('unavailable')).toBe(true); // the leaderless stream answered nobody
    expect(w.seen.filter((s) => s === undefined)).toEqual([]);

    // The killed server comes back and the bucket is whole again.
    await leader!.restart();
    const r = await kv.update('lease', bytes('v2'), rev);
    expect(r).toBeGreaterThan(rev);
    w.stop();
  }, 120_000);
});
