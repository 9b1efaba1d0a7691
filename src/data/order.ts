/**
 * Broker's total order over values and structural equality. First by type index (see
 * `DATA_TYPES`), then by value: false < true; numbers numerically; strings and enum names
 * bytewise (UTF-8); addresses by their 16 bytes; subnets by network then length; ports by number
 * then protocol (unknown < tcp < udp < icmp); containers lexicographically.
 */
import { PORT_PROTOCOLS, TYPE_INDEX, type Data } from './types.js';

const PROTO_RANK: Readonly<Record<string, number>> = Object.fromEntries(PORT_PROTOCOLS.map((p, i) => [p, i]));

function cmpNum(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpReal(a: number, b: number): number {
  // NaN sorts after every number and equals itself, so the order stays total.
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  return an === bn ? 0 : an ? 1 : -1;
}

/** Compares strings by their UTF-8 bytes (equivalently, by code point). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // A surrogate encodes a code point above 0xFFFF, which sorts after every BMP character in
    // UTF-8 byte order even when the other unit is 0xE000–0xFFFF.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return cmpNum(a.length, b.length);
}

function compareSeq(a: readonly Data[], b: readonly Data[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return cmpNum(a.length, b.length);
}

/** Total order over Broker values: negative, zero or positive. */
export function compare(a: Data, b: Data): number {
  if (a.type !== b.type) return cmpNum(TYPE_INDEX[a.type], TYPE_INDEX[b.type]);
  switch (a.type) {
    case 'none':
      return 0;
    case 'boolean':
      return cmpNum(Number(a.value), Number((b as typeof a).value));
    case 'count':
    case 'integer':
      return cmpNum(a.value, (b as typeof a).value);
    case 'real':
      return cmpReal(a.value, (b as typeof a).value);
    case 'string':
      return compareStrings(a.value, (b as typeof a).value);
    case 'enum-value':
      return compareStrings(a.name, (b as typeof a).name);
    case 'address':
      return compareBytes(a.bytes, (b as typeof a).bytes);
    case 'subnet': {
      const o = b as typeof a;
      return compareBytes(a.bytes, o.bytes) || cmpNum(a.length, o.length);
    }
    case 'port': {
      const o = b as typeof a;
      return cmpNum(a.number, o.number) || cmpNum(PROTO_RANK[a.protocol]!, PROTO_RANK[o.protocol]!);
    }
    case 'timestamp':
    case 'timespan':
      return cmpNum(a.ns, (b as typeof a).ns);
    case 'set':
    case 'vector':
      return compareSeq(a.elements, (b as typeof a).elements);
    case 'table': {
      const ea = a.entries;
      const eb = (b as typeof a).entries;
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const c = compare(ea[i]![0], eb[i]![0]) || compare(ea[i]![1], eb[i]![1]);
        if (c !== 0) return c;
      }
      return cmpNum(ea.length, eb.length);
    }
  }
}

/** Structural equality (same type and value; NaN equals NaN). */
export function equals(a: Data, b: Data): boolean {
  return a === b || compare(a, b) === 0;
}

/** Binary search in a sorted array of values: index if found, else `-(insertionPoint + 1)`. */
export function search(sorted: readonly Data[], x: Data): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(sorted[mid]!, x);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -(lo + 1);
}

/** Binary search in table entries by key: index if found, else `-(insertionPoint + 1)`. */
export function searchKey(entries: readonly (readonly [Data, Data])[], key: Data): number {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(entries[mid]![0], key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -(lo + 1);
}
