/**
 * Broker JSON v1 value decoding: a parsed JSON tree (see `json-parse.ts`) to Broker data.
 *
 * Stricter than Broker where Broker is sloppy, tolerant where real clients and servers differ:
 * `count` is a non-negative integer ≤ 2^64−1 and `integer` fits int64 (both written without `.`
 * or exponent); a `real` must have a `.` or an exponent; timestamps, timespans, ports, addresses
 * and subnets follow `scalars.ts`; set elements and table keys are sorted into Broker's
 * order and a duplicate is an error; an unknown `@data-type` is an error. Every failure is a
 * `DecodeError` whose message starts with the JSON path, e.g. `data[2].data: count …`.
 */
import { boolean, none } from '../../data/constructors.js';
import { compare } from '../../data/order.js';
import { MAX_COUNT, MAX_INTEGER, MIN_INTEGER, type Data } from '../../data/types.js';
import { DecodeError } from '../../errors.js';
import { JsonNumber, JsonObject, type JsonNode } from './json-node.js';
import {
  JsonPathError,
  hasLoneSurrogate,
  parseAddressText,
  parsePort,
  parseSubnet,
  parseTimespan,
  parseTimestamp,
  show,
} from './scalars.js';

/** Describes a JSON node for an error message. */
export function describeNode(node: JsonNode | undefined): string {
  if (node === undefined) return 'nothing';
  if (node === null) return 'null';
  if (typeof node === 'boolean') return `${node}`;
  if (typeof node === 'string') return `string ${show(node)}`;
  if (node instanceof JsonNumber) return `number ${node.text.length > 40 ? `${node.text.slice(0, 40)}…` : node.text}`;
  if (node instanceof JsonObject) return 'an object';
  return 'an array';
}

/** Throws a path error located at `segment` below the current node. */
function failAt(segment: string, what: string): never {
  const e = new JsonPathError(what);
  e.segments.push(segment);
  throw e;
}

function fail(what: string): never {
  throw new JsonPathError(what);
}

/** Converts an internal path error into the public `DecodeError`; other errors pass through. */
function toDecodeError(e: unknown): unknown {
  if (e instanceof JsonPathError) return new DecodeError(`${e.path()}: ${e.message}`);
  // Nesting allowed by a very large maxDepth can still exhaust the call stack.
  if (e instanceof RangeError) return new DecodeError(`(root): value too deeply nested (${e.message})`, { cause: e });
  return e;
}

function bigintOf(text: string): bigint {
  // Up to 15 digits a double holds the value exactly, and this is faster than BigInt(text).
  return text.length <= 15 ? BigInt(Number(text)) : BigInt(text);
}

/** A count from the text of a JSON number written without `.` or exponent. */
export function countFromText(t: string): Data {
  if (t.charCodeAt(0) === 0x2d && t !== '-0') fail(`count must be non-negative, got ${t.slice(0, 40)}`);
  if (t.length > 20) fail(`count ${t.slice(0, 40)}… exceeds 2^64-1`);
  const value = bigintOf(t);
  if (value > MAX_COUNT) fail(`count ${t} exceeds 2^64-1`);
  return { type: 'count', value };
}

/** An integer from the text of a JSON number written without `.` or exponent. */
export function integerFromText(t: string): Data {
  const value = t.length > 20 ? undefined : bigintOf(t);
  if (value === undefined || value < MIN_INTEGER || value > MAX_INTEGER) {
    fail(`integer ${t.slice(0, 40)} is outside -2^63..2^63-1`);
  }
  return { type: 'integer', value };
}

/** The non-finite reals Broker's server writes as bare words (accepted only from a server). */
const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ['nan', NaN],
  ['-nan', NaN],
  ['inf', Infinity],
  ['-inf', -Infinity],
]);

/** A real from the text of a JSON number written with `.` or an exponent (or `nan`, `inf`, `-inf`). */
export function realFromText(t: string): Data {
  const special = t.length <= 4 ? NON_FINITE.get(t) : undefined;
  if (special !== undefined) return { type: 'real', value: special };
  const value = Number(t);
  if (value === Infinity || value === -Infinity) fail(`real ${t.slice(0, 40)} is outside the double range`);
  return { type: 'real', value };
}

function decodeCount(d: JsonNode | undefined): Data {
  if (!(d instanceof JsonNumber) || !d.isInteger) {
    fail(`count must be a non-negative integer without '.' or exponent, got ${describeNode(d)}`);
  }
  return countFromText(d.text);
}

function decodeInteger(d: JsonNode | undefined): Data {
  if (!(d instanceof JsonNumber) || !d.isInteger) {
    fail(`integer must be an integer without '.' or exponent, got ${describeNode(d)}`);
  }
  return integerFromText(d.text);
}

function decodeReal(d: JsonNode | undefined): Data {
  if (!(d instanceof JsonNumber)) fail(`real must be a number, got ${describeNode(d)}`);
  if (d.isInteger)
    fail(`real must be written with '.' or an exponent (e.g. ${d.text.slice(0, 40)}.0), got ${d.text.slice(0, 40)}`);
  return realFromText(d.text);
}

function stringData(tag: string, d: JsonNode | undefined): string {
  if (typeof d !== 'string') fail(`${tag} must be a string, got ${describeNode(d)}`);
  return d;
}

/** String and enum texts must be valid Unicode, as the data model requires (exact UTF-8 form). */
function unicodeText(tag: string, d: JsonNode | undefined): string {
  const s = stringData(tag, d);
  if (hasLoneSurrogate(s)) fail(`${tag} holds a lone UTF-16 surrogate (not valid Unicode)`);
  return s;
}

/** Containers around the value being decoded, and their limit (set by `decodeJsonData`). */
let containers = 0;
let maxContainers = 64;

function enterContainer(): void {
  if (++containers > maxContainers) fail(`containers nested deeper than maxDataDepth ${maxContainers}`);
}

function decodeElements(d: JsonNode | undefined, tag: string): Data[] {
  if (!Array.isArray(d)) fail(`${tag} must be an array, got ${describeNode(d as JsonNode | undefined)}`);
  const nodes = d as readonly JsonNode[];
  const out: Data[] = [];
  let i = 0;
  enterContainer();
  try {
    for (; i < nodes.length; i++) out.push(decodeValue(nodes[i]!));
  } catch (e) {
    if (e instanceof JsonPathError) e.segments.push(`[${i}]`);
    throw e;
  }
  containers--;
  return out;
}

/** Sorts into Broker's order (stable), failing on the first duplicate (by original index). */
export function sortUnique<T>(items: T[], keyOf: (x: T) => Data, what: string, suffix: string): T[] {
  let sorted = true;
  for (let i = 1; i < items.length; i++) {
    if (compare(keyOf(items[i - 1]!), keyOf(items[i]!)) >= 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return items;
  const order = items.map((_, i) => i);
  order.sort((a, b) => compare(keyOf(items[a]!), keyOf(items[b]!)) || a - b);
  for (let k = 1; k < order.length; k++) {
    const first = order[k - 1]!;
    const dup = order[k]!;
    if (compare(keyOf(items[first]!), keyOf(items[dup]!)) === 0) {
      failAt(`[${dup}]${suffix}`, `duplicate ${what}, equal to [${first}]${suffix}`);
    }
  }
  return order.map((i) => items[i]!);
}

export const identity = (x: Data): Data => x;
export const entryKey = (e: readonly [Data, Data]): Data => e[0];

function decodeEntries(d: JsonNode | undefined): (readonly [Data, Data])[] {
  if (!Array.isArray(d))
    fail(`table must be an array of {"key", "value"} objects, got ${describeNode(d as JsonNode | undefined)}`);
  const nodes = d as readonly JsonNode[];
  const out: (readonly [Data, Data])[] = [];
  let i = 0;
  enterContainer();
  try {
    for (; i < nodes.length; i++) {
      const entry = nodes[i];
      if (!(entry instanceof JsonObject))
        fail(`table entry must be an object with "key" and "value", got ${describeNode(entry)}`);
      const keyNode = entry.get('key');
      const valueNode = entry.get('value');
      if (keyNode === undefined) failAt('.key', 'missing');
      if (valueNode === undefined) failAt('.value', 'missing');
      let key: Data;
      try {
        key = decodeValue(keyNode);
      } catch (e) {
        if (e instanceof JsonPathError) e.segments.push('.key');
        throw e;
      }
      let value: Data;
      try {
        value = decodeValue(valueNode);
      } catch (e) {
        if (e instanceof JsonPathError) e.segments.push('.value');
        throw e;
      }
      out.push([key, value]);
    }
  } catch (e) {
    if (e instanceof JsonPathError) e.segments.push(`[${i}]`);
    throw e;
  }
  containers--;
  return sortUnique(out, entryKey, 'table key', '.key');
}

function decodeNone(d: JsonNode | undefined): Data {
  // Broker ignores `data` for none; accept its `{}`, and null or nothing, but not other values.
  if (d === undefined || d === null || (d instanceof JsonObject && d.size === 0)) return none();
  return fail(`none must have {} as data, got ${describeNode(d)}`);
}

/** Decodes one `{"@data-type": …, "data": …}` object (extra keys are ignored). */
function decodeValue(node: JsonNode): Data {
  if (!(node instanceof JsonObject)) fail(`expected an object with "@data-type" and "data", got ${describeNode(node)}`);
  const tag = node.get('@data-type');
  if (typeof tag !== 'string')
    failAt('.@data-type', tag === undefined ? 'missing' : `expected a string, got ${describeNode(tag)}`);
  const d = node.get('data');
  try {
    switch (tag) {
      case 'none':
        return decodeNone(d);
      case 'boolean':
        if (typeof d !== 'boolean') fail(`boolean must be true or false, got ${describeNode(d)}`);
        return boolean(d);
      case 'count':
        return decodeCount(d);
      case 'integer':
        return decodeInteger(d);
      case 'real':
        return decodeReal(d);
      case 'string':
        return { type: 'string', value: unicodeText(tag, d) };
      case 'address':
        return { type: 'address', bytes: parseAddressText(stringData(tag, d)) };
      case 'subnet':
        return parseSubnet(stringData(tag, d));
      case 'port':
        return parsePort(stringData(tag, d));
      case 'timestamp':
        return { type: 'timestamp', ns: parseTimestamp(stringData(tag, d)) };
      case 'timespan':
        return { type: 'timespan', ns: parseTimespan(stringData(tag, d)) };
      case 'enum-value':
        return { type: 'enum-value', name: unicodeText(tag, d) };
      case 'vector':
        return { type: 'vector', elements: decodeElements(d, tag) };
      case 'set':
        return { type: 'set', elements: sortUnique(decodeElements(d, tag), identity, 'set element', '') };
      case 'table':
        return { type: 'table', entries: decodeEntries(d) };
    }
  } catch (e) {
    if (e instanceof JsonPathError) e.segments.push('.data');
    throw e;
  }
  return failAt('.@data-type', `unknown type ${show(tag)}`);
}

/**
 * Decodes a Broker JSON v1 value from its parsed tree (`parseJson`). The root must be an object
 * with `@data-type` and `data`; other keys (a message's `type` and `topic`) are ignored.
 * Throws `DecodeError` naming the JSON path and the problem.
 */
export function decodeJsonData(node: JsonNode, maxDataDepth = 64): Data {
  containers = 0;
  maxContainers = maxDataDepth;
  try {
    return decodeValue(node);
  } catch (e) {
    throw toDecodeError(e);
  } finally {
    containers = 0;
  }
}
