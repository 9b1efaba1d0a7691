/**
 * Constructors for Broker values. They validate their input (throwing `ValueError`), so every
 * value built here is well-formed: counts in range, sets sorted and duplicate-free, and so on.
 */
import { ValueError } from '../errors.js';
import { formatAddress, maskAddress, parseAddress, isV4 } from './address.js';
import { compare } from './order.js';
import {
  DATA_TYPES,
  MAX_COUNT,
  MAX_INTEGER,
  MIN_INTEGER,
  PORT_PROTOCOLS,
  type AddressData,
  type BooleanData,
  type CountData,
  type Data,
  type EnumData,
  type IntegerData,
  type NoneData,
  type PortData,
  type PortProtocol,
  type RealData,
  type SetData,
  type StringData,
  type SubnetData,
  type TableData,
  type TimespanData,
  type TimestampData,
  type VectorData,
} from './types.js';

const NONE: NoneData = Object.freeze({ type: 'none' });
const TRUE: BooleanData = Object.freeze({ type: 'boolean', value: true });
const FALSE: BooleanData = Object.freeze({ type: 'boolean', value: false });

function toBigInt(what: string, v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isInteger(v)) throw new ValueError(`${what} must be an integer, got ${v}`);
  if (!Number.isSafeInteger(v)) {
    throw new ValueError(`${what} ${v} is beyond 2^53; pass a bigint to keep it exact`);
  }
  return BigInt(v);
}

export function none(): NoneData {
  return NONE;
}

export function boolean(v: boolean): BooleanData {
  return v ? TRUE : FALSE;
}

/** Unsigned 64-bit integer. */
export function count(v: number | bigint): CountData {
  const value = toBigInt('count', v);
  if (value < 0n || value > MAX_COUNT) throw new ValueError(`count ${value} is outside 0..2^64-1`);
  return { type: 'count', value };
}

/** Signed 64-bit integer. */
export function integer(v: number | bigint): IntegerData {
  const value = toBigInt('integer', v);
  if (value < MIN_INTEGER || value > MAX_INTEGER) {
    throw new ValueError(`integer ${value} is outside -2^63..2^63-1`);
  }
  return { type: 'integer', value };
}

export function real(v: number): RealData {
  if (typeof v !== 'number') throw new ValueError(`real must be a number, got ${typeof v}`);
  return { type: 'real', value: v };
}

export function string(v: string): StringData {
  if (typeof v !== 'string') throw new ValueError(`string must be a string, got ${typeof v}`);
  return { type: 'string', value: v };
}

/** An address from text (`10.0.0.1`, `2001:db8::1`) or 4/16 raw bytes. */
export function address(v: string | Uint8Array): AddressData {
  if (typeof v === 'string') {
    const bytes = parseAddress(v);
    if (!bytes) throw new ValueError(`invalid address '${v}'`);
    return { type: 'address', bytes };
  }
  if (v.length === 16) return { type: 'address', bytes: Uint8Array.from(v) };
  if (v.length === 4) {
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes.set(v, 12);
    return { type: 'address', bytes };
  }
  throw new ValueError(`address bytes must be 4 or 16 long, got ${v.length}`);
}

/** A subnet from `10.0.0.0/8` text or an address and prefix length; host bits are masked. */
export function subnet(v: string | AddressData, length?: number): SubnetData {
  let addr: AddressData;
  let len: number;
  if (typeof v === 'string') {
    const slash = v.lastIndexOf('/');
    if (slash < 0 || length !== undefined) throw new ValueError(`invalid subnet '${v}': expected ADDRESS/LENGTH`);
    const bytes = parseAddress(v.slice(0, slash));
    const lenText = v.slice(slash + 1);
    if (!bytes || !/^[0-9]{1,3}$/.test(lenText)) throw new ValueError(`invalid subnet '${v}'`);
    addr = { type: 'address', bytes };
    len = Number(lenText);
  } else {
    if (length === undefined) throw new ValueError('subnet needs a prefix length');
    addr = v;
    len = length;
  }
  const v4 = isV4(addr.bytes);
  const max = v4 ? 32 : 128;
  if (!Number.isInteger(len) || len < 0 || len > max) {
    throw new ValueError(`subnet length ${len} is outside 0..${max} for ${formatAddress(addr.bytes)}`);
  }
  return { type: 'subnet', bytes: maskAddress(addr.bytes, v4 ? len + 96 : len), length: len };
}

/** A port: `port(80, 'tcp')` or `port('80/tcp')`. */
export function port(v: number | string, protocol: PortProtocol = 'tcp'): PortData {
  if (typeof v === 'string') {
    const m = /^([0-9]{1,5})\/(tcp|udp|icmp|unknown|\?)$/.exec(v);
    if (!m) throw new ValueError(`invalid port '${v}': expected NUMBER/tcp|udp|icmp|?`);
    const proto = m[2] === '?' ? 'unknown' : (m[2] as PortProtocol);
    return port(Number(m[1]), proto);
  }
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new ValueError(`port number ${v} is outside 0..65535`);
  if (!PORT_PROTOCOLS.includes(protocol)) throw new ValueError(`unknown port protocol '${String(protocol)}'`);
  return { type: 'port', number: v, protocol };
}

/** A timestamp from nanoseconds since the epoch (bigint) or a `Date`. */
export function timestamp(v: bigint | Date): TimestampData {
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new ValueError('timestamp from an invalid Date');
    return { type: 'timestamp', ns: BigInt(ms) * 1_000_000n };
  }
  return { type: 'timestamp', ns: integer(v).value };
}

/** A timestamp from seconds since the epoch as a double (Zeek's `time`), rounded to ns. */
export function timestampFromSeconds(seconds: number): TimestampData {
  return { type: 'timestamp', ns: secondsToNs(seconds) };
}

/** The current time as a timestamp (millisecond resolution). */
export function now(): TimestampData {
  return timestamp(new Date());
}

/** A timespan from nanoseconds (bigint) or from `{ s, ms, us, ns }` parts. */
export function timespan(
  v: bigint | { readonly h?: number; readonly min?: number; readonly s?: number; readonly ms?: number; readonly us?: number; readonly ns?: number },
): TimespanData {
  if (typeof v === 'bigint') return { type: 'timespan', ns: integer(v).value };
  const total =
    secondsToNs((v.h ?? 0) * 3600 + (v.min ?? 0) * 60 + (v.s ?? 0)) +
    BigInt(Math.round((v.ms ?? 0) * 1e6)) +
    BigInt(Math.round((v.us ?? 0) * 1e3)) +
    BigInt(Math.round(v.ns ?? 0));
  return { type: 'timespan', ns: integer(total).value };
}

function secondsToNs(seconds: number): bigint {
  if (!Number.isFinite(seconds)) throw new ValueError(`time value ${seconds} is not finite`);
  const whole = Math.trunc(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}

export function enumValue(name: string): EnumData {
  if (typeof name !== 'string') throw new ValueError('enum name must be a string');
  return { type: 'enum-value', name };
}

/** A set: elements are sorted by the total order; duplicates are dropped. */
export function set(elements: Iterable<Data> = []): SetData {
  const sorted = [...elements].sort(compare);
  const out: Data[] = [];
  for (const e of sorted) if (out.length === 0 || compare(out[out.length - 1]!, e) !== 0) out.push(e);
  return { type: 'set', elements: out };
}

/** A table from `[key, value]` pairs: sorted by key; a later duplicate key wins. */
export function table(entries: Iterable<readonly [Data, Data]> = []): TableData {
  const list = [...entries].map((e, i) => [e[0], e[1], i] as const);
  list.sort((a, b) => compare(a[0], b[0]) || a[2] - b[2]);
  const out: (readonly [Data, Data])[] = [];
  for (const [k, v] of list) {
    const last = out[out.length - 1];
    if (last && compare(last[0], k) === 0) out[out.length - 1] = [k, v];
    else out.push([k, v]);
  }
  return { type: 'table', entries: out };
}

export function vector(elements: Iterable<Data> = []): VectorData {
  return { type: 'vector', elements: [...elements] };
}

/**
 * Wraps plain JavaScript values: null/undefined → none, boolean, string, safe integer → integer,
 * other numbers → real, bigint → integer (count above 2^63−1), Date → timestamp, arrays → vector,
 * Set → set, Map → table. Values that already are Broker data pass through unchanged.
 */
export function from(v: unknown): Data {
  if (v === null || v === undefined) return NONE;
  if (isData(v)) return v;
  switch (typeof v) {
    case 'boolean':
      return boolean(v);
    case 'string':
      return string(v);
    case 'bigint':
      return v > MAX_INTEGER ? count(v) : integer(v);
    case 'number':
      return Number.isSafeInteger(v) ? integer(v) : real(v);
  }
  if (v instanceof Date) return timestamp(v);
  if (Array.isArray(v)) return vector(v.map(from));
  if (v instanceof Set) return set([...v].map(from));
  if (v instanceof Map) return table([...v].map(([k, x]) => [from(k), from(x)] as const));
  throw new ValueError(`cannot convert ${Object.prototype.toString.call(v)} to Broker data`);
}

const TYPE_NAMES: ReadonlySet<string> = new Set(DATA_TYPES);

/** True when `v` looks like a Broker value (an object with a known `type` tag). */
export function isData(v: unknown): v is Data {
  return typeof v === 'object' && v !== null && TYPE_NAMES.has((v as { type?: unknown }).type as string);
}
