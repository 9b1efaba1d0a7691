/** fast-check generators for Broker values, shared by the property tests. */
import fc from 'fast-check';
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
  vector,
  type Data,
} from 'isobroker';

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const addressBytes = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);

export interface DataArbOptions {
  /** Maximum container nesting depth. @default 3 */
  readonly depth?: number;
  /** Include NaN and ±Infinity reals (not representable in Broker JSON v1). @default true */
  readonly nonFinite?: boolean;
}

/** Scalar Broker values of every scalar type. */
export function scalarArb(opts: DataArbOptions = {}): fc.Arbitrary<Data> {
  const nonFinite = opts.nonFinite ?? true;
  return fc.oneof(
    fc.constant(none()),
    fc.boolean().map(boolean),
    uint64.map(count),
    int64.map(integer),
    fc.double({ noNaN: !nonFinite, noDefaultInfinity: !nonFinite }).map(real),
    fc.string({ unit: 'grapheme', maxLength: 20 }).map(string),
    addressBytes.map((b) => address(b)),
    addressBytes.chain((b) =>
      fc.integer({ min: 0, max: b.length === 4 ? 32 : 128 }).map((len) => subnet(address(b), len)),
    ),
    fc
      .tuple(
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom('tcp', 'udp', 'icmp', 'unknown') as fc.Arbitrary<'tcp' | 'udp' | 'icmp' | 'unknown'>,
      )
      .map(([n, p]) => port(n, p)),
    int64.map(timestamp),
    int64.map(timespan),
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}(::[A-Z_]{1,10})?$/).map(enumValue),
  );
}

/** Any Broker value, containers nested up to `depth`. */
export function dataArb(opts: DataArbOptions = {}): fc.Arbitrary<Data> {
  const depth = opts.depth ?? 3;
  const { data } = fc.letrec<{ data: Data }>((tie) => ({
    data: fc.oneof(
      { depthSize: 'small', maxDepth: depth, withCrossShrink: true },
      scalarArb(opts),
      fc.array(tie('data'), { maxLength: 5 }).map((xs) => vector(xs)),
      fc.array(tie('data'), { maxLength: 5 }).map((xs) => set(xs)),
      fc.array(fc.tuple(tie('data'), tie('data')), { maxLength: 4 }).map((xs) => table(xs)),
    ),
  }));
  return data;
}
