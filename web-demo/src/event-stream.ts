/**
 * The event stream: messages on the topic prefixes the user types (comma-separated), newest first,
 * each as topic, event name and typed arguments. Typing is debounced and resubscribes (the old
 * subscription is dropped). Arrivals are queued and rendered at most once per animation frame;
 * only the newest `MAX_ROWS` are kept, so a flood costs one bounded render per frame.
 */
import type { Data, Endpoint, Subscription } from 'isobroker';
import { describeMessage, type MessageView } from './data-format.js';
import { clip, clockTime, debounce, frameScheduler, h } from './dom.js';

export const MAX_ROWS = 500;
const FILTER_DEBOUNCE_MS = 300;
const MAX_VALUE_CHARS = 240;
const FILTER_KEY = 'isobroker.dashboard.filter';

interface Arrival {
  readonly topic: string;
  readonly data: Data;
  readonly time: number;
}

export interface EventStreamElements {
  readonly filter: HTMLInputElement;
  readonly pause: HTMLButtonElement;
  readonly clear: HTMLButtonElement;
  readonly list: HTMLElement;
  readonly meta: HTMLElement;
  readonly empty: HTMLElement;
}

/** Prefixes from the filter text: comma-separated, trimmed, empty ones dropped; `*` is every topic. */
export function parseFilter(text: string): string[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => (p === '*' ? '' : p));
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
    { class: `event-row kind-${v.kind}`, 'data-testid': 'event-row', 'data-topic': a.topic, 'data-name': name },
    h('span', { class: 'ev-time' }, clockTime(a.time)),
    h('span', { class: 'ev-topic', title: a.topic }, a.topic),
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
    this.setFilter(start);
  }

  /** Subscribes to the prefixes in `text` instead of the current ones. */
  setFilter(text: string): void {
    const next = parseFilter(text);
    if (this.sub && next.join('\u0000') === this.prefixes.join('\u0000')) return;
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.prefixes = next;
    safeStorage()?.setItem(FILTER_KEY, text);
    if (next.length > 0) this.sub = this.endpoint.subscribe(next, ({ topic, data }) => this.arrive(topic, data));
    this.updateHint();
    this.updateMeta();
  }

  private arrive(topic: string, data: Data): void {
    this.received++;
    this.pending.push({ topic, data, time: Date.now() });
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
    const parts = [`${shown} shown`, `${this.received} received`];
    if (this.skipped > 0) parts.push(`${this.skipped} skipped (flood: only the newest ${MAX_ROWS} are kept)`);
    if (this.paused) parts.push(`paused — ${this.pending.length} waiting`);
    this.el.meta.textContent = this.prefixes.length ? parts.join(' · ') : '';
    this.el.empty.hidden = shown > 0;
  }

  /** The empty state's hint, which depends on the filter only. */
  private updateHint(): void {
    const suggest = (): HTMLElement =>
      h('button', { type: 'button', class: 'linkish', 'data-suggest': 'demo/' }, 'demo/');
    this.el.empty.replaceChildren(
      ...(this.prefixes.length === 0
        ? ['no events yet — try the filter ', suggest(), ' (any topic prefix; several separated by commas; * for all)']
        : [
            `no events yet on ${this.prefixes.map((p) => p || '*').join(', ')}`,
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
