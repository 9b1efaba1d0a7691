/**
 * Zeek's key hashing for cluster pools, bit for bit: the `fnv1a32` BIF (32-bit FNV-1a over the
 * bytes Zeek sees for a value) and the `hrw_weight` BIF (rendezvous weight of a key digest at a
 * site), plus `HashHRW::get_site` (highest weight wins, ties to the larger site id).
 *
 * What Zeek hashes (src/zeek.bif `fnva`, src/Val.cc, src/Desc.cc, Zeek >= 7.1):
 * - a `string`: its raw bytes;
 * - any other value: its binary description — the type tag as a little-endian int32, then the
 *   value: `bool` (tag 1) and `int` (tag 2) as int64 LE, `count` (tag 3) as uint64 LE,
 *   `double` (tag 4) as float64 LE.
 *
 * How JS keys map onto Zeek values:
 * - a JS `string` is a Zeek string, hashed as its UTF-8 bytes (a lone surrogate becomes U+FFFD,
 *   as `TextEncoder` does); a `Uint8Array` is a Zeek string of exactly those bytes;
 * - a `bigint` is a `count` (0..2^64−1);
 * - a `boolean` is a `bool`;
 * - a `number` is a `double` — even `123`: Zeek's `123` is a count and hashes differently, so
 *   pass `count(123)` (or `123n`) to hash a count;
 * - Broker `Data`: `string`, `count`, `integer`, `real`, `boolean` map to Zeek's string, count,
 *   int, double and bool. Other types throw a `ValueError` (their Zeek hash input depends on
 *   Zeek's text forms and is not reproduced here).
 */
import { ValueError } from '../errors.js';
import type { Data } from '../data/types.js';

/** A key for `fnv1a32` / HRW; see the module comment for how each form maps to a Zeek value. */
export type HrwKey = string | Uint8Array | number | bigint | boolean | Data;

/** FNV-1a 32-bit offset basis, 2166136261. */
const FNV32_OFFSET = 0x811c9dc5;
/** FNV-1a 32-bit prime, 16777619. */
const FNV32_PRIME = 0x01000193;

/** Zeek's `TypeTag` values for the hashed scalar types (src/Type.h). */
const TAG_BOOL = 1;
const TAG_INT = 2;
const TAG_COUNT = 3;
const TAG_DOUBLE = 4;

const MAX_UINT64 = (1n << 64n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

/** Scratch space for a float64's bytes (the core is single-threaded; no call re-enters). */
const scratch = new DataView(new ArrayBuffer(8));

/** One FNV-1a step: xor the byte in, multiply by the prime modulo 2^32 (as an int32). */
function step(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV32_PRIME);
}

function hashUint32Le(h: number, v: number): number {
  h = step(h, v & 0xff);
  h = step(h, (v >>> 8) & 0xff);
  h = step(h, (v >>> 16) & 0xff);
  return step(h, (v >>> 24) & 0xff);
}

/** The tag (int32 LE) and a 64-bit two's-complement value (LE). */
function hashTagged64(tag: number, v: bigint): number {
  const h = hashUint32Le(FNV32_OFFSET, tag);
  const u = BigInt.asUintN(64, v);
  return hashUint32Le(hashUint32Le(h, Number(u & 0xffffffffn)), Number(u >> 32n));
}

function hashDouble(v: number): number {
  scratch.setFloat64(0, v, true);
  let h = hashUint32Le(FNV32_OFFSET, TAG_DOUBLE);
  for (let i = 0; i < 8; i++) h = step(h, scratch.getUint8(i));
  return h;
}

/** The UTF-8 bytes of `s`, hashed without materialising them. */
function hashUtf8(s: string): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = step(h, c);
      continue;
    }
    if (c < 0x800) {
      h = step(step(h, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = step(h, 0xf0 | (cp >> 18));
        h = step(h, 0x80 | ((cp >> 12) & 0x3f));
        h = step(h, 0x80 | ((cp >> 6) & 0x3f));
        h = step(h, 0x80 | (cp & 0x3f));
        continue;
      }
      c = 0xfffd; // lone surrogate, replaced as TextEncoder does
    }
    h = step(h, 0xe0 | (c >> 12));
    h = step(h, 0x80 | ((c >> 6) & 0x3f));
    h = step(h, 0x80 | (c & 0x3f));
  }
  return h;
}

function hashBytes(bytes: Uint8Array): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < bytes.length; i++) h = step(h, bytes[i]!);
  return h;
}

function hashCount(v: bigint): number {
  if (v < 0n || v > MAX_UINT64) throw new ValueError(`fnv1a32: count ${v} is outside 0..2^64-1`);
  return hashTagged64(TAG_COUNT, v);
}

function hashKey(key: HrwKey): number {
  switch (typeof key) {
    case 'string':
      return hashUtf8(key);
    case 'number':
      return hashDouble(key);
    case 'bigint':
      return hashCount(key);
    case 'boolean':
      return hashTagged64(TAG_BOOL, key ? 1n : 0n);
    default:
      break;
  }
  if (key instanceof Uint8Array) return hashBytes(key);
  switch (key.type) {
    case 'string':
      return hashUtf8(key.value);
    case 'count':
      return hashCount(key.value);
    case 'integer':
      if (key.value < MIN_INT64 || key.value > MAX_INT64) {
        throw new ValueError(`fnv1a32: integer ${key.value} is outside the int64 range`);
      }
      return hashTagged64(TAG_INT, key.value);
    case 'real':
      return hashDouble(key.value);
    case 'boolean':
      return hashTagged64(TAG_BOOL, key.value ? 1n : 0n);
    default:
      throw new ValueError(`fnv1a32: cannot hash a ${key.type} the way Zeek does`);
  }
}

/**
 * Zeek's `fnv1a32(key)`: 32-bit FNV-1a of the key's bytes as Zeek sees them, as an unsigned
 * number (0..2^32−1). See the module comment for how JS values map to Zeek values.
 */
export function fnv1a32(key: HrwKey): number {
  return hashKey(key) >>> 0;
}

/** The LCG constants of Zeek's `hrw_weight` (the ones the original HRW paper recommends). */
const HRW_A = 1103515245;
const HRW_B = 12345;

/**
 * Zeek's `hrw_weight(digest, siteId)`: with `d = digest & 0x7fffffff` and 32-bit unsigned
 * arithmetic, `(A * ((A * site + B) ^ d) + B) mod 2^31`. Both inputs are taken modulo 2^32, as
 * Zeek's `uint32_t` conversions do. The result is in 0..2^31−1. (Masking `d` cannot change the
 * result — with `A` odd, bit 31 of the xor only reaches bit 31 of the product — but Zeek does it.)
 */
export function hrwWeight(digest: number, siteId: number): number {
  const d = digest & 0x7fffffff;
  const inner = (Math.imul(HRW_A, siteId >>> 0) + HRW_B) >>> 0;
  const mixed = (inner ^ d) >>> 0;
  return (Math.imul(HRW_A, mixed) + HRW_B) & 0x7fffffff;
}

/**
 * `HashHRW::get_site`: the site id with the highest `hrwWeight(digest, id)`; on equal weights the
 * larger id wins. `undefined` when there are no sites. Ids are uint32 (Zeek's site ids are
 * `fnv1a32` outputs).
 */
export function hrwSelect(digest: number, siteIds: Iterable<number>): number | undefined {
  let best: number | undefined;
  let bestWeight = -1;
  for (const id of siteIds) {
    const w = hrwWeight(digest, id);
    if (w > bestWeight || (w === bestWeight && best !== undefined && id > best)) {
      bestWeight = w;
      best = id;
    }
  }
  return best;
}

/** `hrwSelect(fnv1a32(key), siteIds)`: the site a key maps to among `siteIds`. */
export function hrwSite(key: HrwKey, siteIds: Iterable<number>): number | undefined {
  return hrwSelect(fnv1a32(key), siteIds);
}
