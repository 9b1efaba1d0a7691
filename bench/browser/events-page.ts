/**
 * Benchmark page: a browser `Endpoint` peered to a hub, subscribed to `demo/`, rendering what
 * arrives as the dashboard's event stream does — arrivals are queued, and once per animation frame
 * a counter is updated and one row per event is prepended, keeping only the newest 500 rows.
 * Each event carries a 100-character text: sequence number, send time (µs since the epoch) and
 * padding. The page measures arrivals (rate, sequence gaps, latency) and the intervals between
 * animation frames; `benchEvents` on `globalThis` is driven by `bench/sections/browser-events.ts`.
 */
import { Endpoint, parseZeekMessage, type Message } from '../../src/index.js';

/** Rows kept in the list, as the dashboard's `MAX_ROWS`. */
const MAX_ROWS = 500;
/** A frame interval above this counts as a long (dropped-frames) frame. */
const LONG_FRAME_MS = 50;
const SEQ_DIGITS = 12;
const TIME_AT = SEQ_DIGITS + 1;
const TIME_DIGITS = 16;

interface Arrival {
  readonly topic: string;
  readonly name: string;
  readonly text: string;
  readonly time: number;
}

// Laid out as the dashboard's event list: a scrolling list of grid rows, the event's arguments as
// chips on a second line, rows out of view skipping layout and paint (`content-visibility`).
const style = document.createElement('style');
style.textContent = [
  'body{font:13px system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}',
  '#counter{padding:6px;border-bottom:1px solid #ccc;font-variant-numeric:tabular-nums}',
  '.event-list{flex:1 1 0;min-height:320px;overflow-y:auto;font-size:12.5px}',
  '.event-row{display:grid;grid-template-columns:7.5em minmax(0,max-content) minmax(0,1fr);gap:3px 10px;padding:4px 2px;' +
    'border-bottom:1px solid #ddd;align-items:baseline;content-visibility:auto;contain-intrinsic-size:auto 44px}',
  '.ev-time{color:#666;font-family:monospace}.ev-topic{font-family:monospace;color:#06c;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}',
  '.ev-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}',
  '.ev-args{grid-column:2/-1;display:flex;flex-wrap:wrap;gap:3px 6px;min-width:0}',
  '.arg{font-family:monospace;background:#f4f6f8;border:1px solid #ccd;border-radius:4px;padding:0 5px;overflow-wrap:anywhere}',
  '.arg-type{color:#a60;font-size:.9em}',
].join('\n');
document.head.append(style);
const counter = document.createElement('div');
counter.id = 'counter';
const list = document.createElement('div');
list.className = 'event-list';
document.body.append(counter, list);

let endpoint: Endpoint | undefined;
/** False: arrivals are counted and measured but not rendered (the receive path alone). */
let rendering = true;
let pending: Arrival[] = [];
let total = 0;
// Per-step measurements, cleared by reset().
let received = 0;
let firstSeq = 1;
let stale = 0;
let lost = 0;
let duplicates = 0;
let lastSeq = 0;
let firstAt = NaN;
let lastAt = NaN;
let skipped = 0;
let latency = new Float64Array(1 << 18);
let latencies = 0;
/** Interval since the previous frame, and the frame's time. */
let frameIntervals: number[] = [];
let frameTimes: number[] = [];
let lastFrame = NaN;
let renderMs: number[] = [];
let rowsRendered = 0;

function clock(): number {
  return performance.timeOrigin + performance.now();
}

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

function arrive(m: Message): void {
  const now = performance.now();
  let name: string;
  let text: string;
  try {
    const z = parseZeekMessage(m.data);
    const arg = z.kind === 'event' ? z.args[0] : undefined;
    if (z.kind !== 'event' || arg?.type !== 'string') return;
    name = z.name;
    text = arg.value;
  } catch {
    return;
  }
  const seq = digits(text, 0, SEQ_DIGITS);
  if (seq < firstSeq) {
    stale++; // a straggler of an earlier step
    return;
  }
  if (seq <= lastSeq) {
    duplicates++;
    return;
  }
  if (seq > lastSeq + 1) lost += seq - lastSeq - 1;
  lastSeq = seq;
  received++;
  total++;
  if (Number.isNaN(firstAt)) firstAt = now;
  lastAt = now;
  if (latencies === latency.length) {
    const bigger = new Float64Array(latency.length * 2);
    bigger.set(latency);
    latency = bigger;
  }
  latency[latencies++] = clock() - digits(text, TIME_AT, TIME_DIGITS) / 1000;
  pending.push({ topic: m.topic, name, text, time: Date.now() });
  if (pending.length > 2 * MAX_ROWS) {
    const drop = pending.length - MAX_ROWS;
    pending.splice(0, drop);
    skipped += drop;
  }
}

function span(cls: string, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement('span');
  el.className = cls;
  el.append(...children);
  return el;
}

/** One row: time, topic, event name, and the argument as a chip (type and value). */
function rowOf(a: Arrival): HTMLElement {
  const row = document.createElement('div');
  row.className = 'event-row';
  row.append(
    span('ev-time', new Date(a.time).toISOString().slice(11, 23)),
    span('ev-topic', a.topic),
    span('ev-name', a.name),
    span('ev-args', span('arg', span('arg-type', 'string'), ' ', span('arg-value', a.text))),
  );
  return row;
}

/** Renders the queued arrivals: newest first, at most MAX_ROWS new rows, the list cut to MAX_ROWS. */
function render(): void {
  const t0 = performance.now();
  const batch = pending.length > MAX_ROWS ? pending.slice(-MAX_ROWS) : pending;
  skipped += pending.length - batch.length;
  pending = [];
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) frag.append(rowOf(batch[i]!));
  rowsRendered += batch.length;
  if (batch.length >= MAX_ROWS) list.replaceChildren(frag);
  else {
    list.prepend(frag);
    const excess = list.children[MAX_ROWS];
    if (excess !== undefined) {
      const range = document.createRange();
      range.setStartBefore(excess);
      range.setEndAfter(list.lastChild!);
      range.deleteContents();
    }
  }
  counter.textContent = `${total} received · ${list.childElementCount} shown`;
  renderMs.push(performance.now() - t0);
}

function frame(t: number): void {
  if (!Number.isNaN(lastFrame)) {
    frameIntervals.push(t - lastFrame);
    frameTimes.push(t);
  }
  lastFrame = t;
  if (pending.length > 0) {
    if (rendering) render();
    else pending = [];
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** What the page measured since the last reset. */
export interface PageStats {
  readonly received: number;
  /** Events of earlier steps that arrived after the reset (not counted as received). */
  readonly stale: number;
  readonly lost: number;
  readonly duplicates: number;
  /** ms between the first and the last arrival. */
  readonly spanMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly latencyMaxMs: number;
  readonly frames: number;
  readonly longFrames: number;
  readonly longestFrameMs: number;
  readonly meanFrameMs: number;
  readonly renders: number;
  readonly renderMaxMs: number;
  readonly rowsRendered: number;
  readonly skipped: number;
  readonly shownRows: number;
}

const api = {
  /** Peers with the hub at `url` and subscribes to `demo/`; resolves with the endpoint id. */
  async start(url: string): Promise<string> {
    endpoint = new Endpoint({ name: 'bench-page', role: 'browser', retry: 200 });
    endpoint.subscribe('demo/', arrive);
    await endpoint.peer(url);
    return endpoint.id;
  },
  /** Clears the measurements; the next event expected is `nextSeq`; `render` false only counts arrivals. */
  reset(nextSeq: number, render: boolean): void {
    rendering = render;
    received = stale = lost = duplicates = skipped = rowsRendered = latencies = 0;
    firstSeq = nextSeq;
    lastSeq = nextSeq - 1;
    firstAt = lastAt = NaN;
    frameIntervals = [];
    frameTimes = [];
    renderMs = [];
  },
  /** Events received since the reset (cheap, for polling). */
  received(): number {
    return received;
  },
  /** This page's `performance.now()`. */
  now(): number {
    return performance.now();
  },
  /**
   * The measurements since the reset. Frames count from the reset until `publishEnd` (a
   * `performance.now()` of this page, when the publisher stopped) or the last arrival, whichever
   * is later: the idle frames after the work was done are left out.
   */
  stats(publishEndMs: number): PageStats {
    const sorted = latency.slice(0, latencies).sort();
    const until = Math.max(publishEndMs, Number.isNaN(lastAt) ? 0 : lastAt) + LONG_FRAME_MS;
    const frames = frameIntervals.filter((_, i) => frameTimes[i]! <= until);
    return {
      received,
      stale,
      lost,
      duplicates,
      spanMs: received > 1 ? lastAt - firstAt : 0,
      latencyP50Ms: quantile(sorted, 0.5),
      latencyP99Ms: quantile(sorted, 0.99),
      latencyMaxMs: quantile(sorted, 1),
      frames: frames.length,
      longFrames: frames.filter((x) => x > LONG_FRAME_MS).length,
      longestFrameMs: frames.length === 0 ? NaN : Math.max(...frames),
      meanFrameMs: frames.length === 0 ? NaN : frames.reduce((a, b) => a + b, 0) / frames.length,
      renders: renderMs.length,
      renderMaxMs: renderMs.length === 0 ? 0 : Math.max(...renderMs),
      rowsRendered,
      skipped,
      shownRows: list.childElementCount,
    };
  },
};

(globalThis as unknown as { benchEvents: typeof api }).benchEvents = api;
document.body.dataset.ready = 'yes';
