import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  address,
  count,
  enumValue,
  equals,
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
  toText,
  vector,
  type Data,
} from 'isobroker';
import { decodeJsonData, encodeJsonData, parseJson, JsonObject, type JsonNode } from '../../src/internal.js';

const S = 1_000_000_000n;

/** Decodes `{"@data-type": tag, "data": <data>}` where `data` is JSON text. */
function dec(tag: string, data: string): Data {
  return decodeJsonData(parseJson(`{"@data-type": "${tag}", "data": ${data}}`));
}

function decError(tag: string, data: string): string {
  try {
    dec(tag, data);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).code).toBe('deserialization_failed');
    return (e as DecodeError).message;
  }
  throw new Error(`accepted ${tag} ${data}`);
}

function same(actual: Data, expected: Data): void {
  expect(toText(actual)).toBe(toText(expected));
  expect(equals(actual, expected)).toBe(true);
  expect(actual.type).toBe(expected.type);
}

describe('decodeJsonData: numbers', () => {
  it('count: 0 ≤ n ≤ 2^64−1, exact', () => {
    same(dec('count', '0'), count(0));
    same(dec('count', '-0'), count(0));
    same(dec('count', '18446744073709551615'), count((1n << 64n) - 1n));
    same(dec('count', '9007199254740993'), count(9007199254740993n)); // 2^53 + 1
  });
  it.each([
    ['18446744073709551616', 'count 18446744073709551616 exceeds 2^64-1'],
    ['123456789012345678901234567890', 'exceeds 2^64-1'],
    ['-1', 'count must be non-negative, got -1'],
    ['1.0', "count must be a non-negative integer without '.' or exponent, got number 1.0"],
    ['1e3', 'got number 1e3'],
    ['"5"', 'got string "5"'],
    ['null', 'got null'],
  ])('count %s is rejected (%s)', (data, what) => {
    const message = decError('count', data);
    expect(message).toMatch(/^data: count /);
    expect(message).toContain(what);
  });

  it('integer: int64, exact', () => {
    same(dec('integer', '-9223372036854775808'), integer(-(1n << 63n)));
    same(dec('integer', '9223372036854775807'), integer((1n << 63n) - 1n));
    same(dec('integer', '-7'), integer(-7));
  });
  it.each(['9223372036854775808', '-9223372036854775809', '1.5', '-1e2', '"1"', 'true'])(
    'integer %s is rejected',
    (data) => {
      expect(decError('integer', data)).toMatch(/^data: integer /);
    },
  );

  it('real: needs a . or an exponent', () => {
    same(dec('real', '1.0'), real(1));
    same(dec('real', '-7.5'), real(-7.5));
    same(dec('real', '1e3'), real(1000));
    same(dec('real', '2.5E-3'), real(0.0025));
    // biome-ignore lint/correctness/noPrecisionLoss: Broker's test vector writes this literal; the test is about the rounded double
    same(dec('real', '1234567890123456824475648.000000'), real(1234567890123456789012345.0));
    expect(Object.is((dec('real', '-0.0') as { value: number }).value, -0)).toBe(true);
    expect(decError('real', '1')).toBe("data: real must be written with '.' or an exponent (e.g. 1.0), got 1");
    expect(decError('real', '1e999')).toBe('data: real 1e999 is outside the double range');
    expect(decError('real', '"1.5"')).toBe('data: real must be a number, got string "1.5"');
  });
});

describe('decodeJsonData: timestamps', () => {
  const ts = (text: string): bigint => (dec('timestamp', JSON.stringify(text)) as { ns: bigint }).ns;
  it('accepts 0–9 fraction digits, Z and ±hh:mm zones (UTC when none)', () => {
    expect(ts('2014-07-09T10:16:44.000')).toBe(1404901004n * S);
    expect(ts('2014-07-09T10:16:44')).toBe(1404901004n * S);
    expect(ts('2014-07-09T10:16:44Z')).toBe(1404901004n * S);
    expect(ts('2014-07-09T10:16:44.5')).toBe(1404901004n * S + 500_000_000n);
    expect(ts('2014-07-09T10:16:44.123456789')).toBe(1404901004n * S + 123_456_789n);
    expect(ts('2014-07-09T12:16:44.25+02:00')).toBe(1404901004n * S + 250_000_000n);
    expect(ts('2014-07-09T04:46:44-05:30')).toBe(1404901004n * S);
    expect(ts('2014-07-09T15:46:44.000+0530')).toBe(1404901004n * S);
    expect(ts('2014-07-09T12:16:44+02')).toBe(1404901004n * S);
    expect(ts('1970-01-01T01:42:42')).toBe(6162n * S);
    expect(ts('1969-12-31T23:59:59.999')).toBe(-1_000_000n);
    expect(ts('2024-02-29T00:00:00')).toBe(1709164800n * S);
    expect(ts('2000-02-29T00:00:00')).toBe(951782400n * S);
  });
  it('covers exactly the int64 nanosecond range', () => {
    expect(ts('1677-09-21T00:12:43.145224192')).toBe(-(1n << 63n));
    expect(ts('2262-04-11T23:47:16.854775807')).toBe((1n << 63n) - 1n);
    expect(() => ts('1677-09-21T00:12:43.145224191')).toThrow(/outside the 64-bit nanosecond range/);
    expect(() => ts('2262-04-11T23:47:16.854775808')).toThrow(/outside the 64-bit nanosecond range/);
  });
  it.each([
    ['2014-07-09T10:16:44.1234567891', 'more than 9 fraction digits'],
    ['2014-07-09T10:16:44.', 'expected digits after the decimal point'],
    ['2014-07-09 10:16:44', 'expected YYYY-MM-DDThh:mm:ss'],
    ['2014-07-09t10:16:44', 'expected YYYY-MM-DDThh:mm:ss'],
    ['2014-7-09T10:16:44', 'expected YYYY-MM-DDThh:mm:ss'],
    ['14-07-09T10:16:44', 'expected YYYY-MM-DDThh:mm:ss'],
    ['2023-02-29T00:00:00', 'day out of range'],
    ['1900-02-29T00:00:00', 'day out of range'],
    ['2014-13-09T10:16:44', 'month out of range'],
    ['2014-07-09T24:00:00', 'time of day out of range'],
    ['2014-07-09T23:59:60', 'time of day out of range'],
    ['2014-07-09T10:16:44+2:00', 'invalid zone offset'],
    ['2014-07-09T10:16:44+02:0', 'invalid zone offset'],
    ['2014-07-09T10:16:44+24:00', 'invalid zone offset'],
    ['2014-07-09T10:16:44z', 'unexpected characters after the time'],
    ['2014-07-09T10:16:44 ', 'unexpected characters after the time'],
    ['2014-07-09T10:16:44ZZ', 'unexpected characters after the time'],
  ])('rejects %j (%s)', (text, what) => {
    expect(decError('timestamp', JSON.stringify(text))).toBe(
      `data: invalid timestamp ${JSON.stringify(text)}: ${what}`,
    );
  });
  it('rejects a non-string', () => {
    expect(decError('timestamp', '1404901004')).toBe('data: timestamp must be a string, got number 1404901004');
  });
});

describe('decodeJsonData: timespans', () => {
  const span = (text: string): bigint => (dec('timespan', JSON.stringify(text)) as { ns: bigint }).ns;
  it('accepts ns, us, ms, s, min, h with signs and fractions', () => {
    expect(span('0s')).toBe(0n);
    expect(span('1500ms')).toBe(1_500_000_000n);
    expect(span('1.5s')).toBe(1_500_000_000n);
    expect(span('23s')).toBe(23n * S);
    expect(span('2min')).toBe(120n * S);
    expect(span('1h')).toBe(3600n * S);
    expect(span('0.5h')).toBe(1800n * S);
    expect(span('999us')).toBe(999_000n);
    expect(span('7ns')).toBe(7n);
    expect(span('-3s')).toBe(-3n * S);
    expect(span('+3s')).toBe(3n * S);
    expect(span('0.000000001s')).toBe(1n);
    expect(span('1.0000000005s')).toBe(1_000_000_001n); // rounded to the nearest ns, half away from 0
    expect(span('-1.0000000005s')).toBe(-1_000_000_001n);
    expect(span('9223372036854775807ns')).toBe((1n << 63n) - 1n);
    expect(span('-9223372036854775808ns')).toBe(-(1n << 63n));
  });
  it.each([
    ['1d', "unit 'd' is not supported"],
    ['1', 'missing unit'],
    ['1 s', 'unknown unit'],
    ['1sec', 'unknown unit'],
    ['1S', 'unknown unit'],
    ['s', 'expected a number'],
    ['-s', 'expected a number'],
    ['.5s', 'expected a number'],
    ['1.s', 'expected digits after the decimal point'],
    ['1e3ms', 'unknown unit'],
    ['9223372036854775808ns', 'outside the 64-bit nanosecond range'],
    ['106752d', "unit 'd' is not supported"],
    [`${'1'.repeat(70)}s`, 'too long'],
  ])('rejects %j (%s)', (text, what) => {
    expect(decError('timespan', JSON.stringify(text))).toContain(what);
  });
});

describe('decodeJsonData: ports, addresses, subnets', () => {
  it('ports: no protocol means tcp, unknown protocols become ?', () => {
    same(dec('port', '"80/tcp"'), port(80, 'tcp'));
    same(dec('port', '"53/udp"'), port(53, 'udp'));
    same(dec('port', '"8/icmp"'), port(8, 'icmp'));
    same(dec('port', '"80"'), port(80, 'tcp'));
    same(dec('port', '"0/?"'), port(0, 'unknown'));
    same(dec('port', '"5/sctp"'), port(5, 'unknown'));
    same(dec('port', '"5/"'), port(5, 'unknown'));
    same(dec('port', '"65535/udp"'), port(65535, 'udp'));
  });
  it.each(['65536/tcp', '/udp', 'abc', '-1/tcp', ' 80/tcp', '80 /tcp', '123456/tcp', ''])('rejects port %j', (text) => {
    expect(decError('port', JSON.stringify(text))).toMatch(/^data: invalid port /);
  });

  it('addresses: IPv4, IPv6, v4-mapped; no zone ids', () => {
    same(dec('address', '"192.168.1.100"'), address('192.168.1.100'));
    same(dec('address', '"2001:db8::"'), address('2001:db8::'));
    same(dec('address', '"::ffff:1.2.3.4"'), address('1.2.3.4'));
    expect(decError('address', '"fe80::1%eth0"')).toBe(
      'data: invalid address "fe80::1%eth0": zone ids are not supported',
    );
    for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.4 ', 'x', '', '::g']) {
      expect(decError('address', JSON.stringify(bad))).toMatch(/^data: invalid address /);
    }
  });

  it('subnets: host bits masked, prefix length checked per family', () => {
    same(dec('subnet', '"10.1.2.3/8"'), subnet('10.0.0.0/8'));
    same(dec('subnet', '"255.255.255.0/24"'), subnet('255.255.255.0/24'));
    same(dec('subnet', '"2001:db8::1/32"'), subnet('2001:db8::/32'));
    same(dec('subnet', '"0.0.0.0/0"'), subnet('0.0.0.0/0'));
    expect(encodeJsonData(dec('subnet', '"10.1.2.3/8"'))).toBe('{"@data-type":"subnet","data":"10.0.0.0/8"}');
    expect(decError('subnet', '"10.0.0.0/33"')).toBe('data: invalid subnet "10.0.0.0/33": prefix length above 32');
    expect(decError('subnet', '"::/129"')).toBe('data: invalid subnet "::/129": prefix length above 128');
    for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/a', '10.0.0/8', 'fe80::1%eth0/64', '10.0.0.0/0008']) {
      expect(decError('subnet', JSON.stringify(bad))).toMatch(/^data: invalid subnet /);
    }
  });
});

describe('decodeJsonData: strings, enums, none, boolean', () => {
  it('strings keep escapes, control characters and non-ASCII', () => {
    same(dec('string', String.raw`"a\u0000b\vc\n\"é😀"`), string('a\u0000b\u000bc\n"é😀'));
    same(dec('string', '"raw\u0001\u000bcontrol"'), string('raw\u0001\u000bcontrol'));
    same(dec('enum-value', '"Log::WRITER_ASCII"'), enumValue('Log::WRITER_ASCII'));
  });
  it('rejects lone surrogates (the data model requires valid Unicode)', () => {
    expect(decError('string', String.raw`"a\ud800"`)).toBe(
      'data: string holds a lone UTF-16 surrogate (not valid Unicode)',
    );
    expect(decError('enum-value', String.raw`"\udc00"`)).toContain('lone UTF-16 surrogate');
    same(dec('string', String.raw`"\ud83d\ude00"`), string('😀'));
  });
  it('none: {} (or null / no data, which Broker also ignores)', () => {
    same(dec('none', '{}'), none());
    same(dec('none', 'null'), none());
    same(decodeJsonData(parseJson('{"@data-type": "none"}')), none());
    expect(decError('none', '5')).toBe('data: none must have {} as data, got number 5');
    expect(decError('none', '{"x": 1}')).toBe('data: none must have {} as data, got an object');
  });
  it('boolean: only true and false', () => {
    expect(decError('boolean', '"true"')).toBe('data: boolean must be true or false, got string "true"');
    expect(decError('boolean', '1')).toContain('got number 1');
  });
});

describe('decodeJsonData: containers', () => {
  it('sorts sets and tables into Broker order', () => {
    const s = dec(
      'set',
      '[{"@data-type":"string","data":"b"},{"@data-type":"count","data":2},{"@data-type":"string","data":"a"}]',
    );
    same(s, set([count(2), string('a'), string('b')]));
    expect(encodeJsonData(s)).toBe(encodeJsonData(set([count(2), string('a'), string('b')])));
    const t = dec(
      'table',
      '[{"key":{"@data-type":"string","data":"z"},"value":{"@data-type":"count","data":1}},' +
        '{"key":{"@data-type":"string","data":"a"},"value":{"@data-type":"count","data":2}}]',
    );
    same(
      t,
      table([
        [string('a'), count(2)],
        [string('z'), count(1)],
      ]),
    );
  });

  it('rejects duplicate set elements, naming both indices', () => {
    const msg = decError(
      'set',
      '[{"@data-type":"count","data":1},{"@data-type":"count","data":2},{"@data-type":"count","data":1}]',
    );
    expect(msg).toBe('data[2]: duplicate set element, equal to [0]');
    // Equal after decoding: IPv4 and its v4-mapped IPv6 spelling.
    expect(
      decError('set', '[{"@data-type":"address","data":"::ffff:10.0.0.1"},{"@data-type":"address","data":"10.0.0.1"}]'),
    ).toBe('data[1]: duplicate set element, equal to [0]');
  });

  it('rejects duplicate table keys', () => {
    const entry = (k: string, v: number): string =>
      `{"key":{"@data-type":"string","data":"${k}"},"value":{"@data-type":"count","data":${v}}}`;
    expect(decError('table', `[${entry('a', 1)},${entry('b', 2)},${entry('a', 3)}]`)).toBe(
      'data[2].key: duplicate table key, equal to [0].key',
    );
  });

  it('names the JSON path of a bad nested value', () => {
    expect(
      decError(
        'vector',
        '[{"@data-type":"count","data":1},{"@data-type":"count","data":2},{"@data-type":"count","data":-1}]',
      ),
    ).toBe('data[2].data: count must be non-negative, got -1');
    expect(
      decError(
        'vector',
        '[{"@data-type":"vector","data":[{"@data-type":"table","data":[{"key":{"@data-type":"port","data":"x"},"value":{"@data-type":"none","data":{}}}]}]}]',
      ),
    ).toBe('data[0].data[0].data[0].key.data: invalid port "x": expected a number 0..65535');
    expect(decError('table', '[{"key":{"@data-type":"count","data":1}}]')).toBe('data[0].value: missing');
    expect(decError('table', '[5]')).toBe(
      'data[0]: table entry must be an object with "key" and "value", got number 5',
    );
    expect(decError('table', '{}')).toBe('data: table must be an array of {"key", "value"} objects, got an object');
    expect(decError('set', '"x"')).toBe('data: set must be an array, got string "x"');
    expect(decError('vector', '[1]')).toBe('data[0]: expected an object with "@data-type" and "data", got number 1');
    expect(decError('vector', '[{"data":1}]')).toBe('data[0].@data-type: missing');
    expect(decError('vector', '[{"@data-type":5,"data":1}]')).toBe(
      'data[0].@data-type: expected a string, got number 5',
    );
    expect(decError('vector', '[{"@data-type":"money","data":0}]')).toBe('data[0].@data-type: unknown type "money"');
  });

  it('names the root when the value itself is wrong', () => {
    expect(() => decodeJsonData(parseJson('[]'))).toThrow(
      new DecodeError('(root): expected an object with "@data-type" and "data", got an array'),
    );
    expect(() => decodeJsonData(parseJson('{"@data-type":"phone","data":"555"}'))).toThrow(
      new DecodeError('@data-type: unknown type "phone"'),
    );
  });

  it('ignores extra keys and accepts any key order', () => {
    same(decodeJsonData(parseJson('{"data": 5, "comment": "x", "@data-type": "count"}')), count(5));
  });

  it('decodes deep vectors up to the parser depth limit', () => {
    let json = '{"@data-type":"none","data":{}}';
    let expected: Data = none();
    for (let i = 0; i < 64; i++) {
      json = `{"@data-type":"vector","data":[${json}]}`;
      expected = vector([expected]);
    }
    same(decodeJsonData(parseJson(json)), expected); // 64 vectors: 130 levels of JSON nesting
    for (let i = 0; i < 36; i++) json = `{"@data-type":"vector","data":[${json}]}`;
    expect(() => parseJson(json)).toThrow(/maxDepth 200/);
  });

  it('timestamps decode to nanoseconds and re-encode with milliseconds', () => {
    const v = dec('timestamp', '"2014-07-09T10:16:44.123456789"');
    same(v, timestamp(1404901004n * S + 123_456_789n));
    expect(encodeJsonData(v)).toBe('{"@data-type":"timestamp","data":"2014-07-09T10:16:44.123"}');
    same(dec('timespan', '"1.5s"'), timespan(1_500_000_000n));
    expect(encodeJsonData(dec('timespan', '"1.5s"'))).toBe('{"@data-type":"timespan","data":"1500ms"}');
  });
});

describe('decodeJsonData: call stack', () => {
  it('a tree nested deeper than the stack allows fails with a DecodeError, not a RangeError', () => {
    // Built by hand: parseJson's own depth limit would stop such a text first.
    let node: JsonNode = new JsonObject(['@data-type', 'none', 'data', new JsonObject([])]);
    for (let i = 0; i < 200_000; i++) node = new JsonObject(['@data-type', 'vector', 'data', [node]]);
    expect(() => decodeJsonData(node)).toThrow(/maxDataDepth 64/); // the container limit comes first
    expect(() => decodeJsonData(node, Number.MAX_SAFE_INTEGER)).toThrow(DecodeError);
    expect(() => decodeJsonData(node, Number.MAX_SAFE_INTEGER)).toThrow(/^\(root\): value too deeply nested/);
  });
});
