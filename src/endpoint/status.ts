/** Status and error events with Broker's codes and texts. */

export const STATUS_TEXT = {
  endpoint_discovered: 'found a new peer in the network',
  peer_added: 'handshake successful',
  peer_removed: 'removed connection to remote peer',
  peer_lost: 'lost connection to remote peer',
  endpoint_unreachable: 'lost the last path',
} as const;
export type StatusCode = keyof typeof STATUS_TEXT;

export const ERROR_TEXT = {
  peer_unavailable: 'unable to connect to remote peer',
  peer_incompatible: 'remote peer uses an incompatible protocol',
  peer_invalid: 'invalid peering request',
  redundant_connection: 'dropped a redundant connection to a peer',
  deserialization_failed: 'received malformed data',
  buffer_overflow: 'a send buffer overflowed',
  peer_timeout: 'remote peer stopped answering',
} as const;
export type ErrorCode = keyof typeof ERROR_TEXT;

/** Identity of the other side of a peering. */
export interface PeerRef {
  /** Endpoint id (UUID) once known. */
  readonly id?: string;
  readonly name?: string;
  /** URL dialled or remote address. */
  readonly remote?: string;
}

export interface StatusEvent {
  readonly kind: 'status';
  readonly code: StatusCode;
  readonly message: string;
  readonly peer: PeerRef;
}

export interface ErrorEvent {
  readonly kind: 'error';
  readonly code: ErrorCode | string;
  readonly message: string;
  readonly peer?: PeerRef;
  /** Extra detail (the underlying error text). */
  readonly context?: string;
}

export function statusEvent(code: StatusCode, peer: PeerRef): StatusEvent {
  return { kind: 'status', code, message: STATUS_TEXT[code], peer };
}

export function errorEvent(code: ErrorCode | string, peer?: PeerRef, context?: string): ErrorEvent {
  const message = (ERROR_TEXT as Record<string, string>)[code] ?? code;
  return { kind: 'error', code, message, ...(peer ? { peer } : {}), ...(context ? { context } : {}) };
}
