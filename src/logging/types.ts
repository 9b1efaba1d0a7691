/**
 * Types of log streams: Zeek's column types (the names a log's `#types` line uses), columns and
 * streams. A record is a Broker vector holding one value per column in column order, `none` where
 * an optional column is unset.
 *
 * Zeek cannot log tables (only sets), so `table` is no column type here either; containers hold
 * scalars (no Zeek log nests containers).
 */
import { ValueError } from '../errors.js';
import type { Data, DataType } from '../data/types.js';

/** Zeek's scalar column types, named as in a log's `#types` line. */
export const LOG_SCALAR_TYPES = [
  'bool',
  'count',
  'int',
  'double',
  'time',
  'interval',
  'string',
  'addr',
  'subnet',
  'port',
  'enum',
] as const;

/** A scalar Zeek log column type. */
export type LogScalarType = (typeof LOG_SCALAR_TYPES)[number];

/** A column type: a scalar, or a set or vector of a scalar (`set[string]`, `vector[count]`). */
export type LogColumnType = LogScalarType | `set[${LogScalarType}]` | `vector[${LogScalarType}]`;

/** The Broker type that carries each column type's values. */
export const LOG_TYPE_DATA: Readonly<Record<LogScalarType, DataType>> = Object.freeze({
  bool: 'boolean',
  count: 'count',
  int: 'integer',
  double: 'real',
  time: 'timestamp',
  interval: 'timespan',
  string: 'string',
  addr: 'address',
  subnet: 'subnet',
  port: 'port',
  enum: 'enum-value',
});

/** A column as given to `defineLogStream`. */
export interface LogColumnSpec {
  /** The field name written in `#fields` (`ts`, `id.orig_h`). */
  readonly name: string;
  readonly type: LogColumnType;
  /**
   * Whether the column may be unset (Zeek's `&optional`); an unset value is written `-`.
   * @default false
   */
  readonly optional?: boolean;
  /**
   * The value used when a record leaves the column out (Zeek's `&default`), in any form
   * `toRecord` accepts for the column's type.
   * @default undefined — none: leaving the column out is an error unless it is optional
   */
  readonly default?: unknown;
}

/** What `defineLogStream` takes. */
export interface LogStreamSpec {
  /** The stream id, an enum name such as `Conn::LOG`. */
  readonly id: string;
  /**
   * The path files are named after (`conn` → `conn.log`): one file-name segment, no `/`.
   * @default defaultLogPath(id), Zeek's `Log::default_path_func`
   */
  readonly path?: string;
  readonly columns: readonly LogColumnSpec[];
}

/** A column of a defined stream, its type taken apart. */
export interface LogColumn {
  readonly name: string;
  readonly type: LogColumnType;
  readonly optional: boolean;
  /** `set` or `vector` for a container column. */
  readonly container: 'set' | 'vector' | undefined;
  /** The scalar type, or the element type of a container. */
  readonly element: LogScalarType;
  /** The value for a left-out column, already converted. */
  readonly default: Data | undefined;
}

/** A defined log stream (immutable). */
export interface LogStream {
  readonly id: string;
  readonly path: string;
  readonly columns: readonly LogColumn[];
  /** Column index by name. */
  readonly index: ReadonlyMap<string, number>;
}

const SCALARS: ReadonlySet<string> = new Set(LOG_SCALAR_TYPES);
const CONTAINER_TYPE = /^(set|vector)\[([a-z]+)\]$/;

/** Takes a column type apart; throws `ValueError` for a type Zeek cannot log. */
export function parseLogColumnType(type: string): {
  readonly container: 'set' | 'vector' | undefined;
  readonly element: LogScalarType;
} {
  if (typeof type === 'string' && SCALARS.has(type)) return { container: undefined, element: type as LogScalarType };
  const m = typeof type === 'string' ? CONTAINER_TYPE.exec(type) : null;
  if (m && SCALARS.has(m[2]!)) return { container: m[1] as 'set' | 'vector', element: m[2] as LogScalarType };
  throw new ValueError(
    `unknown log column type '${String(type)}': use ${LOG_SCALAR_TYPES.join(', ')}, or set[T] or vector[T] of those`,
  );
}
