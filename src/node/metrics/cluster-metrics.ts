/** Metrics of a cluster node: the other nodes it sees up, and their up and down transitions. */
import type { Registry } from 'prom-client';
import type { ClusterNode } from '../../index.js';
import { mirroredCounter, mirroredGauge, type Sample } from './mirrored.js';

/** Registers the metrics of `node`; returns a function that stops listening to its events. */
export function registerClusterMetrics(registry: Registry, node: ClusterNode): () => void {
  const transitions = new Map<string, number>();
  const bump = (name: string, state: 'up' | 'down'): void => {
    const k = `${name}\0${state}`;
    transitions.set(k, (transitions.get(k) ?? 0) + 1);
  };
  const offs = [
    node.on('nodeUp', ({ name }) => bump(name, 'up')),
    node.on('nodeDown', ({ name }) => bump(name, 'down')),
  ];
  mirroredCounter(
    registry,
    'isobroker_cluster_node_transitions_total',
    'Times another cluster node came up or went down, as this node saw it.',
    ['node', 'state'],
    (): Sample[] =>
      [...transitions].map(([k, v]) => {
        const [name, state] = k.split('\0') as [string, string];
        return [{ node: name, state }, v] as const;
      }),
  );
  mirroredGauge(
    registry,
    'isobroker_cluster_node_up',
    'Whether another cluster node is up (1) or down (0), as this node sees it.',
    ['node', 'role'],
    () =>
      node
        .nodes()
        .filter((n) => n.name !== node.name)
        .map((n) => [{ node: n.name, role: n.role }, n.up ? 1 : 0] as const),
  );
  return () => {
    for (const off of offs) off();
  };
}
