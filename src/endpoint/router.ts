/**
 * Link-state routing for the native overlay. Every endpoint floods an announcement of its
 * subscription filter and its direct peers (with a version that only grows); every endpoint thus
 * knows the whole graph, computes shortest paths from itself and forwards a message only to the
 * next hops toward endpoints that subscribe to its topic. Together with duplicate suppression
 * (dedup.ts) and a TTL this delivers exactly once, without loops, in any topology.
 *
 * Only router links take part: a hub's leaves never appear here (overlay.ts folds their interest
 * into the hub's own announcement). An endpoint that is no longer reachable stays as a tombstone
 * (so that replays of its old announcements are recognised as old news) until `collect` removes
 * it; newcomers are only ever told about live endpoints.
 *
 * Pure: no I/O, no timers. The endpoint feeds announcements in and asks for routes.
 */
import { isInternalTopic } from '../topic/internal.js';
import { TopicTrie, type TrieHandle } from '../topic/topic-trie.js';

export interface Announcement {
  readonly origin: string;
  readonly version: number;
  readonly name: string;
  readonly filter: readonly string[];
  readonly neighbors: readonly string[];
}

export interface RouteChanges {
  /** Endpoints that became reachable. */
  readonly discovered: readonly Announcement[];
  /** Endpoints that are no longer reachable. */
  readonly unreachable: readonly Announcement[];
}

interface Installed {
  hop: string;
  filter: readonly string[];
  handles: TrieHandle<string>[];
}

const ROUTE_CACHE_LIMIT = 10_000;
const NO_ROUTES: readonly string[] = Object.freeze([]);

export class Router {
  private readonly db = new Map<string, Announcement>();
  private neighbors = new Set<string>();
  private reachable = new Set<string>();
  private readonly installed = new Map<string, Installed>();
  private readonly trie = new TopicTrie<string>();
  /** Internal topics (`<$>/…`) match only internal prefixes: a subscriber of "" never gets them. */
  private readonly internalTrie = new TopicTrie<string>();
  private readonly cache = new Map<string, readonly string[]>();
  /** Known but unreachable endpoints (tombstones), with the time they became unreachable. */
  private readonly tombstones = new Map<string, number>();

  constructor(
    readonly self: string,
    private readonly now: () => number = () => 0,
  ) {}

  /** Number of endpoints in the table, tombstones included. */
  get size(): number {
    return this.db.size;
  }

  /** Number of tombstones (unreachable endpoints not yet collected). */
  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /** Live announcements (ourselves and every reachable endpoint), for a newly connected router. */
  live(): Announcement[] {
    const out: Announcement[] = [];
    for (const id of this.reachable) {
      const a = this.db.get(id);
      if (a) out.push(a);
    }
    const me = this.db.get(this.self);
    if (me && !this.reachable.has(this.self)) out.push(me);
    return out;
  }

  /** Removes tombstones older than `maxAge` ms; returns how many are left. */
  collect(maxAge: number): number {
    const limit = this.now() - maxAge;
    for (const [id, since] of this.tombstones) {
      if (since > limit) continue;
      this.tombstones.delete(id);
      this.db.delete(id);
    }
    return this.tombstones.size;
  }

  /** Known announcement of an endpoint (including ourselves once set). */
  get(origin: string): Announcement | undefined {
    return this.db.get(origin);
  }

  /** Every announcement known, for a newly connected peer. */
  all(): Announcement[] {
    return [...this.db.values()];
  }

  isReachable(origin: string): boolean {
    return this.reachable.has(origin);
  }

  /** Reachable endpoints other than ourselves. */
  reachableEndpoints(): Announcement[] {
    const out: Announcement[] = [];
    for (const id of this.reachable) {
      const a = this.db.get(id);
      if (a && id !== this.self) out.push(a);
    }
    return out;
  }

  /** Records our own announcement (the endpoint assigns versions). */
  setSelf(a: Announcement): RouteChanges {
    this.db.set(this.self, a);
    this.neighbors = new Set(a.neighbors);
    return this.recompute();
  }

  /**
   * Applies a received announcement. Returns `undefined` when it is old news (do not flood it),
   * else the route changes it caused (flood it on to the other peers). `firstHand`: the origin
   * itself sent it over a direct link, which is authoritative (it replaces whatever was known,
   * even with a higher version: that came from a stale or forged copy).
   */
  apply(a: Announcement, firstHand = false): RouteChanges | undefined {
    if (a.origin === this.self) return undefined;
    const known = this.db.get(a.origin);
    if (known && (firstHand ? known.version === a.version : known.version >= a.version)) return undefined;
    this.db.set(a.origin, a);
    return this.recompute();
  }

  /** Next hops (peer ids) toward every reachable endpoint subscribed to `topic`. */
  routes(topic: string): readonly string[] {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    let out: string[] | undefined;
    const trie = isInternalTopic(topic) ? this.internalTrie : this.trie;
    trie.forEachMatch(topic, (hop) => {
      if (!out) out = [hop];
      else if (!out.includes(hop)) out.push(hop);
    });
    const result = out ?? NO_ROUTES;
    if (this.cache.size >= ROUTE_CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }

  /** Next hop toward an endpoint, if reachable. */
  nextHop(origin: string): string | undefined {
    return this.installed.get(origin)?.hop ?? (this.neighbors.has(origin) ? origin : undefined);
  }

  private trieFor(prefix: string): TopicTrie<string> {
    return isInternalTopic(prefix) ? this.internalTrie : this.trie;
  }

  private recompute(): RouteChanges {
    // Breadth-first search over confirmed (two-sided) links, from ourselves.
    const hops = new Map<string, string>();
    const seen = new Set<string>([this.self]);
    let frontier: string[] = [];
    for (const n of this.neighbors) {
      if (!this.db.has(n) || !this.db.get(n)!.neighbors.includes(this.self)) continue;
      seen.add(n);
      hops.set(n, n);
      frontier.push(n);
    }
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const u of frontier) {
        const au = this.db.get(u);
        if (!au) continue;
        for (const v of au.neighbors) {
          if (seen.has(v)) continue;
          const av = this.db.get(v);
          if (!av?.neighbors.includes(u)) continue;
          seen.add(v);
          hops.set(v, hops.get(u)!);
          next.push(v);
        }
      }
      frontier = next;
    }

    const discovered: Announcement[] = [];
    const unreachable: Announcement[] = [];
    for (const id of hops.keys()) if (!this.reachable.has(id)) discovered.push(this.db.get(id)!);
    for (const id of this.reachable) {
      if (id !== this.self && !hops.has(id)) unreachable.push(this.db.get(id)!);
    }
    this.reachable = new Set(hops.keys());
    const now = this.now();
    for (const a of unreachable) if (!this.tombstones.has(a.origin)) this.tombstones.set(a.origin, now);
    for (const a of discovered) this.tombstones.delete(a.origin);
    // An announcement of an endpoint never reachable is a tombstone from the start.
    for (const id of this.db.keys()) {
      if (id !== this.self && !hops.has(id) && !this.tombstones.has(id)) this.tombstones.set(id, now);
    }

    let changed = false;
    for (const [id, inst] of this.installed) {
      if (hops.has(id)) continue;
      for (const h of inst.handles) this.trieFor(h.prefix).remove(h);
      this.installed.delete(id);
      changed = true;
    }
    for (const [id, hop] of hops) {
      const a = this.db.get(id)!;
      const inst = this.installed.get(id);
      if (inst && inst.hop === hop && inst.filter === a.filter) continue;
      if (inst) for (const h of inst.handles) this.trieFor(h.prefix).remove(h);
      const handles = a.filter.map((prefix) => this.trieFor(prefix).add(prefix, hop));
      this.installed.set(id, { hop, filter: a.filter, handles });
      changed = true;
    }
    if (changed) this.cache.clear();
    return { discovered, unreachable };
  }
}
