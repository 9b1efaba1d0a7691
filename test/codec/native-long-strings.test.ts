/**
 * Long strings take fast paths in the codec (ASCII scanned a word at a time, decoded by a latin1
 * slice; the writer sized exactly): they must accept and reject exactly what the byte-by-byte
 * paths do, wherever the string starts relative to word alignment.
 */
import { describe, expect, it } from 'vitest';
import { MsgpackReader } from '../../src/codec/msgpack/reader.js';
import { asciiEnd, decodeUtf8, isValidUtf8 } from '../../src/codec/msgpack/utf8.js';
import { DEFAULT_NATIVE_LIMITS } from '../../src/codec/native/limits.js';
import { decodeValue, encodeValue, validateEncodedValue } from '../../src/codec/native/values.js';
import { validateValue } from '../../src/codec/native/validate.js';
import { string, vector } from '../../src/data/constructors.js';
import { DecodeError } from '../../src/errors.js';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function reference(b: Uint8Array): string | undefined {
  try {
    return strict.decode(b);
  } catch {
    return undefined;
  }
}

describe('long strings', () => {
  it('asciiEnd finds the first non-ASCII byte at any alignment', () => {
    const buf = new Uint8Array(300).fill(0x61);
    for (const start of [0, 1, 2, 3, 5]) {
      for (const bad of [start, start + 3, start + 64, start + 65, start + 130, 299]) {
        buf.fill(0x61);
        buf[bad] = 0xc3;
        expect(asciiEnd(buf, start, 300)).toBe(bad);
        expect(asciiEnd(buf, start, bad)).toBe(bad);
      }
    }
  });

  it('decoder and validator agree with a strict TextDecoder around word boundaries', () => {
    const bads = [[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xff], [0xc3, 0xa9]];
    for (const len of [33, 64, 100, 1000]) {
      for (const offset of [0, 1, 3]) {
        for (const at of [0, 1, 4, len - 4, len - 1, Math.floor(len / 2)]) {
          for (const seq of bads) {
            const b = new Uint8Array(offset + len).fill(0x62);
            b.set(seq.slice(0, offset + len - (offset + at)), offset + at);
            const view = b.subarray(offset);
            const want = reference(view);
            expect(decodeUtf8(b, offset, len)).toBe(want);
            expect(isValidUtf8(b, offset, offset + len)).toBe(want !== undefined);
          }
        }
      }
    }
  });

  it('round-trip ASCII and non-ASCII exactly', () => {
    for (const s of ['a'.repeat(5000), `${'a'.repeat(3000)}é${'b'.repeat(3000)}`, '😀'.repeat(2000)]) {
      const bytes = encodeValue(string(s));
      expect(decodeValue(bytes)).toEqual(string(s));
      expect(() => validateEncodedValue(bytes)).not.toThrow();
    }
  });

  it('a 1 MiB string is encoded into a buffer of about its size', () => {
    const s = 'q'.repeat(1024 * 1024);
    const bytes = encodeValue(vector([string('k'), string(s)]));
    expect(bytes.length).toBe(1024 * 1024 + 5 + 2 + 1);
    expect(bytes.buffer.byteLength).toBeLessThan(bytes.length + 64 * 1024);
    expect(decodeValue(bytes)).toEqual(vector([string('k'), string(s)]));
  });

  it('invalid UTF-8 deep in a long string is a DecodeError for both', () => {
    const bytes = encodeValue(string('z'.repeat(4096)));
    bytes[2000] = 0xfe;
    expect(() => decodeValue(bytes)).toThrow(DecodeError);
    expect(() => validateEncodedValue(bytes)).toThrow(DecodeError);
    const r = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
    r.reset(bytes, DEFAULT_NATIVE_LIMITS);
    expect(() => validateValue(r, 0)).toThrow(/not valid UTF-8/);
  });
});
