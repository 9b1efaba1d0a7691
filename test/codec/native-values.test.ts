import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  address,
  boolean,
  compare,
  count,
  enumValue,
  equals,
  integer,
  none,
  port,
  real,
  set,
  string,
  subnet,
  table,
  timespan,
  timestamp,
  toText,
  vector,
  type Data,
} from 'isobroker';
import {
  DEFAULT_NATIVE_LIMITS,
  decodeFrame,
  encodeDataMessage,
  encodeFrame,
  MAX_COUNT,
  MAX_INTEGER,
  MIN_INTEGER,
  decodeValue,
  encodeValue,
} from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';
import {
  concat,
  decodeGeneric,
  expectDecodeError,
  fromGeneric,
  hex,
  realFreeDataArb,
  sameData,
  toHex,
} from './native-support.js';

const wire = (v: Data): string => toHex(encodeValue(v));

describe('native value encoding: exact bytes', () => {
  it.each<[string, Data, string]>([
    ['none', none(), 'c0'],
    ['false', boolean(false), 'c2'],
    ['true', boolean(true), 'c3'],
    ['count 0', count(0), '00'],
    ['count 127', count(127), '7f'],
    ['count 128', count(128), 'cc 80'],
    ['count 255', count(255), 'cc ff'],
    ['count 256', count(256), 'cd 01 00'],
    ['count 65535', count(65535), 'cd ff ff'],
    ['count 65536', count(65536), 'ce 00 01 00 00'],
    ['count 2^32-1', count(0xffffffff), 'ce ff ff ff ff'],
    ['count 2^32', count(0x100000000), 'cf 00 00 00 01 00 00 00 00'],
    ['count 2^64-1', count(MAX_COUNT), 'cf ff ff ff ff ff ff ff ff'],
    ['integer 0', integer(0), 'd7 01 00 00 00 00 00 00 00 00'],
    ['integer -1', integer(-1), 'd7 01 ff ff ff ff ff ff ff ff'],
    ['integer min', integer(MIN_INTEGER), 'd7 01 80 00 00 00 00 00 00 00'],
    ['integer max', integer(MAX_INTEGER), 'd7 01 7f ff ff ff ff ff ff ff'],
    ['real 1', real(1), 'cb 3f f0 00 00 00 00 00 00'],
    ['real -0', real(-0), 'cb 80 00 00 00 00 00 00 00'],
    ['real 1.5', real(1.5), 'cb 3f f8 00 00 00 00 00 00'],
    ['real +inf', real(Infinity), 'cb 7f f0 00 00 00 00 00 00'],
    ['empty string', string(''), 'a0'],
    ['string "a"', string('a'), 'a1 61'],
    ['string "é"', string('é'), 'a2 c3 a9'],
    ['string with an astral char', string('😀'), 'a4 f0 9f 98 80'],
    ['IPv4 address', address('10.0.0.1'), 'd6 02 0a 00 00 01'],
    ['IPv6 address', address('::1'), 'd8 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01'],
    ['IPv4 subnet', subnet('10.0.0.0/8'), 'c7 05 03 08 0a 00 00 00'],
    ['IPv6 subnet', subnet('2001:db8::/32'), 'c7 11 03 20 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 00'],
    ['port 80/tcp', port(80, 'tcp'), 'c7 03 04 00 50 01'],
    ['port 53/udp', port(53, 'udp'), 'c7 03 04 00 35 02'],
    ['port 8/icmp', port(8, 'icmp'), 'c7 03 04 00 08 03'],
    ['port 65535/?', port(65535, 'unknown'), 'c7 03 04 ff ff 00'],
    ['timestamp 1 ns', timestamp(1n), 'd7 05 00 00 00 00 00 00 00 01'],
    ['timestamp before 1970', timestamp(-1n), 'd7 05 ff ff ff ff ff ff ff ff'],
    ['timespan 1.5 s', timespan(1_500_000_000n), 'd7 06 00 00 00 00 59 68 2f 00'],
    ['enum, 1 byte: fixext1', enumValue('A'), 'd4 07 41'],
    ['enum, 3 bytes: ext8', enumValue('T::A'.slice(1)), 'c7 03 07 3a 3a 41'],
    ['enum, 4 bytes: fixext4', enumValue('X::Y'), 'd6 07 58 3a 3a 59'],
    ['empty enum name', enumValue(''), 'c7 00 07'],
    ['empty vector', vector([]), '90'],
    ['vector', vector([count(1), string('a')]), '92 01 a1 61'],
    ['empty set', set([]), '91 d4 08 00'],
    ['set', set([count(2), count(1)]), '93 d4 08 00 01 02'],
    ['empty table', table([]), '91 d4 08 01'],
    ['table', table([[count(1), string('a')]]), '93 d4 08 01 01 a1 61'],
    ['vector holding a set', vector([set([none()])]), '91 92 d4 08 00 c0'],
  ])('%s', (_name, v, bytes) => {
    expect(wire(v)).toBe(bytes);
    expect(sameData(decodeValue(hex(bytes)), v)).toBe(true);
  });

  it('uses the smallest str header at every boundary', () => {
    for (const [len, head] of [
      [31, 'bf'],
      [32, 'd9 20'],
      [255, 'd9 ff'],
      [256, 'da 01 00'],
      [65535, 'da ff ff'],
      [65536, 'db 00 01 00 00'],
    ] as const) {
      for (const ch of ['x', 'é']) {
        // Same byte length from ASCII and from 2-byte characters (hand-written and encodeInto paths).
        const s = ch === 'x' ? 'x'.repeat(len) : 'é'.repeat(len >> 1) + 'x'.repeat(len & 1);
        const bytes = encodeValue(string(s));
        expect(toHex(bytes.subarray(0, head.split(' ').length)), `${len} bytes of ${ch}`).toBe(head);
        expect(bytes.length).toBe(len + head.split(' ').length);
        expect(decodeValue(bytes)).toEqual(string(s));
      }
    }
  });

  it('encodes long and non-ASCII strings and enum names as UTF-8', () => {
    const samples = ['ü'.repeat(300), '日本語'.repeat(100), '😀'.repeat(150), `${'a'.repeat(199)}é`, 'x'.repeat(5000)];
    for (const s of samples) {
      const expected = new TextEncoder().encode(s);
      const bytes = encodeValue(string(s));
      expect(bytes.subarray(bytes.length - expected.length)).toEqual(expected);
      expect(decodeValue(bytes)).toEqual(string(s));
      const e = encodeValue(enumValue(s));
      expect(e.subarray(e.length - expected.length)).toEqual(expected);
      expect(decodeValue(e)).toEqual(enumValue(s));
    }
  });

  it('replaces lone surrogates by U+FFFD, as TextEncoder does', () => {
    // The constructors refuse lone surrogates; a hand-made value still encodes as TextEncoder would.
    for (const s of ['a\ud800b', '\udc00', 'x\ud83d', '\ud83d'.repeat(300)]) {
      const utf8 = new TextEncoder().encode(s);
      const bytes = encodeValue({ type: 'string', value: s });
      expect(bytes.subarray(bytes.length - utf8.length)).toEqual(utf8);
      expect(decodeValue(bytes)).toEqual(string(new TextDecoder().decode(utf8)));
    }
  });

  it('returns independent byte strings from consecutive encodes', () => {
    const a = encodeValue(string('first'));
    const b = encodeValue(string('second'));
    b.fill(0);
    expect(toHex(a)).toBe('a5 66 69 72 73 74');
    const big = encodeValue(string('y'.repeat(100_000)));
    const after = encodeValue(count(5));
    expect(big.length).toBe(100_005);
    expect(toHex(after)).toBe('05');
    expect(decodeValue(big)).toEqual(string('y'.repeat(100_000)));
  });
});

describe('native value decoding: accepted variants', () => {
  it('accepts non-minimal MessagePack headers', () => {
    expect(decodeValue(hex('cc 05'))).toEqual(count(5));
    expect(decodeValue(hex('cf 00 00 00 00 00 00 00 07'))).toEqual(count(7));
    expect(decodeValue(hex('d9 01 61'))).toEqual(string('a'));
    expect(decodeValue(hex('dc 00 01 c0'))).toEqual(vector([none()]));
    expect(decodeValue(hex('dd 00 00 00 00'))).toEqual(vector([]));
    expect(decodeValue(hex('c7 08 01 00 00 00 00 00 00 00 2a'))).toEqual(integer(42));
    expect(decodeValue(hex('c8 00 04 02 01 02 03 04'))).toEqual(address('1.2.3.4'));
    expect(decodeValue(hex('c9 00 00 00 01 07 41'))).toEqual(enumValue('A'));
  });

  it('reads a v4-mapped 17-byte subnet with its length in IPv6 terms', () => {
    const v4mapped = '00 00 00 00 00 00 00 00 00 00 ff ff 0a 00 00 00';
    expect(decodeValue(hex(`c7 11 03 68 ${v4mapped}`))).toEqual(subnet('10.0.0.0/8'));
  });

  it('reads a 16-byte v4-mapped address as the IPv4 address', () => {
    expect(decodeValue(hex('d8 02 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04'))).toEqual(address('1.2.3.4'));
  });

  it('treats both forms of one IPv4 address or subnet as the same value in sets', () => {
    const v4mapped = '00 00 00 00 00 00 00 00 00 00 ff ff';
    const sameAddress = hex(`93 d4 08 00 d6 02 0a 00 00 00 d8 02 ${v4mapped} 0a 00 00 00`);
    const sameSubnet = hex(`93 d4 08 00 c7 05 03 08 0a 00 00 00 c7 11 03 68 ${v4mapped} 0a 00 00 00`);
    const longerSubnet = hex(`93 d4 08 00 c7 05 03 08 0a 00 00 00 c7 11 03 69 ${v4mapped} 0a 00 00 00`);
    for (const dup of [sameAddress, sameSubnet]) {
      expectDecodeError(() => decodeValue(dup), ['set element 1']);
      expect(validatedInFrame(dup)).toBe(false);
    }
    expect(decodeValue(longerSubnet)).toEqual(set([subnet('10.0.0.0/8'), subnet('10.0.0.0/9')]));
    expect(validatedInFrame(longerSubnet)).toBe(true);
  });
});

describe('native value decoding: rejections', () => {
  it.each<[string, string, readonly (string | RegExp)[]]>([
    ['empty input', '', ['at byte 0', 'input ends']],
    ['truncated uint16', 'cd 01', ['at byte 0', 'uint16 needs 3 bytes']],
    ['truncated float64', 'cb 00 00', ['float64']],
    ['truncated string', 'a3 61 62', ['at byte 1', 'string of 3 bytes needs 3 bytes but only 2 remain']],
    ['truncated array', '92 01', ['at byte 0', 'array of 2 elements cannot fit in the 1 bytes remaining']],
    ['truncated array element', '92 01 cd', ['at byte 2', 'uint16 needs 3 bytes']],
    ['truncated ext', 'd7 01 00 00', ['fixext8 with 8 data bytes']],
    ['trailing bytes', 'c0 c0', ['at byte 1', '1 trailing bytes']],
    ['never-used byte', 'c1', ['never-used byte 0xc1']],
    ['negative fixint', 'ff', ['negative fixint', 'integer is ext 1']],
    ['int8', 'd0 05', ['int8', 'integer is ext 1']],
    ['int64', 'd3 00 00 00 00 00 00 00 01', ['int64']],
    ['float32', 'ca 3f 80 00 00', ['float32', 'float64']],
    ['fixmap', '80', ['fixmap', 'maps are not used']],
    ['map16', 'de 00 00', ['map16']],
    ['bin8', 'c4 00', ['bin8 is not a Broker value']],
    ['unknown ext type', 'd4 09 00', ['unknown ext type 9']],
    ['negative ext type', 'd4 ff 00', ['unknown ext type -1']],
    ['integer in fixext4', 'd6 01 00 00 00 01', ['ext type 1 (integer) cannot hold 4 bytes']],
    ['timestamp in ext8 of 7', 'c7 07 05 00 00 00 00 00 00 00', ['ext type 5 (timestamp) cannot hold 7 bytes']],
    ['timespan in fixext16', 'd8 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00', ['ext type 6 (timespan)']],
    ['address of 5 bytes', 'c7 05 02 01 02 03 04 05', ['ext type 2 (address) cannot hold 5 bytes']],
    ['subnet of 4 bytes', 'd6 03 08 0a 00 00', ['ext type 3 (subnet) cannot hold 4 bytes']],
    ['IPv4 subnet longer than 32', 'c7 05 03 21 0a 00 00 00', ['IPv4 subnet length 33']],
    ['IPv6 subnet longer than 128', `c7 11 03 81 ${'00 '.repeat(16)}`, ['IPv6 subnet length 129']],
    ['subnet with host bits', 'c7 05 03 08 0a 00 00 01', ['host bits']],
    ['port of 2 bytes', 'd5 04 00 50', ['ext type 4 (port) cannot hold 2 bytes']],
    ['port protocol 4', 'c7 03 04 00 50 04', ['port protocol 4']],
    ['marker as a value', 'd4 08 00', ['container marker may only be the first element']],
    ['marker as a later element', '92 c0 d4 08 00', ['at byte 2', 'container marker']],
    ['unknown marker', '91 d4 08 02', ['unknown container marker 2']],
    ['truncated marker', '91 d4 08', ['container marker needs 3 bytes']],
    ['unsorted set', '93 d4 08 00 02 01', ['at byte 5', 'set element 1 is not greater']],
    ['set with a duplicate', '93 d4 08 00 01 01', ['set element 1']],
    ['set in type order violated', '93 d4 08 00 a1 61 01', ['set element 1']],
    ['table with an odd tail', '92 d4 08 01 01', ['keys and values come in pairs']],
    ['unsorted table keys', '95 d4 08 01 02 c0 01 c0', ['table key 1 is not greater']],
    ['table with a duplicate key', '95 d4 08 01 01 c0 01 c3', ['table key 1']],
    ['invalid UTF-8 string', 'a2 c3 28', ['string is not valid UTF-8']],
    ['overlong UTF-8', 'a2 c0 80', ['not valid UTF-8']],
    ['UTF-8 surrogate', 'a3 ed a0 80', ['not valid UTF-8']],
    ['truncated UTF-8 in a long string', `d9 14 ${'61 '.repeat(19)} e2`, ['not valid UTF-8']],
    ['invalid UTF-8 enum', 'c7 01 07 ff', ['enum name is not valid UTF-8']],
    ['array32 claiming 2^32-1 elements', 'dd ff ff ff ff c0', ['array of 4294967295 elements exceeds the limit']],
    [
      'array16 claiming more than remain',
      'dc 01 00 c0 c0',
      ['array of 256 elements cannot fit in the 2 bytes remaining'],
    ],
    ['str32 claiming 2^32-1 bytes', 'db ff ff ff ff 61', ['string of 4294967295 bytes exceeds the limit']],
    ['ext32 claiming 2^32-1 bytes', 'c9 ff ff ff ff 07 61', ['ext32 with 4294967295 data bytes needs']],
  ])('%s', (_name, bytes, fragments) => {
    expectDecodeError(() => decodeValue(hex(bytes)), fragments);
  });

  it('enforces the nesting limit', () => {
    const nested = (n: number): Uint8Array => concat(new Uint8Array(n).fill(0x91), hex('c0'));
    expect(() => decodeValue(nested(DEFAULT_NATIVE_LIMITS.maxDepth))).not.toThrow();
    expectDecodeError(
      () => decodeValue(nested(DEFAULT_NATIVE_LIMITS.maxDepth + 1)),
      ['nested deeper than the limit of 64'],
    );
    expectDecodeError(() => decodeValue(nested(4), { maxDepth: 3 }), ['at byte 3', 'limit of 3']);
    expect(() => decodeValue(nested(3), { maxDepth: 3 })).not.toThrow();
    // Far beyond the limit: fails cleanly rather than exhausting the stack.
    expectDecodeError(() => decodeValue(nested(1_000_000)), ['limit of 64']);
    // With the limit raised beyond what the stack holds: still a DecodeError.
    expectDecodeError(
      () => decodeValue(nested(1_000_000), { maxDepth: 2_000_000 }),
      ['nested too deeply for the call stack'],
    );
  });

  it('enforces the string, array and size limits', () => {
    expectDecodeError(
      () => decodeValue(encodeValue(string('abcdef')), { maxStringBytes: 5 }),
      ['string of 6 bytes exceeds the limit of 5'],
    );
    expect(decodeValue(encodeValue(string('abcde')), { maxStringBytes: 5 })).toEqual(string('abcde'));
    expectDecodeError(
      () => decodeValue(encodeValue(enumValue('abcdef')), { maxStringBytes: 5 }),
      ['enum name of 6 bytes'],
    );
    const v = vector([count(1), count(2), count(3)]);
    expectDecodeError(
      () => decodeValue(encodeValue(v), { maxArrayLength: 2 }),
      ['array of 3 elements exceeds the limit of 2'],
    );
    expect(decodeValue(encodeValue(v), { maxArrayLength: 3 })).toEqual(v);
    expectDecodeError(
      () => decodeValue(encodeValue(v), { maxFrameBytes: 3 }),
      ['value of 4 bytes exceeds the frame limit of 3'],
    );
  });

  it('keeps working after a failure', () => {
    expectDecodeError(() => decodeValue(hex('92 01')), ['cannot fit']);
    expect(decodeValue(hex('92 01 02'))).toEqual(vector([count(1), count(2)]));
  });
});

describe('native value round trips (property)', () => {
  it('decodeValue(encodeValue(v)) is v, type for type', () => {
    fc.assert(
      fc.property(dataArb(), (v) => {
        const back = decodeValue(encodeValue(v));
        expect(sameData(back, v), `${toText(v)} came back as ${toText(back)}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the edges of every numeric type exact', () => {
    const edges: Data[] = [
      count(0),
      count(MAX_COUNT),
      count((1n << 53n) + 1n),
      integer(MIN_INTEGER),
      integer(MAX_INTEGER),
      integer(-(1n << 53n) - 1n),
      integer(-(1n << 53n)),
      integer((1n << 53n) + 1n),
      real(-0),
      real(0),
      real(NaN),
      real(Infinity),
      real(-Infinity),
      real(Number.MIN_VALUE),
      real(Number.MAX_VALUE),
      timestamp(1_700_000_000_123_456_789n),
      timestamp(MIN_INTEGER),
      timespan(-1n),
      timespan(MAX_INTEGER),
    ];
    for (const v of edges) {
      const back = decodeValue(encodeValue(v));
      expect(back.type).toBe(v.type);
      expect(sameData(back, v), toText(v)).toBe(true);
    }
    const negZero = decodeValue(encodeValue(real(-0)));
    expect(negZero.type === 'real' && Object.is(negZero.value, -0)).toBe(true);
    const c = decodeValue(encodeValue(count(1)));
    expect(c).toEqual(count(1)); // count stays count ...
    expect(decodeValue(encodeValue(real(1)))).toEqual(real(1)); // ... and real stays real
    expect(equals(decodeValue(encodeValue(integer(1))), count(1))).toBe(false);
  });

  it('every encoding is standard MessagePack that a generic decoder reads', () => {
    fc.assert(
      fc.property(dataArb(), (v) => {
        decodeGeneric(encodeValue(v)); // must not throw
      }),
      { numRuns: 1000 },
    );
  });

  it('a generic decoder, interpreting PROTOCOL.md by hand, gets the same value', () => {
    fc.assert(
      fc.property(realFreeDataArb(), (v) => {
        const back = fromGeneric(decodeGeneric(encodeValue(v)));
        expect(equals(back, v), `${toText(v)} read generically as ${toText(back)}`).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects any set whose elements are out of order, and accepts every sorted one', () => {
    // Both orders of two values, spliced by hand into a set's array; checked by decodeValue (which
    // uses compare) and by the frame validator (which compares the encoded bytes).
    fc.assert(
      fc.property(dataArb({ depth: 2 }), dataArb({ depth: 2 }), (a, b) => expectPairOrder(a, b)),
      { numRuns: 1000 },
    );
  });

  it('orders every pair of edge values the same way on the wire as in memory', () => {
    const edges: Data[] = [
      none(),
      boolean(false),
      boolean(true),
      count(0),
      count(127),
      count(128),
      count(0xffffffff),
      count(0x100000000),
      count(MAX_COUNT),
      integer(MIN_INTEGER),
      integer(-1),
      integer(0),
      integer(1),
      integer(MAX_INTEGER),
      real(-Infinity),
      real(-1.5),
      real(-0),
      real(0),
      real(Number.MIN_VALUE),
      real(Infinity),
      real(NaN),
      string(''),
      string('a'),
      string('ab'),
      string('b'),
      string('\u00ff'),
      string('\uffff'),
      string('😀'),
      string('x'.repeat(40)),
      address('::'),
      address('::1'),
      address('0.0.0.0'),
      address('1.2.3.4'),
      address('255.255.255.255'),
      address('::ffff:0:0'),
      address('2001:db8::'),
      address('ffff::'),
      subnet('0.0.0.0/0'),
      subnet('10.0.0.0/8'),
      subnet('10.0.0.0/9'),
      subnet('::/0'),
      subnet('::/96'),
      subnet('2001:db8::/32'),
      port(0, 'unknown'),
      port(80, 'unknown'),
      port(80, 'tcp'),
      port(80, 'udp'),
      port(80, 'icmp'),
      port(65535, 'tcp'),
      timestamp(MIN_INTEGER),
      timestamp(-1n),
      timestamp(0n),
      timestamp(MAX_INTEGER),
      timespan(-1n),
      timespan(1n),
      enumValue(''),
      enumValue('A'),
      enumValue('B'),
      set([]),
      set([count(1)]),
      set([count(1), count(2)]),
      set([count(2)]),
      table([]),
      table([[count(1), none()]]),
      table([[count(1), boolean(true)]]),
      table([[count(2), none()]]),
      vector([]),
      vector([none()]),
      vector([none(), none()]),
      vector([count(1)]),
    ];
    for (const a of edges) for (const b of edges) expectPairOrder(a, b);
  });
});

const ORIGIN = new Uint8Array(16);

/** Whether the frame validator accepts a Data message carrying these value bytes. */
function validatedInFrame(valueBytes: Uint8Array): boolean {
  try {
    decodeFrame(encodeFrame([encodeDataMessage('t', ORIGIN, 1, 1, valueBytes)]));
    return true;
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw e;
  }
}

/** A set spliced as [a, b] is valid exactly when a < b, for decodeValue and the validator alike. */
function expectPairOrder(a: Data, b: Data): void {
  const ascending = Math.sign(compare(a, b)) < 0;
  const spliced = concat(hex('93 d4 08 00'), encodeValue(a), encodeValue(b));
  const label = `{${toText(a)}, ${toText(b)}}`;
  expect(validatedInFrame(spliced), label).toBe(ascending);
  if (ascending) expect(equals(decodeValue(spliced), set([a, b])), label).toBe(true);
  else expectDecodeError(() => decodeValue(spliced), ['set element 1']);
  // The same for table keys.
  const keyed = concat(hex('95 d4 08 01'), encodeValue(a), hex('c0'), encodeValue(b), hex('c0'));
  expect(validatedInFrame(keyed), `table ${label}`).toBe(ascending);
}
