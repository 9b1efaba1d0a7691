/** canonicalKey: keys Broker calls equal encode to identical bytes; anything else is left as it is. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { count, real, set, string, table, vector } from '../../src/data/constructors.js';
import { compare } from '../../src/data/order.js';
import type { Data } from '../../src/data/types.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { canonicalKey } from '../../src/store/canonical-key.js';
import { dataArb } from '../support/arbitraries.js';

const bytes = (d: Data): number[] => [...encodeValue(d)];
const otherNaN = (): Data => {
  // A NaN with another payload than the canonical one.
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, 0x7ff80000 | 0x1234);
  v.setUint32(4, 0xdeadbeef);
  return real(v.getFloat64(0));
};

describe('canonicalKey', () => {
  it('makes −0 into 0 and every NaN into one NaN, at any depth', () => {
    expect(bytes(canonicalKey(real(-0)))).toEqual(bytes(real(0)));
    expect(bytes(canonicalKey(otherNaN()))).toEqual(bytes(real(Number.NaN)));
    const nested = (z: Data, n: Data): Data =>
      vector([string('a'), set([z]), table([[z, vector([n])]]), vector([vector([n, z])])]);
    expect(bytes(canonicalKey(nested(real(-0), otherNaN())))).toEqual(bytes(nested(real(0), real(Number.NaN))));
  });

  it('returns the very same object when nothing changes', () => {
    const k = vector([string('x'), count(1), table([[real(1.5), set([real(2)])]])]);
    expect(canonicalKey(k)).toBe(k);
    const withZero = vector([string('x'), real(-0)]);
    const c = canonicalKey(withZero);
    expect(c).not.toBe(withZero);
    expect(withZero).toEqual(vector([string('x'), real(-0)])); // the input is not changed
  });

  it('keeps every key equal to itself and gives equal keys the same bytes (property)', () => {
    fc.assert(
      fc.property(dataArb(), (k) => {
        const c = canonicalKey(k);
        expect(compare(c, k)).toBe(0);
        expect(bytes(canonicalKey(c))).toEqual(bytes(c));
      }),
      { numRuns: 300 },
    );
  });
});
