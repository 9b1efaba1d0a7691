/** Endpoint, peer and `whenRoutable` options: their defaults and their one resolver each. */
import type { Connector } from '../transport/transport.js';
import type { WebSocketConstructor } from '../transport/websocket-transport.js';
import { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES, type OverflowPolicy } from './send-queue.js';
import { systemTimers, type Timers } from './timers.js';
import { isEndpointId, newEndpointId } from './endpoint-id.js';
import { ConfigError } from '../errors.js';
import { resolveLinks, type LinksOptions, type ResolvedLinks } from './json-links.js';
import { LINK_KINDS, type LinkKind } from '../codec/native-kinds.js';
import {
  boolOption,
  checkOptionsObject,
  fnOption,
  intOption,
  numberOption,
  oneOfOption,
  objectOption,
  stringOption,
} from '../util/options.js';

/** Options of `new Endpoint(options)`. Every field is optional; an invalid one throws a `ConfigError`. */
export interface EndpointOptions {
  /** Human-readable name (cluster node name). @default `endpoint-<first 8 hex digits of id>` */
  readonly name?: string;
  /** Endpoint id, a lowercase UUID. @default a random version-4 UUID */
  readonly id?: string;
  /** Role announced in the hello (`manager`, `worker`, `hub`, `browser`, …). @default 'endpoint' */
  readonly role?: string;
  /** WebSocket constructor for outgoing peerings. @default isomorphic-ws (ws in Node, the browser's own) */
  readonly WebSocket?: WebSocketConstructor;
  /** Opens client transports; overrides `WebSocket` (tests use memory transports). @default a WebSocket connector */
  readonly connector?: Connector;
  /** Per-peer send buffer, in messages, 1 or more. @default DEFAULT_SEND_BUFFER_SIZE (8192, Broker's) */
  readonly sendBufferSize?: number;
  /** What a full send buffer does, one of `OVERFLOW_POLICIES`. @default 'drop_oldest' */
  readonly overflowPolicy?: OverflowPolicy;
  /** Bytes buffered in a transport above which it counts as congested; 0 or more. @default DEFAULT_HIGH_WATER_MARK (4 MiB) */
  readonly highWaterMark?: number;
  /** Most messages coalesced into one native frame, 1 or more. @default DEFAULT_MAX_BATCH (1024) */
  readonly maxBatch?: number;
  /** Hop limit of published messages, 1 to 255. @default DEFAULT_TTL (20, Broker's default TTL) */
  readonly ttl?: number;
  /** First reconnect delay in ms, more than 0. @default DEFAULT_RETRY_MS (1000, Broker's default retry) */
  readonly retry?: number;
  /** Largest reconnect delay in ms, more than 0. @default DEFAULT_MAX_RETRY_MS (30000) */
  readonly maxRetry?: number;
  /** Keepalive ping interval in ms; 0 disables. @default DEFAULT_PING_INTERVAL_MS (5000) */
  readonly pingInterval?: number;
  /** A peer silent this long (ms) is dropped; 0 disables. @default DEFAULT_PING_TIMEOUT_MS (15000) */
  readonly pingTimeout?: number;
  /** Version string reported to JSON v1 clients in acks. @default `isobroker-<ISOBROKER_VERSION>` */
  readonly version?: string;
  /** Clock and timers. @default the system's */
  readonly timers?: Timers;
  /**
   * Send buffer, overflow policy and input size limits per kind of link: `peers` (native, hub to
   * hub; 64 MiB messages and strings), `jsonServers` (our JSON v1 peerings with a Zeek; 64 MiB,
   * and `stringEscapes`), `jsonClients` (JSON v1 clients of our listener; Broker's 512-message
   * buffer with policy `disconnect`, 16 MiB messages, 4 MiB strings). See `json-links.ts`.
   * @default DEFAULT_LINKS (peers and jsonServers inherit `sendBufferSize` and `overflowPolicy`;
   * jsonClients inherit them only when they are set explicitly)
   */
  readonly links?: LinksOptions;
  /**
   * The kind of native link this endpoint asks for when it dials (PROTOCOL.md §8): `router`
   * (hubs and cluster nodes: link-state routing, forwarding for others) or `leaf` (a client of the
   * hub it dials: the hub folds its subscriptions into its own; browsers, applications, `pipe`).
   * @default 'router' for the roles in ROUTER_ROLES (manager, logger, proxy, worker, hub), else 'leaf'
   */
  readonly linkKind?: LinkKind;
  /** Whether peers that dial us may ask for router links; leaf links are always accepted. @default true */
  readonly acceptRouters?: boolean;
  /**
   * Most topic prefixes one leaf or JSON v1 client may subscribe to (after normalisation); the
   * excess is refused with a `subscription_limit` error. 1 or more. @default DEFAULT_MAX_SUBSCRIPTIONS (1024)
   */
  readonly maxSubscriptions?: number;
  /**
   * Aggregated interest updates (what a hub advertises to its routers and leaves) go out at most
   * once per this many ms; the first change after a quiet period goes out at once. 0 or more.
   * @default DEFAULT_INTEREST_INTERVAL_MS (50)
   */
  readonly interestInterval?: number;
  /**
   * How long an endpoint that became unreachable stays in the routing table as a tombstone
   * before it is removed, ms, more than 0. @default DEFAULT_TOMBSTONE_TIME_MS (60000)
   */
  readonly tombstoneTime?: number;
}

/** Options of `endpoint.peer(url, options)`. */
export interface PeerOptions {
  /** First reconnect delay in ms; 0 gives up after the first failure. @default the endpoint's `retry` */
  readonly retry?: number;
  /**
   * Opens this peering's transports instead of the endpoint's connector. `peer()` from
   * `isobroker/node` sets one for TLS options (`wss://` with a CA, client certificate, anonymous TLS).
   * @default the endpoint's connector
   */
  readonly connector?: Connector;
}

/** Options of `endpoint.whenRoutable(topic, options)`. */
export interface WhenRoutableOptions {
  /** Give up (reject with a `TimeoutError`) after this many ms, 0 or more. @default DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS (10000) */
  readonly timeoutMs?: number;
}

/** Broker's default hop limit of a published message. */
export const DEFAULT_TTL = 20;
/** Broker's default first reconnect delay, ms. */
export const DEFAULT_RETRY_MS = 1000;
/** Largest reconnect delay, ms. */
export const DEFAULT_MAX_RETRY_MS = 30_000;
/** Keepalive ping interval, ms. */
export const DEFAULT_PING_INTERVAL_MS = 5000;
/** Silence after which a peer is dropped, ms. */
export const DEFAULT_PING_TIMEOUT_MS = 15_000;
/** Transport backlog (bytes) above which a peer counts as congested. */
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Most messages per native frame. */
export const DEFAULT_MAX_BATCH = 1024;
/** Roles whose endpoints dial as routers by default; every other role dials as a leaf. */
export const ROUTER_ROLES: readonly string[] = Object.freeze(['manager', 'logger', 'proxy', 'worker', 'hub']);
/** Most prefixes one leaf or JSON v1 client may subscribe to. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 1024;
/** Least time between two aggregated interest updates, ms. */
export const DEFAULT_INTEREST_INTERVAL_MS = 50;
/** How long an unreachable endpoint stays in the routing table, ms. */
export const DEFAULT_TOMBSTONE_TIME_MS = 60_000;
/** How long `whenRoutable` waits by default, ms. */
export const DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS = 10_000;
/** This package's version, reported to JSON v1 clients. */
export const ISOBROKER_VERSION = '0.1.0';

/** Endpoint options with every default applied. */
export type ResolvedEndpointOptions = Required<Omit<EndpointOptions, 'WebSocket' | 'connector' | 'links'>> &
  Pick<EndpointOptions, 'WebSocket' | 'connector'> & { readonly links: ResolvedLinks };

/** Resolves endpoint options once; throws a `ConfigError` naming the first invalid option. */
export function resolveEndpointOptions(o: EndpointOptions = {}): ResolvedEndpointOptions {
  checkOptionsObject('options', o);
  const id = o.id === undefined ? newEndpointId() : stringOption('id', o.id, '', 36);
  if (!isEndpointId(id)) throw new ConfigError('id', `expected a lowercase UUID, got ${JSON.stringify(id)}`);
  const retry = numberOption('retry', o.retry, DEFAULT_RETRY_MS, Number.MIN_VALUE);
  const maxRetry = numberOption('maxRetry', o.maxRetry, DEFAULT_MAX_RETRY_MS, Number.MIN_VALUE);
  const sendBufferSize = intOption('sendBufferSize', o.sendBufferSize, DEFAULT_SEND_BUFFER_SIZE, 1);
  const overflowPolicy = oneOfOption('overflowPolicy', o.overflowPolicy, 'drop_oldest', OVERFLOW_POLICIES);
  const role = stringOption('role', o.role, 'endpoint');
  return {
    id,
    name: stringOption('name', o.name, `endpoint-${id.slice(0, 8)}`),
    role,
    linkKind: oneOfOption('linkKind', o.linkKind, ROUTER_ROLES.includes(role) ? 'router' : 'leaf', LINK_KINDS),
    acceptRouters: boolOption('acceptRouters', o.acceptRouters, true),
    maxSubscriptions: intOption('maxSubscriptions', o.maxSubscriptions, DEFAULT_MAX_SUBSCRIPTIONS, 1),
    interestInterval: numberOption('interestInterval', o.interestInterval, DEFAULT_INTEREST_INTERVAL_MS, 0),
    tombstoneTime: numberOption('tombstoneTime', o.tombstoneTime, DEFAULT_TOMBSTONE_TIME_MS, Number.MIN_VALUE),
    WebSocket: fnOption('WebSocket', o.WebSocket),
    connector: fnOption('connector', o.connector),
    sendBufferSize,
    overflowPolicy,
    highWaterMark: numberOption('highWaterMark', o.highWaterMark, DEFAULT_HIGH_WATER_MARK, 0),
    maxBatch: intOption('maxBatch', o.maxBatch, DEFAULT_MAX_BATCH, 1),
    ttl: intOption('ttl', o.ttl, DEFAULT_TTL, 1, 255),
    retry,
    maxRetry,
    pingInterval: numberOption('pingInterval', o.pingInterval, DEFAULT_PING_INTERVAL_MS, 0),
    pingTimeout: numberOption('pingTimeout', o.pingTimeout, DEFAULT_PING_TIMEOUT_MS, 0),
    version: stringOption('version', o.version, `isobroker-${ISOBROKER_VERSION}`),
    timers: objectOption('timers', o.timers, systemTimers, ['now', 'setTimeout', 'clearTimeout']),
    links: resolveLinks(o.links, sendBufferSize, overflowPolicy, {
      sendBufferSize: o.sendBufferSize !== undefined,
      overflowPolicy: o.overflowPolicy !== undefined,
    }),
  };
}

/** Resolves the options of one `peer()` call against the endpoint's retry delay. */
export function resolvePeerOptions(
  o: PeerOptions | undefined,
  endpointRetry: number,
): Required<Omit<PeerOptions, 'connector'>> & Pick<PeerOptions, 'connector'> {
  checkOptionsObject('options', o);
  return { retry: numberOption('retry', o?.retry, endpointRetry, 0), connector: fnOption('connector', o?.connector) };
}

/** Resolves the options of one `whenRoutable()` call. */
export function resolveWhenRoutableOptions(o: WhenRoutableOptions | undefined): Required<WhenRoutableOptions> {
  checkOptionsObject('options', o);
  return { timeoutMs: numberOption('timeoutMs', o?.timeoutMs, DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS, 0) };
}
