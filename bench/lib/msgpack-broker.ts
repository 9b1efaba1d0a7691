/**
 * Broker values through the general-purpose `@msgpack/msgpack` library, writing the same bytes as
 * the native codec (`encodeValue`): the codec section's "what if we had not written our own"
 * contestant. A `Data` tree is mapped to the plain JavaScript tree the library encodes (typed
 * scalars as `ExtData` with the native ext type numbers, sets and tables as arrays led by the
 * marker ext, counts below 2^32 as numbers, larger ones as bigints), and a decoded tree is mapped back to `Data`.
 *
 * What it does not do, and the native decoder does: no limits on lengths or depth, no check that
 * strings are valid UTF-8 or that sets and tables are sorted, no check of ext payload lengths
 * beyond what a malformed value needs to fail. An integral `real` (e.g. 1.0) comes back as a
 * `count`, because the library writes every safe-integer number as a MessagePack integer.
 */
import { Decoder, Encoder, ExtData } from '@msgpack/msgpack';
import type { Data } from '../../src/data/types.js';

// The native ext type numbers and container markers (PROTOCOL.md, "Values"; src/codec/native/format.ts).
const EXT_INTEGER = 1;
const EXT_ADDRESS = 2;
const EXT_SUBNET = 3;
const EXT_PORT = 4;
const EXT_TIMESTAMP = 5;
const EXT_TIMESPAN = 6;
const EXT_ENUM = 7;
const EXT_MARKER = 8;
const SET_MARKER = new ExtData(EXT_MARKER, Uint8Array.of(0));
const TABLE_MARKER = new ExtData(EXT_MARKER, Uint8Array.of(1));
const PROTOCOLS = ['unknown', 'tcp', 'udp', 'icmp'] as const;
const PROTOCOL_CODE: Readonly<Record<string, number>> = { unknown: 0, tcp: 1, udp: 2, icmp: 3 };

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A tree `@msgpack/msgpack` encodes as-is. */
type Plain = null | boolean | number | bigint | string | ExtData | Plain[];

function int64(type: number, v: bigint): ExtData {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigInt64(0, v);
  return new ExtData(type, data);
}

function isV4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** `Data` → the library's input tree. */
export function toPlain(v: Data): Plain {
  switch (v.type) {
    case 'none':
      return null;
    case 'boolean':
      return v.value;
    case 'count':
      // With useBigInt64 the library writes a number above 2^32 as a float64, so those go as bigints.
      return v.value < 0x100000000n ? Number(v.value) : v.value;
    case 'integer':
      return int64(EXT_INTEGER, v.value);
    case 'real':
      return v.value;
    case 'string':
      return v.value;
    case 'address':
      return new ExtData(EXT_ADDRESS, isV4(v.bytes) ? v.bytes.slice(12) : v.bytes);
    case 'subnet': {
      const v4 = isV4(v.bytes);
      const data = new Uint8Array(v4 ? 5 : 17);
      data[0] = v.length;
      data.set(v4 ? v.bytes.subarray(12) : v.bytes, 1);
      return new ExtData(EXT_SUBNET, data);
    }
    case 'port':
      return new ExtData(EXT_PORT, Uint8Array.of(v.number >>> 8, v.number & 0xff, PROTOCOL_CODE[v.protocol]!));
    case 'timestamp':
      return int64(EXT_TIMESTAMP, v.ns);
    case 'timespan':
      return int64(EXT_TIMESPAN, v.ns);
    case 'enum-value':
      return new ExtData(EXT_ENUM, utf8Encoder.encode(v.name));
    case 'set':
      return [SET_MARKER, ...v.elements.map(toPlain)];
    case 'table': {
      const out: Plain[] = [TABLE_MARKER];
      for (const [k, x] of v.entries) out.push(toPlain(k), toPlain(x));
      return out;
    }
    case 'vector':
      return v.elements.map(toPlain);
  }
}

function v4Mapped(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(b, 12);
  return out;
}

function fromExt(e: ExtData): Data {
  const d = e.data;
  if (!(d instanceof Uint8Array)) throw new TypeError('ext data must be bytes');
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  switch (e.type) {
    case EXT_INTEGER:
      return { type: 'integer', value: view.getBigInt64(0) };
    case EXT_TIMESTAMP:
      return { type: 'timestamp', ns: view.getBigInt64(0) };
    case EXT_TIMESPAN:
      return { type: 'timespan', ns: view.getBigInt64(0) };
    case EXT_ADDRESS:
      return { type: 'address', bytes: d.length === 4 ? v4Mapped(d) : d.slice() };
    case EXT_SUBNET:
      return d.length === 5
        ? { type: 'subnet', bytes: v4Mapped(d.subarray(1)), length: d[0]! }
        : { type: 'subnet', bytes: d.slice(1), length: isV4(d.subarray(1)) ? d[0]! - 96 : d[0]! };
    case EXT_PORT:
      return { type: 'port', number: view.getUint16(0), protocol: PROTOCOLS[d[2]!] ?? 'unknown' };
    case EXT_ENUM:
      return { type: 'enum-value', name: utf8Decoder.decode(d) };
    default:
      throw new TypeError(`not a Broker ext type: ${e.type}`);
  }
}

function markerOf(x: unknown): number | undefined {
  return x instanceof ExtData && x.type === EXT_MARKER && x.data instanceof Uint8Array ? x.data[0] : undefined;
}

/** The library's output tree → `Data`. */
export function fromPlain(x: unknown): Data {
  if (x === null) return { type: 'none' };
  switch (typeof x) {
    case 'boolean':
      return { type: 'boolean', value: x };
    case 'string':
      return { type: 'string', value: x };
    case 'bigint':
      return { type: 'count', value: x };
    case 'number':
      return Number.isInteger(x) && x >= 0 ? { type: 'count', value: BigInt(x) } : { type: 'real', value: x };
  }
  if (x instanceof ExtData) return fromExt(x);
  if (Array.isArray(x)) {
    const marker = markerOf(x[0]);
    if (marker === 0) return { type: 'set', elements: x.slice(1).map(fromPlain) };
    if (marker === 1) {
      const entries: [Data, Data][] = [];
      for (let i = 1; i + 1 < x.length; i += 2) entries.push([fromPlain(x[i]), fromPlain(x[i + 1])]);
      return { type: 'table', entries };
    }
    return { type: 'vector', elements: x.map(fromPlain) };
  }
  throw new TypeError(`not a Broker value: ${typeof x}`);
}

// One encoder and one decoder, reused: the library documents instances as faster than the
// `encode`/`decode` functions, which build a new one per call.
const encoder = new Encoder({ useBigInt64: true });
const decoder = new Decoder({ useBigInt64: true });

/** The library alone: encodes a tree `toPlain` made (no `Data` conversion timed). */
export function encodePlainWithMsgpackLib(tree: unknown): Uint8Array {
  return encoder.encode(tree);
}

/** The library alone: decodes to its own tree (no `Data` conversion timed). */
export function decodeToPlainWithMsgpackLib(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

/** Encodes `v` with `@msgpack/msgpack` into the native codec's bytes. */
export function encodeWithMsgpackLib(v: Data): Uint8Array {
  return encoder.encode(toPlain(v));
}

/** Decodes native-codec bytes with `@msgpack/msgpack` into `Data`. */
export function decodeWithMsgpackLib(bytes: Uint8Array): Data {
  return fromPlain(decoder.decode(bytes));
}
