/**
 * Log formats, pure: Zeek's ASCII writer in its default TSV form (the header lines, one line per
 * record, `#close` at the end; readable by zeek-cut) and in JSON lines (`LogAscii::use_json`).
 * Facts from Zeek's `logging/writers/ascii/Ascii.cc` and `threading/formatters/{Ascii,JSON}.cc`:
 *
 * - header: `#separator \x09` (a space before the escaped separator), then `#set_separator`,
 *   `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields`, `#types`, each `#key<TAB>value`;
 *   `#close<TAB>stamp` when the file closes. Stamps are `%Y-%m-%d-%H-%M-%S`, local time.
 * - values: bool `T`/`F`; count, int, port number as integers; time and interval with six
 *   decimals; double per `formatTsvDouble`; addr, subnet as Zeek prints them; strings and enums
 *   escaped (`log-escape.ts`); sets and vectors joined by the set separator, `(empty)` when empty;
 *   unset `-`. A line that would start with `#` gets it as `\x23`.
 * - JSON: one object per record in column order; unset fields left out (or `null` with
 *   `includeUnsetFields`); bool, numbers and ports as JSON numbers; time as epoch seconds by
 *   default; sets and vectors as arrays. No header or footer.
 */
import { ValueError } from '../errors.js';
import type { Data } from '../data/types.js';
import type { LogBytes } from './bytes.js';
import { escapeTsvHeader, formatJsonString, formatTsvString, hexEscape } from './escape.js';
import { tsvLinePlan, writeTsvLine, type TsvLinePlan } from './tsv-bytes.js';
import {
  formatJsonDouble,
  formatLogStamp,
  formatTsvDouble,
  formatTsvTime,
  formatZeekAddress,
  nsToSeconds,
  type LogTimeZone,
} from './text.js';
import { LOG_TYPE_DATA, type LogColumn, type LogStream } from './types.js';

/** How a writer turns a stream's records into the text of its files. */
export interface LogFormat {
  /** `tsv` or `json` (or a custom format's name). */
  readonly name: string;
  /** The lines that start a file opened at `openedAt` (ms since the epoch), each ending in `\n`. */
  header(stream: LogStream, openedAt: number): string;
  /** One record as one line, without the newline; throws `ValueError` for a malformed record. */
  record(stream: LogStream, record: Data): string;
  /**
   * The fast path, where a format has one: appends each record's line and a newline to `out` as
   * UTF-8 — the bytes of `record` — without building strings. All or nothing: when a record is
   * malformed it throws `ValueError` and leaves `out` as it was.
   */
  writeRecords?(stream: LogStream, records: readonly Data[], out: LogBytes): void;
  /** The lines that end a file closed at `closedAt`, each ending in `\n`. */
  footer(stream: LogStream, closedAt: number): string;
}

/** Options of the TSV format (Zeek's `LogAscii::*` settings). */
export interface TsvFormatOptions {
  /** Between fields. @default '\t' */
  readonly separator?: string;
  /** Between the elements of a set or vector. @default ',' */
  readonly setSeparator?: string;
  /** An empty string, set or vector. @default '(empty)' */
  readonly emptyField?: string;
  /** An unset optional field. @default '-' */
  readonly unsetField?: string;
  /** Starts the header lines. @default '#' */
  readonly metaPrefix?: string;
  /** Zone of the `#open` and `#close` stamps. @default 'local' (as Zeek) */
  readonly timeZone?: LogTimeZone;
}

/** Defaults of `TsvFormatOptions` (Zeek's). */
export const DEFAULT_TSV_FORMAT_OPTIONS: Required<TsvFormatOptions> = Object.freeze({
  separator: '\t',
  setSeparator: ',',
  emptyField: '(empty)',
  unsetField: '-',
  metaPrefix: '#',
  timeZone: 'local',
});

/** Options of the JSON lines format. */
export interface JsonFormatOptions {
  /**
   * How times are written: `epoch` seconds as a double, `millis` (integer ms, truncated) or
   * `iso8601` (`2008-07-09T16:13:30.543210Z`), as Zeek's `LogAscii::json_timestamps`.
   * @default 'epoch'
   */
  readonly timestamps?: 'epoch' | 'millis' | 'iso8601';
  /** Write unset fields as `null` instead of leaving them out. @default false */
  readonly includeUnsetFields?: boolean;
}

/** Defaults of `JsonFormatOptions` (Zeek's). */
export const DEFAULT_JSON_FORMAT_OPTIONS: Required<JsonFormatOptions> = Object.freeze({
  timestamps: 'epoch',
  includeUnsetFields: false,
});

function wrongType(streamId: string, column: LogColumn, v: Data): ValueError {
  return new ValueError(`column '${column.name}' (${column.type}) of ${streamId}: got a Broker ${v.type}`);
}

function fields(stream: LogStream, record: Data): readonly Data[] {
  if (record?.type !== 'vector') throw new ValueError(`a record of ${stream.id} must be a Broker vector`);
  if (record.elements.length !== stream.columns.length) {
    throw new ValueError(`a record of ${stream.id} has ${stream.columns.length} fields, got ${record.elements.length}`);
  }
  return record.elements;
}

type Cell = (v: Data) => string;

/** Formats a non-none scalar whose type was checked. */
function tsvScalar(v: Data, sequences: readonly string[], o: Required<TsvFormatOptions>): string {
  switch (v.type) {
    case 'boolean':
      return v.value ? 'T' : 'F';
    case 'count':
    case 'integer':
      return v.value.toString();
    case 'real':
      return formatTsvDouble(v.value);
    case 'timestamp':
    case 'timespan':
      return formatTsvTime(v.ns);
    case 'string':
      return formatTsvString(v.value, sequences, o.unsetField, o.emptyField);
    case 'enum-value':
      return formatTsvString(v.name, sequences, o.unsetField, o.emptyField);
    case 'address':
      return formatZeekAddress(v.bytes);
    case 'subnet':
      return `${formatZeekAddress(v.bytes)}/${v.length}`;
    case 'port':
      return String(v.number);
    default:
      return o.unsetField;
  }
}

function tsvCell(streamId: string, column: LogColumn, o: Required<TsvFormatOptions>): Cell {
  const tag = LOG_TYPE_DATA[column.element];
  const top = [o.separator];
  if (column.container === undefined) {
    return (v) => {
      if (v.type === tag) return tsvScalar(v, top, o);
      if (v.type === 'none') return o.unsetField;
      throw wrongType(streamId, column, v);
    };
  }
  const inner = [o.separator, o.setSeparator];
  const kind = column.container;
  return (v) => {
    if (v.type === 'none') return o.unsetField;
    if (v.type !== kind) throw wrongType(streamId, column, v);
    if (v.elements.length === 0) return o.emptyField;
    let out = '';
    v.elements.forEach((e, i) => {
      if (e.type !== tag && !(e.type === 'none' && kind === 'vector')) throw wrongType(streamId, column, e);
      out += (i === 0 ? '' : o.setSeparator) + tsvScalar(e, inner, o);
    });
    return out;
  };
}

/** Zeek's ASCII writer in its default TSV form. */
export function createTsvFormat(options: TsvFormatOptions = {}): LogFormat {
  const o: Required<TsvFormatOptions> = { ...DEFAULT_TSV_FORMAT_OPTIONS, ...stripUndefined(options) };
  for (const key of ['separator', 'setSeparator', 'metaPrefix'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '')
      throw new ValueError(`TSV option ${key} must be a non-empty string`);
  }
  const compiled = new WeakMap<LogStream, readonly Cell[]>();
  const plans = new WeakMap<LogStream, TsvLinePlan>();
  const prefix = o.metaPrefix;
  const prefixBytes = new TextEncoder().encode(prefix);
  const startsWithPrefix = (buf: Uint8Array, at: number, end: number): boolean => {
    if (end - at < prefixBytes.length) return false;
    for (let k = 0; k < prefixBytes.length; k++) if (buf[at + k] !== prefixBytes[k]) return false;
    return true;
  };
  const line = (key: string, value: string): string => `${prefix}${key}${o.separator}${value}\n`;
  return {
    name: 'tsv',
    header(stream, openedAt) {
      const names = stream.columns.map((c) => c.name).join(o.separator);
      const types = stream.columns.map((c) => c.type).join(o.separator);
      return (
        `${prefix}separator ${escapeTsvHeader(o.separator)}\n` +
        line('set_separator', escapeTsvHeader(o.setSeparator)) +
        line('empty_field', escapeTsvHeader(o.emptyField)) +
        line('unset_field', escapeTsvHeader(o.unsetField)) +
        line('path', escapeTsvHeader(stream.path)) +
        line('open', formatLogStamp(openedAt, o.timeZone)) +
        line('fields', names) +
        line('types', types)
      );
    },
    record(stream, record) {
      return tsvRecord(stream, record);
    },
    writeRecords(stream, records, out) {
      let plan = plans.get(stream);
      if (plan === undefined) {
        plan = tsvLinePlan(stream.columns, o);
        plans.set(stream, plan);
      }
      const start = out.length;
      const n = stream.columns.length;
      try {
        for (let r = 0; r < records.length; r++) {
          const record = records[r]!;
          const lineStart = out.length;
          const fast =
            record?.type === 'vector' && record.elements.length === n && writeTsvLine(record.elements, plan, out);
          // A wrong type, or a line starting with the meta prefix: the string path writes it (or throws).
          if (!fast || startsWithPrefix(out.buf, lineStart, out.length)) {
            out.length = lineStart;
            out.utf8(tsvRecord(stream, record));
          }
          out.byte(0x0a);
        }
      } catch (e) {
        out.length = start;
        throw e;
      }
    },
    footer(_stream, closedAt) {
      return line('close', formatLogStamp(closedAt, o.timeZone));
    },
  };

  function tsvRecord(stream: LogStream, record: Data): string {
    const values = fields(stream, record);
    let cells = compiled.get(stream);
    if (cells === undefined) {
      cells = stream.columns.map((c) => tsvCell(stream.id, c, o));
      compiled.set(stream, cells);
    }
    let out = cells[0]!(values[0]!);
    for (let i = 1; i < cells.length; i++) out += o.separator + cells[i]!(values[i]!);
    if (out.startsWith(prefix)) {
      const first = String.fromCodePoint(out.codePointAt(0)!);
      out = [...new TextEncoder().encode(first)].map(hexEscape).join('') + out.slice(first.length);
    }
    return out;
  }
}

const defaultCells = new WeakMap<LogColumn, Cell>();

/**
 * One field as a TSV log writes it (`1700000000.123456`, `T`, `-`, `a,b`), for showing values
 * the way the log file does. Throws `ValueError` when the value does not fit the column.
 */
export function formatLogValue(column: LogColumn, value: Data, options?: TsvFormatOptions): string {
  if (options === undefined) {
    // The default options (a live tail formats every value this way): one compiled cell per column.
    let cell = defaultCells.get(column);
    if (cell === undefined) {
      cell = tsvCell('the stream', column, DEFAULT_TSV_FORMAT_OPTIONS);
      defaultCells.set(column, cell);
    }
    return cell(value);
  }
  const o: Required<TsvFormatOptions> = { ...DEFAULT_TSV_FORMAT_OPTIONS, ...stripUndefined(options) };
  return tsvCell('the stream', column, o)(value);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const ISO_DATE = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 19);

/** A time in JSON, per `timestamps`. */
function jsonTime(ns: bigint, mode: Required<JsonFormatOptions>['timestamps']): string {
  const d = nsToSeconds(ns);
  if (mode === 'epoch') return formatJsonDouble(d);
  if (mode === 'millis') return String(Math.trunc(d * 1000));
  const whole = Math.floor(d);
  let frac = d - Math.trunc(d);
  if (frac < 0) frac += 1;
  // C's %06.0f: the exact double rounded half to even.
  const x = Math.abs(frac) * 1e6;
  let r = Math.floor(x);
  const rest = x - r;
  if (rest > 0.5 || (rest === 0.5 && r % 2 === 1)) r += 1;
  return `"${ISO_DATE(whole)}.${String(r).padStart(6, '0')}Z"`;
}

function jsonScalar(v: Data, o: Required<JsonFormatOptions>): string {
  switch (v.type) {
    case 'boolean':
      return v.value ? 'true' : 'false';
    case 'count':
    case 'integer':
      return v.value.toString();
    case 'real':
      return formatJsonDouble(v.value);
    case 'timestamp':
      return jsonTime(v.ns, o.timestamps);
    case 'timespan':
      return formatJsonDouble(nsToSeconds(v.ns));
    case 'string':
      return formatJsonString(v.value);
    case 'enum-value':
      return formatJsonString(v.name);
    case 'address':
      return `"${formatZeekAddress(v.bytes)}"`;
    case 'subnet':
      return `"${formatZeekAddress(v.bytes)}/${v.length}"`;
    case 'port':
      return String(v.number);
    default:
      return 'null';
  }
}

/** Zeek's ASCII writer with `LogAscii::use_json`: one JSON object per line. */
export function createJsonFormat(options: JsonFormatOptions = {}): LogFormat {
  const o: Required<JsonFormatOptions> = { ...DEFAULT_JSON_FORMAT_OPTIONS, ...stripUndefined(options) };
  if (!['epoch', 'millis', 'iso8601'].includes(o.timestamps)) {
    throw new ValueError(`JSON option timestamps must be epoch, millis or iso8601, got ${String(o.timestamps)}`);
  }
  const keys = new WeakMap<LogStream, readonly string[]>();
  return {
    name: 'json',
    header: () => '',
    record(stream, record) {
      const values = fields(stream, record);
      let names = keys.get(stream);
      if (names === undefined) {
        names = stream.columns.map((c) => `${JSON.stringify(c.name)}:`);
        keys.set(stream, names);
      }
      const { columns } = stream;
      let out = '{';
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i]!;
        const v = values[i]!;
        let text: string;
        if (v.type === 'none') {
          if (!o.includeUnsetFields) continue;
          text = 'null';
        } else if (c.container === undefined) {
          if (v.type !== LOG_TYPE_DATA[c.element]) throw wrongType(stream.id, c, v);
          text = jsonScalar(v, o);
        } else {
          if (v.type !== c.container) throw wrongType(stream.id, c, v);
          const tag = LOG_TYPE_DATA[c.element];
          text = '[';
          v.elements.forEach((e, j) => {
            if (e.type !== tag && !(e.type === 'none' && c.container === 'vector')) throw wrongType(stream.id, c, e);
            text += (j === 0 ? '' : ',') + jsonScalar(e, o);
          });
          text += ']';
        }
        out += (out.length === 1 ? '' : ',') + names[i]! + text;
      }
      return `${out}}`;
    },
    footer: () => '',
  };
}

/** The format for a name: `tsv` or `json` with default options, or the format itself. */
export function resolveLogFormat(format: 'tsv' | 'json' | LogFormat, timeZone?: LogTimeZone): LogFormat {
  if (format === 'tsv') return createTsvFormat({ timeZone });
  if (format === 'json') return createJsonFormat();
  if (typeof format === 'object' && format !== null && typeof format.record === 'function') return format;
  throw new ValueError(`unknown log format ${String(format)}: use 'tsv', 'json' or a LogFormat`);
}
