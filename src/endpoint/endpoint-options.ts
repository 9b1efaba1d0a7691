/** Endpoint options, their defaults, and their resolution. */
import type { Connector } from '../transport/transport.js';
import type { WebSocketConstructor } from '../transport/websocket-transport.js';
import { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES, type OverflowPolicy } from './send-queue.js';
import { systemTimers, type Timers } from './timers.js';
import { isEndpointId, newEndpointId } from './endpoint-id.js';
import { ValueError } from '../errors.js';

export interface EndpointOptions {
  /** Human-readable name (cluster node name). @default `endpoint-<first 8 hex digits of id>` */
  readonly name?: string;
  /** Endpoint id, a lowercase UUID. @default a random version-4 UUID */
  readonly id?: string;
  /** Role announced in the hello (`manager`, `worker`, `hub`, `browser`, …). @default 'endpoint' */
  readonly role?: string;
  /** WebSocket constructor for outgoing peerings. @default isomorphic-ws (ws in Node, the browser's own) */
  readonly WebSocket?: WebSocketConstructor;
  /** Opens client transports; overrides `WebSocket` (tests use memory transports). */
  readonly connector?: Connector;
  /** Per-peer send buffer, in messages. @default 8192 (Broker's) */
  readonly sendBufferSize?: number;
  /** What a full send buffer does. @default 'drop_oldest' */
  readonly overflowPolicy?: OverflowPolicy;
  /** Bytes buffered in a transport above which it counts as congested. @default 4 MiB */
  readonly highWaterMark?: number;
  /** Most messages coalesced into one native frame. @default 1024 */
  readonly maxBatch?: number;
  /** Hop limit of published messages. @default 20 (Broker's default TTL) */
  readonly ttl?: number;
  /** First reconnect delay in ms. @default 1000 (Broker's default retry) */
  readonly retry?: number;
  /** Largest reconnect delay in ms. @default 30000 */
  readonly maxRetry?: number;
  /** Keepalive ping interval in ms; 0 disables. @default 5000 */
  readonly pingInterval?: number;
  /** A peer silent this long (ms) is dropped. @default 15000 */
  readonly pingTimeout?: number;
  /** Version string reported to JSON v1 clients in acks. @default `isobroker-<package version>` */
  readonly version?: string;
  /** Clock and timers. @default the system's */
  readonly timers?: Timers;
}

export const DEFAULT_TTL = 20;
export const DEFAULT_RETRY_MS = 1000;
export const DEFAULT_MAX_RETRY_MS = 30_000;
export const DEFAULT_PING_INTERVAL_MS = 5000;
export const DEFAULT_PING_TIMEOUT_MS = 15_000;
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
export const DEFAULT_MAX_BATCH = 1024;
export const ISOBROKER_VERSION = '0.1.0';

export type ResolvedEndpointOptions = Required<Omit<EndpointOptions, 'WebSocket' | 'connector'>> &
  Pick<EndpointOptions, 'WebSocket' | 'connector'>;

function positive(name: string, v: number, allowZero = false): number {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new ValueError(`option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${v}`);
  }
  return v;
}

export function resolveEndpointOptions(o: EndpointOptions = {}): ResolvedEndpointOptions {
  const id = o.id ?? newEndpointId();
  if (!isEndpointId(id)) throw new ValueError(`option id '${id}' is not a lowercase UUID`);
  const policy = o.overflowPolicy ?? 'drop_oldest';
  if (!OVERFLOW_POLICIES.includes(policy)) {
    throw new ValueError(`option overflowPolicy must be one of ${OVERFLOW_POLICIES.join(', ')}, got '${policy}'`);
  }
  const ttl = positive('ttl', o.ttl ?? DEFAULT_TTL);
  if (!Number.isInteger(ttl) || ttl > 255) throw new ValueError(`option ttl must be an integer 1..255, got ${ttl}`);
  return {
    id,
    name: o.name ?? `endpoint-${id.slice(0, 8)}`,
    role: o.role ?? 'endpoint',
    WebSocket: o.WebSocket,
    connector: o.connector,
    sendBufferSize: positive('sendBufferSize', o.sendBufferSize ?? DEFAULT_SEND_BUFFER_SIZE),
    overflowPolicy: policy,
    highWaterMark: positive('highWaterMark', o.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, true),
    maxBatch: positive('maxBatch', o.maxBatch ?? DEFAULT_MAX_BATCH),
    ttl,
    retry: positive('retry', o.retry ?? DEFAULT_RETRY_MS),
    maxRetry: positive('maxRetry', o.maxRetry ?? DEFAULT_MAX_RETRY_MS),
    pingInterval: positive('pingInterval', o.pingInterval ?? DEFAULT_PING_INTERVAL_MS, true),
    pingTimeout: positive('pingTimeout', o.pingTimeout ?? DEFAULT_PING_TIMEOUT_MS, true),
    version: o.version ?? `isobroker-${ISOBROKER_VERSION}`,
    timers: o.timers ?? systemTimers,
  };
}
