/**
 * Cluster mode's live part: subscribes to every node's stats, keeps the cluster state, and drives
 * the topology and the rate charts (at most one render per frame, and once a second regardless so
 * that silent nodes turn down and charts scroll).
 */
import type { Endpoint } from 'isobroker';
import { ClusterState, STATS_TOPIC_PREFIX, nodeStatsOf, readSupervisorStates } from './cluster-state.js';
import { CLUSTER_JSON_PATH, type ClusterInfo } from './config.js';
import { frameScheduler } from './dom.js';
import { RatesView } from './rates-view.js';
import { TopologyView } from './topology-view.js';

const TICK_MS = 250;
const REDRAW_MS = 1000;
/** How often the launcher's view of the nodes (`/cluster.json`) is read again. */
const SUPERVISOR_POLL_MS = 2000;

export function startClusterPanel(
  endpoint: Endpoint,
  info: ClusterInfo,
  topologyEl: HTMLElement,
  ratesEl: HTMLElement,
): () => void {
  const state = new ClusterState(info.layout.nodes);
  const topology = new TopologyView(topologyEl, state, info.layout.managerIsLogger);
  const rates = new RatesView(ratesEl, state);
  const frame = frameScheduler(() => {
    topology.render();
    rates.render(performance.now());
  });
  state.onChange(() => frame.schedule());
  const sub = endpoint.subscribe(STATS_TOPIC_PREFIX, ({ data }) => {
    const stats = nodeStatsOf(data);
    if (stats) state.apply(stats, performance.now());
  });
  const ticker = setInterval(() => state.tick(performance.now()), TICK_MS);
  const redraw = setInterval(() => frame.schedule(), REDRAW_MS);
  // Which nodes the launcher could not start (and why): only the launcher knows.
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
  topology.render();
  rates.render(performance.now());
  return () => {
    sub.unsubscribe();
    clearInterval(ticker);
    clearInterval(redraw);
    clearInterval(poller);
    frame.cancel();
  };
}
