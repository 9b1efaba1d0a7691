/**
 * Text forms of Broker values: a readable form for logs and the demo (`toText`), Broker's own
 * `to_string` form (`toBrokerString`), and the shared formatting of reals, timestamps and
 * timespans used by the JSON v1 codec and the log writers.
 */
import { ValueError } from '../errors.js';
import { formatAddress } from './address.js';
import type { Data } from './types.js';

/** Lives in `address.ts`; re-exported so existing imports keep working. */
export { isIPv4 } from './address.js';

const NS_PER_MS = 1_000_000n;
const MAX_DATE_MS = 8_640_000_000_000_000n;

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * `YYYY-MM-DDThh:mm:ss.mmm` in UTC, no zone (Broker JSON v1's timestamp form), truncated to the
 * millisecond at or before the instant. Every int64 nanosecond value (1677-09-21 to 2262-04-11)
 * has a four-digit year. Broker itself prints negative timestamps with a sub-second part one
 * second late and with `.000` (it truncates toward zero); this prints the true instant.
 */
export function formatTimestampMs(ns: bigint): string {
  let ms = ns / NS_PER_MS;
  if (ms * NS_PER_MS > ns) ms -= 1n; // floor for negative values
  if (ms > MAX_DATE_MS || ms < -MAX_DATE_MS) throw new ValueError(`timestamp ${ns}ns is beyond the Date range`);
  const d = new Date(Number(ms));
  const year = d.getUTCFullYear();
  const y = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return (
    `${y}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.` +
    pad(d.getUTCMilliseconds(), 3)
  );
}

const SPAN_UNITS: readonly (readonly [bigint, string])[] = [
  [1_000_000_000n, 's'],
  [1_000_000n, 'ms'],
  [1_000n, 'us'],
];

/** Integer count of the largest exact unit among ns, us, ms, s (`1500ms`, `-2s`, `0s`), as Broker JSON v1. */
export function formatTimespan(ns: bigint): string {
  if (ns === 0n) return '0s';
  for (const [factor, unit] of SPAN_UNITS) if (ns % factor === 0n) return `${ns / factor}${unit}`;
  return `${ns}ns`;
}

/** Nanosecond timestamp as seconds with nine decimals (`1404901004.000000000`, `-1.500000000`). */
export function formatEpochSeconds(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${pad(abs % 1_000_000_000n, 9)}`;
}

/**
 * A double exactly as C's `printf("%f")` prints it (glibc: the exact binary value rounded
 * half-to-even to six decimals; `-0.000000`, `inf`, `-inf`, `nan`). Broker prints reals this
 * way in JSON v1 and in `to_string`; JavaScript's `toFixed` rounds ties away from zero instead and
 * switches to exponents from 1e21.
 */
export function formatRealFixed(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const abs = Math.abs(v);
  // From 1e21 on every double is an integer (and toFixed switches to exponents).
  if (abs >= 1e21) return `${sign}${BigInt(abs)}.000000`;
  // toFixed rounds the exact binary value correctly except on a tie, where it rounds away from
  // zero. A tie (abs * 1e6 ending in exactly .5) happens exactly when abs = j / 128 with j odd.
  const j = abs * 128;
  if (!Number.isInteger(j) || j % 2 !== 1) return sign + abs.toFixed(6);
  // abs * 1e6 = j * 15625 / 2: round half to even.
  const below = (BigInt(j) * 15625n - 1n) / 2n;
  const micros = pad(below % 2n === 0n ? below : below + 1n, 7);
  return `${sign}${micros.slice(0, -6)}.${micros.slice(-6)}`;
}

function formatReal(v: number): string {
  if (Object.is(v, -0)) return '-0.0';
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(1);
  return String(v);
}

function formatPort(n: number, protocol: string): string {
  return `${n}/${protocol === 'unknown' ? '?' : protocol}`;
}

/**
 * A readable, Zeek-like text form: `T`/`F`, `1.5`, `80/tcp`, `10.0.0.0/8`, timestamps as
 * `2014-07-09T10:16:44.000`, timespans as `1500ms`, `nil` for none, `{1, 2}` for sets,
 * `[a, b]` for vectors, `{a -> 1}` for tables; strings are bare at the top level and quoted (JSON
 * style) inside containers, so `["a, b"]` and `["a", "b"]` stay apart.
 */
export function toText(v: Data): string {
  return text(v, false);
}

function text(v: Data, nested: boolean): string {
  switch (v.type) {
    case 'none':
      return 'nil';
    case 'boolean':
      return v.value ? 'T' : 'F';
    case 'count':
    case 'integer':
      return v.value.toString();
    case 'real':
      return formatReal(v.value);
    case 'string':
      return nested ? JSON.stringify(v.value) : v.value;
    case 'address':
      return formatAddress(v.bytes);
    case 'subnet':
      return `${formatAddress(v.bytes)}/${v.length}`;
    case 'port':
      return formatPort(v.number, v.protocol);
    case 'timestamp':
      return formatTimestampMs(v.ns);
    case 'timespan':
      return formatTimespan(v.ns);
    case 'enum-value':
      return v.name;
    case 'set':
      return `{${v.elements.map((e) => text(e, true)).join(', ')}}`;
    case 'vector':
      return `[${v.elements.map((e) => text(e, true)).join(', ')}]`;
    case 'table':
      return `{${v.entries.map(([k, x]) => `${text(k, true)} -> ${text(x, true)}`).join(', ')}}`;
  }
}

/**
 * Exactly Broker's `to_string(data)`: `nil`, `T`/`F`, reals as `%f`, strings bare (also inside
 * containers), timestamps and timespans as nanoseconds with `ns`, `{a, b}` for sets,
 * `{k -> v}` for tables and `(a, b)` for vectors.
 */
export function toBrokerString(v: Data): string {
  switch (v.type) {
    case 'real':
      return formatRealFixed(v.value);
    case 'string':
      return v.value;
    case 'timestamp':
    case 'timespan':
      return `${v.ns}ns`;
    case 'set':
      return `{${v.elements.map(toBrokerString).join(', ')}}`;
    case 'vector':
      return `(${v.elements.map(toBrokerString).join(', ')})`;
    case 'table':
      return `{${v.entries.map(([k, x]) => `${toBrokerString(k)} -> ${toBrokerString(x)}`).join(', ')}}`;
    default:
      return text(v, false);
  }
}
