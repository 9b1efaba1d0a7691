/**
 * Out of Broker values into plain JavaScript: typed accessors (`toNumber`, `toBigInt`, `toDate`)
 * that fail loudly on the wrong type, and `dataToJs` for whole values (lossy by design: it forgets
 * count vs integer vs real and gives addresses, subnets and ports as text).
 */
import { ValueError } from '../errors.js';
import { formatAddress } from './address.js';
import type { Data, TimestampData } from './types.js';

const NS_PER_MS = 1_000_000n;

function typeError(want: string, v: Data): ValueError {
  return new ValueError(`expected ${want}, got ${v?.type ?? typeof v}`);
}

/** The number held by a count, integer or real; throws if a count/integer is not a safe integer. */
export function toNumber(v: Data): number {
  switch (v.type) {
    case 'real':
      return v.value;
    case 'count':
    case 'integer': {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n))
        throw new ValueError(`${v.type} ${v.value} does not fit a number exactly; use toBigInt`);
      return n;
    }
    default:
      throw typeError('count, integer or real', v);
  }
}

/** The bigint held by a count or integer, or the nanoseconds of a timestamp or timespan. */
export function toBigInt(v: Data): bigint {
  switch (v.type) {
    case 'count':
    case 'integer':
      return v.value;
    case 'timestamp':
    case 'timespan':
      return v.ns;
    default:
      throw typeError('count, integer, timestamp or timespan', v);
  }
}

/** A timestamp as a `Date` (millisecond precision, rounded toward the past). */
export function toDate(v: TimestampData): Date {
  if (v?.type !== 'timestamp') throw typeError('timestamp', v);
  let ms = v.ns / NS_PER_MS;
  if (ms * NS_PER_MS > v.ns) ms -= 1n;
  return new Date(Number(ms));
}

/** A plain JavaScript value as produced by `dataToJs`. */
export type JsValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | readonly JsValue[]
  | ReadonlySet<JsValue>
  | ReadonlyMap<JsValue, JsValue>;

/** Options of `dataToJs`. */
export interface ToJsOptions {
  /**
   * How counts and integers come out: `'auto'` a number when it is a safe integer and a bigint
   * otherwise; `'bigint'` always a bigint; `'number'` always a number (may round above 2^53).
   * @default 'auto'
   */
  readonly int64?: 'auto' | 'bigint' | 'number';
}

/** Defaults of `ToJsOptions`. */
export const DEFAULT_TO_JS_OPTIONS: Required<ToJsOptions> = Object.freeze({ int64: 'auto' });

/**
 * A Broker value as plain JavaScript: none → `null`; boolean; count and integer → number or
 * bigint (see `int64`); real → number; string and enum name → string; address → `'10.0.0.1'`;
 * subnet → `'10.0.0.0/8'`; port → `'80/tcp'`; timestamp → `Date`; timespan → milliseconds as a
 * number (fractional below 1 ms); set → `Set`; table → `Map`; vector → array.
 */
export function dataToJs(v: Data, opts: ToJsOptions = {}): JsValue {
  const int64 = opts.int64 ?? DEFAULT_TO_JS_OPTIONS.int64;
  const conv = (x: Data): JsValue => {
    switch (x.type) {
      case 'none':
        return null;
      case 'boolean':
      case 'real':
      case 'string':
        return x.value;
      case 'count':
      case 'integer':
        if (int64 === 'bigint') return x.value;
        if (int64 === 'number') return Number(x.value);
        return x.value >= -9007199254740991n && x.value <= 9007199254740991n ? Number(x.value) : x.value;
      case 'address':
        return formatAddress(x.bytes);
      case 'subnet':
        return `${formatAddress(x.bytes)}/${x.length}`;
      case 'port':
        return `${x.number}/${x.protocol === 'unknown' ? '?' : x.protocol}`;
      case 'timestamp':
        return toDate(x);
      case 'timespan':
        return Number(x.ns / NS_PER_MS) + Number(x.ns % NS_PER_MS) / 1e6;
      case 'enum-value':
        return x.name;
      case 'set':
        return new Set(x.elements.map(conv));
      case 'table':
        return new Map(x.entries.map(([k, y]) => [conv(k), conv(y)] as const));
      case 'vector':
        return x.elements.map(conv);
    }
  };
  return conv(v);
}
