/**
 * Broker JSON v1 encoding, byte for byte what Broker's compact encoder
 * (`broker::format::json::v1::encode`, Broker ≥ 6.2 and Zeek's own server) writes:
 * `{"@data-type":"count","data":42}`, reals as C's `%f`, timestamps `YYYY-MM-DDThh:mm:ss.mmm` in
 * UTC, timespans as an integer and the largest exact unit, ports `80/tcp` (`0/?` unknown), sets and
 * vectors as arrays, tables as arrays of `{"key":…,"value":…}`, data messages with the keys in the
 * order type, topic, @data-type, data.
 *
 * Strings: Broker escapes `"`, `\`, `\b`, `\f`, `\n`, `\r`, `\t` and `\v` and passes every other
 * byte through raw, control characters included — neither `\v` nor raw control characters are
 * JSON. By default (`stringEscapes: 'json'`) those go out as `\u000b`-style escapes, which every
 * JSON parser and Broker's current parser (CAF ≥ 1.0.2, September 2024) read; `'broker'` writes
 * exactly what Broker writes, for servers whose CAF predates `\u` support (Zeek 7.0 and older
 * reject a `\u` escape). Non-ASCII text is written raw in both modes; a lone UTF-16 surrogate (no
 * UTF-8 form; only in hand-built data, constructors refuse it) is written as `\uXXXX`.
 *
 * Timestamps before 1970 with a sub-second part: Broker truncates toward zero and prints a wrong
 * millisecond field; we round toward negative infinity, so the text names the right millisecond
 * (except in the first 0.776 ms of the int64 range, see `FIRST_WHOLE_MS`).
 *
 * Two directions, two encodings (`role`). What a *server* writes (`'server'`, the default: an
 * isobroker hub to its JSON v1 clients) is the above, byte for byte. What a *client* writes
 * (`'client'`: an isobroker endpoint to a Zeek or Broker server) is lossless, because Broker's
 * parser reads more than its printer writes:
 * - reals as the shortest decimal that reads back as the same double, always with a fraction or an
 *   exponent (Broker rejects `5` as a real), in exponent form without `+` (`1e300`,
 *   `1.2345678901234568e24`) whenever the integer part would exceed 19 digits (CAF reads the integer
 *   part as a 64-bit integer first: 20 digits or more fail with `integer_overflow`); `-0` is `-0.0`;
 * - timestamps with up to nine fraction digits (trailing zeros dropped down to milliseconds), so
 *   every nanosecond arrives;
 * - timespans as now (an exact integer count of the largest exact unit).
 * Non-finite reals throw in both roles: JSON has no form for them that Broker's parser reads.
 */
import { formatAddress } from '../../data/address.js';
import { formatRealFixed, formatTimespan, formatTimestampMs } from '../../data/text.js';
import type { Data, PortProtocol } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import type { JsonV1Message } from './types.js';

/** Options of {@link encodeJsonData} and {@link encodeJsonMessage}. */
export interface JsonEncodeOptions {
  /**
   * How control characters other than `\b \f \n \r \t` are written in strings: `'json'` as
   * `\u00XX` escapes (strict JSON), `'broker'` as Broker does (`\v`, others raw; not JSON, but
   * read by every Broker version).
   * @default 'json'
   */
  readonly stringEscapes?: 'json' | 'broker';
  /**
   * Which side writes: `'server'` writes exactly what Broker's server writes (reals as `%f`,
   * millisecond timestamps); `'client'` writes lossless reals and nanosecond timestamps, which
   * Broker's parser reads exactly (see the module comment).
   * @default 'server'
   */
  readonly role?: 'server' | 'client';
}

/** The default {@link JsonEncodeOptions}. */
export const DEFAULT_JSON_ENCODE_OPTIONS: Readonly<Required<JsonEncodeOptions>> = Object.freeze({
  stringEscapes: 'json',
  role: 'server',
});

const HEX = '0123456789abcdef';

function unicodeEscape(c: number): string {
  return `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`;
}

function escapeChar(c: number, broker: boolean): string | undefined {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return broker ? '\\v' : '\\u000b';
    default:
      return broker ? undefined : unicodeEscape(c);
  }
}

function quoteSlow(s: string, from: number, broker: boolean): string {
  let out = '"';
  let chunk = 0;
  const n = s.length;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++; // a well-formed pair goes out raw
          continue;
        }
      }
      out += s.slice(chunk, i) + unicodeEscape(c);
      chunk = i + 1;
    } else if (c < 0x20 || c === 0x22 || c === 0x5c) {
      const esc = escapeChar(c, broker);
      if (esc === undefined) continue; // raw control character (Broker mode)
      out += s.slice(chunk, i) + esc;
      chunk = i + 1;
    }
  }
  return `${out}${s.slice(chunk)}"`;
}

/** A JSON string literal for `s` (`broker`: Broker's escapes, see the module comment). */
function quoteJsonString(s: string, broker = false): string {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return quoteSlow(s, i, broker);
  }
  return `"${s}"`;
}

/**
 * A finite real as C's `%f` (what Broker writes). NaN and ±Infinity throw: Broker writes them as
 * `nan`/`inf`, which is not JSON and which Broker's own parser cannot read back.
 */
function realText(x: number): string {
  if (!Number.isFinite(x)) {
    throw new ValueError(`real ${x} is not representable in Broker JSON v1 (only finite numbers are)`);
  }
  return formatRealFixed(x);
}

/** Above this magnitude the integer part of a real has 20 or more digits. */
const EXPONENT_FROM = 1e19;

/**
 * A finite real as the shortest decimal that reads back as the same double (what a lossless
 * client writes): always with a fraction or an exponent, exponents without `+`, exponent form when
 * the integer part would exceed 19 digits. NaN and ±Infinity throw.
 */
export function realTextLossless(x: number): string {
  if (!Number.isFinite(x)) {
    throw new ValueError(
      `real ${x} cannot be sent to a JSON v1 server: Broker's JSON parser reads only finite numbers (nothing was sent)`,
    );
  }
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // Both give the shortest digits that round-trip (ECMAScript Number::toString).
  let t = Math.abs(x) >= EXPONENT_FROM ? x.toExponential() : String(x);
  const e = t.indexOf('e');
  if (e >= 0) {
    if (t.charCodeAt(e + 1) === 0x2b) t = t.slice(0, e + 1) + t.slice(e + 2);
    return t;
  }
  return t.includes('.') ? t : `${t}.0`;
}

const NS_PER_S = 1_000_000_000n;

/**
 * A timestamp with its sub-second part to the nanosecond (`2014-07-09T10:16:44.123456789`),
 * trailing zeros dropped but at least milliseconds, in UTC without a zone, as a lossless client writes.
 */
export function formatTimestampNs(ns: bigint): string {
  let sec = ns / NS_PER_S;
  if (sec * NS_PER_S > ns) sec -= 1n; // floor for negative values
  const frac = ns - sec * NS_PER_S;
  const whole = formatTimestampMs(sec * NS_PER_S).slice(0, -4); // drop ".000"
  let digits = frac.toString().padStart(9, '0');
  let end = 9;
  while (end > 3 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  return `${whole}.${digits}`;
}

/**
 * The earliest whole millisecond in the int64 nanosecond range. The instants before it (the first
 * 0.776 ms of the range) would floor to a millisecond outside the range, which no decoder could
 * read back; they go out as this millisecond instead.
 */
const FIRST_WHOLE_MS = -9_223_372_036_854_000_000n;

const PROTOCOL_TEXT: Readonly<Record<PortProtocol, string>> = { unknown: '?', tcp: 'tcp', udp: 'udp', icmp: 'icmp' };

/** `"@data-type":"…","data":…` — the fields of a value, without braces. */
function fields(v: Data, broker: boolean, client: boolean): string {
  switch (v.type) {
    case 'none':
      return '"@data-type":"none","data":{}';
    case 'boolean':
      return v.value ? '"@data-type":"boolean","data":true' : '"@data-type":"boolean","data":false';
    case 'count':
      return `"@data-type":"count","data":${v.value}`;
    case 'integer':
      return `"@data-type":"integer","data":${v.value}`;
    case 'real':
      return `"@data-type":"real","data":${client ? realTextLossless(v.value) : realText(v.value)}`;
    case 'string':
      return `"@data-type":"string","data":${quoteJsonString(v.value, broker)}`;
    case 'address':
      return `"@data-type":"address","data":"${formatAddress(v.bytes)}"`;
    case 'subnet':
      return `"@data-type":"subnet","data":"${formatAddress(v.bytes)}/${v.length}"`;
    case 'port':
      return `"@data-type":"port","data":"${v.number}/${PROTOCOL_TEXT[v.protocol]}"`;
    case 'timestamp':
      if (client) return `"@data-type":"timestamp","data":"${formatTimestampNs(v.ns)}"`;
      return `"@data-type":"timestamp","data":"${formatTimestampMs(v.ns < FIRST_WHOLE_MS ? FIRST_WHOLE_MS : v.ns)}"`;
    case 'timespan':
      return `"@data-type":"timespan","data":"${formatTimespan(v.ns)}"`;
    case 'enum-value':
      return `"@data-type":"enum-value","data":${quoteJsonString(v.name, broker)}`;
    case 'vector':
    case 'set': {
      const xs = v.elements;
      let out = v.type === 'set' ? '"@data-type":"set","data":[' : '"@data-type":"vector","data":[';
      for (let i = 0; i < xs.length; i++) out += `${i === 0 ? '{' : ',{'}${fields(xs[i]!, broker, client)}}`;
      return `${out}]`;
    }
    case 'table': {
      const es = v.entries;
      let out = '"@data-type":"table","data":[';
      for (let i = 0; i < es.length; i++) {
        const [k, x] = es[i]!;
        out += `${i === 0 ? '' : ','}{"key":{${fields(k, broker, client)}},"value":{${fields(x, broker, client)}}}`;
      }
      return `${out}]`;
    }
    default:
      throw new ValueError(`cannot encode ${String((v as { type?: unknown }).type)} as Broker JSON v1`);
  }
}

function isBroker(options: JsonEncodeOptions | undefined): boolean {
  return (options?.stringEscapes ?? DEFAULT_JSON_ENCODE_OPTIONS.stringEscapes) === 'broker';
}

function isClient(options: JsonEncodeOptions | undefined): boolean {
  return options?.role === 'client';
}

/**
 * Encodes a value as Broker's compact JSON v1 (`{"@data-type":"count","data":42}`). Throws
 * `ValueError` for a NaN or infinite real, which JSON v1 cannot carry.
 */
export function encodeJsonData(v: Data, options?: JsonEncodeOptions): string {
  return `{${fields(v, isBroker(options), isClient(options))}}`;
}

/** Encodes a message with Broker's key order (type, topic, @data-type, data for data messages). */
export function encodeJsonMessage(m: JsonV1Message, options?: JsonEncodeOptions): string {
  const broker = isBroker(options);
  switch (m.type) {
    case 'data-message':
      return `{"type":"data-message","topic":${quoteJsonString(m.topic, broker)},${fields(m.data, broker, isClient(options))}}`;
    case 'ack':
      return `{"type":"ack","endpoint":${quoteJsonString(m.endpoint, broker)},"version":${quoteJsonString(m.version, broker)}}`;
    case 'error':
      return `{"type":"error","code":${quoteJsonString(m.code, broker)},"context":${quoteJsonString(m.context, broker)}}`;
    default:
      throw new ValueError(`cannot encode message type ${String((m as { type?: unknown }).type)}`);
  }
}

/** The first non-finite real inside `v` (depth first), or undefined when there is none. */
function nonFiniteReal(v: Data): number | undefined {
  switch (v.type) {
    case 'real':
      return Number.isFinite(v.value) ? undefined : v.value;
    case 'vector':
    case 'set':
      for (const x of v.elements) {
        const r = nonFiniteReal(x);
        if (r !== undefined) return r;
      }
      return undefined;
    case 'table':
      for (const [k, x] of v.entries) {
        const r = nonFiniteReal(k) ?? nonFiniteReal(x);
        if (r !== undefined) return r;
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Throws a `ValueError` when `v` holds a real that a JSON v1 client cannot send (NaN, ±Infinity):
 * Broker's server prints them as bare words, but its parser reads only finite numbers.
 */
export function assertJsonClientEncodable(v: Data): void {
  const bad = nonFiniteReal(v);
  if (bad !== undefined) {
    throw new ValueError(
      `real ${bad} cannot be sent to a JSON v1 server: Broker's JSON parser reads only finite numbers (nothing was sent)`,
    );
  }
}

/** A client's handshake, the JSON array of its topic prefixes, with the chosen string escapes. */
export function encodeJsonHandshake(topics: readonly string[], options?: JsonEncodeOptions): string {
  const broker = isBroker(options);
  let out = '[';
  for (let i = 0; i < topics.length; i++) out += `${i === 0 ? '' : ','}${quoteJsonString(topics[i]!, broker)}`;
  return `${out}]`;
}
