/**
 * UTF-8 helpers for the MessagePack reader: a validating decoder with an ASCII fast path and an
 * allocation-free validity check. Invalid UTF-8 (overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences) is rejected, never replaced.
 */

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strings up to this many bytes are built by hand when ASCII; `TextDecoder` is faster above. */
const JS_DECODE_MAX_BYTES = 32;

/**
 * Decodes `len` bytes at `start` as UTF-8, or returns undefined when they are not valid UTF-8.
 */
export function decodeUtf8(b: Uint8Array, start: number, len: number): string | undefined {
  if (len === 0) return '';
  if (len <= JS_DECODE_MAX_BYTES) {
    const end = start + len;
    let s = '';
    let p = start;
    for (; p < end; p++) {
      const c = b[p]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (p === end) return s;
  }
  try {
    return fatalDecoder.decode(b.subarray(start, start + len));
  } catch {
    return undefined;
  }
}

/** True when `b[start..end)` is valid UTF-8. Allocates nothing. */
export function isValidUtf8(b: Uint8Array, start: number, end: number): boolean {
  let p = start;
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
