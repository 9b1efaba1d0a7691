import type { MsgpackReader } from '../msgpack/reader.js';

/**
 * Wire constants of the native protocol's value encoding (see PROTOCOL.md, "Values"): the
 * MessagePack ext types that carry Broker's typed scalars and the container markers.
 */

/** MessagePack ext type numbers of the native value encoding. */
export const NativeExt = {
  Integer: 1,
  Address: 2,
  Subnet: 3,
  Port: 4,
  Timestamp: 5,
  Timespan: 6,
  Enum: 7,
  /** fixext1 whose data byte is a `ContainerMarker`; only ever the first element of an array. */
  Marker: 8,
} as const;
export type NativeExt = (typeof NativeExt)[keyof typeof NativeExt];

/** Data byte of the `NativeExt.Marker` fixext1 that opens a set or a table. */
export const ContainerMarker = {
  Set: 0,
  Table: 1,
} as const;
export type ContainerMarker = (typeof ContainerMarker)[keyof typeof ContainerMarker];

/** First byte of every marker: fixext1. */
export const MARKER_LEAD = 0xd4;

/** True when the 16 address bytes are v4-mapped (`::ffff:a.b.c.d`). */
export function isV4MappedAt(b: Uint8Array, p: number): boolean {
  for (let i = 0; i < 10; i++) if (b[p + i] !== 0) return false;
  return b[p + 10] === 0xff && b[p + 11] === 0xff;
}

/** True when no bit beyond the first `bits` of the `n` bytes at `p` is set. */
export function hostBitsZero(b: Uint8Array, p: number, n: number, bits: number): boolean {
  for (let i = 0; i < n; i++) {
    const keep = bits - i * 8;
    if (keep >= 8) continue;
    const mask = keep <= 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((b[p + i]! & ~mask & 0xff) !== 0) return false;
  }
  return true;
}

/**
 * Opens an array of `n` elements at the reader's position (header already read): checks depth
 * and length, and consumes a leading container marker. Returns the marker (set or table), or
 * undefined for a plain vector. Shared by the decoder and the validator so they agree.
 */
export function openContainer(r: MsgpackReader, at: number, n: number, depth: number): ContainerMarker | undefined {
  if (depth >= r.limits.maxDepth) r.fail(at, `containers nested deeper than the limit of ${r.limits.maxDepth}`);
  r.checkArrayLength(at, n);
  const b = r.b;
  const p = r.pos;
  if (!(n > 0 && b[p] === MARKER_LEAD && p + 1 < r.end && b[p + 1] === NativeExt.Marker)) return undefined;
  r.need(p, 3, 'container marker');
  const marker = b[p + 2]!;
  r.pos = p + 3;
  if (marker !== ContainerMarker.Set && marker !== ContainerMarker.Table)
    return r.fail(p, `unknown container marker ${marker}`);
  return marker;
}
