/**
 * Reading Zeek TSV logs back: the header (`#separator`, `#fields`, `#types`, …), the rows as the
 * raw field texts (what `zeek-cut` prints), and typed values. Enough to check what a writer wrote;
 * it reads any Zeek ASCII log whose strings are UTF-8.
 */
import { DecodeError, ValueError } from '../errors.js';
import { parseAddress } from '../data/address.js';
import { boolean, count, enumValue, integer, port, real, set, string, subnet, vector } from '../data/constructors.js';
import type { Data, VectorData } from '../data/types.js';
import { unescapeTsv } from './escape.js';
import { parseLogColumnType, type LogScalarType } from './types.js';

/** The header lines of a TSV log, unescaped. */
export interface ZeekTsvHeader {
  readonly separator: string;
  readonly setSeparator: string;
  readonly emptyField: string;
  readonly unsetField: string;
  readonly path: string | undefined;
  /** The `#open` stamp (`2026-11-26-14-40-00`). */
  readonly open: string | undefined;
  /** The `#close` stamp, when the file was closed. */
  readonly close: string | undefined;
  readonly fields: readonly string[];
  readonly types: readonly string[];
}

/** A parsed TSV log: header and rows of raw (still escaped) field texts. */
export interface ZeekTsvLog {
  readonly header: ZeekTsvHeader;
  readonly rows: readonly (readonly string[])[];
}

/** Header values escape only bytes (`\xHH`), not backslashes. */
function unescapeHeader(s: string): string {
  return unescapeTsv(s, false);
}

const SEPARATOR_LINE = /^#separator (.*)$/;

/**
 * Parses the text of a Zeek TSV log — one file, or files of the same columns one after another (a
 * rotated file and the current one): the rows of all, the header of the last. Throws
 * `DecodeError` when the text does not start with `#separator`, a row's field count differs from
 * `#fields`, or a later file has other fields or types.
 */
export function parseZeekTsv(text: string): ZeekTsvLog {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const m = SEPARATOR_LINE.exec(lines[0] ?? '');
  if (!m) throw new DecodeError('not a Zeek TSV log: the first line must be #separator');
  const h: { -readonly [K in keyof ZeekTsvHeader]: ZeekTsvHeader[K] } = {
    separator: unescapeHeader(m[1]!),
    setSeparator: ',',
    emptyField: '(empty)',
    unsetField: '-',
    path: undefined,
    open: undefined,
    close: undefined,
    fields: [],
    types: [],
  };
  const rows: string[][] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    const again = SEPARATOR_LINE.exec(line);
    if (again) {
      h.separator = unescapeHeader(again[1]!);
      continue;
    }
    const parts = line.split(h.separator);
    if (line.startsWith('#')) {
      const key = parts[0]!.slice(1);
      const rest = parts.slice(1);
      const value = unescapeHeader(rest.join(h.separator));
      if (key === 'set_separator') h.setSeparator = value;
      else if (key === 'empty_field') h.emptyField = value;
      else if (key === 'unset_field') h.unsetField = value;
      else if (key === 'path') h.path = value;
      else if (key === 'open') {
        h.open = value;
        h.close = undefined;
      } else if (key === 'close') h.close = value;
      else if (key === 'fields' || key === 'types') {
        const was = key === 'fields' ? h.fields : h.types;
        if (rows.length > 0 && was.join('\t') !== rest.join('\t')) {
          throw new DecodeError(`line ${n + 1}: a second log with other #${key}; parse such files one at a time`);
        }
        if (key === 'fields') h.fields = rest;
        else h.types = rest;
      }
      continue;
    }
    if (parts.length !== h.fields.length) {
      throw new DecodeError(`line ${n + 1}: ${parts.length} fields where #fields names ${h.fields.length}`);
    }
    rows.push(parts);
  }
  return { header: h, rows };
}

/** The separators and markers a field is read with. */
export type ZeekTsvMarkers = Pick<ZeekTsvHeader, 'setSeparator' | 'emptyField' | 'unsetField'>;

const DEFAULT_MARKERS: ZeekTsvMarkers = { setSeparator: ',', emptyField: '(empty)', unsetField: '-' };

const DECIMAL = /^(-?)(\d+)(?:\.(\d*))?$/;

/** Exact nanoseconds of decimal seconds (`1700000000.123456` → 1700000000123456000n). */
function secondsToNs(text: string): bigint {
  const m = DECIMAL.exec(text);
  if (!m) throw new ValueError(`'${text}' is not a number of seconds`);
  const frac = (m[3] ?? '').padEnd(9, '0');
  let ns = BigInt(m[2]!) * 1_000_000_000n + BigInt(frac.slice(0, 9));
  if (frac.length > 9 && frac.charCodeAt(9) >= 0x35) ns += 1n;
  return m[1] === '-' ? -ns : ns;
}

function scalarValue(text: string, type: LogScalarType, markers: ZeekTsvMarkers): Data {
  switch (type) {
    case 'string':
      return string(text === markers.emptyField ? '' : unescapeTsv(text));
    case 'enum':
      return enumValue(text === markers.emptyField ? '' : unescapeTsv(text));
    case 'bool':
      if (text === 'T' || text === 'F') return boolean(text === 'T');
      throw new ValueError(`'${text}' is not a bool (T or F)`);
    case 'count':
      if (/^\d+$/.test(text)) return count(BigInt(text));
      throw new ValueError(`'${text}' is not a count`);
    case 'int':
      if (/^-?\d+$/.test(text)) return integer(BigInt(text));
      throw new ValueError(`'${text}' is not an int`);
    case 'double': {
      const d = text === 'nan' ? NaN : text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text);
      if (Number.isNaN(d) && text !== 'nan') throw new ValueError(`'${text}' is not a double`);
      return real(d);
    }
    case 'time':
      return { type: 'timestamp', ns: secondsToNs(text) };
    case 'interval':
      return { type: 'timespan', ns: secondsToNs(text) };
    case 'addr': {
      const bytes = parseAddress(text);
      if (!bytes) throw new ValueError(`'${text}' is not an address`);
      return { type: 'address', bytes };
    }
    case 'subnet':
      return subnet(text);
    case 'port':
      // A TSV log keeps only the number; Zeek's reader takes the protocol as unknown.
      return /^\d+$/.test(text) ? port(Number(text), 'unknown') : port(text);
  }
}

/**
 * The value of one raw field of a column of `type` (a `#types` entry): the unset marker is
 * `none`, the empty marker an empty string, set or vector; sets and vectors split at the set
 * separator. Times and intervals are read exactly from their decimals. Throws `ValueError`.
 */
export function parseZeekTsvValue(text: string, type: string, markers: ZeekTsvMarkers = DEFAULT_MARKERS): Data {
  if (text === markers.unsetField) return { type: 'none' };
  const { container, element } = parseLogColumnType(type);
  if (container === undefined) return scalarValue(text, element, markers);
  const parts = text === markers.emptyField ? [] : text.split(markers.setSeparator);
  const elements = parts.map(
    (p): Data =>
      p === markers.unsetField && container === 'vector' ? { type: 'none' } : scalarValue(p, element, markers),
  );
  return container === 'set' ? set(elements) : vector(elements);
}

/** Every row of a parsed log as a record (a vector in `#fields` order), typed by `#types`. */
export function zeekTsvRecords(log: ZeekTsvLog): VectorData[] {
  const { header } = log;
  return log.rows.map((row, r) =>
    vector(
      row.map((text, i) => {
        try {
          return parseZeekTsvValue(text, header.types[i] ?? '', header);
        } catch (e) {
          throw new ValueError(`row ${r + 1}, field '${header.fields[i]}': ${(e as Error).message}`, { cause: e });
        }
      }),
    ),
  );
}

/** The raw texts of the named fields of every row, like `zeek-cut f1 f2 …`. */
export function zeekCut(log: ZeekTsvLog, fields: readonly string[]): string[][] {
  const at = fields.map((f) => {
    const i = log.header.fields.indexOf(f);
    if (i < 0) throw new ValueError(`the log has no field '${f}'`);
    return i;
  });
  return log.rows.map((row) => at.map((i) => row[i]!));
}
