/**
 * Broker's data model: fifteen types, listed here in Broker's type order (the order used by the
 * total order in `order.ts`). Values are immutable plain objects tagged by `type`; the tags are
 * Broker JSON v1's `@data-type` names.
 *
 * - 64-bit integers (count, integer) and nanosecond times (timestamp, timespan) are `bigint`.
 * - Addresses are always 16 bytes; IPv4 is stored v4-mapped (`::ffff:a.b.c.d`), as Broker does.
 * - Sets and tables are sorted by the total order and hold no duplicates (constructors ensure it).
 */

export const DATA_TYPES = [
  'none',
  'boolean',
  'count',
  'integer',
  'real',
  'string',
  'address',
  'subnet',
  'port',
  'timestamp',
  'timespan',
  'enum-value',
  'set',
  'table',
  'vector',
] as const;

/** The name of a Broker data type (`data.type`). */
export type DataType = (typeof DATA_TYPES)[number];

/** Index of each type in Broker's type order. */
export const TYPE_INDEX: Readonly<Record<DataType, number>> = Object.freeze(
  Object.fromEntries(DATA_TYPES.map((t, i) => [t, i])) as Record<DataType, number>,
);

export const PORT_PROTOCOLS = ['unknown', 'tcp', 'udp', 'icmp'] as const;
/** Transport protocol of a port; the array order above is Broker's order. */
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** Broker's `none`. */
export interface NoneData {
  readonly type: 'none';
}
/** A Broker boolean. */
export interface BooleanData {
  readonly type: 'boolean';
  readonly value: boolean;
}
/** Unsigned 64-bit integer, 0 ≤ value ≤ 2^64−1. */
export interface CountData {
  readonly type: 'count';
  readonly value: bigint;
}
/** Signed 64-bit integer, −2^63 ≤ value ≤ 2^63−1. */
export interface IntegerData {
  readonly type: 'integer';
  readonly value: bigint;
}
/** IEEE-754 double. */
export interface RealData {
  readonly type: 'real';
  readonly value: number;
}
/** A Broker string (bytes shown as UTF-8 text). */
export interface StringData {
  readonly type: 'string';
  readonly value: string;
}
/** IPv4 or IPv6 address; `bytes` is always 16 bytes (IPv4 v4-mapped). */
export interface AddressData {
  readonly type: 'address';
  readonly bytes: Uint8Array;
}
/** Network prefix: `bytes` is the masked network (16 bytes), `length` in its family's terms. */
export interface SubnetData {
  readonly type: 'subnet';
  readonly bytes: Uint8Array;
  readonly length: number;
}
/** A transport-layer port with its protocol. */
export interface PortData {
  readonly type: 'port';
  readonly number: number;
  readonly protocol: PortProtocol;
}
/** Nanoseconds since the Unix epoch. */
export interface TimestampData {
  readonly type: 'timestamp';
  readonly ns: bigint;
}
/** Signed duration in nanoseconds. */
export interface TimespanData {
  readonly type: 'timespan';
  readonly ns: bigint;
}
/** An enum value by name, e.g. `Log::WRITER_ASCII`. */
export interface EnumData {
  readonly type: 'enum-value';
  readonly name: string;
}
/** Sorted, duplicate-free elements. */
export interface SetData {
  readonly type: 'set';
  readonly elements: readonly Data[];
}
/** Entries sorted by key, keys unique. */
export interface TableData {
  readonly type: 'table';
  readonly entries: readonly (readonly [Data, Data])[];
}
/** A Broker vector: an ordered list of values. */
export interface VectorData {
  readonly type: 'vector';
  readonly elements: readonly Data[];
}

/** Any Broker value. */
export type Data =
  | NoneData
  | BooleanData
  | CountData
  | IntegerData
  | RealData
  | StringData
  | AddressData
  | SubnetData
  | PortData
  | TimestampData
  | TimespanData
  | EnumData
  | SetData
  | TableData
  | VectorData;

export const MAX_COUNT = (1n << 64n) - 1n;
export const MIN_INTEGER = -(1n << 63n);
export const MAX_INTEGER = (1n << 63n) - 1n;
