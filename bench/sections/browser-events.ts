/**
 * The browser section's event ladder: the isobroker hub (`isobroker hub`) in its own process, a
 * page in Chromium with a browser `Endpoint` peered to it (`bench/browser/events-page.ts`), and a
 * Node `Endpoint` in the benchmark process publishing 100-character events on `demo/tick` at fixed
 * rates, a few seconds per rate, while the page counts, renders and times its frames.
 */
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Endpoint, makeEvent, string } from '../../src/index.js';
import type { PageStats } from '../browser/events-page.js';
import { bundlePage, pageSource, servePage, type PageServer } from '../lib/chromium.js';
import { freePort, processCpuMs, sleep, type ProcessSet } from '../lib/processes.js';
import { TRACE_CATEGORIES, summarizeTrace, type TraceSummary } from './browser-trace.js';

/** What the ladder runs. */
export interface LadderPlan {
  /** Published events per second, one step each, in order; 0 is an idle step (the frame-timing baseline). */
  readonly rates: readonly number[];
  /** Rates of one extra pass in which the page only counts arrivals (the receive path without rendering). */
  readonly receiveOnlyRates: readonly number[];
  readonly stepMs: number;
  /** Times the whole ladder runs. */
  readonly passes: number;
  /** Longest wait for the last events after a step. */
  readonly drainMs: number;
  /** Rate of one extra rendered step recorded in a Chromium trace (where the page's time goes); 0 for none. */
  readonly traceRate: number;
}

/** Main-thread time of the page during publishing, from Chromium's `Performance.getMetrics`, in ms. */
export interface MainThread {
  /** Every task (script, style, layout, paint, …). */
  readonly taskMs: number;
  readonly scriptMs: number;
  readonly styleMs: number;
  readonly layoutMs: number;
}

/** One step of the ladder. */
export interface Step {
  readonly rate: number;
  /** False in the receive-only pass. */
  readonly render: boolean;
  readonly pass: number;
  readonly mainThread: MainThread;
  readonly published: number;
  readonly publishMs: number;
  readonly page: PageStats;
  /** CPU time of the hub and of the benchmark process (publisher) during the step, ms. */
  readonly hubCpuMs: number;
  readonly publisherCpuMs: number;
}

/** A frame interval above this is a long frame (dropped frames). */
export const LONG_FRAME_MS = 50;
/**
 * Share of frames that may exceed {@link LONG_FRAME_MS} in a passing step: one in a hundred, the
 * occasional hiccup an idle page also shows when other work holds the CPU (the idle step measures it).
 */
export const LONG_FRAME_SHARE = 0.01;
/** A step passes when the page received at least this share of the published rate. */
export const KEEP_UP = 0.95;

/** The ladder's steps, and the traced step with its trace summary. */
export interface LadderResult {
  readonly steps: Step[];
  readonly traced?: { readonly step: Step; readonly trace: TraceSummary };
}

/** Entries per list of the trace summary. */
const TRACE_TOP = 12;

/** Received per second, from the first to the last arrival of the step. */
export function receivedPerSec(s: Step): number {
  return s.page.spanMs > 0 ? (s.page.received * 1000) / s.page.spanMs : 0;
}

/**
 * A step passes when every event arrived once (no loss, no duplicate), the page kept pace (its
 * receive rate ≥ {@link KEEP_UP} of the published rate) and at most {@link LONG_FRAME_SHARE} of
 * its frame intervals exceeded {@link LONG_FRAME_MS} — with `strict`, none did.
 */
export function stepPassed(s: Step, strict = false): boolean {
  return (
    s.page.received === s.published &&
    s.page.lost === 0 &&
    s.page.duplicates === 0 &&
    receivedPerSec(s) >= KEEP_UP * ((s.published * 1000) / s.publishMs) &&
    (strict ? s.page.longFrames === 0 : s.page.longFrames <= LONG_FRAME_SHARE * s.page.frames)
  );
}

const SEQ_DIGITS = 12;
const TIME_DIGITS = 16;
const PAD = 'x'.repeat(100 - SEQ_DIGITS - TIME_DIGITS - 2);

/** The event text: sequence number, send time in µs since the epoch, padding — 100 characters. */
function eventText(seq: number): string {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  return `${String(seq).padStart(SEQ_DIGITS, '0')} ${String(us).padStart(TIME_DIGITS, '0')} ${PAD}`;
}

type PageApi = {
  start(url: string): Promise<string>;
  reset(nextSeq: number, render: boolean): void;
  received(): number;
  now(): number;
  stats(publishEndMs: number): PageStats;
};
/** The page's global, as seen by functions that `page.evaluate` runs in the page. */
type G = { benchEvents: PageApi };

function binPath(): string {
  return fileURLToPath(new URL('../../../bin/isobroker.js', import.meta.url));
}

/** Publishes `rate` events per second for `ms`, paced every millisecond; resolves with the count. */
async function publishAt(
  pub: Endpoint,
  rate: number,
  ms: number,
  firstSeq: number,
): Promise<{ published: number; publishMs: number }> {
  let seq = firstSeq;
  const t0 = performance.now();
  let published = 0;
  for (let now = t0; now - t0 < ms; now = performance.now()) {
    const due = Math.floor((rate * (now - t0)) / 1000) - published;
    for (let k = 0; k < due; k++) pub.publish('demo/tick', makeEvent('Bench::tick', [string(eventText(seq++))]));
    published += Math.max(0, due);
    await sleep(1);
  }
  return { published, publishMs: performance.now() - t0 };
}

/** Waits until the page received `n` events, or `ms` passed, or arrivals stopped for a while. */
async function drain(page: Page, n: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  let last = -1;
  let still = 0;
  while (performance.now() < deadline) {
    const got = await page.evaluate(() => (globalThis as unknown as G).benchEvents.received());
    if (got >= n) return;
    still = got === last ? still + 1 : 0;
    if (still >= 10) return; // nothing arrived for 0.5 s: the rest is lost
    last = got;
    await sleep(50);
  }
}

/** Runs the ladder; `log` reports progress. */
export async function runLadder(
  procs: ProcessSet,
  browser: Browser,
  plan: LadderPlan,
  log: (line: string) => void,
): Promise<LadderResult> {
  const port = await freePort();
  const hub = procs.spawn('isobroker hub', process.execPath, [
    binPath(),
    'hub',
    '--listen',
    `127.0.0.1:${port}`,
    '--quiet',
  ]);
  const url = (await hub.waitForLine(/ready: native (ws:\/\/\S+),/, 15_000))[1]!;
  let server: PageServer | undefined;
  let context: BrowserContext | undefined;
  const pub = new Endpoint({ name: 'bench-publisher' });
  const errors: string[] = [];
  try {
    server = await servePage(await bundlePage(pageSource('events-page')), 'isobroker bench: events');
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    await page.evaluate((u) => (globalThis as unknown as G).benchEvents.start(u), url);
    await pub.peer(url);
    await pub.whenRoutable('demo/tick', { timeoutMs: 15_000 });
    // Probe until the page's subscription is live end to end.
    let seq = 1;
    await page.evaluate((s) => (globalThis as unknown as G).benchEvents.reset(s, true), seq);
    const probeEnd = performance.now() + 15_000;
    while ((await page.evaluate(() => (globalThis as unknown as G).benchEvents.received())) === 0) {
      if (performance.now() > probeEnd) throw new Error('the page received no event within 15 s');
      pub.publish('demo/tick', makeEvent('Bench::tick', [string(eventText(seq++))]));
      await sleep(50);
    }
    await sleep(200);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async (): Promise<Map<string, number>> =>
      new Map((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const step = async (rate: number, render: boolean, pass: number): Promise<Step> => {
      await page.evaluate(([s, r]) => (globalThis as unknown as G).benchEvents.reset(s, r), [seq, render] as const);
      const m0 = await metrics();
      const hub0 = processCpuMs(hub.pid) ?? NaN;
      const cpu0 = process.cpuUsage();
      const { published, publishMs } = await publishAt(pub, rate, plan.stepMs, seq);
      const cpu = process.cpuUsage(cpu0);
      const hubCpuMs = (processCpuMs(hub.pid) ?? NaN) - hub0;
      const m1 = await metrics();
      const endAt = await page.evaluate(() => (globalThis as unknown as G).benchEvents.now());
      seq += published;
      await drain(page, published, plan.drainMs);
      const stats = await page.evaluate((t) => (globalThis as unknown as G).benchEvents.stats(t), endAt);
      const delta = (name: string): number => ((m1.get(name) ?? NaN) - (m0.get(name) ?? NaN)) * 1000;
      const mainThread = {
        taskMs: delta('TaskDuration'),
        scriptMs: delta('ScriptDuration'),
        styleMs: delta('RecalcStyleDuration'),
        layoutMs: delta('LayoutDuration'),
      };
      await sleep(300); // let a backlog of a failed step clear before the next one
      return {
        rate,
        render,
        pass,
        mainThread,
        published,
        publishMs,
        page: stats,
        hubCpuMs,
        publisherCpuMs: (cpu.user + cpu.system) / 1000,
      };
    };
    const steps: Step[] = [];
    for (let pass = 1; pass <= plan.passes; pass++) {
      for (const rate of plan.rates) {
        log(`browser: pass ${pass}/${plan.passes}, publishing ${rate} events/s for ${plan.stepMs} ms`);
        steps.push(await step(rate, true, pass));
      }
    }
    let traced: LadderResult['traced'];
    if (plan.traceRate > 0) {
      log(`browser: tracing the page at ${plan.traceRate} events/s, rendered`);
      await browser.startTracing(page, { categories: [...TRACE_CATEGORIES] });
      const tracedStep = await step(plan.traceRate, true, 0);
      const trace = summarizeTrace((await browser.stopTracing()).toString('utf8'), TRACE_TOP);
      traced = { step: tracedStep, trace };
    }
    for (const rate of plan.receiveOnlyRates) {
      log(`browser: receive only (no rendering), publishing ${rate} events/s for ${plan.stepMs} ms`);
      steps.push(await step(rate, false, 1));
    }
    if (errors.length > 0) throw new Error(`page errors: ${errors.slice(0, 3).join('; ')}`);
    return traced === undefined ? { steps } : { steps, traced };
  } finally {
    await pub.close();
    await context?.close();
    await server?.close();
    await hub.stop();
  }
}
