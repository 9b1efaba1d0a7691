/**
 * The publish form's typed arguments: a Zeek type name and the text the user typed, turned into a
 * Broker value by the SDK's constructors (whose `ValueError` messages are shown as they are).
 */
import {
  ValueError,
  address,
  boolean,
  count,
  enumValue,
  integer,
  now,
  port,
  real,
  string,
  subnet,
  timespan,
  timestamp,
  timestampFromSeconds,
  type Data,
} from 'isobroker';

export const ARG_TYPES = [
  'count',
  'integer',
  'real',
  'string',
  'bool',
  'addr',
  'port',
  'subnet',
  'time',
  'interval',
  'enum',
] as const;
export type ArgType = (typeof ARG_TYPES)[number];

/** What each type accepts, shown as the value box's placeholder. */
export const ARG_PLACEHOLDER: Readonly<Record<ArgType, string>> = {
  count: '42',
  integer: '-7',
  real: '1.5',
  string: 'text',
  bool: 'T or F',
  addr: '10.0.0.1 or 2001:db8::1',
  port: '80/tcp',
  subnet: '10.0.0.0/8',
  time: 'now, 2024-05-01T12:00:00 (UTC) or epoch seconds',
  interval: '1.5s, 250ms, 2min, 1h',
  enum: 'Log::WRITER_ASCII',
};

const INTERVAL = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ns|us|ms|s|sec|secs|min|mins|h|hr|hrs|day|days)?$/i;
const UNIT: Readonly<Record<string, 'ns' | 'us' | 'ms' | 's' | 'min' | 'h'>> = {
  ns: 'ns',
  us: 'us',
  ms: 'ms',
  s: 's',
  sec: 's',
  secs: 's',
  min: 'min',
  mins: 'min',
  h: 'h',
  hr: 'h',
  hrs: 'h',
};

/** Builds the Broker value of one argument; throws `ValueError` with a readable message. */
export function parseArg(type: ArgType, raw: string): Data {
  const v = raw.trim();
  switch (type) {
    case 'count':
      if (!/^\+?\d+$/.test(v)) throw new ValueError(`a count is a whole number ≥ 0, got '${raw}'`);
      return count(BigInt(v));
    case 'integer':
      if (!/^[+-]?\d+$/.test(v)) throw new ValueError(`an integer is a whole number, got '${raw}'`);
      return integer(BigInt(v));
    case 'real': {
      const x = Number(v);
      if (v === '' || !Number.isFinite(x))
        throw new ValueError(`a real is a finite number such as 1.5 or 2e-3, got '${raw}'`);
      return real(x);
    }
    case 'string':
      return string(raw);
    case 'bool': {
      const b = v.toLowerCase();
      if (b === 't' || b === 'true' || b === '1') return boolean(true);
      if (b === 'f' || b === 'false' || b === '0') return boolean(false);
      throw new ValueError(`a bool is T or F, got '${raw}'`);
    }
    case 'addr':
      return address(v);
    case 'port':
      return port(v);
    case 'subnet':
      return subnet(v);
    case 'time':
      return parseTime(v, raw);
    case 'interval': {
      const m = INTERVAL.exec(v);
      if (!m) throw new ValueError(`an interval is a number and a unit (ns, us, ms, s, min, h, day), got '${raw}'`);
      const n = Number(m[1]);
      const unit = (m[2] ?? 's').toLowerCase();
      if (unit === 'day' || unit === 'days') return timespan({ h: n * 24 });
      return timespan({ [UNIT[unit]!]: n });
    }
    case 'enum':
      if (!/^[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*$/.test(v))
        throw new ValueError(`an enum is a name such as Log::WRITER_ASCII, got '${raw}'`);
      return enumValue(v);
  }
}

function parseTime(v: string, raw: string): Data {
  if (v.toLowerCase() === 'now') return now();
  if (/^[+-]?\d+(\.\d+)?$/.test(v)) return timestampFromSeconds(Number(v));
  // Broker writes times without a zone, in UTC; read them back the same way.
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.test(v)
    ? `${v.replace(' ', 'T')}${v.length > 10 ? 'Z' : 'T00:00:00Z'}`
    : v;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms))
    throw new ValueError(
      `a time is 'now', an ISO date such as 2024-05-01T12:00:00 (UTC) or epoch seconds, got '${raw}'`,
    );
  return timestamp(new Date(ms));
}
