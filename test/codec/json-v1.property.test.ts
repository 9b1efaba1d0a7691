/**
 * Property tests of the Broker JSON v1 codec.
 *
 * JSON v1 is lossy in exactly two places, both Broker's format: timestamps go out as `.mmm`
 * (milliseconds, truncated toward negative infinity) and reals as C's `%f` (six decimals). So the
 * round-trip law is `decode(encode(v)) == normalize(v)`, where `normalize` floors timestamps to
 * the millisecond and rounds reals to six decimals — and when that makes two set elements or table
 * keys equal, decoding must fail with a duplicate error instead.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, compare, count, equals, real, set, string, table, toText, vector, type Data } from 'isobroker';
import {
  decodeJsonData,
  decodeJsonMessage,
  encodeJsonData,
  encodeJsonMessage,
  parseJson,
  type JsonNode,
} from '../../src/internal.js';
import { JsonNumber, JsonObject } from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';

const RUNS = 300;
const NS_PER_MS = 1_000_000n;
const FIRST_WHOLE_MS = -9_223_372_036_854_000_000n;

/** The real a `%f` text reads back as. */
function realAfterJson(x: number): number {
  const text = encodeJsonData(real(x)).slice('{"@data-type":"real","data":'.length, -1);
  return Number(text);
}

/** What JSON v1 can carry of `v`; `merged` is set when two set elements or keys become equal. */
function normalize(v: Data, out: { merged: boolean }): Data {
  switch (v.type) {
    case 'timestamp': {
      let ms = v.ns / NS_PER_MS;
      if (ms * NS_PER_MS > v.ns) ms -= 1n;
      // The first 0.776 ms of the int64 range floor outside it; they go out as its first whole ms.
      return { type: 'timestamp', ns: ms * NS_PER_MS < FIRST_WHOLE_MS ? FIRST_WHOLE_MS : ms * NS_PER_MS };
    }
    case 'real':
      return { type: 'real', value: realAfterJson(v.value) };
    case 'vector':
      return vector(v.elements.map((e) => normalize(e, out)));
    case 'set': {
      const s = set(v.elements.map((e) => normalize(e, out)));
      if (s.elements.length !== v.elements.length) out.merged = true;
      return s;
    }
    case 'table': {
      const t = table(v.entries.map(([k, x]) => [normalize(k, out), normalize(x, out)] as const));
      if (t.entries.length !== v.entries.length) out.merged = true;
      return t;
    }
    default:
      return v;
  }
}

function expectSame(actual: Data, expected: Data): void {
  if (!equals(actual, expected)) expect(toText(actual)).toBe(toText(expected));
  expect(equals(actual, expected)).toBe(true);
}

describe('JSON v1 round trip (fast-check)', () => {
  it('decode(encode(v)) equals v up to ms timestamps and %f reals', () => {
    fc.assert(
      fc.property(dataArb({ nonFinite: false }), (v) => {
        const out = { merged: false };
        const expected = normalize(v, out);
        const text = encodeJsonData(v);
        if (out.merged) {
          expect(() => decodeJsonData(parseJson(text))).toThrow(/duplicate (set element|table key)/);
          return;
        }
        const decoded = decodeJsonData(parseJson(text));
        expectSame(decoded, expected);
        // Encoding is canonical: the decoded value re-encodes to the text of what JSON v1 can
        // carry of `v`, and that text is a fixed point. (It is not always the original text:
        // rounding can tie the first elements of two vectors in a set, e.g. [-5e-324, 1] and
        // [0, 0], and then a later element decides their order.)
        const again = encodeJsonData(decoded);
        expect(again).toBe(encodeJsonData(expected));
        expect(encodeJsonData(decodeJsonData(parseJson(again)))).toBe(again);
      }),
      { numRuns: RUNS },
    );
  });

  it('re-sorts a set whose vectors tie after %f rounding, and the result is a fixed point', () => {
    // -5e-324 goes out as -0.000000, which equals 0: the second elements now decide the order.
    const v = set([vector([real(-5e-324), count(1)]), vector([real(0), count(0)])]);
    const text = encodeJsonData(v);
    const again = encodeJsonData(decodeJsonData(parseJson(text)));
    expect(text.indexOf('"data":1}')).toBeLessThan(text.indexOf('"data":0}'));
    expect(again.indexOf('"data":0}')).toBeLessThan(again.indexOf('"data":1}'));
    expect(encodeJsonData(decodeJsonData(parseJson(again)))).toBe(again);
  });

  it('data messages round-trip, and the fast path agrees with the general path', () => {
    const topic = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(topic, dataArb({ nonFinite: false }), (t, v) => {
        const out = { merged: false };
        const expected = normalize(v, out);
        const text = encodeJsonMessage({ type: 'data-message', topic: t, data: v });
        if (out.merged) {
          expect(() => decodeJsonMessage(text)).toThrow(DecodeError);
          return;
        }
        const m = decodeJsonMessage(text);
        expect(m.type === 'data-message' && m.topic).toBe(t);
        if (m.type !== 'data-message') return;
        expectSame(m.data, expected);
        expectSame(decodeJsonData(parseJson(text)), m.data);
      }),
      { numRuns: RUNS },
    );
  });

  it('whitespace between tokens changes nothing (spaced and pretty senders)', () => {
    const ws = fc.array(fc.constantFrom(' ', '\n', '\t', '\r', '  '), { maxLength: 3 }).map((a) => a.join(''));
    fc.assert(
      fc.property(dataArb({ nonFinite: false, depth: 2 }), fc.infiniteStream(ws), (v, spaces) => {
        const text = encodeJsonMessage({ type: 'data-message', topic: '/t', data: v });
        let spaced = '';
        let inString = false;
        for (let i = 0; i < text.length; i++) {
          const c = text[i]!;
          if (inString) {
            spaced += c;
            if (c === '\\') spaced += text[++i]!;
            else if (c === '"') inString = false;
            continue;
          }
          if (c === '"') inString = true;
          // Every JSON token touches one of these, so spacing around them spaces every token.
          if ('{}[],:'.includes(c)) spaced += `${spaces.next().value as string}${c}${spaces.next().value as string}`;
          else spaced += c;
        }
        spaced += spaces.next().value as string;
        let compact: Data | DecodeError;
        try {
          const m = decodeJsonMessage(text);
          compact = m.type === 'data-message' ? m.data : new DecodeError('not data');
        } catch (e) {
          compact = e as DecodeError;
        }
        if (compact instanceof DecodeError) {
          expect(() => decodeJsonMessage(spaced)).toThrow(compact.message);
          return;
        }
        const m = decodeJsonMessage(spaced);
        expect(m.type === 'data-message' && equals(m.data, compact)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('JSON v1 strings (fast-check)', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
    fc.string({
      unit: fc.constantFrom('\u0000', '\u000b', '\u001f', '\\', '"', '/', '\n', 'é', '😀', '\u2028', '\u007f'),
      maxLength: 20,
    }),
  );

  it('every valid Unicode string round-trips in both escape modes', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        for (const stringEscapes of ['json', 'broker'] as const) {
          const text = encodeJsonData(string(s), { stringEscapes });
          const back = decodeJsonData(parseJson(text));
          expect(back.type === 'string' && back.value).toBe(s);
          const msg = encodeJsonMessage({ type: 'data-message', topic: s || '/', data: string(s) }, { stringEscapes });
          const m = decodeJsonMessage(msg);
          expect(m.type === 'data-message' && m.topic).toBe(s || '/');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('json mode output is strict JSON that JSON.parse reads back', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        expect((JSON.parse(encodeJsonData(string(s))) as { data: string }).data).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * Oracle for `%f`: the exact binary value of the double, scaled by 10^6 and rounded half to even,
 * computed with bigint arithmetic only (independent of `toFixed`).
 */
function percentF(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const negative = view.getUint8(0) >> 7 === 1;
  const bits = view.getBigUint64(0) & ((1n << 63n) - 1n);
  const expBits = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  const mant = expBits === 0 ? fraction : fraction | (1n << 52n);
  const exp = (expBits === 0 ? 1 : expBits) - 1075;
  let n: bigint;
  if (exp >= 0) n = (mant << BigInt(exp)) * 1_000_000n;
  else {
    const den = 1n << BigInt(-exp);
    const num = mant * 1_000_000n;
    n = num / den;
    const twice = 2n * (num % den);
    if (twice > den || (twice === den && n % 2n === 1n)) n += 1n;
  }
  const digits = n.toString().padStart(7, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

describe('JSON v1 reals (fast-check)', () => {
  const realText = (x: number): string => encodeJsonData(real(x)).slice('{"@data-type":"real","data":'.length, -1);

  it('matches an exact %f oracle for every finite double', () => {
    const ties = fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((j) => (2 * j + 1) / 128);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          ties,
          fc.integer().map((i) => i / 1e6),
        ),
        (x) => {
          expect(realText(x)).toBe(percentF(x));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('reads back within half a unit of the sixth decimal', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }), (x) => {
        const back = decodeJsonData(parseJson(encodeJsonData(real(x))));
        expect(back.type).toBe('real');
        expect(Math.abs((back as { value: number }).value - x)).toBeLessThanOrEqual(5e-7 + Math.abs(x) * 1e-15);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A parsed tree as plain JavaScript, numbers as doubles (what JSON.parse gives). */
function toPlain(node: JsonNode): unknown {
  if (node instanceof JsonNumber) return Number(node.text);
  if (node instanceof JsonObject) return Object.fromEntries(node.entries().map(([k, v]) => [k, toPlain(v)]));
  if (Array.isArray(node)) return node.map(toPlain);
  return node;
}

describe('parseJson agrees with JSON.parse (fast-check)', () => {
  it('on arbitrary JSON documents, except for the keys it forbids', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (text) => {
        let node: JsonNode;
        try {
          node = parseJson(text);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect((e as Error).message).toMatch(/forbidden object key '(__proto__|constructor|prototype)'/);
          return;
        }
        expect(toPlain(node)).toEqual(JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('sorted sets stay sorted through a round trip', () => {
    fc.assert(
      fc.property(dataArb({ nonFinite: false, depth: 2 }), (v) => {
        if (v.type !== 'set') return;
        const out = { merged: false };
        normalize(v, out);
        if (out.merged) return;
        const back = decodeJsonData(parseJson(encodeJsonData(v)));
        const els = (back as { elements: readonly Data[] }).elements;
        for (let i = 1; i < els.length; i++) expect(compare(els[i - 1]!, els[i]!)).toBeLessThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});
