/**
 * Zeek's text forms of log values: numbers in its ASCII (TSV) and JSON writers, addresses as its
 * `inet_ntop` prints them, and the `%Y-%m-%d-%H-%M-%S` stamps of `#open`, `#close` and rotated
 * file names. Facts from Zeek's `threading/Formatter.cc`, `Desc.cc`, `util.cc`
 * (`double_to_str`), its bundled `zeek_inet_ntop.c` and rapidjson's `Writer::Double`.
 */
import { isV4 } from '../data/address.js';
import { formatRealFixed } from '../data/text.js';

/** A nanosecond time as Zeek holds it: a double of seconds (`double(ns) / 1e9`). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns) / 1e9;
}

/**
 * A `time` or `interval` in a TSV log: seconds with exactly six decimals (C's `%.6f` of the
 * double Zeek holds): `1700000000.123456`, `-0.500000`.
 */
export function formatTsvTime(ns: bigint): string {
  return formatRealFixed(nsToSeconds(ns));
}

/**
 * A `double` in a TSV log (Zeek's `ODesc::Add(d, no_exp=true)`): six decimals with trailing zeros
 * cut, then `.0` appended when the value lies within 1e-9 of an integer: `1.0`, `1.1`,
 * `1.123457`, `-0.0` for −2.23e-308, `0.0` for −0, `inf`, `-inf`, `nan`, every digit of 1e308 and
 * — Zeek's quirk — `0` for 1e-7 (rounds to zero but is not within 1e-9 of it).
 */
export function formatTsvDouble(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  const neg = d < 0;
  let body = formatRealFixed(neg ? -d : Math.abs(d));
  if (body.includes('.')) {
    let end = body.length;
    while (body.charCodeAt(end - 1) === 0x30) end--;
    if (body.charCodeAt(end - 1) === 0x2e) end--;
    body = body.slice(0, end);
  }
  const out = neg ? `-${body}` : body;
  return Number.isFinite(d) && Math.abs(d - Math.round(d)) < 1e-9 ? `${out}.0` : out;
}

/**
 * A double in a JSON log, as rapidjson writes it: the shortest round-trip digits, positional
 * from 1e-6 up to below 1e21 (`3140000000000000.0`, `0.0000123456789`, integers with `.0`),
 * otherwise `1.79e308` / `2.23e-308` / `1e-7` (no `+`); `0.0`, `-0.0`; `null` for NaN and ±inf.
 * (rapidjson's Grisu2 can, rarely, print a longer digit string than the shortest one used here.)
 */
export function formatJsonDouble(d: number): string {
  if (!Number.isFinite(d)) return 'null';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  // JavaScript prints the same shortest digits, positional in the same range (1e-6 ≤ |d| < 1e21);
  // rapidjson adds `.0` to integers and writes exponents without `+`.
  const s = String(d);
  if (s.includes('e')) return s.replace('e+', 'e');
  return s.includes('.') ? s : `${s}.0`;
}

/**
 * An address as Zeek logs it: IPv4 dotted; IPv6 in lower-case hex with the longest run of two or
 * more zero groups as `::` (the first wins a tie), and — Zeek's BSD-derived `inet_ntop` — the last
 * 32 bits dotted for `::a.b.c.d` (IPv4-compatible, a non-zero 7th group) and `::ffff:0:a.b.c.d`;
 * Broker's own printing has no dotted forms.
 */
export function formatZeekAddress(bytes: Uint8Array): string {
  if (isV4(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let base = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > len) {
      base = i;
      len = j - i;
    }
    i = j;
  }
  if (len < 2) base = -1;
  // (inet_ntop also names a run of 7 zero groups, but its loop never reaches group 6 then.)
  const dotted = base === 0 && (len === 6 || (len === 4 && w[4] === 0xffff && w[5] === 0));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (base >= 0 && i >= base && i < base + len) {
      if (i === base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && dotted) return `${out}${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    out += w[i]!.toString(16);
  }
  if (base >= 0 && base + len === 8) out += ':';
  return out;
}

/** Whether stamps are in local time (Zeek's `localtime`/`strftime`) or in UTC. */
export type LogTimeZone = 'local' | 'utc';

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Date and time parts of `ms` in the zone. */
function parts(ms: number, zone: LogTimeZone): readonly [number, number, number, number, number, number] {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return zone === 'utc'
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
}

/**
 * `%Y-%m-%d-%H-%M-%S` (`2026-11-26-14-40-00`): the stamp of `#open`/`#close` lines and of
 * rotated file names (`Log::default_rotation_date_format`), for a time in ms since the epoch.
 * Zeek uses local time.
 */
export function formatLogStamp(ms: number, zone: LogTimeZone = 'local'): string {
  const [y, mo, d, h, mi, s] = parts(ms, zone);
  return `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}-${two(h)}-${two(mi)}-${two(s)}`;
}

/** `%Y-%m-%d` of a time in ms. */
export function formatLogDate(ms: number, zone: LogTimeZone = 'local'): string {
  return formatLogStamp(ms, zone).slice(0, 10);
}

/** `%H:%M:%S` of a time in ms. */
export function formatLogClock(ms: number, zone: LogTimeZone = 'local'): string {
  const [, , , h, mi, s] = parts(ms, zone);
  return `${two(h)}:${two(mi)}:${two(s)}`;
}
