/**
 * The fast path of `decodeJsonMessage`: decodes a data message straight from the text into Broker
 * data, without building a JSON tree, when the text has the usual shape — keys in the order
 * (type,) topic, @data-type, data; every value object exactly `{"@data-type":…,"data":…}`; table
 * entries exactly `{"key":…,"value":…}`; no escapes in strings; any JSON whitespace. Anything
 * else, and every error, makes it give up (return undefined); the general path (`parseJson` then
 * `decodeJsonData`) then decides and names the problem. So this path only ever accepts a subset
 * of what the general path accepts, with the same result — the fuzz test checks exactly that.
 */
import { boolean, none } from '../../data/constructors.js';
import type { Data } from '../../data/types.js';
import type { JsonLimits } from './json-parse.js';
import { countFromText, entryKey, identity, integerFromText, realFromText, sortUnique } from './decode.js';
import type { JsonV1DataMessage } from './types.js';
import { parseAddressText, parsePort, parseSubnet, parseTimespan, parseTimestamp } from './scalars.js';

const T_NONE = 0;
const T_BOOLEAN = 1;
const T_COUNT = 2;
const T_INTEGER = 3;
const T_REAL = 4;
const T_STRING = 5;
const T_ADDRESS = 6;
const T_SUBNET = 7;
const T_PORT = 8;
const T_TIMESTAMP = 9;
const T_TIMESPAN = 10;
const T_ENUM = 11;
const T_SET = 12;
const T_TABLE = 13;
const T_VECTOR = 14;
/** Each tag after its first letter, with its closing quote, as character codes (by constant). */
const TAG_TAILS: readonly (readonly number[])[] = [
  'none"',
  'boolean"',
  'count"',
  'integer"',
  'real"',
  'string"',
  'address"',
  'subnet"',
  'port"',
  'timestamp"',
  'timespan"',
  'enum-value"',
  'set"',
  'table"',
  'vector"',
].map((t) => Array.from(t.slice(1), (c) => c.charCodeAt(0)));

/** Tag candidate by first letter (`s` and `t` are refined by later letters); -1 for none. */
const TAG_BY_FIRST: Int8Array = (() => {
  const out = new Int8Array(128).fill(-1);
  const first: readonly [string, number][] = [
    ['n', T_NONE],
    ['b', T_BOOLEAN],
    ['c', T_COUNT],
    ['i', T_INTEGER],
    ['r', T_REAL],
    ['s', T_STRING],
    ['a', T_ADDRESS],
    ['p', T_PORT],
    ['t', T_TIMESTAMP],
    ['e', T_ENUM],
    ['v', T_VECTOR],
  ];
  for (const [c, t] of first) out[c.charCodeAt(0)] = t;
  return out;
})();

// Literal comparisons, unrolled: several times faster than `startsWith` on V8 for short tokens.

/** `"@data-type":"` at `p`. */
function isTagKey(t: string, p: number): boolean {
  return (
    t.charCodeAt(p) === 0x22 &&
    t.charCodeAt(p + 1) === 0x40 &&
    t.charCodeAt(p + 2) === 0x64 &&
    t.charCodeAt(p + 3) === 0x61 &&
    t.charCodeAt(p + 4) === 0x74 &&
    t.charCodeAt(p + 5) === 0x61 &&
    t.charCodeAt(p + 6) === 0x2d &&
    t.charCodeAt(p + 7) === 0x74 &&
    t.charCodeAt(p + 8) === 0x79 &&
    t.charCodeAt(p + 9) === 0x70 &&
    t.charCodeAt(p + 10) === 0x65 &&
    t.charCodeAt(p + 11) === 0x22 &&
    t.charCodeAt(p + 12) === 0x3a &&
    t.charCodeAt(p + 13) === 0x22
  );
}

/** `,"data":` at `p`. */
function isDataKey(t: string, p: number): boolean {
  return (
    t.charCodeAt(p) === 0x2c &&
    t.charCodeAt(p + 1) === 0x22 &&
    t.charCodeAt(p + 2) === 0x64 &&
    t.charCodeAt(p + 3) === 0x61 &&
    t.charCodeAt(p + 4) === 0x74 &&
    t.charCodeAt(p + 5) === 0x61 &&
    t.charCodeAt(p + 6) === 0x22 &&
    t.charCodeAt(p + 7) === 0x3a
  );
}

/** Thrown (never escapes) to give up on the fast path. */
const GIVE_UP: unique symbol = Symbol('give up');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

class FastDecoder {
  pos = 0;
  /** Broker containers around the current value. */
  private containers = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
    private readonly maxString: number,
    private readonly maxArray: number,
    private readonly maxContainers: number,
  ) {}

  /** Skips whitespace; returns the next character code (NaN at the end). */
  ws(): number {
    const text = this.text;
    let pos = this.pos;
    let c = text.charCodeAt(pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
    this.pos = pos;
    return c;
  }

  /** Skips whitespace and then `token` (which holds no whitespace), or gives up. */
  expect(token: string): void {
    this.ws();
    if (!this.text.startsWith(token, this.pos)) throw GIVE_UP;
    this.pos += token.length;
  }

  /** Skips whitespace and then the character `c`, or gives up. */
  expectChar(c: number): void {
    if (this.ws() !== c) throw GIVE_UP;
    this.pos++;
  }

  /**
   * Reads a type tag after its opening quote, without allocating: its `T_*` constant, with the
   * position after the closing quote; gives up on anything else.
   */
  tag(): number {
    const text = this.text;
    const pos = this.pos;
    const c0 = text.charCodeAt(pos);
    let t = c0 < 0x80 ? TAG_BY_FIRST[c0]! : -1;
    if (t === T_STRING) {
      const c1 = text.charCodeAt(pos + 1);
      t = c1 === 0x74 ? T_STRING : c1 === 0x75 ? T_SUBNET : T_SET; // st, su, se
    } else if (t === T_TIMESTAMP) {
      if (text.charCodeAt(pos + 1) === 0x61)
        t = T_TABLE; // ta
      else if (text.charCodeAt(pos + 5) === 0x70) t = T_TIMESPAN; // times(p)an
    } else if (t < 0) throw GIVE_UP;
    const tail = TAG_TAILS[t]!;
    const n = tail.length;
    for (let j = 0; j < n; j++) if (text.charCodeAt(pos + 1 + j) !== tail[j]) throw GIVE_UP;
    this.pos = pos + 1 + n;
    return t;
  }

  /** A string without escapes or lone surrogates, after optional whitespace. */
  string(): string {
    if (this.ws() !== QUOTE) throw GIVE_UP;
    const text = this.text;
    const start = this.pos + 1;
    let pos = start;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) break;
      if (c === BACKSLASH || Number.isNaN(c)) throw GIVE_UP;
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = text.charCodeAt(pos + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) throw GIVE_UP;
        pos++;
      }
      pos++;
    }
    if (pos - start > this.maxString) throw GIVE_UP;
    this.pos = pos + 1;
    return text.slice(start, pos);
  }

  /** A JSON number token; `integer` says whether it must (true) or must not (false) be integral. */
  number(integer: boolean): string {
    const text = this.text;
    this.ws();
    const start = this.pos;
    let pos = start;
    let c = text.charCodeAt(pos);
    let isInteger = true;
    if (c === 0x2d) c = text.charCodeAt(++pos);
    if (c === 0x30) c = text.charCodeAt(++pos);
    else if (c >= 0x31 && c <= 0x39) {
      do c = text.charCodeAt(++pos);
      while (c >= 0x30 && c <= 0x39);
    } else throw GIVE_UP;
    if (c === 0x2e) {
      isInteger = false;
      c = text.charCodeAt(++pos);
      if (!(c >= 0x30 && c <= 0x39)) throw GIVE_UP;
      do c = text.charCodeAt(++pos);
      while (c >= 0x30 && c <= 0x39);
    }
    if (c === 0x65 || c === 0x45) {
      isInteger = false;
      c = text.charCodeAt(++pos);
      if (c === 0x2b || c === 0x2d) c = text.charCodeAt(++pos);
      if (!(c >= 0x30 && c <= 0x39)) throw GIVE_UP;
      do c = text.charCodeAt(++pos);
      while (c >= 0x30 && c <= 0x39);
    }
    if (isInteger !== integer) throw GIVE_UP;
    this.pos = pos;
    return text.slice(start, pos);
  }

  /** `[v, v, …]` of value objects; the array is at `depth`. */
  elements(depth: number): Data[] {
    if (depth > this.maxDepth || ++this.containers > this.maxContainers) throw GIVE_UP;
    this.expectChar(0x5b);
    const out: Data[] = [];
    if (this.ws() === 0x5d) {
      this.pos++;
      this.containers--;
      return out;
    }
    for (;;) {
      if (out.length >= this.maxArray) throw GIVE_UP;
      out.push(this.value(depth + 1));
      const c = this.ws();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x5d) {
        this.containers--;
        return out;
      }
      throw GIVE_UP;
    }
  }

  entries(depth: number): (readonly [Data, Data])[] {
    if (depth + 2 > this.maxDepth || ++this.containers > this.maxContainers) throw GIVE_UP;
    this.expectChar(0x5b);
    const out: (readonly [Data, Data])[] = [];
    if (this.ws() === 0x5d) {
      this.pos++;
      this.containers--;
      return out;
    }
    for (;;) {
      if (out.length >= this.maxArray) throw GIVE_UP;
      this.expectChar(0x7b);
      this.expect('"key"');
      this.expectChar(0x3a);
      const key = this.value(depth + 2);
      this.expectChar(0x2c);
      this.expect('"value"');
      this.expectChar(0x3a);
      const value = this.value(depth + 2);
      this.expectChar(0x7d);
      out.push([key, value]);
      const c = this.ws();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x5d) {
        this.containers--;
        return out;
      }
      throw GIVE_UP;
    }
  }

  /** `{"@data-type":…,"data":…}`; the object is at `depth`. */
  value(depth: number): Data {
    if (depth > this.maxDepth) throw GIVE_UP;
    this.expectChar(0x7b);
    const v = this.fields(depth);
    this.expectChar(0x7d);
    return v;
  }

  /** `"@data-type":…,"data":…` of an object at `depth`. */
  fields(depth: number): Data {
    const text = this.text;
    if (isTagKey(text, this.pos)) this.pos += 14;
    else {
      this.expect('"@data-type"');
      this.expectChar(0x3a);
      this.expectChar(QUOTE);
    }
    const tag = this.tag();
    if (isDataKey(text, this.pos)) this.pos += 8;
    else {
      this.expectChar(0x2c);
      this.expect('"data"');
      this.expectChar(0x3a);
    }
    switch (tag) {
      case T_NONE:
        if (depth + 1 > this.maxDepth) throw GIVE_UP;
        this.expectChar(0x7b);
        this.expectChar(0x7d);
        return none();
      case T_BOOLEAN: {
        this.ws();
        if (text.startsWith('true', this.pos)) {
          this.pos += 4;
          return boolean(true);
        }
        if (text.startsWith('false', this.pos)) {
          this.pos += 5;
          return boolean(false);
        }
        throw GIVE_UP;
      }
      case T_COUNT:
        return countFromText(this.number(true));
      case T_INTEGER:
        return integerFromText(this.number(true));
      case T_REAL:
        return realFromText(this.number(false));
      case T_STRING:
        return { type: 'string', value: this.string() };
      case T_ENUM:
        return { type: 'enum-value', name: this.string() };
      case T_ADDRESS:
        return { type: 'address', bytes: parseAddressText(this.string()) };
      case T_SUBNET:
        return parseSubnet(this.string());
      case T_PORT:
        return parsePort(this.string());
      case T_TIMESTAMP:
        return { type: 'timestamp', ns: parseTimestamp(this.string()) };
      case T_TIMESPAN:
        return { type: 'timespan', ns: parseTimespan(this.string()) };
      case T_VECTOR:
        return { type: 'vector', elements: this.elements(depth + 1) };
      case T_SET:
        return { type: 'set', elements: sortUnique(this.elements(depth + 1), identity, 'set element', '') };
      default: // T_TABLE
        return { type: 'table', entries: sortUnique(this.entries(depth + 1), entryKey, 'table key', '.key') };
    }
  }

  message(): JsonV1DataMessage {
    if (this.maxDepth < 1) throw GIVE_UP;
    this.expectChar(0x7b);
    this.ws();
    if (this.text.startsWith('"type"', this.pos)) {
      this.pos += 6;
      this.expectChar(0x3a);
      if (this.string() !== 'data-message') throw GIVE_UP;
      this.expectChar(0x2c);
    }
    this.expect('"topic"');
    this.expectChar(0x3a);
    const topic = this.string();
    if (topic.length === 0) throw GIVE_UP;
    this.expectChar(0x2c);
    this.ws();
    const data = this.fields(1);
    this.expectChar(0x7d);
    this.ws();
    if (this.pos < this.text.length) throw GIVE_UP;
    return { type: 'data-message', topic, data };
  }
}

/**
 * Decodes a data message in the usual shape, or returns undefined (never throws) so the caller
 * takes the general path. `limits` must already be resolved; the text length is checked by the
 * caller.
 */
export function decodeDataMessageFast(
  text: string,
  limits: Readonly<Required<JsonLimits>>,
): JsonV1DataMessage | undefined {
  // Keys are matched literally here, so limits that could reject them leave it to the general path.
  if (limits.maxObjectKeys < 4 || limits.maxStringLength < 12) return undefined;
  try {
    return new FastDecoder(
      text,
      limits.maxDepth,
      limits.maxStringLength,
      limits.maxArrayLength,
      limits.maxDataDepth,
    ).message();
  } catch {
    return undefined;
  }
}
