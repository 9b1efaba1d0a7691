/**
 * What the page knows about the cluster's nodes, from their `isobroker::node_stats` events (layout
 * in `server/dashboard/shapes.ts`) and the launcher's `/cluster.json`: up/down (down after
 * `DOWN_AFTER_MS` of silence), current peers and connections, the backbone link, message and byte rates derived from
 * the totals, the busiest topics, drops, and each node's uptime and restarts. Pure state: the
 * views read it, a timer calls `tick`.
 */
import {
  STATS_EVENT,
  STATS_TOPIC_PREFIX,
  nodeStatsOf,
  readNodeStats,
  type BackboneStatus,
  type ClientInfo,
  type NodeStats,
  type TopicSample,
} from '../../server/dashboard/shapes.js';
import { ROLE_ORDER, type LayoutNode, type Role } from './config.js';

export { STATS_EVENT, STATS_TOPIC_PREFIX, nodeStatsOf, readNodeStats };
export type { BackboneStatus, NodeStats };

/** A node not heard from this long is down. */
export const DOWN_AFTER_MS = 2000;
/** How much rate history each node (and the cluster) keeps. */
export const HISTORY_MS = 60_000;
/** Topic rates are averaged over this much of the latest stats. */
export const TOPIC_WINDOW_MS = 2000;

export interface RateSample {
  /** Page clock (ms) of the stats that gave this sample. */
  readonly t: number;
  /** Messages per second published and received since the previous stats. */
  readonly published: number;
  readonly received: number;
  /** Bytes per second published (an estimate from the node's sample). */
  readonly bytes: number;
}

/** The cluster's totals at one moment. */
export interface TotalsSample {
  /** Wall clock (ms). */
  readonly t: number;
  readonly messages: number;
  readonly bytes: number;
}

export interface NodeState {
  readonly name: string;
  readonly role: Role;
  /** In the layout the page was given (others are nodes that only announced themselves). */
  readonly inLayout: boolean;
  up: boolean;
  /** Page clock of the last stats; undefined when never heard. */
  lastSeen: number | undefined;
  id: string;
  peers: readonly string[];
  published: number;
  received: number;
  publishedBytes: number;
  /** Drops for full send buffers (and log records dropped), total since the node started. */
  drops: number;
  history: RateSample[];
  /** The topic samples of the last `TOPIC_WINDOW_MS`. */
  topics: { t: number; intervalMs: number; topics: readonly TopicSample[] }[];
  clients: readonly ClientInfo[];
  /** Its NATS backbone link, when it has one (from its latest stats). */
  backbone: BackboneStatus | undefined;
  /** The launcher's view (`/cluster.json` `nodes`): `failed` when the node cannot start. */
  supervisor: SupervisorState | undefined;
}

/** One node as the launcher sees it (an entry of `/cluster.json`'s `nodes`). */
export interface SupervisorState {
  readonly state: string;
  readonly restarts: number;
  readonly lastError?: string;
  /** When it came up, by this page's wall clock (ms), while up. */
  readonly upSince?: number;
}

/**
 * The `nodes` of a `/cluster.json`, by name; entries without a name and a state are skipped.
 * `upSince` is moved to this page's clock by the launcher's `now` (taken as `pageNow`).
 */
export function readSupervisorStates(json: unknown, pageNow = Date.now()): Map<string, SupervisorState> {
  const out = new Map<string, SupervisorState>();
  const o = json as { nodes?: unknown; now?: unknown } | null;
  const nodes = o?.nodes;
  if (!Array.isArray(nodes)) return out;
  const skew = typeof o?.now === 'number' ? pageNow - o.now : 0;
  for (const n of nodes as Record<string, unknown>[]) {
    if (typeof n?.name !== 'string' || typeof n.state !== 'string') continue;
    out.set(n.name, {
      state: n.state,
      restarts: typeof n.restarts === 'number' ? n.restarts : 0,
      ...(typeof n.lastError === 'string' ? { lastError: n.lastError } : {}),
      ...(typeof n.upSince === 'number' ? { upSince: n.upSince + skew } : {}),
    });
  }
  return out;
}

/** The cluster's totals now: rates of the nodes that are up, drops of every node heard. */
export interface Totals {
  readonly messages: number;
  readonly bytes: number;
  /** Peerings between nodes plus connections of clients (browsers, hubs, JSON v1 clients). */
  readonly connections: number;
  readonly clients: number;
  readonly drops: number;
  readonly nodesUp: number;
  readonly nodes: number;
}

/** One topic's rate across the cluster. */
export interface TopicRate {
  readonly topic: string;
  readonly messages: number;
  readonly bytes: number;
}

export class ClusterState {
  readonly nodes = new Map<string, NodeState>();
  /** Cluster totals, one sample per `sampleTotals` call (the last `HISTORY_MS`). */
  readonly totalsHistory: TotalsSample[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(layout: readonly LayoutNode[]) {
    for (const n of layout) this.nodes.set(n.name, blank(n.name, n.role, true));
  }

  /** Calls `fn` after every change (stats applied, a node went down). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** Applies one node's stats, received at page time `now` (ms). */
  apply(s: NodeStats, now: number): void {
    let n = this.nodes.get(s.name);
    if (!n) {
      const role = (ROLE_ORDER as readonly string[]).includes(s.role) ? (s.role as Role) : 'worker';
      n = blank(s.name, role, false);
      this.nodes.set(s.name, n);
    }
    const prev = n.lastSeen;
    const bytes = s.publishedBytes ?? 0;
    // Totals restart when a node restarts; then the first stats only set a new baseline.
    const continuous =
      prev !== undefined &&
      n.up &&
      s.id === n.id &&
      s.published >= n.published &&
      s.received >= n.received &&
      bytes >= n.publishedBytes &&
      now > prev;
    if (continuous) {
      // The node's own interval between its stats: the page may take them in bursts after being
      // busy, and its arrival times would turn a burst into a spike.
      const dt = (s.intervalMs !== undefined && s.intervalMs > 0 ? s.intervalMs : now - prev) / 1000;
      n.history.push({
        t: now,
        published: (s.published - n.published) / dt,
        received: (s.received - n.received) / dt,
        bytes: (bytes - n.publishedBytes) / dt,
      });
      trim(n.history, now - HISTORY_MS);
    }
    if (s.id !== n.id) n.topics = [];
    if (s.topics && s.intervalMs) n.topics.push({ t: now, intervalMs: s.intervalMs, topics: s.topics });
    trim(n.topics, now - TOPIC_WINDOW_MS);
    n.up = true;
    n.lastSeen = now;
    n.id = s.id;
    n.peers = s.peers;
    n.published = s.published;
    n.received = s.received;
    n.publishedBytes = bytes;
    n.drops = s.drops ?? n.drops;
    n.clients = s.clients ?? [];
    n.backbone = s.backbone;
    this.evaluate(now);
    this.changed();
  }

  /**
   * Up means: stats heard within DOWN_AFTER_MS, and — every node peers with the manager — listed
   * among the manager's current peers while the manager itself reports. A killed node thus turns
   * down with the manager's next stats (≤ 0.5 s), even when a restart is quicker than the silence.
   */
  private evaluate(now: number): boolean {
    const manager = [...this.nodes.values()].find((x) => x.role === 'manager');
    const managerFresh = manager?.lastSeen !== undefined && now - manager.lastSeen < DOWN_AFTER_MS;
    let any = false;
    for (const n of this.nodes.values()) {
      const fresh = n.lastSeen !== undefined && now - n.lastSeen < DOWN_AFTER_MS;
      // Over a backbone nodes do not peer: the manager lists them as present on the backbone.
      const listed =
        n === manager ||
        !managerFresh ||
        !n.inLayout ||
        manager!.peers.includes(n.name) ||
        manager!.backbone?.nodes.includes(n.name) === true;
      const up = fresh && listed;
      if (up !== n.up) {
        n.up = up;
        any = true;
      }
    }
    return any;
  }

  /** Applies the launcher's view of each node; a node it calls `failed` shows as failed. */
  applySupervisor(states: ReadonlyMap<string, SupervisorState>): void {
    let any = false;
    for (const n of this.nodes.values()) {
      const s = states.get(n.name);
      if (sameSupervisor(s, n.supervisor)) continue;
      n.supervisor = s;
      any = true;
    }
    if (any) this.changed();
  }

  /** Whether the launcher reports `n` as failed (exited without coming up) and it is not up. */
  static failed(n: NodeState): boolean {
    return !n.up && n.supervisor?.state === 'failed';
  }

  /** Marks silent nodes down; returns whether anything changed. */
  tick(now: number): boolean {
    const any = this.evaluate(now);
    if (any) this.changed();
    return any;
  }

  /** Nodes of one role, layout order first. */
  byRole(role: Role): NodeState[] {
    return [...this.nodes.values()].filter((n) => n.role === role);
  }

  /** Peerings as unordered name pairs, as reported by nodes that are up, between known nodes. */
  links(): [string, string][] {
    const seen = new Set<string>();
    const out: [string, string][] = [];
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      for (const p of n.peers) {
        if (p === n.name || !this.nodes.has(p)) continue;
        const [a, b] = n.name < p ? [n.name, p] : [p, n.name];
        const key = `${a}\u0000${b}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push([a, b]);
      }
    }
    return out;
  }

  /** Whether a connection of a node is to another node of the cluster (not a client). */
  isNodeLink(c: ClientInfo): boolean {
    return this.nodes.has(c.name) && c.protocol === 'native' && c.link !== 'leaf';
  }

  /** Connections of clients (not other nodes) of the nodes that are up, by node. */
  clients(): { node: string; client: ClientInfo }[] {
    const out: { node: string; client: ClientInfo }[] = [];
    for (const r of ROLE_ORDER)
      for (const n of this.byRole(r)) {
        if (!n.up) continue;
        for (const c of n.clients) if (!this.isNodeLink(c)) out.push({ node: n.name, client: c });
      }
    return out;
  }

  /** The cluster's totals now. */
  totals(): Totals {
    let messages = 0;
    let bytes = 0;
    let drops = 0;
    let nodesUp = 0;
    for (const n of this.nodes.values()) {
      drops += n.drops;
      if (!n.up) continue;
      nodesUp++;
      const r = latestRates(n);
      messages += r.published;
      bytes += r.bytes;
    }
    const clients = this.clients().length;
    return {
      messages,
      bytes,
      connections: this.links().length + clients,
      clients,
      drops,
      nodesUp,
      nodes: this.nodes.size,
    };
  }

  /** Records the totals at wall-clock time `t` for the cluster chart. */
  sampleTotals(t: number): void {
    const x = this.totals();
    this.totalsHistory.push({ t, messages: x.messages, bytes: x.bytes });
    trim(this.totalsHistory, t - HISTORY_MS);
  }

  /** The busiest topics across the nodes that are up (messages/s over the last `TOPIC_WINDOW_MS`). */
  topTopics(max = 10): TopicRate[] {
    const sum = new Map<string, { messages: number; bytes: number }>();
    for (const n of this.nodes.values()) {
      if (!n.up || n.topics.length === 0) continue;
      const secs = n.topics.reduce((s, x) => s + x.intervalMs, 0) / 1000;
      if (secs <= 0) continue;
      for (const sample of n.topics)
        for (const t of sample.topics) {
          const e = sum.get(t.topic) ?? { messages: 0, bytes: 0 };
          e.messages += t.messages / secs;
          e.bytes += t.bytes / secs;
          sum.set(t.topic, e);
        }
    }
    return [...sum]
      .map(([topic, r]) => ({ topic, messages: r.messages, bytes: r.bytes }))
      .sort((a, b) => b.messages - a.messages || (a.topic < b.topic ? -1 : 1))
      .slice(0, max);
  }
}

function trim<T extends { t: number }>(xs: T[], cutoff: number): void {
  let drop = 0;
  while (drop < xs.length && xs[drop]!.t < cutoff) drop++;
  if (drop > 0) xs.splice(0, drop);
}

function sameSupervisor(a: SupervisorState | undefined, b: SupervisorState | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  // upSince moves by the clock skew of each reading: a second's difference is the same start.
  const up =
    a.upSince === undefined || b.upSince === undefined
      ? a.upSince === b.upSince
      : Math.abs(a.upSince - b.upSince) < 1000;
  return a.state === b.state && a.restarts === b.restarts && a.lastError === b.lastError && up;
}

function blank(name: string, role: Role, inLayout: boolean): NodeState {
  return {
    name,
    role,
    inLayout,
    up: false,
    lastSeen: undefined,
    id: '',
    peers: [],
    published: 0,
    received: 0,
    publishedBytes: 0,
    drops: 0,
    history: [],
    topics: [],
    clients: [],
    backbone: undefined,
    supervisor: undefined,
  };
}

/** The latest rates of a node, or zeros. */
export function latestRates(n: NodeState): { published: number; received: number; bytes: number } {
  const last = n.history[n.history.length - 1];
  return n.up && last
    ? { published: last.published, received: last.received, bytes: last.bytes }
    : { published: 0, received: 0, bytes: 0 };
}
