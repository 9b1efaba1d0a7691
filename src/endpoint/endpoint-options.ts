/** Endpoint, peer and `whenRoutable` options: their defaults and their one resolver each. */
import type { Connector } from '../transport/transport.js';
import type { WebSocketConstructor } from '../transport/websocket-transport.js';
import { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES, type OverflowPolicy } from '../util/send-queue.js';
import { systemTimers, type Timers } from '../util/timers.js';
import { isEndpointId, newEndpointId } from '../util/ids.js';
import { ConfigError } from '../errors.js';
import { resolveLinks, type LinksOptions, type ResolvedLinks } from './links.js';
import { LINK_KINDS, type LinkKind } from '../codec/native/kinds.js';
import type { PeerCredentialOptions } from './peering.js';
import type { ProtocolPlugin } from './protocol.js';

export type { PeerCredentialOptions } from './peering.js';
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
   * buffer with policy `disconnect`, 16 MiB messages, 4 MiB strings). See `json-v1/links.ts`.
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
  /**
   * Protocols besides the native one, as plug-ins: `[jsonV1]` (from `isobroker/json-v1`) to peer
   * with a Zeek at `ws://…/v1/messages/json` or to accept JSON v1 clients. Without it the endpoint
   * links no JSON v1 code, and peering with a JSON v1 URL is a `ConfigError`. The Node listener
   * adds JSON v1 to the endpoints it serves. @default [] (native only)
   */
  readonly protocols?: readonly ProtocolPlugin[];
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
  /**
   * A bearer token (a JWT or an API key) to present. Native links carry it in the hello and
   * renew it in band (`Reauth`) when the hub warns it expires; JSON v1 links carry it on the
   * upgrade: the `Authorization` header from Node, the `bearer.<token>` subprotocol (after
   * `isobroker.v1`) from a browser, so a JSON v1 peering also passes an authenticating reverse
   * proxy in front of a Zeek. Never put in a URL or a log. @default none
   */
  readonly token?: string;
  /**
   * Supplies a fresh token: called at the first dial when `token` is absent, before the token
   * expires (at ~80 % of its lifetime, with jitter; retried with backoff on failure), and on a
   * reconnect when it expired or expires within 60 s. @default none
   */
  readonly getToken?: () => string | Promise<string>;
  /**
   * Extra HTTP headers on the WebSocket upgrade (Node only: a browser cannot set headers, and
   * giving them there is a `ConfigError`; use `protocols` or a cookie). @default none
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * `Sec-WebSocket-Protocol` offers, e.g. `bearerProtocols(jwt)` = `['isobroker.v1', 'bearer.<jwt>']`.
   * @default none; from a browser with `token`/`getToken`, `['isobroker.v1', 'bearer.<token>']`
   */
  readonly protocols?: readonly string[];
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
    protocols: pluginsOption(o.protocols),
    links: resolveLinks(o.links, sendBufferSize, overflowPolicy, {
      sendBufferSize: o.sendBufferSize !== undefined,
      overflowPolicy: o.overflowPolicy !== undefined,
    }),
  };
}

function pluginsOption(v: readonly ProtocolPlugin[] | undefined): readonly ProtocolPlugin[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((p) => p === null || typeof p !== 'object' || typeof p.create !== 'function'))
    throw new ConfigError(
      'protocols',
      "expected an array of protocol plug-ins, e.g. [jsonV1] from 'isobroker/json-v1'",
    );
  return [...v];
}

/** The options of one `peer()` call, resolved. */
export interface ResolvedPeerOptions {
  readonly retry: number;
  readonly connector: Connector | undefined;
  /** Present when a token, getToken, headers or protocols were given. */
  readonly credentials: PeerCredentialOptions | undefined;
}

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers ws (or the HTTP layer) sets itself: giving them would break the upgrade. */
const RESERVED_HEADERS = [
  'host',
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
];

function tokenOption(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  // Never show the value: it is a credential.
  if (typeof v !== 'string' || v.length === 0 || v.length > 16_384 || !/^[\x21-\x7e]+$/.test(v))
    throw new ConfigError(
      name,
      'expected a non-empty string of at most 16384 printable ASCII characters without spaces',
    );
  return v;
}

function headersOption(v: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError('headers', 'expected an object of header names to string values');
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [k, val] of Object.entries(v)) {
    if (!HTTP_TOKEN.test(k)) throw new ConfigError('headers', `${JSON.stringify(k)} is not a valid header name`);
    const lower = k.toLowerCase();
    if (RESERVED_HEADERS.includes(lower))
      throw new ConfigError(
        'headers',
        `${k} is set by the WebSocket upgrade itself${lower === 'sec-websocket-protocol' ? '; use protocols' : ''}`,
      );
    if (seen.has(lower)) throw new ConfigError('headers', `header ${k} is given twice`);
    seen.add(lower);
    // Values may be credentials: name the header, never show the value.
    if (typeof val !== 'string' || val.length > 16_384 || /[\r\n\0]/.test(val))
      throw new ConfigError(
        'headers',
        `the value of ${k} must be a string of at most 16384 characters without CR, LF or NUL`,
      );
    out[k] = val;
  }
  return out;
}

function protocolsOption(v: readonly string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 32)
    throw new ConfigError('protocols', 'expected an array of at most 32 subprotocols');
  const seen = new Set<string>();
  for (const p of v) {
    if (typeof p !== 'string' || p.length > 16_384 || !HTTP_TOKEN.test(p))
      throw new ConfigError(
        'protocols',
        "each subprotocol must be a non-empty HTTP token (letters, digits, !#$%&'*+-.^_`|~)",
      );
    if (seen.has(p)) throw new ConfigError('protocols', 'a subprotocol is offered twice');
    seen.add(p);
  }
  return [...v];
}

/**
 * Resolves the options of one `peer()` call against the endpoint's retry delay and connector
 * (the one used when `options.connector` is absent). `headers` with a connector that cannot send
 * them (`connector.sendsHeaders` is not true: a browser's WebSocket) is a `ConfigError`; so is an
 * `Authorization` header together with `token`/`getToken`. When neither connector is known, the
 * headers check is left to the dial.
 */
export function resolvePeerOptions(
  o: PeerOptions | undefined,
  endpointRetry: number,
  endpointConnector?: Connector,
): ResolvedPeerOptions {
  checkOptionsObject('options', o);
  const retry = numberOption('retry', o?.retry, endpointRetry, 0);
  const connector = fnOption('connector', o?.connector);
  const token = tokenOption('token', o?.token);
  const getToken = fnOption('getToken', o?.getToken);
  const headers = headersOption(o?.headers);
  const protocols = protocolsOption(o?.protocols);
  if (token === undefined && getToken === undefined && headers === undefined && protocols === undefined)
    return { retry, connector, credentials: undefined };
  const effective = connector ?? endpointConnector;
  const sendsHeaders = effective?.sendsHeaders === true;
  if (headers !== undefined && Object.keys(headers).length > 0 && effective !== undefined && !sendsHeaders)
    throw new ConfigError(
      'headers',
      'this connector cannot send upgrade headers (browsers cannot set WebSocket headers); use protocols (bearerProtocols(token)) or a cookie',
    );
  const hasToken = token !== undefined || getToken !== undefined;
  if (hasToken && headers !== undefined && Object.keys(headers).some((k) => k.toLowerCase() === 'authorization'))
    throw new ConfigError('headers', 'give either token/getToken or an Authorization header, not both');
  if (hasToken && protocols?.some((p) => p.startsWith('bearer.')))
    throw new ConfigError('protocols', 'give either token/getToken or a bearer.… subprotocol, not both');
  const credentials: PeerCredentialOptions = {
    sendsHeaders,
    ...(token !== undefined ? { token } : {}),
    ...(getToken !== undefined ? { getToken } : {}),
    ...(headers !== undefined ? { headers } : {}),
    ...(protocols !== undefined ? { protocols } : {}),
  };
  return { retry, connector, credentials };
}

/** Resolves the options of one `whenRoutable()` call. */
export function resolveWhenRoutableOptions(o: WhenRoutableOptions | undefined): Required<WhenRoutableOptions> {
  checkOptionsObject('options', o);
  return { timeoutMs: numberOption('timeoutMs', o?.timeoutMs, DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS, 0) };
}
