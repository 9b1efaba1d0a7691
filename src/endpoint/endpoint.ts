/**
 * An Endpoint: a UUID identity and a name, local subscriptions, publishing, peerings with reconnect,
 * connections accepted by a listener, and status events with Broker's codes. Every connection is a
 * `Session` in one registry (`sessions.ts`); native sessions live in the overlay, other protocols
 * (Broker JSON v1) are plug-ins the application registers (`protocol.ts`). Isomorphic: the
 * platform reaches it only through transports.
 */
import { from, isData } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { encodeValue } from '../codec/native/messages.js';
import { makeEvent, type EventOptions } from '../message/builders.js';
import { normalizeFilter } from '../topic/filter.js';
import { CloseCode, type Connector, type Transport } from '../transport/transport.js';
import { websocketConnector } from '../transport/websocket-transport.js';
import { DefaultWebSocket } from '../transport/websocket-default.js';
import { ClosedError, ConfigError, TimeoutError, ValueError } from '../errors.js';
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
import { isInternalTopic } from '../topic/internal.js';
import type { NativeSession } from './native-session.js';
import { NativeLink } from './native-link.js';
import { Overlay, type OverlayConfig, type OverlayStats } from './overlay.js';
import { JSON_PATH, Peering, resolvePeerUrl, type PeerProtocol } from './peering.js';
import type { MessageSource, ProtocolConfig, ProtocolHandler, ProtocolHost, ProtocolPlugin } from './protocol.js';
import { SessionRegistry, type PeerInfo, type Session } from './sessions.js';
import { errorEvent, listenerErrorEvent, statusEvent, type ErrorEvent, type StatusEvent } from './status.js';
import { LocalSubscriptions, type MessageHandler } from './local-subscriptions.js';
import type { AcceptAuth, AuditEvent, Revalidate } from '../auth/types.js';
import { AccessControl, needsAccess, refuseNativeTransport } from './access.js';
import type { TopicGuardRegistration } from './topic-guards.js';
import { backboneSeams, type BackboneLinkApi } from './backbone-seam.js';

export type { PeerInfo } from './sessions.js';

/** A local subscription, returned by `endpoint.subscribe`. */
export interface Subscription {
  /** The subscription's prefixes, normalised. */
  readonly prefixes: readonly string[];
  /** Stops delivering to the handler. Calling it twice is harmless. */
  unsubscribe(): void;
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

/** Internal topics (`<$>/…`, store traffic) reach only subscribers of internal prefixes. */
const isInternal = isInternalTopic;

/** The import that adds Broker JSON v1, for the refusal of a JSON v1 URL without it. */
const JSON_V1_HINT =
  "import { jsonV1 } from 'isobroker/json-v1' and create the endpoint with new Endpoint({ protocols: [jsonV1] })";

/**
 * A Broker endpoint: subscribes and publishes by topic, peers with other endpoints (native
 * protocol; Broker JSON v1 with a Zeek once the `jsonV1` plug-in is registered), reports `status`
 * and `error` events.
 */
export class Endpoint {
  /** This endpoint's id, a lowercase UUID. */
  readonly id: string;
  /** Human-readable name (a cluster node's name). */
  readonly name: string;
  /** Role announced to peers. */
  readonly role: string;
  private readonly opts: ResolvedEndpointOptions;
  private readonly cfg: ProtocolConfig & OverlayConfig;
  /** What a plug-in may do with this endpoint. */
  private readonly protocolHost: ProtocolHost;
  private readonly overlay: Overlay;
  private readonly access: AccessControl;
  private readonly connector: Connector;
  private readonly local = new LocalSubscriptions();
  /** How many subscribers (local ones and every protocol's clients) hold each prefix. */
  private readonly prefixCount = new Map<string, number>();
  /** Our peerings by URL: each kept up (redialled) until `unpeer`. */
  private readonly peerings = new Map<string, Peering>();
  /** Every open connection, of every protocol and direction. */
  private readonly sessions = new SessionRegistry();
  /** The registry's entry of each native session, for the overlay's callbacks. */
  private readonly nativeLinks = new Map<NativeSession, NativeLink>();
  /** Registered protocol plug-ins at work here, by protocol, and the same as a list. */
  private readonly protocols = new Map<PeerProtocol, ProtocolHandler>();
  private handlers: readonly ProtocolHandler[] = [];
  private readonly events: Emitter<EndpointEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  private published = 0;
  private filterDirty = false;
  private filter: readonly string[] = [];
  private closed = false;
  private backboneLink: BackboneLinkApi | undefined;

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
      deliver: (topic, bytes) => this.deliverRelayed(topic, bytes),
      status: (ev) => this.emit('status', ev),
      error: (ev) => this.emit('error', ev),
      established: (s) => this.onEstablished(s),
      closed: (s, _code, reason) => this.onNativeClosed(s, reason),
      access: this.access,
    });
    this.protocolHost = {
      config: this.cfg,
      access: this.access,
      filter: () => {
        this.refreshFilter();
        return this.filter;
      },
      inject: (topic, data, from) => this.inject(topic, data, from),
      addFilter: (prefixes) => this.countPrefixes(prefixes, +1),
      removeFilter: (prefixes) => this.countPrefixes(prefixes, -1),
      opened: (s) => this.sessions.add(s),
      closed: (s) => {
        this.sessions.delete(s);
      },
      status: (ev) => this.emit('status', ev),
      error: (ev) => this.emit('error', ev),
    };
    for (const p of this.opts.protocols) this.use(p);
    backboneSeams.set(this, {
      selfId: this.id,
      selfName: this.name,
      timers: this.opts.timers,
      overlay: this.overlay,
      setLink: (make) => {
        this.assertOpen();
        if (this.backboneLink) throw new ConfigError('backbone', `endpoint ${this.name} already has a backbone`);
        const link = make();
        this.backboneLink = link;
        return link;
      },
      clearLink: (link) => {
        if (this.backboneLink === link) this.backboneLink = undefined;
      },
    });
  }

  // ---- protocol plug-ins

  /**
   * Registers a protocol plug-in (as the `protocols` option does), e.g. `jsonV1` from
   * `isobroker/json-v1`. Registering the same protocol again is harmless; the Node listener
   * calls this for JSON v1 on the endpoints it serves.
   */
  use(plugin: ProtocolPlugin): this {
    this.assertOpen();
    if (plugin === null || typeof plugin !== 'object' || typeof plugin.create !== 'function')
      throw new ConfigError('protocols', 'expected a protocol plug-in such as jsonV1 from isobroker/json-v1');
    if (this.protocols.has(plugin.protocol)) return this;
    const handler = plugin.create(this.protocolHost);
    this.protocols.set(plugin.protocol, handler);
    this.handlers = [...this.protocols.values()];
    return this;
  }

  /** Whether a plug-in for `protocol` is registered (`native` always is). */
  speaks(protocol: PeerProtocol): boolean {
    return protocol === 'native' || this.protocols.has(protocol);
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

  /** Our advertised subscription filter (local subscribers and every protocol's clients), normalised. */
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
    for (const h of this.handlers) h.filterChanged(next);
  }

  // ---- publishing

  /** Publishes a value (Broker data, or a plain JS value converted with `from`) on `topic`. */
  publish(topic: string, value: Data | unknown): void {
    this.assertOpen();
    if (typeof topic !== 'string') throw new ValueError('topic must be a string');
    const data = isData(value) ? value : from(value);
    // A protocol that cannot carry the value (JSON v1 and NaN) refuses it before anything is sent.
    for (const h of this.handlers) h.checkPublish(topic, data);
    this.published++;
    for (const h of this.handlers) h.deliver(topic, data, undefined, 'local');
    this.overlay.publish(topic, () => encodeValue(data));
  }

  /**
   * Publishes a value already encoded in the native format (see `encodeValue`): the bytes travel
   * as they are. Used by services that need the encoded size (stores) or publish one value often.
   */
  publishEncoded(topic: string, valueBytes: Uint8Array): void {
    this.assertOpen();
    this.published++;
    for (const h of this.handlers) h.deliver(topic, undefined, valueBytes, 'local');
    this.overlay.publish(topic, valueBytes);
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
   * A message a plug-in's session received (a JSON v1 client of ours, a JSON v1 server we peer
   * with): local subscribers, every protocol's sessions but `from`, and the native overlay.
   */
  private inject(topic: string, data: Data, from: Session): void {
    this.local.deliver(topic, data, undefined, this.handlerFailed);
    for (const h of this.handlers) h.deliver(topic, data, undefined, from);
    this.overlay.publish(topic, () => encodeValue(data));
  }

  /** A message the native overlay delivers here: local subscribers, then every protocol's clients. */
  private deliverRelayed(topic: string, bytes: Uint8Array): void {
    const decoded = this.local.deliver(topic, undefined, bytes, this.handlerFailed);
    for (const h of this.handlers) h.deliver(topic, decoded, bytes, 'relayed' satisfies MessageSource);
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
      if (!this.speaks(protocol))
        throw new ConfigError(
          'url',
          `'${u}' ends in ${JSON_PATH}, Broker JSON v1, which this endpoint does not speak: ${JSON_V1_HINT}`,
        );
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
    for (const s of this.sessions.ofPeering(p)) s.close(CloseCode.Normal, 'unpeered');
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
    const handler = protocol === 'native' ? undefined : this.protocols.get(protocol);
    if (this.closed || (protocol !== 'native' && handler === undefined)) {
      transport.close(
        this.closed ? CloseCode.GoingAway : CloseCode.PolicyViolation,
        this.closed ? 'endpoint closed' : `protocol ${protocol} not enabled`,
      );
      return;
    }
    const checked = needsAccess(auth) ? auth : undefined;
    if (handler) {
      handler.accept(transport, checked);
      return;
    }
    const refused = checked && this.access.refusal('native', checked, false);
    if (refused) {
      refuseNativeTransport(transport, refused);
      return;
    }
    this.attachNative(transport, undefined, checked ? { auth: checked } : undefined);
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
      this.attachNative(t, p, credential ? { credential } : undefined);
      return;
    }
    const handler = this.protocols.get(p.protocol);
    if (handler) handler.dial(p, t);
    else t.close(CloseCode.PolicyViolation, `protocol ${p.protocol} not enabled`); // peer() refused it already
  }

  /** A native session (dialled for `p`, or accepted) joins the overlay and the registry. */
  private attachNative(t: Transport, p: Peering | undefined, auth: Parameters<Overlay['attach']>[2]): void {
    const s = this.overlay.attach(t, p !== undefined, auth);
    const link = new NativeLink(s, p, this.overlay);
    this.nativeLinks.set(s, link);
    this.sessions.add(link);
  }

  private onEstablished(s: NativeSession): void {
    this.nativeLinks.get(s)?.peering?.up(s.peerId!);
    this.emit('status', statusEvent('peer_added', { id: s.peerId!, name: s.peerName, remote: s.remote }));
  }

  private onNativeClosed(s: NativeSession, reason: string): void {
    const link = this.nativeLinks.get(s);
    this.nativeLinks.delete(s);
    if (link) this.sessions.delete(link);
    const p = link?.peering;
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

  // ---- introspection

  /** Every peering and connection with its status and send-buffer statistics. */
  peers(): PeerInfo[] {
    return this.sessions.peers(this.peerings.values());
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

  // ---- backbone

  /**
   * The attached backbone's link (presence, stats), undefined when none is attached. A backbone
   * is attached with `linkBackbone(endpoint, backbone)`, or from a NATS connection with
   * `attachBackbone` of `isobroker/node`.
   */
  get backbone(): BackboneLinkApi | undefined {
    return this.backboneLink;
  }

  /** Detaches the backbone (a bye on it first); the NATS connection stays the caller's. */
  async detachBackbone(): Promise<void> {
    const link = this.backboneLink;
    this.backboneLink = undefined;
    await link?.detach();
  }

  /** Closes every peering and connection; the endpoint cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const link = this.backboneLink;
    this.backboneLink = undefined;
    for (const p of this.peerings.values()) p.stop();
    this.peerings.clear();
    this.overlay.closeAll(); // every native session says bye; the overlay's timers stop
    for (const s of [...this.sessions]) {
      if (s.protocol !== 'native')
        s.close(s.direction === 'inbound' ? CloseCode.GoingAway : CloseCode.Normal, 'endpoint closed');
    }
    for (const h of this.handlers) h.close();
    await link?.detach();
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`endpoint ${this.name} is closed`);
  }
}
