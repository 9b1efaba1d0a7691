import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { address, formatAddress, parseAddress, subnet } from 'isobroker';
import { addressToString, isIPv4 } from '../../src/internal.js';

function bytesOf(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

describe('address text', () => {
  it.each([
    // [input, Broker's printed form]
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['192.128.4.4', '192.128.4.4'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8::', '2001:db8::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['ffff::ffff', 'ffff::ffff'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'], // a run of one zero group is not compressed
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: the first run wins
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
    ['0:0:1:0:0:0:0:2', '0:0:1::2'],
    ['1:0:0:0:2:0:0:0', '1::2:0:0:0'],
    ['::ffff:1.2.3.4', '1.2.3.4'], // v4-mapped prints dotted
    ['::FFFF:102:304', '1.2.3.4'],
    ['::ffff:0.0.0.0', '0.0.0.0'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible: Broker (CAF) prints hex, unlike inet_ntop
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::fffe:1.2.3.4', '::fffe:102:304'],
    ['0:0:0:0:0:1:ffff:0', '::1:ffff:0'],
  ])('%s → %s', (input, printed) => {
    const bytes = parseAddress(input);
    expect(bytes).toBeDefined();
    expect(formatAddress(bytes!)).toBe(printed);
    expect(addressToString(address(input))).toBe(printed);
    // The printed form parses back to the same bytes.
    expect(parseAddress(printed)).toEqual(bytes);
  });

  it('parseAddress returns undefined instead of throwing', () => {
    expect(parseAddress('1.2.3')).toBeUndefined();
    expect(parseAddress('fe80::1%eth0')).toBeUndefined();
  });

  it('isIPv4 tells the families apart by the v4-mapped prefix', () => {
    expect(isIPv4(address('1.2.3.4'))).toBe(true);
    expect(isIPv4(address('::ffff:0:0'))).toBe(true);
    expect(isIPv4(address('::1.2.3.4'))).toBe(false);
    expect(isIPv4(address('::'))).toBe(false);
    expect(isIPv4(subnet('10.0.0.0/8'))).toBe(true);
    expect(isIPv4(subnet('::/0'))).toBe(false);
  });

  it('compresses exactly the first longest run of two or more zero groups (property)', () => {
    const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const bytes = bytesOf(words);
        const text = formatAddress(bytes);
        expect(parseAddress(text)).toEqual(bytes);
        const v4Mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
        if (v4Mapped) {
          expect(text).toBe(`${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`);
          return;
        }
        // Reference: the first longest run of zeros, at least 2 long.
        let best = -1;
        let bestLen = 1;
        for (let i = 0; i < 8; i++) {
          let j = i;
          while (j < 8 && words[j] === 0) j++;
          if (j - i > bestLen) [best, bestLen] = [i, j - i];
        }
        const hex = words.map((w) => w.toString(16));
        const expected =
          best < 0 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
        expect(text).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every IPv4 text form (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        const text = [...b].join('.');
        expect(formatAddress(address(text).bytes)).toBe(text);
        expect(address(text)).toEqual(address(b));
      }),
    );
  });
});
