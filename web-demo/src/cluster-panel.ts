/**
 * Cluster mode's live part: subscribes to every node's stats, keeps the cluster state, and drives
 * the totals, topology, rate charts, nodes, topics, clients and backbone panels: the topology at most once
 * per frame and once a second regardless (so that silent nodes turn down), the charts and tables
 * once a second (uptimes count, charts scroll).
 */
import type { Endpoint } from 'isobroker';
import { ClusterState, STATS_TOPIC_PREFIX, nodeStatsOf, readSupervisorStates } from './cluster-state.js';
import { CLUSTER_JSON_PATH, type ClusterInfo } from './config.js';
import { frameScheduler } from './dom.js';
import { BackboneView, ClientsView, NodesView, TopicsView, TotalsView } from './ops-views.js';
import { RatesView } from './rates-view.js';
import { TopologyView } from './topology-view.js';

const TICK_MS = 250;
const REDRAW_MS = 1000;
/** How often the launcher's view of the nodes (`/cluster.json`) is read again. */
const SUPERVISOR_POLL_MS = 2000;

export interface ClusterPanelElements {
  readonly topology: HTMLElement;
  readonly rates: HTMLElement;
  readonly totals: { tiles: HTMLElement; chart: HTMLElement };
  readonly nodes: HTMLTableSectionElement;
  readonly topics: { body: HTMLTableSectionElement; empty: HTMLElement };
  readonly clients: { body: HTMLTableSectionElement; meta: HTMLElement };
  readonly backbone: { panel: HTMLElement; body: HTMLTableSectionElement; meta: HTMLElement };
}

export function startClusterPanel(endpoint: Endpoint, info: ClusterInfo, el: ClusterPanelElements): () => void {
  const state = new ClusterState(info.layout.nodes);
  const topology = new TopologyView(el.topology, state, info.layout.managerIsLogger);
  const rates = new RatesView(el.rates, state);
  const totals = new TotalsView(el.totals, state);
  const nodes = new NodesView(el.nodes, state);
  const topics = new TopicsView(el.topics.body, el.topics.empty, state);
  const clients = new ClientsView(el.clients.body, el.clients.meta, state);
  const backbone = new BackboneView(el.backbone, state);
  // The topology follows every change (a node down shows at once); charts and tables, which
  // cost more to draw, follow once a second.
  const slow = (): void => {
    rates.render(performance.now());
    totals.render();
    nodes.render();
    topics.render();
    clients.render();
    backbone.render();
  };
  const render = (): void => topology.render();
  const frame = frameScheduler(render);
  state.onChange(() => frame.schedule());
  const sub = endpoint.subscribe(STATS_TOPIC_PREFIX, ({ data }) => {
    const stats = nodeStatsOf(data);
    if (stats) state.apply(stats, performance.now());
  });
  const ticker = setInterval(() => state.tick(performance.now()), TICK_MS);
  const redraw = setInterval(() => {
    state.sampleTotals(Date.now());
    frame.schedule();
    requestAnimationFrame(slow);
  }, REDRAW_MS);
  // Which nodes the launcher could not start (and why), uptimes and restarts: only it knows.
  const poll = async (): Promise<void> => {
    try {
      const res = await fetch(CLUSTER_JSON_PATH, { cache: 'no-store', headers: { accept: 'application/json' } });
      if (res.ok) state.applySupervisor(readSupervisorStates(await res.json()));
    } catch {
      // the launcher is gone or restarting: keep the last view
    }
  };
  void poll();
  const poller = setInterval(() => void poll(), SUPERVISOR_POLL_MS);
  render();
  slow();
  return () => {
    sub.unsubscribe();
    clearInterval(ticker);
    clearInterval(redraw);
    clearInterval(poller);
    frame.cancel();
  };
}
