/**
 * A cluster node: an endpoint that knows the layout, its own name and role, peers by Broker's
 * connectivity rules, subscribes to its role, node and node-id topics, and runs the hello
 * handshake — `nodeUp(name, id)` on a peer's first hello, `nodeDown` when the peering is lost.
 */
import { string } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { listenerErrorEvent, type ErrorEvent, type StatusEvent } from '../endpoint/status.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import { checkOptionsObject, fnOption, numberOption, oneOfOption } from '../util/options.js';
import { makeEvent } from '../message/builders.js';
import { parseZeekMessage } from '../message/parse.js';
import {
  BACKBONE_REACHES,
  BackboneMembership,
  type BackboneLinkLike,
  type BackboneReach,
} from './backbone-membership.js';
import { connectionsOf, nodeByName, type ClusterLayout, type NodeSpec, type Role } from './layout.js';
import type { HrwKey } from './hash.js';
import { PoolRegistry, hrwTopic, rrTopic, type Pool, type PoolSpec } from './pools.js';

import { ROLE_TOPICS, nodeTopic, nodeidTopic } from './topics.js';

/** Zeek's hello event, sent by each side of a new peering on the other's node-id topic. */
export const HELLO_EVENT = 'Cluster::hello';

/** Another node of the layout, as this node sees it. */
export interface NodeState {
  /** The node's name in the layout. */
  readonly name: string;
  /** The node's role. */
  readonly role: Role;
  /** Endpoint id once its hello arrived. */
  readonly id?: string;
  readonly up: boolean;
}

/**
 * The events of a cluster node, listened to with `node.on(event, listener)`. A listener that
 * throws is reported as an `error` event coded `listener_failed`; nothing else reaches `error`
 * here (peering failures are the endpoint's `error` events).
 */
export interface ClusterEvents {
  /** A node of the layout said hello (Zeek's `Cluster::node_up`). */
  nodeUp: { readonly name: string; readonly id: string };
  /** A node's peering was lost (Zeek's `Cluster::node_down`). */
  nodeDown: { readonly name: string; readonly id: string };
  /** A hello claimed a name another live endpoint holds (over a backbone: a replaced id is still listed). */
  duplicate: { readonly name: string; readonly id: string; readonly existingId: string };
  /** An asynchronous failure: a listener threw. */
  error: ErrorEvent;
}

/** Options of `new ClusterNode(endpoint, layout, name, options)`. */
export interface ClusterNodeOptions {
  /** First reconnect delay of the peerings, ms, 0 or more (0: do not retry). @default the endpoint's `retry` */
  readonly retry?: number;
  /** Supplies this node's token for its peerings (`PeerOptions.getToken`), when the cluster runs with auth on. @default none */
  readonly getToken?: () => string | Promise<string>;
  /**
   * With a backbone attached to the endpoint (before `start`): which layout nodes are reported
   * up — `global` every node presence lists (ZeroMQ's reach), `layout` only those Broker's
   * connectivity would peer with. @default 'global'
   */
  readonly backboneReach?: BackboneReach;
}

/** Defaults of `ClusterNodeOptions` (`retry` undefined: the endpoint's). */
export const DEFAULT_CLUSTER_NODE_OPTIONS: ClusterNodeOptions = Object.freeze({});

function resolveClusterNodeOptions(o: ClusterNodeOptions | undefined): ClusterNodeOptions {
  checkOptionsObject('options', o);
  const getToken = fnOption('getToken', o?.getToken);
  const reach = oneOfOption('backboneReach', o?.backboneReach, 'global', BACKBONE_REACHES);
  if (o?.retry === undefined && getToken === undefined && reach === 'global') return DEFAULT_CLUSTER_NODE_OPTIONS;
  return {
    ...(reach === 'global' ? {} : { backboneReach: reach }),
    ...(o?.retry !== undefined ? { retry: numberOption('retry', o.retry, 0, 0) } : {}),
    ...(getToken !== undefined ? { getToken } : {}),
  };
}

/** Builds the WebSocket URL for a node of the layout. */
export function nodeUrl(n: NodeSpec): string {
  return `ws://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`;
}

/**
 * A cluster node: an endpoint that knows the layout and its own name, peers as Broker's cluster
 * does, runs the hello handshake (`nodeUp`/`nodeDown`) and holds the pools.
 */
export class ClusterNode {
  /** This node's entry in the layout. */
  readonly self: NodeSpec;
  private readonly states = new Map<string, { id?: string; up: boolean }>();
  private readonly byId = new Map<string, string>();
  private readonly events: Emitter<ClusterEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  private readonly opts: ClusterNodeOptions;
  private readonly offs: (() => void)[] = [];
  /** The pools (proxy, worker, logger, and any registered before `start`), as Zeek assigns them. */
  readonly pools: PoolRegistry;

  constructor(
    readonly endpoint: Endpoint,
    readonly layout: ClusterLayout,
    name: string,
    options?: ClusterNodeOptions,
  ) {
    this.opts = resolveClusterNodeOptions(options);
    this.self = nodeByName(layout, name);
    for (const n of layout.nodes) if (n.name !== name) this.states.set(n.name, { up: false });
    this.pools = new PoolRegistry({ localNode: name, managerIsLogger: layout.managerIsLogger });
    for (const n of layout.nodes) this.pools.addNode(n.name, n.role);
  }

  /** Registers a pool (`Cluster::register_pool`); call before `start`. */
  registerPool(spec: PoolSpec): Pool {
    return this.pools.registerPool(spec);
  }

  /** Publishes to the pool member that HRW picks for `key`; false when no member is alive. */
  publishHrw(pool: Pool, key: HrwKey, value: unknown): boolean {
    const topic = hrwTopic(pool, key);
    if (topic === '') return false;
    this.endpoint.publish(topic, value);
    return true;
  }

  /** Publishes to the next live pool member for `key` (round-robin); false when none is alive. */
  publishRr(pool: Pool, key: string, value: unknown): boolean {
    const topic = rrTopic(pool, key);
    if (topic === '') return false;
    this.endpoint.publish(topic, value);
    return true;
  }

  /** This node's name. */
  get name(): string {
    return this.self.name;
  }

  /** This node's role. */
  get role(): Role {
    return this.self.role;
  }

  /**
   * Subscribes to this node's topics and peers with the nodes Broker's rules say it dials. With a
   * backbone attached to the endpoint, it peers with none: membership follows backbone presence.
   */
  start(): void {
    const ep = this.endpoint;
    this.pools.distribute();
    const onHello = ({ data }: { data: Data }): void => this.onHello(data);
    const subs = [
      ep.subscribe(nodeidTopic(ep.id), onHello),
      ep.subscribe(ROLE_TOPICS[this.role], () => undefined),
      ep.subscribe(nodeTopic(this.name), () => undefined),
    ];
    this.offs.push(() => {
      for (const s of subs) s.unsubscribe();
    });
    const link = (ep as { readonly backbone?: BackboneLinkLike | undefined }).backbone;
    if (link !== undefined) {
      this.startBackbone(link);
      return;
    }
    this.offs.push(ep.on('status', (s) => this.onStatus(s)));
    for (const target of connectionsOf(this.layout, this.name)) {
      void ep
        .peer(nodeUrl(target), {
          ...(this.opts.retry === undefined ? {} : { retry: this.opts.retry }),
          ...(this.opts.getToken === undefined ? {} : { getToken: this.opts.getToken }),
        })
        .catch(() => undefined);
    }
  }

  /** Listens to `nodeUp`, `nodeDown`, `duplicate` or `error`; returns a function that stops listening. */
  on<K extends keyof ClusterEvents>(event: K, fn: (ev: ClusterEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  /** Every other node of the layout with its state. */
  nodes(): NodeState[] {
    return this.layout.nodes
      .filter((n) => n.name !== this.name)
      .map((n) => {
        const s = this.states.get(n.name)!;
        return { name: n.name, role: n.role, up: s.up, ...(s.id ? { id: s.id } : {}) };
      });
  }

  /** Whether the node `name` is up (this node always is). */
  isUp(name: string): boolean {
    return name === this.name || this.states.get(name)?.up === true;
  }

  /** Names of live nodes of a role (this node included when it has the role). */
  liveNodes(role: Role): string[] {
    return this.layout.nodes.filter((n) => n.role === role && this.isUp(n.name)).map((n) => n.name);
  }

  /** Stops following the endpoint (it stays open) and drops every listener. */
  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private startBackbone(link: BackboneLinkLike): void {
    link.setNodes([{ name: this.name, role: this.role, id: this.endpoint.id }]);
    const m = new BackboneMembership(link.presence, this.layout, this.name, this.opts.backboneReach ?? 'global', {
      up: (name, id) => this.markUp(name, id),
      down: (name, id) => this.markDown(name, id),
      duplicate: (name, id, existingId) => this.emit('duplicate', { name, id, existingId }),
    });
    this.offs.push(() => {
      m.close();
      link.setNodes([]);
    });
  }

  private emit<K extends keyof ClusterEvents>(event: K, ev: ClusterEvents[K]): void {
    this.events.emit(event, ev);
  }

  private onStatus(s: StatusEvent): void {
    const id = s.peer.id;
    if (!id) return;
    if (s.code === 'peer_added') {
      // Each side greets the other on its node-id topic.
      this.endpoint.publish(nodeidTopic(id), makeEvent(HELLO_EVENT, [string(this.name), string(this.endpoint.id)]));
      return;
    }
    if (s.code === 'peer_lost' || s.code === 'peer_removed') {
      const name = this.byId.get(id);
      if (name !== undefined) this.markDown(name, id);
    }
  }

  private markDown(name: string, id: string): void {
    this.byId.delete(id);
    const st = this.states.get(name);
    if (!st?.up || st.id !== id) return;
    st.up = false;
    this.pools.markDead(name);
    this.emit('nodeDown', { name, id });
  }

  private onHello(data: Data): void {
    let name: string;
    let id: string;
    try {
      const m = parseZeekMessage(data);
      if (m.kind !== 'event' || m.name !== HELLO_EVENT) return;
      const [n, i] = m.args;
      if (n?.type !== 'string' || i?.type !== 'string') return;
      name = n.value;
      id = i.value;
    } catch {
      return;
    }
    this.markUp(name, id);
  }

  private markUp(name: string, id: string): void {
    const st = this.states.get(name);
    if (!st) return; // not a node of our layout (e.g. a dashboard)
    if (st.up && st.id !== id) {
      this.emit('duplicate', { name, id, existingId: st.id! });
      return;
    }
    if (st.up) return;
    st.up = true;
    st.id = id;
    this.byId.set(id, name);
    this.pools.markAlive(name, id);
    this.emit('nodeUp', { name, id });
  }
}
