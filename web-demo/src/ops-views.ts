/**
 * The operator's panels, all read from `ClusterState`: cluster totals (tiles and a chart of
 * messages/s and bytes/s), the nodes as the launcher runs them (state, uptime, restarts, why a
 * node failed), the busiest topics, and every client connection of every node (kind, protocol,
 * address, subscriptions, send-queue fill, drops). Tables are rebuilt at most every
 * `TABLE_EVERY_MS`, so a burst of stats costs one rebuild.
 */
import { h } from './dom.js';
import { ClusterState, latestRates, type NodeState } from './cluster-state.js';
import { ROLE_ORDER } from './config.js';
import { TimeChart } from './charts.js';
import { withGaps } from './rates-view.js';
import { byteRate, bytes, compact, duration, msgRate, percent } from './units.js';

const TABLE_EVERY_MS = 900;

/** Runs `fn` now if it last ran `ms` ago or more. */
function throttle(ms: number, fn: () => void): () => void {
  let last = -Infinity;
  return () => {
    const now = performance.now();
    if (now - last < ms) return;
    last = now;
    fn();
  };
}

export class TotalsView {
  private readonly tiles: Record<'messages' | 'bytes' | 'connections' | 'drops' | 'nodes', HTMLElement>;
  private readonly chart: TimeChart;

  constructor(
    el: { tiles: HTMLElement; chart: HTMLElement },
    private readonly state: ClusterState,
  ) {
    const tile = (key: string, label: string, hint: string): HTMLElement => {
      const value = h('span', { class: 'tile-value', 'data-testid': `total-${key}` }, '—');
      el.tiles.append(h('div', { class: 'tile', title: hint }, h('span', { class: 'tile-label' }, label), value));
      return value;
    };
    this.tiles = {
      messages: tile('messages', 'messages', 'messages published per second, all nodes together'),
      bytes: tile('bytes', 'bytes', 'bytes published per second, all nodes together (estimated from a sample)'),
      connections: tile('connections', 'connections', 'peerings between nodes plus client connections'),
      drops: tile(
        'drops',
        'drops',
        'messages dropped for full send buffers, and log records dropped, since the nodes started',
      ),
      nodes: tile('nodes', 'nodes up', 'nodes sending stats now, of the layout'),
    };
    this.chart = new TimeChart(el.chart, {
      height: 150,
      lines: [
        { label: 'messages', color: '--pub', format: msgRate },
        { label: 'bytes', color: '--recv', format: byteRate, axis: 1 },
      ],
      ticks: [compact, (v) => bytes(v).replace(' ', '')],
      units: ['msg/s', 'bytes/s'],
    });
  }

  render(): void {
    const t = this.state.totals();
    this.tiles.messages.textContent = msgRate(t.messages);
    this.tiles.bytes.textContent = byteRate(t.bytes);
    this.tiles.connections.textContent = `${t.connections}`;
    this.tiles.connections.title = `${t.connections - t.clients} between nodes, ${t.clients} clients`;
    this.tiles.drops.textContent = compact(t.drops);
    this.tiles.drops.classList.toggle('warn', t.drops > 0);
    this.tiles.nodes.textContent = `${t.nodesUp} / ${t.nodes}`;
    for (const [k, v] of Object.entries({
      messages: t.messages,
      bytes: t.bytes,
      connections: t.connections,
      drops: t.drops,
    }))
      this.tiles[k as keyof typeof this.tiles].dataset.value = String(v);
    const now = Date.now();
    const { times, values } = withGaps(this.state.totalsHistory, [(s) => s.messages, (s) => s.bytes], 5000);
    this.chart.update(times, values, now, 10_000);
  }
}

function stateOf(n: NodeState): string {
  if (n.up) return 'up';
  if (ClusterState.failed(n)) return 'failed';
  const s = n.supervisor?.state;
  if (s === 'starting' || s === 'restarting') return s;
  return n.lastSeen === undefined ? 'waiting' : 'down';
}

export class NodesView {
  readonly render: () => void;

  constructor(body: HTMLTableSectionElement, state: ClusterState) {
    this.render = throttle(TABLE_EVERY_MS, () => {
      const rows = ROLE_ORDER.flatMap((r) => state.byRole(r)).map((n) => {
        const st = stateOf(n);
        const sup = n.supervisor;
        const uptime = n.up && sup?.upSince !== undefined ? duration(Date.now() - sup.upSince) : '—';
        const r = latestRates(n);
        const reason = st === 'failed' ? (sup?.lastError ?? 'no reason given') : '';
        return h(
          'tr',
          { 'data-testid': 'nodes-row', 'data-node': n.name, 'data-state': st },
          h('td', {}, n.name),
          h('td', { class: 'muted' }, n.role),
          h('td', {}, h('span', { class: 'pill', 'data-state': st }, st)),
          h('td', { class: 'num', 'data-testid': 'nodes-uptime' }, uptime),
          h('td', { class: 'num', 'data-testid': 'nodes-restarts' }, sup ? String(sup.restarts) : '—'),
          h('td', { class: 'num' }, n.up ? msgRate(r.published) : '—'),
          h('td', { class: 'num' }, compact(n.drops)),
          h('td', { class: 'reason', 'data-testid': 'nodes-reason', title: reason || undefined }, reason),
        );
      });
      body.replaceChildren(...rows);
    });
  }
}

export class TopicsView {
  readonly render: () => void;

  constructor(body: HTMLTableSectionElement, empty: HTMLElement, state: ClusterState) {
    this.render = throttle(TABLE_EVERY_MS, () => {
      const top = state.topTopics();
      const max = Math.max(1, ...top.map((t) => t.messages));
      body.replaceChildren(
        ...top.map((t) =>
          h(
            'tr',
            { 'data-testid': 'topic-row', 'data-topic': t.topic, 'data-rate': t.messages.toFixed(1) },
            h('td', { class: 'topic', title: t.topic }, t.topic),
            h(
              'td',
              { class: 'num bar-cell' },
              h('span', { class: 'bar', style: `width:${((t.messages / max) * 100).toFixed(0)}%` }),
              h('span', { class: 'bar-text' }, msgRate(t.messages)),
            ),
            h('td', { class: 'num' }, byteRate(t.bytes)),
          ),
        ),
      );
      empty.hidden = top.length > 0;
      empty.textContent = 'no traffic measured yet — each node counts the topics it publishes on';
    });
  }
}

export class ClientsView {
  readonly render: () => void;

  constructor(body: HTMLTableSectionElement, meta: HTMLElement, state: ClusterState) {
    this.render = throttle(TABLE_EVERY_MS, () => {
      const list = state.clients();
      body.replaceChildren(
        ...list.map(({ node, client: c }) =>
          h(
            'tr',
            { 'data-testid': 'client-row', 'data-node': node, 'data-name': c.name, 'data-kind': c.kind },
            h('td', {}, node),
            h('td', { class: 'client-name', title: c.name }, c.name),
            h('td', {}, c.kind),
            h('td', {}, c.link ? `${c.protocol} · ${c.link}` : c.protocol),
            h('td', { class: 'addr', title: `${c.direction} ${c.address}` }, c.address),
            h('td', { class: 'num' }, c.subscriptions < 0 ? '—' : String(c.subscriptions)),
            h(
              'td',
              { class: `num${c.fill >= 0.5 ? ' warn' : ''}`, title: `${c.queued} messages queued` },
              `${percent(c.fill)} (${compact(c.queued)})`,
            ),
            h('td', { class: `num${c.drops > 0 ? ' warn' : ''}` }, compact(c.drops)),
          ),
        ),
      );
      const nodes = new Set(list.map((x) => x.node)).size;
      meta.textContent = list.length
        ? `${list.length} client connection${list.length === 1 ? '' : 's'} on ${nodes} node${nodes === 1 ? '' : 's'} · peerings between nodes are in the topology`
        : 'no clients connected (peerings between nodes are in the topology)';
    });
  }
}

/**
 * The backbone panel: each node's NATS backbone link (state, server, endpoints seen, queue, drops,
 * reconnects, RTT). Hidden while no node reports one.
 */
/** The pill colour of a backbone state. */
const PILL: Record<string, string> = {
  connected: 'up',
  connecting: 'starting',
  reconnected: 'starting',
  disconnected: 'down',
  closed: 'down',
};

export class BackboneView {
  readonly render: () => void;

  constructor(el: { panel: HTMLElement; body: HTMLTableSectionElement; meta: HTMLElement }, state: ClusterState) {
    this.render = throttle(TABLE_EVERY_MS, () => {
      const nodes = ROLE_ORDER.flatMap((r) => state.byRole(r)).filter((n) => n.backbone !== undefined);
      el.panel.hidden = nodes.length === 0;
      el.body.replaceChildren(
        ...nodes.map((n) => {
          const b = n.backbone!;
          const st = n.up ? b.state : 'unknown';
          return h(
            'tr',
            { 'data-testid': 'backbone-row', 'data-node': n.name, 'data-state': st },
            h('td', {}, n.name),
            h('td', {}, h('span', { class: 'pill', 'data-state': PILL[st] ?? 'down' }, st)),
            h('td', { class: 'addr', title: b.server }, b.server || '—'),
            h('td', { class: 'num', title: b.nodes.join(', ') }, String(b.endpoints)),
            h('td', { class: `num${b.queued > 0 ? ' warn' : ''}` }, compact(b.queued)),
            h('td', { class: `num${b.dropped > 0 ? ' warn' : ''}` }, compact(b.dropped)),
            h('td', { class: 'num' }, String(b.reconnects)),
            h('td', { class: 'num' }, b.rtt === undefined ? '—' : `${b.rtt.toFixed(b.rtt < 10 ? 2 : 0)} ms`),
            h('td', { class: 'num', title: 'superset mode: batches received that nothing wanted' }, compact(b.wasted)),
          );
        }),
      );
      const servers = new Set(nodes.map((n) => n.backbone!.server).filter(Boolean)).size;
      el.meta.textContent = nodes.length
        ? `${nodes.length} node${nodes.length === 1 ? '' : 's'} on the NATS backbone through ${servers} server${servers === 1 ? '' : 's'}`
        : '';
    });
  }
}
