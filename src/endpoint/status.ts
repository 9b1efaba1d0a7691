/**
 * Status and error events with Broker's codes and texts. `ErrorEvent` is the one shape of an
 * asynchronous failure in isobroker: endpoints, cluster nodes, log routers and backed tables all
 * emit it on their `error` channel.
 */

/** Broker's status codes and their texts. */
export const STATUS_TEXT = {
  endpoint_discovered: 'found a new peer in the network',
  peer_added: 'handshake successful',
  peer_removed: 'removed connection to remote peer',
  peer_lost: 'lost connection to remote peer',
  endpoint_unreachable: 'lost the last path',
} as const;
/** A status code: a peering or reachability change. */
export type StatusCode = keyof typeof STATUS_TEXT;

/** Error codes (Broker's, then isobroker's own) and their texts. */
export const ERROR_TEXT = {
  peer_unavailable: 'unable to connect to remote peer',
  peer_incompatible: 'remote peer uses an incompatible protocol',
  peer_invalid: 'invalid peering request',
  redundant_connection: 'dropped a redundant connection to a peer',
  deserialization_failed: 'received malformed data',
  buffer_overflow: 'a send buffer overflowed',
  peer_timeout: 'remote peer stopped answering',
  handler_failed: 'a subscriber threw',
  listener_failed: 'an event listener threw',
  write_failed: 'a write was refused',
  log_failed: 'a log batch could not be handled',
  peer_refused: 'remote peer asked for a link this endpoint does not accept',
  subscription_limit: 'too many subscriptions on one connection',
  filter_too_large: 'an announced filter exceeds the limits',
  internal_error: 'input from a peer made a handler fail',
} as const;
/** A code of an `ErrorEvent` isobroker itself raises (events relayed from a peer may carry others). */
export type ErrorCode = keyof typeof ERROR_TEXT;

/** Identity of the other side of a peering. */
export interface PeerRef {
  /** Endpoint id (UUID) once known. */
  readonly id?: string;
  readonly name?: string;
  /** URL dialled or remote address. */
  readonly remote?: string;
}

/** A peering or reachability change, with Broker's code and text. */
export interface StatusEvent {
  readonly kind: 'status';
  readonly code: StatusCode;
  readonly message: string;
  readonly peer: PeerRef;
}

/**
 * An asynchronous failure, reported on a component's `error` channel: a peer that cannot be
 * reached, malformed input from a peer, a subscriber or event listener that threw, a refused
 * write of a backed table, a log batch that could not be handled.
 */
export interface ErrorEvent {
  readonly kind: 'error';
  /** Machine-readable code (`ErrorCode`, or a code relayed from a JSON v1 server). */
  readonly code: ErrorCode | string;
  /** Human-readable text of the code. */
  readonly message: string;
  /** The peer involved, if any. */
  readonly peer?: PeerRef;
  /** Extra detail (the underlying error text, the topic or key involved). */
  readonly context?: string;
  /** What was thrown or rejected, when the failure came from an exception. */
  readonly cause?: unknown;
}

/** Builds a status event with Broker's text for `code`. */
export function statusEvent(code: StatusCode, peer: PeerRef): StatusEvent {
  return { kind: 'status', code, message: STATUS_TEXT[code], peer };
}

/** Builds an error event with the text for `code`. */
export function errorEvent(code: ErrorCode | string, peer?: PeerRef, context?: string, cause?: unknown): ErrorEvent {
  const message = (ERROR_TEXT as Record<string, string>)[code] ?? code;
  return {
    kind: 'error',
    code,
    message,
    ...(peer ? { peer } : {}),
    ...(context ? { context } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** The error event for an exception a listener of `event` threw. */
export function listenerErrorEvent(event: string, err: unknown): ErrorEvent {
  return errorEvent(
    'listener_failed',
    undefined,
    `a '${event}' listener threw: ${err instanceof Error ? err.message : String(err)}`,
    err,
  );
}
