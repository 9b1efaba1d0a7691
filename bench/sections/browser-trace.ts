/**
 * Summarises a Chromium trace (the JSON `browser.stopTracing()` returns, DevTools timeline
 * categories): busy time per thread, and the self time of each trace event on the page's main
 * thread — script, style, layout, paint, commit, garbage collection — so the benchmark can say
 * where a page's time goes. Times are wall-clock durations of trace events, nested events
 * subtracted from their parents.
 */

/** Categories that give the DevTools Performance panel's view of a page, plus V8's GC phases. */
export const TRACE_CATEGORIES: readonly string[] = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'v8.execute',
  'disabled-by-default-v8.gc',
];

interface TraceEvent {
  readonly name: string;
  readonly ph: string;
  readonly pid: number;
  readonly tid: number;
  readonly ts: number;
  readonly dur?: number;
  readonly args?: { readonly name?: string };
}

/** Self time of one trace event name, or busy time of one thread. */
export interface TraceEntry {
  readonly name: string;
  readonly ms: number;
}

export interface TraceSummary {
  /** Busy time (top-level events) of the page's main thread. */
  readonly mainBusyMs: number;
  /** Self time per event name on the page's main thread, largest first. */
  readonly main: readonly TraceEntry[];
  /** Busy time per thread name (summed over processes), largest first. */
  readonly threads: readonly TraceEntry[];
  /** From the first to the last event, ms. */
  readonly windowMs: number;
}

const MAIN_THREAD = 'CrRendererMain';

/** Self and top-level times of the complete (`X`) events of one thread. */
function threadTimes(events: TraceEvent[]): { busyUs: number; self: Map<string, number> } {
  events.sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const stack: { end: number; name: string; selfUs: number }[] = [];
  const self = new Map<string, number>();
  let busyUs = 0;
  const close = (): void => {
    const top = stack.pop()!;
    self.set(top.name, (self.get(top.name) ?? 0) + Math.max(0, top.selfUs));
  };
  for (const e of events) {
    const dur = e.dur ?? 0;
    while (stack.length > 0 && stack[stack.length - 1]!.end <= e.ts) close();
    const parent = stack[stack.length - 1];
    if (parent === undefined) busyUs += dur;
    else parent.selfUs -= dur;
    stack.push({ end: e.ts + dur, name: e.name, selfUs: dur });
  }
  while (stack.length > 0) close();
  return { busyUs, self };
}

function largest(map: Map<string, number>, n: number): TraceEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000 }));
}

/** Summarises `trace` (the JSON text of a Chromium trace); `top` entries per list. */
export function summarizeTrace(trace: string, top: number): TraceSummary {
  const parsed = JSON.parse(trace) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  const names = new Map<string, string>();
  const byThread = new Map<string, TraceEvent[]>();
  let first = Infinity;
  let last = -Infinity;
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name !== undefined) names.set(key, e.args.name);
    if (e.ph !== 'X' || e.dur === undefined) continue;
    let list = byThread.get(key);
    if (list === undefined) byThread.set(key, (list = []));
    list.push(e);
    first = Math.min(first, e.ts);
    last = Math.max(last, e.ts + e.dur);
  }
  const threads = new Map<string, number>();
  let main: { busyUs: number; self: Map<string, number> } | undefined;
  for (const [key, list] of byThread) {
    const name = names.get(key) ?? 'unnamed thread';
    const t = threadTimes(list);
    threads.set(name, (threads.get(name) ?? 0) + t.busyUs);
    // Several renderers may exist; the page's is the busiest.
    if (name === MAIN_THREAD && (main === undefined || t.busyUs > main.busyUs)) main = t;
  }
  return {
    mainBusyMs: (main?.busyUs ?? 0) / 1000,
    main: main === undefined ? [] : largest(main.self, top),
    threads: largest(threads, top),
    windowMs: Number.isFinite(first) ? (last - first) / 1000 : 0,
  };
}
