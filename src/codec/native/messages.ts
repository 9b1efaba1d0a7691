/**
 * The native protocol's entry module: the message table and types (from `kinds.ts`), the
 * message encoder, frames and values. Each encoded message is a self-contained MessagePack array,
 * so a sender encodes it once and splices the same bytes into the frames of many peers
 * (`encodeFrame`).
 */
import type { Data } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import { MsgpackWriter } from '../msgpack/writer.js';
import { ENDPOINT_ID_BYTES, MessageKind, type DataMessage, type NativeMessageInput } from './kinds.js';
import { ReceivedData } from './frame.js';
import { writeValue } from './values.js';

export {
  ENDPOINT_ID_BYTES,
  LINK_KINDS,
  MessageKind,
  MIN_NATIVE_PROTOCOL_VERSION,
  NATIVE_PROTOCOL_VERSION,
  RESERVED_MESSAGE_KINDS,
} from './kinds.js';
export type {
  AnnounceMessage,
  ByeMessage,
  DataMessage,
  DataMessageInput,
  ErrorMessage,
  HelloMessage,
  LinkKind,
  NarrowedMessage,
  NativeMessage,
  NativeMessageInput,
  PingMessage,
  PongMessage,
  ReauthMessage,
  WelcomeMessage,
} from './kinds.js';
export { decodeFrame, encodeFrame, encodeSharedFrame, ReceivedData } from './frame.js';
export { decodeValue, encodeValue } from './values.js';
export { DEFAULT_NATIVE_LIMITS } from './limits.js';
export type { NativeLimits } from './limits.js';

const writer = new MsgpackWriter();

function uintField(w: MsgpackWriter, what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ValueError(`${what} must be an integer 0..2^53-1, got ${n}`);
  w.uint(n);
}

function idField(w: MsgpackWriter, what: string, id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.length !== ENDPOINT_ID_BYTES) {
    throw new ValueError(`${what} must be ${ENDPOINT_ID_BYTES} bytes`);
  }
  w.bin(id);
}

function strings(w: MsgpackWriter, list: readonly string[]): void {
  w.arrayHeader(list.length);
  for (const x of list) w.str(x);
}

function writeData(
  w: MsgpackWriter,
  topic: string,
  origin: Uint8Array,
  seq: number,
  ttl: number,
  value: Data | Uint8Array,
): void {
  w.arrayHeader(6);
  w.uint(MessageKind.Data);
  w.str(topic);
  idField(w, 'Data origin', origin);
  uintField(w, 'Data seq', seq);
  uintField(w, 'Data ttl', ttl);
  // Value bytes come from encodeValue or a decoded (validated) DataMessage: copied verbatim.
  if (value instanceof Uint8Array) w.raw(value);
  else writeValue(w, value);
}

function writeMessage(w: MsgpackWriter, m: NativeMessageInput): void {
  switch (m.kind) {
    case MessageKind.Data:
      writeData(w, m.topic, m.origin, m.seq, m.ttl, 'valueBytes' in m ? m.valueBytes : m.value);
      return;
    case MessageKind.Hello:
      w.arrayHeader(m.link === undefined ? 6 : 7);
      w.uint(m.kind);
      uintField(w, 'Hello version', m.version);
      idField(w, 'Hello id', m.id);
      w.str(m.name);
      w.str(m.role);
      if (m.credential === undefined || m.credential === null) w.nil();
      else w.str(m.credential);
      if (m.link !== undefined) w.str(m.link);
      return;
    case MessageKind.Announce:
      w.arrayHeader(6);
      w.uint(m.kind);
      idField(w, 'Announce origin', m.origin);
      uintField(w, 'Announce version', m.version);
      w.str(m.name);
      w.arrayHeader(m.filter.length);
      for (const f of m.filter) w.str(f);
      w.arrayHeader(m.neighbors.length);
      for (const n of m.neighbors) idField(w, 'Announce neighbor', n);
      return;
    case MessageKind.Error:
    case MessageKind.Bye:
      w.arrayHeader(3);
      w.uint(m.kind);
      w.str(m.code);
      w.str(m.context);
      return;
    case MessageKind.Ping:
    case MessageKind.Pong:
      w.arrayHeader(2);
      w.uint(m.kind);
      uintField(w, 'nonce', m.nonce);
      return;
    case MessageKind.Welcome:
      w.arrayHeader(4);
      w.uint(m.kind);
      w.str(m.sub);
      strings(w, m.roles);
      uintField(w, 'Welcome expiresAt', m.expiresAt);
      return;
    case MessageKind.Reauth:
      w.arrayHeader(2);
      w.uint(m.kind);
      w.str(m.credential);
      return;
    case MessageKind.Narrowed:
      w.arrayHeader(3);
      w.uint(m.kind);
      strings(w, m.requested);
      strings(w, m.effective);
      return;
  }
  throw new ValueError(`unknown message kind ${String((m as { kind: unknown }).kind)}`);
}

/** Encodes one message as a self-contained byte string, ready to splice into frames. */
export function encodeMessage(msg: NativeMessageInput): Uint8Array {
  try {
    writeMessage(writer, msg);
  } catch (e) {
    writer.reset();
    throw e;
  }
  return writer.finish();
}

/**
 * Encodes a Data message. `value` is a Broker value or bytes from `encodeValue` (or a decoded
 * message's `valueBytes`), which are copied without re-encoding.
 */
export function encodeDataMessage(
  topic: string,
  origin: Uint8Array,
  seq: number,
  ttl: number,
  value: Data | Uint8Array,
): Uint8Array {
  try {
    writeData(writer, topic, origin, seq, ttl, value);
  } catch (e) {
    writer.reset();
    throw e;
  }
  return writer.finish();
}

/**
 * Encodes a received Data message to send on with a new `origin`, `seq` and `ttl` (a relay: the
 * TTL one lower; a hub taking a leaf's message as its own: its id and sequence number too). A
 * message from `decodeFrame` is not encoded again: its array header, kind and topic are copied
 * as they arrived, the three fields written, its value bytes copied — the same bytes
 * `encodeDataMessage` writes for a message that arrived in our own (shortest) encoding.
 */
export function encodeRelayedData(m: DataMessage, origin: Uint8Array, seq: number, ttl: number): Uint8Array {
  if (!(m instanceof ReceivedData)) return encodeDataMessage(m.topic, origin, seq, ttl, m.valueBytes);
  const w = writer;
  try {
    w.rawRange(m.frame, m.headStart, m.headEnd);
    idField(w, 'Data origin', origin);
    uintField(w, 'Data seq', seq);
    uintField(w, 'Data ttl', ttl);
    w.raw(m.valueBytes);
  } catch (e) {
    w.reset();
    throw e;
  }
  return w.finish();
}
