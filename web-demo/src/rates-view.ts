/**
 * Message rates: one small chart per node with two lines over the last minute — messages
 * published and received per second — drawn on a canvas, redrawn at least once a second.
 */
import { h } from './dom.js';
import {
  DOWN_AFTER_MS,
  HISTORY_MS,
  latestRates,
  type ClusterState,
  type NodeState,
  type RateSample,
} from './cluster-state.js';
import { ROLE_ORDER } from './config.js';

const CHART_H = 44;
const MIN_SPAN_MS = 10_000;

interface Card {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly value: HTMLElement;
}

const fmt = (r: number): string => (r >= 100 ? r.toFixed(0) : r.toFixed(1));

interface Palette {
  readonly grid: string;
  readonly pub: string;
  readonly recv: string;
  readonly muted: string;
}

export class RatesView {
  private readonly cards = new Map<string, Card>();
  private signature = '';
  /** Canvas widths in CSS pixels, kept by a ResizeObserver so drawing never forces a layout. */
  private readonly widths = new WeakMap<Element, number>();
  private readonly resize = new ResizeObserver((entries) => {
    for (const e of entries) this.widths.set(e.target, e.contentRect.width);
    this.render(performance.now());
  });
  private palette: Palette | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly state: ClusterState,
  ) {}

  /** Chart colours from the style sheet's custom properties, read once. */
  private colors(): Palette {
    if (this.palette) return this.palette;
    const st = getComputedStyle(document.documentElement);
    const v = (name: string, fallback: string): string => st.getPropertyValue(name).trim() || fallback;
    this.palette = {
      grid: v('--chart-grid', '#333'),
      pub: v('--pub', '#4aa3ff'),
      recv: v('--recv', '#f0a030'),
      muted: v('--muted', '#888'),
    };
    return this.palette;
  }

  render(now: number): void {
    const nodes = ROLE_ORDER.flatMap((r) => this.state.byRole(r));
    const sig = nodes.map((n) => n.name).join(',');
    if (sig !== this.signature) this.build(nodes, sig);
    for (const n of nodes) this.draw(n, this.cards.get(n.name)!, now);
  }

  private build(nodes: readonly NodeState[], sig: string): void {
    this.signature = sig;
    for (const c of this.cards.values()) this.resize.unobserve(c.canvas);
    this.cards.clear();
    const els = nodes.map((n) => {
      const canvas = h('canvas', {
        'data-testid': 'rate-chart',
        'data-node': n.name,
        height: CHART_H,
        'aria-label': `message rates of ${n.name}`,
      });
      const value = h('span', { class: 'rate-value' });
      const root = h(
        'div',
        { class: 'rate-card' },
        h('div', { class: 'rate-head' }, h('span', { class: 'rate-name' }, n.name), value),
        canvas,
      );
      this.cards.set(n.name, { root, canvas, value });
      return root;
    });
    this.container.replaceChildren(...els);
    for (const c of this.cards.values()) this.resize.observe(c.canvas);
  }

  private draw(n: NodeState, card: Card, now: number): void {
    const r = latestRates(n);
    card.root.classList.toggle('down', !n.up);
    card.canvas.dataset.published = r.published.toFixed(1);
    card.canvas.dataset.received = r.received.toFixed(1);
    const known = n.up && n.history.length > 0;
    card.value.replaceChildren(
      known
        ? h('span', { class: 'pub', title: 'published per second' }, `↑${fmt(r.published)}`)
        : h('span', { class: 'muted' }, n.up ? 'measuring…' : n.lastSeen === undefined ? 'no stats yet' : 'down'),
      known ? h('span', { class: 'recv', title: 'received per second' }, `↓${fmt(r.received)}`) : '',
    );
    const c = card.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.round(this.widths.get(c) ?? 0);
    if (cssW < 10) return; // not laid out yet: the ResizeObserver calls back
    const w = Math.round(cssW * dpr);
    const hgt = Math.round(CHART_H * dpr);
    if (c.width !== w) c.width = w;
    if (c.height !== hgt) c.height = hgt;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, CHART_H);
    const pal = this.colors();
    ctx.strokeStyle = pal.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, CHART_H - 0.5);
    ctx.lineTo(cssW, CHART_H - 0.5);
    ctx.stroke();
    const pts = n.history.filter((s) => s.t >= now - HISTORY_MS);
    if (pts.length === 0) return;
    // The time axis grows with the history (at least MIN_SPAN_MS) up to a minute, then scrolls.
    const span = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, now - pts[0]!.t));
    const from = now - span;
    const max = Math.max(1, ...pts.map((s) => Math.max(s.published, s.received)));
    const x = (t: number): number => ((t - from) / span) * cssW;
    const y = (v: number): number => CHART_H - 3 - (v / max) * (CHART_H - 8);
    const line = (pick: (s: RateSample) => number, color: string): void => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let prev: number | undefined;
      for (const s of pts) {
        // A silence longer than the down threshold is drawn as a break in the line.
        if (prev === undefined || s.t - prev > DOWN_AFTER_MS) ctx.moveTo(x(s.t), y(pick(s)));
        else ctx.lineTo(x(s.t), y(pick(s)));
        prev = s.t;
      }
      ctx.stroke();
    };
    line((s) => s.received, pal.recv);
    line((s) => s.published, pal.pub);
    ctx.fillStyle = pal.muted;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillText(`${fmt(max)}/s`, 2, 1);
  }
}
