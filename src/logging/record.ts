/**
 * Log records: plain JavaScript values checked against a stream's column types and turned into the
 * Broker vector Zeek uses (one value per column, in column order, `none` for an unset optional
 * column), and the way back.
 *
 * Accepted per column type (a Broker value of the column's own type is always accepted):
 * `bool` boolean · `count`, `int` number (safe integer) or bigint · `double` number · `time`
 * number of seconds since the epoch (Zeek's `time`) or a `Date` · `interval` number of seconds ·
 * `string`, `enum` string · `addr` text or 4/16 bytes · `subnet` `'10.0.0.0/8'` · `port` number
 * (tcp, as Broker assumes) or `'53/udp'` · `set[T]` any iterable of T · `vector[T]` an array of T,
 * where `null`/`undefined` is a hole (`none`).
 */
import { ValueError } from '../errors.js';
import {
  address,
  boolean,
  count,
  enumValue,
  integer,
  isData,
  port,
  real,
  set,
  string,
  subnet,
  timestamp,
  timestampFromSeconds,
  timespanFromSeconds,
} from '../data/constructors.js';
import type { Data, VectorData } from '../data/types.js';
import { LOG_TYPE_DATA, type LogColumn, type LogScalarType, type LogStream } from './types.js';

const NONE: Data = Object.freeze({ type: 'none' });

function describe(v: unknown): string {
  if (isData(v)) return `a Broker ${v.type}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? Object.prototype.toString.call(v).slice(8, -1) : typeof v;
}

/** Converts one plain value (not a container) to the Broker value of a scalar column type. */
function scalar(type: LogScalarType, v: unknown): Data | undefined {
  if (isData(v)) return v.type === LOG_TYPE_DATA[type] ? v : undefined;
  switch (type) {
    case 'bool':
      return typeof v === 'boolean' ? boolean(v) : undefined;
    case 'count':
      return typeof v === 'number' || typeof v === 'bigint' ? count(v) : undefined;
    case 'int':
      return typeof v === 'number' || typeof v === 'bigint' ? integer(v) : undefined;
    case 'double':
      return typeof v === 'number' ? real(v) : undefined;
    case 'time':
      if (v instanceof Date) return timestamp(v);
      return typeof v === 'number' ? timestampFromSeconds(v) : undefined;
    case 'interval':
      return typeof v === 'number' ? timespanFromSeconds(v) : undefined;
    case 'string':
      return typeof v === 'string' ? string(v) : undefined;
    case 'enum':
      return typeof v === 'string' ? enumValue(v) : undefined;
    case 'addr':
      return typeof v === 'string' || v instanceof Uint8Array ? address(v) : undefined;
    case 'subnet':
      return typeof v === 'string' ? subnet(v) : undefined;
    case 'port':
      return typeof v === 'number' || typeof v === 'string' ? port(v) : undefined;
  }
}

function element(streamId: string, column: LogColumn, v: unknown): Data {
  const d = scalar(column.element, v);
  if (d === undefined) {
    throw new ValueError(
      `column '${column.name}' of ${streamId} (${column.type}): expected ${column.element} elements, got ${describe(v)}`,
    );
  }
  return d;
}

function checkElementTypes(streamId: string, column: LogColumn, elements: readonly Data[]): void {
  const tag = LOG_TYPE_DATA[column.element];
  for (const e of elements) {
    if (e.type !== tag && !(e.type === 'none' && column.container === 'vector')) {
      throw new ValueError(`column '${column.name}' of ${streamId} (${column.type}): holds a Broker ${e.type} element`);
    }
  }
}

/**
 * Converts one present value for `column` (of stream `streamId`, for messages) to its Broker
 * value; throws `ValueError` naming the column when the value does not fit.
 */
export function toColumnData(streamId: string, column: LogColumn, v: unknown): Data {
  try {
    if (column.container === undefined) {
      const d = scalar(column.element, v);
      if (d === undefined) throw new ValueError(`expected ${column.type}, got ${describe(v)}`);
      return d;
    }
    if (isData(v)) {
      if (v.type !== column.container) throw new ValueError(`expected ${column.type}, got ${describe(v)}`);
      checkElementTypes(streamId, column, v.elements);
      return v;
    }
    if (column.container === 'vector') {
      if (!Array.isArray(v)) throw new ValueError(`expected an array for ${column.type}, got ${describe(v)}`);
      return {
        type: 'vector',
        elements: v.map((e: unknown) => (e === undefined || e === null ? NONE : element(streamId, column, e))),
      };
    }
    if (typeof v !== 'object' || v === null || typeof (v as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new ValueError(`expected an iterable (array or Set) for ${column.type}, got ${describe(v)}`);
    }
    return set([...(v as Iterable<unknown>)].map((e) => element(streamId, column, e)));
  } catch (e) {
    if (e instanceof ValueError && e.message.startsWith(`column '${column.name}'`)) throw e;
    throw new ValueError(`column '${column.name}' of ${streamId} (${column.type}): ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function missing(stream: LogStream, column: LogColumn): Data {
  if (column.default !== undefined) return column.default;
  if (column.optional) return NONE;
  throw new ValueError(`missing value for column '${column.name}' (${column.type}) of ${stream.id}`);
}

/**
 * Builds the record of `stream` from values by column name (an object) or in column order (an
 * array of exactly one value per column). `undefined` or `null` means left out: the column's
 * default, `none` when it is optional, else a `ValueError` naming the column. Unknown names and
 * values that do not fit the column's type are `ValueError`s too.
 */
export function toRecord(
  stream: LogStream,
  values: Readonly<Record<string, unknown>> | readonly unknown[],
): VectorData {
  const { columns } = stream;
  const out = new Array<Data>(columns.length);
  if (Array.isArray(values)) {
    if (values.length !== columns.length) {
      throw new ValueError(
        `a record of ${stream.id} has ${columns.length} values in column order, got ${values.length}`,
      );
    }
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]!;
      const v: unknown = values[i];
      out[i] = v === undefined || v === null ? missing(stream, c) : toColumnData(stream.id, c, v);
    }
  } else {
    if (typeof values !== 'object' || values === null) {
      throw new ValueError(`a record of ${stream.id} is an object or an array of values, got ${describe(values)}`);
    }
    for (const key in values) {
      if (!stream.index.has(key)) throw new ValueError(`${stream.id} has no column '${key}'`);
    }
    const obj = values as Readonly<Record<string, unknown>>;
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]!;
      const v = Object.hasOwn(obj, c.name) ? obj[c.name] : undefined;
      out[i] = v === undefined || v === null ? missing(stream, c) : toColumnData(stream.id, c, v);
    }
  }
  return { type: 'vector', elements: out };
}

/**
 * Checks that `record` is a record of `stream` (a vector with one value of the right type per
 * column, `none` only in optional columns) and returns it; throws `ValueError` naming the column.
 * For records that arrive from elsewhere.
 */
export function checkRecord(stream: LogStream, record: Data): VectorData {
  if (!isData(record) || record.type !== 'vector')
    throw new ValueError(`a record of ${stream.id} must be a Broker vector`);
  if (record.elements.length !== stream.columns.length) {
    throw new ValueError(`a record of ${stream.id} has ${stream.columns.length} fields, got ${record.elements.length}`);
  }
  stream.columns.forEach((c, i) => {
    const v = record.elements[i]!;
    if (v.type === 'none') {
      if (!c.optional) throw new ValueError(`column '${c.name}' (${c.type}) of ${stream.id} is unset but not optional`);
      return;
    }
    toColumnData(stream.id, c, v);
  });
  return record;
}

/** The fields of a record by column name, unset optional columns left out. */
export function fromRecord(stream: LogStream, record: Data): Record<string, Data> {
  const r = checkRecord(stream, record);
  const out: Record<string, Data> = {};
  stream.columns.forEach((c, i) => {
    const v = r.elements[i]!;
    if (v.type !== 'none')
      Object.defineProperty(out, c.name, { value: v, enumerable: true, writable: true, configurable: true });
  });
  return out;
}
