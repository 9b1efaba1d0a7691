/**
 * Options per kind of link: send buffer, overflow policy and input size limits, chosen apart for
 * the three kinds an endpoint has, because they differ in how far they are trusted:
 * - `peers`: native links to other isobroker endpoints (hub to hub) — trusted, large limits;
 * - `jsonServers`: our JSON v1 peerings with a Zeek or Broker server — trusted, large limits,
 *   plus how our strings are escaped for that server;
 * - `jsonClients`: Broker JSON v1 clients accepted by our listener — untrusted leaves, small
 *   limits, and Broker's WebSocket treatment of a slow client by default (a buffer of 512
 *   messages, then a `buffer_overflow` error and the connection closed).
 *
 * Every send buffer is bounded in messages and in bytes (`bufferSize`, `bufferBytes`), every
 * connection has a write deadline (`writeTimeout`: a peer whose connection does not drain for that
 * long is dropped, even if it answers pings) and a handshake deadline (`handshakeTimeout`).
 */
import { checkOptionsObject, intOption, numberOption, oneOfOption } from '../util/options.js';
import { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES, type OverflowPolicy } from '../util/send-queue.js';

/** The options of one kind of link. */
export interface LinkOptions {
  /** Send buffer, in messages, 1 or more. */
  readonly bufferSize?: number;
  /** What a full send buffer does: `disconnect`, `drop_oldest` or `drop_newest`. */
  readonly overflowPolicy?: OverflowPolicy;
  /**
   * Send buffer, in bytes (native) or characters (JSON v1), 1024 or more; control messages waiting
   * count too. A single larger message still fits an empty buffer.
   */
  readonly bufferBytes?: number;
  /**
   * Write deadline, ms: a connection whose backlog stays above the high-water mark without
   * draining this long is dropped (`buffer_overflow`); 0 disables.
   */
  readonly writeTimeout?: number;
  /**
   * Handshake deadline, ms, counted from the connection's start: the peer's hello (native) or a
   * JSON v1 client's subscription list must arrive by then, or the connection is closed
   * (`peer_timeout`); 0 disables. Not used for `jsonServers`.
   */
  readonly handshakeTimeout?: number;
  /** Largest message accepted: bytes of a native frame, characters of a JSON v1 text. */
  readonly maxMessageSize?: number;
  /** Longest string accepted in a message: UTF-8 bytes (native), characters (JSON v1). */
  readonly maxStringSize?: number;
}

/** The options of our JSON v1 peerings with a Zeek or Broker server. */
export interface JsonServerLinkOptions extends LinkOptions {
  /**
   * How our strings are escaped: `'json'` (`\u000b`-style escapes, strict JSON, for Zeek ≥ 7.1)
   * or `'broker'` (Broker's own escapes, `\v` and raw control characters: for Zeek 7.0 and older,
   * whose parser rejects `\u`).
   * @default 'json'
   */
  readonly stringEscapes?: 'json' | 'broker';
}

/** `EndpointOptions.links`: options per kind of link; every field is optional. */
export interface LinksOptions {
  /** Native links to other isobroker endpoints. */
  readonly peers?: LinkOptions;
  /**
   * Native leaf links accepted by our listener (client endpoints: browsers, apps, `pipe`): their
   * send buffer (`bufferSize`, `bufferBytes`, `overflowPolicy`) and `writeTimeout`, applied once
   * the hello says the peer is a leaf; until then, and for input limits and the hello deadline,
   * `peers` applies.
   */
  readonly leaves?: LinkOptions;
  /** Broker JSON v1 clients accepted by our listener (untrusted leaves). */
  readonly jsonClients?: LinkOptions;
  /** Our JSON v1 peerings with a Zeek or Broker server. */
  readonly jsonServers?: JsonServerLinkOptions;
}

export type ResolvedLinkOptions = Readonly<Required<LinkOptions>>;

export interface ResolvedLinks {
  readonly peers: ResolvedLinkOptions;
  readonly leaves: ResolvedLinkOptions;
  readonly jsonClients: ResolvedLinkOptions;
  readonly jsonServers: ResolvedLinkOptions & { readonly stringEscapes: 'json' | 'broker' };
}

const MiB = 1024 * 1024;

/** Broker's WebSocket server: its per-client buffer, in messages. */
export const BROKER_JSON_CLIENT_BUFFER_SIZE = 512;
/** Largest message on a trusted link (hub to hub, client to Zeek). */
export const DEFAULT_TRUSTED_MAX_MESSAGE_SIZE = 64 * MiB;
/** Longest string on a trusted link. */
export const DEFAULT_TRUSTED_MAX_STRING_SIZE = 64 * MiB;
/** Largest message from a JSON v1 client (an untrusted leaf). */
export const DEFAULT_CLIENT_MAX_MESSAGE_SIZE = 16 * MiB;
/** Longest string from a JSON v1 client. */
export const DEFAULT_CLIENT_MAX_STRING_SIZE = 4 * MiB;
/** Send buffer of a trusted link (hub to hub, client to Zeek), bytes: one largest message. */
export const DEFAULT_TRUSTED_BUFFER_BYTES = 64 * MiB;
/** Send buffer of a native leaf (an untrusted client endpoint), bytes. */
export const DEFAULT_LEAF_BUFFER_BYTES = 16 * MiB;
/** Send buffer of a JSON v1 client (an untrusted leaf), characters. */
export const DEFAULT_CLIENT_BUFFER_BYTES = 16 * MiB;
/** Write deadline of every link by default, ms. */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;
/** Handshake deadline of every link by default, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Upper bound of the size options (what one JavaScript string can hold, roughly). */
const MAX_SIZE = 512 * MiB;

function link(name: string, o: LinkOptions | undefined, d: ResolvedLinkOptions): ResolvedLinkOptions {
  checkOptionsObject(name, o);
  return {
    bufferSize: intOption(`${name}.bufferSize`, o?.bufferSize, d.bufferSize, 1),
    bufferBytes: intOption(`${name}.bufferBytes`, o?.bufferBytes, d.bufferBytes, 1024, 8 * MAX_SIZE),
    writeTimeout: numberOption(`${name}.writeTimeout`, o?.writeTimeout, d.writeTimeout, 0),
    handshakeTimeout: numberOption(`${name}.handshakeTimeout`, o?.handshakeTimeout, d.handshakeTimeout, 0),
    overflowPolicy: oneOfOption(`${name}.overflowPolicy`, o?.overflowPolicy, d.overflowPolicy, OVERFLOW_POLICIES),
    maxMessageSize: intOption(`${name}.maxMessageSize`, o?.maxMessageSize, d.maxMessageSize, 1024, MAX_SIZE),
    maxStringSize: intOption(`${name}.maxStringSize`, o?.maxStringSize, d.maxStringSize, 16, MAX_SIZE),
  };
}

/**
 * Resolves `links` against the defaults; `sendBufferSize` and `overflowPolicy` are the endpoint's
 * general ones, which `peers` and `jsonServers` inherit, and `jsonClients` only when they were set
 * explicitly (`explicit`; otherwise JSON v1 clients get Broker's 512 and `disconnect`). Throws a
 * `ConfigError` (`links.…`).
 */
export function resolveLinks(
  o: LinksOptions | undefined,
  sendBufferSize = DEFAULT_SEND_BUFFER_SIZE,
  overflowPolicy: OverflowPolicy = 'drop_oldest',
  explicit: { readonly sendBufferSize?: boolean; readonly overflowPolicy?: boolean } = {},
): ResolvedLinks {
  checkOptionsObject('links', o);
  const trusted: ResolvedLinkOptions = {
    bufferSize: sendBufferSize,
    bufferBytes: DEFAULT_TRUSTED_BUFFER_BYTES,
    writeTimeout: DEFAULT_WRITE_TIMEOUT_MS,
    handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    overflowPolicy,
    maxMessageSize: DEFAULT_TRUSTED_MAX_MESSAGE_SIZE,
    maxStringSize: DEFAULT_TRUSTED_MAX_STRING_SIZE,
  };
  return {
    peers: link('links.peers', o?.peers, trusted),
    leaves: link('links.leaves', o?.leaves, { ...trusted, bufferBytes: DEFAULT_LEAF_BUFFER_BYTES }),
    jsonClients: link('links.jsonClients', o?.jsonClients, {
      ...DEFAULT_LINKS.jsonClients,
      ...(explicit.sendBufferSize ? { bufferSize: sendBufferSize } : {}),
      ...(explicit.overflowPolicy ? { overflowPolicy } : {}),
    }),
    jsonServers: {
      ...link('links.jsonServers', o?.jsonServers, trusted),
      stringEscapes: oneOfOption('links.jsonServers.stringEscapes', o?.jsonServers?.stringEscapes, 'json', [
        'json',
        'broker',
      ]),
    },
  };
}

/** What a trusted link (hub-to-hub, cluster node, a Zeek we dial) gets by default. */
const TRUSTED_LINK_DEFAULTS = {
  bufferSize: DEFAULT_SEND_BUFFER_SIZE,
  bufferBytes: DEFAULT_TRUSTED_BUFFER_BYTES,
  writeTimeout: DEFAULT_WRITE_TIMEOUT_MS,
  handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS,
  overflowPolicy: 'drop_oldest',
  maxMessageSize: DEFAULT_TRUSTED_MAX_MESSAGE_SIZE,
  maxStringSize: DEFAULT_TRUSTED_MAX_STRING_SIZE,
} as const;

/** The defaults of every kind of link: each differs from a trusted link only where written. */
export const DEFAULT_LINKS: ResolvedLinks = Object.freeze({
  peers: Object.freeze({ ...TRUSTED_LINK_DEFAULTS }),
  leaves: Object.freeze({ ...TRUSTED_LINK_DEFAULTS, bufferBytes: DEFAULT_LEAF_BUFFER_BYTES }),
  jsonClients: Object.freeze({
    ...TRUSTED_LINK_DEFAULTS,
    bufferSize: BROKER_JSON_CLIENT_BUFFER_SIZE,
    bufferBytes: DEFAULT_CLIENT_BUFFER_BYTES,
    overflowPolicy: 'disconnect',
    maxMessageSize: DEFAULT_CLIENT_MAX_MESSAGE_SIZE,
    maxStringSize: DEFAULT_CLIENT_MAX_STRING_SIZE,
  }),
  jsonServers: Object.freeze({ ...TRUSTED_LINK_DEFAULTS, stringEscapes: 'json' }),
} as const);

/**
 * Limits for decoding a value again that already passed its link's limits (inside a frame) or
 * that we encoded ourselves: only the size checks are lifted, to the largest size any link allows.
 */
export const ACCEPTED_VALUE_LIMITS = Object.freeze({ maxFrameBytes: MAX_SIZE, maxStringBytes: MAX_SIZE });
