/**
 * The native overlay: every native session of an endpoint, link-state routing, duplicate
 * suppression and forwarding. Data messages are encoded once and the same bytes go to every next
 * hop; a relayed message keeps its value bytes untouched (only the TTL in its header changes).
 */
import {
  MessageKind,
  encodeDataMessage,
  encodeMessage,
  type AnnounceMessage,
  type DataMessage,
  type NativeMessage,
} from '../codec/native-messages.js';
import type { DecodeError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { Deduplicator } from './dedup.js';
import { MAX_FILTER_PREFIXES, MAX_NEIGHBORS } from './limits.js';
import { idFromBytes, idToBytes, randomBytes } from './endpoint-id.js';
import { NativeSession, type SessionConfig } from './native-session.js';
import { Router, type Announcement, type RouteChanges } from './router.js';
import { errorEvent, statusEvent, type ErrorEvent, type StatusEvent } from './status.js';

export interface OverlayHooks {
  /** A data message for local delivery (never one we originated). */
  deliver(topic: string, valueBytes: Uint8Array, origin: string): void;
  status(ev: StatusEvent): void;
  error(ev: ErrorEvent): void;
  /** A native peering is fully up (hello and first announcement exchanged). */
  established(s: NativeSession): void;
  /** A session closed; `wasEstablished` tells whether peer_added had been reported. */
  closed(s: NativeSession, code: number, reason: string, wasEstablished: boolean): void;
}

export interface OverlayStats {
  /** Data messages accepted from peers (duplicates not counted). */
  received: number;
  forwarded: number;
  duplicates: number;
  ttlExpired: number;
  badFrames: number;
}

export class Overlay {
  readonly router: Router;
  private readonly sessions = new Set<NativeSession>();
  private readonly byPeer = new Map<string, NativeSession>();
  private readonly dedup = new Deduplicator();
  private readonly selfBytes: Uint8Array;
  private version: number;
  private filter: readonly string[] = [];
  private seq: number;
  private announceScheduled = false;
  /** Peers we unpeered ourselves (their close is peer_removed, not peer_lost). */
  private readonly removing = new WeakSet<NativeSession>();
  readonly counters: OverlayStats = { received: 0, forwarded: 0, duplicates: 0, ttlExpired: 0, badFrames: 0 };

  constructor(
    private readonly cfg: SessionConfig & { readonly ttl: number },
    private readonly hooks: OverlayHooks,
  ) {
    this.router = new Router(cfg.selfId);
    this.selfBytes = idToBytes(cfg.selfId);
    // Versions and sequence numbers start somewhere new on every start, so that peers who still
    // remember an earlier run of an endpoint with the same id do not take us for old news.
    this.version = cfg.timers.now();
    const r = randomBytes(4);
    this.seq = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 1;
    this.router.setSelf(this.selfAnnouncement());
  }

  /** Takes over a connected transport speaking the native protocol. */
  attach(transport: Transport, initiator: boolean): NativeSession {
    const s = new NativeSession(transport, initiator, this.cfg, {
      hello: (x) => this.onHello(x),
      messages: (x, msgs) => this.onMessages(x, msgs),
      badFrame: (x, err) => this.onBadFrame(x, err),
      closed: (x, code, reason) => this.onClosed(x, code, reason),
    });
    this.sessions.add(s);
    return s;
  }

  /** Established native peers. */
  peers(): NativeSession[] {
    return [...this.byPeer.values()];
  }

  session(peerId: string): NativeSession | undefined {
    return this.byPeer.get(peerId);
  }

  /** Closes a session as our own decision (reported as peer_removed). */
  remove(s: NativeSession): void {
    this.removing.add(s);
    s.bye();
  }

  closeAll(): void {
    for (const s of [...this.sessions]) this.remove(s);
  }

  /** Sets our subscription filter (already normalised); announces it when it changed. */
  setFilter(filter: readonly string[]): void {
    if (filter.length === this.filter.length && filter.every((p, i) => p === this.filter[i])) return;
    this.filter = filter;
    this.scheduleAnnounce();
  }

  /**
   * Sends a message we originate (or inject for a client) into the overlay. The value may be
   * given as a function, called only when some peer wants the topic (publishing into the void
   * encodes nothing).
   */
  publish(topic: string, value: Uint8Array | (() => Uint8Array)): void {
    const hops = this.router.routes(topic);
    if (hops.length === 0) return;
    const valueBytes = typeof value === 'function' ? value() : value;
    const encoded = encodeDataMessage(topic, this.selfBytes, this.nextSeq(), this.cfg.ttl, valueBytes);
    for (const hop of hops) this.byPeer.get(hop)?.sendData(encoded);
  }

  private nextSeq(): number {
    this.seq = this.seq >= Number.MAX_SAFE_INTEGER ? 0 : this.seq + 1;
    return this.seq;
  }

  private selfAnnouncement(): Announcement {
    return {
      origin: this.cfg.selfId,
      version: this.version,
      name: this.cfg.selfName,
      filter: this.filter,
      neighbors: [...this.byPeer.keys()],
    };
  }

  /** Sends a pending announcement now. */
  flushAnnouncement(): void {
    if (!this.announceScheduled) return;
    this.announceScheduled = false;
    this.announceNow();
  }

  private scheduleAnnounce(): void {
    if (this.announceScheduled) return;
    this.announceScheduled = true;
    queueMicrotask(() => {
      if (!this.announceScheduled) return;
      this.announceScheduled = false;
      this.announceNow();
    });
  }

  private announceNow(): void {
    this.version = Math.max(this.version + 1, this.cfg.timers.now());
    const a = this.selfAnnouncement();
    this.report(this.router.setSelf(a));
    const msg = encodeMessage(toWire(a));
    for (const s of this.byPeer.values()) s.sendControlEncoded(msg);
  }

  private onHello(s: NativeSession): string | undefined {
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
        existing.bye('redundant_connection', `replaced by a connection dialled by ${initiatorOf(s)}`);
      } else {
        this.removing.add(s);
        s.bye('redundant_connection', `already peered with ${id} (${existing.remote})`);
        return 'redundant_connection';
      }
    }
    this.byPeer.set(id, s);
    // Tell the new peer everything we know, then everyone our new neighbour set.
    for (const a of this.router.all()) if (a.origin !== this.cfg.selfId) s.sendControl(toWire(a));
    this.announceNow();
    return undefined;
  }

  private onMessages(s: NativeSession, msgs: NativeMessage[]): void {
    let lastOrigin: Uint8Array | undefined;
    let lastOriginId = '';
    for (const m of msgs) {
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
          this.onAnnounce(s, m);
          break;
        case MessageKind.Error:
          this.hooks.error(errorEvent(m.code, this.ref(s), m.context));
          break;
        case MessageKind.Bye:
          s.close(1000, m.code);
          return;
        default:
          s.sendControl({
            kind: MessageKind.Error,
            code: 'unexpected_message',
            context: `message kind ${m.kind} is not handled by this endpoint`,
          });
      }
    }
  }

  private onData(s: NativeSession, m: DataMessage, origin: string): void {
    if (origin === this.cfg.selfId) return;
    if (!this.dedup.accept(origin, m.seq)) {
      this.counters.duplicates++;
      return;
    }
    this.counters.received++;
    this.hooks.deliver(m.topic, m.valueBytes, origin);
    const hops = this.router.routes(m.topic);
    if (hops.length === 0) return;
    if (m.ttl <= 1) {
      this.counters.ttlExpired++;
      return;
    }
    let encoded: Uint8Array | undefined;
    for (const hop of hops) {
      if (hop === s.peerId || hop === origin) continue;
      const target = this.byPeer.get(hop);
      if (!target) continue;
      const bytes = (encoded ??= encodeDataMessage(m.topic, m.origin, m.seq, m.ttl - 1, m.valueBytes));
      target.sendData(bytes);
      this.counters.forwarded++;
    }
  }

  private onAnnounce(s: NativeSession, m: AnnounceMessage): void {
    if (m.filter.length > MAX_FILTER_PREFIXES || m.neighbors.length > MAX_NEIGHBORS) {
      s.fail(
        'filter_too_large',
        `announcement of ${m.name} has ${m.filter.length} prefixes and ${m.neighbors.length} neighbours; the limits are ${MAX_FILTER_PREFIXES} and ${MAX_NEIGHBORS}`,
      );
      return;
    }
    const a = fromWire(m);
    if (a.origin === this.cfg.selfId) {
      // An older run of ourselves is still remembered with a newer version: jump past it.
      if (a.version >= this.version) {
        this.version = a.version;
        this.scheduleAnnounce();
      }
      return;
    }
    const changes = this.router.apply(a);
    if (changes) {
      const encoded = encodeMessage(m);
      for (const other of this.byPeer.values()) if (other !== s) other.sendControlEncoded(encoded);
      this.report(changes);
    }
    if (
      !s.established &&
      a.origin === s.peerId &&
      a.neighbors.includes(this.cfg.selfId) &&
      this.byPeer.get(a.origin) === s
    ) {
      s.established = true;
      this.hooks.established(s);
    }
  }

  private onBadFrame(s: NativeSession, err: DecodeError): void {
    this.counters.badFrames++;
    this.hooks.error(errorEvent('deserialization_failed', this.ref(s), err.message));
  }

  private onClosed(s: NativeSession, code: number, reason: string): void {
    this.sessions.delete(s);
    const wasEstablished = s.established;
    if (s.peerId !== undefined && this.byPeer.get(s.peerId) === s) {
      this.byPeer.delete(s.peerId);
      this.announceNow();
      if (wasEstablished) {
        this.hooks.status(statusEvent(this.removing.has(s) ? 'peer_removed' : 'peer_lost', this.ref(s)));
      }
    }
    this.hooks.closed(s, code, reason, wasEstablished);
  }

  private report(changes: RouteChanges): void {
    for (const a of changes.discovered)
      this.hooks.status(statusEvent('endpoint_discovered', { id: a.origin, name: a.name }));
    for (const a of changes.unreachable) {
      this.dedup.forget(a.origin);
      this.hooks.status(statusEvent('endpoint_unreachable', { id: a.origin, name: a.name }));
    }
  }

  private ref(s: NativeSession): { id?: string; name?: string; remote: string } {
    return { ...(s.peerId ? { id: s.peerId } : {}), ...(s.peerName ? { name: s.peerName } : {}), remote: s.remote };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
