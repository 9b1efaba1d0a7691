/**
 * A tolerant, hardened JSON text parser for Broker JSON v1.
 *
 * Why not `JSON.parse`: it turns every number into a double, so `18446744073709551615` loses its
 * low bits and `1` cannot be told from `1.0` (Broker rejects a `real` sent without `.` or
 * exponent). Here every number keeps its exact source text ({@link JsonNumber}).
 *
 * Tolerance (what Broker and older servers send that strict JSON forbids): the `\v` escape and raw
 * control characters inside strings. Whitespace between tokens (older servers' `": "` and `", "`)
 * is ordinary JSON. With `allowNonFiniteReals` (set only for text from a JSON v1 *server*), also
 * the bare words `nan`, `-nan`, `inf` and `-inf` Broker's server prints for non-finite reals; they
 * become numbers whose text is that word. Everything else that is not JSON is rejected: no
 * comments, no trailing commas, no `NaN`, no leading `+` or `.`, no single quotes, no byte-order
 * mark.
 *
 * Hardening: limits on text length, nesting depth, string length, array length and object keys;
 * the keys `__proto__`, `constructor` and `prototype` and duplicate keys are rejected, and objects
 * are {@link JsonObject}s (keys and values in one array), never plain objects, so prototype
 * pollution is impossible by construction. Every failure is a `DecodeError` naming what and the
 * offset.
 */
import { DecodeError } from '../../errors.js';
import { JsonNumber, JsonObject, type JsonNode } from './json-node.js';

/** Limits enforced by {@link parseJson}. Lengths count UTF-16 code units. */
export interface JsonLimits {
  /** Longest accepted text. @default 16_777_216 (16 MiB) */
  readonly maxTextLength?: number;
  /**
   * Deepest nesting of arrays and objects (the top-level container is depth 1). The default
   * carries Broker data nested 64 containers deep (a table level takes three JSON levels).
   * @default 200
   */
  readonly maxDepth?: number;
  /** Longest string (after unescaping), keys included. @default 4_194_304 (4 MiB) */
  readonly maxStringLength?: number;
  /** Most elements in one array. @default 1_048_576 */
  readonly maxArrayLength?: number;
  /** Most keys in one object. @default 256 */
  readonly maxObjectKeys?: number;
  /**
   * Accept the bare words `nan`, `-nan`, `inf`, `-inf` as numbers (what Broker's server writes for
   * non-finite reals; not JSON). Only for text received from a JSON v1 server.
   * @default false
   */
  readonly allowNonFiniteReals?: boolean;
  /**
   * Deepest nesting of Broker containers (vectors, sets, tables) in a decoded value, as in the
   * native codec, so that whatever a JSON v1 link accepts can travel on every native link.
   * Checked when decoding data (`decodeJsonMessage`, `decodeJsonData`), not by `parseJson`.
   * @default 64
   */
  readonly maxDataDepth?: number;
}

/** Deepest JSON nesting that Broker data nested `containers` deep needs (tables: 3 levels each). */
export function jsonDepthForData(containers: number): number {
  return 3 * containers + 2;
}

/** The default {@link JsonLimits}. */
export const DEFAULT_JSON_LIMITS: Readonly<Required<JsonLimits>> = Object.freeze({
  maxTextLength: 16 * 1024 * 1024,
  maxDepth: 200,
  maxStringLength: 4 * 1024 * 1024,
  maxArrayLength: 1024 * 1024,
  maxObjectKeys: 256,
  allowNonFiniteReals: false,
  maxDataDepth: 64,
});

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// Character codes.
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

function describeChar(c: number): string {
  if (c >= 0x20 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function keySet(kv: readonly (string | JsonNode)[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < kv.length; i += 2) out.add(kv[i] as string);
  return out;
}

class Parser {
  pos = 0;
  private readonly text: string;
  private readonly end: number;
  private readonly maxDepth: number;
  private readonly maxString: number;
  private readonly maxArray: number;
  private readonly maxKeys: number;
  private readonly nonFinite: boolean;

  constructor(text: string, limits: Readonly<Required<JsonLimits>>) {
    this.text = text;
    this.end = text.length;
    this.maxDepth = limits.maxDepth;
    this.maxString = limits.maxStringLength;
    this.maxArray = limits.maxArrayLength;
    this.maxKeys = limits.maxObjectKeys;
    this.nonFinite = limits.allowNonFiniteReals;
  }

  fail(what: string, at: number = this.pos): never {
    throw new DecodeError(`invalid JSON: ${what} at offset ${at}`);
  }

  unexpected(expected: string): never {
    if (this.pos >= this.end) this.fail(`unexpected end of input, expected ${expected}`);
    this.fail(`unexpected character ${describeChar(this.text.charCodeAt(this.pos))}, expected ${expected}`);
  }

  /** Skips whitespace and returns the next character code (NaN at the end). */
  peek(): number {
    const text = this.text;
    let pos = this.pos;
    let c = text.charCodeAt(pos);
    while (c === SPACE || c === LF || c === CR || c === TAB) c = text.charCodeAt(++pos);
    this.pos = pos;
    return c;
  }

  parseDocument(): JsonNode {
    const value = this.parseValue(0);
    this.peek();
    if (this.pos < this.end) this.unexpected('end of input');
    return value;
  }

  parseValue(depth: number): JsonNode {
    const c = this.peek();
    switch (c) {
      case QUOTE:
        return this.parseString();
      case LBRACE:
        return this.parseObject(depth + 1);
      case LBRACKET:
        return this.parseArray(depth + 1);
      case 0x74: // t
        return this.parseLiteral('true', true);
      case 0x66: // f
        return this.parseLiteral('false', false);
      case 0x6e: // n
        if (this.nonFinite && this.text.startsWith('nan', this.pos)) return this.parseNonFinite('nan');
        return this.parseLiteral('null', null);
      case 0x69: // i
        if (this.nonFinite) return this.parseNonFinite('inf');
        return this.unexpected('a JSON value');
      default:
        if (this.nonFinite && c === MINUS) {
          const d = this.text.charCodeAt(this.pos + 1);
          if (d === 0x69) return this.parseNonFinite('-inf');
          if (d === 0x6e) return this.parseNonFinite('-nan');
        }
        if (c === MINUS || (c >= ZERO && c <= NINE)) return this.parseNumber();
        return this.unexpected('a JSON value');
    }
  }

  parseLiteral<T extends boolean | null>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal, expected '${word}'`);
    this.pos += word.length;
    return value;
  }

  /** `nan`, `-nan`, `inf` or `-inf` (Broker's server's non-finite reals), not followed by a letter. */
  parseNonFinite(word: string): JsonNumber {
    const after = this.text.charCodeAt(this.pos + word.length) | 0x20;
    if (!this.text.startsWith(word, this.pos) || (after >= 0x61 && after <= 0x7a)) {
      this.fail(`invalid literal, expected '${word}'`);
    }
    this.pos += word.length;
    return new JsonNumber(word, false);
  }

  parseNumber(): JsonNumber {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    let c = text.charCodeAt(pos);
    let isInteger = true;
    if (c === MINUS) c = text.charCodeAt(++pos);
    if (c === ZERO) {
      c = text.charCodeAt(++pos);
    } else if (c >= ZERO + 1 && c <= NINE) {
      do c = text.charCodeAt(++pos);
      while (c >= ZERO && c <= NINE);
    } else {
      this.pos = pos;
      this.unexpected('a digit');
    }
    if (c === DOT) {
      isInteger = false;
      c = text.charCodeAt(++pos);
      if (!(c >= ZERO && c <= NINE)) {
        this.pos = pos;
        this.unexpected('a digit after the decimal point');
      }
      do c = text.charCodeAt(++pos);
      while (c >= ZERO && c <= NINE);
    }
    if (c === 0x65 || c === 0x45) {
      isInteger = false;
      c = text.charCodeAt(++pos);
      if (c === PLUS || c === MINUS) c = text.charCodeAt(++pos);
      if (!(c >= ZERO && c <= NINE)) {
        this.pos = pos;
        this.unexpected('a digit in the exponent');
      }
      do c = text.charCodeAt(++pos);
      while (c >= ZERO && c <= NINE);
    }
    this.pos = pos;
    return new JsonNumber(text.slice(start, pos), isInteger);
  }

  parseString(): string {
    const text = this.text;
    const start = this.pos + 1;
    let pos = start;
    // Fast path: no escapes.
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) {
        if (pos - start > this.maxString) this.stringTooLong(start - 1);
        this.pos = pos + 1;
        return text.slice(start, pos);
      }
      if (c === BACKSLASH) break;
      if (Number.isNaN(c)) this.fail('unterminated string', start - 1); // NaN: end of input
      pos++;
    }
    // Slow path: build the string from unescaped chunks.
    let out = text.slice(start, pos);
    let chunk = pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) {
        out += text.slice(chunk, pos);
        if (out.length > this.maxString) this.stringTooLong(start - 1);
        this.pos = pos + 1;
        return out;
      }
      if (c !== BACKSLASH) {
        if (Number.isNaN(c)) this.fail('unterminated string', start - 1);
        pos++;
        continue;
      }
      out += text.slice(chunk, pos);
      const e = text.charCodeAt(pos + 1);
      switch (e) {
        case QUOTE:
          out += '"';
          break;
        case BACKSLASH:
          out += '\\';
          break;
        case 0x2f: // /
          out += '/';
          break;
        case 0x62: // b
          out += '\b';
          break;
        case 0x66: // f
          out += '\f';
          break;
        case 0x6e: // n
          out += '\n';
          break;
        case 0x72: // r
          out += '\r';
          break;
        case 0x74: // t
          out += '\t';
          break;
        case 0x76: // v — Broker's encoder emits it, CAF reads it; not JSON.
          out += '\v';
          break;
        case 0x75: {
          // u
          const h0 = hexValue(text.charCodeAt(pos + 2));
          const h1 = hexValue(text.charCodeAt(pos + 3));
          const h2 = hexValue(text.charCodeAt(pos + 4));
          const h3 = hexValue(text.charCodeAt(pos + 5));
          if ((h0 | h1 | h2 | h3) < 0) this.fail('invalid \\u escape, expected four hex digits', pos);
          out += String.fromCharCode((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
          pos += 4;
          break;
        }
        default:
          if (Number.isNaN(e)) this.fail('unterminated string', start - 1);
          this.fail(`invalid escape '\\${String.fromCharCode(e)}'`, pos);
      }
      pos += 2;
      chunk = pos;
      if (out.length > this.maxString) this.stringTooLong(start - 1);
    }
  }

  stringTooLong(at: number): never {
    this.fail(`string longer than maxStringLength ${this.maxString}`, at);
  }

  enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nesting deeper than maxDepth ${this.maxDepth}`);
  }

  parseArray(depth: number): JsonNode[] {
    this.enter(depth);
    this.pos++;
    const out: JsonNode[] = [];
    if (this.peek() === RBRACKET) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (out.length >= this.maxArray) this.fail(`array longer than maxArrayLength ${this.maxArray}`);
      out.push(this.parseValue(depth));
      const c = this.peek();
      if (c === COMMA) {
        this.pos++;
        continue;
      }
      if (c === RBRACKET) {
        this.pos++;
        return out;
      }
      this.unexpected("',' or ']'");
    }
  }

  parseObject(depth: number): JsonObject {
    this.enter(depth);
    this.pos++;
    let c = this.peek();
    if (c === RBRACE) {
      this.pos++;
      return new JsonObject([]);
    }
    let kv: (string | JsonNode)[] | undefined;
    let seen: Set<string> | undefined;
    const text = this.text;
    for (;;) {
      if (c !== QUOTE) this.unexpected('a string key');
      const at = this.pos;
      let key: string;
      // Broker's two keys skip the general string scanner (and are never forbidden).
      const k1 = text.charCodeAt(at + 1);
      if (k1 === 0x40 && this.maxString >= 10 && text.startsWith('@data-type"', at + 1)) {
        key = '@data-type';
        this.pos = at + 12;
      } else if (k1 === 0x64 && text.startsWith('data"', at + 1)) {
        key = 'data';
        this.pos = at + 6;
      } else {
        key = this.parseString();
        if ((key.length === 9 || key.length === 11) && FORBIDDEN_KEYS.has(key)) {
          this.fail(`forbidden object key '${key}'`, at);
        }
      }
      const n = kv === undefined ? 0 : kv.length >> 1;
      if (n >= this.maxKeys) this.fail(`object with more than maxObjectKeys ${this.maxKeys} keys`, at);
      if (kv !== undefined) {
        if (n < 8) {
          for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) this.duplicate(key, at);
        } else {
          seen ??= keySet(kv);
          if (seen.has(key)) this.duplicate(key, at);
          seen.add(key);
        }
      }
      if (this.peek() !== COLON) this.unexpected("':'");
      this.pos++;
      // Most objects have two keys: an exact-size literal first, growth only beyond.
      if (kv === undefined) kv = [key, this.parseValue(depth)];
      else kv.push(key, this.parseValue(depth));
      c = this.peek();
      if (c === COMMA) {
        this.pos++;
        c = this.peek();
        continue;
      }
      if (c === RBRACE) {
        this.pos++;
        return new JsonObject(kv);
      }
      this.unexpected("',' or '}'");
    }
  }

  duplicate(key: string, at: number): never {
    this.fail(`duplicate object key '${key.length > 64 ? `${key.slice(0, 64)}…` : key}'`, at);
  }
}

/** Resolves partial limits against {@link DEFAULT_JSON_LIMITS}. */
export function resolveJsonLimits(limits?: JsonLimits): Readonly<Required<JsonLimits>> {
  if (limits === undefined) return DEFAULT_JSON_LIMITS;
  return {
    maxTextLength: limits.maxTextLength ?? DEFAULT_JSON_LIMITS.maxTextLength,
    maxDepth: limits.maxDepth ?? DEFAULT_JSON_LIMITS.maxDepth,
    maxStringLength: limits.maxStringLength ?? DEFAULT_JSON_LIMITS.maxStringLength,
    maxArrayLength: limits.maxArrayLength ?? DEFAULT_JSON_LIMITS.maxArrayLength,
    maxObjectKeys: limits.maxObjectKeys ?? DEFAULT_JSON_LIMITS.maxObjectKeys,
    allowNonFiniteReals: limits.allowNonFiniteReals ?? DEFAULT_JSON_LIMITS.allowNonFiniteReals,
    maxDataDepth: limits.maxDataDepth ?? DEFAULT_JSON_LIMITS.maxDataDepth,
  };
}

/**
 * Parses JSON text into a {@link JsonNode} tree, keeping numbers exact. Throws `DecodeError`
 * (code `deserialization_failed`) naming the problem and its offset.
 */
export function parseJson(text: string, limits?: JsonLimits): JsonNode {
  if (typeof text !== 'string') throw new DecodeError(`invalid JSON: expected text, got ${typeof text}`);
  const resolved = resolveJsonLimits(limits);
  if (text.length > resolved.maxTextLength) {
    throw new DecodeError(
      `invalid JSON: text of ${text.length} characters exceeds maxTextLength ${resolved.maxTextLength}`,
    );
  }
  const parser = new Parser(text, resolved);
  try {
    return parser.parseDocument();
  } catch (e) {
    // A maxDepth set beyond what the call stack holds must still fail cleanly.
    if (e instanceof RangeError) {
      throw new DecodeError(`invalid JSON: ${e.message} at offset ${parser.pos}`, { cause: e });
    }
    throw e;
  }
}
