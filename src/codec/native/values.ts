/**
 * Broker values ↔ the native protocol's MessagePack encoding (PROTOCOL.md, "Values"). Hand-written
 * and specialised: output straight into a reused slab, no generic object mapping, a fast path for
 * short ASCII strings, and a decoder that checks every length against the limits before
 * allocating. The encoder trusts its input to be well-formed (as the constructors guarantee).
 */
import { boolean as booleanData, none as noneData } from '../../data/constructors.js';
import { compare } from '../../data/order.js';
import { PORT_PROTOCOLS, type Data } from '../../data/types.js';
import { isV4 } from '../../data/address.js';
import {
  asDecodeError,
  MsgpackReader,
  readFloat64,
  readInt64,
  readUint16,
  readUint32,
  readUint64,
} from '../msgpack/reader.js';
import { decodeUtf8 } from '../msgpack/utf8.js';
import { MsgpackWriter } from '../msgpack/writer.js';
import { ContainerMarker, isV4MappedAt, MARKER_LEAD, NativeExt, openContainer } from './format.js';
import { DEFAULT_NATIVE_LIMITS, resolveNativeLimits, type NativeLimits } from './limits.js';
import { checkExt, notAValue, validateValue } from './validate.js';

const PROTOCOL_CODE: Readonly<Record<string, number>> = Object.freeze({ unknown: 0, tcp: 1, udp: 2, icmp: 3 });

// ---------------------------------------------------------------------------------------------
// Encoding

/** Appends the encoding of `v` to `w`. */
export function writeValue(w: MsgpackWriter, v: Data): void {
  switch (v.type) {
    case 'vector': {
      const xs = v.elements;
      w.arrayHeader(xs.length);
      for (let i = 0; i < xs.length; i++) writeValue(w, xs[i]!);
      return;
    }
    case 'string':
      w.str(v.value);
      return;
    case 'count':
      w.uintBig(v.value);
      return;
    case 'real':
      w.float64(v.value);
      return;
    case 'none':
      w.nil();
      return;
    case 'boolean':
      w.bool(v.value);
      return;
    case 'integer':
      w.extInt64(NativeExt.Integer, v.value);
      return;
    case 'timestamp':
      w.extInt64(NativeExt.Timestamp, v.ns);
      return;
    case 'timespan':
      w.extInt64(NativeExt.Timespan, v.ns);
      return;
    case 'address':
      if (isV4(v.bytes)) {
        w.extHeader(NativeExt.Address, 4);
        writeBytes(w, v.bytes, 12, 4);
      } else {
        w.extHeader(NativeExt.Address, 16);
        writeBytes(w, v.bytes, 0, 16);
      }
      return;
    case 'subnet':
      if (isV4(v.bytes)) {
        w.extHeader(NativeExt.Subnet, 5);
        w.byte(v.length);
        writeBytes(w, v.bytes, 12, 4);
      } else {
        w.extHeader(NativeExt.Subnet, 17);
        w.byte(v.length);
        writeBytes(w, v.bytes, 0, 16);
      }
      return;
    case 'port': {
      w.ensure(5);
      const b = w.buf;
      const p = w.pos;
      b[p] = 0xc7; // ext8
      b[p + 1] = 3;
      b[p + 2] = NativeExt.Port;
      b[p + 3] = v.number >>> 8;
      b[p + 4] = v.number & 0xff;
      w.pos = p + 5;
      w.byte(PROTOCOL_CODE[v.protocol]!);
      return;
    }
    case 'enum-value':
      w.extStr(NativeExt.Enum, v.name);
      return;
    case 'set': {
      const xs = v.elements;
      w.arrayHeader(xs.length + 1);
      writeMarker(w, ContainerMarker.Set);
      for (let i = 0; i < xs.length; i++) writeValue(w, xs[i]!);
      return;
    }
    case 'table': {
      const es = v.entries;
      w.arrayHeader(es.length * 2 + 1);
      writeMarker(w, ContainerMarker.Table);
      for (let i = 0; i < es.length; i++) {
        const e = es[i]!;
        writeValue(w, e[0]);
        writeValue(w, e[1]);
      }
      return;
    }
    default:
      writePreEncoded(w, v);
  }
}

// ---------------------------------------------------------------------------------------------
// Pre-encoded values

const PRE_ENCODED = 'pre-encoded';

/** What `preEncoded` makes: no Broker value type, so it reaches only `writeValue`'s default case. */
interface PreEncoded {
  readonly type: typeof PRE_ENCODED;
  readonly bytes: Uint8Array;
}

/**
 * A value already in the native encoding, to be spliced verbatim wherever `writeValue` meets it
 * (inside a vector, a store message, …): bytes read back from storage are sent on without being
 * decoded and encoded again. The bytes are copied unchecked — whoever makes one vouches that they
 * are exactly one value that peers accept (`validateEncodedValue` checks that). It is a stand-in
 * for encoding only: nothing but the encoder and `encodedSize` knows it, so it must never reach
 * user code or any other function taking `Data`.
 */
export function preEncoded(bytes: Uint8Array): Data {
  const v: PreEncoded = { type: PRE_ENCODED, bytes };
  return v as unknown as Data;
}

/** The bytes of a `preEncoded` stand-in, or undefined for any other value. */
export function preEncodedBytes(v: Data): Uint8Array | undefined {
  const p = v as unknown as PreEncoded;
  return p.type === PRE_ENCODED ? p.bytes : undefined;
}

function writePreEncoded(w: MsgpackWriter, v: never): void {
  const bytes = preEncodedBytes(v);
  if (bytes === undefined) throw new TypeError(`not a Broker value: ${String((v as { type?: unknown }).type)}`);
  w.raw(bytes);
}

/** Copies `n` bytes of `src` from `from` (no subarray view). */
function writeBytes(w: MsgpackWriter, src: Uint8Array, from: number, n: number): void {
  w.ensure(n);
  const b = w.buf;
  const p = w.pos;
  for (let i = 0; i < n; i++) b[p + i] = src[from + i]!;
  w.pos = p + n;
}

function writeMarker(w: MsgpackWriter, marker: number): void {
  w.ensure(3);
  w.buf[w.pos] = MARKER_LEAD;
  w.buf[w.pos + 1] = NativeExt.Marker;
  w.buf[w.pos + 2] = marker;
  w.pos += 3;
}

const valueWriter = new MsgpackWriter();

/** Encodes one Broker value as a standalone MessagePack byte string. */
export function encodeValue(v: Data): Uint8Array {
  try {
    writeValue(valueWriter, v);
  } catch (e) {
    valueWriter.reset();
    throw e;
  }
  return valueWriter.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

const SMALL_COUNTS: readonly Data[] = Array.from({ length: 128 }, (_, i) =>
  Object.freeze({ type: 'count' as const, value: BigInt(i) }),
);
const NONE = noneData();
const TRUE = booleanData(true);
const FALSE = booleanData(false);

/** Reads one value at the cursor; `depth` is the number of containers around it. */
export function readValue(r: MsgpackReader, depth: number): Data {
  const b = r.b;
  const at = r.pos;
  if (at >= r.end) return r.fail(at, 'input ends where a value was expected');
  const c = b[at]!;
  if (c < 0x80) {
    r.pos = at + 1;
    return SMALL_COUNTS[c]!;
  }
  if (c >= 0xa0 && c <= 0xbf) {
    r.pos = at + 1;
    return readStringBody(r, at, c & 0x1f);
  }
  if (c >= 0x90 && c <= 0x9f) {
    r.pos = at + 1;
    return readArray(r, at, c & 0x0f, depth);
  }
  switch (c) {
    case 0xc0:
      r.pos = at + 1;
      return NONE;
    case 0xc2:
      r.pos = at + 1;
      return FALSE;
    case 0xc3:
      r.pos = at + 1;
      return TRUE;
    case 0xcb:
      r.need(at, 9, 'float64');
      r.pos = at + 9;
      return { type: 'real', value: readFloat64(b, at + 1) };
    case 0xcc:
      r.need(at, 2, 'uint8');
      r.pos = at + 2;
      return { type: 'count', value: BigInt(b[at + 1]!) };
    case 0xcd:
      r.need(at, 3, 'uint16');
      r.pos = at + 3;
      return { type: 'count', value: BigInt(readUint16(b, at + 1)) };
    case 0xce:
      r.need(at, 5, 'uint32');
      r.pos = at + 5;
      return { type: 'count', value: BigInt(readUint32(b, at + 1)) };
    case 0xcf:
      r.need(at, 9, 'uint64');
      r.pos = at + 9;
      return { type: 'count', value: readUint64(b, at + 1) };
    case 0xd9:
    case 0xda:
    case 0xdb:
      return readStringBody(r, at, r.strHeader('a string'));
    case 0xdc:
    case 0xdd:
      return readArray(r, at, r.arrayHeader('a container'), depth);
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
    case 0xc7:
    case 0xc8:
    case 0xc9:
      return readExt(r, at, r.ext(at, c));
  }
  return r.fail(at, notAValue(c));
}

function readStringBody(r: MsgpackReader, at: number, n: number): Data {
  if (n > r.end - r.pos || n > r.limits.maxStringBytes) r.checkStringLength(at, n);
  const s = decodeUtf8(r.b, r.pos, n);
  if (s === undefined) return r.fail(at, 'string is not valid UTF-8');
  r.pos += n;
  return { type: 'string', value: s };
}

function readArray(r: MsgpackReader, at: number, n: number, depth: number): Data {
  const marker = openContainer(r, at, n, depth);
  if (marker === ContainerMarker.Set) return readSet(r, n - 1, depth + 1);
  if (marker === ContainerMarker.Table) return readTable(r, at, n - 1, depth + 1);
  const elements: Data[] = [];
  for (let i = 0; i < n; i++) elements.push(readValue(r, depth + 1));
  return { type: 'vector', elements };
}

function readSet(r: MsgpackReader, n: number, depth: number): Data {
  const elements: Data[] = [];
  let prev: Data | undefined;
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const x = readValue(r, depth);
    if (prev !== undefined && compare(prev, x) >= 0) {
      r.fail(at, `set element ${i} is not greater than the one before (sets are sorted, without duplicates)`);
    }
    elements.push(x);
    prev = x;
  }
  return { type: 'set', elements };
}

function readTable(r: MsgpackReader, at: number, n: number, depth: number): Data {
  if (n % 2 !== 0) r.fail(at, `table holds ${n} elements after its marker; keys and values come in pairs`);
  const entries: (readonly [Data, Data])[] = [];
  let prev: Data | undefined;
  for (let i = 0; i < n; i += 2) {
    const keyAt = r.pos;
    const k = readValue(r, depth);
    if (prev !== undefined && compare(prev, k) >= 0) {
      r.fail(keyAt, `table key ${i / 2} is not greater than the one before (keys are sorted and unique)`);
    }
    entries.push([k, readValue(r, depth)]);
    prev = k;
  }
  return { type: 'table', entries };
}

function readExt(r: MsgpackReader, at: number, len: number): Data {
  const b = r.b;
  const p = r.pos;
  const type = b[p - 1]!;
  checkExt(r, at, type, p, len);
  r.pos = p + len;
  switch (type) {
    case NativeExt.Integer:
      return { type: 'integer', value: readInt64(b, p) };
    case NativeExt.Timestamp:
      return { type: 'timestamp', ns: readInt64(b, p) };
    case NativeExt.Timespan:
      return { type: 'timespan', ns: readInt64(b, p) };
    case NativeExt.Address:
      return { type: 'address', bytes: len === 4 ? v4Mapped(b, p) : b.slice(p, p + 16) };
    case NativeExt.Subnet: {
      const prefix = b[p]!;
      if (len === 5) return { type: 'subnet', bytes: v4Mapped(b, p + 1), length: prefix };
      // A v4-mapped network here has its length in IPv6 terms (≥ 96, as its host bits are zero).
      const length = isV4MappedAt(b, p + 1) ? prefix - 96 : prefix;
      return { type: 'subnet', bytes: b.slice(p + 1, p + 17), length };
    }
    case NativeExt.Port:
      return { type: 'port', number: readUint16(b, p), protocol: PORT_PROTOCOLS[b[p + 2]!]! };
    default: {
      // NativeExt.Enum (checkExt rejected every other type).
      const name = decodeUtf8(b, p, len);
      if (name === undefined) return r.fail(at, 'enum name is not valid UTF-8');
      return { type: 'enum-value', name };
    }
  }
}

function v4Mapped(b: Uint8Array, p: number): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = b[p]!;
  out[13] = b[p + 1]!;
  out[14] = b[p + 2]!;
  out[15] = b[p + 3]!;
  return out;
}

const valueReader = new MsgpackReader(DEFAULT_NATIVE_LIMITS);

/** The last frozen limits given to `decodeValue` and their resolved form (a delivery's limits repeat). */
let lastLimits: NativeLimits | undefined;
let lastResolved: Readonly<Required<NativeLimits>> = DEFAULT_NATIVE_LIMITS;

/** `resolveNativeLimits`, remembered for frozen limits (which cannot change behind our back). */
function resolvedLimits(limits: NativeLimits | undefined): Readonly<Required<NativeLimits>> {
  if (limits === undefined) return DEFAULT_NATIVE_LIMITS;
  if (limits === lastLimits) return lastResolved;
  const resolved = resolveNativeLimits(limits);
  if (Object.isFrozen(limits)) {
    lastLimits = limits;
    lastResolved = resolved;
  }
  return resolved;
}

/** Decodes one value encoded by `encodeValue` (or taken from a `DataMessage`). */
export function decodeValue(bytes: Uint8Array, limits?: NativeLimits): Data {
  const lim = resolvedLimits(limits);
  const r = valueReader;
  r.reset(bytes, lim);
  try {
    if (bytes.length > lim.maxFrameBytes) {
      r.fail(0, `value of ${bytes.length} bytes exceeds the frame limit of ${lim.maxFrameBytes}`);
    }
    const v = readValue(r, 0);
    if (r.pos !== r.end) r.fail(r.pos, `${r.end - r.pos} trailing bytes after the value`);
    return v;
  } catch (e) {
    throw asDecodeError(e, r.pos);
  } finally {
    r.reset(EMPTY, lim);
  }
}

const EMPTY = new Uint8Array(0);

const validateReader = new MsgpackReader(DEFAULT_NATIVE_LIMITS);

/**
 * Checks that `bytes` are exactly one value `decodeValue` accepts under `limits` — without
 * decoding it (no strings or objects are built) — and throws the `DecodeError` it would throw
 * otherwise.
 */
export function validateEncodedValue(bytes: Uint8Array, limits?: NativeLimits): void {
  const lim = resolveNativeLimits(limits);
  const r = validateReader;
  r.reset(bytes, lim);
  try {
    if (bytes.length > lim.maxFrameBytes) {
      r.fail(0, `value of ${bytes.length} bytes exceeds the frame limit of ${lim.maxFrameBytes}`);
    }
    validateValue(r, 0);
    if (r.pos !== r.end) r.fail(r.pos, `${r.end - r.pos} trailing bytes after the value`);
  } catch (e) {
    throw asDecodeError(e, r.pos);
  } finally {
    r.reset(EMPTY, lim);
  }
}
