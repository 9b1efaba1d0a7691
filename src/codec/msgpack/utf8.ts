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

/** Strings up to this many bytes are built by hand when ASCII; `TextDecoder` is faster above. */
const JS_DECODE_MAX_BYTES = 32;
/** Runs at least this long are scanned for ASCII a word (4 bytes) at a time. */
const WORD_SCAN_MIN_BYTES = 64;

/**
 * Node's `Buffer.prototype.latin1Slice` (one char per byte: for ASCII, the string itself), which
 * works on any Uint8Array; absent in browsers, where `TextDecoder` decodes.
 */
const latin1Slice = (
  globalThis as {
    Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } };
  }
).Buffer?.prototype.latin1Slice;

/** The offset of the first byte ≥ 0x80 in `b[p..end)`, or `end` when all are ASCII. */
export function asciiEnd(b: Uint8Array, p: number, end: number): number {
  if (end - p >= WORD_SCAN_MIN_BYTES) {
    const off = b.byteOffset;
    while (((off + p) & 3) !== 0) {
      if (b[p]! >= 0x80) return p;
      p++;
    }
    const words = (end - p) >>> 2;
    const u = new Uint32Array(b.buffer, off + p, words);
    let i = 0;
    for (; i + 4 <= words; i += 4) if (((u[i]! | u[i + 1]! | u[i + 2]! | u[i + 3]!) & 0x80808080) !== 0) break;
    for (; i < words; i++) if ((u[i]! & 0x80808080) !== 0) break;
    p += i * 4;
  }
  while (p < end && b[p]! < 0x80) p++;
  return p;
}

/**
 * Decodes `len` bytes at `start` as UTF-8, or returns undefined when they are not valid UTF-8.
 */
export function decodeUtf8(b: Uint8Array, start: number, len: number): string | undefined {
  if (len === 0) return '';
  const end = start + len;
  if (len <= JS_DECODE_MAX_BYTES) {
    let s = '';
    let p = start;
    for (; p < end; p++) {
      const c = b[p]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (p === end) return s;
  } else if (latin1Slice !== undefined && asciiEnd(b, start, end) === end) {
    return latin1Slice.call(b, start, end);
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
