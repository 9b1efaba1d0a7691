/**
 * Cluster mode's live part: subscribes to every node's stats, keeps the cluster state, and drives
 * the topology and the rate charts (at most one render per frame, and once a second regardless so
 * that silent nodes turn down and charts scroll).
 */
import type { Endpoint } from 'isobroker';
import { ClusterState, STATS_TOPIC_PREFIX, nodeStatsOf } from './cluster-state.js';
import type { ClusterInfo } from './config.js';
import { frameScheduler } from './dom.js';
import { RatesView } from './rates-view.js';
import { TopologyView } from './topology-view.js';

const TICK_MS = 250;
const REDRAW_MS = 1000;

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
  topology.render();
  rates.render(performance.now());
  return () => {
    sub.unsubscribe();
    clearInterval(ticker);
    clearInterval(redraw);
    frame.cancel();
  };
}
