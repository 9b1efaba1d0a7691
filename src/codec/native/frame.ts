/**
 * Frames of the native protocol (PROTOCOL.md, "Frames"): one binary WebSocket message is a
 * MessagePack array header of N followed by N encoded messages. Decoding validates every message
 * completely — a Data message's value structurally, without decoding it — before returning.
 */
import { asDecodeError, MsgpackReader } from '../msgpack/reader.js';
import { MsgpackWriter } from '../msgpack/writer.js';
import { DEFAULT_NATIVE_LIMITS, resolveNativeLimits, type NativeLimits } from './limits.js';
import { ENDPOINT_ID_BYTES, MessageKind, type DataMessage, type NativeMessage } from './kinds.js';
import { validateValue } from './validate.js';

const frameWriter = new MsgpackWriter();

/** Splices already-encoded messages into one frame. */
export function encodeFrame(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.length;
  let size = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
  for (let i = 0; i < n; i++) size += parts[i]!.length;
  const out = frameWriter.alloc(size);
  let p: number;
  if (n < 16) {
    out[0] = 0x90 | n;
    p = 1;
  } else if (n < 0x10000) {
    out[0] = 0xdc;
    out[1] = n >>> 8;
    out[2] = n & 0xff;
    p = 3;
  } else {
    out[0] = 0xdd;
    out[1] = n >>> 24;
    out[2] = (n >>> 16) & 0xff;
    out[3] = (n >>> 8) & 0xff;
    out[4] = n & 0xff;
    p = 5;
  }
  for (let i = 0; i < n; i++) {
    const part = parts[i]!;
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * The last frame built by `encodeSharedFrame`, the messages it holds (a copy of the list) and
 * whether a microtask to forget it is queued.
 */
let sharedParts: Uint8Array[] = [];
let sharedFrame: Uint8Array | undefined;
let sharedClearQueued = false;
const clearShared = (): void => {
  sharedClearQueued = false;
  sharedFrame = undefined;
  sharedParts = [];
};

/**
 * Like `encodeFrame`, but when the previous call of this turn of the event loop was given the same
 * messages (the same byte strings, by identity, in the same order) it returns the same frame
 * instead of building another: the peers that take the same batch of relayed messages share one
 * frame (one allocation, one copy) instead of each building its own. The parts must be immutable
 * encoded messages (as the send queues hold: nothing writes into an encoded message), and the
 * frame returned must not be written to. The frame is forgotten at the end of the current
 * microtask checkpoint, so that it is never kept alive beyond the peers that hold it.
 */
export function encodeSharedFrame(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.length;
  const last = sharedParts;
  if (sharedFrame !== undefined && last.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (parts[i] !== last[i]) {
        same = false;
        break;
      }
    }
    if (same) return sharedFrame;
  }
  const frame = encodeFrame(parts);
  sharedParts = parts.slice();
  sharedFrame = frame;
  if (!sharedClearQueued) {
    sharedClearQueued = true;
    queueMicrotask(clearShared);
  }
  return frame;
}

/**
 * A Data message as `decodeFrame` returns it: the fields of `DataMessage` (its own properties, as
 * a plain message has) and, kept private so that it compares and copies like one, the bytes it
 * arrived as. A relay copies those bytes instead of encoding the message again
 * (`encodeRelayedData`).
 */
export class ReceivedData implements DataMessage {
  readonly kind: typeof MessageKind.Data;
  readonly topic: string;
  readonly origin: Uint8Array;
  readonly seq: number;
  readonly ttl: number;
  readonly valueBytes: Uint8Array;
  readonly #frame: Uint8Array;
  readonly #headStart: number;
  readonly #headEnd: number;

  constructor(
    topic: string,
    origin: Uint8Array,
    seq: number,
    ttl: number,
    valueBytes: Uint8Array,
    frame: Uint8Array,
    headStart: number,
    headEnd: number,
  ) {
    // Own properties in the order of a plain DataMessage.
    this.kind = MessageKind.Data;
    this.topic = topic;
    this.origin = origin;
    this.seq = seq;
    this.ttl = ttl;
    this.valueBytes = valueBytes;
    this.#frame = frame;
    this.#headStart = headStart;
    this.#headEnd = headEnd;
  }

  /** The frame the message arrived in. */
  get frame(): Uint8Array {
    return this.#frame;
  }

  /** Where the message starts in `frame`. */
  get headStart(): number {
    return this.#headStart;
  }

  /**
   * Where the origin field starts in `frame`: the bytes before it, from `headStart`, are the
   * message's array header, kind and topic as they arrived, valid as they are in any copy.
   */
  get headEnd(): number {
    return this.#headEnd;
  }
}

const reader = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
const EMPTY = new Uint8Array(0);

/**
 * Decodes a frame into its messages. Throws `DecodeError` — code `unknown_message` for a message
 * kind this version does not know, `deserialization_failed` for anything else — naming the byte
 * offset and what was wrong. A frame is accepted whole or not at all.
 */
export function decodeFrame(bytes: Uint8Array, limits?: NativeLimits): NativeMessage[] {
  const lim = resolveNativeLimits(limits);
  const r = reader;
  r.reset(bytes, lim);
  try {
    if (bytes.length > lim.maxFrameBytes) {
      r.fail(0, `frame of ${bytes.length} bytes exceeds the limit of ${lim.maxFrameBytes}`);
    }
    const n = r.arrayHeader('the frame', false);
    if (n > lim.maxMessagesPerFrame) {
      r.fail(0, `frame of ${n} messages exceeds the limit of ${lim.maxMessagesPerFrame}`);
    }
    const out: NativeMessage[] = [];
    for (let i = 0; i < n; i++) out.push(readMessage(r));
    if (r.pos !== r.end) r.fail(r.pos, `${r.end - r.pos} trailing bytes after the last message`);
    return out;
  } catch (e) {
    throw asDecodeError(e, r.pos);
  } finally {
    r.reset(EMPTY, lim);
  }
}

function fields(r: MsgpackReader, at: number, name: string, got: number, want: number): void {
  if (got !== want) r.fail(at, `${name} message must have ${want} elements, got ${got}`);
}

function readStrings(r: MsgpackReader, what: string): string[] {
  const count = r.arrayHeader(what);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(r.string(`${what} entry`));
  return out;
}

function readMessage(r: MsgpackReader): NativeMessage {
  const at = r.pos;
  const n = r.arrayHeader('a message', false);
  if (n === 0) r.fail(at, 'empty message (no kind)');
  const kindAt = r.pos;
  const kind = r.uint('the message kind');
  switch (kind) {
    case MessageKind.Data: {
      fields(r, at, 'Data', n, 6);
      const topic = r.string('Data topic');
      const originAt = r.pos;
      const origin = r.binExact('Data origin', ENDPOINT_ID_BYTES);
      const seq = r.uint('Data seq');
      const ttl = r.uint('Data ttl');
      const start = r.pos;
      validateValue(r, 0);
      return new ReceivedData(topic, origin, seq, ttl, r.b.subarray(start, r.pos), r.b, at, originAt);
    }
    case MessageKind.Hello: {
      // Version 1 sent 6 fields, version 2 adds `link`: both decode, so that the session can
      // answer an old peer with peer_incompatible instead of a decoding error.
      if (n !== 6) fields(r, at, 'Hello', n, 7);
      const version = r.uint('Hello version');
      const id = r.binExact('Hello id', ENDPOINT_ID_BYTES);
      const name = r.string('Hello name');
      const role = r.string('Hello role');
      const credential = r.optionalString('Hello credential') ?? null;
      if (n === 6) return { kind, version, id, name, role, credential };
      const link = r.string('Hello link');
      return { kind, version, id, name, role, credential, link };
    }
    case MessageKind.Announce: {
      fields(r, at, 'Announce', n, 6);
      const origin = r.binExact('Announce origin', ENDPOINT_ID_BYTES);
      const version = r.uint('Announce version');
      const name = r.string('Announce name');
      const filterCount = r.arrayHeader('Announce filter');
      const filter: string[] = [];
      for (let i = 0; i < filterCount; i++) filter.push(r.string('Announce filter entry'));
      const neighborCount = r.arrayHeader('Announce neighbors');
      const neighbors: Uint8Array[] = [];
      for (let i = 0; i < neighborCount; i++) neighbors.push(r.binExact('Announce neighbor', ENDPOINT_ID_BYTES));
      return { kind, origin, version, name, filter, neighbors };
    }
    case MessageKind.Error:
    case MessageKind.Bye: {
      fields(r, at, kind === MessageKind.Error ? 'Error' : 'Bye', n, 3);
      const code = r.string('code');
      const context = r.string('context');
      return { kind, code, context };
    }
    case MessageKind.Ping:
    case MessageKind.Pong:
      fields(r, at, kind === MessageKind.Ping ? 'Ping' : 'Pong', n, 2);
      return { kind, nonce: r.uint('nonce') };
    case MessageKind.Welcome: {
      fields(r, at, 'Welcome', n, 4);
      const sub = r.string('Welcome sub');
      const roles = readStrings(r, 'Welcome roles');
      return { kind, sub, roles, expiresAt: r.uint('Welcome expiresAt') };
    }
    case MessageKind.Reauth:
      fields(r, at, 'Reauth', n, 2);
      return { kind, credential: r.string('Reauth credential') };
    case MessageKind.Narrowed: {
      fields(r, at, 'Narrowed', n, 3);
      const requested = readStrings(r, 'Narrowed requested');
      return { kind, requested, effective: readStrings(r, 'Narrowed effective') };
    }
  }
  return r.fail(kindAt, `unknown message kind ${kind}`, 'unknown_message');
}
