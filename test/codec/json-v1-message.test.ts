import { describe, expect, it } from 'vitest';
import { DecodeError, count, equals, set, string, vector } from 'isobroker';
import {
  HANDSHAKE_NOT_AN_ARRAY,
  HANDSHAKE_NOT_A_STRING,
  decodeJsonData,
  decodeJsonHandshake,
  decodeJsonMessage,
  encodeJsonMessage,
  parseJson,
  type JsonV1DataMessage,
  type JsonV1Message,
} from '../../src/internal.js';

function messageError(text: string, limits?: Parameters<typeof decodeJsonMessage>[1]): string {
  try {
    decodeJsonMessage(text, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).code).toBe('deserialization_failed');
    return (e as DecodeError).message;
  }
  throw new Error(`accepted ${text}`);
}

function dataOf(m: JsonV1Message): JsonV1DataMessage {
  if (m.type !== 'data-message') throw new Error(`not a data message: ${m.type}`);
  return m;
}

describe('decodeJsonMessage: data messages', () => {
  const event = vector([count(1), count(1), vector([string('ping'), vector([string('hi'), count(42)])])]);
  const compact = encodeJsonMessage({ type: 'data-message', topic: '/t', data: event });

  it('decodes compact, spaced and pretty forms alike', () => {
    const spaced = compact.replace(/":/g, '": ').replace(/,"/g, ', "');
    const pretty = JSON.stringify(JSON.parse(compact), null, 2);
    for (const text of [compact, spaced, pretty, `\n ${compact}\r\n`]) {
      const m = dataOf(decodeJsonMessage(text));
      expect(m.topic).toBe('/t');
      expect(equals(m.data, event)).toBe(true);
    }
  });

  it('does not check the type field, as Broker does not (absent or anything but ack/error)', () => {
    for (const type of [undefined, 'data-message', 'something-else', 42]) {
      const obj = { ...(type === undefined ? {} : { type }), topic: '/x', '@data-type': 'count', data: 7 };
      const m = dataOf(decodeJsonMessage(JSON.stringify(obj)));
      expect(m.topic).toBe('/x');
      expect(equals(m.data, count(7))).toBe(true);
    }
  });

  it('accepts any key order, extra keys, and escapes in the topic', () => {
    const m = dataOf(decodeJsonMessage('{"data": 3, "extra": [1], "@data-type": "count", "topic": "a\\/b\\u00e9"}'));
    expect(m.topic).toBe('a/bé');
    expect(equals(m.data, count(3))).toBe(true);
  });

  it.each([
    ['{"@data-type":"count","data":1}', 'topic: expected a non-empty string, got nothing'],
    ['{"topic":"","@data-type":"count","data":1}', 'topic: expected a non-empty string, got string ""'],
    ['{"topic":5,"@data-type":"count","data":1}', 'topic: expected a non-empty string, got number 5'],
    ['{"topic":"\\ud800","@data-type":"count","data":1}', 'topic: holds a lone UTF-16 surrogate (not valid Unicode)'],
    ['{"topic":"/t","data":1}', '@data-type: missing'],
    ['{"topic":"/t","@data-type":"count"}', 'data: count must be a non-negative integer'],
    [
      '{"topic":"/t","@data-type":"set","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1}]}',
      'data[1]: duplicate set element, equal to [0]',
    ],
    ['[]', '(root): expected a JSON object, got an array'],
    ['"hello"', '(root): expected a JSON object, got string "hello"'],
    ['How is it going?', 'invalid JSON: '],
    ['{"topic":"/t","@data-type":"count","data":1} {}', 'invalid JSON: unexpected character'],
  ])('rejects %s', (text, what) => {
    expect(messageError(text)).toContain(what);
  });

  it('applies the limits', () => {
    const deep = encodeJsonMessage({ type: 'data-message', topic: '/t', data: vector([vector([vector([])])]) });
    expect(() => decodeJsonMessage(deep)).not.toThrow();
    expect(messageError(deep, { maxDepth: 5 })).toContain('nesting deeper than maxDepth 5');
    expect(messageError(compact, { maxDepth: 0 })).toContain('nesting deeper than maxDepth 0');
    expect(messageError(compact, { maxTextLength: 10 })).toContain('exceeds maxTextLength 10');
    expect(messageError(compact, { maxStringLength: 3 })).toContain('maxStringLength 3');
    expect(messageError(compact, { maxArrayLength: 2 })).toContain('maxArrayLength 2');
    expect(messageError(compact, { maxObjectKeys: 3 })).toContain('maxObjectKeys 3');
  });

  it('sorts a set sent out of order', () => {
    const text =
      '{"topic":"/t","@data-type":"set","data":[{"@data-type":"string","data":"b"},{"@data-type":"string","data":"a"}]}';
    expect(equals(dataOf(decodeJsonMessage(text)).data, set([string('a'), string('b')]))).toBe(true);
  });
});

describe('decodeJsonMessage: acks and errors', () => {
  it('decodes both, in any key order and spacing', () => {
    expect(decodeJsonMessage('{"version": "8.0.0", "type": "ack", "endpoint": "x"}')).toEqual({
      type: 'ack',
      endpoint: 'x',
      version: '8.0.0',
    });
    expect(
      decodeJsonMessage('{"type":"error","code":"deserialization_failed","context":"input #2 contained invalid data"}'),
    ).toEqual({
      type: 'error',
      code: 'deserialization_failed',
      context: 'input #2 contained invalid data',
    });
  });
  it('needs their string fields', () => {
    expect(messageError('{"type":"ack","endpoint":"x"}')).toBe('version: expected a string, got nothing');
    expect(messageError('{"type":"error","code":1,"context":"c"}')).toBe('code: expected a string, got number 1');
  });
  it('round-trips through encodeJsonMessage', () => {
    for (const m of [
      { type: 'ack', endpoint: 'e-\u0001"', version: 'v' },
      { type: 'error', code: 'invalid_uri', context: 'Invalid URI - use /v1/messages/json' },
    ] as const) {
      expect(decodeJsonMessage(encodeJsonMessage(m))).toEqual(m);
    }
  });
});

describe('decodeJsonHandshake', () => {
  it('returns the topic prefixes, duplicates kept', () => {
    expect(decodeJsonHandshake('[]')).toEqual([]);
    expect(decodeJsonHandshake('[""]')).toEqual(['']);
    expect(decodeJsonHandshake(' ["/a", "/a", "zeek.test"] ')).toEqual(['/a', '/a', 'zeek.test']);
  });

  it.each([
    ['{}', HANDSHAKE_NOT_AN_ARRAY],
    ['"topic"', HANDSHAKE_NOT_AN_ARRAY],
    ['["broken", "brrr', HANDSHAKE_NOT_AN_ARRAY],
    ['', HANDSHAKE_NOT_AN_ARRAY],
    ['[1, 2]', HANDSHAKE_NOT_A_STRING],
    ['["a", null]', HANDSHAKE_NOT_A_STRING],
    ['[["a"]]', HANDSHAKE_NOT_A_STRING],
  ])('%s fails with exactly the server context', (text, context) => {
    let error: unknown;
    try {
      decodeJsonHandshake(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).message).toBe(context);
    expect((error as DecodeError).code).toBe('deserialization_failed');
  });

  it('keeps the parse error as the cause of text that is not JSON', () => {
    try {
      decodeJsonHandshake('["broken", "brrr');
    } catch (e) {
      expect((e as DecodeError).cause).toBeInstanceOf(DecodeError);
      expect(((e as DecodeError).cause as Error).message).toContain('unterminated string');
    }
    expect.assertions(2);
  });

  it('applies the limits', () => {
    expect(() => decodeJsonHandshake('["a","b","c"]', { maxArrayLength: 2 })).toThrow(
      new DecodeError(HANDSHAKE_NOT_AN_ARRAY),
    );
  });

  it('the messages are the exact contexts Zeek sends', () => {
    expect(HANDSHAKE_NOT_AN_ARRAY).toBe('subscriptions not an array');
    expect(HANDSHAKE_NOT_A_STRING).toBe('individual subscription not a string');
  });
});

describe('decodeJsonMessage: the fast path agrees with the general path', () => {
  // decodeJsonMessage decodes the usual shape straight from the text; parseJson + decodeJsonData
  // is the general path. Both must agree on every message, including ones the fast path declines.
  const texts = [
    '{"type":"data-message","topic":"/t","@data-type":"table","data":[{"key":{"@data-type":"string","data":"b"},"value":{"@data-type":"none","data":{}}},{"key":{"@data-type":"string","data":"a"},"value":{"@data-type":"real","data":1.5}}]}',
    '{"type": "data-message", "topic": "/t", "@data-type": "vector", "data": [{"@data-type": "timestamp", "data": "2022-04-10T07:00:00+02:00"}, {"@data-type": "timespan", "data": "1.5s"}, {"@data-type": "port", "data": "80"}]}',
    '{"topic":"/t","@data-type":"string","data":"a\\nb"}',
    '{"topic":"/t","@data-type":"string","data":"😀 é \u0001"}',
    '{"topic":"/t","@data-type":"subnet","data":"10.9.8.7/8"}',
    '{"topic":"/t","@data-type":"address","data":"::ffff:10.9.8.7"}',
    '{"topic":"/t","@data-type":"enum-value","data":"Log::WRITER_ASCII"}',
    '{"topic":"/t","@data-type":"boolean","data":false}',
    '{"topic":"/t","@data-type":"integer","data":-9223372036854775808}',
    '{"topic":"/t","@data-type":"count","data":18446744073709551615}',
  ];
  it.each(texts)('%s', (text) => {
    const fast = dataOf(decodeJsonMessage(text));
    const root = parseJson(text);
    const general = decodeJsonData(root);
    expect(equals(fast.data, general)).toBe(true);
    expect(encodeJsonMessage(fast)).toBe(encodeJsonMessage({ type: 'data-message', topic: fast.topic, data: general }));
  });
});
