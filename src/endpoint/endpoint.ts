/**
 * An Endpoint: a UUID identity and a name, local subscriptions, publishing, peerings (native or
 * Broker JSON v1, chosen by URL), JSON v1 clients accepted by a listener, and status events with
 * Broker's codes. Isomorphic: the platform reaches it only through transports.
 */
import { from, isData } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { decodeValue, encodeValue } from '../codec/native/messages.js';
import { makeEvent, type EventOptions } from '../message/builders.js';
import { normalizeFilter } from '../topic/filter.js';
import type { Connector, Transport } from '../transport/transport.js';
import { websocketConnector } from '../transport/websocket-transport.js';
import { DefaultWebSocket } from '../transport/websocket-default.js';
import { ClosedError, TimeoutError, ValueError } from '../errors.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import {
  resolveEndpointOptions,
  resolvePeerOptions,
  resolveWhenRoutableOptions,
  type EndpointOptions,
  type PeerCredentialOptions,
  type PeerOptions,
  type ResolvedEndpointOptions,
  type WhenRoutableOptions,
} from './endpoint-options.js';
import { JsonClientSession } from './json-v1/client-session.js';
import { ACCEPTED_VALUE_LIMITS, type ResolvedLinks } from './links.js';
import { assertJsonClientEncodable } from '../codec/json-v1/encode.js';
import { JsonClients } from './json-v1/clients.js';
import { isInternalTopic } from '../topic/internal.js';
import type { JsonServerSession } from './json-v1/server-session.js';
import type { NativeSession, SessionKind } from './native-session.js';
import { Overlay, type OverlayConfig, type OverlayStats } from './overlay.js';
import { Peering, resolvePeerUrl, type PeerProtocol, type PeeringState } from './peering.js';
import type { SendQueueStats } from './send-queue.js';
import { errorEvent, listenerErrorEvent, statusEvent, type ErrorEvent, type StatusEvent } from './status.js';
import { LocalSubscriptions, type MessageHandler } from './local-subscriptions.js';
import type { AcceptAuth, AuditEvent, Revalidate } from '../auth/types.js';
import { AccessControl, needsAccess, subscriptionLimit } from './access.js';
import type { TopicGuardRegistration } from './topic-guards.js';
import { acceptJsonClient } from './json-v1/access.js';

/** A local subscription, returned by `endpoint.subscribe`. */
export interface Subscription {
  /** The subscription's prefixes, normalised. */
  readonly prefixes: readonly string[];
  /** Stops delivering to the handler. Calling it twice is harmless. */
  unsubscribe(): void;
}

/** One peering or connection of an endpoint, as `endpoint.peers()` lists it. */
export interface PeerInfo {
  /** Peer endpoint id once the handshake succeeded. */
  readonly id?: string;
  readonly name?: string;
  readonly role?: string;
  /** URL we dial (outbound) or the remote address (inbound). */
  readonly url: string;
  readonly protocol: PeerProtocol;
  readonly direction: 'outbound' | 'inbound';
  readonly status: PeeringState;
  readonly stats?: SendQueueStats;
  /** Native links past their hello: what the link is to us (`router`, our `leaf`, or our `hub`). */
  readonly link?: SessionKind;
}

/**
 * The events of an endpoint, listened to with `endpoint.on(event, listener)`.
 *
 * `error` is the endpoint's one channel for asynchronous failures — those that belong to no call
 * the application made: a peer that cannot be reached (`peer_unavailable`), malformed input or a
 * protocol violation from a peer (`deserialization_failed`, `peer_invalid`, …), a full send buffer
 * (`buffer_overflow`), a subscriber that threw (`handler_failed`, the topic in `context`), a
 * `status` listener that threw (`listener_failed`). Every event carries a `code`, a `message`,
 * and where known the `peer`, a `context` and the thrown `cause`. Failures of a call are reported
 * by the call instead: a synchronous call throws an `IsobrokerError`, a call that returns a
 * promise rejects with one. Nothing is printed and no listener can crash the process or the
 * endpoint: an exception from an `error` listener itself is dropped.
 */
export interface EndpointEvents {
  /** A peering or reachability change (Broker's status codes). */
  status: StatusEvent;
  /** An asynchronous failure (see above). */
  error: ErrorEvent;
  /**
   * A security-relevant event of an authenticated connection (auth, denials, limits, takeovers),
   * or one the listener reported with `reportAudit`. Never holds a credential or message body.
   */
  audit: AuditEvent;
}

/** Internal topics (`<$>/…`, store traffic) reach only subscribers of internal prefixes, never
 * JSON v1 clients, and JSON v1 clients may not publish to them. */
const isInternal = isInternalTopic;

/**
 * A Broker endpoint: subscribes and publishes by topic, peers with other endpoints (native
 * protocol, or Broker JSON v1 with a Zeek), reports `status` and `error` events.
 */
export class Endpoint {
  /** This endpoint's id, a lowercase UUID. */
  readonly id: string;
  /** Human-readable name (a cluster node's name). */
  readonly name: string;
  /** Role announced to peers. */
  readonly role: string;
  private readonly opts: ResolvedEndpointOptions;
  private readonly cfg: OverlayConfig & {
    readonly version: string;
    readonly links: ResolvedLinks;
  };
  private readonly overlay: Overlay;
  private readonly access: AccessControl;
  private readonly connector: Connector;
  private readonly local = new LocalSubscriptions();
  private readonly clients = new JsonClients();
  private readonly prefixCount = new Map<string, number>();
  private readonly peerings = new Map<string, Peering>();
  private readonly sessionPeering = new Map<NativeSession | JsonClientSession, Peering>();
  private readonly jsonServers = new Set<JsonClientSession>();
  private readonly resubscribing = new WeakSet<JsonClientSession>();
  private readonly events: Emitter<EndpointEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  private published = 0;
  private filterDirty = false;
  private filter: readonly string[] = [];
  private closed = false;

  constructor(options: EndpointOptions = {}) {
    this.opts = resolveEndpointOptions(options);
    this.id = this.opts.id;
    this.name = this.opts.name;
    this.role = this.opts.role;
    this.cfg = {
      selfId: this.id,
      selfName: this.name,
      selfRole: this.role,
      sendBufferSize: this.opts.sendBufferSize,
      overflowPolicy: this.opts.overflowPolicy,
      highWaterMark: this.opts.highWaterMark,
      maxBatch: this.opts.maxBatch,
      pingInterval: this.opts.pingInterval,
      pingTimeout: this.opts.pingTimeout,
      timers: this.opts.timers,
      ttl: this.opts.ttl,
      version: this.opts.version,
      links: this.opts.links,
      linkKind: this.opts.linkKind,
      acceptRouters: this.opts.acceptRouters,
      maxSubscriptions: this.opts.maxSubscriptions,
      interestInterval: this.opts.interestInterval,
      tombstoneTime: this.opts.tombstoneTime,
    };
    this.connector = this.opts.connector ?? websocketConnector(this.opts.WebSocket ?? DefaultWebSocket);
    this.access = new AccessControl(this.opts.timers, (ev) => this.emit('audit', ev));
    this.overlay = new Overlay(this.cfg, {
      deliver: (topic, bytes) => this.deliver(topic, undefined, bytes, undefined),
      status: (ev) => this.emit('status', ev),
      error: (ev) => this.emit('error', ev),
      established: (s) => this.onEstablished(s),
      closed: (s, _code, reason) => this.onNativeClosed(s, reason),
      access: this.access,
    });
  }

  // ---- events

  /**
   * Listens to `status` or `error` events (see `EndpointEvents`); returns a function that stops
   * listening. A listener that throws is reported as a `listener_failed` error event.
   */
  on<K extends keyof EndpointEvents>(event: K, fn: (ev: EndpointEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  private emit<K extends keyof EndpointEvents>(event: K, ev: EndpointEvents[K]): void {
    this.events.emit(event, ev);
  }

  // ---- subscriptions

  /** Calls `handler` for every message whose topic starts with one of `prefixes`. */
  subscribe(prefixes: string | readonly string[], handler: MessageHandler): Subscription {
    this.assertOpen();
    const list = normalizeFilter(typeof prefixes === 'string' ? [prefixes] : prefixes);
    const handles = this.local.add(list, handler);
    this.countPrefixes(list, +1);
    let active = true;
    return {
      prefixes: list,
      unsubscribe: () => {
        if (!active || this.closed) return;
        active = false;
        this.local.remove(handles);
        this.countPrefixes(list, -1);
      },
    };
  }

  /** Our advertised subscription filter (local subscribers and JSON v1 clients), normalised. */
  subscriptions(): readonly string[] {
    this.refreshFilter();
    return this.filter;
  }

  private countPrefixes(list: readonly string[], delta: number): void {
    for (const p of list) {
      const n = (this.prefixCount.get(p) ?? 0) + delta;
      if (n <= 0) this.prefixCount.delete(p);
      else this.prefixCount.set(p, n);
    }
    if (this.filterDirty) return;
    this.filterDirty = true;
    queueMicrotask(() => this.refreshFilter());
  }

  private refreshFilter(): void {
    if (!this.filterDirty) return;
    this.filterDirty = false;
    // Internal prefixes are normalised apart, so that they stay visible in the announced filter
    // (a master's topic shows even when the endpoint also subscribes to everything).
    const all = [...this.prefixCount.keys()];
    const next = [...normalizeFilter(all.filter((p) => !isInternal(p))), ...normalizeFilter(all.filter(isInternal))];
    if (next.length === this.filter.length && next.every((p, i) => p === this.filter[i])) return;
    this.filter = next;
    this.overlay.setFilter(next);
    // JSON v1 fixes subscriptions in the handshake: reconnect with the new list.
    for (const s of this.jsonServers) {
      this.resubscribing.add(s);
      s.close(1000, 'resubscribe');
    }
  }

  // ---- publishing

  /** Publishes a value (Broker data, or a plain JS value converted with `from`) on `topic`. */
  publish(topic: string, value: Data | unknown): void {
    this.assertOpen();
    if (typeof topic !== 'string') throw new ValueError('topic must be a string');
    const data = isData(value) ? value : from(value);
    // JSON v1 servers cannot take NaN or ±Infinity: fail before anything is sent anywhere.
    if (this.jsonServers.size > 0 && !isInternal(topic)) assertJsonClientEncodable(data);
    this.published++;
    this.inject(topic, data, undefined, undefined);
  }

  /**
   * Publishes a value already encoded in the native format (see `encodeValue`): the bytes travel
   * as they are. Used by services that need the encoded size (stores) or publish one value often.
   */
  publishEncoded(topic: string, valueBytes: Uint8Array): void {
    this.assertOpen();
    this.published++;
    if (this.clients.size > 0) this.deliverClients(topic, undefined, undefined, valueBytes);
    this.overlay.publish(topic, valueBytes);
    if (this.jsonServers.size > 0 && !isInternal(topic)) {
      const data = decodeValue(valueBytes, ACCEPTED_VALUE_LIMITS);
      for (const s of this.jsonServers) if (s.established) s.publish(topic, data);
    }
  }

  /**
   * Announces subscription changes now instead of at the end of the turn, so that a message sent
   * next (e.g. a request whose answer comes back on the new subscription) travels behind the
   * announcement on every link.
   */
  flushSubscriptions(): void {
    if (this.closed) return;
    this.refreshFilter();
    this.overlay.flushAnnouncement();
  }

  /** Publishes a Zeek event `name(args…)` on `topic`. */
  publishEvent(topic: string, name: string, args: Iterable<unknown> = [], opts?: EventOptions): void {
    this.publish(topic, makeEvent(name, args, opts));
  }

  /**
   * Sends a message into the network on behalf of this endpoint, a JSON v1 client of ours
   * (`fromClient`, which does not get it back) or a JSON v1 server we peer with (`fromServer`).
   */
  private inject(
    topic: string,
    data: Data,
    fromClient: JsonServerSession | undefined,
    fromServer: JsonClientSession | undefined,
  ): void {
    if (fromClient || fromServer) this.deliverLocal(topic, data, undefined);
    this.deliverClients(topic, data, fromClient);
    this.overlay.publish(topic, () => encodeValue(data));
    if (isInternal(topic)) return;
    for (const s of this.jsonServers) if (s !== fromServer && s.established) s.publish(topic, data);
  }

  private deliver(
    topic: string,
    data: Data | undefined,
    bytes: Uint8Array,
    exclude: JsonServerSession | undefined,
  ): void {
    const decoded = this.deliverLocal(topic, data, bytes);
    this.deliverClients(topic, decoded, exclude, bytes);
  }

  /** Calls matching local handlers; returns the decoded value if it had to decode it. */
  private deliverLocal(topic: string, data: Data | undefined, bytes: Uint8Array | undefined): Data | undefined {
    return this.local.deliver(topic, data, bytes, this.handlerFailed);
  }

  private readonly handlerFailed = (topic: string, err: unknown): void => {
    this.emit(
      'error',
      errorEvent(
        'handler_failed',
        undefined,
        `subscriber of '${topic}' threw: ${err instanceof Error ? err.message : String(err)}`,
        err,
      ),
    );
  };

  private deliverClients(
    topic: string,
    data: Data | undefined,
    exclude: JsonServerSession | undefined,
    bytes?: Uint8Array,
  ): void {
    this.clients.deliver(topic, data, bytes, exclude);
  }

  // ---- peering

  /**
   * Peers with the endpoint at `url` and keeps the peering up (reconnecting with backoff after a
   * drop) until `unpeer`. `ws://host:port` speaks the native protocol; a URL ending in
   * `/v1/messages/json` speaks Broker JSON v1 (a Zeek or any Broker WebSocket server).
   * Resolves once the first handshake succeeded; rejects with a `ValueError` for a URL that is
   * not `ws://` or `wss://`, a `ConfigError` for invalid options, a `ClosedError` when the endpoint
   * is closed or the peering is removed, and an `IsobrokerError` coded `peer_unavailable` when
   * `retry` is 0 and the peer cannot be reached.
   */
  peer(url: string, options?: PeerOptions): Promise<void> {
    let u: string;
    let protocol: PeerProtocol;
    let retry: number;
    let connector: Connector | undefined;
    let credentials: PeerCredentialOptions | undefined;
    try {
      this.assertOpen();
      ({ url: u, protocol } = resolvePeerUrl(url));
      ({ retry, connector, credentials } = resolvePeerOptions(options, this.opts.retry, this.connector));
    } catch (err) {
      return Promise.reject(err);
    }
    const existing = this.peerings.get(u);
    if (existing) return existing.whenUp();
    const p = new Peering(u, protocol, retry, this.opts.maxRetry, {
      connector: connector ?? this.connector,
      timers: this.opts.timers,
      ...(credentials ? { credentials } : {}),
      open: (peering, t) => this.openPeering(peering, t),
      unavailable: (peering, err) =>
        this.emit(
          'error',
          errorEvent('peer_unavailable', { remote: peering.url }, err instanceof Error ? err.message : String(err)),
        ),
    });
    this.peerings.set(u, p);
    const up = p.whenUp();
    p.start();
    return up;
  }

  /** Ends the peering with `url` (reported as peer_removed); rejects with a `ValueError` for a URL that is not `ws://` or `wss://`. */
  async unpeer(url: string): Promise<void> {
    const { url: u } = resolvePeerUrl(url);
    const p = this.peerings.get(u);
    if (!p) return;
    this.peerings.delete(u);
    p.stop();
    for (const [s, q] of this.sessionPeering) {
      if (q !== p) continue;
      if (s instanceof JsonClientSession) s.close(1000, 'unpeered');
      else this.overlay.remove(s);
    }
  }

  /** Redials every peering that waits for its next retry (e.g. when a browser comes back online). */
  reconnectNow(): void {
    for (const p of this.peerings.values()) p.retryNow();
  }

  /**
   * Takes over a connection accepted by a listener. Without `auth` the connection is trusted. With
   * it, the connection runs as `auth.principal`, or (native) as the principal `auth.authenticate`
   * makes of the hello's credential; `auth.error`, or a JSON v1 connection without a principal, is
   * refused (JSON v1: an error message and close 1008; native: an Error and close 4401/4403).
   */
  accept(transport: Transport, protocol: PeerProtocol, auth?: AcceptAuth): void {
    if (this.closed) {
      transport.close(1001, 'endpoint closed');
      return;
    }
    const checked = needsAccess(auth) ? auth : undefined;
    if (checked && this.access.refusedAtOnce(transport, protocol, checked)) return;
    if (protocol === 'native') {
      this.overlay.attach(transport, false, checked ? { auth: checked } : undefined);
      return;
    }
    acceptJsonClient(transport, this.cfg, this.access, checked, {
      subscribed: (x, filter) => this.addClient(x, filter),
      publish: (x, topic, data) => this.inject(topic, data, x, undefined),
      closed: (x) => this.removeClient(x),
      error: (ev) => this.emit('error', ev),
    });
  }

  /**
   * Re-checks every authenticated connection (after a policy reload or a revocation): an
   * `AuthError` closes the connection within the call (native 4401/4403, JSON v1 an error and
   * 1008); a new principal replaces the old one — with a changed subscribe grant the connection
   * is closed with 4403 (JSON v1 1008) and context `permissions_changed`, its queued messages
   * dropped, so that it reconnects under the new grant.
   */
  revalidate(check: Revalidate): void {
    this.access.revalidate(check);
  }

  /**
   * Guards internal topics under `prefix` (e.g. `<$>/store/`): messages a non-trusted principal
   * publishes there go through `guard.publish`, subscriptions there through `guard.subscribe`
   * (absent: refused). Internal topics without a guard are closed to non-trusted principals.
   */
  addTopicGuard(prefix: string, guard: TopicGuardRegistration): Unsubscribe {
    return this.access.guards.add(prefix, guard);
  }

  /** Emits an audit event on behalf of the listener (origin or host rejected, …). */
  reportAudit(ev: AuditEvent): void {
    this.access.emit(ev);
  }

  private openPeering(p: Peering, t: Transport): void {
    if (p.protocol === 'native') {
      // The token goes in the hello and is refreshed in band (`Reauth`) when the hub warns.
      const credential = p.tokens;
      this.sessionPeering.set(this.overlay.attach(t, true, credential ? { credential } : undefined), p);
      return;
    }
    this.refreshFilter();
    const s = new JsonClientSession(t, this.filter, this.cfg, {
      acked: (x) => {
        this.jsonServers.add(x);
        p.up(x.peerId!);
        this.emit('status', statusEvent('peer_added', { id: x.peerId!, remote: p.url }));
      },
      message: (x, topic, data) => this.inject(topic, data, undefined, x),
      serverError: (x, code, context) =>
        this.emit('error', errorEvent(code, { remote: x.remote, ...(x.peerId ? { id: x.peerId } : {}) }, context)),
      closed: (x) => {
        this.sessionPeering.delete(x);
        const was = this.jsonServers.delete(x);
        if (this.resubscribing.has(x)) {
          p.state = 'reconnecting';
          p.retryNow();
          return;
        }
        if (was)
          this.emit(
            'status',
            statusEvent(p.state === 'stopped' ? 'peer_removed' : 'peer_lost', { id: x.peerId!, remote: p.url }),
          );
        p.down();
      },
    });
    this.sessionPeering.set(s, p);
  }

  private onEstablished(s: NativeSession): void {
    this.sessionPeering.get(s)?.up(s.peerId!);
    this.emit('status', statusEvent('peer_added', { id: s.peerId!, name: s.peerName, remote: s.remote }));
  }

  private onNativeClosed(s: NativeSession, reason: string): void {
    const p = this.sessionPeering.get(s);
    this.sessionPeering.delete(s);
    if (p) {
      if (!s.established && p.state === 'connecting') {
        this.emit('error', errorEvent('peer_unavailable', { remote: p.url }, reason || 'closed during the handshake'));
      }
      if (s.peerId) p.peerId = s.peerId;
      p.down({ redundant: reason === 'redundant_connection' });
    }
    // A peering that stood by for this peer's other connection takes over now.
    if (s.established && s.peerId) {
      for (const q of this.peerings.values()) if (q.state === 'standby' && q.peerId === s.peerId) q.retryNow();
    }
  }

  private addClient(s: JsonServerSession, filter: readonly string[]): void {
    let list = normalizeFilter(filter);
    const max = subscriptionLimit(this.opts.maxSubscriptions, s.access);
    if (list.length > max) {
      // The handshake's prefixes count against the same limit as a native leaf's.
      s.reject(
        `subscription_limit: ${list.length} prefixes subscribed, the limit per connection is ${max}: the last ${list.length - max} are not served`,
      );
      list = list.slice(0, max);
    }
    this.countPrefixes(this.clients.add(s, list), +1);
  }

  private removeClient(s: JsonServerSession): void {
    this.countPrefixes(this.clients.remove(s), -1);
  }

  // ---- introspection

  /** Every peering and connection with its status and send-buffer statistics. */
  peers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    const seen = new Set<unknown>();
    for (const s of this.overlay.peers()) {
      const p = this.sessionPeering.get(s);
      if (p) seen.add(p);
      out.push({
        id: s.peerId!,
        name: s.peerName,
        role: s.peerRole,
        url: p?.url ?? s.remote,
        protocol: 'native',
        direction: p ? 'outbound' : 'inbound',
        status: s.established ? 'connected' : 'connecting',
        stats: s.stats(),
        ...(s.kind ? { link: s.kind } : {}),
      });
    }
    for (const s of this.jsonServers) {
      const p = this.sessionPeering.get(s);
      if (p) seen.add(p);
      out.push({
        id: s.peerId!,
        url: s.remote,
        protocol: 'json',
        direction: 'outbound',
        status: 'connected',
        stats: s.stats(),
      });
    }
    for (const c of this.clients.sessions()) {
      out.push({ url: c.remote, protocol: 'json', direction: 'inbound', status: 'connected', stats: c.stats() });
    }
    for (const p of this.peerings.values()) {
      if (seen.has(p)) continue;
      out.push({
        ...(p.peerId ? { id: p.peerId } : {}),
        url: p.url,
        protocol: p.protocol,
        direction: 'outbound',
        status: p.state,
      });
    }
    return out;
  }

  /** Message counters: published here, received from peers, forwarded, dropped as duplicates, … */
  stats(): OverlayStats & { published: number } {
    return { published: this.published, ...this.overlay.counters };
  }

  /**
   * Other endpoints reachable through the native overlay, with the filters we route by: routers
   * (their announced filters), our leaves (their subscriptions) and our hubs (the interest they
   * advertise to us, possibly coarsened).
   */
  reachable(): { id: string; name: string; filter: readonly string[] }[] {
    return this.overlay.reachable();
  }

  /** Routing table size (routers known, tombstones included) and the number of our leaves. */
  routing(): { endpoints: number; tombstones: number; leaves: number } {
    const r = this.overlay.router;
    return { endpoints: r.size - 1, tombstones: r.tombstoneCount, leaves: this.overlay.leafCount };
  }

  /** True when some other endpoint subscribed to `topic` is reachable. */
  hasRoute(topic: string): boolean {
    return this.overlay.hasRoute(topic);
  }

  /** Resolves once some other endpoint subscribed to `topic` is reachable; rejects with a `TimeoutError` after `timeoutMs`. */
  whenRoutable(topic: string, options?: WhenRoutableOptions): Promise<void> {
    let timeout: number;
    try {
      ({ timeoutMs: timeout } = resolveWhenRoutableOptions(options));
    } catch (err) {
      return Promise.reject(err);
    }
    const start = this.opts.timers.now();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.hasRoute(topic)) resolve();
        else if (this.opts.timers.now() - start >= timeout)
          reject(new TimeoutError(`no subscriber of '${topic}' reachable after ${timeout} ms`));
        else this.opts.timers.setTimeout(check, 10);
      };
      check();
    });
  }

  /** Closes every peering and connection; the endpoint cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peerings.values()) p.stop();
    this.peerings.clear();
    this.overlay.closeAll();
    for (const s of this.sessionPeering.keys()) if (s instanceof JsonClientSession) s.close(1000, 'endpoint closed');
    for (const c of this.clients.sessions()) c.close(1001, 'endpoint closed');
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`endpoint ${this.name} is closed`);
  }
}
