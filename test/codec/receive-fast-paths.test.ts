/**
 * The receive path's caches must never change an answer: short strings come from a cache keyed by
 * their bytes (a repeated topic is one string object), `binExact` shares the copy of repeated ids,
 * the ASCII scan keeps a word view of the last buffer, and `decodeValue` remembers resolved frozen
 * limits. Each answer must equal what decoding the bytes afresh gives, whatever came before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MsgpackReader } from '../../src/codec/msgpack/reader.js';
import { STRING_CACHE_MAX_BYTES, StringCache } from '../../src/codec/msgpack/string-cache.js';
import { asciiEnd, decodeUtf8 } from '../../src/codec/msgpack/utf8.js';
import { DEFAULT_NATIVE_LIMITS } from '../../src/codec/native/limits.js';
import { decodeValue, encodeValue } from '../../src/codec/native/values.js';
import { string } from '../../src/data/constructors.js';
import { DecodeError } from '../../src/errors.js';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function reference(b: Uint8Array): string | undefined {
  try {
    return strict.decode(b);
  } catch {
    return undefined;
  }
}

/** Byte strings that often share length and most bytes: the cases a byte-keyed cache could confuse. */
const nearBytes = fc.oneof(
  fc.constantFrom('bench/pubsub/data', 'bench/pubsub/dat2', 'bench/pubsub/eata', 'a', 'b', '', 'é', 'zeek/événement'),
  fc.string({ maxLength: 80 }),
  fc.stringMatching(/^[ab]{0,70}$/),
);
const byteStrings = fc.oneof(
  nearBytes.map((s) => new TextEncoder().encode(s)),
  // Arbitrary bytes: invalid UTF-8 too.
  fc.uint8Array({ maxLength: 70 }),
  fc.uint8Array({ minLength: 1, maxLength: 3, min: 0x80, max: 0xff }),
);

/** A MessagePack str holding `bytes`, at `offset` in a larger buffer. */
function strAt(bytes: Uint8Array, offset: number): Uint8Array {
  const head = bytes.length < 32 ? [0xa0 | bytes.length] : [0xd9, bytes.length];
  const out = new Uint8Array(offset + head.length + bytes.length + 2).fill(0x7a);
  out.set(head, offset);
  out.set(bytes, offset + head.length);
  return out;
}

describe('string cache', () => {
  it('answers every sequence of byte strings exactly as a strict decoder, never a stale string', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(byteStrings, fc.nat(5)), { minLength: 1, maxLength: 60 }), (seq) => {
        const cache = new StringCache();
        for (const [bytes, offset] of seq) {
          const buf = new Uint8Array(offset + bytes.length + 3).fill(0x41);
          buf.set(bytes, offset);
          expect(cache.decode(buf, offset, bytes.length)).toBe(reference(bytes));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('gives the same string object for the same bytes, and a fresh one when one byte differs', () => {
    const cache = new StringCache();
    const enc = new TextEncoder();
    const a = cache.decode(enc.encode('bench/pubsub/data'), 0, 17);
    const again = cache.decode(strAt(enc.encode('bench/pubsub/data'), 3), 4, 17);
    expect(again).toBe('bench/pubsub/data');
    expect(Object.is(a, again)).toBe(true);
    // Same length, first, middle and last byte: the same slot, other bytes.
    const other = cache.decode(enc.encode('bxxxx/pubsxxxxxxa'), 0, 17);
    expect(other).toBe('bxxxx/pubsxxxxxxa');
    expect(cache.decode(enc.encode('bench/pubsub/data'), 0, 17)).toBe('bench/pubsub/data');
  });

  it('decodes strings longer than the cache holds, and rejects invalid ones without caching them', () => {
    const cache = new StringCache();
    const long = 'x'.repeat(STRING_CACHE_MAX_BYTES + 1);
    expect(cache.decode(new TextEncoder().encode(long), 0, long.length)).toBe(long);
    const bad = Uint8Array.of(0x61, 0xc3, 0x28);
    expect(cache.decode(bad, 0, 3)).toBeUndefined();
    expect(cache.decode(bad, 0, 3)).toBeUndefined();
    expect(cache.decode(Uint8Array.of(0x61, 0xc3, 0xa9), 0, 3)).toBe('aé');
  });

  it('MsgpackReader.string reads through it and still names invalid UTF-8', () => {
    const r = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
    const topic = new TextEncoder().encode('bench/pubsub/data');
    r.reset(strAt(topic, 0), DEFAULT_NATIVE_LIMITS);
    const first = r.string('topic');
    r.reset(strAt(topic, 0), DEFAULT_NATIVE_LIMITS);
    expect(Object.is(r.string('topic'), first)).toBe(true);
    r.reset(strAt(Uint8Array.of(0x62, 0xff), 0), DEFAULT_NATIVE_LIMITS);
    expect(() => r.string('topic')).toThrow(DecodeError);
  });
});

describe('shared ids (binExact)', () => {
  function binAt(bytes: Uint8Array, offset: number): Uint8Array {
    const out = new Uint8Array(offset + 2 + bytes.length);
    out.set([0xc4, bytes.length], offset);
    out.set(bytes, offset + 2);
    return out;
  }

  it('returns the bytes read, whatever was read before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16, max: 3 }), fc.nat(4)), { maxLength: 40 }),
        (seq) => {
          const r = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
          for (const [id, offset] of seq) {
            const buf = binAt(id, offset);
            r.reset(buf, DEFAULT_NATIVE_LIMITS);
            r.pos = offset;
            const got = r.binExact('id', 16);
            expect([...got]).toEqual([...id]);
            // Never a view of the input: changing the input does not change it.
            buf.fill(0xee);
            expect([...got]).toEqual([...id]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands out one copy for a repeated id', () => {
    const r = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
    const id = Uint8Array.from({ length: 16 }, (_, i) => 200 - i);
    r.reset(binAt(id, 0), DEFAULT_NATIVE_LIMITS);
    const a = r.binExact('id', 16);
    r.reset(binAt(id, 5), DEFAULT_NATIVE_LIMITS);
    r.pos = 5;
    expect(r.binExact('id', 16)).toBe(a);
  });
});

describe('ASCII scan word view', () => {
  it('finds non-ASCII bytes across buffers, views at any offset and a buffer that grew', () => {
    const a = new Uint8Array(4096).fill(0x61);
    const b = new Uint8Array(4096).fill(0x62);
    expect(asciiEnd(a, 10, 200)).toBe(200);
    b[150] = 0x80;
    expect(asciiEnd(b, 10, 200)).toBe(150);
    // The cached view of `a` sees writes made since.
    a[77] = 0xc3;
    expect(asciiEnd(a, 10, 200)).toBe(77);
    // Views of one buffer at other offsets.
    const view = new Uint8Array(a.buffer, 33, 1000);
    expect(asciiEnd(view, 0, 500)).toBe(77 - 33);
    expect(asciiEnd(view, 50, 500)).toBe(500);
    view[401] = 0xe9;
    expect(asciiEnd(view, 50, 500)).toBe(401);
    expect(decodeUtf8(view, 50, 300)).toBe('a'.repeat(300));
    expect(decodeUtf8(view, 50, 400)).toBeUndefined();
  });

  it('keeps answering for the array scanned last after a scan of a buffer too large to keep', () => {
    const a = new Uint8Array(1000).fill(0x61);
    const big = new Uint8Array((1 << 20) + 64).fill(0x61);
    a[500] = 0x90;
    expect(asciiEnd(a, 100, 900)).toBe(500);
    big[(1 << 20) + 10] = 0xf0;
    expect(asciiEnd(big, (1 << 20) - 100, (1 << 20) + 60)).toBe((1 << 20) + 10);
    expect(asciiEnd(a, 100, 900)).toBe(500);
    a[300] = 0xa0;
    expect(asciiEnd(a, 100, 900)).toBe(300);
    expect(asciiEnd(big, 0, 1000)).toBe(1000);
  });

  it('rescans a resizable buffer after it grew', () => {
    const Resizable = ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer & {
      resize(n: number): void;
    };
    let buf: ArrayBuffer & { resize(n: number): void };
    try {
      buf = new Resizable(256, { maxByteLength: 8192 });
    } catch {
      return; // no resizable ArrayBuffer on this runtime
    }
    const tracking = new Uint8Array(buf);
    tracking.fill(0x61);
    expect(asciiEnd(tracking, 0, 256)).toBe(256);
    buf.resize(4096);
    tracking.fill(0x61, 256);
    tracking[3000] = 0xff;
    expect(asciiEnd(tracking, 2000, 4000)).toBe(3000);
  });
});

describe('decodeValue limits', () => {
  it('honours limits changed between calls (only frozen limits are remembered)', () => {
    const bytes = encodeValue(string('x'.repeat(100)));
    const limits = { maxStringBytes: 1000 };
    expect(decodeValue(bytes, limits)).toEqual(string('x'.repeat(100)));
    limits.maxStringBytes = 50;
    expect(() => decodeValue(bytes, limits)).toThrow(DecodeError);
    const frozen = Object.freeze({ maxStringBytes: 50 });
    expect(() => decodeValue(bytes, frozen)).toThrow(DecodeError);
    expect(() => decodeValue(bytes, frozen)).toThrow(DecodeError);
    expect(decodeValue(bytes, Object.freeze({ maxStringBytes: 100 }))).toEqual(string('x'.repeat(100)));
  });
});
