/**
 * Zeek's cluster topic names (scripts/base/frameworks/cluster/main.zeek and pools.zeek, Broker
 * backend). A node topic and a node-id topic end in `/`, so `logger-1` never matches
 * `logger-10` under prefix matching.
 */
import type { Role } from './layout.js';

/** `Cluster::manager_topic`: reaches the manager. */
export const MANAGER_TOPIC = 'zeek/cluster/manager';
/** `Cluster::logger_topic`: reaches every logger. */
export const LOGGER_TOPIC = 'zeek/cluster/logger';
/** `Cluster::proxy_topic`: reaches every proxy. */
export const PROXY_TOPIC = 'zeek/cluster/proxy';
/** `Cluster::worker_topic`: reaches every worker. */
export const WORKER_TOPIC = 'zeek/cluster/worker';

/** The topic that reaches every node of a role. */
export const ROLE_TOPICS: Readonly<Record<Role, string>> = Object.freeze({
  manager: MANAGER_TOPIC,
  logger: LOGGER_TOPIC,
  proxy: PROXY_TOPIC,
  worker: WORKER_TOPIC,
});

/** The topic that reaches every node of `role`, e.g. `zeek/cluster/worker`. */
export function roleTopic(role: Role): string {
  return ROLE_TOPICS[role];
}

/** `Cluster::node_topic_prefix`. */
export const NODE_TOPIC_PREFIX = 'zeek/cluster/node/';
/** `Cluster::nodeid_topic_prefix`. */
export const NODEID_TOPIC_PREFIX = 'zeek/cluster/nodeid/';

/** Topic of the standard proxy pool (`Cluster::proxy_pool_spec`). */
export const PROXY_POOL_TOPIC = 'zeek/cluster/pool/proxy';
/** Topic of the standard worker pool (`Cluster::worker_pool_spec`). */
export const WORKER_POOL_TOPIC = 'zeek/cluster/pool/worker';
/** Topic of the standard logger pool (`Cluster::logger_pool_spec`). */
export const LOGGER_POOL_TOPIC = 'zeek/cluster/pool/logger';

/** `Cluster::node_topic(name)`: `zeek/cluster/node/<name>/`, reaching the node named `name`. */
export function nodeTopic(name: string): string {
  return `${NODE_TOPIC_PREFIX}${name}/`;
}

/** `Cluster::nodeid_topic(id)`: `zeek/cluster/nodeid/<id>/`, reaching one endpoint. */
export function nodeidTopic(id: string): string {
  return `${NODEID_TOPIC_PREFIX}${id}/`;
}
