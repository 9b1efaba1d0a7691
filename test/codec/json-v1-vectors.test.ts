/**
 * Every vector of `test/fixtures/vectors/broker-json-v1.json` (from Broker's and Zeek's tests and
 * docs), each used the way its note says: exact encoder output is matched byte for byte, client
 * inputs and re-serialised baselines are decoded and checked, rejects must fail with a
 * `DecodeError`, handshakes go through `decodeJsonHandshake`. A final test proves that every vector
 * is classified exactly once, so a vector added to the file cannot be silently ignored.
 */
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  address,
  boolean,
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
import {
  decodeJsonData,
  decodeJsonHandshake,
  decodeJsonMessage,
  encodeJsonData,
  encodeJsonMessage,
  parseJson,
  type JsonV1DataMessage,
  type JsonV1Message,
} from '../../src/internal.js';
import { readJsonFixture } from '../support/fixtures.js';
import { JsonNumber, JsonObject, type JsonNode } from '../../src/codec/json-v1/json-node.js';

interface Vector {
  readonly name: string;
  readonly json: string;
  readonly note: string;
  readonly source: string;
}

const VECTORS: readonly Vector[] = readJsonFixture<{ vectors: Vector[] }>('vectors/broker-json-v1.json').vectors;
const byName = new Map(VECTORS.map((v) => [v.name, v]));

function vec(name: string): Vector {
  const v = byName.get(name);
  if (v === undefined) throw new Error(`no vector ${name}`);
  return v;
}

/** Removes JSON whitespace outside strings (turns Python's `", "`/`": "` into compact form). */
function compact(json: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += json[++i]!;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') out += c;
  }
  return out;
}

const S = 1_000_000_000n;
const expectData = (actual: Data, expected: Data): void => {
  if (!equals(actual, expected)) expect(toText(actual)).toBe(toText(expected));
  expect(equals(actual, expected)).toBe(true);
};
function dataMessage(json: string): JsonV1DataMessage {
  const m = decodeJsonMessage(json);
  if (m.type !== 'data-message') throw new Error(`expected a data message, got ${m.type}`);
  return m;
}

const classified = new Map<string, string>();
function classify(names: readonly string[], how: string): readonly string[] {
  for (const n of names) {
    vec(n); // must exist
    if (classified.has(n)) throw new Error(`${n} classified twice`);
    classified.set(n, how);
  }
  return names;
}
const named = (prefix: string): string[] => VECTORS.filter((v) => v.name.startsWith(prefix)).map((v) => v.name);

// --- exact encoder output: the value each vector encodes, from the notes of json.test.cc
const oneTwoThree = set([integer(1), integer(2), integer(3)]);
const mixedVector = vector([integer(1), count(2), string('three')]);
const keyedTable = table([
  [string('a-key'), integer(1)],
  [string('b-key'), count(42)],
]);
const ENCODED_VALUES: Readonly<Record<string, Data>> = {
  'enc/none': none(),
  'enc/boolean-true': boolean(true),
  'enc/boolean-false': boolean(false),
  'enc/count-0': count(0),
  'enc/count-10': count(10),
  'enc/count-100': count(100),
  'enc/integer-0': integer(0),
  'enc/integer-10': integer(10),
  'enc/integer-100': integer(100),
  'enc/integer-neg10': integer(-10),
  'enc/string-foo': string('foo'),
  'enc/string-escapes': string('foo\n"bar'),
  'enc/address-v4': address('192.128.4.4'),
  'enc/address-v6': address('2001:db8::'),
  'enc/subnet-v4': subnet('192.128.4.77/24'),
  'enc/port-tcp': port(8080, 'tcp'),
  'enc/port-udp': port(9000, 'udp'),
  'enc/timespan-0': timespan(0n),
  'enc/timespan-1ns': timespan(1n),
  'enc/timespan-999ns': timespan(999n),
  'enc/timespan-1000ns': timespan(1000n),
  'enc/timespan-999us': timespan(999_000n),
  'enc/timespan-1000us': timespan(1_000_000n),
  'enc/timespan-999ms': timespan(999_000_000n),
  'enc/timespan-1000ms': timespan(1_000_000_000n),
  'enc/timestamp': timestamp(1404901004n * S),
  'enc/enum-foo': enumValue('foo'),
  'enc/enum-escapes': enumValue('foo\n"bar'),
  'enc/real-0.0': real(0),
  'enc/real-neg10.0': real(-10),
  // biome-ignore lint/correctness/noPrecisionLoss: Broker's test vector writes this literal; the test is about the rounded double
  'enc/real-big': real(1234567890123456789012345.0),
  'enc/vector': mixedVector,
  'enc/set': oneTwoThree,
  'enc/table': keyedTable,
};
const ENCODED_MESSAGES: Readonly<Record<string, Data>> = {
  'enc-msg/none': none(),
  'enc-msg/boolean': boolean(true),
  'enc-msg/count': count(42),
  'enc-msg/integer': integer(42),
  'enc-msg/real-small': real(42),
  // biome-ignore lint/correctness/noPrecisionLoss: Broker's test vector writes this literal; the test is about the rounded double
  'enc-msg/real-big': real(1234567890123456789012345.0),
  'enc-msg/string': string('string!'),
  'enc-msg/address': address('192.128.4.4'),
  'enc-msg/subnet': subnet('192.128.4.0/24'),
  'enc-msg/port': port(8080, 'tcp'),
  'enc-msg/timespan-0s': timespan(0n),
  'enc-msg/timespan-1ns': timespan(1n),
  'enc-msg/timespan-1ms': timespan(1_000_000n),
  'enc-msg/timespan-1s': timespan(S),
  'enc-msg/timestamp': timestamp(1404901004n * S),
  'enc-msg/enum-value': enumValue('foo'),
  'enc-msg/vector': mixedVector,
  'enc-msg/set': oneTwoThree,
  'enc-msg/table': keyedTable,
};

describe('Broker JSON v1 vectors: exact encoder output', () => {
  const values = classify(Object.keys(ENCODED_VALUES), 'exact value encoding');
  it.each(values)('%s: encodes byte for byte and decodes back', (name) => {
    const { json } = vec(name);
    const expected = ENCODED_VALUES[name]!;
    expect(encodeJsonData(expected)).toBe(json);
    expectData(decodeJsonData(parseJson(json)), expected);
  });

  const messages = classify(Object.keys(ENCODED_MESSAGES), 'exact message encoding');
  it.each(messages)('%s: encodes byte for byte and decodes back', (name) => {
    const { json } = vec(name);
    const data = ENCODED_MESSAGES[name]!;
    expect(encodeJsonMessage({ type: 'data-message', topic: '/test/topic', data })).toBe(json);
    const m = dataMessage(json);
    expect(m.topic).toBe('/test/topic');
    expectData(m.data, data);
  });

  // Server output of the current compact encoder, printed raw by Broker's and Zeek's tests/docs.
  const wire = classify(
    [...named('btest/encrypted/recv-'), ...named('zeek-doc/ack-'), ...named('zeek-doc/data-message-')],
    'wire-exact compact server output',
  );
  it.each(wire)('%s: re-encodes byte for byte', (name) => {
    const { json } = vec(name);
    expect(encodeJsonMessage(decodeJsonMessage(json))).toBe(json);
  });

  it('btest/encrypted/recv-NN carry counts 1..10 on /test', () => {
    for (let i = 1; i <= 10; i++) {
      const m = dataMessage(vec(`btest/encrypted/recv-${String(i).padStart(2, '0')}`).json);
      expect(m.topic).toBe('/test');
      expectData(m.data, count(i));
    }
  });

  it('zeek-doc data messages are Zeek events with an empty metadata vector', () => {
    const m = dataMessage(vec('zeek-doc/data-message-1').json);
    expect(m.topic).toBe('zeek.test');
    expectData(m.data, vector([count(1), count(1), vector([string('hello'), vector([count(3)]), vector([])])]));
  });
});

describe('Broker JSON v1 vectors: wire-exact with older or Python formatting', () => {
  // Whitespace differs (legacy CAF writer, Python json.dumps); content and key order are wire-exact,
  // so our compact output equals the vector with the whitespace between tokens removed.
  const spaced = classify(
    [
      ...named('legacy/'),
      'pcap/server-ack',
      ...named('pcap/server-ping-event-'),
      ...named('pcap/client-pong-event-'),
      'btest/encrypted/send-template',
      'zeek/wstest/build_event_v1-ping',
      'zeek/bad-event-args/in-ok',
      'zeek/bad-event-args/in-2',
      'zeek/bad-event-args/in-3',
      ...named('zeek/metadata/no-metadata/'),
      'zeek/metadata/metadata/ping',
      'zeek/metadata/metadata/pong',
      'zeek/metadata/metadata-from-client/pong',
    ],
    'spaced wire-exact: compact re-encoding',
  );
  it.each(spaced)('%s: decodes and re-encodes to its compact form', (name) => {
    const { json } = vec(name);
    expect(encodeJsonMessage(decodeJsonMessage(json))).toBe(compact(json));
  });

  it('pcap ping events carry a [[count 1, timestamp]] metadata vector', () => {
    const m = dataMessage(vec('pcap/server-ping-event-1').json);
    const meta = vector([vector([count(1), timestamp(new Date(Date.UTC(2024, 0, 14, 15, 46, 13, 137)))])]);
    expectData(
      m.data,
      vector([count(1), count(1), vector([string('ping'), vector([string('my-message'), count(1)]), meta])]),
    );
  });

  it('zeek metadata pong carries network time 4711 s as 1970-01-01T01:18:31.000', () => {
    const m = dataMessage(vec('zeek/metadata/metadata/pong').json);
    const ev = m.data.type === 'vector' ? m.data.elements[2] : undefined;
    const meta = ev?.type === 'vector' ? ev.elements[2] : undefined;
    expectData(meta!, vector([vector([count(1), timestamp(4711n * S)])]));
  });
});

describe('Broker JSON v1 vectors: client inputs and re-serialised baselines (decode)', () => {
  const allTypes = (ts: bigint): Data =>
    vector([
      none(),
      boolean(true),
      count(42),
      integer(23),
      real(12.48),
      string('this is a string'),
      address('2001:db8::'),
      subnet('255.255.255.0/24'),
      port(8080, 'tcp'),
      timestamp(ts * S),
      timespan(23n * S),
      enumValue('foo'),
      set([integer(1), integer(2), integer(3)]),
      table([
        [string('first-name'), string('John')],
        [string('last-name'), string('Doe')],
      ]),
    ]);

  classify(['dec/variant-all-types'], 'decode value');
  it('dec/variant-all-types: a bare value (no topic) decodes to the 14-element vector', () => {
    expectData(decodeJsonData(parseJson(vec('dec/variant-all-types').json)), allTypes(1404901004n));
  });

  classify(['dec/data-message-one-of-everything', 'envelope/one-of-everything'], 'decode message');
  it('dec/data-message-one-of-everything: timestamp without zone is UTC', () => {
    const m = dataMessage(vec('dec/data-message-one-of-everything').json);
    expect(m.topic).toBe('/test/cpp/internal/json-type-mapper');
    expectData(m.data, allTypes(1649606820n));
  });
  it('envelope/one-of-everything', () => {
    const m = dataMessage(vec('envelope/one-of-everything').json);
    expect(m.topic).toBe('/foo/bar');
    expectData(m.data, allTypes(1404901004n));
  });

  const everyType = vector([
    integer(-(1n << 63n)),
    integer((1n << 63n) - 1n),
    count(0),
    count((1n << 64n) - 1n),
    string('Hello \\u003cBroker\\u003e!'),
    none(),
    boolean(true),
    real(-7.5),
    timespan(15_000_000n),
    enumValue('foo'),
    address('2001:db8::'),
    subnet('255.255.255.0/24'),
    port(8080, 'tcp'),
    set([string('bar'), string('foo')]),
    table([
      [string('first-name'), string('John')],
      [string('last-name'), string('Doe')],
    ]),
  ]);
  classify(['btest/unencrypted/send-input', 'btest/unencrypted/recv-baseline'], 'decode message');
  it.each(['btest/unencrypted/send-input', 'btest/unencrypted/recv-baseline'])(
    '%s: full 64-bit range, literal backslashes, real sent as -7.5',
    (name) => {
      const m = dataMessage(vec(name).json);
      expect(m.topic).toBe('/test');
      expectData(m.data, everyType);
      // Re-encoded the way the current encoder puts it on the wire.
      expect(encodeJsonMessage(m)).toContain('{"@data-type":"real","data":-7.500000}');
      expect(encodeJsonMessage(m)).toContain('"data":"Hello \\\\u003cBroker\\\\u003e!"');
    },
  );

  classify(['btest/gh-357/send-input', 'btest/gh-357/recv-baseline'], 'decode message');
  it.each(['btest/gh-357/send-input', 'btest/gh-357/recv-baseline'])('%s: 200 counts, pretty-printed', (name) => {
    const m = dataMessage(vec(name).json);
    expectData(m.data, vector(Array.from({ length: 200 }, (_, i) => count(i))));
  });

  classify(['zeek/metadata/metadata-from-client/ping'], 'decode message');
  it('zeek/metadata/metadata-from-client/ping: a timestamp without fraction or zone is UTC', () => {
    const m = dataMessage(vec('zeek/metadata/metadata-from-client/ping').json);
    const expected = vector([
      count(1),
      count(1),
      vector([
        string('ping'),
        vector([string('fourty-two'), count(42)]),
        vector([vector([count(1), timestamp(6162n * S)])]),
      ]),
    ]);
    expectData(m.data, expected);
    // …and goes out again with exactly .mmm, as Zeek echoes it in the pong.
    expect(encodeJsonMessage(m)).toContain('"1970-01-01T01:42:42.000"');
  });

  const docMessages = classify(
    ['doc/data-message', 'doc/zeek-event-no-metadata', 'doc/zeek-event-with-network-timestamp'],
    'decode message',
  );
  it.each(docMessages)('%s', (name) => {
    const m = dataMessage(vec(name).json);
    expect(m.topic).toBe('/foo/bar');
    const event = vector([string('event_1'), vector([integer(42), string('test')])]);
    const withMeta = vector([
      ...(event.elements as Data[]),
      vector([vector([count(1), timestamp(BigInt(Date.UTC(2023, 3, 18, 14, 13, 14)) * 1_000_000n)])]),
    ]);
    const expected =
      name === 'doc/data-message'
        ? count(1)
        : vector([count(1), count(1), name.endsWith('no-metadata') ? event : withMeta]);
    expectData(m.data, expected);
  });

  const DOC_VALUES: Readonly<Record<string, Data>> = {
    'doc/none': none(),
    'doc/boolean-true': boolean(true),
    'doc/boolean-false': boolean(false),
    'doc/count-123': count(123),
    'doc/integer-neg7': integer(-7),
    'doc/real-neg7.5': real(-7.5),
    'doc/timespan-1500ms': timespan(1_500_000_000n),
    'doc/timestamp': timestamp(BigInt(Date.UTC(2022, 3, 10, 7)) * 1_000_000n),
    'doc/string': string('Hello World!'),
    'doc/enum-value': enumValue('foo'),
    'doc/address-v6': address('2001:db8::'),
    'doc/subnet': subnet('255.255.255.0/24'),
    'doc/port': port(8080, 'tcp'),
    'doc/table': table([
      [string('first-name'), string('John')],
      [string('last-name'), string('Doe')],
    ]),
  };
  it.each(classify(Object.keys(DOC_VALUES), 'decode value'))('%s', (name) => {
    expectData(decodeJsonData(parseJson(vec(name).json)), DOC_VALUES[name]!);
  });
  it('doc/real-neg7.5 goes out as the current encoder writes it', () => {
    expect(encodeJsonData(decodeJsonData(parseJson(vec('doc/real-neg7.5').json)))).toBe(
      '{"@data-type":"real","data":-7.500000}',
    );
  });

  // Verbatim doc fragments: the enclosing braces are missing, so they are not JSON documents.
  const fragments = classify(
    ['doc/vector-fragment', 'doc/set-fragment'],
    'fragment: rejected as JSON, decoded once wrapped',
  );
  it.each(fragments)('%s: rejected as a document, decodes once wrapped in braces', (name) => {
    const { json } = vec(name);
    expect(() => parseJson(json)).toThrow(DecodeError);
    const expected =
      name === 'doc/vector-fragment' ? vector([count(42), integer(23)]) : set([string('foo'), string('bar')]);
    expectData(decodeJsonData(parseJson(`{${json}}`)), expected);
  });
});

describe('Broker JSON v1 vectors: must be rejected', () => {
  const REJECTS: Readonly<Record<string, RegExp>> = {
    'dec/bad-address': /^data\[0\]\.data: invalid address "123ns"/,
    'envelope/not-json': /^invalid JSON: .* at offset 0$/,
    'envelope/no-broker-data': /^topic: expected a non-empty string/,
    'btest/error/send-input': /^@data-type: unknown type "phone"/,
    'zeek/bad-event-args/in-1': /^data\[2\]\.data\[1\]\.data: vector must be an array, got number 42/,
    'zeek/bad-event-args/in-4': /^data\[2\]\.data\[1\]\.data\[0\]\.@data-type: unknown type "money"/,
  };
  it.each(classify(Object.keys(REJECTS), 'reject'))('%s', (name) => {
    const { json } = vec(name);
    let error: unknown;
    try {
      decodeJsonMessage(json);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('deserialization_failed');
    expect((error as DecodeError).message).toMatch(REJECTS[name]!);
  });
  it('btest/error/send-input without its type field still reaches the value decoder', () => {
    // Broker does not check "type": the failure is about the data type, not the missing field.
    expect(() => decodeJsonMessage(vec('btest/error/send-input').json)).toThrow(/phone/);
  });
});

describe('Broker JSON v1 vectors: handshakes', () => {
  const GOOD: Readonly<Record<string, string[]>> = {
    'btest/unencrypted/subscriber-handshake': ['/test'],
    'btest/publisher-handshake-empty': [],
    'pcap/client-handshake': ['/zeek/event/my_topic'],
    'zeek-doc/handshake-1': ['zeek.test'],
    'zeek/bad-subscriptions/in-4-ok': ['/topic/good', '/duplicate', '/duplicate', '/is/okay'],
  };
  it.each(classify(Object.keys(GOOD), 'handshake'))('%s', (name) => {
    expect(decodeJsonHandshake(vec(name).json)).toEqual(GOOD[name]);
  });

  const BAD = classify(
    ['zeek/bad-subscriptions/in-1', 'zeek/bad-subscriptions/in-2', 'zeek/bad-subscriptions/in-3'],
    'bad handshake',
  );
  it.each(BAD)('%s: fails with the context of the matching server error', (name) => {
    const out = decodeJsonMessage(vec(name.replace('/in-', '/out-')).json);
    expect(out.type).toBe('error');
    const { context } = out as Extract<JsonV1Message, { type: 'error' }>;
    let error: unknown;
    try {
      decodeJsonHandshake(vec(name).json);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).message).toBe(context);
  });
});

describe('Broker JSON v1 vectors: server acks and errors', () => {
  const ACKS = classify(['doc/ack-template', 'doc/ack-example'], 'ack');
  it.each(ACKS)('%s', (name) => {
    const m = decodeJsonMessage(vec(name).json);
    expect(m.type).toBe('ack');
    expect(encodeJsonMessage(m)).toBe(compact(vec(name).json));
  });
  it('doc/ack-example fields', () => {
    expect(decodeJsonMessage(vec('doc/ack-example').json)).toEqual({
      type: 'ack',
      endpoint: '925c9110-5b87-57d9-9d80-b65568e87a44',
      version: '2.2.0-22',
    });
  });

  // Converted from Python repr with the wire key order type, code, context.
  const ERRORS = classify(
    [
      'doc/error-malformed-json',
      ...named('zeek/bad-subscriptions/out-'),
      'zeek/bad-url/error',
      ...named('zeek/bad-event-args/out-'),
    ],
    'error message',
  );
  it.each(ERRORS)('%s: decodes and re-encodes with key order type, code, context', (name) => {
    const m = decodeJsonMessage(vec(name).json);
    expect(m.type).toBe('error');
    expect(encodeJsonMessage(m)).toBe(compact(vec(name).json));
  });

  classify(['btest/error/recv-baseline'], 'error message (sorted keys)');
  it('btest/error/recv-baseline: keys sorted by Python still decode; output uses wire order', () => {
    const m = decodeJsonMessage(vec('btest/error/recv-baseline').json);
    expect(m).toEqual({ type: 'error', code: 'deserialization_failed', context: 'input #1 contained invalid data' });
    expect(encodeJsonMessage(m)).toBe(
      '{"type":"error","code":"deserialization_failed","context":"input #1 contained invalid data"}',
    );
  });
});

describe('Broker JSON v1 vectors: the JSON schema', () => {
  // Not a message: a JSON Schema document. It is only parsed (a real-world JSON document), and its
  // patterns are used to check our encoder's output for the string-encoded types.
  classify(['schema/v1-broker-out'], 'schema (not a message)');
  it('parses, and our encoder output matches its patterns', () => {
    const schema = JSON.parse(vec('schema/v1-broker-out').json) as {
      definitions: Record<string, { properties: { data: { pattern?: string } } }>;
    };
    // Our parser reads the whole document exactly as the platform's JSON.parse does: every key in
    // source order, every string, every number.
    const plain = (n: JsonNode): unknown =>
      n instanceof JsonNumber
        ? Number(n.text)
        : n instanceof JsonObject
          ? Object.fromEntries(n.entries().map(([k, v]) => [k, plain(v)]))
          : Array.isArray(n)
            ? n.map(plain)
            : n;
    const parsed = parseJson(vec('schema/v1-broker-out').json);
    expect(parsed).toBeInstanceOf(JsonObject);
    expect(JSON.stringify(plain(parsed))).toBe(JSON.stringify(schema));
    expect(Object.keys(schema.definitions).length).toBeGreaterThan(10);
    const pattern = (def: string): RegExp => new RegExp(schema.definitions[def]!.properties.data.pattern!);
    const dataOf = (d: Data): string => (JSON.parse(encodeJsonData(d)) as { data: string }).data;
    expect(dataOf(timestamp(1404901004n * S))).toMatch(pattern('Timestamp'));
    for (const p of [port(80, 'tcp'), port(53, 'udp'), port(8, 'icmp'), port(0, 'unknown')]) {
      expect(dataOf(p)).toMatch(pattern('Port'));
    }
    // The schema's timespan pattern omits "us" (its own note says so); the others match.
    for (const ns of [0n, 1n, 1_000_000n, 1_500_000_000n]) expect(dataOf(timespan(ns))).toMatch(pattern('Timespan'));
    expect(dataOf(subnet('10.1.2.3/8'))).toMatch(pattern('Subnet'));
    expect(dataOf(address('2001:db8::1'))).toMatch(pattern('Address'));
  });
});

describe('Broker JSON v1 vectors: coverage', () => {
  it('every vector is classified exactly once', () => {
    expect(VECTORS.length).toBe(143);
    const missing = VECTORS.map((v) => v.name).filter((n) => !classified.has(n));
    expect(missing).toEqual([]);
    expect(classified.size).toBe(VECTORS.length);
  });
});
