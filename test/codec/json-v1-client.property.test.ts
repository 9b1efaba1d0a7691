/**
 * The two directions of Broker JSON v1: what an isobroker *client* writes to a Zeek or Broker
 * server is lossless, what a *server* (a JSON v1 server we peer with) writes may hold Broker's bare
 * `nan`/`inf`/`-inf`, and what our hub writes stays byte-exact with Broker's server.
 *
 * The grammar Broker's parser accepts (CAF's JSON reader, then Broker's JSON v1 conversion), which
 * every token a client writes must satisfy:
 *   real      := '-'? INT ( '.' DIGIT+ )? ( [eE] '-'? DIGIT+ )?   with a fraction or an exponent
 *                (a bare integer is not a real), INT := '0' | [1-9] DIGIT{0,18}: at most 19 integer
 *                digits (CAF reads the integer part as int64 first; 20 digits fail with
 *                `caf::pec::integer_overflow`), no '+' in the exponent;
 *   timestamp := YYYY-MM-DDThh:mm:ss ( '.' DIGIT{1,9} )?        (UTC, no zone);
 *   timespan  := '-'? DIGIT+ ( 'ns' | 'us' | 'ms' | 's' | 'min' | 'h' );
 *   count     := DIGIT+ ;  integer := '-'? DIGIT+ .
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ValueError,
  equals,
  integer,
  real,
  string,
  timespan,
  timestamp,
  toText,
  vector,
  type Data,
} from 'isobroker';
import { JsonNumber, JsonObject, type JsonNode } from '../../src/codec/json-v1/json-node.js';
import { parseJson } from '../../src/codec/json-v1/json-parse.js';
import { decodeJsonData } from '../../src/codec/json-v1/decode.js';
import {
  assertJsonClientEncodable,
  encodeJsonData,
  encodeJsonMessage,
  realTextLossless,
} from '../../src/codec/json-v1/encode.js';
import { decodeJsonMessage, inputErrorContext } from '../../src/codec/json-v1/message.js';
import { dataArb } from '../support/arbitraries.js';

const CLIENT = { role: 'client' } as const;
const REAL = /^-?(0|[1-9][0-9]{0,18})(\.[0-9]+)?([eE]-?[0-9]+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;
const TIMESPAN = /^-?\d+(ns|us|ms|s|min|h)$/;
const COUNT = /^\d+$/;
const INTEGER = /^-?\d+$/;

/** Checks every scalar token of a parsed JSON v1 value against Broker's grammar. */
function checkGrammar(node: JsonNode): void {
  if (Array.isArray(node)) {
    for (const x of node as readonly JsonNode[]) checkGrammar(x);
    return;
  }
  if (!(node instanceof JsonObject)) return;
  const tag = node.get('@data-type');
  const d = node.get('data');
  const text = d instanceof JsonNumber ? d.text : typeof d === 'string' ? d : undefined;
  switch (tag) {
    case 'real':
      expect(text).toMatch(REAL);
      expect(/[.eE]/.test(text!)).toBe(true);
      break;
    case 'timestamp':
      expect(text).toMatch(TIMESTAMP);
      break;
    case 'timespan':
      expect(text).toMatch(TIMESPAN);
      break;
    case 'count':
      expect(text).toMatch(COUNT);
      break;
    case 'integer':
      expect(text).toMatch(INTEGER);
      break;
  }
  for (const [, v] of node.entries()) checkGrammar(v);
}

function clientText(x: number): string {
  return encodeJsonData(real(x), CLIENT).slice('{"@data-type":"real","data":'.length, -1);
}

describe('JSON v1 client encoding is lossless', () => {
  it('decode(encodeAsClient(v)) equals v exactly for every type, and the text follows Broker grammar', () => {
    fc.assert(
      fc.property(dataArb({ depth: 3, nonFinite: false }), (v) => {
        const text = encodeJsonData(v, CLIENT);
        const tree = parseJson(text);
        checkGrammar(tree);
        const back = decodeJsonData(tree);
        if (!equals(back, v)) throw new Error(`${toText(v)} came back as ${toText(back)} via ${text}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('every finite double: shortest round-trip text in Broker grammar', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const t = realTextLossless(x);
        expect(t).toMatch(REAL);
        expect(/[.eE]/.test(t)).toBe(true);
        expect(Object.is(Number(t), x)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('writes the examples of the issue exactly', () => {
    expect(clientText(Math.PI)).toBe('3.141592653589793');
    expect(clientText(1e-7)).toBe('1e-7');
    expect(clientText(5)).toBe('5.0');
    expect(clientText(-0)).toBe('-0.0');
    expect(clientText(0)).toBe('0.0');
    expect(clientText(1e300)).toBe('1e300');
    expect(clientText(2 ** 64)).toBe('1.8446744073709552e19');
    expect(clientText(1.2345678901234568e24)).toBe('1.2345678901234568e24');
    expect(clientText(1e19)).toBe('1e19');
    expect(clientText(9999999999999998000)).toBe('9999999999999998000.0'); // 19 digits stay plain
    expect(clientText(5e-324)).toBe('5e-324');
    expect(clientText(-1.7976931348623157e308)).toBe('-1.7976931348623157e308');
    // The server side stays Broker's %f.
    expect(encodeJsonData(real(Math.PI))).toBe('{"@data-type":"real","data":3.141593}');
    expect(encodeJsonData(real(1e-7))).toBe('{"@data-type":"real","data":0.000000}');
  });

  it('timestamps keep nanoseconds, timespans are exact', () => {
    const ts = (ns: bigint): string => encodeJsonData(timestamp(ns), CLIENT);
    expect(ts(1404901004123456789n)).toBe('{"@data-type":"timestamp","data":"2014-07-09T10:16:44.123456789"}');
    expect(ts(1404901004120000000n)).toBe('{"@data-type":"timestamp","data":"2014-07-09T10:16:44.120"}');
    expect(ts(1404901004000000000n)).toBe('{"@data-type":"timestamp","data":"2014-07-09T10:16:44.000"}');
    expect(ts(-1n)).toBe('{"@data-type":"timestamp","data":"1969-12-31T23:59:59.999999999"}');
    // The server side stays Broker's milliseconds.
    expect(encodeJsonData(timestamp(1404901004123456789n))).toBe(
      '{"@data-type":"timestamp","data":"2014-07-09T10:16:44.123"}',
    );
    expect(encodeJsonData(timespan(1500n), CLIENT)).toBe('{"@data-type":"timespan","data":"1500ns"}');
    expect(encodeJsonData(timespan(-3_000_000_000n), CLIENT)).toBe('{"@data-type":"timespan","data":"-3s"}');
    for (const ns of [-9223372036854775808n, 9223372036854775807n, 0n, -999999999n]) {
      expect(decodeJsonData(parseJson(ts(ns)))).toEqual(timestamp(ns));
    }
  });

  it('a non-finite real fails with a clear error and nothing is written', () => {
    for (const x of [NaN, Infinity, -Infinity]) {
      expect(() =>
        encodeJsonMessage({ type: 'data-message', topic: 't', data: vector([integer(1n), real(x)]) }, CLIENT),
      ).toThrow(/cannot be sent to a JSON v1 server/);
      expect(() => assertJsonClientEncodable(vector([string('a'), vector([real(x)])]))).toThrow(ValueError);
    }
    expect(() => assertJsonClientEncodable(vector([real(1.5)]))).not.toThrow();
  });
});

describe('JSON v1 from a server: Broker bare non-finite reals', () => {
  const msg = (d: string): string => `{"type":"data-message","topic":"t","@data-type":"real","data":${d}}`;
  const server = { allowNonFiniteReals: true };

  it('accepts nan, -nan, inf, -inf as reals when reading a server', () => {
    const read = (d: string): number => {
      const m = decodeJsonMessage(msg(d), server);
      if (m.type !== 'data-message' || m.data.type !== 'real') throw new Error('not a real');
      return m.data.value;
    };
    expect(read('nan')).toBeNaN();
    expect(read('-nan')).toBeNaN();
    expect(read('inf')).toBe(Infinity);
    expect(read('-inf')).toBe(-Infinity);
    expect(read(' inf ')).toBe(Infinity);
    const v = decodeJsonMessage(
      '{"type":"data-message","topic":"t","@data-type":"vector","data":[{"@data-type":"real","data":-inf},{"@data-type":"none","data":null}]}',
      server,
    );
    expect(v).toEqual({ type: 'data-message', topic: 't', data: vector([real(-Infinity), { type: 'none' }]) });
  });

  it('refuses them from a client (the default) and anywhere but a real', () => {
    for (const d of ['nan', 'inf', '-inf']) {
      expect(() => decodeJsonMessage(msg(d))).toThrow(DecodeError);
    }
    for (const bad of ['nanx', 'infinity', 'Inf', 'NaN', '-in'])
      expect(() => decodeJsonMessage(msg(bad), server)).toThrow(DecodeError);
    expect(() =>
      decodeJsonMessage('{"type":"data-message","topic":"t","@data-type":"count","data":inf}', server),
    ).toThrow(/count/);
    expect(() =>
      decodeJsonMessage('{"type":"data-message","topic":"t","@data-type":"string","data":nan}', server),
    ).toThrow(/string/);
  });

  it('keeps accepting raw control bytes inside strings', () => {
    const m = decodeJsonMessage(
      '{"type":"data-message","topic":"t","@data-type":"string","data":"a\u0001b\u000bc\u001f"}',
    );
    expect(m).toEqual({ type: 'data-message', topic: 't', data: string('a\u0001b\u000bc\u001f') });
  });
});

describe("Broker's error-text prefixes", () => {
  const ctx = (text: string, n = 3): string => {
    try {
      decodeJsonMessage(text);
    } catch (e) {
      return inputErrorContext(n, e as DecodeError);
    }
    throw new Error('decoded');
  };
  it('names the class of failure the way Broker does, then our detail', () => {
    expect(ctx('How is it going?', 1)).toMatch(/^input #1 contained malformed JSON -> invalid JSON: /);
    expect(ctx('[1, 2]')).toMatch(/^input #3 expected a JSON object -> /);
    expect(ctx('"text"')).toMatch(/^input #3 expected a JSON object -> /);
    expect(ctx('{"topic":"/t","@data-type":"phone","data":"555-0123"}')).toMatch(
      /^input #3 contained invalid data -> @data-type: unknown type/,
    );
    expect(ctx('{"topic":"/t","@data-type":"real","data":5}')).toMatch(/^input #3 contained invalid data -> /);
  });
});

describe('depth: Broker data 64 containers deep', () => {
  it('decodes 64 nested vectors and 64 nested tables with the default limits', () => {
    let v: Data = integer(1n);
    for (let i = 0; i < 64; i++) v = vector([v]);
    const text = encodeJsonMessage({ type: 'data-message', topic: 't', data: v }, CLIENT);
    expect(decodeJsonMessage(text)).toEqual({ type: 'data-message', topic: 't', data: v });
    let t: Data = integer(1n);
    for (let i = 0; i < 64; i++) t = { type: 'table', entries: [[integer(BigInt(i)), t]] };
    const tText = encodeJsonMessage({ type: 'data-message', topic: 't', data: t });
    expect(decodeJsonMessage(tText)).toEqual({ type: 'data-message', topic: 't', data: t });
    // One more container is refused, like the native codec refuses it (fast and general path alike).
    const v65 = encodeJsonMessage({ type: 'data-message', topic: 't', data: vector([v]) });
    expect(() => decodeJsonMessage(v65)).toThrow(/maxDataDepth 64/);
    expect(() => decodeJsonMessage(` ${v65.replace(/,/g, ', ')}`)).toThrow(/maxDataDepth 64/);
    const t65 = encodeJsonMessage({
      type: 'data-message',
      topic: 't',
      data: { type: 'table', entries: [[integer(0n), t]] },
    });
    expect(() => decodeJsonMessage(t65)).toThrow(/maxDataDepth 64/);
    expect(decodeJsonMessage(v65, { maxDataDepth: 65 })).toEqual({
      type: 'data-message',
      topic: 't',
      data: vector([v]),
    });
  });
});
