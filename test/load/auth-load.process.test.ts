/**
 * Load with authentication on (issue 11, "Load and faults"): a real `isobroker hub --policy`
 * child process on 127.0.0.1, clients in this process.
 *
 * 1. N authenticated clients (CI 100, ISOBROKER_LOAD=1 1,000), half native endpoints, half raw
 *    Broker JSON v1 sockets with `Authorization: Bearer`, each with its own grant (a token claim
 *    `t/<i % G>/`) and a subscription broader than it (`t/` or `""`, narrowed by the hub), fed
 *    ~10,000 deliveries/s by numbered publishers for D s (CI 5, load 30): 0 deliveries outside a
 *    grant, 0 lost, 0 duplicated; connect+auth p50/p99 and the hub's RSS are printed.
 * 2. One JSON v1 client stops reading a 5 MiB/s feed, with `--overflow-policy disconnect` and
 *    again `drop_oldest`: it is disconnected with `buffer_overflow` / told of every drop, while
 *    the other clients (CI 40 at 2,000 deliveries/s, load 999 at 10,000/s) keep ≥ 95 % of their
 *    deliveries during the feed and lose none.
 *
 * Figures go to stdout as `[auth-load] name: value`, one per line.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint, string } from 'isobroker';
import { startHub } from '../support/processes.js';
import {
  Fleet,
  LOAD,
  authFixture,
  figure,
  jsonUrlOf,
  loadTeardown,
  openJsonV1,
  percentile,
  vmRssKiB,
  waitUntil,
} from '../support/auth-fixtures.js';

const TAG = 'auth-load';
const { cleanup, fleets, endpoints, raws, startFleet } = loadTeardown();

const POLICY = {
  roles: {
    client: {},
    publisher: { publish: { allow: ['t/', 'o/', 'feed/'] }, limits: { publishRate: 0 } },
  },
};

describe('auth load', () => {
  it(`${LOAD ? 1000 : 100} clients with their own grants, ~10,000 deliveries/s: none outside a grant, none lost or duplicated`, async () => {
    const N = LOAD ? 1000 : 100;
    const D = LOAD ? 30_000 : 5_000;
    const G = 10;
    const RATE = 10_000;
    const fx = authFixture(cleanup);
    fx.writePolicy(POLICY);
    const { cli, url } = await startHub(['--policy', fx.policyFile, '--quiet', '--buffer-size', '4096']);
    const pid = cli.proc.pid!;
    const rssStart = vmRssKiB(pid);
    const fleet = new Fleet({
      url,
      fx,
      clients: N,
      groups: G,
      prefix: 't',
      kinds: ['native', 'json-raw'],
      publishers: ['native', 'native', 'json-raw', 'json-raw'],
    });
    fleets.push(fleet);
    const t0 = performance.now();
    await fleet.connect();
    const connectAll = performance.now() - t0;
    await fleet.warmUp();
    const rssConnected = vmRssKiB(pid);
    const elapsed = await fleet.stream(D, RATE);
    const totals = await fleet.drain(30_000);
    const rssEnd = vmRssKiB(pid);

    const ms = (v: number): string => `${v.toFixed(1)} ms`;
    for (const kind of ['native', 'json-raw'] as const) {
      const times = fleet.clients.filter((c) => c.kind === kind).map((c) => c.connectMs);
      figure(
        TAG,
        `connect+auth ${kind} p50/p99/max (${times.length} clients)`,
        `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))} / ${ms(Math.max(...times))}`,
      );
    }
    figure(TAG, `all ${N} clients connected in`, ms(connectAll));
    figure(
      TAG,
      'deliveries',
      `${totals.delivered} in ${(elapsed / 1000).toFixed(1)} s (${Math.round(totals.delivered / (elapsed / 1000))}/s, target ${RATE}/s)`,
    );
    figure(TAG, 'lost / duplicated / outside a grant', `${totals.lost} / ${totals.dup} / ${totals.outside}`);
    figure(TAG, 'hub RSS start / connected / after load', `${rssStart} / ${rssConnected} / ${rssEnd} KiB`);
    figure(TAG, 'hub RSS per connection', `${((rssConnected - rssStart) / (N + fleet.pubs.length)).toFixed(1)} KiB`);

    expect(fleet.clients.length).toBe(N);
    expect(totals.outside).toBe(0);
    expect(totals.dup).toBe(0);
    expect(totals.lost).toBe(0);
    // Each client got every message of its group and nothing else.
    const sent = fleet.sent;
    expect(totals.delivered).toBe(fleet.clients.reduce((n, c) => n + c.check.expected(sent), 0));
    expect(fleet.clients.every((c) => c.losses === 0)).toBe(true);
    expect(cli.proc.exitCode).toBeNull();
  }, 240_000);

  for (const policy of ['disconnect', 'drop_oldest'] as const) {
    it(`a client that stops reading a 5 MiB/s feed (--overflow-policy ${policy}) does not slow the others`, async () => {
      const N = LOAD ? 999 : 40;
      // The stall stays under the hub's limits for a connection that does not read (no pong for
      // 5 to 10 s: the listener's ping; 10 s without progress: the write deadline), which would
      // close it for another reason.
      const FEED_MS = 4_000;
      const MSG = 16 * 1024;
      const FEED_PER_S = Math.round((5 * 1024 * 1024) / MSG); // 320 messages of 16 KiB per second
      const OTHERS_RATE = LOAD ? 10_000 : 2000;
      const fx = authFixture(cleanup);
      fx.writePolicy(POLICY);
      // Not --quiet: the hub's buffer_overflow line tells when the stalled client was dropped.
      const { cli, url } = await startHub([
        '--policy',
        fx.policyFile,
        '--overflow-policy',
        policy,
        '--buffer-size',
        '64',
      ]);
      const jsonUrl = jsonUrlOf(url);
      const fleet = await startFleet({
        url,
        jsonUrl,
        fx,
        clients: N,
        groups: 4,
        prefix: 'o',
        kinds: ['native', 'json-raw'],
        publishers: ['native', 'json-raw'],
      });

      // The stalled client: a JSON v1 client granted feed/, which stops reading after its ack.
      let stalledData = 0;
      const stalled = await openJsonV1(
        jsonUrl,
        await fx.mint('stalled', { roles: ['client'], subscribe: { allow: ['feed/'] } }),
        ['feed/'],
        () => void stalledData++,
      );
      raws.push(stalled);
      const feeder = new Endpoint({ name: 'feeder' });
      endpoints.push(feeder);
      await feeder.peer(url, { retry: 0, token: await fx.mint('feeder', { roles: ['publisher'] }) });
      await feeder.whenRoutable('feed/x');

      const payload = string('f'.repeat(MSG));
      let fed = 0;
      const overflowLine = (): boolean => cli.stderr.some((l) => l.includes('buffer_overflow'));
      let resumed = false;
      let resumedAt = 0;
      stalled.pause();
      const feedStart = performance.now();
      // The feed and the others' stream run side by side for FEED_MS.
      const feeding = (async () => {
        while (performance.now() - feedStart < FEED_MS) {
          const due = Math.floor((FEED_PER_S * (performance.now() - feedStart)) / 1000);
          while (fed < due) {
            feeder.publish('feed/x', payload);
            fed++;
          }
          // Disconnect policy: read again once the hub dropped it (its close is then waiting
          // behind the bytes in flight), well before the hub's close timeout.
          if (policy === 'disconnect' && !resumed && overflowLine()) {
            resumed = true;
            resumedAt = performance.now();
            stalled.resume();
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const base = fleet.sent;
      const baseDelivered = fleet.clients.map((c) => c.check.received);
      await fleet.stream(FEED_MS, OTHERS_RATE);
      await feeding;
      if (!resumed) {
        resumedAt = performance.now();
        stalled.resume();
      }
      const stallMs = resumedAt - feedStart;
      // The others' deliveries during the feed against what was sent to them meanwhile (half a
      // second for the last ones in flight). Over all of them: one client of this process may
      // lag behind its neighbours for a moment (this process runs all of them).
      const sentDuring = fleet.sent;
      await new Promise((r) => setTimeout(r, 500));
      let expectedSum = 0;
      let deliveredSum = 0;
      const ratios = fleet.clients.map((c, k) => {
        const expected = c.check.expected(sentDuring) - c.check.expected(base);
        const delivered = Math.min(expected, c.check.received - baseDelivered[k]!);
        expectedSum += expected;
        deliveredSum += delivered;
        return delivered / expected;
      });
      const minRatio = Math.min(...ratios);
      const ratio = deliveredSum / expectedSum;
      const totals = await fleet.drain(30_000);

      let dropped = 0;
      if (policy === 'disconnect') {
        await waitUntil(() => stalled.closed !== undefined, 15_000, 'the stalled client to be closed');
        expect(stalled.errors.map((e) => e.code)).toContain('buffer_overflow');
        expect(stalled.closed!.code).toBe(1008);
        expect(stalledData).toBeLessThan(fed);
      } else {
        const counted = (): number => {
          dropped = 0;
          for (const e of stalled.errors) {
            expect(e.code).toBe('buffer_overflow');
            dropped += Number(/^dropped (\d+) messages?: .*\(policy drop_oldest\)/.exec(e.context!)![1]);
          }
          return stalledData + dropped;
        };
        await waitUntil(() => counted() === fed, 20_000, `data + dropped = ${fed} (have ${counted()})`);
        expect(dropped).toBeGreaterThan(0);
        expect(stalled.closed).toBeUndefined();
      }
      figure(
        TAG,
        `slow consumer (${policy}) feed`,
        `${fed} × 16 KiB in ${(FEED_MS / 1000).toFixed(0)} s; stalled client got ${stalledData}, told of ${dropped} drops, closed ${stalled.closed ? stalled.closed.code : 'no'}; read again after ${stallMs.toFixed(0)} ms`,
      );
      figure(
        TAG,
        `slow consumer (${policy}) others' delivered/sent during the feed, all ${N} / slowest`,
        `${(ratio * 100).toFixed(1)} % of ${expectedSum} / ${(minRatio * 100).toFixed(1)} %`,
      );
      figure(
        TAG,
        `slow consumer (${policy}) others lost / dup / outside`,
        `${totals.lost} / ${totals.dup} / ${totals.outside}`,
      );

      expect(ratio).toBeGreaterThanOrEqual(0.95);
      expect(totals.lost).toBe(0);
      expect(totals.dup).toBe(0);
      expect(totals.outside).toBe(0);
      expect(fleet.clients.every((c) => c.losses === 0)).toBe(true);
      expect(cli.proc.exitCode).toBeNull();
    }, 120_000);
  }
});
