/**
 * The log tail: the newest rows of one log path as loggers write them. Loggers publish every
 * written batch on `isobroker/logtail/<path>` as `isobroker::log_tail(path, fields, rows, types)`
 * with values already formatted as in the log file. `time` columns show in local time, the raw
 * value (epoch seconds) on hover.
 */
import type { Endpoint, Subscription } from 'isobroker';
import { LOG_TAIL_EVENT, LOG_TAIL_TOPIC_PREFIX, logBatchOf, type LogBatch } from '../../server/dashboard/shapes.js';
import { clockTime, frameScheduler, h } from './dom.js';

export { LOG_TAIL_EVENT, LOG_TAIL_TOPIC_PREFIX, logBatchOf };
export type { LogBatch };

export const MAX_LOG_ROWS = 200;

/**
 * A `time` value as the log file holds it (epoch seconds, `1714564800.123456`) in local time:
 * `HH:MM:SS.mmm` today, with the date before it on other days; undefined when it is not one.
 */
export function localTime(raw: string, today = new Date()): string | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(raw)) return undefined;
  const ms = Number(raw) * 1000;
  if (!Number.isFinite(ms)) return undefined;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return undefined;
  const sameDay =
    d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  const p = (n: number): string => String(n).padStart(2, '0');
  return sameDay ? clockTime(ms) : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${clockTime(ms)}`;
}

export interface LogTailElements {
  readonly select: HTMLSelectElement;
  readonly head: HTMLTableSectionElement;
  readonly body: HTMLTableSectionElement;
  readonly meta: HTMLElement;
  readonly empty: HTMLElement;
}

export class LogTail {
  private sub: Subscription | undefined;
  private fields: readonly string[] = [];
  private types: readonly string[] = [];
  private rows: (readonly string[])[] = [];
  private total = 0;
  private fieldsChanged = false;
  /** Rows added since the last render (the table only gains these, newest first). */
  private fresh: (readonly string[])[] = [];
  private readonly frame = frameScheduler(() => this.render());

  constructor(
    private readonly endpoint: Endpoint,
    paths: readonly string[],
    private readonly el: LogTailElements,
  ) {
    const list = paths.length ? paths : ['conn'];
    el.select.replaceChildren(...list.map((p) => h('option', { value: p }, p)));
    el.select.disabled = list.length < 2;
    el.select.addEventListener('change', () => this.follow(el.select.value));
    this.follow(list.includes('conn') ? 'conn' : list[0]!);
  }

  follow(path: string): void {
    this.el.select.value = path;
    this.sub?.unsubscribe();
    this.fields = [];
    this.types = [];
    this.rows = [];
    this.total = 0;
    this.fieldsChanged = true;
    this.fresh = [];
    this.sub = this.endpoint.subscribe(LOG_TAIL_TOPIC_PREFIX + path, ({ topic, data }) => {
      // The prefix `…/conn` also matches `…/conn_summary`: keep exactly our path.
      if (topic !== LOG_TAIL_TOPIC_PREFIX + path) return;
      const b = logBatchOf(data);
      if (b) this.add(b);
    });
    this.render();
  }

  private add(b: LogBatch): void {
    if (b.fields.join('\t') !== this.fields.join('\t')) {
      this.fields = b.fields;
      this.types = b.types;
      this.rows = [];
      this.fresh = [];
      this.fieldsChanged = true;
    }
    this.total += b.rows.length;
    for (const r of b.rows) this.fresh.push(r);
    if (this.fresh.length > MAX_LOG_ROWS) this.fresh.splice(0, this.fresh.length - MAX_LOG_ROWS);
    for (const r of b.rows.length > MAX_LOG_ROWS ? b.rows.slice(-MAX_LOG_ROWS) : b.rows) this.rows.push(r);
    if (this.rows.length > MAX_LOG_ROWS) this.rows.splice(0, this.rows.length - MAX_LOG_ROWS);
    this.frame.schedule();
  }

  private render(): void {
    const n = this.fields.length;
    const today = new Date();
    const cell = (raw: string, k: number): HTMLElement => {
      const local = this.types[k] === 'time' ? localTime(raw, today) : undefined;
      return local === undefined
        ? h('td', {}, raw)
        : h('td', { class: 'time', title: `${raw} (epoch seconds)`, 'data-raw': raw }, local);
    };
    const row = (r: readonly string[]): HTMLElement =>
      h('tr', { 'data-testid': 'log-row' }, ...Array.from({ length: n }, (_, k) => cell(r[k] ?? '', k)));
    if (this.fieldsChanged) {
      // New columns: rebuild everything once.
      this.fieldsChanged = false;
      this.el.head.replaceChildren(
        this.fields.length
          ? h(
              'tr',
              {},
              ...this.fields.map((f, k) =>
                h('th', { scope: 'col', title: this.types[k] ? `${f}: ${this.types[k]}` : undefined }, f),
              ),
            )
          : '',
      );
      const body: HTMLElement[] = [];
      for (let i = this.rows.length - 1; i >= 0; i--) body.push(row(this.rows[i]!));
      this.el.body.replaceChildren(...body);
    } else if (this.fresh.length > 0) {
      // Only the new rows are built, newest first on top; the oldest fall off the bottom.
      const frag = document.createDocumentFragment();
      for (let i = this.fresh.length - 1; i >= 0; i--) frag.append(row(this.fresh[i]!));
      this.el.body.prepend(frag);
      while (this.el.body.rows.length > MAX_LOG_ROWS) this.el.body.lastElementChild!.remove();
    }
    this.fresh = [];
    this.el.meta.textContent = this.total
      ? `${this.rows.length} newest of ${this.total} rows written since this page opened · newest first`
      : '';
    this.el.empty.hidden = this.rows.length > 0;
    this.el.empty.textContent = `no ${this.el.select.value} rows yet — the loggers publish each batch they write`;
  }
}
