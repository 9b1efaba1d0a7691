/**
 * Presence on the backbone: who is attached, which cluster nodes they host, which partial
 * prefixes they want and which stores they master — from the hello, heartbeat and bye messages
 * of the control subject (`control.ts`). Pure: time comes from injected `Timers`, messages from
 * the caller; one timer at most is armed however many endpoints are tracked.
 *
 * Endpoints:
 * - up on the first hello or heartbeat from an id; down after `timeout` ms without an accepted
 *   message from it (reason `timeout`: a crash or a cut-off host), or at once on its bye (`bye`).
 *   The sender's announced `interval` is kept but does not change the timeout.
 * - `seq` must grow per id: a message whose `seq` is not above the last accepted one is a replay
 *   and ignored (it refreshes nothing). Except a **hello with a lower seq**: the sender restarted
 *   with the same id, so the old incarnation goes down (reason `restart`: its nodes down, the
 *   duplicate filter must forget its origin) and the new one comes up. A restarted sender whose
 *   hello got lost is ignored until the old record times out, then comes up again (≤ `timeout`).
 * - After a bye, the id's last seq is remembered for `timeout` ms, so a late heartbeat from
 *   before the bye does not bring it back (a hello does: a restart).
 * - At most `maxEndpoints` endpoints are tracked; messages from further ids are counted
 *   (`overCapacity`) and ignored.
 *
 * Nodes (names are global on the backbone), Zeek's rules: a listed node comes up (`nodeUp`)
 * when its name is not up; a name listed with a new id while the old id is up downs the old id
 * first (`nodeDown`, reason `replaced`) then ups the new one. A replaced (name, id) is retired: if
 * its process is still alive and keeps listing it (two processes claiming one name), it is
 * ignored — one `duplicate` event the first time — instead of flapping between the two; it stays
 * retired even after the newer id went down. A node no longer
 * listed by its endpoint goes down (`unlisted`), and every node of an endpoint that goes down
 * goes down with it (`endpoint_down`).
 *
 * Events are emitted after the state changed, in this order: endpointUp, helloSeen, changed,
 * nodeDown…, nodeUp…, duplicate; on the way down: nodeDown…, endpointDown. `changed` fires when
 * an endpoint's partials or stores differ from what it listed before (on its first message when
 * it lists any); an endpoint that goes down has none, without a `changed` event.
 */
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import type { Timers } from '../util/timers.js';
import {
  PRESENCE_TIMEOUT,
  decodeControl,
  type ControlMessage,
  type PresenceNode,
  type PresenceStore,
} from './control.js';
import { ConfigError, DecodeError } from '../errors.js';

/** Default bound on the endpoints a tracker follows. */
export const MAX_PRESENCE_ENDPOINTS = 10_000;

/** Options of `new PresenceTracker(selfId, timers, options)`. */
export interface PresenceOptions {
  /** An endpoint is down after this long without a heartbeat, ms. @default PRESENCE_TIMEOUT (2000) */
  readonly timeout?: number;
  /** At most this many endpoints are tracked (and as many retired node ids and byes remembered). @default 10,000 */
  readonly maxEndpoints?: number;
}

/** An endpoint present on the backbone, as its last accepted message described it. */
export interface PresenceEndpoint {
  readonly id: string;
  readonly name: string;
  /** The last accepted seq. */
  readonly seq: number;
  /** The sender's heartbeat interval, ms. */
  readonly interval: number;
  /** When its last accepted message arrived (`timers.now()`). */
  readonly lastSeen: number;
  readonly nodes: readonly PresenceNode[];
  readonly partials: readonly string[];
  readonly stores: readonly PresenceStore[];
  /** What it wants from the backbone; undefined: unknown (taken as everything). */
  readonly filter: readonly string[] | undefined;
}

/** A cluster node that is up, and the endpoint that hosts it. */
export interface PresenceNodeState extends PresenceNode {
  /** The id of the endpoint whose heartbeats list it. */
  readonly endpoint: string;
}

/** Why an endpoint went down. */
export type EndpointDownReason = 'timeout' | 'bye' | 'restart' | 'closed';
/** Why a node went down. */
export type NodeDownReason = 'endpoint_down' | 'unlisted' | 'replaced';

/** The events of a `PresenceTracker`. */
export interface PresenceEvents {
  /** The first hello or heartbeat from an endpoint (again after it went down). */
  endpointUp: { readonly id: string; readonly name: string };
  /** An endpoint went down: silent for `timeout` ms, said bye, restarted, or the tracker closed. */
  endpointDown: { readonly id: string; readonly name: string; readonly reason: EndpointDownReason };
  /** A hello was accepted: answer it with a heartbeat at once. */
  helloSeen: { readonly id: string; readonly name: string };
  /** An endpoint's partial prefixes or mastered stores changed (its full lists). */
  changed: {
    readonly id: string;
    readonly partials: readonly string[];
    readonly stores: readonly PresenceStore[];
    /** What it wants from the backbone; undefined: unknown (taken as everything). */
    readonly filter: readonly string[] | undefined;
  };
  /** A cluster node came up. */
  nodeUp: PresenceNodeState;
  /** A cluster node went down. */
  nodeDown: PresenceNodeState & { readonly reason: NodeDownReason };
  /** A retired node id is still listed: two processes claim one name; `existingId` holds it. */
  duplicate: { readonly name: string; readonly id: string; readonly existingId: string; readonly endpoint: string };
}

/** Counters of a `PresenceTracker`. */
export interface PresenceStats {
  /** Endpoints and nodes up now. */
  readonly endpoints: number;
  readonly nodes: number;
  /** Messages handed to `receive` (and decoded by `receivePayload`). */
  readonly received: number;
  /** Messages ignored: not above the last seq (replays), from this endpoint itself, over capacity. */
  readonly replays: number;
  readonly fromSelf: number;
  readonly overCapacity: number;
  /** Payloads `receivePayload` refused (`DecodeError`), and those of unknown kinds or versions. */
  readonly invalid: number;
  readonly unknown: number;
  /** Endpoints gone down so far, by timeout. */
  readonly timeouts: number;
  /** Listings of retired node ids ignored. */
  readonly duplicates: number;
  /** Listeners that threw (contained). */
  readonly listenerErrors: number;
}

interface Endpoint {
  readonly id: string;
  name: string;
  seq: number;
  interval: number;
  lastSeen: number;
  nodes: readonly PresenceNode[];
  partials: readonly string[];
  stores: readonly PresenceStore[];
  filter: readonly string[] | undefined;
}

interface NodeEntry {
  readonly name: string;
  readonly role: string;
  readonly id: string;
  readonly endpoint: string;
}

type Pending = { [K in keyof PresenceEvents]: [K, PresenceEvents[K]] }[keyof PresenceEvents];

const sameList = <T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean =>
  a.length === b.length && a.every((x, i) => eq(x, b[i]!));
const sameStores = (a: readonly PresenceStore[], b: readonly PresenceStore[]): boolean =>
  sameList(a, b, (x, y) => x.name === y.name && x.epoch === y.epoch && x.claimedAt === y.claimedAt);
/** A retired (name, id) pair; ids have a fixed length, so the key is unambiguous. */
const retiredKey = (name: string, id: string): string => `${id}${name}`;
const sameStrings = (a: readonly string[], b: readonly string[]): boolean => sameList(a, b, (x, y) => x === y);

/**
 * Who is on the backbone, from its presence messages (see the module comment for the rules).
 * Feed it every decoded control message (`receive`) or every raw payload (`receivePayload`).
 */
export class PresenceTracker {
  /** The timeout in use, ms. */
  readonly timeout: number;
  /** The bound on tracked endpoints. */
  readonly maxEndpoints: number;
  /** Endpoints up, in the order of their last accepted message (oldest first). */
  private readonly eps = new Map<string, Endpoint>();
  /** Nodes up, by name. */
  private readonly nodesByName = new Map<string, NodeEntry>();
  /** Replaced (name, id) pairs → whether a `duplicate` was reported for them (oldest first, bounded). */
  private readonly retired = new Map<string, boolean>();
  /** Ids that said bye → [their last seq, until when it is remembered] (oldest first). */
  private readonly byes = new Map<string, [number, number]>();
  private readonly events: Emitter<PresenceEvents> = new Emitter(() => {
    this.counts.listenerErrors++;
  });
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private readonly counts = {
    received: 0,
    replays: 0,
    fromSelf: 0,
    overCapacity: 0,
    invalid: 0,
    unknown: 0,
    timeouts: 0,
    duplicates: 0,
    listenerErrors: 0,
  };

  constructor(
    readonly selfId: string,
    private readonly timers: Timers,
    options: PresenceOptions = {},
  ) {
    const timeout = options.timeout ?? PRESENCE_TIMEOUT;
    if (!(Number.isFinite(timeout) && timeout > 0))
      throw new ConfigError('timeout', `expected a number of ms > 0, got ${timeout}`);
    const max = options.maxEndpoints ?? MAX_PRESENCE_ENDPOINTS;
    if (!(Number.isSafeInteger(max) && max > 0))
      throw new ConfigError('maxEndpoints', `expected a positive integer, got ${max}`);
    this.timeout = timeout;
    this.maxEndpoints = max;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof PresenceEvents>(event: K, fn: (ev: PresenceEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  /** Decodes a control payload and takes it in; a bad payload is counted, never thrown. */
  receivePayload(payload: Uint8Array): void {
    let m: ControlMessage | undefined;
    try {
      m = decodeControl(payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counts.invalid++;
      return;
    }
    if (m === undefined) this.counts.unknown++;
    else this.receive(m);
  }

  /** Takes in a decoded control message. */
  receive(m: ControlMessage): void {
    if (this.closed) return;
    this.counts.received++;
    if (m.id === this.selfId) {
      this.counts.fromSelf++;
      return;
    }
    const out: Pending[] = [];
    const now = this.timers.now();
    this.expireByes(now);
    let ep = this.eps.get(m.id);
    if (ep !== undefined && m.seq <= ep.seq) {
      if (m.kind !== 'hello' || m.seq === ep.seq) {
        this.counts.replays++;
        return;
      }
      this.down(ep, 'restart', out); // a hello with a lower seq: the sender restarted
      ep = undefined;
    }
    if (ep === undefined) {
      const bye = this.byes.get(m.id);
      if (bye !== undefined && m.kind !== 'hello' && m.seq <= bye[0]) {
        this.counts.replays++;
        this.flush(out);
        return;
      }
      if (m.kind === 'bye') {
        this.flush(out);
        return;
      }
      if (this.eps.size >= this.maxEndpoints) {
        this.counts.overCapacity++;
        this.flush(out);
        return;
      }
      this.byes.delete(m.id);
      ep = {
        id: m.id,
        name: m.name,
        seq: m.seq,
        interval: m.interval,
        lastSeen: now,
        nodes: [],
        partials: [],
        stores: [],
        filter: undefined,
      };
      this.eps.set(m.id, ep);
      out.push(['endpointUp', { id: m.id, name: m.name }]);
    } else {
      // Move to the end: the map stays ordered by last accepted message, so its first entry is
      // always the next to time out.
      this.eps.delete(m.id);
      this.eps.set(m.id, ep);
      ep.seq = m.seq;
      ep.lastSeen = now;
      ep.name = m.name;
      ep.interval = m.interval;
    }
    if (m.kind === 'bye') {
      this.down(ep, 'bye', out);
      this.remember(this.byes, m.id, [m.seq, now + this.timeout]);
      this.arm();
      this.flush(out);
      return;
    }
    if (m.kind === 'hello') out.push(['helloSeen', { id: m.id, name: m.name }]);
    if (
      !sameStrings(ep.partials, m.partials) ||
      !sameStores(ep.stores, m.stores) ||
      !(ep.filter === m.filter || (ep.filter && m.filter && sameStrings(ep.filter, m.filter)))
    ) {
      ep.partials = m.partials;
      ep.stores = m.stores;
      ep.filter = m.filter;
      out.push(['changed', { id: ep.id, partials: m.partials, stores: m.stores, filter: m.filter }]);
    }
    this.updateNodes(ep, m.nodes, out);
    this.arm();
    this.flush(out);
  }

  /** Whether the endpoint `id` is up. */
  isPresent(id: string): boolean {
    return this.eps.has(id);
  }

  /** The endpoint `id`, when up. */
  endpoint(id: string): PresenceEndpoint | undefined {
    const ep = this.eps.get(id);
    return ep && { ...ep };
  }

  /** Every endpoint up (oldest last message first). */
  endpoints(): PresenceEndpoint[] {
    return [...this.eps.values()].map((ep) => ({ ...ep }));
  }

  /** The node named `name`, when up. */
  node(name: string): PresenceNodeState | undefined {
    const n = this.nodesByName.get(name);
    return n && { ...n };
  }

  /** Every node up. */
  nodes(): PresenceNodeState[] {
    return [...this.nodesByName.values()].map((n) => ({ ...n }));
  }

  /** Counters. */
  stats(): PresenceStats {
    return { endpoints: this.eps.size, nodes: this.nodesByName.size, ...this.counts };
  }

  /**
   * Stops: every endpoint goes down (reason `closed`, its nodes with it), then no timer stays
   * armed, no listener is kept and nothing more is taken in.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const out: Pending[] = [];
    for (const ep of [...this.eps.values()]) this.down(ep, 'closed', out);
    this.byes.clear();
    this.retired.clear();
    this.flush(out);
    this.events.clear();
  }

  private updateNodes(ep: Endpoint, next: readonly PresenceNode[], out: Pending[]): void {
    const prev = ep.nodes;
    ep.nodes = next;
    // The common case: a heartbeat listing the same nodes as the one before, all of them up.
    if (
      sameList(prev, next, (x, y) => x.name === y.name && x.id === y.id && x.role === y.role) &&
      next.every((n) => this.nodesByName.get(n.name)?.id === n.id)
    ) {
      return;
    }
    if (prev.length > 0) {
      // Nodes it held and no longer lists as they were: unlisted, or listed with a new id.
      const listed = new Map(next.map((n) => [n.name, n.id]));
      for (const n of prev) {
        const now = listed.get(n.name);
        if (now === n.id) continue;
        const cur = this.nodesByName.get(n.name);
        if (cur?.id !== n.id || cur.endpoint !== ep.id) continue;
        if (now === undefined) this.nodeDown(cur, 'unlisted', out);
        else {
          this.remember(this.retired, retiredKey(n.name, n.id), false);
          this.nodeDown(cur, 'replaced', out);
        }
      }
    }
    for (const n of next) {
      const key = retiredKey(n.name, n.id);
      const reported = this.retired.get(key);
      if (reported !== undefined) {
        this.counts.duplicates++;
        const holder = this.nodesByName.get(n.name);
        if (!reported && holder !== undefined) {
          this.retired.set(key, true);
          out.push(['duplicate', { name: n.name, id: n.id, existingId: holder.id, endpoint: ep.id }]);
        }
        continue;
      }
      const cur = this.nodesByName.get(n.name);
      if (cur?.id === n.id) continue;
      if (cur !== undefined) {
        this.remember(this.retired, retiredKey(cur.name, cur.id), false);
        this.nodeDown(cur, 'replaced', out);
      }
      const entry: NodeEntry = { name: n.name, role: n.role, id: n.id, endpoint: ep.id };
      this.nodesByName.set(n.name, entry);
      out.push(['nodeUp', { ...entry }]);
    }
  }

  private nodeDown(n: NodeEntry, reason: NodeDownReason, out: Pending[]): void {
    this.nodesByName.delete(n.name);
    out.push(['nodeDown', { ...n, reason }]);
  }

  private down(ep: Endpoint, reason: EndpointDownReason, out: Pending[]): void {
    this.eps.delete(ep.id);
    for (const n of ep.nodes) {
      const cur = this.nodesByName.get(n.name);
      if (cur?.id === n.id && cur.endpoint === ep.id) this.nodeDown(cur, 'endpoint_down', out);
    }
    out.push(['endpointDown', { id: ep.id, name: ep.name, reason }]);
  }

  /** Adds to a bounded, insertion-ordered map (the oldest entry leaves when full). */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    if (map.size >= this.maxEndpoints) map.delete(map.keys().next().value!);
    map.set(key, value);
  }

  private expireByes(now: number): void {
    for (const [id, [, until]] of this.byes) {
      if (until > now) break;
      this.byes.delete(id);
    }
  }

  /** Arms the one timer for the endpoint that times out next, unless it is armed for then. */
  private arm(): void {
    const first = this.eps.values().next().value;
    if (first === undefined) {
      if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    const at = first.lastSeen + this.timeout;
    // An armed timer that fires no later than needed is kept: `sweep` re-arms for the rest.
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.timers.setTimeout(() => this.sweep(), Math.max(0, at - this.timers.now()));
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.timers.now();
    const out: Pending[] = [];
    for (const ep of this.eps.values()) {
      if (ep.lastSeen + this.timeout > now) break;
      this.counts.timeouts++;
      this.down(ep, 'timeout', out);
    }
    this.expireByes(now);
    this.arm();
    this.flush(out);
  }

  private flush(out: readonly Pending[]): void {
    for (const [event, payload] of out) (this.events.emit as (e: string, p: unknown) => void)(event, payload);
  }
}
