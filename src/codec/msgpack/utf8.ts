/**
 * UTF-8 helpers for the MessagePack reader: a validating decoder with ASCII fast paths and an
 * allocation-free validity check. Invalid UTF-8 (overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences) is rejected, never replaced.
 *
 * Long strings are mostly ASCII (store values, log lines), and for them both the check and the
 * decoding have a fast path: ASCII is found four bytes at a time, and an all-ASCII run is made a
 * string by Node's latin1 slice (a copy, where `TextDecoder` takes ~10 ms per MiB). A frame's
 * strings are checked by the validator and again by the decoder, so both paths must be cheap.
 */

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Without Node's latin1 slice, ASCII strings up to this many bytes are built by hand (V8 keeps them flat). */
const JS_DECODE_MAX_BYTES = 12;
/** Runs at least this long are scanned for ASCII a word (4 bytes) at a time. */
const WORD_SCAN_MIN_BYTES = 64;
/** Buffers up to this size keep their word view for the next scan (a larger one is not kept alive). */
const WORD_VIEW_CACHE_MAX_BYTES = 1 << 20;

/**
 * Node's `Buffer.prototype.latin1Slice` (one char per byte: for ASCII, the string itself), which
 * works on any Uint8Array; absent in browsers, where `TextDecoder` decodes.
 */
const latin1Slice = (
  globalThis as {
    Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } };
  }
).Buffer?.prototype.latin1Slice;

/**
 * The buffer scanned last and a word view of all of it: the strings of one frame are scanned
 * through one view instead of a new one each (an allocation per string). `viewArray` is the
 * array last scanned and `viewOffset` its byte offset: the validator scans every string of a
 * frame in the same array, whose `buffer` and `byteOffset` (not free to read) are then known.
 */
let viewBuffer: ArrayBufferLike | undefined;
let viewWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let viewArray: Uint8Array | undefined;
let viewOffset = 0;

/** A Uint32Array over the whole of `buffer` that reaches byte `upTo` (exclusive). */
function wordView(buffer: ArrayBufferLike, upTo: number): Uint32Array<ArrayBufferLike> {
  if (buffer === viewBuffer && viewWords.length * 4 >= upTo) return viewWords;
  const words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= WORD_VIEW_CACHE_MAX_BYTES) {
    viewBuffer = buffer;
    viewWords = words;
  }
  return words;
}

/** The offset of the first byte ≥ 0x80 in `b[p..end)`, or `end` when all are ASCII. */
export function asciiEnd(b: Uint8Array, p: number, end: number): number {
  if (end - p >= WORD_SCAN_MIN_BYTES) {
    let off: number;
    let u: Uint32Array<ArrayBufferLike>;
    if (b === viewArray && viewWords.length * 4 >= viewOffset + end) {
      off = viewOffset;
      u = viewWords;
    } else {
      off = b.byteOffset;
      u = wordView(b.buffer, off + end);
      if (u === viewWords) {
        viewArray = b;
        viewOffset = off;
      }
    }
    while (((off + p) & 3) !== 0) {
      if (b[p]! >= 0x80) return p;
      p++;
    }
    // Whole words from here to the last one inside `end`, indexed in the buffer's word view.
    let w = (off + p) >>> 2;
    const wEnd = (off + end) >>> 2;
    for (; w + 4 <= wEnd; w += 4) if (((u[w]! | u[w + 1]! | u[w + 2]! | u[w + 3]!) & 0x80808080) !== 0) break;
    for (; w < wEnd; w++) if ((u[w]! & 0x80808080) !== 0) break;
    p = w * 4 - off;
  }
  while (p < end && b[p]! < 0x80) p++;
  return p;
}

/**
 * Decodes `len` bytes at `start` as UTF-8, or returns undefined when they are not valid UTF-8.
 * ASCII (most strings) is one check and one copy: Node's latin1 slice, or in browsers a string
 * built by hand when short.
 */
export function decodeUtf8(b: Uint8Array, start: number, len: number): string | undefined {
  if (len === 0) return '';
  const end = start + len;
  if (len === 1 && b[start]! < 0x80) return String.fromCharCode(b[start]!);
  if (asciiEnd(b, start, end) === end) {
    if (latin1Slice !== undefined) return latin1Slice.call(b, start, end);
    if (len <= JS_DECODE_MAX_BYTES) {
      let s = '';
      for (let p = start; p < end; p++) s += String.fromCharCode(b[p]!);
      return s;
    }
  }
  try {
    return fatalDecoder.decode(b.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** True when `b[start..end)` is valid UTF-8. Allocates nothing. */
export function isValidUtf8(b: Uint8Array, start: number, end: number): boolean {
  let p = asciiEnd(b, start, end);
  while (p < end) {
    const c = b[p]!;
    if (c < 0x80) {
      p++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0)
        lo = 0xa0; // overlong
      else if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0)
        lo = 0x90; // overlong
      else if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return false;
    if (p + need >= end) return false; // truncated sequence
    const c1 = b[p + 1]!;
    if (c1 < lo || c1 > hi) return false;
    for (let i = 2; i <= need; i++) {
      const ci = b[p + i]!;
      if (ci < 0x80 || ci > 0xbf) return false;
    }
    p += need + 1;
  }
  return true;
}
