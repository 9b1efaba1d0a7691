import { describe, expect, it } from 'vitest';
import {
  ValueError,
  address,
  count,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  string,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
  type Data,
} from 'isobroker';
import {
  DEFAULT_JSON_ENCODE_OPTIONS,
  decodeJsonData,
  encodeJsonData,
  encodeJsonMessage,
  parseJson,
} from '../../src/internal.js';

/** The `data` member of an encoded value, as text. */
function dataText(v: Data, broker = false): string {
  const json = encodeJsonData(v, broker ? { stringEscapes: 'broker' } : undefined);
  const prefix = `{"@data-type":"${v.type}","data":`;
  expect(json.startsWith(prefix)).toBe(true);
  expect(json.endsWith('}')).toBe(true);
  return json.slice(prefix.length, -1);
}

describe('encodeJsonData: reals like C %f', () => {
  it.each([
    [0, '0.000000'],
    [-0, '-0.000000'],
    [42, '42.000000'],
    [-7.5, '-7.500000'],
    [12.48, '12.480000'],
    [0.1, '0.100000'],
    [123.456, '123.456000'],
    [1e-7, '0.000000'],
    [-1e-9, '-0.000000'],
    [9.9999995, '9.999999'], // the double is just below …95
    [0.0078125, '0.007812'], // exact tie: half to even
    [0.0234375, '0.023438'], // exact tie: half to even (up)
    [-0.0078125, '-0.007812'],
    [2.5e-7, '0.000000'],
    [5e-324, '0.000000'],
    [1e21, '1000000000000000000000.000000'],
    // biome-ignore lint/correctness/noPrecisionLoss: Broker's test vector writes this literal; the test is about the rounded double
    [1234567890123456789012345.0, '1234567890123456824475648.000000'],
    [2 ** 70, '1180591620717411303424.000000'],
  ])('%d → %s', (x, text) => {
    expect(dataText(real(x))).toBe(text);
  });

  it('writes the full expansion of the largest double', () => {
    const max = Number.MAX_VALUE;
    expect(dataText(real(max))).toBe(`${BigInt(max)}.000000`);
    expect(dataText(real(-max))).toBe(`-${BigInt(max)}.000000`);
  });

  it.each([NaN, Infinity, -Infinity])('refuses %d with a ValueError (not representable in JSON v1)', (x) => {
    expect(() => encodeJsonData(real(x))).toThrow(ValueError);
    expect(() => encodeJsonData(vector([real(x)]))).toThrow(/not representable in Broker JSON v1/);
  });
});

describe('encodeJsonData: times', () => {
  const S = 1_000_000_000n;
  it.each([
    [0n, '1970-01-01T00:00:00.000'],
    [1404901004n * S, '2014-07-09T10:16:44.000'],
    [1404901004n * S + 123_456_789n, '2014-07-09T10:16:44.123'], // truncated to ms
    [-1n, '1969-12-31T23:59:59.999'], // toward negative infinity
    [-(1n << 63n), '1677-09-21T00:12:43.146'], // its millisecond starts before the int64 range
    [-9_223_372_036_854_000_000n, '1677-09-21T00:12:43.146'],
    [-9_223_372_036_853_999_999n, '1677-09-21T00:12:43.146'],
    [-9_223_372_036_853_000_001n, '1677-09-21T00:12:43.146'],
    [(1n << 63n) - 1n, '2262-04-11T23:47:16.854'],
  ])('timestamp %d → %s', (ns, text) => {
    expect(dataText(timestamp(ns))).toBe(`"${text}"`);
  });

  it('the lowest timestamps still decode (to the first whole millisecond of the range)', () => {
    const back = decodeJsonData(parseJson(encodeJsonData(timestamp(-(1n << 63n)))));
    expect(back).toEqual({ type: 'timestamp', ns: -9_223_372_036_854_000_000n });
  });

  it.each([
    [0n, '0s'],
    [1n, '1ns'],
    [-1n, '-1ns'],
    [1500n, '1500ns'],
    [2000n, '2us'],
    [1_500_000_000n, '1500ms'],
    [-3n * S, '-3s'],
    [90n * S, '90s'],
    [3600n * S, '3600s'],
    [(1n << 63n) - 1n, '9223372036854775807ns'],
    [-(1n << 63n), '-9223372036854775808ns'],
  ])('timespan %d → %s', (ns, text) => {
    expect(dataText(timespan(ns))).toBe(`"${text}"`);
  });
});

describe('encodeJsonData: numbers, network types, containers', () => {
  it('prints 64-bit integers in full', () => {
    expect(dataText(count((1n << 64n) - 1n))).toBe('18446744073709551615');
    expect(dataText(integer(-(1n << 63n)))).toBe('-9223372036854775808');
  });

  it('ports: number/protocol, unknown as ?', () => {
    expect(dataText(port(80, 'tcp'))).toBe('"80/tcp"');
    expect(dataText(port(53, 'udp'))).toBe('"53/udp"');
    expect(dataText(port(8, 'icmp'))).toBe('"8/icmp"');
    expect(dataText(port(0, 'unknown'))).toBe('"0/?"');
  });

  it('addresses and masked subnets', () => {
    expect(dataText(address('::ffff:10.1.2.3'))).toBe('"10.1.2.3"');
    expect(dataText(address('2001:db8:0:0:1:0:0:1'))).toBe('"2001:db8::1:0:0:1"');
    expect(dataText(subnet('10.1.2.3/8'))).toBe('"10.0.0.0/8"');
    expect(dataText(subnet('2001:db8::1/32'))).toBe('"2001:db8::/32"');
  });

  it('empty containers and nested tables', () => {
    expect(encodeJsonData(vector([]))).toBe('{"@data-type":"vector","data":[]}');
    expect(encodeJsonData(set([]))).toBe('{"@data-type":"set","data":[]}');
    expect(encodeJsonData(table([]))).toBe('{"@data-type":"table","data":[]}');
    expect(encodeJsonData(table([[set([none()]), vector([])]]))).toBe(
      '{"@data-type":"table","data":[{"key":{"@data-type":"set","data":[{"@data-type":"none","data":{}}]},' +
        '"value":{"@data-type":"vector","data":[]}}]}',
    );
  });

  it('sets and tables come out in Broker order', () => {
    expect(encodeJsonData(set([string('b'), count(2), string('a')]))).toBe(
      '{"@data-type":"set","data":[{"@data-type":"count","data":2},{"@data-type":"string","data":"a"},' +
        '{"@data-type":"string","data":"b"}]}',
    );
  });
});

describe('encodeJsonData: strings', () => {
  it('escapes quote, backslash and the short control escapes like Broker', () => {
    expect(dataText(string('a"b\\c\b\f\n\r\t/'))).toBe(String.raw`"a\"b\\c\b\f\n\r\t/"`);
  });

  it('json mode (default): every other control character as \\u00XX, so the output is strict JSON', () => {
    expect(DEFAULT_JSON_ENCODE_OPTIONS.stringEscapes).toBe('json');
    const controls = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i));
    const text = dataText(string(controls));
    expect(text).toBe(
      String.raw`"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f` +
        String.raw`\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"`,
    );
    expect(JSON.parse(text)).toBe(controls);
  });

  it("broker mode: \\v and other control characters raw, exactly as Broker's encoder", () => {
    expect(dataText(string('a\u000bb\u0001c\u001f\n'), true)).toBe('"a\\vb\u0001c\u001f\\n"');
    expect(dataText(enumValue('x\u000by'), true)).toBe('"x\\vy"');
  });

  it('writes non-ASCII raw', () => {
    expect(dataText(string('é😀\u007f'))).toBe('"é😀\u007f"');
  });

  it('writes a lone surrogate (only in hand-built data; constructors refuse it) as an escape', () => {
    const lone = (value: string): Data => ({ type: 'string', value });
    expect(dataText(lone('a\ud800b\udc00'))).toBe(String.raw`"a\ud800b\udc00"`);
    expect(dataText(lone('\ude00\ud83d'))).toBe(String.raw`"\ude00\ud83d"`);
  });

  it('escapes enum names and topics the same way', () => {
    expect(dataText(enumValue('foo\n"bar'))).toBe(String.raw`"foo\n\"bar"`);
    expect(encodeJsonMessage({ type: 'data-message', topic: 'a"b', data: none() })).toBe(
      '{"type":"data-message","topic":"a\\"b","@data-type":"none","data":{}}',
    );
  });
});

describe('encodeJsonMessage', () => {
  it('data messages: type, topic, @data-type, data', () => {
    expect(encodeJsonMessage({ type: 'data-message', topic: '/t', data: count(1) })).toBe(
      '{"type":"data-message","topic":"/t","@data-type":"count","data":1}',
    );
  });
  it('acks and errors', () => {
    expect(encodeJsonMessage({ type: 'ack', endpoint: 'id-1', version: '8.0.0' })).toBe(
      '{"type":"ack","endpoint":"id-1","version":"8.0.0"}',
    );
    expect(encodeJsonMessage({ type: 'error', code: 'deserialization_failed', context: 'input #1 "x"' })).toBe(
      '{"type":"error","code":"deserialization_failed","context":"input #1 \\"x\\""}',
    );
  });
  it('rejects an unknown message type', () => {
    expect(() => encodeJsonMessage({ type: 'nope' } as never)).toThrow(ValueError);
  });
});
