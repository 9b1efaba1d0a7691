/**
 * `createMetrics`: a Prometheus registry (prom-client) for one hub or cluster node and the HTTP
 * handler that serves it. Everything isobroker-specific is read at scrape time from the objects'
 * own introspection (`endpoint.stats()`, `peers()`, `routing()`, the backbone link's `stats()`,
 * store stats, the log router's `stats()`), so metrics cost nothing per message; the process metrics are prom-client's defaults
 * (CPU, resident memory, event-loop lag, GC pauses, heap). See the README's metrics table.
 */
import type { Server } from 'node:http';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ISOBROKER_VERSION, type ClusterNode, type Endpoint, type LinksOptions, type LogRouter } from '../../index.js';
import { registerBackboneMetrics } from './backbone-metrics.js';
import { registerClusterMetrics } from './cluster-metrics.js';
import { registerEndpointMetrics } from './endpoint-metrics.js';
import { type MetricsAuthOptions, type MetricsHandler, metricsHandler } from './http-handler.js';
import { registerListenerBytes } from './listener-bytes.js';
import { registerLogMetrics } from './log-metrics.js';
import { type MeteredStore, registerStoreMetrics } from './store-metrics.js';

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** The endpoint whose connections, messages, queues and routing are exported. */
  readonly endpoint: Endpoint;
  /** The endpoint's `links` option, for the `policy` label of drops. @default DEFAULT_LINKS */
  readonly links?: LinksOptions;
  /** Store masters and clones to export (sizes, changes, errors, resyncs). @default [] */
  readonly stores?: readonly MeteredStore[];
  /** The log router of a cluster node (records written, acknowledged, resent, buffered). @default none */
  readonly logRouter?: LogRouter;
  /** The cluster node (other nodes up, their up and down transitions). @default none */
  readonly cluster?: ClusterNode;
  /** Require authentication for `GET /metrics` (see `MetricsAuthOptions`). @default none: anyone who reaches the port */
  readonly auth?: MetricsAuthOptions;
  /** Handles the other HTTP requests of the handler (e.g. a dashboard). @default 404 */
  readonly next?: MetricsHandler;
  /** Export prom-client's process metrics (CPU, memory, event-loop lag, GC). @default true */
  readonly processMetrics?: boolean;
}

/** What `createMetrics` makes. */
export interface Metrics {
  /** The registry; `registry.metrics()` is the Prometheus text. */
  readonly registry: Registry;
  /** Serves `GET /metrics`: give it to `listen(endpoint, { http })`, or to `serveMetrics`. */
  readonly handler: MetricsHandler;
  /** Counts the bytes of a listener's connections by protocol (`listener.server`); call once, after `listen`. */
  observeListener(server: Server): void;
  /** Stops listening to stores, the cluster node and the listener (the registry stays readable). */
  close(): void;
}

/** Makes the registry and `GET /metrics` handler of one hub or cluster node. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const { endpoint } = options;
  const offs: (() => void)[] = [];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'isobroker_info',
    help: 'This endpoint: name, id, role and isobroker version (always 1).',
    labelNames: ['name', 'id', 'role', 'version'],
    registers: [registry],
  });
  info.set({ name: endpoint.name, id: endpoint.id, role: endpoint.role, version: ISOBROKER_VERSION }, 1);
  registerEndpointMetrics(registry, endpoint, options.links);
  registerBackboneMetrics(registry, endpoint);
  if (options.stores && options.stores.length > 0) offs.push(registerStoreMetrics(registry, options.stores));
  if (options.logRouter) registerLogMetrics(registry, options.logRouter);
  if (options.cluster) offs.push(registerClusterMetrics(registry, options.cluster));
  let listening = false;
  return {
    registry,
    handler: metricsHandler(registry, { auth: options.auth, next: options.next }),
    observeListener(server) {
      if (listening) return;
      listening = true;
      offs.push(registerListenerBytes(registry, server));
    },
    close() {
      for (const off of offs.splice(0)) off();
    },
  };
}
