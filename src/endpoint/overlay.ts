/**
 * The native overlay: every native session of an endpoint, leaves and routers, link-state routing
 * among routers, duplicate suppression and forwarding. Data messages are encoded once and the same
 * bytes go to every next hop; a relayed message keeps its value bytes untouched.
 *
 * Two kinds of link (chosen by the dialler in its hello, PROTOCOL.md §8):
 * - **router** links (hubs, cluster nodes) run the link-state protocol: announcements flood, every
 *   router computes shortest paths, messages travel on them;
 * - **leaf** links join a client endpoint to its hub. The hub folds the leaf's subscriptions into
 *   its own interest and tells the leaf only its aggregated interest (coarsened, so that clients
 *   joining rarely change it). A leaf speaks only for itself: its data messages must carry its own
 *   id and are stamped with the hub's id and sequence numbers before they go further, so they never
 *   touch anyone's duplicate suppression; its announcements describe only itself; nothing of it
 *   stays once it left.
 *
 * Everything a peer sends is handled behind its session's boundary (native-session.ts): a rule
 * broken by remote input throws `ProtocolViolation`, which closes that connection and nothing else.
 */
import {
  MessageKind,
  encodeDataMessage,
  encodeMessage,
  encodeRelayedData,
  type AnnounceMessage,
  type DataMessage,
  type NativeMessage,
} from '../codec/native/messages.js';
import type { DecodeError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { Deduplicator } from './dedup.js';
import { MAX_FILTER_PREFIXES, MAX_NEIGHBORS } from './limits.js';
import { sameBytes } from '../util/bytes.js';
import { idFromBytes, idToBytes, randomBytes } from '../util/ids.js';
import {
  InterestTable,
  LEAF_FILTER_BOUNDS,
  LEAF_FILTER_SEGMENTS,
  ROUTER_FILTER_BOUNDS,
  boundFilter,
  coarsenSegments,
  normalizeInterest,
  sameFilter,
} from './interest.js';
import { NativeSession, ProtocolViolation, type SessionConfig, type SessionEvents } from './native-session.js';
import type { SessionAuthOptions } from './native-session.js';
import type { AccessControl } from './access.js';
import { NativeAccess, servedLeafFilter } from './native-access.js';
import { Router, type Announcement, type RouteChanges } from './router.js';
import { errorEvent, statusEvent, type ErrorEvent, type StatusEvent } from './status.js';

/** Highest announcement version accepted (2^50: far from 2^53, far beyond any clock in ms). */
export const MAX_ANNOUNCE_VERSION = 2 ** 50;
/** Largest step of a relayed announcement's version over the known one (~49 days in ms). */
export const MAX_VERSION_STEP = 2 ** 32;
/** Highest data sequence number accepted from a peer (a sender wraps to 0 long before). */
export const MAX_DATA_SEQ = Number.MAX_SAFE_INTEGER - 2 ** 32;
/** Largest forward jump of a relayed origin's sequence number over the last one seen. */
export const MAX_SEQ_STEP = 2 ** 32;
/** Audit events (protocol violations, errors relayed from peers) let through per window. */
const AUDIT_PER_WINDOW = 20;
const AUDIT_WINDOW_MS = 10_000;

export interface OverlayConfig extends SessionConfig {
  readonly ttl: number;
  /** Most prefixes one leaf (or JSON v1 client) may subscribe to; the excess is refused. */
  readonly maxSubscriptions: number;
  /** Aggregated interest updates go out at most once per this many ms (the first at once). */
  readonly interestInterval: number;
  /** How long an unreachable endpoint stays in the routing table as a tombstone, ms. */
  readonly tombstoneTime: number;
}

export interface OverlayHooks {
  /** A data message for local delivery (never one we originated). */
  deliver(topic: string, valueBytes: Uint8Array, origin: string): void;
  status(ev: StatusEvent): void;
  error(ev: ErrorEvent): void;
  /** A native peering is fully up (hello and first announcement exchanged). */
  established(s: NativeSession): void;
  /** A session closed; `wasEstablished` tells whether peer_added had been reported. */
  closed(s: NativeSession, code: number, reason: string, wasEstablished: boolean): void;
  /** Authorization of authenticated connections (the endpoint's). */
  readonly access?: AccessControl;
}

export interface OverlayStats {
  /** Data messages accepted from peers (duplicates not counted). */
  received: number;
  forwarded: number;
  duplicates: number;
  ttlExpired: number;
  badFrames: number;
  /** Messages refused without closing the link (relayed data of an unknown origin, own-id announcements). */
  refused: number;
  /** Connections closed for a protocol violation or a failure their input caused. */
  violations: number;
}

/**
 * The endpoint's message backbone as the overlay sees it (`backbone-link.ts`): one special peer
 * with split horizon. What arrives from it is never sent back to it, nor to a native router peer
 * that is on the same backbone (a member: it got the message from the backbone too); what we
 * send to it does not also go to member router peers natively.
 */
export interface OverlayBackbone {
  /** Whether endpoint `id` is attached to the same backbone (present in its presence). */
  isMember(id: string): boolean;
  /** Whether some other endpoint on the backbone wants `topic` (its presence tells its interest). */
  wants(topic: string): boolean;
  /** Each other endpoint on the backbone, with what it wants. */
  remoteFilters(): Iterable<readonly [string, readonly string[]]>;
  /** Sends one encoded data message on the backbone. */
  send(topic: string, encoded: Uint8Array): void;
  /** What we want from the backbone changed (a bounded, normalised filter). */
  interest(filter: readonly string[]): void;
}

/**
 * What a backbone member adds to the filter it announces to routers: it relays messages of
 * endpoints on the backbone, which no router's table knows. Routers accept relayed messages of
 * origins they do not know while some endpoint announcing this is reachable (PROTOCOL.md §8).
 */
export const BACKBONE_GATEWAY_PREFIX = '<$>/ib/backbone-gateway';

/** An endpoint reachable through the overlay, as `Endpoint.reachable()` lists it. */
export interface ReachableEndpoint {
  readonly id: string;
  readonly name: string;
  readonly filter: readonly string[];
}

export class Overlay {
  readonly router: Router;
  private readonly sessions = new Set<NativeSession>();
  private readonly byPeer = new Map<string, NativeSession>();
  private readonly routerPeers = new Map<string, NativeSession>();
  /** Our leaves (client endpoints) and their subscriptions. */
  private readonly leaves = new InterestTable<NativeSession>(LEAF_FILTER_SEGMENTS);
  /** Our hubs (when we are a leaf) and the interest each told us. */
  private readonly uplinks = new InterestTable<NativeSession>();
  private readonly dedup = new Deduplicator();
  private readonly selfBytes: Uint8Array;
  private version: number;
  private seq: number;
  /** Local subscriptions and JSON v1 clients (from the endpoint), normalised. */
  private localFilter: readonly string[] = [];
  /** What we last advertised to routers, to hubs and to leaves. */
  private routerFilter: readonly string[] = [];
  private uplinkFilter: readonly string[] = [];
  private leafFilter: readonly string[] = [];
  private leafFilterMsg: Uint8Array | undefined;
  /**
   * Leaves outside the shared record: said hello but not announced yet (not in `leaves`), or told
   * a fresher filter than `leafFilter` when they joined. Each flush reaches them too.
   */
  private readonly leavesUnannounced = new Set<NativeSession>();
  private readonly leavesOffRecord = new Set<NativeSession>();
  private dirty = true;
  private interestPending = false;
  private interestTimer: unknown;
  private lastInterestAt = Number.NEGATIVE_INFINITY;
  private gcTimer: unknown;
  private auditWindowStart = 0;
  private auditInWindow = 0;
  private auditSuppressed = 0;
  private closing = false;
  private readonly native: NativeAccess | undefined;
  /** The attached backbone, and the interest we last told it. */
  private backbone: OverlayBackbone | undefined;
  private backboneFilter: readonly string[] | undefined;
  /** Whether some reachable router is a backbone gateway (undefined: compute again). */
  private gatewayKnown: boolean | undefined;
  /** Peers we unpeered ourselves (their close is peer_removed, not peer_lost). */
  private readonly removing = new WeakSet<NativeSession>();
  private readonly sessionEvents: SessionEvents = {
    hello: (x) => this.onHello(x),
    messages: (x, msgs) => this.onMessages(x, msgs),
    badFrame: (x, err) => this.onBadFrame(x, err),
    violation: (x, code, message) => this.onViolation(x, code, message),
    closed: (x, code, reason) => this.onClosed(x, code, reason),
  };
  readonly counters: OverlayStats = {
    received: 0,
    forwarded: 0,
    duplicates: 0,
    ttlExpired: 0,
    badFrames: 0,
    refused: 0,
    violations: 0,
  };

  constructor(
    private readonly cfg: OverlayConfig,
    private readonly hooks: OverlayHooks,
  ) {
    this.router = new Router(cfg.selfId, () => cfg.timers.now());
    this.selfBytes = idToBytes(cfg.selfId);
    // Versions and sequence numbers start somewhere new on every start, so that peers who still
    // remember an earlier run of an endpoint with the same id do not take us for old news.
    this.version = cfg.timers.now();
    const r = randomBytes(4);
    this.seq = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 1;
    this.router.setSelf(this.selfAnnouncement());
    const report = (s: NativeSession, code: string, context: string): void =>
      this.audit(errorEvent(code, this.ref(s), context));
    this.native = hooks.access && new NativeAccess(hooks.access, report);
  }

  /** Takes over a connected transport speaking the native protocol (`auth`: see `SessionAuthOptions`). */
  attach(transport: Transport, initiator: boolean, auth?: SessionAuthOptions): NativeSession {
    const s = new NativeSession(transport, initiator, this.cfg, this.sessionEvents, auth);
    this.sessions.add(s);
    return s;
  }

  /** Native peers past their hello (routers, leaves and hubs). */
  peers(): NativeSession[] {
    return [...this.byPeer.values()];
  }

  session(peerId: string): NativeSession | undefined {
    return this.byPeer.get(peerId);
  }

  /** Number of leaves connected to us. */
  get leafCount(): number {
    return this.leaves.size;
  }

  /** Closes a session as our own decision (reported as peer_removed). */
  remove(s: NativeSession): void {
    this.removing.add(s);
    s.bye();
  }

  closeAll(): void {
    this.closing = true;
    for (const s of [...this.sessions]) this.remove(s);
    if (this.interestTimer !== undefined) this.cfg.timers.clearTimeout(this.interestTimer);
    if (this.gcTimer !== undefined) this.cfg.timers.clearTimeout(this.gcTimer);
    this.interestTimer = this.gcTimer = undefined;
  }

  /** Attaches (or, with undefined, detaches) the endpoint's backbone. */
  setBackbone(b: OverlayBackbone | undefined): void {
    this.backbone = b;
    this.backboneFilter = undefined;
    this.markDirty();
  }

  /** The backbone's membership changed: what we want from it is computed again. */
  backboneMembersChanged(): void {
    if (this.backbone) this.markDirty();
  }

  /**
   * A data message that arrived on the backbone: duplicate filter, local delivery, and on to our
   * leaves, our hubs and the router peers that are not on the backbone (never back to it).
   */
  receiveBackbone(m: DataMessage, origin: string): void {
    if (origin === this.cfg.selfId) return;
    if (m.seq > MAX_DATA_SEQ) {
      this.counters.refused++;
      return;
    }
    this.acceptRelayed(undefined, m, origin);
  }

  /** An origin that left the backbone: its duplicate window goes. */
  forgetOrigin(origin: string): void {
    if (!this.router.isReachable(origin)) this.dedup.forget(origin);
  }

  /** Reports a backbone frame that could not be decoded (rate-limited, like a peer's). */
  backboneBadFrame(context: string): void {
    this.counters.badFrames++;
    this.audit(errorEvent('deserialization_failed', { remote: 'backbone' }, context));
  }

  /** Sets our own subscription filter (local subscribers and JSON v1 clients, normalised). */
  setFilter(filter: readonly string[]): void {
    if (sameFilter(filter, this.localFilter)) return;
    this.localFilter = filter;
    this.markDirty();
  }

  /**
   * Sends a message we originate (or inject for a JSON v1 client) into the overlay. The value may
   * be given as a function, called only when some peer wants the topic (publishing into the void
   * encodes nothing).
   */
  publish(topic: string, value: Uint8Array | (() => Uint8Array)): void {
    const hops = this.router.routes(topic);
    const leaves = this.leaves.size > 0 ? this.leaves.match(topic) : NONE;
    const ups = this.uplinks.size > 0 ? this.uplinks.match(topic) : NONE;
    const bb = this.backbone;
    const toBackbone = bb?.wants(topic) === true;
    if (hops.length === 0 && leaves.length === 0 && ups.length === 0 && !toBackbone) return;
    const valueBytes = typeof value === 'function' ? value() : value;
    const encoded = encodeDataMessage(topic, this.selfBytes, this.nextSeq(), this.cfg.ttl, valueBytes);
    for (const hop of hops) if (bb === undefined || !bb.isMember(hop)) this.routerPeers.get(hop)?.sendData(encoded);
    for (const s of leaves) if (!s.access?.filtered || s.access.mayReceive(topic, valueBytes)) s.sendData(encoded);
    for (const s of ups) s.sendData(encoded);
    if (toBackbone) bb!.send(topic, encoded);
  }

  /** True when some peer (router, leaf, hub, or an endpoint on the backbone) wants `topic`. */
  hasRoute(topic: string): boolean {
    return (
      this.backbone?.wants(topic) === true ||
      this.router.routes(topic).length > 0 ||
      (this.leaves.size > 0 && this.leaves.match(topic).length > 0) ||
      (this.uplinks.size > 0 && this.uplinks.match(topic).length > 0)
    );
  }

  /** Reachable routers, our leaves and our hubs, with the filters we route by. */
  reachable(): ReachableEndpoint[] {
    const out: ReachableEndpoint[] = this.router
      .reachableEndpoints()
      .map((a) => ({ id: a.origin, name: a.name, filter: a.filter }));
    for (const table of [this.leaves, this.uplinks]) {
      for (const s of table.keys()) out.push({ id: s.peerId!, name: s.peerName, filter: table.filterOf(s) ?? [] });
    }
    return out;
  }

  private nextSeq(): number {
    this.seq = this.seq >= MAX_DATA_SEQ ? 0 : this.seq + 1;
    return this.seq;
  }

  private selfAnnouncement(): Announcement {
    return {
      origin: this.cfg.selfId,
      version: this.version,
      name: this.cfg.selfName,
      filter: this.routerFilter,
      neighbors: [...this.routerPeers.keys()],
    };
  }

  // ---- aggregated interest

  private markDirty(): void {
    this.dirty = true;
    this.scheduleInterest();
  }

  /** Sends pending interest updates now (the endpoint's `flushSubscriptions`). */
  flushAnnouncement(): void {
    if (this.interestPending) this.flushInterest();
  }

  private scheduleInterest(): void {
    if (this.interestPending || this.closing) return;
    this.interestPending = true;
    const wait = this.lastInterestAt + this.cfg.interestInterval - this.cfg.timers.now();
    if (wait <= 0) queueMicrotask(() => this.flushInterest());
    else this.interestTimer = this.cfg.timers.setTimeout(() => this.flushInterest(), wait);
  }

  /**
   * Recomputes what we advertise on each kind of link and sends what changed: to routers our
   * announcement (local interest and our leaves'), to hubs the same plus what our routers want,
   * to leaves everything we route (coarsened).
   */
  private flushInterest(): void {
    if (!this.interestPending) return;
    this.interestPending = false;
    if (this.interestTimer !== undefined) this.cfg.timers.clearTimeout(this.interestTimer);
    this.interestTimer = undefined;
    if (!this.dirty || this.closing) return;
    this.dirty = false;
    this.lastInterestAt = this.cfg.timers.now();
    // Leaves' prefixes are cut after a few segments (per-client topics fold into one prefix), so
    // that clients joining and leaving rarely change what routers hear.
    const local = [...this.localFilter, ...this.leaves.coarseUnion()];
    if (this.backbone) this.flushBackboneInterest(local);
    // A backbone member asks its native peers for what the endpoints on the backbone want too,
    // and tells them it is a gateway.
    const own = this.backbone ? [...local, ...this.backboneUnion(), BACKBONE_GATEWAY_PREFIX] : local;
    const toRouters = boundFilter(own, ROUTER_FILTER_BOUNDS);
    if (!sameFilter(toRouters, this.routerFilter)) {
      this.routerFilter = toRouters;
      this.announceNow();
    }
    const anyLeaf = this.leaves.size > 0 || this.leavesUnannounced.size > 0;
    if (this.uplinks.size === 0 && !anyLeaf) return;
    const routed: string[] = [];
    for (const a of this.router.reachableEndpoints()) routed.push(...a.filter);
    if (this.uplinks.size > 0) {
      const toHubs = boundFilter([...own, ...routed], ROUTER_FILTER_BOUNDS);
      if (!sameFilter(toHubs, this.uplinkFilter)) {
        this.uplinkFilter = toHubs;
        const msg = this.interestMessage(toHubs);
        for (const s of this.uplinks.keys()) s.sendControlEncoded(msg);
      }
    }
    if (anyLeaf) {
      const toLeaves = this.computeLeafFilter(own, routed);
      if (!sameFilter(toLeaves, this.leafFilter)) {
        this.leafFilter = toLeaves;
        this.leafFilterMsg = this.interestMessage(toLeaves);
        for (const s of this.leaves.keys()) s.sendControlEncoded(this.leafFilterMsg);
        for (const s of this.leavesUnannounced) s.sendControlEncoded(this.leafFilterMsg);
      } else if (this.leavesOffRecord.size > 0) {
        this.leafFilterMsg ??= this.interestMessage(this.leafFilter);
        for (const s of this.leavesOffRecord) s.sendControlEncoded(this.leafFilterMsg);
      }
      this.leavesOffRecord.clear();
    }
  }

  /**
   * What we want from the backbone: our own interest and our leaves', our hubs', and that of every
   * router we reach that is not on the backbone itself (we carry its traffic to it).
   */
  private flushBackboneInterest(own: readonly string[]): void {
    const bb = this.backbone!;
    const wanted = [...own, ...this.uplinks.union()];
    for (const a of this.router.reachableEndpoints()) if (!bb.isMember(a.origin)) wanted.push(...a.filter);
    const filter = boundFilter(wanted, ROUTER_FILTER_BOUNDS);
    if (this.backboneFilter !== undefined && sameFilter(filter, this.backboneFilter)) return;
    this.backboneFilter = filter;
    bb.interest(filter);
  }

  /**
   * What the endpoints on the backbone want, to ask our native peers for — except those we reach
   * natively: they announce their own interest on the overlay, and echoing it back to them would
   * make them look as if they wanted their own topics (a store master's, say).
   */
  private backboneUnion(): string[] {
    const out: string[] = [];
    if (!this.backbone) return out;
    for (const [id, filter] of this.backbone.remoteFilters()) if (!this.router.isReachable(id)) out.push(...filter);
    return out;
  }

  /** What leaves should hear now, computed from scratch. */
  private freshLeafFilter(): string[] {
    return this.computeLeafFilter(
      [...this.localFilter, ...this.leaves.coarseUnion(), ...this.backboneUnion()],
      this.router.reachableEndpoints().flatMap((a) => a.filter),
    );
  }

  private computeLeafFilter(own: readonly string[], routed: readonly string[]): string[] {
    const all = [...own, ...routed, ...this.uplinks.union()];
    return boundFilter(coarsenSegments(all, LEAF_FILTER_SEGMENTS), LEAF_FILTER_BOUNDS);
  }

  /** What we tell a hub or a leaf: an announcement of ourselves with no neighbours. */
  private interestMessage(filter: readonly string[]): Uint8Array {
    this.version = Math.max(this.version + 1, this.cfg.timers.now());
    return encodeMessage({
      kind: MessageKind.Announce,
      origin: this.selfBytes,
      version: this.version,
      name: this.cfg.selfName,
      filter: [...filter],
      neighbors: [],
    });
  }

  /** Our announcement to every router peer (after a change of our filter or our router peers). */
  private announceNow(): void {
    this.version = Math.max(this.version + 1, this.cfg.timers.now());
    const a = this.selfAnnouncement();
    this.report(this.router.setSelf(a));
    if (this.routerPeers.size === 0) return;
    const msg = encodeMessage(toWire(a));
    for (const s of this.routerPeers.values()) s.sendControlEncoded(msg);
  }

  // ---- sessions

  private onHello(s: NativeSession): string | undefined | Promise<string | undefined> {
    if (s.authOptions.auth && this.native) return this.native.hello(s).then((r) => r ?? this.admit(s));
    return this.admit(s);
  }

  private admit(s: NativeSession): string | undefined {
    const id = s.peerId!;
    if (id === this.cfg.selfId) {
      s.fail('peer_invalid', 'connected to itself');
      return 'peer_invalid';
    }
    const existing = this.byPeer.get(id);
    if (existing && existing !== s) {
      // Both dialled by the same side: the dialler gave up on the old one (e.g. it went
      // half-open), so the new one wins. Dialled by both sides at once: keep the connection
      // dialled by the endpoint with the smaller id; both sides agree.
      const initiatorOf = (x: NativeSession): string => (x.initiator ? this.cfg.selfId : id);
      const sameDialler = initiatorOf(s) === initiatorOf(existing);
      if (sameDialler || initiatorOf(s) < initiatorOf(existing)) {
        this.removing.add(existing);
        this.forget(existing);
        existing.bye('redundant_connection', `replaced by a connection dialled by ${initiatorOf(s)}`);
      } else {
        this.removing.add(s);
        s.bye('redundant_connection', `already peered with ${id} (${existing.remote})`);
        return 'redundant_connection';
      }
    }
    this.byPeer.set(id, s);
    switch (s.kind) {
      case 'router':
        this.routerPeers.set(id, s);
        // Tell the new router every live endpoint we know, then everyone our new neighbour set.
        for (const a of this.router.live()) if (a.origin !== this.cfg.selfId) s.sendControl(toWire(a));
        this.announceNow();
        break;
      case 'leaf':
        // A new leaf hears what we route; it joins the leaf table with its first announcement.
        this.leavesUnannounced.add(s);
        if (!this.dirty && this.leafFilterMsg !== undefined) {
          s.sendControlEncoded(this.leafFilterMsg);
          break;
        }
        {
          // The record may be stale: the newcomer gets a fresh filter off the record, and the
          // next flush sends every leaf what changed (the newcomer again if it differs).
          const fresh = this.freshLeafFilter();
          s.sendControlEncoded(this.interestMessage(fresh));
          if (!sameFilter(fresh, this.leafFilter)) {
            this.leavesOffRecord.add(s);
            this.markDirty();
          } else this.leafFilterMsg ??= this.interestMessage(this.leafFilter);
        }
        break;
      case 'hub':
        this.flushInterest();
        this.uplinkFilter = boundFilter(
          [
            ...this.localFilter,
            ...this.leaves.union(),
            ...this.router.reachableEndpoints().flatMap((a) => a.filter),
            ...this.backboneUnion(),
          ],
          ROUTER_FILTER_BOUNDS,
        );
        s.sendControlEncoded(this.interestMessage(this.uplinkFilter));
        break;
    }
    return undefined;
  }

  private onMessages(s: NativeSession, msgs: NativeMessage[]): void {
    let lastOrigin: Uint8Array | undefined;
    let lastOriginId = '';
    for (const m of msgs) {
      if (s.isClosed) return;
      switch (m.kind) {
        case MessageKind.Data: {
          if (lastOrigin === undefined || !sameBytes(lastOrigin, m.origin)) {
            lastOrigin = m.origin;
            lastOriginId = idFromBytes(m.origin);
          }
          this.onData(s, m, lastOriginId);
          break;
        }
        case MessageKind.Announce:
          if (s.kind === 'router') this.onRouterAnnounce(s, m);
          else this.onInterest(s, m);
          break;
        case MessageKind.Error:
          this.native?.message(s, m);
          this.audit(errorEvent(m.code, this.ref(s), m.context));
          break;
        case MessageKind.Bye:
          s.close(1000, m.code);
          return;
        default:
          if (this.native?.message(s, m)) break;
          s.sendControl({
            kind: MessageKind.Error,
            code: 'unexpected_message',
            context: `message kind ${m.kind} is not handled by this endpoint`,
          });
      }
    }
  }

  private onData(s: NativeSession, m: DataMessage, origin: string): void {
    if (m.seq > MAX_DATA_SEQ) {
      throw new ProtocolViolation('peer_invalid', `data message with sequence number ${m.seq}, above ${MAX_DATA_SEQ}`);
    }
    if (s.kind === 'leaf') {
      // A leaf speaks only for itself; what it sends goes on as ours, under our sequence numbers.
      if (origin !== s.peerId) {
        throw new ProtocolViolation(
          'peer_invalid',
          `data message of origin ${origin} from leaf ${s.peerId}: a leaf can only publish as itself`,
        );
      }
      if (s.access && !s.access.mayPublish(m.topic, () => m.valueBytes)) return;
      this.counters.received++;
      // A subscription change the leaf made before this message goes out first (a request
      // published next must find its answer routed back).
      this.flushAnnouncement();
      this.hooks.deliver(m.topic, m.valueBytes, origin);
      if (m.ttl <= 1) {
        this.counters.ttlExpired++;
        return;
      }
      this.forward(s, m, this.selfBytes, this.cfg.selfId, -1, Math.min(m.ttl, this.cfg.ttl) - 1);
      return;
    }
    if (origin === this.cfg.selfId) return;
    if (s.kind === 'router' && origin !== s.peerId) {
      // Relayed by a router: only for an origin the routing table knows (or, behind a backbone
      // gateway, an endpoint on the backbone), and within bounds.
      if (!this.router.isReachable(origin) && !this.gatewayReachable()) {
        this.counters.refused++;
        return;
      }
      const ahead = this.dedup.ahead(origin, m.seq);
      if (ahead > MAX_SEQ_STEP) {
        throw new ProtocolViolation(
          'peer_invalid',
          `relayed data message of origin ${origin} jumps ${ahead} sequence numbers ahead (limit ${MAX_SEQ_STEP})`,
        );
      }
    }
    this.acceptRelayed(s, m, origin);
  }

  /**
   * A message of someone else's origin, from a router (`from`) or the backbone (undefined): once
   * (duplicate filter), delivered here, and sent on while its TTL lasts.
   */
  private acceptRelayed(from: NativeSession | undefined, m: DataMessage, origin: string): void {
    if (!this.dedup.accept(origin, m.seq)) {
      this.counters.duplicates++;
      return;
    }
    this.counters.received++;
    this.hooks.deliver(m.topic, m.valueBytes, origin);
    if (m.ttl <= 1) {
      this.counters.ttlExpired++;
      return;
    }
    this.forward(from, m, m.origin, origin, m.seq, m.ttl - 1);
  }

  /**
   * Sends a received message on: to the next router hops (never back, never to its origin), to
   * our leaves that want it and to our hubs (as ours: a hub takes from a leaf only its own
   * messages). `seq` −1: a leaf's message, stamped with our next sequence number. The message is
   * encoded once, when the first peer wants it, by copying the bytes it arrived as (only origin,
   * seq and TTL are written anew), and every peer queues those same bytes.
   */
  private forward(
    from: NativeSession | undefined,
    m: DataMessage,
    originBytes: Uint8Array,
    origin: string,
    seq: number,
    ttl: number,
  ): void {
    const topic = m.topic;
    let encoded: Uint8Array | undefined;
    const hops = this.router.routes(topic);
    const bb = this.backbone;
    for (let i = 0; i < hops.length; i++) {
      const hop = hops[i]!;
      if (hop === from?.peerId || hop === origin) continue;
      if (bb?.isMember(hop)) continue;
      const target = this.routerPeers.get(hop);
      if (!target) continue;
      if (encoded === undefined) {
        if (seq < 0) seq = this.nextSeq();
        encoded = encodeRelayedData(m, originBytes, seq, ttl);
      }
      target.sendData(encoded);
      this.counters.forwarded++;
    }
    if (this.leaves.size > 0) {
      const leaves = this.leaves.match(topic);
      for (let i = 0; i < leaves.length; i++) {
        const leaf = leaves[i]!;
        if (leaf === from || leaf.peerId === origin) continue;
        if (leaf.access?.filtered && !leaf.access.mayReceive(topic, m.valueBytes)) continue;
        if (encoded === undefined) {
          if (seq < 0) seq = this.nextSeq();
          encoded = encodeRelayedData(m, originBytes, seq, ttl);
        }
        leaf.sendData(encoded);
        this.counters.forwarded++;
      }
    }
    if (this.uplinks.size > 0) {
      let ours: Uint8Array | undefined;
      for (const hub of this.uplinks.match(topic)) {
        if (hub === from) continue;
        if (origin === this.cfg.selfId) {
          if (encoded === undefined) {
            if (seq < 0) seq = this.nextSeq();
            encoded = encodeRelayedData(m, originBytes, seq, ttl);
          }
          hub.sendData(encoded);
        } else hub.sendData((ours ??= encodeRelayedData(m, this.selfBytes, this.nextSeq(), ttl)));
        this.counters.forwarded++;
      }
    }
    // Split horizon: what came from the backbone, or from a peer on it, is not sent to it again.
    if (
      bb !== undefined &&
      from !== undefined &&
      !(from.peerId !== undefined && bb.isMember(from.peerId)) &&
      bb.wants(topic)
    ) {
      if (encoded === undefined) {
        if (seq < 0) seq = this.nextSeq();
        encoded = encodeRelayedData(m, originBytes, seq, ttl);
      }
      bb.send(topic, encoded);
      this.counters.forwarded++;
    }
  }

  /** An announcement from a leaf (its subscriptions) or from our hub (its interest). */
  private onInterest(s: NativeSession, m: AnnounceMessage): void {
    const origin = idFromBytes(m.origin);
    if (origin !== s.peerId) {
      throw new ProtocolViolation(
        'peer_invalid',
        `announcement of ${origin} on a ${s.kind} link from ${s.peerId}: only routers speak for others`,
      );
    }
    if (m.filter.length > MAX_FILTER_PREFIXES) {
      throw new ProtocolViolation(
        'filter_too_large',
        `announcement of ${m.name} has ${m.filter.length} prefixes; the limit is ${MAX_FILTER_PREFIXES}`,
      );
    }
    let filter = normalizeInterest(m.filter);
    if (s.kind === 'leaf') {
      filter = servedLeafFilter(s, filter, this.cfg.maxSubscriptions, this.native);
      // Bounded in bytes too: a few huge prefixes are cut (a superset, filtered at delivery).
      filter = boundFilter(filter, LEAF_FILTER_BOUNDS);
      this.leaves.set(s, filter);
      this.leavesUnannounced.delete(s);
      if (this.leaves.unionChanged) {
        this.leaves.unionChanged = false;
        this.markDirty();
      }
    } else {
      this.uplinks.set(s, filter);
      if (this.uplinks.unionChanged) {
        this.uplinks.unionChanged = false;
        if (this.leaves.size > 0 || this.leavesUnannounced.size > 0) this.markDirty();
      }
    }
    if (!s.established && this.byPeer.get(origin) === s) {
      s.established = true;
      this.hooks.established(s);
      this.hooks.status(statusEvent('endpoint_discovered', { id: origin, name: s.peerName }));
    }
  }

  private onRouterAnnounce(s: NativeSession, m: AnnounceMessage): void {
    if (m.filter.length > MAX_FILTER_PREFIXES || m.neighbors.length > MAX_NEIGHBORS) {
      throw new ProtocolViolation(
        'filter_too_large',
        `announcement of ${m.name} has ${m.filter.length} prefixes and ${m.neighbors.length} neighbours; the limits are ${MAX_FILTER_PREFIXES} and ${MAX_NEIGHBORS}`,
      );
    }
    if (m.version > MAX_ANNOUNCE_VERSION) {
      throw new ProtocolViolation(
        'peer_invalid',
        `announcement with version ${m.version}, above the limit of ${MAX_ANNOUNCE_VERSION}`,
      );
    }
    const a = fromWire(m);
    if (a.origin === this.cfg.selfId) {
      // Nobody speaks for us: an announcement of ourselves (a stale copy or a forgery) is ignored.
      this.counters.refused++;
      return;
    }
    const firstHand = a.origin === s.peerId;
    if (!firstHand) {
      // What a direct peer says of itself is authoritative; others' copies of it are old news.
      if (this.byPeer.has(a.origin)) return;
      const known = this.router.get(a.origin);
      if (known && a.version > known.version + MAX_VERSION_STEP) {
        throw new ProtocolViolation(
          'peer_invalid',
          `announcement of ${a.origin} jumps from version ${known.version} to ${a.version} (step limit ${MAX_VERSION_STEP})`,
        );
      }
    }
    const changes = this.router.apply(a, firstHand);
    if (changes) {
      const encoded = encodeMessage(m);
      for (const other of this.routerPeers.values()) if (other !== s) other.sendControlEncoded(encoded);
      this.report(changes);
      if (this.leaves.size > 0 || this.uplinks.size > 0 || this.backbone) this.markDirty();
    }
    if (
      !s.established &&
      firstHand &&
      a.neighbors.includes(this.cfg.selfId) &&
      this.byPeer.get(a.origin) === s &&
      this.router.get(a.origin) !== undefined
    ) {
      s.established = true;
      this.hooks.established(s);
    }
  }

  private onBadFrame(s: NativeSession, err: DecodeError): void {
    this.counters.badFrames++;
    this.audit(errorEvent('deserialization_failed', this.ref(s), err.message));
  }

  private onViolation(s: NativeSession, code: string, message: string): void {
    this.counters.violations++;
    this.audit(errorEvent(code, this.ref(s), `closing the connection: ${message}`));
  }

  /** Reports an event caused by a peer, at most AUDIT_PER_WINDOW per window (with a count of the rest). */
  private audit(ev: ErrorEvent): void {
    const now = this.cfg.timers.now();
    if (now - this.auditWindowStart >= AUDIT_WINDOW_MS) {
      this.auditWindowStart = now;
      this.auditInWindow = 0;
    }
    if (this.auditInWindow >= AUDIT_PER_WINDOW) {
      this.auditSuppressed++;
      return;
    }
    this.auditInWindow++;
    if (this.auditSuppressed > 0) {
      const n = this.auditSuppressed;
      this.auditSuppressed = 0;
      this.hooks.error({ ...ev, context: `${ev.context ?? ''} (${n} similar events not reported)`.trim() });
      return;
    }
    this.hooks.error(ev);
  }

  /** Drops a session's state (its link is going away). */
  private forget(s: NativeSession): void {
    this.leaves.delete(s);
    this.leavesUnannounced.delete(s);
    this.leavesOffRecord.delete(s);
    this.uplinks.delete(s);
    if (this.leaves.unionChanged || this.uplinks.unionChanged) {
      this.leaves.unionChanged = this.uplinks.unionChanged = false;
      this.markDirty();
    }
    if (this.leaves.size === 0) this.leafFilterMsg = undefined;
    const id = s.peerId;
    if (id !== undefined && this.routerPeers.get(id) === s) {
      this.routerPeers.delete(id);
      if (!this.closing) this.announceNow();
    }
  }

  private onClosed(s: NativeSession, code: number, reason: string): void {
    this.sessions.delete(s);
    s.access?.closed_();
    const wasEstablished = s.established;
    this.forget(s);
    if (s.peerId !== undefined && this.byPeer.get(s.peerId) === s) {
      this.byPeer.delete(s.peerId);
      if (wasEstablished) {
        this.hooks.status(statusEvent(this.removing.has(s) ? 'peer_removed' : 'peer_lost', this.ref(s)));
        if (s.kind !== 'router') {
          this.dedup.forget(s.peerId);
          this.hooks.status(statusEvent('endpoint_unreachable', { id: s.peerId, name: s.peerName }));
        }
      }
    }
    this.hooks.closed(s, code, reason, wasEstablished);
  }

  private report(changes: RouteChanges): void {
    this.gatewayKnown = undefined;
    for (const a of changes.discovered)
      this.hooks.status(statusEvent('endpoint_discovered', { id: a.origin, name: a.name }));
    for (const a of changes.unreachable) {
      this.dedup.forget(a.origin);
      this.hooks.status(statusEvent('endpoint_unreachable', { id: a.origin, name: a.name }));
    }
    if (this.router.tombstoneCount > 0) this.armGc();
  }

  /** Whether some reachable router announces itself as a backbone gateway. */
  private gatewayReachable(): boolean {
    if (this.gatewayKnown === undefined) {
      this.gatewayKnown = this.router
        .reachableEndpoints()
        .some((a) => a.filter.some((p) => BACKBONE_GATEWAY_PREFIX.startsWith(p) && p.startsWith('<$>/')));
    }
    return this.gatewayKnown;
  }

  /** Collects tombstones once they are older than `tombstoneTime`. */
  private armGc(): void {
    if (this.gcTimer !== undefined || this.closing) return;
    this.gcTimer = this.cfg.timers.setTimeout(() => {
      this.gcTimer = undefined;
      if (this.router.collect(this.cfg.tombstoneTime) > 0) this.armGc();
    }, this.cfg.tombstoneTime);
  }

  private ref(s: NativeSession): { id?: string; name?: string; remote: string } {
    return { ...(s.peerId ? { id: s.peerId } : {}), ...(s.peerName ? { name: s.peerName } : {}), remote: s.remote };
  }
}

const NONE: readonly NativeSession[] = Object.freeze([]);

function toWire(a: Announcement): AnnounceMessage {
  return {
    kind: MessageKind.Announce,
    origin: idToBytes(a.origin),
    version: a.version,
    name: a.name,
    filter: [...a.filter],
    neighbors: a.neighbors.map(idToBytes),
  };
}

function fromWire(m: AnnounceMessage): Announcement {
  return {
    origin: idFromBytes(m.origin),
    version: m.version,
    name: m.name,
    filter: m.filter,
    neighbors: m.neighbors.map(idFromBytes),
  };
}
