/**
 * The log tail: the newest rows of one log path as loggers write them. Loggers publish every
 * written batch on `isobroker/logtail/<path>` as `isobroker::log_tail(path, fields, rows)` with
 * values already formatted as in the log file.
 */
import { isZeekEvent, parseZeekMessage, type Data, type Endpoint, type Subscription } from 'isobroker';
import { frameScheduler, h } from './dom.js';

export const LOG_TAIL_TOPIC_PREFIX = 'isobroker/logtail/';
export const LOG_TAIL_EVENT = 'isobroker::log_tail';
export const MAX_LOG_ROWS = 200;

export interface LogBatch {
  readonly path: string;
  readonly fields: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const strings = (d: Data | undefined): string[] | undefined =>
  d?.type === 'vector' && d.elements.every((e) => e.type === 'string')
    ? d.elements.map((e) => (e as { value: string }).value)
    : undefined;

/** The batch in a log-tail message, or undefined when it is not a well-formed `log_tail` event. */
export function logBatchOf(data: Data): LogBatch | undefined {
  if (!isZeekEvent(data)) return undefined;
  const ev = parseZeekMessage(data);
  if (ev.kind !== 'event' || ev.name !== LOG_TAIL_EVENT) return undefined;
  const [path, fields, rows] = ev.args;
  const f = strings(fields);
  if (path?.type !== 'string' || !f || rows?.type !== 'vector') return undefined;
  const out: string[][] = [];
  for (const r of rows.elements) {
    const cells = strings(r);
    if (cells) out.push(cells);
  }
  return { path: path.value, fields: f, rows: out };
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
    const row = (r: readonly string[]): HTMLElement =>
      h('tr', { 'data-testid': 'log-row' }, ...Array.from({ length: n }, (_, k) => h('td', {}, r[k] ?? '')));
    if (this.fieldsChanged) {
      // New columns: rebuild everything once.
      this.fieldsChanged = false;
      this.el.head.replaceChildren(
        this.fields.length ? h('tr', {}, ...this.fields.map((f) => h('th', { scope: 'col' }, f))) : '',
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
