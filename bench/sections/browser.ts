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
import {
  goalAtLeast,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { median } from '../lib/timing.js';
import {
  KEEP_UP,
  LONG_FRAME_MS,
  LONG_FRAME_SHARE,
  receivedPerSec,
  runLadder,
  stepPassed,
  type LadderPlan,
  type LadderResult,
  type Step,
} from './browser-events.js';
import type { TraceSummary } from './browser-trace.js';
import { IDB_VARIANTS, runIdb, type IdbPlan, type IdbRuns, type IdbVariant } from './browser-idb.js';

const EVENTS_GOAL = 20_000;
const IDB_GOAL = 4;

const LADDER: LadderPlan = {
  rates: [0, 5000, 10_000, 20_000, 40_000, 80_000],
  receiveOnlyRates: [20_000, 40_000, 80_000],
  stepMs: 2500,
  passes: 3,
  drainMs: 3000,
  traceRate: 20_000,
};
const QUICK_LADDER: LadderPlan = {
  rates: [0, 5000, 20_000, 40_000],
  receiveOnlyRates: [40_000],
  stepMs: 1500,
  passes: 1,
  drainMs: 2000,
  traceRate: 20_000,
};
const IDB: IdbPlan = { n: 10_000, rounds: 5, warmupN: 1000, perTask: 10 };
const QUICK_IDB: IdbPlan = { n: 10_000, rounds: 1, warmupN: 500, perTask: 10 };

const ms = (x: number): string => (Number.isFinite(x) ? formatNs(x * 1e6) : '—');
const percent = (x: number): string => `${Math.round(x * 100)}%`;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** A rate passes when it passed in a majority of the passes (rendering steps only). */
function passedRates(steps: readonly Step[], plan: LadderPlan, strict = false): Set<number> {
  const rendered = steps.filter((s) => s.render && s.rate > 0);
  return new Set(
    plan.rates.filter(
      (r) => r > 0 && rendered.filter((s) => s.rate === r && stepPassed(s, strict)).length * 2 > plan.passes,
    ),
  );
}

function ladderRow(label: string, s: readonly Step[]): string[] {
  const frames = sum(s.map((x) => x.page.frames));
  const long = sum(s.map((x) => x.page.longFrames));
  const share = (f: (m: Step['mainThread']) => number): string =>
    percent(median(s.map((x) => f(x.mainThread) / x.publishMs)));
  const idle = s.every((x) => x.rate === 0);
  return [
    label,
    idle ? '—' : formatOps(median(s.map((x) => (x.published * 1000) / x.publishMs))),
    idle ? '—' : formatOps(median(s.map(receivedPerSec))),
    idle ? '—' : formatCount(sum(s.map((x) => x.published - x.page.received))),
    idle
      ? '—'
      : `${ms(median(s.map((x) => x.page.latencyP50Ms)))} / ${ms(median(s.map((x) => x.page.latencyP99Ms)))} / ${ms(Math.max(...s.map((x) => x.page.latencyMaxMs)))}`,
    formatCount(frames),
    `${formatCount(long)} (${frames > 0 ? ((100 * long) / frames).toFixed(1) : '0'}%)`,
    ms(Math.max(...s.map((x) => x.page.longestFrameMs))),
    ms(median(s.map((x) => x.page.meanFrameMs))),
    `${share((m) => m.taskMs)} (${share((m) => m.scriptMs)} / ${share((m) => m.styleMs + m.layoutMs)})`,
    idle || !s[0]!.render
      ? '—'
      : (sum(s.map((x) => x.page.rowsRendered)) / Math.max(1, sum(s.map((x) => x.page.renders)))).toFixed(0),
    percent(median(s.map((x) => x.hubCpuMs / x.publishMs))),
    percent(median(s.map((x) => x.publisherCpuMs / x.publishMs))),
    idle
      ? 'baseline'
      : `${s.filter((x) => stepPassed(x)).length}/${s.length} (${s.filter((x) => stepPassed(x, true)).length}/${s.length})`,
  ];
}

function ladderTable(steps: readonly Step[], plan: LadderPlan): Table {
  const rows = plan.rates.map((rate) =>
    ladderRow(
      rate === 0 ? 'idle page (nothing published)' : `${formatOps(rate)}, rendered`,
      steps.filter((x) => x.render && x.rate === rate),
    ),
  );
  for (const rate of plan.receiveOnlyRates) {
    rows.push(
      ladderRow(
        `${formatOps(rate)}, received only (no rendering)`,
        steps.filter((x) => !x.render && x.rate === rate),
      ),
    );
  }
  return {
    title:
      `Events a page receives and renders: ${plan.stepMs / 1000} s per rate, ${plan.passes} pass(es) of the ladder, then one ` +
      'receive-only pass (medians over passes; frames and losses summed; main thread as share of wall time)',
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
      'page main thread busy (script / style + layout)',
      'rows per render',
      'hub CPU',
      'publisher CPU',
      'passed (strict)',
    ],
    rows,
  };
}

/** The page's main thread, rendering against receiving alone, at the rates measured both ways. */
function whereTimeGoes(steps: readonly Step[]): string[] {
  const busy = (s: readonly Step[]): number => median(s.map((x) => x.mainThread.taskMs / x.publishMs));
  const both = [...new Set(steps.filter((s) => !s.render).map((s) => s.rate))].sort((a, b) => a - b);
  const parts = both.flatMap((rate) => {
    const rendered = steps.filter((s) => s.render && s.rate === rate);
    const received = steps.filter((s) => !s.render && s.rate === rate);
    return rendered.length === 0
      ? []
      : [`${formatOps(rate)}: ${percent(busy(rendered))} rendering, ${percent(busy(received))} receiving only`];
  });
  if (parts.length === 0) return [];
  return [
    `Where the page's time goes: its main thread was busy (share of wall time while publishing) ${parts.join('; ')}. ` +
      'Receiving alone — the `Endpoint` decoding frames, each event parsed, sequence and latency checked — is the ' +
      'receive-only rows; the rest is the DOM work of the dashboard-style list (creating rows, style, layout, paint, ' +
      'compositing), broken down in the trace table.',
  ];
}

/** Readable names of the main thread's trace events. */
const TRACE_LABELS: Readonly<Record<string, string>> = {
  RunTask: 'RunTask (native work of tasks the trace does not break down)',
  FunctionCall: 'FunctionCall (JavaScript: receiving, decoding, rendering)',
  Layout: 'Layout',
  UpdateLayoutTree: 'UpdateLayoutTree (style)',
  PrePaint: 'PrePaint',
  Paint: 'Paint',
  Commit: 'Commit (to the compositor)',
  Layerize: 'Layerize',
  EventDispatch: 'EventDispatch (WebSocket message events)',
  'IntersectionObserverController::computeIntersections': 'computeIntersections (`content-visibility: auto`)',
};

/** Where the traced step's time went: the page's main thread by trace event, then every busy thread. */
function traceTable(step: Step, t: TraceSummary): Table {
  const main = t.main.map((e) => [
    'page main thread',
    TRACE_LABELS[e.name] ?? e.name,
    ms(e.ms),
    percent(e.ms / t.mainBusyMs),
  ]);
  const threads = t.threads.map((e) => [
    `thread ${e.name}`,
    'busy (all processes)',
    ms(e.ms),
    percent(e.ms / t.windowMs),
  ]);
  return {
    title:
      `Where the page's time goes at ${formatOps(step.rate)}, rendered (Chromium trace of one more step, ${ms(t.windowMs)}, ` +
      `received ${formatOps(receivedPerSec(step))}; main thread busy ${ms(t.mainBusyMs)}): self time by trace event, then busy time per thread`,
    headers: ['thread', 'trace event (self time)', 'time', 'share (of main-thread busy / of the window)'],
    rows: [...main, ...threads],
    align: ['left', 'left', 'right', 'right'],
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
    headers: [
      'variant',
      'writes/s',
      `time for ${formatCount(plan.n)}`,
      'spread',
      'read-write transactions',
      '× unbatched',
      'goal',
    ],
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
  let ladderResult: LadderResult;
  let idb: IdbRuns;
  let version: string;
  try {
    const browser = await launchChromium();
    try {
      version = browser.version();
      ladderResult = await runLadder(procs, browser, ladder, ctx.log);
    } finally {
      await browser.close();
    }
    idb = await runIdb(join(procs.tempDir('isobroker-bench-chromium-'), 'profile'), idbPlan, ctx.log);
  } finally {
    await procs.stopAll();
  }
  const loadAfter = loadavg()[0]!;
  const { steps, traced } = ladderResult;

  const passed = passedRates(steps, ladder);
  const best = Math.max(0, ...passed);
  const bestStrict = Math.max(0, ...passedRates(steps, ladder, true));
  const bestReceived = best > 0 ? median(steps.filter((s) => s.render && s.rate === best).map(receivedPerSec)) : 0;
  const idbRate = (r: { ms: number }): number => (idbPlan.n * 1000) / r.ms;
  const idbRatio = median(idb.batched.map((r, i) => idbRate(r) / idbRate(idb.unbatched[i]!)));
  const goals: GoalResult[] = [
    {
      goal: `page receives and renders ≥ ${formatCount(EVENTS_GOAL)} events/s (highest published rate received in full, ≤ ${LONG_FRAME_SHARE * 100}% of frames > ${LONG_FRAME_MS} ms)`,
      measured: best > 0 ? `${formatOps(best)} (received ${formatOps(bestReceived)})` : 'no rate passed',
      met: best >= EVENTS_GOAL,
    },
    goalAtLeast(
      `batched IndexedDB persistence ≥ ${IDB_GOAL}× the writes/s of one awaited idb-keyval set per write`,
      idbRatio,
      IDB_GOAL,
    ),
  ];
  const notes = [
    ...whereTimeGoes(steps),
    `Highest rate passed: ${best > 0 ? `${formatOps(best)} published, ${formatOps(bestReceived)} received by the page` : 'none'}; ` +
      `with no frame above ${LONG_FRAME_MS} ms at all (strict): ${bestStrict > 0 ? formatOps(bestStrict) : 'none'}. ` +
      `A step passes when the page received every event exactly once, at ≥ ${KEEP_UP * 100}% of the published rate ` +
      `(first to last arrival), with at most ${LONG_FRAME_SHARE * 100}% of its animation-frame intervals above ` +
      `${LONG_FRAME_MS} ms (strict: none) — the idle page's row shows what this machine's other work alone does to ` +
      'frame timing; a rate passes when a majority of its steps passed.',
    `Chromium ${version}, headless, \`${CHROMIUM_PATH}\` with software rendering (\`--disable-gpu\`), ` +
      `viewport 1280×800. Machine load (1-minute load average) ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} ` +
      "after: the hub, the publisher and Chromium share this machine's cores with other work.",
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
  const tables = [ladderTable(steps, ladder)];
  if (traced !== undefined) tables.push(traceTable(traced.step, traced.trace));
  tables.push(idbTable(idb, idbPlan));
  return { tables, goals, notes };
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
