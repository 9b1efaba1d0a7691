/**
 * The event stream: messages on the topic prefixes the user types (comma-separated; empty or `*`
 * is every topic the page may read), newest first, each as topic, event name and typed
 * arguments, and the page's own publishes among them. Typing is debounced and resubscribes (the
 * old subscription is dropped, and rows the new filter does not match go). Arrivals are queued and
 * rendered at most once per animation frame, only the newest `MAX_ROWS` kept; above
 * `RENDER_PER_SECOND` arrivals a second the stream is sampled (one in k shown, k said in the
 * meta line), so a flood costs one bounded render per frame and stays readable.
 */
import type { Data, Endpoint, Subscription } from 'isobroker';
import { describeMessage, type MessageView } from './data-format.js';
import { clip, clockTime, debounce, frameScheduler, h } from './dom.js';

export const MAX_ROWS = 500;
/** Above this many arrivals a second, one in k is shown (k the smallest that fits). */
export const RENDER_PER_SECOND = 25;
const SAMPLE_WINDOW_MS = 1000;
const WINDOWS_KEPT = 3;
const FILTER_DEBOUNCE_MS = 300;
const MAX_VALUE_CHARS = 240;
const FILTER_KEY = 'isobroker.dashboard.filter';

interface Arrival {
  readonly topic: string;
  readonly data: Data;
  readonly time: number;
  /** Published by this page. */
  readonly own: boolean;
}

export interface EventStreamElements {
  readonly filter: HTMLInputElement;
  readonly pause: HTMLButtonElement;
  readonly clear: HTMLButtonElement;
  readonly list: HTMLElement;
  readonly meta: HTMLElement;
  readonly empty: HTMLElement;
}

/** Prefixes from the filter text: comma-separated, trimmed, empty ones dropped; `*` or nothing is every topic. */
export function parseFilter(text: string): string[] {
  const out = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => (p === '*' ? '' : p));
  return out.length === 0 || out.includes('') ? [''] : out;
}

/** Whether `topic` is under one of `prefixes`. */
export const matches = (prefixes: readonly string[], topic: string): boolean =>
  prefixes.some((p) => topic.startsWith(p));

/**
 * Decides which arrivals are shown: all while they come at most `perSecond` a second, else one in
 * k. The rate is measured per window of about a second, and k follows the busiest of the last
 * `WINDOWS_KEPT` windows: arrivals come in bursts when the page was busy (a burst can straddle a
 * window), and one quiet-looking window must not switch sampling off.
 */
export class Sampler {
  private windowStart: number | undefined;
  private windowCount = 0;
  private seq = 0;
  private recent: number[] = [];
  /** One in this many arrivals is shown (1: all). */
  every = 1;
  /** Arrivals a second, the busiest of the last windows. */
  rate = 0;

  constructor(private readonly perSecond = RENDER_PER_SECOND) {}

  /** Counts one arrival at `now` (ms); whether it is shown. */
  take(now: number): boolean {
    if (this.windowStart === undefined) this.windowStart = now;
    this.windowCount++;
    const span = now - this.windowStart;
    if (span >= SAMPLE_WINDOW_MS) {
      this.recent.push((this.windowCount * 1000) / span);
      if (this.recent.length > WINDOWS_KEPT) this.recent.shift();
      this.rate = Math.max(...this.recent);
      this.every = this.rate > this.perSecond ? Math.ceil(this.rate / this.perSecond) : 1;
      this.windowStart = now;
      this.windowCount = 0;
    }
    return this.seq++ % this.every === 0;
  }

  reset(): void {
    this.windowStart = undefined;
    this.windowCount = 0;
    this.seq = 0;
    this.recent = [];
    this.every = 1;
    this.rate = 0;
  }
}

/**
 * The prefixes in a `subscription_narrowed` report (`the hub serves [...] (changed or refused:
 * [...])`) that a reader cares about: the internal ones (`<$>/…`, the page's own store traffic)
 * left out.
 */
export function servedPrefixes(context: string): string {
  const m = /serves (\[[^\]]*\])/.exec(context);
  if (!m) return context;
  try {
    const list = (JSON.parse(m[1]!) as unknown[]).filter(
      (p): p is string => typeof p === 'string' && !p.startsWith('<$>'),
    );
    return list.join(', ');
  } catch {
    return context;
  }
}

function argChip(type: string, text: string): HTMLElement {
  return h(
    'span',
    { class: 'arg', title: text.length > MAX_VALUE_CHARS ? text : undefined },
    h('span', { class: 'arg-type' }, type),
    ' ',
    h('span', { class: 'arg-value' }, clip(text, MAX_VALUE_CHARS)),
  );
}

function rowOf(a: Arrival, v: MessageView): HTMLElement {
  const name = v.kind === 'event' ? v.name : v.kind === 'data' ? '' : `${v.kind} ${v.name}`;
  return h(
    'div',
    {
      class: `event-row kind-${v.kind}${a.own ? ' own' : ''}`,
      'data-testid': 'event-row',
      'data-topic': a.topic,
      'data-name': name,
      'data-own': a.own ? 'yes' : undefined,
    },
    h('span', { class: 'ev-time', title: new Date(a.time).toString() }, clockTime(a.time)),
    h(
      'span',
      { class: 'ev-topic', title: a.topic },
      a.own ? h('span', { class: 'own-badge', title: 'published by this page' }, 'sent') : '',
      a.topic,
    ),
    h('span', { class: 'ev-name' }, name || h('span', { class: 'muted' }, 'value')),
    h(
      'span',
      { class: 'ev-args' },
      ...(v.args.length ? v.args.map((x) => argChip(x.type, x.text)) : [h('span', { class: 'muted' }, 'no arguments')]),
    ),
  );
}

export class EventStream {
  private sub: Subscription | undefined;
  private prefixes: string[] = [];
  private pending: Arrival[] = [];
  private paused = false;
  private received = 0;
  private skipped = 0;
  private own = 0;
  private readonly sampler = new Sampler();
  /** What the cluster said it serves when it narrowed the page's subscription. */
  private served: string | undefined;
  private readonly frame = frameScheduler(() => this.flush());

  constructor(
    private readonly endpoint: Endpoint,
    private readonly el: EventStreamElements,
    initialFilter?: string,
  ) {
    const start = initialFilter ?? safeStorage()?.getItem(FILTER_KEY) ?? '';
    el.filter.value = start;
    const apply = debounce(FILTER_DEBOUNCE_MS, () => this.setFilter(el.filter.value));
    el.filter.addEventListener('input', apply);
    el.filter.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.setFilter(el.filter.value);
    });
    el.pause.addEventListener('click', () => this.setPaused(!this.paused));
    el.clear.addEventListener('click', () => this.clear());
    el.empty.addEventListener('click', (e) => {
      const t = (e.target as HTMLElement).closest('[data-suggest]');
      if (!t) return;
      el.filter.value = t.getAttribute('data-suggest') ?? '';
      this.setFilter(el.filter.value);
    });
    endpoint.on('error', (ev) => {
      if ((ev.code as string) !== 'subscription_narrowed') return;
      this.served = servedPrefixes(ev.context ?? ev.message);
      this.updateMeta();
    });
    this.setFilter(start);
  }

  /**
   * Subscribes to the prefixes in `text` instead of the current ones; rows and queued arrivals the
   * new prefixes do not match go.
   */
  setFilter(text: string): void {
    const next = parseFilter(text);
    if (this.sub && next.join('\u0000') === this.prefixes.join('\u0000')) return;
    this.sub?.unsubscribe();
    this.prefixes = next;
    this.served = undefined;
    safeStorage()?.setItem(FILTER_KEY, text);
    this.sub = this.endpoint.subscribe(next, ({ topic, data }) => this.arrive(topic, data));
    this.pending = this.pending.filter((a) => matches(next, a.topic));
    for (const row of Array.from(this.el.list.children) as HTMLElement[])
      if (!matches(next, row.dataset.topic ?? '')) row.remove();
    this.sampler.reset();
    this.updateHint();
    this.updateMeta();
  }

  /** Shows a message this page published (the endpoint does not deliver its own publishes back). */
  showOwn(topic: string, data: Data): void {
    if (!matches(this.prefixes, topic)) return;
    this.own++;
    this.queue({ topic, data, time: Date.now(), own: true });
  }

  private arrive(topic: string, data: Data): void {
    this.received++;
    const now = Date.now();
    if (!this.sampler.take(now)) {
      this.skipped++;
      return;
    }
    this.queue({ topic, data, time: now, own: false });
  }

  private queue(a: Arrival): void {
    this.pending.push(a);
    if (this.pending.length > 2 * MAX_ROWS) {
      const drop = this.pending.length - MAX_ROWS;
      this.pending.splice(0, drop);
      this.skipped += drop;
    }
    this.frame.schedule();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.el.pause.textContent = paused ? 'Resume' : 'Pause';
    this.el.pause.setAttribute('aria-pressed', String(paused));
    this.el.list.classList.toggle('paused', paused);
    if (!paused) this.frame.schedule();
    this.updateMeta();
  }

  clear(): void {
    this.pending = [];
    this.received = 0;
    this.skipped = 0;
    this.own = 0;
    this.el.list.replaceChildren();
    this.updateMeta();
  }

  private flush(): void {
    if (this.paused) {
      this.updateMeta();
      return;
    }
    const batch = this.pending.length > MAX_ROWS ? this.pending.slice(-MAX_ROWS) : this.pending;
    this.skipped += this.pending.length - batch.length;
    this.pending = [];
    if (batch.length > 0) {
      const frag = document.createDocumentFragment();
      let made = 0;
      for (let i = batch.length - 1; i >= 0 && made < MAX_ROWS; i--) {
        const a = batch[i]!;
        const views = describeMessage(a.data);
        for (let k = views.length - 1; k >= 0 && made < MAX_ROWS; k--, made++) frag.append(rowOf(a, views[k]!));
      }
      const list = this.el.list;
      if (made >= MAX_ROWS) {
        list.replaceChildren(frag);
      } else {
        list.prepend(frag);
        const excess = list.children[MAX_ROWS];
        if (excess) {
          // One range deletion instead of hundreds of single removals.
          const range = document.createRange();
          range.setStartBefore(excess);
          range.setEndAfter(list.lastChild!);
          range.deleteContents();
        }
      }
    }
    this.updateMeta();
  }

  private updateMeta(): void {
    const shown = this.el.list.childElementCount;
    const all = this.prefixes.length === 1 && this.prefixes[0] === '';
    const parts = [all ? 'all topics' : this.prefixes.join(', '), `${shown} shown`, `${this.received} received`];
    if (this.own > 0) parts.push(`${this.own} sent by this page`);
    const every = this.sampler.every;
    if (every > 1)
      parts.push(
        `sampled: 1 in ${every} shown (${Math.round(this.sampler.rate)}/s arriving, the page draws up to ${RENDER_PER_SECOND}/s)`,
      );
    else if (this.skipped > 0) parts.push(`${this.skipped} not shown (sampled or past the newest ${MAX_ROWS})`);
    if (this.paused) parts.push(`paused — ${this.pending.length} waiting`);
    if (this.served) parts.push(`this page may read ${this.served}`);
    this.el.meta.textContent = parts.join(' · ');
    this.el.meta.dataset.sample = String(every);
    this.el.empty.hidden = shown > 0;
  }

  /** The empty state's hint, which depends on the filter only. */
  private updateHint(): void {
    const suggest = (): HTMLElement =>
      h('button', { type: 'button', class: 'linkish', 'data-suggest': 'demo/' }, 'demo/');
    const all = this.prefixes.length === 1 && this.prefixes[0] === '';
    this.el.empty.replaceChildren(
      ...(all
        ? ['no events yet — every topic this page may read is shown (type a prefix to narrow, e.g. ', suggest(), ')']
        : [
            `no events yet on ${this.prefixes.join(', ')}`,
            ...(this.prefixes.includes('demo/') ? [] : [' — try ', suggest()]),
          ]),
    );
  }
}

function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
