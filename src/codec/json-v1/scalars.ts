/**
 * Readers for the string-encoded scalars of Broker JSON v1 (timestamp, timespan, port, address,
 * subnet) and the internal path-carrying error the value decoder turns into a `DecodeError`.
 *
 * What is accepted follows what Broker's and Zeek's servers accept, minus their sloppiness:
 * - timestamp: `YYYY-MM-DDThh:mm:ss`, then 1–9 fraction digits or none, then `Z`, `±hh:mm`,
 *   `±hhmm`, `±hh` or no zone (= UTC);
 * - timespan: optional sign, digits with an optional fraction (`1.5s`), unit `ns|us|ms|s|min|h`;
 * - port: `N/tcp|udp|icmp`, any other protocol text is unknown (`N/?`), a bare `N` is tcp;
 * - address: IPv4 or IPv6, no zone id; subnet: `ADDRESS/LENGTH`, host bits masked.
 */
import { maskAddress, parseAddress, isV4 } from '../../data/address.js';
import { MAX_INTEGER, MIN_INTEGER, type PortData, type PortProtocol, type SubnetData } from '../../data/types.js';

/**
 * A decoding failure not yet placed: each enclosing container adds its path segment while the
 * error unwinds, and the entry point turns it into a `DecodeError` naming the full JSON path.
 */
export class JsonPathError extends Error {
  /** Path segments from the innermost outwards (`.data`, `[2]`, …). */
  readonly segments: string[] = [];

  /** The JSON path from the root, e.g. `data[2].data`. */
  path(): string {
    let p = '';
    for (let i = this.segments.length - 1; i >= 0; i--) p += this.segments[i];
    return p.startsWith('.') ? p.slice(1) : p || '(root)';
  }
}

/** Quotes a piece of input for an error message, cut to a readable length. */
export function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function fail(what: string): never {
  throw new JsonPathError(what);
}

/** True when `s` holds a UTF-16 surrogate that is not part of a pair (not valid Unicode). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return true;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
    i++;
  }
  return false;
}

/** Reads `count` decimal digits at `at`; -1 when any is not a digit. */
function digits(s: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (!(d >= 0 && d <= 9)) return -1;
    v = v * 10 + d;
  }
  return v;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const NS_PER_S = 1_000_000_000n;

/** Parses a Broker JSON v1 timestamp into nanoseconds since the epoch (UTC). */
export function parseTimestamp(s: string): bigint {
  const bad: (why: string) => never = (why) => fail(`invalid timestamp ${show(s)}: ${why}`);
  if (s.length < 19) bad('expected YYYY-MM-DDThh:mm:ss');
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (
    (year | month | day | hour | minute | second) < 0 ||
    s.charCodeAt(4) !== 0x2d ||
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(10) !== 0x54 ||
    s.charCodeAt(13) !== 0x3a ||
    s.charCodeAt(16) !== 0x3a
  ) {
    bad('expected YYYY-MM-DDThh:mm:ss');
  }
  if (month < 1 || month > 12) bad('month out of range');
  const monthDays = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > monthDays) bad('day out of range');
  if (hour > 23 || minute > 59 || second > 59) bad('time of day out of range');
  let pos = 19;
  let fraction = 0;
  if (s.charCodeAt(pos) === 0x2e) {
    const start = ++pos;
    let scale = 1_000_000_000;
    for (let d = s.charCodeAt(pos) - 0x30; d >= 0 && d <= 9; d = s.charCodeAt(++pos) - 0x30) {
      if (pos - start >= 9) bad('more than 9 fraction digits');
      scale /= 10;
      fraction += d * scale;
    }
    if (pos === start) bad('expected digits after the decimal point');
  }
  let offset = 0;
  const z = s.charCodeAt(pos);
  if (z === 0x5a) pos++;
  else if (z === 0x2b || z === 0x2d) {
    const hh = digits(s, pos + 1, 2);
    pos += 3;
    let mm = 0;
    if (s.charCodeAt(pos) === 0x3a) {
      mm = digits(s, pos + 1, 2);
      pos += 3;
    } else if (pos < s.length) {
      mm = digits(s, pos, 2);
      pos += 2;
    }
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59 || pos > s.length) bad('invalid zone offset');
    offset = (z === 0x2d ? -1 : 1) * (hh * 3600 + mm * 60);
  }
  if (pos !== s.length) bad('unexpected characters after the time');
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  const ns = BigInt(seconds) * NS_PER_S + BigInt(fraction);
  if (ns < MIN_INTEGER || ns > MAX_INTEGER) bad('outside the 64-bit nanosecond range');
  return ns;
}

const SPAN_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['ms', 1_000_000n],
  ['s', NS_PER_S],
  ['min', 60n * NS_PER_S],
  ['h', 3600n * NS_PER_S],
]);

/** Parses a Broker JSON v1 timespan (`1500ms`, `-3s`, `1.5s`, `2min`) into nanoseconds. */
export function parseTimespan(s: string): bigint {
  const bad: (why: string) => never = (why) => fail(`invalid timespan ${show(s)}: ${why}`);
  if (s.length > 64) bad('too long');
  let pos = 0;
  const sign = s.charCodeAt(0);
  if (sign === 0x2d || sign === 0x2b) pos++;
  const intStart = pos;
  while (s.charCodeAt(pos) >= 0x30 && s.charCodeAt(pos) <= 0x39) pos++;
  const intEnd = pos;
  if (intEnd === intStart) bad('expected a number');
  let fracStart = pos;
  if (s.charCodeAt(pos) === 0x2e) {
    fracStart = ++pos;
    while (s.charCodeAt(pos) >= 0x30 && s.charCodeAt(pos) <= 0x39) pos++;
    if (pos === fracStart) bad('expected digits after the decimal point');
  }
  const fracEnd = pos;
  const unitText = s.slice(pos);
  const unit = SPAN_UNITS.get(unitText);
  if (unit === undefined) {
    if (unitText === 'd') bad("unit 'd' is not supported (Broker rejects it; use h)");
    bad(unitText === '' ? 'missing unit (ns, us, ms, s, min or h)' : 'unknown unit (expected ns, us, ms, s, min or h)');
  }
  let ns = BigInt(s.slice(intStart, intEnd)) * unit;
  if (fracEnd > fracStart) {
    const scale = 10n ** BigInt(fracEnd - fracStart);
    const scaled = BigInt(s.slice(fracStart, fracEnd)) * unit;
    // Round to the nearest nanosecond, halves away from zero.
    ns += (scaled * 2n + scale) / (scale * 2n);
  }
  if (sign === 0x2d) ns = -ns;
  if (ns < MIN_INTEGER || ns > MAX_INTEGER) bad('outside the 64-bit nanosecond range');
  return ns;
}

/** Parses `80/tcp`, `53/udp`, `8/icmp`, `0/?` (any other protocol is unknown) or `80` (tcp). */
export function parsePort(s: string): PortData {
  let pos = 0;
  let n = 0;
  for (let d = s.charCodeAt(0) - 0x30; d >= 0 && d <= 9 && pos < 6; d = s.charCodeAt(++pos) - 0x30) n = n * 10 + d;
  if (pos === 0 || pos > 5 || n > 65535) fail(`invalid port ${show(s)}: expected a number 0..65535`);
  let protocol: PortProtocol = 'tcp';
  if (pos < s.length) {
    if (s.charCodeAt(pos) !== 0x2f) fail(`invalid port ${show(s)}: expected NUMBER/PROTOCOL`);
    const p = s.slice(pos + 1);
    protocol = p === 'tcp' ? 'tcp' : p === 'udp' ? 'udp' : p === 'icmp' ? 'icmp' : 'unknown';
  }
  return { type: 'port', number: n, protocol };
}

/** Dotted-quad IPv4 without leading zeros into v4-mapped bytes; undefined when not one. */
function parseV4Fast(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  let pos = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0 && s.charCodeAt(pos++) !== 0x2e) return undefined;
    const start = pos;
    let v = 0;
    for (let d = s.charCodeAt(pos) - 0x30; d >= 0 && d <= 9 && pos - start < 3; d = s.charCodeAt(++pos) - 0x30)
      v = v * 10 + d;
    const len = pos - start;
    if (len === 0 || v > 255 || (len > 1 && s.charCodeAt(start) === 0x30)) return undefined;
    out[12 + part] = v;
  }
  return pos === s.length ? out : undefined;
}

/** Parses an IPv4 or IPv6 address (no zone id) into 16 bytes. */
export function parseAddressText(s: string): Uint8Array {
  const bytes = s.length <= 15 && !s.includes(':') ? parseV4Fast(s) : s.length <= 45 ? parseAddress(s) : undefined;
  if (bytes === undefined) {
    fail(`invalid address ${show(s)}${s.includes('%') ? ': zone ids are not supported' : ''}`);
  }
  return bytes;
}

/** Parses `ADDRESS/LENGTH`; host bits are masked. */
export function parseSubnet(s: string): SubnetData {
  const slash = s.lastIndexOf('/');
  if (slash < 0) fail(`invalid subnet ${show(s)}: expected ADDRESS/LENGTH`);
  const lenText = s.slice(slash + 1);
  const length = lenText.length >= 1 && lenText.length <= 3 ? digits(lenText, 0, lenText.length) : -1;
  const bytes = s.length <= 49 ? parseAddress(s.slice(0, slash)) : undefined;
  if (bytes === undefined || length < 0) fail(`invalid subnet ${show(s)}: expected ADDRESS/LENGTH`);
  const v4 = isV4(bytes);
  if (length > (v4 ? 32 : 128)) fail(`invalid subnet ${show(s)}: prefix length above ${v4 ? 32 : 128}`);
  return { type: 'subnet', bytes: maskAddress(bytes, v4 ? length + 96 : length), length };
}
