/** Shared helpers for the native MessagePack codec tests. */
import { decode as genericDecode, ExtensionCodec } from '@msgpack/msgpack';
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  DecodeError,
  address,
  boolean,
  count,
  enumValue,
  equals,
  integer,
  none,
  port,
  set,
  string,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
  type Data,
  type PortProtocol,
} from 'isobroker';
import { MessageKind, type NativeMessage } from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';

/** Bytes from a hex string; spaces are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Hex text of bytes, space-separated. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Concatenates byte strings. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * Structural identity, stricter than `equals`: also tells −0 from 0 (and keeps NaN equal to NaN),
 * and requires the same type at every level.
 */
export function sameData(a: Data, b: Data): boolean {
  if (!equals(a, b)) return false;
  switch (a.type) {
    case 'real':
      return Object.is(a.value, (b as typeof a).value);
    case 'set':
    case 'vector': {
      const o = b as typeof a;
      return a.elements.every((x, i) => sameData(x, o.elements[i]!));
    }
    case 'table': {
      const o = b as typeof a;
      return a.entries.every(([k, v], i) => sameData(k, o.entries[i]![0]) && sameData(v, o.entries[i]![1]));
    }
    default:
      return true;
  }
}

/** Runs `fn` and returns the DecodeError it throws (failing the test if it throws anything else). */
export function decodeErrorOf(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected a DecodeError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a DecodeError, but nothing was thrown');
}

/** Asserts `fn` throws a DecodeError with `code` whose message contains every fragment. */
export function expectDecodeError(
  fn: () => unknown,
  fragments: readonly (string | RegExp)[],
  code = 'deserialization_failed',
): DecodeError {
  const err = decodeErrorOf(fn);
  expect(err.code).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
  return err;
}

// --- a third-party view: @msgpack/msgpack's generic decoder with our ext types ------------------

class Ext {
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {}
}

/** An ExtensionCodec that accepts ext types 1–8 and keeps their data. */
export const genericExtensions = new ExtensionCodec();
for (let type = 1; type <= 8; type++) {
  genericExtensions.register({
    type,
    encode: () => null,
    decode: (data: Uint8Array) => new Ext(type, Uint8Array.from(data)),
  });
}

/** Decodes bytes with the generic decoder (bigints for 64-bit integers). */
export function decodeGeneric(bytes: Uint8Array): unknown {
  return genericDecode(bytes, { extensionCodec: genericExtensions, useBigInt64: true });
}

function int64(data: Uint8Array): bigint {
  return new DataView(data.buffer, data.byteOffset, 8).getBigInt64(0);
}

const PROTOCOLS: readonly PortProtocol[] = ['unknown', 'tcp', 'udp', 'icmp'];

/**
 * Interprets a generically decoded value by PROTOCOL.md's value table alone — written
 * independently of the codec, so agreement shows the format is what the document says.
 */
export function fromGeneric(x: unknown): Data {
  if (x === null) return none();
  if (typeof x === 'boolean') return boolean(x);
  // float64 and uint alike come out as numbers; callers keep reals out (realFreeDataArb).
  if (typeof x === 'number') return count(x);
  if (typeof x === 'bigint') return count(x);
  if (typeof x === 'string') return string(x);
  if (x instanceof Ext) {
    const d = x.data;
    switch (x.type) {
      case 1:
        return integer(int64(d));
      case 2:
        return address(d);
      case 3:
        return subnet(address(d.subarray(1)), d[0]!);
      case 4:
        return port((d[0]! << 8) | d[1]!, PROTOCOLS[d[2]!]!);
      case 5:
        return timestamp(int64(d));
      case 6:
        return timespan(int64(d));
      case 7:
        return enumValue(new TextDecoder().decode(d));
    }
    throw new Error(`unexpected ext ${x.type}`);
  }
  if (Array.isArray(x)) {
    const first: unknown = x[0];
    if (first instanceof Ext && first.type === 8) {
      const rest = x.slice(1).map(fromGeneric);
      if (first.data[0] === 0) return set(rest);
      const entries: [Data, Data][] = [];
      for (let i = 0; i < rest.length; i += 2) entries.push([rest[i]!, rest[i + 1]!]);
      return table(entries);
    }
    return vector(x.map(fromGeneric));
  }
  throw new Error(`unexpected generic value ${String(x)}`);
}

/**
 * Any value with every real replaced by a string: the generic decoder gives plain numbers for
 * both float64 and uint, so values compared through it must not hold reals.
 */
export function realFreeDataArb(): fc.Arbitrary<Data> {
  return dataArb().map(withoutReals);
}

function withoutReals(v: Data): Data {
  switch (v.type) {
    case 'real':
      return string(`real ${String(v.value)}`);
    case 'set':
      return set(v.elements.map(withoutReals));
    case 'table':
      return table(v.entries.map(([k, x]) => [withoutReals(k), withoutReals(x)] as const));
    case 'vector':
      return vector(v.elements.map(withoutReals));
    default:
      return v;
  }
}

// --- messages ----------------------------------------------------------------------------------

const id = fc.uint8Array({ minLength: 16, maxLength: 16 });
const uint = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'grapheme', maxLength: 30 });

/** Any native message; Data messages carry a value, converted to valueBytes by the caller. */
export function messageArb(encodeValue: (v: Data) => Uint8Array): fc.Arbitrary<NativeMessage> {
  return fc.oneof(
    fc.record({
      kind: fc.constant(MessageKind.Hello),
      version: uint,
      id,
      name: text,
      role: fc.constantFrom('manager', 'logger', 'proxy', 'worker', 'client'),
      credential: fc.option(text, { nil: null }),
    }),
    fc.record({
      kind: fc.constant(MessageKind.Announce),
      origin: id,
      version: uint,
      name: text,
      filter: fc.array(text, { maxLength: 5 }),
      neighbors: fc.array(id, { maxLength: 5 }),
    }),
    fc
      .record({ topic: text, origin: id, seq: uint, ttl: fc.nat({ max: 255 }), value: dataArb({ depth: 2 }) })
      .map(({ value, ...rest }) => ({ kind: MessageKind.Data, ...rest, valueBytes: encodeValue(value) })),
    fc.record({ kind: fc.constant(MessageKind.Error), code: text, context: text }),
    fc.record({ kind: fc.constant(MessageKind.Ping), nonce: uint }),
    fc.record({ kind: fc.constant(MessageKind.Pong), nonce: uint }),
    fc.record({ kind: fc.constant(MessageKind.Bye), code: text, context: text }),
  );
}

/** Compares a decoded message with the one that was encoded (byte arrays by content). */
export function expectSameMessage(got: NativeMessage, want: NativeMessage): void {
  expect(got.kind).toBe(want.kind);
  const norm = (m: NativeMessage): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(m).map(([k, v]) => [
        k,
        v instanceof Uint8Array
          ? toHex(v)
          : Array.isArray(v)
            ? v.map((x: unknown) => (x instanceof Uint8Array ? toHex(x) : x))
            : v,
      ]),
    );
  expect(norm(got)).toEqual(norm(want));
}
