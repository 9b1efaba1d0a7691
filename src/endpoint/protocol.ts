/**
 * Protocol plug-ins: how a protocol other than the native one (Broker JSON v1, `json-v1/`) joins an
 * endpoint without the endpoint linking it. The application registers a plug-in
 * (`new Endpoint({ protocols: [jsonV1] })`, or `endpoint.use(jsonV1)`; the Node listener does it for
 * the endpoints it serves); the endpoint then hands it the peerings whose URL ends in its `path`
 * and the connections a listener accepted on that path, and shows it every message it sees.
 */
import type { Data } from '../data/types.js';
import type { AcceptAuth } from '../auth/types.js';
import type { Transport } from '../transport/transport.js';
import type { AccessControl } from './access.js';
import type { ResolvedLinks } from './links.js';
import type { SessionConfig } from './native-session.js';
import type { Peering, PeerProtocol } from './peering.js';
import type { Session } from './sessions.js';
import type { ErrorEvent, StatusEvent } from './status.js';

/** The endpoint's settings a plug-in's sessions use. */
export interface ProtocolConfig extends SessionConfig {
  /** Version string for handshakes (JSON v1 acks). */
  readonly version: string;
  /** Options per kind of link (`links.ts`). */
  readonly links: ResolvedLinks;
  /** Most prefixes one client may subscribe to. */
  readonly maxSubscriptions: number;
}

/** What the endpoint offers a plug-in. */
export interface ProtocolHost {
  readonly config: ProtocolConfig;
  /** Authorization of authenticated connections, audit events included (`access.emit`). */
  readonly access: AccessControl;
  /** The endpoint's advertised filter now (local subscribers and every protocol's clients), normalised. */
  filter(): readonly string[];
  /**
   * A message one of the plug-in's sessions received: it goes to local subscribers, into the native
   * overlay and to every plug-in's `deliver` with `from` as its source (`from` must not get it back).
   */
  inject(topic: string, data: Data, from: Session): void;
  /** Counts a client's prefixes into the endpoint's filter. */
  addFilter(prefixes: readonly string[]): void;
  /** Takes back what `addFilter` counted. */
  removeFilter(prefixes: readonly string[]): void;
  /** A session opened: it joins the endpoint's registry (`peers()`, `close()`, `unpeer()`). */
  opened(s: Session): void;
  /** A session closed: it leaves the registry. */
  closed(s: Session): void;
  /** Emits a `status` event. */
  status(ev: StatusEvent): void;
  /** Emits an `error` event. */
  error(ev: ErrorEvent): void;
}

/**
 * Where a message the endpoint hands a plug-in comes from: published by this endpoint (`local`),
 * relayed to us by the native overlay (`relayed`), or received by a plug-in's session.
 */
export type MessageSource = 'local' | 'relayed' | Session;

/** A plug-in at work on one endpoint (what `ProtocolPlugin.create` returns). */
export interface ProtocolHandler {
  /** A peering's transport is connected: start a session on it (the handler reports `up`/`down`). */
  dial(peering: Peering, transport: Transport): void;
  /** Takes over a connection a listener accepted (`auth`: checked, see `Endpoint.accept`; absent: trusted). */
  accept(transport: Transport, auth: AcceptAuth | undefined): void;
  /** A message the endpoint sees (value as data, as native bytes, or both). */
  deliver(topic: string, data: Data | undefined, bytes: Uint8Array | undefined, source: MessageSource): void;
  /** Called before a local publish goes anywhere: throws to refuse a value the protocol cannot carry. */
  checkPublish(topic: string, data: Data): void;
  /** The endpoint's advertised filter changed. */
  filterChanged(filter: readonly string[]): void;
  /** The endpoint closes: end every session. */
  close(): void;
}

/**
 * A protocol plug-in, registered with `new Endpoint({ protocols: [plugin] })` or `endpoint.use(plugin)`.
 * `isobroker/json-v1` exports the one for Broker JSON v1 (`jsonV1`).
 */
export interface ProtocolPlugin {
  /** The protocol's name in `PeerInfo.protocol` and `Endpoint.accept`. */
  readonly protocol: Exclude<PeerProtocol, 'native'>;
  /** Starts the plug-in on one endpoint. */
  create(host: ProtocolHost): ProtocolHandler;
}
