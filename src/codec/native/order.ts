/**
 * Broker's total order on encoded values, without decoding them: the order of `compare` in
 * `data/order.ts`, computed from the bytes so the frame validator can check that sets and table
 * keys are sorted without allocating. Every function here expects input `validateValue` has
 * already checked (header fields and lengths are trusted).
 */
import { readFloat64, readUint16, readUint32 } from '../msgpack/reader.js';
import { ContainerMarker, isV4MappedAt, MARKER_LEAD, NativeExt } from './format.js';

// Header fields are passed through these two module variables so nothing is allocated.

let hStart = 0; // first data byte (str, ext) or first element (array)
let hLen = 0; // data bytes (str, ext) or elements (array)

function header(b: Uint8Array, p: number): void {
  const c = b[p]!;
  if (c >= 0xa0 && c <= 0xbf) {
    hStart = p + 1;
    hLen = c & 0x1f;
  } else if (c >= 0x90 && c <= 0x9f) {
    hStart = p + 1;
    hLen = c & 0x0f;
  } else if (c >= 0xd4 && c <= 0xd8) {
    hStart = p + 2;
    hLen = 1 << (c - 0xd4);
  } else {
    switch (c) {
      case 0xd9:
        hStart = p + 2;
        hLen = b[p + 1]!;
        return;
      case 0xda:
      case 0xdc:
        hStart = p + 3;
        hLen = readUint16(b, p + 1);
        return;
      case 0xdb:
      case 0xdd:
        hStart = p + 5;
        hLen = readUint32(b, p + 1);
        return;
      case 0xc7:
        hStart = p + 3;
        hLen = b[p + 1]!;
        return;
      case 0xc8:
        hStart = p + 4;
        hLen = readUint16(b, p + 1);
        return;
      default: // 0xc9
        hStart = p + 6;
        hLen = readUint32(b, p + 1);
    }
  }
}

/** End offset of the validated value at `p`. */
export function skipEncoded(b: Uint8Array, p: number): number {
  const c = b[p]!;
  if (c < 0x80 || c === 0xc0 || c === 0xc2 || c === 0xc3) return p + 1;
  switch (c) {
    case 0xcb:
    case 0xcf:
      return p + 9;
    case 0xcc:
      return p + 2;
    case 0xcd:
      return p + 3;
    case 0xce:
      return p + 5;
  }
  header(b, p);
  if ((c >= 0x90 && c <= 0x9f) || c === 0xdc || c === 0xdd) {
    const n = hLen;
    let q = hStart;
    for (let i = 0; i < n; i++) q = skipEncoded(b, q);
    return q;
  }
  return hStart + hLen;
}

// Broker's type order (DATA_TYPES).
const NONE = 0;
const BOOLEAN = 1;
const COUNT = 2;
const INTEGER = 3;
const REAL = 4;
const STRING = 5;
const ADDRESS = 6;
const SUBNET = 7;
const PORT = 8;
const TIMESTAMP = 9;
const TIMESPAN = 10;
const ENUM = 11;
const SET = 12;
const TABLE = 13;
const VECTOR = 14;
const EXT_RANK = [-1, INTEGER, ADDRESS, SUBNET, PORT, TIMESTAMP, TIMESPAN, ENUM] as const;

function rank(b: Uint8Array, p: number): number {
  const c = b[p]!;
  if (c < 0x80 || (c >= 0xcc && c <= 0xcf)) return COUNT;
  if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) return STRING;
  if ((c >= 0x90 && c <= 0x9f) || c === 0xdc || c === 0xdd) {
    header(b, p);
    if (hLen > 0 && b[hStart] === MARKER_LEAD && b[hStart + 1] === NativeExt.Marker) {
      return b[hStart + 2] === ContainerMarker.Set ? SET : TABLE;
    }
    return VECTOR;
  }
  switch (c) {
    case 0xc0:
      return NONE;
    case 0xc2:
    case 0xc3:
      return BOOLEAN;
    case 0xcb:
      return REAL;
  }
  header(b, p);
  return EXT_RANK[b[hStart - 1]!]!;
}

/** A count's value split as high and low 32 bits, compared without bigint. */
function countHigh(b: Uint8Array, p: number): number {
  return b[p] === 0xcf ? readUint32(b, p + 1) : 0;
}
function countLow(b: Uint8Array, p: number): number {
  const c = b[p]!;
  if (c < 0x80) return c;
  if (c === 0xcc) return b[p + 1]!;
  if (c === 0xcd) return readUint16(b, p + 1);
  if (c === 0xce) return readUint32(b, p + 1);
  return readUint32(b, p + 5);
}

function sign(x: number): number {
  return x < 0 ? -1 : x > 0 ? 1 : 0;
}

function compareBytesAt(a: Uint8Array, pa: number, na: number, b: Uint8Array, pb: number, nb: number): number {
  const n = Math.min(na, nb);
  for (let i = 0; i < n; i++) {
    const d = a[pa + i]! - b[pb + i]!;
    if (d !== 0) return sign(d);
  }
  return sign(na - nb);
}

/** Byte `i` of the 16-byte form of an address stored in `len` (4 or 16) bytes at `p`. */
function addrByte(b: Uint8Array, p: number, len: number, i: number): number {
  if (len === 16) return b[p + i]!;
  return i < 10 ? 0 : i < 12 ? 0xff : b[p + i - 12]!;
}

function compareAddr(a: Uint8Array, pa: number, la: number, b: Uint8Array, pb: number, lb: number): number {
  for (let i = 0; i < 16; i++) {
    const d = addrByte(a, pa, la, i) - addrByte(b, pb, lb, i);
    if (d !== 0) return sign(d);
  }
  return 0;
}

/** A subnet's prefix length in its family's terms. */
function subnetLength(b: Uint8Array, p: number, len: number): number {
  return len === 17 && isV4MappedAt(b, p + 1) ? b[p]! - 96 : b[p]!;
}

function compareReal(x: number, y: number): number {
  if (x < y) return -1;
  if (x > y) return 1;
  if (x === y) return 0;
  const xn = Number.isNaN(x);
  return xn === Number.isNaN(y) ? 0 : xn ? 1 : -1;
}

/**
 * Compares two validated encoded values in Broker's total order (the order of `compare` in
 * `data/order.ts`) without decoding them: negative, zero or positive.
 */
export function compareEncoded(a: Uint8Array, pa: number, b: Uint8Array, pb: number): number {
  const ra = rank(a, pa);
  const rb = rank(b, pb);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case NONE:
      return 0;
    case BOOLEAN:
      return sign(a[pa]! - b[pb]!);
    case COUNT:
      return sign(countHigh(a, pa) - countHigh(b, pb)) || sign(countLow(a, pa) - countLow(b, pb));
    case REAL:
      return compareReal(readFloat64(a, pa + 1), readFloat64(b, pb + 1));
    case SET:
    case TABLE:
    case VECTOR:
      return compareContainers(a, pa, b, pb, ra !== VECTOR);
  }
  header(a, pa);
  const sa = hStart;
  const la = hLen;
  header(b, pb);
  const sb = hStart;
  const lb = hLen;
  switch (ra) {
    case INTEGER:
    case TIMESTAMP:
    case TIMESPAN: {
      // Big-endian two's complement: flip the sign bit, then compare bytewise.
      const d = (a[sa]! ^ 0x80) - (b[sb]! ^ 0x80);
      return d !== 0 ? sign(d) : compareBytesAt(a, sa + 1, 7, b, sb + 1, 7);
    }
    case STRING:
    case ENUM:
      return compareBytesAt(a, sa, la, b, sb, lb);
    case ADDRESS:
      return compareAddr(a, sa, la, b, sb, lb);
    case SUBNET:
      return (
        compareAddr(a, sa + 1, la - 1, b, sb + 1, lb - 1) || sign(subnetLength(a, sa, la) - subnetLength(b, sb, lb))
      );
    case PORT:
      return sign(readUint16(a, sa) - readUint16(b, sb)) || sign(a[sa + 2]! - b[sb + 2]!);
  }
  return 0;
}

function compareContainers(a: Uint8Array, pa: number, b: Uint8Array, pb: number, marked: boolean): number {
  header(a, pa);
  let qa = hStart;
  let na = hLen;
  header(b, pb);
  let qb = hStart;
  let nb = hLen;
  if (marked) {
    qa += 3;
    na -= 1;
    qb += 3;
    nb -= 1;
  }
  const n = Math.min(na, nb);
  for (let i = 0; i < n; i++) {
    const c = compareEncoded(a, qa, b, qb);
    if (c !== 0) return c;
    qa = skipEncoded(a, qa);
    qb = skipEncoded(b, qb);
  }
  return sign(na - nb);
}
