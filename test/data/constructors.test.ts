import { describe, expect, it } from 'vitest';
import {
  ValueError,
  address,
  boolean,
  count,
  enumValue,
  equals,
  formatAddress,
  from,
  integer,
  isData,
  none,
  now,
  port,
  real,
  set,
  string,
  subnet,
  table,
  timespan,
  timespanFromSeconds,
  timestamp,
  timestampFromSeconds,
  toText,
  vector,
  type Data,
} from 'isobroker';
import { MAX_COUNT, MAX_INTEGER, MIN_INTEGER } from '../../src/internal.js';

/** Asserts that `f` throws a ValueError with code `invalid_argument`. */
function rejects(f: () => unknown): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ValueError);
  expect((caught as ValueError).code).toBe('invalid_argument');
}

describe('scalars', () => {
  it('none and boolean are shared constants', () => {
    expect(none()).toEqual({ type: 'none' });
    expect(none()).toBe(none());
    expect(boolean(true)).toEqual({ type: 'boolean', value: true });
    expect(boolean(false).value).toBe(false);
    rejects(() => boolean(1 as unknown as boolean));
  });

  it('count covers 0..2^64-1 exactly', () => {
    expect(count(0).value).toBe(0n);
    expect(count(5)).toEqual({ type: 'count', value: 5n });
    expect(count(MAX_COUNT).value).toBe(18446744073709551615n);
    expect(count(Number.MAX_SAFE_INTEGER).value).toBe(9007199254740991n);
    rejects(() => count(-1));
    rejects(() => count(-1n));
    rejects(() => count(MAX_COUNT + 1n));
    rejects(() => count(1.5));
    rejects(() => count(Number.NaN));
    rejects(() => count(Number.POSITIVE_INFINITY));
    rejects(() => count(2 ** 60)); // an unsafe number: may already have lost precision
    rejects(() => count('5' as unknown as number));
  });

  it('integer covers -2^63..2^63-1 exactly', () => {
    expect(integer(-7).value).toBe(-7n);
    expect(integer(MIN_INTEGER).value).toBe(-9223372036854775808n);
    expect(integer(MAX_INTEGER).value).toBe(9223372036854775807n);
    expect(integer(-0).value).toBe(0n);
    rejects(() => integer(MAX_INTEGER + 1n));
    rejects(() => integer(MIN_INTEGER - 1n));
    rejects(() => integer(0.5));
    rejects(() => integer(-(2 ** 53)));
  });

  it('real takes any double, including NaN, infinities and -0', () => {
    expect(real(1.5).value).toBe(1.5);
    expect(Number.isNaN(real(Number.NaN).value)).toBe(true);
    expect(real(Number.NEGATIVE_INFINITY).value).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(real(-0).value, -0)).toBe(true);
    rejects(() => real(1n as unknown as number));
  });

  it('string and enum names must be valid Unicode', () => {
    expect(string('héllo 🎉')).toEqual({ type: 'string', value: 'héllo 🎉' });
    expect(string('').value).toBe('');
    expect(enumValue('Log::WRITER_ASCII')).toEqual({ type: 'enum-value', name: 'Log::WRITER_ASCII' });
    rejects(() => string('\ud800'));
    rejects(() => string('a\udc00b'));
    rejects(() => string(5 as unknown as string));
    rejects(() => enumValue('\ud83d'));
    rejects(() => enumValue(null as unknown as string));
  });
});

describe('address', () => {
  it('parses IPv4 into v4-mapped 16 bytes', () => {
    expect([...address('1.2.3.4').bytes]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
    expect(address(new Uint8Array([1, 2, 3, 4]))).toEqual(address('1.2.3.4'));
    expect(address('::ffff:1.2.3.4')).toEqual(address('1.2.3.4'));
  });

  it('copies 16 raw bytes', () => {
    const raw = new Uint8Array(16);
    raw[15] = 1;
    const a = address(raw);
    raw[15] = 2;
    expect(formatAddress(a.bytes)).toBe('::1');
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.04',
    '1.2.3.00',
    '256.1.1.1',
    '1.2.3.-4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..3.4',
    '0x1.2.3.4',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    ':::',
    '1:::2',
    '1::2::3',
    ':1::2',
    '1::2:',
    '12345::',
    'g::',
    '1.2.3.4::',
    '::1.2.3',
    '::1.2.3.4:5',
    '::01.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:7:8::',
    '[::1]',
  ])('rejects %j', (text) => rejects(() => address(text)));

  it('rejects raw bytes of the wrong length or type', () => {
    rejects(() => address(new Uint8Array(5)));
    rejects(() => address(new Uint8Array(0)));
    rejects(() => address([1, 2, 3, 4] as unknown as Uint8Array));
  });
});

describe('subnet', () => {
  it('masks host bits and keeps the family length', () => {
    expect(toText(subnet('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(subnet('10.1.2.3/8').length).toBe(8);
    expect(toText(subnet('10.1.2.3', 16))).toBe('10.1.0.0/16');
    expect(toText(subnet(address('192.168.1.77'), 25))).toBe('192.168.1.0/25');
    expect(toText(subnet('1.2.3.4/0'))).toBe('0.0.0.0/0');
    expect(toText(subnet('1.2.3.4/32'))).toBe('1.2.3.4/32');
    expect(toText(subnet('2001:db8:ffff::1/33'))).toBe('2001:db8:8000::/33');
    expect(toText(subnet('ffff::1/0'))).toBe('::/0');
    expect(toText(subnet('2001:db8::1/128'))).toBe('2001:db8::1/128');
    expect(toText(subnet('255.255.255.255/1'))).toBe('128.0.0.0/1');
  });

  it('keeps the v4-mapped prefix when masking IPv4 (length counts from bit 96)', () => {
    expect([...subnet('255.255.255.255/0').bytes]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0]);
    expect(equals(subnet('1.2.3.4/0'), subnet('9.9.9.9/0'))).toBe(true);
    expect(equals(subnet('1.2.3.4/0'), subnet('::/0'))).toBe(false);
  });

  it.each([
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/+8',
    '10.0.0.0/08',
    '10.0.0.0/8 ',
    '10.0.0.0/8/8',
    '10.0.0.0/1e1',
    '::/129',
    '::ffff:1.2.3.4/100',
    '1.2.3/8',
    'fe80::1%eth0/64',
    '/8',
  ])('rejects %j', (text) => rejects(() => subnet(text)));

  it('rejects bad lengths given apart', () => {
    rejects(() => subnet(address('1.2.3.4'), 33));
    rejects(() => subnet(address('::1'), 129));
    rejects(() => subnet(address('::1'), -1));
    rejects(() => subnet(address('::1'), 1.5));
    rejects(() => subnet(address('::1')));
    rejects(() => subnet('10.0.0.0/8', 8));
    rejects(() => subnet(count(1) as unknown as string, 8));
  });
});

describe('port', () => {
  it('builds from a number and a protocol, tcp by default', () => {
    expect(port(80, 'tcp')).toEqual({ type: 'port', number: 80, protocol: 'tcp' });
    expect(port(53, 'udp').protocol).toBe('udp');
    expect(port(8, 'icmp').protocol).toBe('icmp');
    expect(port(0, 'unknown').protocol).toBe('unknown');
    expect(port(65535).protocol).toBe('tcp');
  });

  it('parses text, `?` being unknown and a bare number tcp (as Broker)', () => {
    expect(port('80/tcp')).toEqual(port(80, 'tcp'));
    expect(port('9000/udp')).toEqual(port(9000, 'udp'));
    expect(port('0/?')).toEqual(port(0, 'unknown'));
    expect(port('3/unknown')).toEqual(port(3, 'unknown'));
    expect(port('80')).toEqual(port(80, 'tcp'));
    expect(port('53', 'udp')).toEqual(port(53, 'udp'));
  });

  it.each(['65536/tcp', '-1/tcp', '80/TCP', '80/sctp', '80/', '/tcp', '080/tcp', '80 /tcp', '1.5/tcp', 'abc', ''])(
    'rejects %j',
    (text) => rejects(() => port(text)),
  );

  it('rejects bad numbers and protocols', () => {
    rejects(() => port(65536));
    rejects(() => port(-1));
    rejects(() => port(80.5));
    rejects(() => port(80, 'sctp' as 'tcp'));
    rejects(() => port('80/udp', 'udp'));
  });
});

describe('timestamp and timespan', () => {
  it('timestamp takes int64 nanoseconds or a Date', () => {
    expect(timestamp(1n)).toEqual({ type: 'timestamp', ns: 1n });
    expect(timestamp(MIN_INTEGER).ns).toBe(MIN_INTEGER);
    expect(timestamp(new Date(Date.UTC(2014, 6, 9, 10, 16, 44))).ns).toBe(1404901004000000000n);
    expect(timestamp(new Date(-1)).ns).toBe(-1000000n);
    rejects(() => timestamp(MAX_INTEGER + 1n));
    rejects(() => timestamp(new Date(Number.NaN)));
    rejects(() => timestamp(new Date(8.64e15))); // a valid Date beyond int64 nanoseconds
    rejects(() => timestamp(5 as unknown as bigint));
  });

  it('timestampFromSeconds rounds to the nearest nanosecond', () => {
    expect(timestampFromSeconds(1.5).ns).toBe(1500000000n);
    expect(timestampFromSeconds(-1.5).ns).toBe(-1500000000n);
    expect(timestampFromSeconds(1404901004.123456).ns).toBe(1404901004123456001n);
    rejects(() => timestampFromSeconds(Number.NaN));
    rejects(() => timestampFromSeconds(Number.POSITIVE_INFINITY));
    rejects(() => timestampFromSeconds(1e10));
  });

  it('now() is close to the clock', () => {
    const t = now();
    expect(t.type).toBe('timestamp');
    expect(Number(t.ns / 1000000n) - Date.now()).toBeLessThanOrEqual(0);
    expect(Date.now() - Number(t.ns / 1000000n)).toBeLessThan(5000);
  });

  it('timespan takes nanoseconds or parts that add up', () => {
    expect(timespan(-5n)).toEqual({ type: 'timespan', ns: -5n });
    expect(timespan({ s: 1, ms: 500 }).ns).toBe(1500000000n);
    expect(timespan({ h: 1, min: 1 }).ns).toBe(3660000000000n);
    expect(timespan({ ms: 1.5 }).ns).toBe(1500000n);
    expect(timespan({ us: -2, ns: 1 }).ns).toBe(-1999n);
    expect(timespan({}).ns).toBe(0n);
    expect(timespanFromSeconds(0.25).ns).toBe(250000000n);
    rejects(() => timespan(MAX_INTEGER + 1n));
    rejects(() => timespan({ s: Number.NaN }));
    rejects(() => timespan({ s: '1' as unknown as number }));
    rejects(() => timespan({ h: 3e6 })); // beyond int64 nanoseconds (~292 years)
    rejects(() => timespan({ sec: 1 } as unknown as { s: number }));
    rejects(() => timespanFromSeconds(Number.NEGATIVE_INFINITY));
  });
});

describe('containers', () => {
  it('set sorts and drops duplicates', () => {
    const s = set([string('b'), count(2), string('a'), count(2), count(1)]);
    expect(s.elements).toEqual([count(1), count(2), string('a'), string('b')]);
    expect(set().elements).toEqual([]);
    expect(set([real(0), real(-0)]).elements).toHaveLength(1);
    expect(set([real(Number.NaN), real(Number.NaN)]).elements).toHaveLength(1);
  });

  it('table sorts by key and a later duplicate key wins', () => {
    const t = table([
      [string('b'), count(1)],
      [string('a'), count(2)],
      [string('b'), count(3)],
      [string('a'), count(4)],
    ]);
    expect(t.entries).toEqual([
      [string('a'), count(4)],
      [string('b'), count(3)],
    ]);
    expect(table(new Map([[string('k'), none()]])).entries).toEqual([[string('k'), none()]]);
  });

  it('vector keeps order and duplicates', () => {
    expect(vector([count(2), count(1), count(2)]).elements).toEqual([count(2), count(1), count(2)]);
  });

  it('containers accept only Broker data', () => {
    rejects(() => set([1 as unknown as Data]));
    rejects(() => vector([{ type: 'nope' } as unknown as Data]));
    rejects(() => table([[string('a'), 'x' as unknown as Data]]));
  });
});

describe('from / isData', () => {
  it('wraps plain JavaScript values', () => {
    expect(from(null)).toEqual(none());
    expect(from(undefined)).toEqual(none());
    expect(from(true)).toEqual(boolean(true));
    expect(from('x')).toEqual(string('x'));
    expect(from(5)).toEqual(integer(5));
    expect(from(-5)).toEqual(integer(-5));
    expect(from(1.5)).toEqual(real(1.5));
    expect(from(2 ** 60)).toEqual(real(2 ** 60));
    expect(from(5n)).toEqual(integer(5n));
    expect(from(MAX_COUNT)).toEqual(count(MAX_COUNT));
    expect(from(new Date(0))).toEqual(timestamp(0n));
    expect(from([1, 'a'])).toEqual(vector([integer(1), string('a')]));
    expect(from(new Set([2, 1, 2]))).toEqual(set([integer(1), integer(2)]));
    expect(from(new Map([['a', 1]]))).toEqual(table([[string('a'), integer(1)]]));
    const c = count(1);
    expect(from(c)).toBe(c);
  });

  it('rejects what has no Broker form', () => {
    rejects(() => from({ a: 1 }));
    rejects(() => from(Symbol('s')));
    rejects(() => from(() => 1));
    rejects(() => from(MIN_INTEGER - 1n));
    rejects(() => from('\ud800'));
  });

  it('isData recognises tagged values only', () => {
    expect(isData(count(1))).toBe(true);
    expect(isData({ type: 'enum-value', name: 'x' })).toBe(true);
    expect(isData({ type: 'record' })).toBe(false);
    expect(isData(null)).toBe(false);
    expect(isData('count')).toBe(false);
  });
});
