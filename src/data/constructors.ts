/**
 * Constructors for Broker values. They validate their input (throwing `ValueError`), so every
 * value built here is well-formed: counts in range, strings valid Unicode, addresses 16 bytes,
 * subnets masked, sets sorted and duplicate-free, and so on.
 */
import { ValueError } from '../errors.js';
import { isV4, maskAddress, parseAddress } from './address.js';
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
const NS_PER_S = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;
const LONE_SURROGATE = /\p{Cs}/u;

function toBigInt(what: string, v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'number') throw new ValueError(`${what} must be a number or bigint, got ${typeof v}`);
  if (!Number.isInteger(v)) throw new ValueError(`${what} must be an integer, got ${v}`);
  if (!Number.isSafeInteger(v)) {
    throw new ValueError(`${what} ${v} is beyond 2^53; pass a bigint to keep it exact`);
  }
  return BigInt(v);
}

function int64(what: string, v: bigint): bigint {
  if (v < MIN_INTEGER || v > MAX_INTEGER) throw new ValueError(`${what} ${v} is outside -2^63..2^63-1`);
  return v;
}

function text(what: string, v: string): string {
  if (typeof v !== 'string') throw new ValueError(`${what} must be a string, got ${typeof v}`);
  if (LONE_SURROGATE.test(v)) throw new ValueError(`${what} holds a lone UTF-16 surrogate (not valid Unicode)`);
  return v;
}

/** Broker's `none` (nil). */
export function none(): NoneData {
  return NONE;
}

/** A Broker boolean. */
export function boolean(v: boolean): BooleanData {
  if (typeof v !== 'boolean') throw new ValueError(`boolean must be true or false, got ${typeof v}`);
  return v ? TRUE : FALSE;
}

/** Unsigned 64-bit integer, 0..2^64−1; a number must be a safe integer (pass a bigint beyond). */
export function count(v: number | bigint): CountData {
  const value = toBigInt('count', v);
  if (value < 0n || value > MAX_COUNT) throw new ValueError(`count ${value} is outside 0..2^64-1`);
  return { type: 'count', value };
}

/** Signed 64-bit integer, −2^63..2^63−1; a number must be a safe integer. */
export function integer(v: number | bigint): IntegerData {
  return { type: 'integer', value: int64('integer', toBigInt('integer', v)) };
}

/** A double; NaN and ±Infinity are allowed (−0 and 0 are equal in the total order). */
export function real(v: number): RealData {
  if (typeof v !== 'number') throw new ValueError(`real must be a number, got ${typeof v}`);
  return { type: 'real', value: v };
}

/** A string; it must be valid Unicode (no lone surrogates), so it has an exact UTF-8 form. */
export function string(v: string): StringData {
  return { type: 'string', value: text('string', v) };
}

/** An address from text (`10.0.0.1`, `2001:db8::1`) or 4 / 16 raw bytes (copied). */
export function address(v: string | Uint8Array): AddressData {
  if (typeof v === 'string') {
    const bytes = parseAddress(v);
    if (!bytes) throw new ValueError(`invalid address '${v}'`);
    return { type: 'address', bytes };
  }
  if (!(v instanceof Uint8Array)) throw new ValueError('address must be a string or a Uint8Array');
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

const PREFIX_LENGTH = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * A subnet: `subnet('10.0.0.0/8')`, `subnet('10.0.0.0', 8)` or `subnet(address(…), 8)`. The
 * length is in the address family's terms (0–32 for IPv4, 0–128 for IPv6); host bits are masked.
 */
export function subnet(v: string | AddressData, length?: number): SubnetData {
  let bytes: Uint8Array | undefined;
  let len: number | undefined = length;
  if (typeof v === 'string') {
    const slash = v.indexOf('/');
    if (slash < 0 === (length === undefined)) {
      throw new ValueError(`invalid subnet '${v}': expected ADDRESS/LENGTH or an address and a length`);
    }
    bytes = parseAddress(slash < 0 ? v : v.slice(0, slash));
    if (slash >= 0) {
      const lenText = v.slice(slash + 1);
      len = PREFIX_LENGTH.test(lenText) ? Number(lenText) : Number.NaN;
    }
    if (!bytes) throw new ValueError(`invalid subnet '${v}': bad address`);
  } else {
    if (v?.type !== 'address') throw new ValueError('subnet needs an address value or text');
    if (length === undefined) throw new ValueError('subnet needs a prefix length');
    bytes = v.bytes;
  }
  const v4 = isV4(bytes);
  const max = v4 ? 32 : 128;
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > max) {
    throw new ValueError(`invalid subnet prefix length ${String(len)}: must be 0..${max} for ${v4 ? 'IPv4' : 'IPv6'}`);
  }
  return { type: 'subnet', bytes: maskAddress(bytes, v4 ? len + 96 : len), length: len };
}

const PORT_TEXT = /^(0|[1-9][0-9]{0,4})(?:\/(tcp|udp|icmp|unknown|\?))?$/;

/**
 * A port: `port(80, 'tcp')`, `port('80/tcp')`, `port('53/udp')`, `port('0/?')` (unknown protocol).
 * Text without a protocol (`'80'`) and a number without one mean tcp, as in Broker.
 */
export function port(v: number | string, protocol?: PortProtocol): PortData {
  if (typeof v === 'string') {
    const m = PORT_TEXT.exec(v);
    if (!m) throw new ValueError(`invalid port '${v}': expected NUMBER[/tcp|udp|icmp|?]`);
    if (m[2] !== undefined && protocol !== undefined) {
      throw new ValueError(`port '${v}' already names its protocol; do not pass one`);
    }
    const proto = m[2] === undefined ? protocol : m[2] === '?' ? 'unknown' : (m[2] as PortProtocol);
    return port(Number(m[1]), proto);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw new ValueError(`port number ${String(v)} is outside 0..65535`);
  }
  const p = protocol ?? 'tcp';
  if (!PORT_PROTOCOLS.includes(p)) throw new ValueError(`unknown port protocol '${String(p)}'`);
  return { type: 'port', number: v, protocol: p };
}

/** A timestamp from nanoseconds since the epoch (bigint, int64 range) or a `Date`. */
export function timestamp(v: bigint | Date): TimestampData {
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new ValueError('timestamp from an invalid Date');
    return { type: 'timestamp', ns: int64('timestamp (ns)', BigInt(ms) * NS_PER_MS) };
  }
  if (typeof v !== 'bigint') throw new ValueError(`timestamp takes a bigint of nanoseconds or a Date, got ${typeof v}`);
  return { type: 'timestamp', ns: int64('timestamp (ns)', v) };
}

/** A timestamp from seconds since the epoch as a double (Zeek's `time`), rounded to ns. */
export function timestampFromSeconds(seconds: number): TimestampData {
  return { type: 'timestamp', ns: secondsToNs('timestamp', seconds) };
}

/** The current time as a timestamp (millisecond resolution). */
export function now(): TimestampData {
  return timestamp(new Date());
}

/** Parts of a duration, each any finite number (fractions allowed); they add up. */
export interface TimespanParts {
  readonly h?: number;
  readonly min?: number;
  readonly s?: number;
  readonly ms?: number;
  readonly us?: number;
  readonly ns?: number;
}

const PART_NS: readonly (readonly [keyof TimespanParts, bigint])[] = [
  ['h', 3600n * NS_PER_S],
  ['min', 60n * NS_PER_S],
  ['s', NS_PER_S],
  ['ms', NS_PER_MS],
  ['us', 1000n],
  ['ns', 1n],
];
const PART_KEYS: ReadonlySet<string> = new Set(PART_NS.map(([k]) => k));

/** A timespan from nanoseconds (bigint, int64 range) or from `{ h, min, s, ms, us, ns }` parts. */
export function timespan(v: bigint | TimespanParts): TimespanData {
  if (typeof v === 'bigint') return { type: 'timespan', ns: int64('timespan (ns)', v) };
  if (typeof v !== 'object' || v === null) throw new ValueError('timespan takes a bigint of nanoseconds or parts');
  for (const key of Object.keys(v)) {
    if (!PART_KEYS.has(key)) throw new ValueError(`unknown timespan part '${key}' (use h, min, s, ms, us, ns)`);
  }
  let total = 0n;
  for (const [key, factor] of PART_NS) {
    const x = v[key];
    if (x === undefined) continue;
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw new ValueError(`timespan part ${key} must be a finite number`);
    total += scaleToNs(x, factor);
  }
  return { type: 'timespan', ns: int64('timespan (ns)', total) };
}

/** A timespan from seconds as a double (Zeek's `interval`), rounded to ns. */
export function timespanFromSeconds(seconds: number): TimespanData {
  return { type: 'timespan', ns: secondsToNs('timespan', seconds) };
}

/** `x * factor` nanoseconds, exact for the integer part, rounded for the fraction. */
function scaleToNs(x: number, factor: bigint): bigint {
  const whole = Math.trunc(x);
  return BigInt(whole) * factor + BigInt(Math.round((x - whole) * Number(factor)));
}

function secondsToNs(what: string, seconds: number): bigint {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new ValueError(`${what} seconds must be a finite number, got ${String(seconds)}`);
  }
  return int64(`${what} (ns)`, scaleToNs(seconds, NS_PER_S));
}

/** An enum value by name, e.g. `Log::WRITER_ASCII`. */
export function enumValue(name: string): EnumData {
  return { type: 'enum-value', name: text('enum name', name) };
}

function checkData(what: string, v: unknown): Data {
  if (!isData(v)) throw new ValueError(`${what} must be Broker data (use from() for plain values)`);
  return v;
}

/** A set: elements are sorted by the total order; duplicates are dropped. */
export function set(elements: Iterable<Data> = []): SetData {
  const sorted = [...elements].map((e) => checkData('set element', e)).sort(compare);
  const out: Data[] = [];
  for (const e of sorted) if (out.length === 0 || compare(out[out.length - 1]!, e) !== 0) out.push(e);
  return { type: 'set', elements: out };
}

/** A table from `[key, value]` pairs (a `Map` works): sorted by key; a later duplicate key wins. */
export function table(entries: Iterable<readonly [Data, Data]> = []): TableData {
  const list = [...entries].map((e, i) => [checkData('table key', e[0]), checkData('table value', e[1]), i] as const);
  list.sort((a, b) => compare(a[0], b[0]) || a[2] - b[2]);
  const out: (readonly [Data, Data])[] = [];
  for (const [k, v] of list) {
    const last = out[out.length - 1];
    if (last && compare(last[0], k) === 0) out[out.length - 1] = [k, v];
    else out.push([k, v]);
  }
  return { type: 'table', entries: out };
}

/** A vector (also how Zeek records travel: fields in order, `none` for unset ones). */
export function vector(elements: Iterable<Data> = []): VectorData {
  return { type: 'vector', elements: [...elements].map((e) => checkData('vector element', e)) };
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
