/**
 * How many bytes a Broker value takes in the native encoding (PROTOCOL.md §4), computed without
 * encoding it, and whether an entry of a store can travel at all: store messages ride ordinary
 * frames, so an entry must fit one frame of the receiving side's decoder limits (PROTOCOL.md §5)
 * together with the store message around it. The master and clones refuse at write time what
 * could never be sent, instead of poisoning every later sync.
 */
import type { Data } from '../data/types.js';
import { DEFAULT_NATIVE_LIMITS, type NativeLimits } from '../codec/native/limits.js';
import { preEncodedBytes } from '../codec/native/values.js';
import { isV4 } from '../data/address.js';
import { StoreError } from '../errors.js';
import { ChangeKind, type Change } from './store-protocol.js';

/**
 * Room left in a frame for everything around one entry: the frame and message headers, the topic,
 * origin and sequence number of the data message, and the store message's own fields.
 */
export const ENTRY_HEADROOM_BYTES = 64 * 1024;

/** The largest entry (key plus value, encoded) a store accepts by default: one frame less the headroom. */
export const DEFAULT_MAX_ENTRY_BYTES = DEFAULT_NATIVE_LIMITS.maxFrameBytes - ENTRY_HEADROOM_BYTES;

/**
 * Containers around a key or value inside a store message (the message vector, the change list,
 * the change): a value may nest this many levels less than the decoder's depth limit.
 */
const WRAPPING_DEPTH = 3;

/**
 * What a key or value must satisfy to be sent inside a store message, as decoder limits (to
 * validate an already-encoded value, e.g. one read back from SQLite): the receiving decoder's
 * string and array limits, its depth limit less the wrapping; the size is checked apart.
 */
export const SENDABLE_VALUE_LIMITS: NativeLimits = Object.freeze({
  maxFrameBytes: Number.MAX_SAFE_INTEGER,
  maxDepth: DEFAULT_NATIVE_LIMITS.maxDepth - WRAPPING_DEPTH,
  maxStringBytes: DEFAULT_NATIVE_LIMITS.maxStringBytes,
  maxArrayLength: DEFAULT_NATIVE_LIMITS.maxArrayLength,
});

const uintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9);
const arrayHeaderSize = (n: number): number => (n < 16 ? 1 : n < 0x10000 ? 3 : 5);
const strHeaderSize = (n: number): number => (n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

function extHeaderSize(len: number): number {
  if (len === 1 || len === 2 || len === 4 || len === 8 || len === 16) return 2;
  return len < 0x100 ? 3 : len < 0x10000 ? 4 : 6;
}

/**
 * Node's native UTF-8 length (`Buffer.byteLength`: a lone surrogate counts 3 bytes, as here);
 * absent in browsers.
 */
const nativeUtf8Length = (globalThis as { Buffer?: { byteLength(s: string, encoding: 'utf8'): number } }).Buffer
  ?.byteLength;
/** Strings at least this long are measured natively, or checked for ASCII by a regular expression first. */
const LONG_STRING_UNITS = 256;
const NON_ASCII = /[^\0-\x7f]/;

/** UTF-8 length of a JS string (a lone surrogate counts as U+FFFD, as the encoder writes it). */
export function utf8Length(s: string): number {
  if (s.length >= LONG_STRING_UNITS) {
    // A store of large values measures each one at write time and again when it is sent: a loop
    // over a MiB-long string would hold the event loop for milliseconds each time.
    if (nativeUtf8Length !== undefined) return nativeUtf8Length(s, 'utf8');
    if (!NON_ASCII.test(s)) return s.length;
  }
  return utf8LengthLoop(s);
}

function utf8LengthLoop(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Why a value cannot cross a link, beyond its size (a string, array or nesting over the decoder's limits). */
class Unsendable extends Error {}

function measure(v: Data, depth: number): number {
  switch (v.type) {
    case 'none':
    case 'boolean':
      return 1;
    case 'count':
      return v.value < 0x100000000n ? uintSize(Number(v.value)) : 9;
    case 'real':
      return 9;
    case 'integer':
    case 'timestamp':
    case 'timespan':
      return 10;
    case 'string': {
      const n = utf8Length(v.value);
      if (n > DEFAULT_NATIVE_LIMITS.maxStringBytes)
        throw new Unsendable(`a string of ${n} bytes (limit ${DEFAULT_NATIVE_LIMITS.maxStringBytes})`);
      return strHeaderSize(n) + n;
    }
    case 'enum-value': {
      const n = utf8Length(v.name);
      if (n > DEFAULT_NATIVE_LIMITS.maxStringBytes)
        throw new Unsendable(`an enum name of ${n} bytes (limit ${DEFAULT_NATIVE_LIMITS.maxStringBytes})`);
      return extHeaderSize(n) + n;
    }
    case 'address':
      return isV4(v.bytes) ? 6 : 18;
    case 'subnet':
      return isV4(v.bytes) ? 8 : 20;
    case 'port':
      return 6;
    case 'vector':
      return container(v.elements.length, 0, depth, () => v.elements.reduce((s, x) => s + measure(x, depth + 1), 0));
    case 'set':
      return container(v.elements.length + 1, 3, depth, () =>
        v.elements.reduce((s, x) => s + measure(x, depth + 1), 0),
      );
    case 'table':
      return container(v.entries.length * 2 + 1, 3, depth, () =>
        v.entries.reduce((s, [k, x]) => s + measure(k, depth + 1) + measure(x, depth + 1), 0),
      );
    default: {
      // A pre-encoded value (snapshot-stream.ts): its bytes were checked when it was made.
      const bytes = preEncodedBytes(v);
      if (bytes === undefined) throw new TypeError(`not a Broker value: ${String((v as { type?: unknown }).type)}`);
      return bytes.length;
    }
  }
}

function container(length: number, marker: number, depth: number, inner: () => number): number {
  if (depth + 1 > DEFAULT_NATIVE_LIMITS.maxDepth - WRAPPING_DEPTH) {
    throw new Unsendable(`containers nested more than ${DEFAULT_NATIVE_LIMITS.maxDepth - WRAPPING_DEPTH} deep`);
  }
  if (length > DEFAULT_NATIVE_LIMITS.maxArrayLength)
    throw new Unsendable(`an array of ${length} elements (limit ${DEFAULT_NATIVE_LIMITS.maxArrayLength})`);
  return arrayHeaderSize(length) + marker + inner();
}

/** The size of `v` in the native encoding, in bytes (exactly `encodeValue(v).length`). */
export function encodedSize(v: Data): number {
  try {
    return measure(v, 0);
  } catch (e) {
    if (!(e instanceof Unsendable)) throw e;
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * The encoded size of an entry (key plus value); throws a `StoreError` with code
 * `value_too_large` when it is over `limit` bytes or holds anything a receiving decoder refuses.
 */
export function checkEntrySize(store: string, key: Data, value: Data | undefined, limit: number): number {
  let n: number;
  try {
    n = measure(key, 0) + (value === undefined ? 0 : measure(value, 0));
  } catch (e) {
    if (!(e instanceof Unsendable)) throw e;
    throw new StoreError(
      'value_too_large',
      `value too large for store ${store}: it holds ${e.message}, which no peer accepts`,
    );
  }
  if (n > limit)
    throw new StoreError('value_too_large', `value too large for store ${store}: ${n} bytes, limit ${limit}`);
  return n;
}

/** Encoded size of a key and its value. */
export function entrySize(key: Data, value: Data): number {
  return encodedSize(key) + encodedSize(value);
}

const changeSizes = new WeakMap<object, number>();

/** Encoded size of a change's key and value (remembered per change object: a change is measured once). */
export function changeSize(c: Change): number {
  if (c.kind === ChangeKind.Clear) return 1;
  let n = changeSizes.get(c);
  if (n === undefined) {
    n = c.kind === ChangeKind.Put ? entrySize(c.key, c.value) : encodedSize(c.key);
    changeSizes.set(c, n);
  }
  return n;
}

/** Records the size of a change measured at write time, so broadcasts and deltas need not measure it again. */
export function rememberChangeSize(c: Change, n: number): void {
  changeSizes.set(c, n);
}
