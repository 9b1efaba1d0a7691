import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  address,
  boolean,
  count,
  enumValue,
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
  toBrokerString,
  toText,
  vector,
} from 'isobroker';
import {
  MAX_COUNT,
  MAX_INTEGER,
  MIN_INTEGER,
  formatEpochSeconds,
  formatRealFixed,
  formatTimespan,
  formatTimestampMs,
} from '../../src/internal.js';

describe('formatTimestampMs (Broker JSON v1 timestamps)', () => {
  it.each([
    [0n, '1970-01-01T00:00:00.000'],
    [1404901004000000000n, '2014-07-09T10:16:44.000'], // Broker's own test vector
    [1404901004123456789n, '2014-07-09T10:16:44.123'], // truncated, not rounded
    [1404901004999999999n, '2014-07-09T10:16:44.999'],
    [-1n, '1969-12-31T23:59:59.999'], // the millisecond at or before the instant
    [-999_999n, '1969-12-31T23:59:59.999'],
    [-1_000_000n, '1969-12-31T23:59:59.999'],
    [-1_000_001n, '1969-12-31T23:59:59.998'],
    [-1_500_000_000n, '1969-12-31T23:59:58.500'],
    [-3153600000000000000n, '1870-01-25T00:00:00.000'],
    [951782400000000000n, '2000-02-29T00:00:00.000'],
    [7258118400000000000n, '2200-01-01T00:00:00.000'],
    [MAX_INTEGER, '2262-04-11T23:47:16.854'],
    [MIN_INTEGER, '1677-09-21T00:12:43.145'],
  ])('%s ns → %s', (ns, text) => {
    expect(formatTimestampMs(ns)).toBe(text);
    expect(toText(timestamp(ns))).toBe(text);
  });

  it('agrees with Date for every millisecond in the int64 range (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MIN_INTEGER, max: MAX_INTEGER }), (ns) => {
        const floorMs = ns >= 0n || ns % 1_000_000n === 0n ? ns / 1_000_000n : ns / 1_000_000n - 1n;
        expect(formatTimestampMs(ns)).toBe(new Date(Number(floorMs)).toISOString().slice(0, -1));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatTimespan (largest exact unit)', () => {
  it.each([
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1000n, '1us'],
    [1001n, '1001ns'],
    [999_000n, '999us'],
    [1_000_000n, '1ms'],
    [1_500_000_000n, '1500ms'],
    [15_000_000n, '15ms'],
    [23_000_000_000n, '23s'],
    [3_600_000_000_000n, '3600s'],
    [-1n, '-1ns'],
    [-2_000_000_000n, '-2s'],
    [-1_500_000n, '-1500us'],
    [MAX_INTEGER, '9223372036854775807ns'],
    [MIN_INTEGER, '-9223372036854775808ns'],
    [-9223372036000000000n, '-9223372036s'],
  ])('%s ns → %s', (ns, text) => {
    expect(formatTimespan(ns)).toBe(text);
    expect(toText(timespan(ns))).toBe(text);
  });
});

describe('formatEpochSeconds', () => {
  it('prints seconds with nine decimals', () => {
    expect(formatEpochSeconds(1404901004000000000n)).toBe('1404901004.000000000');
    expect(formatEpochSeconds(1n)).toBe('0.000000001');
    expect(formatEpochSeconds(-1_500_000_000n)).toBe('-1.500000000');
    expect(formatEpochSeconds(-1n)).toBe('-0.000000001');
  });
});

describe('formatRealFixed (C printf %f)', () => {
  // Expected strings printed by glibc's printf("%f") for these exact doubles.
  it.each([
    [0, '0.000000'],
    [-0, '-0.000000'],
    [0.0078125, '0.007812'], // exact tie: half to even (toFixed gives 0.007813)
    [0.0234375, '0.023438'],
    [0.0390625, '0.039062'],
    [-0.0390625, '-0.039062'],
    [1234.0078125, '1234.007812'],
    [999999.0078125, '999999.007812'],
    [1000000.0078125, '1000000.007812'],
    [123.456, '123.456000'],
    [-7.5, '-7.500000'],
    [0.1, '0.100000'],
    [12.48, '12.480000'],
    [42, '42.000000'],
    [1e21, '1000000000000000000000.000000'],
    [1e22, '10000000000000000000000.000000'],
    [1.2345678901234568e24, '1234567890123456824475648.000000'], // Broker's own test vector
    [5e-324, '0.000000'],
    [2.2250738585072014e-308, '0.000000'],
    [5e-7, '0.000000'],
    [1.5e-6, '0.000002'],
    [-5e-7, '-0.000000'],
    [9.9999995, '9.999999'],
    [999999.9999995, '999999.999999'],
    [999999.9999994, '999999.999999'],
    [1e-7, '0.000000'],
    [-1e-9, '-0.000000'],
    // biome-ignore lint/correctness/noPrecisionLoss: the literal is Zeek's test input; the test is about how the rounded double prints
    [4503599627370497.5, '4503599627370498.000000'],
    // biome-ignore lint/correctness/noPrecisionLoss: the literal is Zeek's test input; the test is about how the rounded double prints
    [9007199254740993, '9007199254740992.000000'],
    [0.30000000000000004, '0.300000'],
    [1000000000000000.2, '1000000000000000.250000'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NEGATIVE_INFINITY, '-inf'],
    [Number.NaN, 'nan'],
  ])('%s → %s', (v, text) => {
    expect(formatRealFixed(v)).toBe(text);
  });

  it('prints huge values in full', () => {
    expect(formatRealFixed(1e300)).toBe(`${BigInt(1e300)}.000000`);
    expect(formatRealFixed(Number.MAX_VALUE)).toBe(
      '179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368.000000',
    );
  });

  it('rounds the exact binary value half to even (property against a BigInt reference)', () => {
    const reference = (v: number): string => {
      // Exact value as a fraction n / 2^k, scaled by 10^6, rounded half to even.
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, Math.abs(v));
      const bits = view.getBigUint64(0);
      const e = Number(bits >> 52n);
      const m = (bits & ((1n << 52n) - 1n)) | (e === 0 ? 0n : 1n << 52n);
      const shift = (e === 0 ? 1 : e) - 1075;
      const [num, den] = shift >= 0 ? [m << BigInt(shift), 1n] : [m, 1n << BigInt(-shift)];
      const scaled = num * 1_000_000n;
      let q = scaled / den;
      const r2 = (scaled % den) * 2n;
      if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
      const s = q.toString().padStart(7, '0');
      return `${v < 0 || Object.is(v, -0) ? '-' : ''}${s.slice(0, -6)}.${s.slice(-6)}`;
    };
    const ties = fc
      .tuple(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 63 }))
      .map(([i, j]) => i + (2 * j + 1) / 128);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.double({ min: -2e6, max: 2e6, noNaN: true }),
          ties,
        ),
        (v) => {
          expect(formatRealFixed(v)).toBe(reference(v));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('toText (readable form)', () => {
  it.each([
    [none(), 'nil'],
    [boolean(true), 'T'],
    [boolean(false), 'F'],
    [count(MAX_COUNT), '18446744073709551615'],
    [integer(MIN_INTEGER), '-9223372036854775808'],
    [real(1), '1.0'],
    [real(-0), '-0.0'],
    [real(-7.5), '-7.5'],
    [real(0.1), '0.1'],
    [real(1e21), '1e+21'],
    [real(Number.NaN), 'NaN'],
    [string('a b'), 'a b'],
    [address('2001:db8::1'), '2001:db8::1'],
    [address('10.0.0.1'), '10.0.0.1'],
    [subnet('10.9.8.7/8'), '10.0.0.0/8'],
    [port(80, 'tcp'), '80/tcp'],
    [port(53, 'udp'), '53/udp'],
    [port(8, 'icmp'), '8/icmp'],
    [port(0, 'unknown'), '0/?'],
    [enumValue('Log::WRITER_ASCII'), 'Log::WRITER_ASCII'],
    [set([string('b'), count(1), string('a')]), '{1, "a", "b"}'],
    [vector([string('a, b'), none(), vector([])]), '["a, b", nil, []]'],
    [
      table([
        [string('k'), set([])],
        [count(2), real(2.5)],
      ]),
      '{2 -> 2.5, "k" -> {}}',
    ],
  ])('%# %s', (v, text) => {
    expect(toText(v)).toBe(text);
  });
});

describe("toBrokerString (Broker's to_string)", () => {
  it.each([
    [none(), 'nil'],
    [boolean(true), 'T'],
    [count(42), '42'],
    [integer(-10), '-10'],
    [real(-7.5), '-7.500000'],
    [real(0.0078125), '0.007812'],
    [string('foo'), 'foo'],
    [address('1.2.3.4'), '1.2.3.4'],
    [subnet('1.2.3.4/16'), '1.2.0.0/16'],
    [subnet('::/0'), '::/0'],
    [port(80, 'tcp'), '80/tcp'],
    [port(0, 'unknown'), '0/?'],
    [timestamp(12345n), '12345ns'],
    [timespan(-5_000_000_000n), '-5000000000ns'],
    [enumValue('foo'), 'foo'],
    // Broker's data.test.cc
    [vector([integer(42), integer(43), integer(44)]), '(42, 43, 44)'],
    [set([string('foo'), string('bar'), string('baz'), string('foo')]), '{bar, baz, foo}'],
    [
      table([
        [string('foo'), integer(42)],
        [string('bar'), integer(43)],
        [string('baz'), integer(44)],
      ]),
      '{bar -> 43, baz -> 44, foo -> 42}',
    ],
    [vector([set([]), table([]), vector([])]), '({}, {}, ())'],
  ])('%# %s', (v, text) => {
    expect(toBrokerString(v)).toBe(text);
  });
});
