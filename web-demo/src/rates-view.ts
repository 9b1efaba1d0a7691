/**
 * Message rates: one chart per node over the last minute — messages published and received per
 * second — with a time axis, a msg/s axis and the values under the pointer (uPlot), redrawn at
 * least once a second.
 */
import { h } from './dom.js';
import { DOWN_AFTER_MS, HISTORY_MS, latestRates, type ClusterState, type NodeState } from './cluster-state.js';
import { ROLE_ORDER } from './config.js';
import { TimeChart } from './charts.js';
import { compact, msgRate } from './units.js';

const CHART_H = 120;
const MIN_SPAN_MS = 10_000;

interface Card {
  readonly root: HTMLElement;
  readonly chart: TimeChart;
  readonly value: HTMLElement;
}

/** Times and values of a history with a gap (null) wherever the node was silent. */
export function withGaps<T extends { t: number }>(
  samples: readonly T[],
  picks: readonly ((s: T) => number)[],
  gapMs = DOWN_AFTER_MS,
): { times: number[]; values: (number | null)[][] } {
  const times: number[] = [];
  const values: (number | null)[][] = picks.map(() => []);
  let prev: number | undefined;
  for (const s of samples) {
    if (prev !== undefined && s.t - prev > gapMs) {
      times.push((prev + s.t) / 2);
      for (const v of values) v.push(null);
    }
    times.push(s.t);
    for (const [i, p] of picks.entries()) values[i]!.push(p(s));
    prev = s.t;
  }
  return { times, values };
}

export class RatesView {
  private readonly cards = new Map<string, Card>();
  private signature = '';

  constructor(
    private readonly container: HTMLElement,
    private readonly state: ClusterState,
  ) {}

  /** Draws every node's chart; `now` is the page clock (ms, `performance.now()`). */
  render(now: number): void {
    const nodes = ROLE_ORDER.flatMap((r) => this.state.byRole(r));
    const sig = nodes.map((n) => n.name).join(',');
    if (sig !== this.signature) this.build(nodes, sig);
    for (const n of nodes) this.draw(n, this.cards.get(n.name)!, now);
  }

  private build(nodes: readonly NodeState[], sig: string): void {
    this.signature = sig;
    for (const c of this.cards.values()) c.chart.destroy();
    this.cards.clear();
    const els = nodes.map((n) => {
      const plot = h('div', { class: 'rate-plot', 'aria-label': `message rates of ${n.name}` });
      const value = h('span', { class: 'rate-value' });
      const root = h(
        'div',
        { class: 'rate-card', 'data-testid': 'rate-chart', 'data-node': n.name },
        h('div', { class: 'rate-head' }, h('span', { class: 'rate-name' }, n.name), value),
        plot,
      );
      const chart = new TimeChart(plot, {
        height: CHART_H,
        lines: [
          { label: '↑ published', color: '--pub', format: msgRate },
          { label: '↓ received', color: '--recv', format: msgRate },
        ],
        ticks: [compact],
        units: ['msg/s'],
      });
      this.cards.set(n.name, { root, chart, value });
      return root;
    });
    this.container.replaceChildren(...els);
  }

  private draw(n: NodeState, card: Card, now: number): void {
    const r = latestRates(n);
    card.root.classList.toggle('down', !n.up);
    card.root.dataset.published = r.published.toFixed(1);
    card.root.dataset.received = r.received.toFixed(1);
    const known = n.up && n.history.length > 0;
    card.value.replaceChildren(
      known
        ? h('span', { class: 'pub', title: 'published per second' }, `↑${msgRate(r.published)}`)
        : h('span', { class: 'muted' }, n.up ? 'measuring…' : n.lastSeen === undefined ? 'no stats yet' : 'down'),
      known ? h('span', { class: 'recv', title: 'received per second' }, `↓${msgRate(r.received)}`) : '',
    );
    // The page clock (performance.now) → wall clock for the time axis.
    const wall = Date.now() - now;
    const pts = n.history.filter((s) => s.t >= now - HISTORY_MS);
    const { times, values } = withGaps(pts, [(s) => s.published, (s) => s.received]);
    card.chart.update(
      times.map((t) => t + wall),
      values,
      now + wall,
      MIN_SPAN_MS,
    );
  }
}
