/**
 * Readable text forms of Broker values (Broker's `to_string` style), and the shared formatting of
 * timestamps and timespans used by the JSON v1 codec and logs.
 */
import { formatAddress, isV4 } from './address.js';
import type { Data } from './types.js';

const NS_PER_MS = 1_000_000n;

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * `YYYY-MM-DDThh:mm:ss.mmm` in UTC (Broker JSON v1's timestamp form): truncated to milliseconds
 * toward negative infinity, no zone.
 */
export function formatTimestampMs(ns: bigint): string {
  let ms = ns / NS_PER_MS;
  if (ns < 0n && ms * NS_PER_MS !== ns) ms -= 1n;
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return formatTimestampIsoBig(ms);
  const year = d.getUTCFullYear();
  const y = year < 0 ? `-${pad(-year, 6)}` : year > 9999 ? `+${pad(year, 6)}` : pad(year, 4);
  return (
    `${y}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.` +
    pad(d.getUTCMilliseconds(), 3)
  );
}

// Beyond JavaScript's Date range (±8.64e15 ms): compute the civil date by hand.
function formatTimestampIsoBig(ms: bigint): string {
  const msPerDay = 86_400_000n;
  let days = ms / msPerDay;
  let rem = ms % msPerDay;
  if (rem < 0n) {
    rem += msPerDay;
    days -= 1n;
  }
  // Howard Hinnant's civil_from_days.
  const z = days + 719468n;
  const era = (z >= 0n ? z : z - 146096n) / 146097n;
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  let y = yoe + era * 400n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  if (m <= 2n) y += 1n;
  const sign = y < 0n ? '-' : '+';
  const yy = y < 0n ? -y : y;
  const h = rem / 3_600_000n;
  const mi = (rem / 60_000n) % 60n;
  const s = (rem / 1000n) % 60n;
  const msPart = rem % 1000n;
  return `${sign}${pad(yy, 6)}-${pad(m, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(msPart, 3)}`;
}

const SPAN_UNITS: readonly (readonly [bigint, string])[] = [
  [1_000_000_000n, 's'],
  [1_000_000n, 'ms'],
  [1_000n, 'us'],
];

/** Integer count of the largest exact unit among ns, us, ms, s (`1500ms`, `0s`). */
export function formatTimespan(ns: bigint): string {
  if (ns === 0n) return '0s';
  for (const [factor, unit] of SPAN_UNITS) if (ns % factor === 0n) return `${ns / factor}${unit}`;
  return `${ns}ns`;
}

function formatReal(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(1);
  return String(v);
}

/** Nanosecond timestamp as seconds with nine decimals (`1404901004.000000000`). */
export function formatEpochSeconds(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${pad(abs % 1_000_000_000n, 9)}`;
}

/**
 * A readable, Zeek-like text form: `80/tcp`, `10.0.0.0/8`, `{1, 2}` for sets, `[a, b]` for
 * vectors, `{a -> 1}` for tables, `nil` for none, strings unquoted at the top level and quoted
 * inside containers.
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
      return `${v.number}/${v.protocol === 'unknown' ? '?' : v.protocol}`;
    case 'timestamp':
      return `${formatTimestampMs(v.ns)}`;
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

/** True when the address of an address or subnet value is IPv4. */
export function isIPv4(v: { readonly bytes: Uint8Array }): boolean {
  return isV4(v.bytes);
}
