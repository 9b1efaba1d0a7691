/**
 * The topology: every node grouped by role (manager and loggers on top, proxies, then workers),
 * a line per peering the nodes report (none over a NATS backbone: the tooltip tells each node's
 * backbone state), and each node's up/down state. An SVG, rebuilt when the
 * set of nodes changes and updated in place otherwise.
 */
import { svg } from './dom.js';
import { ClusterState, latestRates, type NodeState } from './cluster-state.js';
import type { Role } from './config.js';

const NODE_W = 136;
const NODE_H = 46;
const GAP = 18;
const GROUP_GAP = 40;
const LABEL_H = 20;
const LINE_GAP = 14;
const BAND_GAP = 46;
const PAD = 12;
const PER_LINE = 4;

/** Rows of the drawing: each a list of role groups side by side. */
const BANDS: readonly (readonly Role[])[] = [['manager', 'logger'], ['proxy'], ['worker']];
const GROUP_LABEL: Readonly<Record<Role, string>> = {
  manager: 'manager',
  logger: 'loggers',
  proxy: 'proxies',
  worker: 'workers',
};

interface Placed {
  readonly node: NodeState;
  readonly x: number;
  readonly y: number;
}

interface Drawing {
  readonly width: number;
  readonly height: number;
  readonly placed: Map<string, Placed>;
  readonly labels: { x: number; y: number; text: string }[];
}

/** Positions every node (top-left corners) and the group labels. */
function layout(state: ClusterState, managerIsLogger: boolean): Drawing {
  const placed = new Map<string, Placed>();
  const labels: Drawing['labels'] = [];
  const bands = BANDS.map((roles) =>
    roles
      .map((role) => ({ role, nodes: state.byRole(role) }))
      .filter((g) => g.nodes.length > 0)
      .map((g) => {
        const cols = Math.min(g.nodes.length, PER_LINE);
        const lines = Math.ceil(g.nodes.length / PER_LINE);
        return {
          ...g,
          cols,
          w: cols * NODE_W + (cols - 1) * GAP,
          h: LABEL_H + lines * NODE_H + (lines - 1) * LINE_GAP,
        };
      }),
  ).filter((b) => b.length > 0);
  const bandW = bands.map((b) => b.reduce((s, g) => s + g.w, 0) + GROUP_GAP * (b.length - 1));
  const width = Math.max(NODE_W, ...bandW) + 2 * PAD;
  let y = PAD;
  bands.forEach((band, i) => {
    let x = (width - bandW[i]!) / 2;
    for (const g of band) {
      const label = g.role === 'manager' && managerIsLogger ? 'manager (also logger)' : GROUP_LABEL[g.role];
      labels.push({ x, y: y + 13, text: label });
      g.nodes.forEach((node, k) => {
        const col = k % PER_LINE;
        const line = Math.floor(k / PER_LINE);
        placed.set(node.name, { node, x: x + col * (NODE_W + GAP), y: y + LABEL_H + line * (NODE_H + LINE_GAP) });
      });
      x += g.w + GROUP_GAP;
    }
    y += Math.max(...band.map((g) => g.h)) + BAND_GAP;
  });
  return { width, height: y - BAND_GAP + PAD, placed, labels };
}

/** A line between two boxes: straight between facing sides in one row, else a vertical S-curve. */
function linkPath(a: Placed, b: Placed): string {
  if (a.y === b.y) {
    const [l, r] = a.x <= b.x ? [a, b] : [b, a];
    const y = l.y + NODE_H / 2;
    return `M ${l.x + NODE_W} ${y} L ${r.x} ${y}`;
  }
  const [top, bottom] = a.y < b.y ? [a, b] : [b, a];
  const x1 = top.x + NODE_W / 2;
  const x2 = bottom.x + NODE_W / 2;
  const y1 = top.y + NODE_H;
  const y2 = bottom.y;
  const mid = (y1 + y2) / 2;
  return `M ${x1} ${y1} C ${x1} ${mid} ${x2} ${mid} ${x2} ${y2}`;
}

const fmtRate = (r: number): string =>
  r >= 10_000 ? `${(r / 1000).toFixed(0)}k` : r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r.toFixed(0);

function subtitle(n: NodeState): string {
  if (ClusterState.failed(n)) return 'failed to start';
  if (n.lastSeen === undefined) return 'no stats yet';
  if (!n.up) return 'down';
  if (n.history.length === 0) return 'up';
  const r = latestRates(n);
  return `↑${fmtRate(r.published)}/s  ↓${fmtRate(r.received)}/s`;
}

export class TopologyView {
  private signature = '';
  private root: SVGSVGElement | undefined;
  private linksGroup: SVGGElement | undefined;
  private drawing: Drawing | undefined;
  private readonly nodeEls = new Map<string, { g: SVGGElement; sub: SVGTextElement; title: SVGTitleElement }>();

  constructor(
    private readonly container: HTMLElement,
    private readonly state: ClusterState,
    private readonly managerIsLogger: boolean,
  ) {}

  render(): void {
    const sig = [...this.state.nodes.values()].map((n) => `${n.role}:${n.name}`).join(',');
    if (sig !== this.signature || !this.root) this.build(sig);
    const d = this.drawing!;
    for (const [name, el] of this.nodeEls) {
      const n = this.state.nodes.get(name)!;
      const failed = ClusterState.failed(n);
      const s = n.up ? 'up' : failed ? 'failed' : 'down';
      el.g.dataset.state = s;
      el.g.setAttribute(
        'class',
        `node node-${s}${failed ? ' node-down' : ''}${n.lastSeen === undefined && !failed ? ' node-unseen' : ''}`,
      );
      el.sub.textContent = subtitle(n);
      const why = failed
        ? `failed to start: ${n.supervisor?.lastError ?? 'no reason given'} (the launcher retries)`
        : n.up
          ? 'up'
          : n.lastSeen === undefined
            ? 'no stats received yet'
            : 'down: no stats for 2 s';
      const bb = n.backbone;
      el.title.textContent = `${n.name} (${n.role})${n.id ? `\nid ${n.id}` : ''}\n${why}\npeers: ${n.peers.join(', ') || '—'}${bb ? `\nbackbone: ${bb.state}${bb.server ? ` via ${bb.server}` : ''}, ${bb.endpoints} endpoints seen` : ''}`;
      if (bb) el.g.dataset.backbone = bb.state;
      else delete el.g.dataset.backbone;
      if (failed) el.g.dataset.error = n.supervisor?.lastError ?? '';
      else delete el.g.dataset.error;
    }
    const links = this.state.links();
    const paths: SVGPathElement[] = [];
    for (const [a, b] of links) {
      const pa = d.placed.get(a);
      const pb = d.placed.get(b);
      if (!pa || !pb) continue;
      paths.push(svg('path', { class: 'link', d: linkPath(pa, pb), 'data-link': `${a}|${b}` }));
    }
    this.linksGroup!.replaceChildren(...paths);
    this.root!.dataset.links = String(paths.length);
  }

  private build(sig: string): void {
    this.signature = sig;
    const d = layout(this.state, this.managerIsLogger);
    this.drawing = d;
    this.nodeEls.clear();
    const links = svg('g', { class: 'links' });
    const nodes = svg('g', { class: 'nodes' });
    for (const l of d.labels) nodes.append(svg('text', { class: 'group-label', x: l.x, y: l.y }, l.text));
    for (const { node, x, y } of d.placed.values()) {
      const title = svg('title');
      const sub = svg('text', { class: 'node-sub', x: x + NODE_W / 2, y: y + 35, 'text-anchor': 'middle' });
      const g = svg(
        'g',
        { 'data-testid': `node-${node.name}`, 'data-role': node.role, 'data-state': 'down', class: 'node' },
        title,
        svg('rect', { x, y, width: NODE_W, height: NODE_H, rx: 8 }),
        svg('circle', { class: 'node-dot', cx: x + 12, cy: y + 16, r: 4.5 }),
        svg('text', { class: 'node-name', x: x + NODE_W / 2 + 6, y: y + 19, 'text-anchor': 'middle' }, node.name),
        sub,
      );
      this.nodeEls.set(node.name, { g, sub, title });
      nodes.append(g);
    }
    this.linksGroup = links;
    this.root = svg(
      'svg',
      {
        viewBox: `0 0 ${d.width} ${d.height}`,
        width: d.width,
        height: d.height,
        role: 'img',
        'aria-label': 'cluster topology',
      },
      links,
      nodes,
    );
    this.container.replaceChildren(this.root);
  }
}
