/**
 * What the page knows about the cluster's nodes, from their `isobroker::node_stats` events:
 * up/down (down after `DOWN_AFTER_MS` of silence), current peers, and message rates derived from
 * the totals. Pure state: the views read it, a timer calls `tick`.
 */
import { isZeekEvent, parseZeekMessage, type Data } from 'isobroker';
import { ROLE_ORDER, type LayoutNode, type Role } from './config.js';

export const STATS_TOPIC_PREFIX = 'isobroker/stats/';
export const STATS_EVENT = 'isobroker::node_stats';
/** A node not heard from this long is down. */
export const DOWN_AFTER_MS = 2000;
/** How much rate history each node keeps. */
export const HISTORY_MS = 60_000;

export interface RateSample {
  /** Page clock (ms) of the stats that gave this sample. */
  readonly t: number;
  /** Messages per second published and received since the previous stats. */
  readonly published: number;
  readonly received: number;
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
  history: RateSample[];
  /** The launcher's view (`/cluster.json` `nodes`): `failed` when the node cannot start. */
  supervisor: SupervisorState | undefined;
}

/** One node as the launcher sees it (an entry of `/cluster.json`'s `nodes`). */
export interface SupervisorState {
  readonly state: string;
  readonly restarts: number;
  readonly lastError?: string;
}

/** The `nodes` of a `/cluster.json`, by name; entries without a name and a state are skipped. */
export function readSupervisorStates(json: unknown): Map<string, SupervisorState> {
  const out = new Map<string, SupervisorState>();
  const nodes = (json as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return out;
  for (const n of nodes as Record<string, unknown>[]) {
    if (typeof n?.name !== 'string' || typeof n.state !== 'string') continue;
    out.set(n.name, {
      state: n.state,
      restarts: typeof n.restarts === 'number' ? n.restarts : 0,
      ...(typeof n.lastError === 'string' ? { lastError: n.lastError } : {}),
    });
  }
  return out;
}

/** The fields of one `node_stats` event. */
export interface NodeStats {
  readonly name: string;
  readonly role: string;
  readonly id: string;
  readonly peers: readonly string[];
  readonly published: number;
  readonly received: number;
}

const str = (d: Data | undefined): string | undefined => (d?.type === 'string' ? d.value : undefined);
const num = (d: Data | undefined): number | undefined =>
  d?.type === 'count' || d?.type === 'integer' ? Number(d.value) : undefined;

/** The arguments of a `node_stats` event, or undefined when they do not have its layout. */
export function readNodeStats(args: readonly Data[]): NodeStats | undefined {
  const [name, role, id, peers, published, received] = args;
  const n = str(name);
  const r = str(role);
  const p = num(published);
  const q = num(received);
  if (n === undefined || r === undefined || p === undefined || q === undefined || peers?.type !== 'vector')
    return undefined;
  const names: string[] = [];
  for (const e of peers.elements) if (e.type === 'string') names.push(e.value);
  return { name: n, role: r, id: str(id) ?? '', peers: names, published: p, received: q };
}

/** The stats in a message on a stats topic, or undefined when it is not a `node_stats` event. */
export function nodeStatsOf(data: Data): NodeStats | undefined {
  if (!isZeekEvent(data)) return undefined;
  const ev = parseZeekMessage(data);
  return ev.kind === 'event' && ev.name === STATS_EVENT ? readNodeStats(ev.args) : undefined;
}

export class ClusterState {
  readonly nodes = new Map<string, NodeState>();
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
    // Totals restart when a node restarts; then the first stats only set a new baseline.
    const continuous =
      prev !== undefined &&
      n.up &&
      s.id === n.id &&
      s.published >= n.published &&
      s.received >= n.received &&
      now > prev;
    if (continuous) {
      const dt = (now - prev) / 1000;
      n.history.push({ t: now, published: (s.published - n.published) / dt, received: (s.received - n.received) / dt });
      const cutoff = now - HISTORY_MS;
      let drop = 0;
      while (drop < n.history.length && n.history[drop]!.t < cutoff) drop++;
      if (drop > 0) n.history.splice(0, drop);
    }
    n.up = true;
    n.lastSeen = now;
    n.id = s.id;
    n.peers = s.peers;
    n.published = s.published;
    n.received = s.received;
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
      const listed = n === manager || !managerFresh || !n.inLayout || manager!.peers.includes(n.name);
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
      if (JSON.stringify(s) === JSON.stringify(n.supervisor)) continue;
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
    history: [],
    supervisor: undefined,
  };
}

/** The latest rates of a node, or zeros. */
export function latestRates(n: NodeState): { published: number; received: number } {
  const last = n.history[n.history.length - 1];
  return n.up && last ? { published: last.published, received: last.received } : { published: 0, received: 0 };
}
