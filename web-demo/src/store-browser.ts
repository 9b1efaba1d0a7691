/**
 * The store browser: a clone of the chosen store, persisted in IndexedDB (so a reload shows the
 * last contents at once, marked stale, before the network answers), its entries live, a key
 * search, and the clone's state: in sync, stale, syncing.
 */
import { compare, createClone, toText, type CloneStatus, type Endpoint, type StoreClone } from 'isobroker';
import { createIndexedDbPersistence } from 'isobroker/browser';
import { typedText } from './data-format.js';
import { clip, debounce, frameScheduler, h } from './dom.js';

/** Most rows in the table; the rest are counted, and a search narrows them down. */
export const MAX_STORE_ROWS = 500;
const SEARCH_DEBOUNCE_MS = 150;
const STORE_KEY = 'isobroker.dashboard.store';

export interface StoreBrowserElements {
  readonly select: HTMLSelectElement;
  readonly status: HTMLElement;
  readonly search: HTMLInputElement;
  readonly body: HTMLTableSectionElement;
  readonly meta: HTMLElement;
  readonly empty: HTMLElement;
}

const STATUS_TEXT: Readonly<Record<CloneStatus, string>> = {
  loading: 'loading',
  stale: 'stale',
  syncing: 'syncing',
  'in-sync': 'in sync',
  closed: 'closed',
};
const STATUS_HELP: Readonly<Record<CloneStatus, string>> = {
  loading: 'reading the copy saved in this browser',
  stale: 'showing the copy saved in this browser; the master has not answered yet',
  syncing: 'receiving the master’s changes',
  'in-sync': 'follows the master live',
  closed: 'closed',
};

export class StoreBrowser {
  private clone: StoreClone | undefined;
  private offs: (() => void)[] = [];
  private opening = 0;
  private readonly frame = frameScheduler(() => this.renderRows());

  constructor(
    private readonly endpoint: Endpoint,
    stores: readonly string[],
    private readonly el: StoreBrowserElements,
  ) {
    el.select.replaceChildren(...stores.map((s) => h('option', { value: s }, s)));
    el.select.disabled = stores.length < 2;
    el.select.addEventListener('change', () => void this.open(el.select.value));
    el.search.addEventListener(
      'input',
      debounce(SEARCH_DEBOUNCE_MS, () => this.frame.schedule()),
    );
    const saved = safeGet(STORE_KEY);
    const first = saved !== undefined && stores.includes(saved) ? saved : stores[0];
    if (first === undefined) {
      this.showStatus(undefined);
      el.empty.textContent = 'the cluster hosts no stores';
      el.empty.hidden = false;
      return;
    }
    el.select.value = first;
    void this.open(first);
  }

  /** Switches to a clone of `name` (closing the previous one, which flushes its persistence). */
  async open(name: string): Promise<void> {
    const token = ++this.opening;
    this.closeClone();
    safeSet(STORE_KEY, name);
    this.el.body.replaceChildren();
    this.showStatus('loading');
    let clone: StoreClone;
    try {
      clone = await createClone(this.endpoint, name, { persistence: createIndexedDbPersistence(name) });
    } catch (err) {
      if (token !== this.opening) return;
      this.el.status.dataset.state = 'error';
      this.el.status.textContent = 'error';
      this.el.empty.textContent = `cannot open store ${name}: ${err instanceof Error ? err.message : String(err)}`;
      this.el.empty.hidden = false;
      return;
    }
    if (token !== this.opening) {
      clone.close();
      return;
    }
    this.clone = clone;
    this.offs = [clone.onChange(() => this.frame.schedule()), clone.onStatus((s) => this.showStatus(s))];
    this.showStatus(clone.status);
    this.renderRows();
  }

  private closeClone(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.clone?.close();
    this.clone = undefined;
    this.frame.cancel();
  }

  private showStatus(s: CloneStatus | undefined): void {
    const st = this.el.status;
    st.dataset.state = s ?? 'none';
    st.textContent = s ? STATUS_TEXT[s] : '—';
    st.title = s ? STATUS_HELP[s] : '';
    // The empty-state text depends on the status, and a resync may have replaced entries.
    if (this.clone) this.frame.schedule();
  }

  private renderRows(): void {
    const clone = this.clone;
    if (!clone) return;
    const needle = this.el.search.value.trim().toLowerCase();
    const all = [...clone.entries()];
    const matches = needle ? all.filter(([k]) => toText(k).toLowerCase().includes(needle)) : all;
    matches.sort((a, b) => compare(a[0], b[0]));
    const shown = matches.slice(0, MAX_STORE_ROWS);
    this.el.body.replaceChildren(
      ...shown.map(([k, v]) => {
        const kt = typedText(k);
        const vt = typedText(v);
        return h(
          'tr',
          { 'data-testid': 'store-row', 'data-key': kt.text },
          h(
            'td',
            {},
            h('span', { class: 'arg-type' }, kt.type),
            ' ',
            h('span', { class: 'arg-value' }, clip(kt.text, 200)),
          ),
          h(
            'td',
            {},
            h('span', { class: 'arg-type' }, vt.type),
            ' ',
            h('span', { class: 'arg-value', title: vt.text.length > 200 ? vt.text : undefined }, clip(vt.text, 200)),
          ),
        );
      }),
    );
    const parts = [`${all.length} ${all.length === 1 ? 'entry' : 'entries'}`];
    if (needle) parts.push(`${matches.length} matching`);
    if (shown.length < matches.length) parts.push(`first ${shown.length} shown — search to narrow`);
    this.el.meta.textContent = parts.join(' · ');
    this.el.empty.hidden = shown.length > 0;
    this.el.empty.textContent =
      all.length === 0
        ? clone.status === 'in-sync'
          ? `store ${clone.name} is empty`
          : `no entries yet — waiting for the master of ${clone.name}`
        : `no key contains “${this.el.search.value.trim()}”`;
  }
}

function safeGet(key: string): string | undefined {
  try {
    return window.localStorage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

function safeSet(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled: the choice is just not remembered */
  }
}
