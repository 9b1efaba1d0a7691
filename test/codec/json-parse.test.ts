import { describe, expect, it } from 'vitest';
import { DecodeError } from 'isobroker';
import { DEFAULT_JSON_LIMITS, JsonNumber, JsonObject, parseJson, type JsonNode } from '../../src/internal.js';

function parseError(text: string, limits?: Parameters<typeof parseJson>[1]): DecodeError {
  try {
    parseJson(text, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).code).toBe('deserialization_failed');
    return e as DecodeError;
  }
  throw new Error(`parseJson accepted ${JSON.stringify(text)}`);
}

const num = (node: JsonNode): JsonNumber => {
  expect(node).toBeInstanceOf(JsonNumber);
  return node as JsonNumber;
};

describe('parseJson: numbers keep their source text', () => {
  it.each([
    ['18446744073709551615', true],
    ['-9223372036854775808', true],
    ['0', true],
    ['-0', true],
    ['1', true],
    ['1.0', false],
    ['-7.500000', false],
    ['1e3', false],
    ['1E+3', false],
    ['2.5e-3', false],
    ['1234567890123456824475648.000000', false],
  ])('%s (integer: %s)', (text, isInteger) => {
    const n = num(parseJson(text));
    expect(n.text).toBe(text);
    expect(n.isInteger).toBe(isInteger);
  });

  it.each(['01', '+1', '.5', '1.', '1e', '1e+', '-', '--1', 'NaN', 'Infinity', '-Infinity', '0x10', '1_000', 'nan'])(
    'rejects %s',
    (text) => {
      expect(parseError(text).message).toMatch(/^invalid JSON: .* at offset \d+$/);
    },
  );

  it('names the offset of the bad character', () => {
    expect(parseError('[1, 2,, 3]').message).toBe(
      "invalid JSON: unexpected character ',', expected a JSON value at offset 6",
    );
    expect(parseError('{"a": 01}').message).toContain('at offset 7');
  });
});

describe('parseJson: literals, arrays, whitespace', () => {
  it('parses literals and nested arrays', () => {
    expect(parseJson('[true, false, null, [[]], "x"]')).toEqual([true, false, null, [[]], 'x']);
  });

  it('accepts the spaced formatting of older servers and pretty printing', () => {
    const o = parseJson('{"type": "ack", "endpoint": "e",\n\t"version" :\r\n "v"}') as JsonObject;
    expect(o.entries()).toEqual([
      ['type', 'ack'],
      ['endpoint', 'e'],
      ['version', 'v'],
    ]);
  });

  it.each([
    ['', 'unexpected end of input'],
    ['   ', 'unexpected end of input'],
    ['tru', "expected 'true'"],
    ['nul', "expected 'null'"],
    ['[1,]', 'expected a JSON value'],
    ['{"a":1,}', 'expected a string key'],
    ['[1 2]', "expected ',' or ']'"],
    ['{"a" 1}', "expected ':'"],
    ['{"a":1 "b":2}', "expected ',' or '}'"],
    ['[1] [2]', 'expected end of input'],
    ['{"a":1}x', 'expected end of input'],
    ['\uFEFF{}', 'U+FEFF'],
    ["{'a':1}", 'expected a string key'],
    ['[1] // comment', 'expected end of input'],
    ['/* c */ []', "unexpected character '/'"],
    ['[', 'unexpected end of input'],
    ['{"a":', 'unexpected end of input'],
    ['\u000b[]', 'U+000B'],
  ])('rejects %j (%s)', (text, what) => {
    expect(parseError(text).message).toContain(what);
  });

  it('rejects a non-string argument with a DecodeError', () => {
    expect(() => parseJson(42 as unknown as string)).toThrow(DecodeError);
  });
});

describe('parseJson: strings', () => {
  it("decodes the JSON escapes and Broker's \\v", () => {
    expect(parseJson(String.raw`"\"\\\/\b\f\n\r\t\v"`)).toBe('"\\/\b\f\n\r\t\v');
  });

  it('decodes \\u escapes, surrogate pairs and lone surrogates', () => {
    expect(parseJson(String.raw`"\u00e9\u00C9\ud83d\ude00\u0000"`)).toBe('éÉ😀\u0000');
    expect(parseJson(String.raw`"\udc00x"`)).toBe('\udc00x');
  });

  it('passes raw control characters and non-ASCII through (Broker sends them raw)', () => {
    expect(parseJson('"a\u0001b\u000bc\nd\u001f\u007fé😀"')).toBe('a\u0001b\u000bc\nd\u001f\u007fé😀');
  });

  it.each([
    [String.raw`"\x41"`, "invalid escape '\\x'"],
    [String.raw`"\a"`, "invalid escape '\\a'"],
    [String.raw`"\'"`, "invalid escape '\\''"],
    [String.raw`"\u12"`, 'invalid \\u escape'],
    [String.raw`"\u12g4"`, 'invalid \\u escape'],
    ['"abc', 'unterminated string at offset 0'],
    ['["ok", "abc\\', 'unterminated string at offset 7'],
  ])('rejects %s', (text, what) => {
    expect(parseError(text).message).toContain(what);
  });
});

describe('parseJson: objects and prototype pollution', () => {
  it('keeps keys in order and looks them up', () => {
    const o = parseJson('{"b": 1, "a": [2], "@data-type": "x", "data": {}}') as JsonObject;
    expect(o).toBeInstanceOf(JsonObject);
    expect(o.keys()).toEqual(['b', 'a', '@data-type', 'data']);
    expect(o.size).toBe(4);
    expect(num(o.get('b')!).text).toBe('1');
    expect(o.get('a')).toEqual([num(new JsonNumber('2', true))]);
    expect(o.get('@data-type')).toBe('x');
    expect((o.get('data') as JsonObject).size).toBe(0);
    expect(o.get('missing')).toBeUndefined();
  });

  it('never exposes inherited properties as keys', () => {
    const o = parseJson('{"a": 1}') as JsonObject;
    for (const k of ['toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) expect(o.get(k)).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the key %s, also when escaped', (key) => {
    expect(parseError(`{"${key}": {"polluted": true}}`).message).toBe(
      `invalid JSON: forbidden object key '${key}' at offset 1`,
    );
    const escaped = `\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${key.slice(1)}`;
    expect(parseError(`[{"x": 1, "${escaped}": 1}]`).message).toContain(`forbidden object key '${key}'`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('allows those names as string values and as parts of keys', () => {
    const o = parseJson('{"__proto__x": "__proto__", "my constructor": "constructor"}') as JsonObject;
    expect(o.get('__proto__x')).toBe('__proto__');
  });

  it('rejects duplicate keys, in small and large objects', () => {
    expect(parseError('{"a": 1, "a": 2}').message).toBe("invalid JSON: duplicate object key 'a' at offset 9");
    const many = Array.from({ length: 20 }, (_, i) => `"k${i}": ${i}`).join(', ');
    expect(parseJson(`{${many}}`)).toBeInstanceOf(JsonObject);
    expect(parseError(`{${many}, "k3": 0}`).message).toContain("duplicate object key 'k3'");
    expect(parseError(`{"data": 1, "data": 2}`).message).toContain("duplicate object key 'data'");
  });
});

describe('parseJson: limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_JSON_LIMITS).toEqual({
      maxTextLength: 16 * 1024 * 1024,
      maxDepth: 200,
      maxStringLength: 4 * 1024 * 1024,
      maxArrayLength: 1024 * 1024,
      maxObjectKeys: 256,
      allowNonFiniteReals: false,
      maxDataDepth: 64,
    });
    expect(Object.isFrozen(DEFAULT_JSON_LIMITS)).toBe(true);
  });

  it('maxTextLength', () => {
    expect(parseJson('[1, 2]', { maxTextLength: 6 })).toHaveLength(2);
    expect(parseError('[1, 2] ', { maxTextLength: 6 }).message).toBe(
      'invalid JSON: text of 7 characters exceeds maxTextLength 6',
    );
  });

  it('maxDepth counts arrays and objects; the default is 200 (Broker data 64 containers deep)', () => {
    const nest = (d: number): string => '['.repeat(d) + ']'.repeat(d);
    expect(() => parseJson(nest(200))).not.toThrow();
    expect(parseError(nest(201)).message).toBe('invalid JSON: nesting deeper than maxDepth 200 at offset 200');
    expect(() => parseJson('{"a":[{"b":[]}]}', { maxDepth: 4 })).not.toThrow();
    expect(parseError('{"a":[{"b":[]}]}', { maxDepth: 3 }).message).toContain('maxDepth 3');
  });

  it('a depth beyond the call stack still fails with a DecodeError', () => {
    const d = 200_000;
    expect(parseError('['.repeat(d) + ']'.repeat(d), { maxDepth: 10 * d }).message).toMatch(/^invalid JSON: /);
  });

  it('maxStringLength applies to values and keys, after unescaping', () => {
    expect(parseJson('"abcd"', { maxStringLength: 4 })).toBe('abcd');
    expect(parseError('"abcde"', { maxStringLength: 4 }).message).toBe(
      'invalid JSON: string longer than maxStringLength 4 at offset 0',
    );
    expect(parseJson(String.raw`"\u0041\u0042\u0043\u0044"`, { maxStringLength: 4 })).toBe('ABCD');
    expect(parseError(String.raw`"\u0041\u0042\u0043\u0044\n"`, { maxStringLength: 4 }).message).toContain(
      'maxStringLength',
    );
    expect(parseError('{"abcde": 1}', { maxStringLength: 4 }).message).toContain('maxStringLength');
    expect(parseError('{"@data-type": 1}', { maxStringLength: 4 }).message).toContain('maxStringLength');
  });

  it('maxArrayLength', () => {
    expect(parseJson('[1,2,3]', { maxArrayLength: 3 })).toHaveLength(3);
    expect(parseError('[1,2,3,4]', { maxArrayLength: 3 }).message).toBe(
      'invalid JSON: array longer than maxArrayLength 3 at offset 7',
    );
  });

  it('maxObjectKeys', () => {
    expect(parseJson('{"a":1,"b":2}', { maxObjectKeys: 2 })).toBeInstanceOf(JsonObject);
    expect(parseError('{"a":1,"b":2,"c":3}', { maxObjectKeys: 2 }).message).toBe(
      'invalid JSON: object with more than maxObjectKeys 2 keys at offset 13',
    );
    expect(parseError('{"a":1}', { maxObjectKeys: 0 }).message).toContain('maxObjectKeys 0');
  });
});
