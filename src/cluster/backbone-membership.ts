/**
 * Cluster membership over a message backbone, Zeek's ZeroMQ semantics: no Broker peerings
 * between the nodes; a node of the layout is up while backbone presence lists it (its
 * endpoint's heartbeats) and down when presence says so — its endpoint silent for the presence
 * timeout (a crash or a cut-off host), its bye, or its name taken by a new id (Zeek's rule: the
 * old id goes down first). Pure: it only turns a presence tracker's `nodeUp`/`nodeDown` into the
 * cluster node's, filtered to the layout.
 *
 * Reach: `global` (ZeroMQ's: every layout node seen is up for every node, so worker → worker
 * works) or `layout` (only the nodes Broker's connectivity would peer this node with, both
 * directions of `connectionsOf`: a worker then sees the manager, the loggers and the proxies,
 * not the other workers).
 */
import type { PresenceNode } from '../backbone/control.js';
import type { PresenceTracker } from '../backbone/presence.js';
import type { Unsubscribe } from '../util/emitter.js';
import { connectionsOf, nodeByName, type ClusterLayout } from './layout.js';

/** Which layout nodes a cluster node reports up over a backbone. */
export type BackboneReach = 'global' | 'layout';

/** The reach values, for option checks. */
export const BACKBONE_REACHES: readonly BackboneReach[] = ['global', 'layout'];

/** What membership reads from backbone presence (a `PresenceTracker` has it). */
export type PresenceSource = Pick<PresenceTracker, 'on' | 'nodes'>;

/** The part of an endpoint's backbone link a cluster node uses (`endpoint.backbone`). */
export interface BackboneLinkLike {
  /** Who is on the backbone. */
  readonly presence: PresenceSource;
  /** Sets the cluster nodes this endpoint hosts, listed in its heartbeats. */
  setNodes(nodes: readonly PresenceNode[]): void;
}

/** Where membership reports: the cluster node's own bookkeeping (pools, events). */
export interface MembershipSink {
  /** A layout node came up with endpoint id `id`. */
  up(name: string, id: string): void;
  /** The node `name` (with id `id`, as reported up) went down. */
  down(name: string, id: string): void;
  /** A node id that was replaced is still listed by a live endpoint (two processes, one name). */
  duplicate(name: string, id: string, existingId: string): void;
}

/**
 * The names of the layout nodes `self` reports up under `reach` (never `self`): every other
 * node for `global`; for `layout`, those Broker's connectivity peers it with — the nodes it
 * dials and the nodes that dial it.
 */
export function reachableNodes(layout: ClusterLayout, self: string, reach: BackboneReach): Set<string> {
  nodeByName(layout, self); // throws for a name not in the layout
  const names = new Set<string>();
  if (reach === 'global') {
    for (const n of layout.nodes) if (n.name !== self) names.add(n.name);
    return names;
  }
  for (const n of connectionsOf(layout, self)) names.add(n.name);
  for (const n of layout.nodes) {
    if (n.name === self || names.has(n.name)) continue;
    if (connectionsOf(layout, n.name).some((t) => t.name === self)) names.add(n.name);
  }
  return names;
}

/**
 * Follows backbone presence for one cluster node: `sink.up` for every reachable layout node
 * presence lists (at once for those already listed), `sink.down` when it goes. A listed node
 * whose role differs from the layout's is not a node of this cluster and is ignored.
 */
export class BackboneMembership {
  private readonly reachable: Set<string>;
  private readonly roles = new Map<string, string>();
  /** Nodes reported up, name → id. */
  private readonly upIds = new Map<string, string>();
  private readonly offs: Unsubscribe[];
  /** Listings ignored: not reachable, not of the layout, or with another role. */
  ignored = 0;

  constructor(
    presence: PresenceSource,
    layout: ClusterLayout,
    readonly self: string,
    readonly reach: BackboneReach,
    private readonly sink: MembershipSink,
  ) {
    this.reachable = reachableNodes(layout, self, reach);
    for (const n of layout.nodes) this.roles.set(n.name, n.role);
    this.offs = [
      presence.on('nodeUp', (n) => this.onUp(n.name, n.role, n.id)),
      presence.on('nodeDown', (n) => this.onDown(n.name, n.id)),
      presence.on('duplicate', (d) => {
        if (this.upIds.has(d.name)) this.sink.duplicate(d.name, d.id, d.existingId);
      }),
    ];
    for (const n of presence.nodes()) this.onUp(n.name, n.role, n.id);
  }

  /** The nodes reported up now, name → endpoint id. */
  get up(): ReadonlyMap<string, string> {
    return this.upIds;
  }

  /** Stops following presence (nothing is reported down). */
  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private onUp(name: string, role: string, id: string): void {
    if (!this.reachable.has(name) || this.roles.get(name) !== role) {
      this.ignored++;
      return;
    }
    const old = this.upIds.get(name);
    if (old === id) return;
    if (old !== undefined) {
      // Presence downs a replaced id first; should that order ever break, keep Zeek's rule here.
      this.upIds.delete(name);
      this.sink.down(name, old);
    }
    this.upIds.set(name, id);
    this.sink.up(name, id);
  }

  private onDown(name: string, id: string): void {
    if (this.upIds.get(name) !== id) return;
    this.upIds.delete(name);
    this.sink.down(name, id);
  }
}
