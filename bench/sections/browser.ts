/**
 * Browser section, measured in Debian's Chromium through playwright-core: events per second a page
 * receives from a hub and renders without dropping frames (`browser-events.ts`), and clone writes
 * per second persisted to IndexedDB, batched against one awaited idb-keyval `set` per write
 * (`browser-idb.ts`).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_PATH, chromiumUnavailable, launchChromium } from '../lib/chromium.js';
import { formatCount, formatNs, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import { ProcessSet } from '../lib/processes.js';
import { goalAtLeast, type BenchSection, type GoalResult, type SectionContext, type SectionReport } from '../lib/section.js';
import { median } from '../lib/timing.js';
import { KEEP_UP, LONG_FRAME_MS, receivedPerSec, runLadder, stepPassed, type LadderPlan, type Step } from './browser-events.js';
import { IDB_VARIANTS, runIdb, type IdbPlan, type IdbRuns, type IdbVariant } from './browser-idb.js';

const EVENTS_GOAL = 20_000;
const IDB_GOAL = 4;

const LADDER: LadderPlan = { rates: [5000, 10_000, 20_000, 40_000, 80_000], stepMs: 3000, passes: 3, drainMs: 3000 };
const QUICK_LADDER: LadderPlan = { rates: [5000, 20_000, 40_000], stepMs: 1500, passes: 1, drainMs: 2000 };
const IDB: IdbPlan = { n: 10_000, rounds: 5, warmupN: 1000, perTask: 10 };
const QUICK_IDB: IdbPlan = { n: 10_000, rounds: 1, warmupN: 500, perTask: 10 };

const ms = (x: number): string => (Number.isFinite(x) ? formatNs(x * 1e6) : '—');
const percent = (x: number): string => `${Math.round(x * 100)}%`;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** A rate passes when it passed in a majority of the passes. */
function passedRates(steps: readonly Step[], plan: LadderPlan): Set<number> {
  return new Set(plan.rates.filter((r) => steps.filter((s) => s.rate === r && stepPassed(s)).length * 2 > plan.passes));
}

function ladderTable(steps: readonly Step[], plan: LadderPlan): Table {
  const rows = plan.rates.map((rate) => {
    const s = steps.filter((x) => x.rate === rate);
    const frames = sum(s.map((x) => x.page.frames));
    const long = sum(s.map((x) => x.page.longFrames));
    return [
      formatOps(rate),
      formatOps(median(s.map((x) => (x.published * 1000) / x.publishMs))),
      formatOps(median(s.map(receivedPerSec))),
      formatCount(sum(s.map((x) => x.published - x.page.received))),
      `${ms(median(s.map((x) => x.page.latencyP50Ms)))} / ${ms(median(s.map((x) => x.page.latencyP99Ms)))} / ${ms(Math.max(...s.map((x) => x.page.latencyMaxMs)))}`,
      formatCount(frames),
      `${formatCount(long)} (${frames > 0 ? ((100 * long) / frames).toFixed(1) : '0'}%)`,
      ms(Math.max(...s.map((x) => x.page.longestFrameMs))),
      ms(median(s.map((x) => x.page.meanFrameMs))),
      ms(Math.max(...s.map((x) => x.page.renderMaxMs))),
      (sum(s.map((x) => x.page.rowsRendered)) / Math.max(1, sum(s.map((x) => x.page.renders)))).toFixed(0),
      percent(median(s.map((x) => x.hubCpuMs / x.publishMs))),
      percent(median(s.map((x) => x.publisherCpuMs / x.publishMs))),
      `${s.filter(stepPassed).length}/${s.length}`,
    ];
  });
  return {
    title: `Events a page receives and renders: ${plan.stepMs / 1000} s per rate, ${plan.passes} pass(es) of the ladder (medians over passes; frames and losses summed)`,
    headers: [
      'published rate',
      'published/s',
      'received/s',
      'lost',
      'latency p50 / p99 / max',
      'frames',
      `frames > ${LONG_FRAME_MS} ms`,
      'longest frame',
      'mean frame',
      'longest render',
      'rows per render',
      'hub CPU',
      'publisher CPU',
      'passed',
    ],
    rows,
  };
}

const IDB_LABELS: Readonly<Record<IdbVariant, string>> = {
  batched: '`createIndexedDbPersistence`, all writes in one task',
  'batched-trickle': '`createIndexedDbPersistence`, 10 writes per task',
  unbatched: 'one awaited idb-keyval `set` per write',
};

function idbTable(runs: IdbRuns, plan: IdbPlan): Table {
  const rate = (r: { ms: number }): number => (plan.n * 1000) / r.ms;
  const base = runs.unbatched;
  const rows = IDB_VARIANTS.map((v) => {
    const rs = runs[v];
    const rates = rs.map(rate);
    return [
      IDB_LABELS[v].replace('10 writes', `${plan.perTask} writes`),
      formatOps(median(rates)),
      ms(median(rs.map((r) => r.ms))),
      percent((Math.max(...rates) - Math.min(...rates)) / median(rates)),
      formatCount(median(rs.map((r) => r.transactions))),
      v === 'unbatched' ? '1×' : formatRatio(median(rs.map((r, i) => rate(r) / rate(base[i]!)))),
      v === 'batched' ? `≥ ${IDB_GOAL}×` : 'info',
    ];
  });
  return {
    title: `Clone writes persisted to IndexedDB (${formatCount(plan.n)} small entries per run, ${plan.rounds} interleaved round(s), profile on disk)`,
    headers: ['variant', 'writes/s', `time for ${formatCount(plan.n)}`, 'spread', 'read-write transactions', '× unbatched', 'goal'],
    rows,
  };
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const ladder = ctx.quick ? QUICK_LADDER : LADDER;
  const idbPlan = ctx.quick ? QUICK_IDB : IDB;
  const missing = chromiumUnavailable();
  if (missing !== undefined) {
    const why = `not measured: ${missing}`;
    return {
      tables: [],
      goals: [
        { goal: `page receives and renders ≥ ${formatCount(EVENTS_GOAL)} events/s`, measured: why, met: false },
        { goal: `batched IndexedDB persistence ≥ ${IDB_GOAL}× one awaited set per write`, measured: why, met: false },
      ],
    };
  }
  const procs = new ProcessSet();
  const loadBefore = loadavg()[0]!;
  let steps: Step[];
  let idb: IdbRuns;
  let version: string;
  try {
    const browser = await launchChromium();
    try {
      version = browser.version();
      steps = await runLadder(procs, browser, ladder, ctx.log);
    } finally {
      await browser.close();
    }
    idb = await runIdb(join(procs.tempDir('isobroker-bench-chromium-'), 'profile'), idbPlan, ctx.log);
  } finally {
    await procs.stopAll();
  }
  const loadAfter = loadavg()[0]!;

  const passed = passedRates(steps, ladder);
  const best = Math.max(0, ...passed);
  const bestReceived = best > 0 ? median(steps.filter((s) => s.rate === best).map(receivedPerSec)) : 0;
  const idbRate = (r: { ms: number }): number => (idbPlan.n * 1000) / r.ms;
  const idbRatio = median(idb.batched.map((r, i) => idbRate(r) / idbRate(idb.unbatched[i]!)));
  const goals: GoalResult[] = [
    {
      goal: `page receives and renders ≥ ${formatCount(EVENTS_GOAL)} events/s (highest published rate received in full, no frame > ${LONG_FRAME_MS} ms)`,
      measured: best > 0 ? `${formatOps(best)} (received ${formatOps(bestReceived)})` : 'no rate passed',
      met: best >= EVENTS_GOAL,
    },
    goalAtLeast(`batched IndexedDB persistence ≥ ${IDB_GOAL}× the writes/s of one awaited idb-keyval set per write`, idbRatio, IDB_GOAL),
  ];
  const notes = [
    `Highest rate passed: ${best > 0 ? `${formatOps(best)} published, ${formatOps(bestReceived)} received by the page` : 'none'}. ` +
      `A step passes when the page received every event exactly once, at ≥ ${KEEP_UP * 100}% of the published rate ` +
      `(first to last arrival), with no animation-frame interval above ${LONG_FRAME_MS} ms; a rate passes when a ` +
      'majority of its steps passed.',
    `Chromium ${version}, headless, \`${CHROMIUM_PATH}\` with software rendering (\`--disable-gpu\`), ` +
      `viewport 1280×800. Machine load (1-minute load average) ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} ` +
      'after: the hub, the publisher and Chromium share this machine\'s cores with other work.',
    'Method (events): the hub is `isobroker hub` in its own process; the page (an esbuild bundle of ' +
      '`bench/browser/events-page.ts`, importing the SDK sources) runs a browser `Endpoint` peered to it and subscribed ' +
      'to `demo/`; a Node `Endpoint` in the benchmark process publishes `Bench::tick` events whose argument is a ' +
      '100-character text (sequence number, send time, padding) at a fixed rate, paced every millisecond. The page ' +
      'decodes each event (`parseZeekMessage`), checks its sequence number, takes its latency from the send time, and ' +
      'queues it; a `requestAnimationFrame` loop renders the queue once per frame as the dashboard does — a counter, ' +
      'one row (time, topic, event name, text) per event, newest first, the list cut to 500 rows — and records the ' +
      'interval between frames. Frames count from the start of a step until the last event arrived or the publisher ' +
      'stopped, whichever is later. CPU columns are the share of one core during publishing.',
    `Method (IndexedDB): a Chromium profile on disk (a persistent context, not an incognito one, whose IndexedDB is in ` +
      `memory); each run writes ${formatCount(idbPlan.n)} entries (count i → string "value i") to a fresh database, ` +
      'is timed from the first write until everything is committed (`flush()` resolved, or the last `set` resolved), ' +
      'then reads the database back to check every entry is there and deletes it. The batched persistence gets one ' +
      '`write()` per entry with its checkpoint, as a clone makes them; the unbatched variant stores the same native ' +
      'encodings with one awaited idb-keyval `set` each (one transaction per write). The trickle variant yields to ' +
      `the event loop after every ${idbPlan.perTask} writes (updates arriving over time), so commits overlap with ` +
      `writes (group commit). One warm-up run of ${formatCount(idbPlan.warmupN)} per variant, then the variants ` +
      'interleaved, the starting variant rotating; the ratio is the median of per-round ratios.',
  ];
  return { tables: [ladderTable(steps, ladder), idbTable(idb, idbPlan)], goals, notes };
}

/** The `browser` section. */
export const browserSection: BenchSection = {
  id: 'browser',
  title: 'In the browser: events rendered by a page, clone writes to IndexedDB',
  about:
    "Measured in Debian's Chromium through playwright-core. Events per second a page (a browser `Endpoint` peered to " +
    'the isobroker hub, subscribed to `demo/`) receives and renders — a counter and a row per event, batched per ' +
    'animation frame, at most 500 rows, as the dashboard does — without dropping frames, while a Node publisher ' +
    'sends 100-byte events at increasing rates; and clone writes per second persisted to IndexedDB by the batched ' +
    '`createIndexedDbPersistence` against one awaited idb-keyval `set` per write.',
  run,
};
