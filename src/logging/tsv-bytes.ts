/**
 * The TSV format's fast path: records written straight into a `LogBytes` buffer as UTF-8, field by
 * field, without building a string per field or per line. It writes exactly the bytes of the
 * string path (`createTsvFormat().record` encoded as UTF-8, a newline after each line): the common
 * cases — printable-ASCII strings, IPv4 addresses, counts, ports, times — are written here, and
 * everything else (escapes, markers, IPv6, doubles, huge numbers, a wrong type) goes through the
 * string path's own functions.
 */
import type { Data } from '../data/types.js';
import type { LogBytes } from './bytes.js';
import { formatTsvString } from './escape.js';
import { formatRealFixed } from '../data/text.js';
import { formatTsvDouble, formatZeekAddress } from './text.js';
import { LOG_TYPE_DATA, type LogColumn, type LogScalarType } from './types.js';

const encoder = new TextEncoder();
const TWO_53 = 2 ** 53;

/** The TSV options the fast path needs (all given). */
export interface TsvBytesOptions {
  readonly separator: string;
  readonly setSeparator: string;
  readonly emptyField: string;
  readonly unsetField: string;
}

/** Writes one field; false when the value does not fit the column (the string path then reports it). */
type TsvFieldWriter = (v: Data, out: LogBytes) => boolean;

/** Code units below 0x80 that a plain string must not hold: controls, DEL, `\`, separators' first characters. */
function stopTable(sequences: readonly string[]): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0; c < 0x20; c++) t[c] = 1;
  t[0x7f] = 1;
  t[0x5c] = 1;
  for (const q of sequences) {
    const c = q.charCodeAt(0);
    if (c < 0x80) t[c] = 1;
  }
  return t;
}

/** A string or enum name: printable ASCII without stops is copied; the rest is escaped by the string path. */
function putText(
  s: string,
  out: LogBytes,
  stops: Uint8Array,
  sequences: readonly string[],
  o: TsvBytesOptions,
  empty: Uint8Array,
): void {
  const n = s.length;
  if (n === 0) {
    out.append(empty);
    return;
  }
  if (s !== o.unsetField && s !== o.emptyField) {
    out.reserve(n);
    const buf = out.buf;
    let at = out.length;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || stops[c] === 1) break;
      buf[at++] = c;
    }
    if (i === n) {
      out.length = at;
      return;
    }
  }
  out.utf8(formatTsvString(s, sequences, o.unsetField, o.emptyField));
}

/**
 * C's `%.6f` of `d` (what `formatRealFixed` returns), digits written directly; near a rounding
 * tie, for huge values and for non-finite ones the string function decides.
 */
export function putFixed6(d: number, out: LogBytes): void {
  const abs = Math.abs(d);
  if (!(abs < TWO_53)) {
    out.ascii(formatRealFixed(d));
    return;
  }
  let whole = Math.trunc(abs);
  // Exact: the fraction of a double is a double.
  const x = (abs - whole) * 1e6;
  const floor = Math.floor(x);
  // The product is within ~1.2e-10 of the exact value: only a fraction near .5 could round the
  // other way.
  if (Math.abs(x - floor - 0.5) < 1e-6) {
    out.ascii(formatRealFixed(d));
    return;
  }
  let micros = Math.round(x);
  if (micros === 1_000_000) {
    whole += 1;
    micros = 0;
  }
  if (d < 0 || Object.is(d, -0)) out.byte(0x2d);
  out.decimal(whole);
  out.reserve(7);
  const buf = out.buf;
  let at = out.length + 7;
  out.length = at;
  for (let k = 0; k < 6; k++, micros = Math.floor(micros / 10)) buf[--at] = 0x30 + (micros % 10);
  buf[--at] = 0x2e;
}

/** A count or integer. */
function putInteger(value: bigint, out: LogBytes): void {
  // Numbers from 2^53 on stay there when converted: below it the conversion is exact.
  const n = Number(value);
  if (n >= 0 && n < TWO_53) out.decimal(n);
  else out.ascii(value.toString());
}

function putAddress(bytes: Uint8Array, out: LogBytes): void {
  if (
    bytes[10] === 0xff &&
    bytes[11] === 0xff &&
    bytes[0] === 0 &&
    bytes[1] === 0 &&
    bytes[2] === 0 &&
    bytes[3] === 0 &&
    bytes[4] === 0 &&
    bytes[5] === 0 &&
    bytes[6] === 0 &&
    bytes[7] === 0 &&
    bytes[8] === 0 &&
    bytes[9] === 0
  ) {
    out.reserve(15);
    out.decimal(bytes[12]!);
    out.buf[out.length++] = 0x2e;
    out.decimal(bytes[13]!);
    out.buf[out.length++] = 0x2e;
    out.decimal(bytes[14]!);
    out.buf[out.length++] = 0x2e;
    out.decimal(bytes[15]!);
  } else out.ascii(formatZeekAddress(bytes));
}

/** Writes a non-none value whose type was checked. */
type Put = (v: Data, out: LogBytes) => void;

function scalarPut(element: LogScalarType, sequences: readonly string[], o: TsvBytesOptions): Put {
  const stops = stopTable(sequences);
  const empty = encoder.encode(o.emptyField);
  switch (element) {
    case 'bool':
      return (v, out) => out.byte((v as { value: boolean }).value ? 0x54 : 0x46);
    case 'count':
    case 'int':
      return (v, out) => putInteger((v as { value: bigint }).value, out);
    case 'double':
      return (v, out) => out.ascii(formatTsvDouble((v as { value: number }).value));
    case 'time':
    case 'interval':
      return (v, out) => putFixed6(Number((v as { ns: bigint }).ns) / 1e9, out);
    case 'string':
      return (v, out) => putText((v as { value: string }).value, out, stops, sequences, o, empty);
    case 'enum':
      return (v, out) => putText((v as { name: string }).name, out, stops, sequences, o, empty);
    case 'addr':
      return (v, out) => putAddress((v as { bytes: Uint8Array }).bytes, out);
    case 'subnet':
      return (v, out) => {
        const s = v as { bytes: Uint8Array; length: number };
        putAddress(s.bytes, out);
        out.byte(0x2f);
        out.decimal(s.length);
      };
    case 'port':
      return (v, out) => out.decimal((v as { number: number }).number);
  }
}

/** The field writer of a column (its type, `none`, sets and vectors). */
function tsvFieldWriter(column: LogColumn, o: TsvBytesOptions): TsvFieldWriter {
  const tag = LOG_TYPE_DATA[column.element];
  const unset = encoder.encode(o.unsetField);
  if (column.container === undefined) {
    const put = scalarPut(column.element, [o.separator], o);
    return (v, out) => {
      if (v.type === tag) put(v, out);
      else if (v.type === 'none') out.append(unset);
      else return false;
      return true;
    };
  }
  const put = scalarPut(column.element, [o.separator, o.setSeparator], o);
  const kind = column.container;
  const empty = encoder.encode(o.emptyField);
  const setSeparator = encoder.encode(o.setSeparator);
  return (v, out) => {
    if (v.type === 'none') {
      out.append(unset);
      return true;
    }
    if (v.type !== kind) return false;
    const elements = (v as { elements: readonly Data[] }).elements;
    if (elements.length === 0) {
      out.append(empty);
      return true;
    }
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i]!;
      if (i > 0) out.append(setSeparator);
      if (e.type === tag) put(e, out);
      else if (e.type === 'none' && kind === 'vector') out.append(unset);
      else return false;
    }
    return true;
  };
}

const K_BOOL = 0;
const K_INTEGER = 1;
const K_DOUBLE = 2;
const K_TIME = 3;
const K_STRING = 4;
const K_ENUM = 5;
const K_ADDR = 6;
const K_SUBNET = 7;
const K_PORT = 8;
const K_CONTAINER = 9;

const KIND: Readonly<Record<LogScalarType, number>> = {
  bool: K_BOOL,
  count: K_INTEGER,
  int: K_INTEGER,
  double: K_DOUBLE,
  time: K_TIME,
  interval: K_TIME,
  string: K_STRING,
  enum: K_ENUM,
  addr: K_ADDR,
  subnet: K_SUBNET,
  port: K_PORT,
};

/** How the fields of one stream's records are written (see `tsvLinePlan`). */
export interface TsvLinePlan {
  /** Per column: what it holds (scalar kinds; containers go through `containers`). */
  readonly kinds: Uint8Array;
  /** Per column: the Broker type of its values. */
  readonly tags: readonly string[];
  readonly containers: readonly (TsvFieldWriter | undefined)[];
  /** The separator when it is one byte, else -1 (then `separator`'s bytes). */
  readonly separatorByte: number;
  readonly separator: Uint8Array;
  readonly unset: Uint8Array;
  readonly empty: Uint8Array;
  readonly stops: Uint8Array;
  readonly sequences: readonly string[];
  readonly options: TsvBytesOptions;
}

/** Compiles the columns of a stream for `writeTsvLine`. */
export function tsvLinePlan(columns: readonly LogColumn[], o: TsvBytesOptions): TsvLinePlan {
  const separator = encoder.encode(o.separator);
  return {
    kinds: Uint8Array.from(columns, (c) => (c.container === undefined ? KIND[c.element] : K_CONTAINER)),
    tags: columns.map((c) => LOG_TYPE_DATA[c.element]),
    containers: columns.map((c) => (c.container === undefined ? undefined : tsvFieldWriter(c, o))),
    separatorByte: separator.length === 1 ? separator[0]! : -1,
    separator,
    unset: encoder.encode(o.unsetField),
    empty: encoder.encode(o.emptyField),
    stops: stopTable([o.separator]),
    sequences: [o.separator],
    options: o,
  };
}

/**
 * Writes the fields of one record (its values in column order, as many as columns) without the
 * newline; false when a value does not fit its column (what was written is then to be dropped).
 */
export function writeTsvLine(values: readonly Data[], p: TsvLinePlan, out: LogBytes): boolean {
  const { kinds, tags, separatorByte } = p;
  const n = kinds.length;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      if (separatorByte >= 0) out.byte(separatorByte);
      else out.append(p.separator);
    }
    const v = values[i]!;
    const kind = kinds[i]!;
    if (kind === K_CONTAINER) {
      if (!p.containers[i]!(v, out)) return false;
      continue;
    }
    if (v.type !== tags[i]) {
      if (v.type !== 'none') return false;
      out.append(p.unset);
      continue;
    }
    switch (kind) {
      case K_BOOL:
        out.byte((v as { value: boolean }).value ? 0x54 : 0x46);
        break;
      case K_INTEGER:
        putInteger((v as { value: bigint }).value, out);
        break;
      case K_DOUBLE:
        out.ascii(formatTsvDouble((v as { value: number }).value));
        break;
      case K_TIME:
        putFixed6(Number((v as { ns: bigint }).ns) / 1e9, out);
        break;
      case K_STRING:
        putText((v as { value: string }).value, out, p.stops, p.sequences, p.options, p.empty);
        break;
      case K_ENUM:
        putText((v as { name: string }).name, out, p.stops, p.sequences, p.options, p.empty);
        break;
      case K_ADDR:
        putAddress((v as { bytes: Uint8Array }).bytes, out);
        break;
      case K_SUBNET:
        putAddress((v as { bytes: Uint8Array }).bytes, out);
        out.byte(0x2f);
        out.decimal((v as { length: number }).length);
        break;
      default:
        out.decimal((v as { number: number }).number);
    }
  }
  return true;
}
