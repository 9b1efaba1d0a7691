/**
 * Fault cases of the NATS backbone on a real three-server cluster on loopback (issue 14, Tests):
 * - the server a receiving endpoint uses is killed with SIGKILL, or frozen with SIGSTOP (then
 *   continued), while another endpoint publishes about 10k events/s: the receiver's connection
 *   moves to another server and delivery resumes; no duplicate, in order; what was lost in flight
 *   is counted (published vs received) and reported with the backbones' stats (dropped, queued);
 * - a logger's endpoint is cut off (its only connection, through a TCP proxy, dropped and refused)
 *   while a worker logs under load with the acknowledged batch protocol (src/logging/router.ts):
 *   the worker sees the logger down through backbone presence, hands its unacknowledged batches
 *   to the other logger, and once every batch is acknowledged no record is lost; one is written
 *   twice only if its batch was handed over after the cut-off logger wrote it (an acknowledgement
 *   lost in the cut: the protocol's known limit, reported).
 * Timings are reported, never asserted beyond generous bounds.
 */
import {
  CONN_LOG,
  ClusterNode,
  Endpoint,
  LogRouter,
  type ClusterLayout,
  type Data,
  type LogBatchKey,
  type LogStream,
  type LogWriter,
  type Message,
} from 'isobroker';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type AttachBackboneOptions, attachBackbone, connectNats, type NatsClient } from '../../src/node/index.js';
import {
  describeNats,
  type NatsCluster,
  type NatsProxy,
  natsProxy,
  startNatsCluster,
  until,
} from '../support/nats-cluster.js';
import { connRecord } from '../support/log-records.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeNats('backbone fault cases on a three-server NATS cluster', () => {
  let cluster: NatsCluster;
  const cleanup: (() => unknown)[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);

  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    // Every server running and awake again for the next case.
    for (const s of cluster.servers) {
      if (s.running && s.pid !== undefined) process.kill(s.pid, 'SIGCONT');
      else await s.restart();
    }
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  const NS = 'faults-test';

  /** An endpoint on a connection whose first server is server `first` (or the given URLs). */
  async function hub(
    name: string,
    urls: readonly string[],
    extra: Record<string, unknown> = {},
    opts: AttachBackboneOptions = {},
  ) {
    const nc: NatsClient = await connectNats(urls, {
      name,
      reconnectTimeWait: 100,
      pingInterval: 1000,
      maxPingOut: 2,
      extra: { noRandomize: true, ...extra },
    });
    const ep = new Endpoint({ name });
    cleanup.push(() => nc.close().catch(() => {}));
    cleanup.push(() => ep.close());
    const link = attachBackbone(ep, nc, { namespace: NS, rttInterval: 0, ...opts });
    return { ep, nc, link };
  }
  const pinned = (first: number) => [...cluster.urls.slice(first), ...cluster.urls.slice(0, first)];

  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`the server a receiver uses gets ${signal} at 10k events/s: delivery resumes, no duplicate, loss reported`, async () => {
      const a = await hub(`recv-${signal}`, pinned(0));
      const b = await hub(`send-${signal}`, pinned(1));
      await until('presence', 10_000, async () => expect(b.link.presence.isPresent(a.ep.id)).toBe(true));
      const got: number[] = [];
      const arrived: number[] = [];
      a.ep.subscribe('load/', (m: Message) => {
        got.push(Number((m.data as { value: unknown }).value));
        arrived.push(Date.now());
      });
      await until('routable', 10_000, async () => expect(b.ep.hasRoute('load/x')).toBe(true));

      // B publishes at 10k events/s: each turn (setTimeout(1), 1-2 ms here) catches up with the clock.
      const RATE = 10; // per ms
      let n = 0;
      let running = true;
      const sentAt: number[] = [];
      const t0 = Date.now();
      const traffic = (async () => {
        while (running) {
          const now = Date.now();
          const due = Math.min((now - t0) * RATE, n + 200);
          while (n < due) {
            n++;
            sentAt[n] = now;
            b.ep.publish('load/x', n);
          }
          await sleep(1);
        }
      })();
      cleanup.push(async () => {
        running = false;
        await traffic;
      });
      await until('traffic', 10_000, async () => expect(got.length).toBeGreaterThan(2000));
      const victim = cluster.servers.find((s) => a.nc.getServer().endsWith(`${s.host}:${s.port}`))!;
      expect(victim, `a's server ${a.nc.getServer()}`).toBeDefined();
      const bServer = b.nc.getServer();
      expect(bServer).not.toContain(`${victim.host}:${victim.port}`);
      const faultAt = Date.now();
      const before = got.length;
      await victim.kill(signal);
      await until(`delivery after ${signal}`, 30_000, async () => {
        expect(a.nc.getServer()).not.toContain(`${victim.host}:${victim.port}`);
        expect(got.length).toBeGreaterThan(before + 2000);
      });
      const movedAt = Date.now();
      if (signal === 'SIGSTOP') {
        // Woken up after the receiver left it: whatever it still holds must not come twice.
        process.kill(victim.pid!, 'SIGCONT');
        await sleep(1500);
      }
      running = false;
      await traffic;
      const last = n;
      const rate = Math.round((last / (Date.now() - sentAt[1]!)) * 1000);
      await until('the tail', 15_000, async () => expect(got.at(-1)).toBe(last));
      await sleep(300); // anything late (a duplicate) would arrive now

      const distinct = new Set(got).size;
      const duplicates = got.length - distinct;
      expect(duplicates).toBe(0);
      let disorder = 0;
      for (let i = 1; i < got.length; i++) if (got[i]! <= got[i - 1]!) disorder++;
      expect(disorder).toBe(0);
      // The outage: the longest silence at the receiver after the fault; delivery resumed after it.
      let gap = 0;
      let resumedAt = 0;
      for (let k = 1; k < arrived.length; k++) {
        if (arrived[k]! < faultAt) continue;
        const d = arrived[k]! - Math.max(arrived[k - 1]!, faultAt);
        if (d > gap) {
          gap = d;
          resumedAt = arrived[k]!;
        }
      }
      expect(resumedAt).toBeGreaterThan(0);
      const lost = last - distinct;
      const as = a.link.stats();
      const bs = b.link.stats();
      console.log(
        `${signal} of ${victim.name} (receiver's server) under ${rate} events/s: published ${last}, received ${distinct}, ` +
          `duplicates ${duplicates}, lost in flight ${lost} (${((lost / last) * 100).toFixed(2)}%); ` +
          `longest silence ${gap} ms, delivery resumed ${resumedAt - faultAt} ms after the fault (receiver seen on ${a.nc.getServer()} by ${movedAt - faultAt} ms); ` +
          `receiver: reconnects ${as.reconnects}, dropped ${as.dropped}, queued ${as.queued}; ` +
          `sender: state ${bs.state}, published ${bs.published}, dropped ${bs.dropped}, queued ${bs.queued}, endpoints seen ${bs.endpoints}`,
      );
      expect(as.reconnects).toBeGreaterThanOrEqual(1);
    }, 120_000);
  }

  /** A log writer in memory: every uid written, by logger. */
  class MemoryWriter implements LogWriter {
    readonly uids: string[] = [];
    batches = 0;
    write(_stream: LogStream, records: readonly Data[], _batch?: LogBatchKey): void {
      this.batches++;
      for (const r of records) {
        if (r.type !== 'vector') throw new Error('not a record');
        const uid = r.elements[1];
        this.uids.push(uid?.type === 'string' ? uid.value : '?');
      }
    }
    async flush() {}
    async close() {}
  }

  it("a logger's endpoint cut off while a worker logs under load: no record lost, duplicates reported", async () => {
    const names: [string, 'manager' | 'logger' | 'worker'][] = [
      ['manager', 'manager'],
      ['logger-1', 'logger'],
      ['logger-2', 'logger'],
      ['worker-1', 'worker'],
    ];
    const layout: ClusterLayout = {
      nodes: names.map(([name, role], i) => ({ name, role, host: '127.0.0.1', port: 30000 + i })),
      managerIsLogger: false,
    };
    // logger-1 reaches NATS only through a proxy to server 1 (no cluster updates: it stays there).
    const proxy: NatsProxy = await natsProxy(cluster.urls[0]!);
    cleanup.push(() => proxy.close());
    const writers = new Map<string, MemoryWriter>();
    const nodes = new Map<string, ClusterNode>();
    const routers = new Map<string, LogRouter>();
    for (const [i, [name, role]] of names.entries()) {
      const urls = name === 'logger-1' ? [proxy.url] : pinned(i % 3);
      const extra = name === 'logger-1' ? { ignoreClusterUpdates: true } : {};
      const { ep } = await hub(name, urls, extra);
      const node = new ClusterNode(ep, layout, name);
      node.start();
      cleanup.push(() => node.close());
      nodes.set(name, node);
      const writer = role === 'logger' ? new MemoryWriter() : undefined;
      if (writer) writers.set(name, writer);
      const router = new LogRouter(node, {
        ackTimeout: 1000,
        handoverTimeout: 1000,
        ...(writer ? { writer } : {}),
      });
      cleanup.push(() => router.close());
      routers.set(name, router);
    }
    const worker = nodes.get('worker-1')!;
    const router = routers.get('worker-1')!;
    await until('loggers up', 15_000, async () => {
      expect(worker.isUp('logger-1') && worker.isUp('logger-2')).toBe(true);
    });
    let downAt = 0;
    worker.on('nodeDown', (e) => {
      if (e.name === 'logger-1' && downAt === 0) downAt = Date.now();
    });

    // About 5000 records/s for 6 s; logger-1 is cut off after 2 s and let back after 5 s.
    const total = 30_000;
    const startedAt = Date.now();
    let cutAt = 0;
    let restoredAt = 0;
    for (let i = 0; i < total; i++) {
      router.write(CONN_LOG, connRecord(i));
      if (i === 1) await until('both loggers reachable', 10_000, async () => expect(router.inFlight).toBe(0));
      if (i % 100 === 99) await sleep(20);
      if (i === total / 3) {
        proxy.cut();
        cutAt = Date.now();
      }
      if (i === (total * 5) / 6) {
        proxy.restore();
        restoredAt = Date.now();
      }
    }
    const writtenAt = Date.now();
    await until('every batch acknowledged', 30_000, async () => expect(router.inFlight).toBe(0));
    await until('logger-1 back', 15_000, async () => expect(worker.isUp('logger-1')).toBe(true));
    await sleep(500); // a late duplicate write would land now

    const all = [...writers.values()].flatMap((w) => w.uids);
    const counts = new Map<string, number>();
    for (const u of all) counts.set(u, (counts.get(u) ?? 0) + 1);
    const lost = total - counts.size;
    const twice = [...counts.values()].filter((c) => c > 1).length;
    const s = router.stats();
    console.log(
      `logger-1 cut off under ${Math.round((total / (writtenAt - startedAt)) * 1000)} records/s: ` +
        `seen down ${downAt ? downAt - cutAt : 'never'} ms after the cut, let back after ${restoredAt - cutAt} ms; ` +
        `logger-1 wrote ${writers.get('logger-1')!.uids.length}, logger-2 ${writers.get('logger-2')!.uids.length}; ` +
        `lost ${lost}, written twice ${twice}; worker router: sent ${s.sent}, resent ${s.resent}, ` +
        `handed over ${s.handedOver}, acknowledged ${s.acknowledged}, dropped ${s.dropped}; ` +
        `logger duplicates skipped ${routers.get('logger-1')!.stats().duplicates}+${routers.get('logger-2')!.stats().duplicates}`,
    );
    expect(downAt).toBeGreaterThan(0); // presence told the worker's router
    expect(lost).toBe(0);
    expect(s.dropped).toBe(0);
    // A record is written twice only when its batch was handed over after logger-1 had written it
    // and its acknowledgement was lost in the cut (the protocol's known limit; usually 0 here).
    expect([...counts.values()].filter((c) => c > 2)).toEqual([]);
    expect(twice).toBeLessThanOrEqual(s.handedOver);
  }, 120_000);
});
