/**
 * Store master leases (src/store/master-lease.ts) on JetStream KV of a real three-server NATS
 * cluster: managers on different servers racing for one store (exactly one master, the others get
 * `master_exists`), clones finding the master by watching, and the bucket's stream leader killed
 * with SIGKILL while a master holds the lease (it keeps holding it; renewals resume).
 */
import { connect } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LeaseKv } from '../../src/backbone/types.js';
import { connectNats, type NatsClient, natsLeaseKv } from '../../src/node/index.js';
import { type LeaseHolder, leaseKey, MasterLease, watchMaster } from '../../src/store/master-lease.js';
import { describeNats, type NatsCluster, startNatsCluster, streamInfo, until } from '../support/nats-cluster.js';

describeNats('store master leases on JetStream KV of a three-server NATS cluster', () => {
  let cluster: NatsCluster;
  const conns: NatsClient[] = [];
  const leases: MasterLease[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);

  afterAll(async () => {
    for (const l of leases) await l.release().catch(() => {});
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await cluster?.stop();
  }, 30_000);

  /** A lease bucket through a connection whose first server is server `first`. */
  async function bucket(name: string, first: number, ttl: number, timeout = 5000): Promise<LeaseKv> {
    const urls = [...cluster.urls.slice(first), ...cluster.urls.slice(0, first)];
    const nc = await connectNats(urls, { name: `lease-${first}`, extra: { noRandomize: true } });
    conns.push(nc);
    return natsLeaseKv(nc, name, { replicas: 3, ttl, timeout });
  }

  const manager = (kv: LeaseKv, i: number, ttl: number, renewInterval?: number) => {
    const lease = new MasterLease({ kv, store: 'zeek/known/hosts', endpointId: `manager-${i}`, ttl, renewInterval });
    leases.push(lease);
    return lease;
  };

  it('managers on three servers race for one store: exactly one master, the others get master_exists', async () => {
    const ttl = 10_000;
    const kvs = await Promise.all([0, 1, 2].map((i) => bucket('race', i, ttl)));
    const seen: (LeaseHolder | undefined)[] = [];
    const stop = watchMaster(kvs[1]!, 'zeek/known/hosts', (h) => seen.push(h));
    const managers = kvs.map((kv, i) => manager(kv, i, ttl));
    const results = await Promise.allSettled(managers.map((m) => m.claim()));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    const winner = won[0]!;
    for (const [i, r] of results.entries()) {
      if (i !== winner) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'master_exists' });
    }
    const epoch = managers[winner]!.epoch;
    await until('the clone sees the master', 10_000, async () =>
      expect(seen.at(-1)).toMatchObject({ endpointId: `manager-${winner}`, epoch }),
    );
    // Released: the next claim wins with a higher epoch.
    await managers[winner]!.release();
    const nextIndex = (winner + 1) % 3;
    const epoch2 = await until('a new claim', 10_000, () => managers[nextIndex]!.claim());
    expect(epoch2).toBeGreaterThan(epoch);
    await until('the clone sees the new master', 10_000, async () =>
      expect(seen.at(-1)).toMatchObject({ endpointId: `manager-${nextIndex}`, epoch: epoch2 }),
    );
    stop();
  });

  it('the stream leader killed with SIGKILL: the master keeps its lease and renewals resume', async () => {
    // A ttl well above JetStream's leader election (4-7 s measured on nats-server 2.9).
    const ttl = 15_000;
    const kv = await bucket('failover-lease', 0, ttl, 1000);
    const lease = manager(kv, 0, ttl, 1000);
    const lost: unknown[] = [];
    let renewFailures = 0;
    lease.on('lost', (ev) => lost.push(ev));
    lease.on('renewFailed', () => renewFailures++);
    const epoch = await lease.claim();

    const probe = await connect({ servers: [...cluster.urls], name: 'lease-probe' });
    const leaderName = (await streamInfo(probe, 'KV_failover-lease'))?.cluster?.leader;
    await probe.close();
    const leader = cluster.servers.find((s) => s.name === leaderName);
    expect(leader, `stream leader ${leaderName}`).toBeDefined();
    const observerAt = cluster.servers.findIndex((s) => s !== leader);
    const observer = await bucket('failover-lease', observerAt, ttl);
    const revisionBefore = (await observer.get(leaseKey('zeek/known/hosts')))!.revision;

    const killedAt = Date.now();
    await leader!.kill('SIGKILL');
    const renewed = await until(
      'a renewal after the kill',
      ttl,
      async () => {
        const e = await observer.get(leaseKey('zeek/known/hosts'));
        if (e === undefined || e.revision <= revisionBefore) throw new Error('not renewed yet');
        return e;
      },
      100,
    );
    const renewedAt = Date.now();
    expect(lease.state).toBe('held');
    expect(lease.epoch).toBe(epoch);
    expect(lost).toEqual([]);
    expect(JSON.parse(new TextDecoder().decode(renewed.value))).toMatchObject({ endpointId: 'manager-0', epoch });
    console.log(
      `lease bucket's stream leader ${leaderName} killed: first renewal landed ${renewedAt - killedAt} ms later ` +
        `(renewal every 1000 ms, ${renewFailures} failed meanwhile); the master kept epoch ${epoch}`,
    );
    await leader!.restart();
  }, 60_000);
});
