/**
 * The native protocol's numbered message table and the shape of every message (PROTOCOL.md,
 * "Messages"). Import these through `messages.ts`.
 */
import type { Data } from '../../data/types.js';

/**
 * Version of the native protocol this code speaks (sent in `Hello`). Version 2 added the `link`
 * field of `Hello` (leaf or router links, PROTOCOL.md §8); version 3 the authentication messages
 * `Welcome`, `Reauth` and `Narrowed` (PROTOCOL.md §10).
 */
export const NATIVE_PROTOCOL_VERSION = 3;

/** Oldest protocol version still accepted from a peer (version 2 peers, when auth is off). */
export const MIN_NATIVE_PROTOCOL_VERSION = 2;

/**
 * The kinds of native link a dialler can ask for in its `Hello`: a `router` link runs link-state
 * routing (hubs, cluster nodes), a `leaf` link joins a client endpoint to its hub.
 */
export const LINK_KINDS = ['router', 'leaf'] as const;
/** `router` or `leaf` (see `LINK_KINDS`). */
export type LinkKind = (typeof LINK_KINDS)[number];

/** Size of an endpoint id (a UUID) on the wire. */
export const ENDPOINT_ID_BYTES = 16;

/** Message kinds: the first element of every message. */
export const MessageKind = {
  Hello: 1,
  Announce: 2,
  Data: 3,
  Error: 4,
  Ping: 5,
  Pong: 6,
  Bye: 7,
  Welcome: 8,
  Reauth: 9,
  Narrowed: 10,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** Kind numbers reserved for message families added by later versions (inclusive ranges). */
export const RESERVED_MESSAGE_KINDS = Object.freeze({
  store: Object.freeze({ first: 16, last: 31 }),
  logging: Object.freeze({ first: 32, last: 47 }),
});

/** Opens a peering: `[1, version, id, name, role, credential, link]`. */
export interface HelloMessage {
  readonly kind: typeof MessageKind.Hello;
  /** The sender's `NATIVE_PROTOCOL_VERSION`. */
  readonly version: number;
  /** The sender's endpoint id (16 bytes). */
  readonly id: Uint8Array;
  /** Node name, e.g. `worker-1`. */
  readonly name: string;
  /** Cluster role (`manager`, `logger`, `proxy`, `worker`) or another free-form role. */
  readonly role: string;
  /** A signed token or an API key (PROTOCOL.md §10); nil on the wire when absent (decoded as null). */
  readonly credential?: string | null;
  /**
   * The kind of link the sender asks for when it dialled (`router` or `leaf`); the acceptor's own
   * value is informational. Absent in a version-1 Hello (decoded as undefined).
   */
  readonly link?: string;
}

/** Link-state flooding of one endpoint's filter and peers: `[2, origin, version, name, filter, neighbors]`. */
export interface AnnounceMessage {
  readonly kind: typeof MessageKind.Announce;
  /** The endpoint this announcement describes (16 bytes). */
  readonly origin: Uint8Array;
  /** Increases with every announcement of `origin`; the highest one wins. */
  readonly version: number;
  readonly name: string;
  /** Normalised subscription filter (topic prefixes). */
  readonly filter: readonly string[];
  /** Ids of the endpoints `origin` is directly peered with (16 bytes each). */
  readonly neighbors: readonly Uint8Array[];
}

/** A published value: `[3, topic, origin, seq, ttl, value]`. */
export interface DataMessage {
  readonly kind: typeof MessageKind.Data;
  readonly topic: string;
  /** The publishing endpoint (16 bytes). */
  readonly origin: Uint8Array;
  /** Per-origin sequence number, for duplicate suppression. */
  readonly seq: number;
  /** Remaining hops. */
  readonly ttl: number;
  /** The encoded value (validated; a view into the frame when decoded). Decode with `decodeValue`. */
  readonly valueBytes: Uint8Array;
}

/** `[4, code, context]`: something went wrong; the connection stays open. */
export interface ErrorMessage {
  readonly kind: typeof MessageKind.Error;
  /** Machine-readable code, e.g. `deserialization_failed`, `unknown_message`. */
  readonly code: string;
  readonly context: string;
}

/** `[5, nonce]`: answered by a Pong with the same nonce. */
export interface PingMessage {
  readonly kind: typeof MessageKind.Ping;
  readonly nonce: number;
}

/** `[6, nonce]`. */
export interface PongMessage {
  readonly kind: typeof MessageKind.Pong;
  readonly nonce: number;
}

/** `[7, code, context]`: the sender is closing the connection and says why. */
export interface ByeMessage {
  readonly kind: typeof MessageKind.Bye;
  readonly code: string;
  readonly context: string;
}

/**
 * `[8, sub, roles, expiresAt]`: sent by an acceptor that authenticated the connection (after the
 * hello, and again after every accepted `Reauth`): who the connection runs as.
 */
export interface WelcomeMessage {
  readonly kind: typeof MessageKind.Welcome;
  /** The principal's subject. */
  readonly sub: string;
  readonly roles: readonly string[];
  /** When the credential expires, ms since the epoch; 0 when it does not. */
  readonly expiresAt: number;
}

/** `[9, credential]`: the dialler presents a fresh credential (same subject) on a live connection. */
export interface ReauthMessage {
  readonly kind: typeof MessageKind.Reauth;
  /** A signed token or an API key (never logged). */
  readonly credential: string;
}

/**
 * `[10, requested, effective]`: the acceptor serves a leaf's subscriptions narrowed to its grant:
 * `requested` the announced prefixes that were changed or refused, `effective` what the whole
 * subscription now is.
 */
export interface NarrowedMessage {
  readonly kind: typeof MessageKind.Narrowed;
  readonly requested: readonly string[];
  readonly effective: readonly string[];
}

/** Any message of the native protocol, as `decodeFrame` returns it. */
export type NativeMessage =
  | HelloMessage
  | AnnounceMessage
  | DataMessage
  | ErrorMessage
  | PingMessage
  | PongMessage
  | ByeMessage
  | WelcomeMessage
  | ReauthMessage
  | NarrowedMessage;

/** A Data message to encode, carrying either a value or already-encoded value bytes. */
export type DataMessageInput = Omit<DataMessage, 'valueBytes'> &
  ({ readonly valueBytes: Uint8Array } | { readonly value: Data });

/** What `encodeMessage` accepts: any message, Data with a value or with value bytes. */
export type NativeMessageInput = Exclude<NativeMessage, DataMessage> | DataMessageInput;
