/**
 * Metrics section: what Prometheus metrics cost on the pub/sub path. Two hubs in processes of
 * their own, the same but for metrics: one plain, one with `createMetrics` serving `GET /metrics`
 * on its port and scraped once a second (by this process) for the whole run. Each hub gets its
 * own client driver (the pub/sub section's, `pubsub-driver.ts`: one publisher, 1 or 10 subscriber
 * endpoints, 100-byte messages, as fast as flow control allows), and their rounds alternate.
 * Reported: deliveries per second and the hub's CPU time per delivered message, metrics on
 * against off, and what one scrape costs.
 */
import { fileURLToPath } from 'node:url';
import type { ChildHandle } from '../lib/processes.js';
import { ProcessSet } from '../lib/processes.js';
import { formatBytes, formatOps, type Table } from '../lib/markdown.js';
import { RpcClient } from '../lib/rpc.js';
import {
  goalAtMost,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { median } from '../lib/timing.js';
import type { RoundResult, RoundSpec } from './pubsub-load.js';

/** Messages published per event-loop turn, and most in flight per subscriber (as the pub/sub section). */
const BURST = 500;
const IN_FLIGHT_CAP = 2000;
const SCENARIOS = [1, 10] as const;
const SCRAPE_INTERVAL_MS = 1000;
const START_TIMEOUT_MS = 15_000;
const CALL_SLACK_MS = 15_000;
/** Goal: the hub with metrics is at most this much slower (throughput off / on). */
const GOAL_SLOWDOWN = 1.03;

interface Durations {
  readonly warmupMs: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly drainMs: number;
}
const FULL: Durations = { warmupMs: 1000, roundMs: 1500, rounds: 11, drainMs: 2000 };
const QUICK: Durations = { warmupMs: 300, roundMs: 700, rounds: 2, drainMs: 1000 };

type Variant = 'off' | 'on';
interface Hub {
  readonly variant: Variant;
  readonly url: string;
  readonly pid: number;
  readonly driver: RpcClient;
}

const helper = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

async function startHub(procs: ProcessSet, variant: Variant): Promise<Hub> {
  const child: ChildHandle = procs.spawn(`hub (metrics ${variant})`, process.execPath, [
    helper('metrics-hub-server.js'),
    ...(variant === 'on' ? ['--metrics'] : []),
  ]);
  const m = await child.waitForLine(/^ready (ws:\/\/\S+)$/, START_TIMEOUT_MS);
  const driver = new RpcClient(
    procs.spawn(`driver (metrics ${variant})`, process.execPath, [helper('pubsub-driver.js')]),
  );
  return { variant, url: m[1]!, pid: child.pid, driver };
}

/** Scrapes `url` every second until stopped; keeps each scrape's time and size. */
function scraper(url: string): { stop(): Promise<{ times: number[]; bytes: number[]; failures: number }> } {
  const times: number[] = [];
  const bytes: number[] = [];
  let failures = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = (async () => {
      const t0 = performance.now();
      try {
        const res = await fetch(url);
        const body = await res.text();
        if (res.status !== 200) failures++;
        else {
          times.push(performance.now() - t0);
          bytes.push(Buffer.byteLength(body));
        }
      } catch {
        failures++;
      }
    })();
  }, SCRAPE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return { times, bytes, failures };
    },
  };
}

interface Scenario {
  readonly subscribers: number;
  readonly rounds: Map<Variant, RoundResult[]>;
}

function round(h: Hub, d: Durations, durationMs = d.roundMs): Promise<RoundResult> {
  const spec: RoundSpec = {
    durationMs,
    burst: BURST,
    inFlightCap: IN_FLIGHT_CAP,
    drainMs: d.drainMs,
    brokerPid: h.pid,
  };
  return h.driver.call<RoundResult>('round', spec, durationMs + d.drainMs + CALL_SLACK_MS);
}

async function runScenario(
  ctx: SectionContext,
  hubs: readonly Hub[],
  subscribers: number,
  d: Durations,
): Promise<Scenario> {
  const label = `1→${subscribers}`;
  for (const h of hubs) await h.driver.call('setup', { system: 'hub', url: h.url, subscribers }, 30_000);
  for (const h of hubs) {
    ctx.log(`metrics ${label}: warming up the hub with metrics ${h.variant}`);
    await round(h, d, d.warmupMs);
  }
  const rounds = new Map<Variant, RoundResult[]>(hubs.map((h) => [h.variant, []]));
  for (let r = 0; r < d.rounds; r++) {
    for (let k = 0; k < hubs.length; k++) {
      const h = hubs[(r + k) % hubs.length]!;
      ctx.log(`metrics ${label}: round ${r + 1}/${d.rounds}, metrics ${h.variant}`);
      rounds.get(h.variant)!.push(await round(h, d));
    }
  }
  for (const h of hubs) await h.driver.call('teardown', {}, 15_000);
  return { subscribers, rounds };
}

const rate = (rs: readonly RoundResult[]): number => median(rs.map((r) => r.deliveredPerSec));
/** Hub CPU time per delivered message of one round, µs (undefined when unknown). */
const cpuOf = (r: RoundResult): number | undefined =>
  r.brokerCpuMs !== null && r.delivered > 0 ? (r.brokerCpuMs * 1000) / r.delivered : undefined;
/**
 * The median over round pairs (round r without metrics, round r with) of `value(a) ÷ value(b)`:
 * pairs ran back to back, so slow drifts of the machine's load cancel out.
 */
function pairedRatio(
  a: readonly RoundResult[],
  b: readonly RoundResult[],
  value: (r: RoundResult) => number | undefined,
): number {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = value(a[i]!);
    const y = value(b[i]!);
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  }
  return median(ratios);
}
/** Hub CPU time per delivered message, µs (median over rounds). */
const cpuPerMessage = (rs: readonly RoundResult[]): number =>
  median(rs.filter((r) => r.brokerCpuMs !== null && r.delivered > 0).map((r) => (r.brokerCpuMs! * 1000) / r.delivered));

async function run(ctx: SectionContext): Promise<SectionReport> {
  const d = ctx.quick ? QUICK : FULL;
  const procs = new ProcessSet();
  const results: Scenario[] = [];
  let scrapes = { times: [] as number[], bytes: [] as number[], failures: 0 };
  try {
    ctx.log('metrics: starting a hub without and one with metrics');
    const hubs = [await startHub(procs, 'off'), await startHub(procs, 'on')];
    const on = hubs[1]!;
    const s = scraper(`${on.url.replace(/^ws/, 'http')}/metrics`);
    try {
      for (const n of SCENARIOS) results.push(await runScenario(ctx, hubs, n, d));
    } finally {
      scrapes = await s.stop();
    }
  } finally {
    await procs.stopAll();
  }

  const goals: GoalResult[] = [];
  const rows = results.map((r) => {
    const off = r.rounds.get('off')!;
    const on = r.rounds.get('on')!;
    const slowdown = pairedRatio(off, on, (x) => x.deliveredPerSec);
    const cpuRatio = pairedRatio(on, off, cpuOf);
    goals.push(
      goalAtMost(`1→${r.subscribers}: hub with metrics (scraped every second) ≤ 1.03× slower`, slowdown, GOAL_SLOWDOWN),
    );
    return [
      `1→${r.subscribers}`,
      formatOps(rate(off)),
      formatOps(rate(on)),
      `${slowdown.toFixed(3)}×`,
      `${cpuPerMessage(off).toFixed(2)} µs`,
      `${cpuPerMessage(on).toFixed(2)} µs`,
      `${cpuRatio.toFixed(3)}×`,
    ];
  });
  const tables: Table[] = [
    {
      title: `Deliveries per second and hub CPU per delivered message (median of ${d.rounds} interleaved rounds of ${d.roundMs} ms)`,
      headers: [
        'scenario',
        'metrics off (msg/s)',
        'metrics on (msg/s)',
        'slowdown (off ÷ on, paired)',
        'hub CPU/msg off',
        'hub CPU/msg on',
        'CPU ratio (on ÷ off, paired)',
      ],
      rows,
    },
    {
      title: 'One scrape of GET /metrics (the hub with metrics, while the rounds ran)',
      headers: ['scrapes', 'failed', 'median time', 'max time', 'median size'],
      rows: [
        [
          String(scrapes.times.length),
          String(scrapes.failures),
          scrapes.times.length ? `${median(scrapes.times).toFixed(1)} ms` : '–',
          scrapes.times.length ? `${Math.max(...scrapes.times).toFixed(1)} ms` : '–',
          scrapes.bytes.length ? formatBytes(median(scrapes.bytes)) : '–',
        ],
      ],
    },
  ];
  return {
    tables,
    goals,
    notes: [
      'Slowdown above 1 means the hub with metrics delivered fewer messages per second; below 1, more (noise). ' +
        'The metrics are read at scrape time, so the per-message path is the same in both hubs; what differs is the ' +
        "scrape itself (collecting and serialising the registry once a second) and prom-client's default process " +
        'metrics (an event-loop delay histogram and a GC observer). On a shared 2-core machine the spread between ' +
        'rounds is several percent: the ratios are medians over back-to-back pairs of rounds, and the CPU per message is shown too.',
    ],
  };
}

export const metricsSection: BenchSection = {
  id: 'metrics',
  title: 'Metrics overhead on the pub/sub path',
  about:
    'Two hub processes that differ only in Prometheus metrics: one plain, one with `createMetrics` serving ' +
    '`GET /metrics` on its port and scraped once a second throughout. One publisher to one and to ten subscriber ' +
    "endpoints (the pub/sub section's client driver), 100-byte messages at full speed, rounds of the two hubs " +
    'interleaved. Reported: deliveries per second, hub CPU time per delivered message, and the cost of one scrape.',
  run,
};
