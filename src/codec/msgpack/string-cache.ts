/**
 * A small cache of decoded short strings, keyed by their bytes: a stream of messages repeats the
 * same few topics, and decoding one again costs a new string per message — built, then hashed
 * again by every map that looks it up. A hit compares the bytes with the cached copy and returns
 * the very string decoded the first time (whose hash V8 has already computed); a miss decodes and
 * takes the slot. The answer is always the decoding of exactly the bytes given: a slot is used
 * only when all its bytes are equal.
 */
import { decodeUtf8 } from './utf8.js';

/** Strings longer than this many bytes are decoded every time. */
export const STRING_CACHE_MAX_BYTES = 64;
/** Number of slots (a power of two); each holds one string. */
const SLOTS = 64;

/** Decodes short UTF-8 strings through a direct-mapped cache of `SLOTS` slots. */
export class StringCache {
  /** The bytes of slot i at `i * STRING_CACHE_MAX_BYTES`. */
  private readonly bytes = new Uint8Array(SLOTS * STRING_CACHE_MAX_BYTES);
  /** Byte length of each slot's string; −1 while empty. */
  private readonly lengths = new Int32Array(SLOTS).fill(-1);
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');

  /**
   * The string `b[start..start+len)` decodes to, or undefined when it is not valid UTF-8 (as
   * `decodeUtf8`); equal bytes give the same string object while they keep their slot.
   */
  decode(b: Uint8Array, start: number, len: number): string | undefined {
    if (len === 0) return '';
    if (len > STRING_CACHE_MAX_BYTES) return decodeUtf8(b, start, len);
    const last = start + len - 1;
    const slot = (len * 7 + b[start]! * 31 + b[last]! * 17 + b[start + (len >>> 1)]!) & (SLOTS - 1);
    const base = slot * STRING_CACHE_MAX_BYTES;
    const cached = this.bytes;
    if (this.lengths[slot] === len) {
      let i = 0;
      while (i < len && cached[base + i] === b[start + i]) i++;
      if (i === len) return this.strings[slot];
    }
    const s = decodeUtf8(b, start, len);
    if (s === undefined) return undefined;
    for (let i = 0; i < len; i++) cached[base + i] = b[start + i]!;
    this.lengths[slot] = len;
    this.strings[slot] = s;
    return s;
  }
}
