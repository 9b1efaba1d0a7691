import { describe, expect, it } from 'vitest';
import { address, compare, formatAddress, port, set, string, subnet, count, toText } from 'isobroker';

describe('data smoke', () => {
  it('formats addresses like inet_ntop', () => {
    for (const t of ['1.2.3.4', '::1', '::', '2001:db8::', 'fe80::1:2', '1::', '2001:db8:0:0:1:0:0:1', '::1.2.3.4', 'ffff::ffff']) {
      expect(formatAddress(address(t).bytes)).toBe(t === '2001:db8:0:0:1:0:0:1' ? '2001:db8::1:0:0:1' : t);
    }
  });
  it('orders addresses v4-mapped', () => {
    const a = ['2001:db8::', '1.2.3.4', '::1'].map((x) => address(x));
    expect(a.sort(compare).map((x) => formatAddress(x.bytes))).toEqual(['::1', '1.2.3.4', '2001:db8::']);
  });
  it('masks subnets and sorts sets', () => {
    expect(toText(subnet('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(toText(set([string('b'), count(1), string('a'), count(1)]))).toBe('{1, "a", "b"}');
    expect(toText(port('80/tcp'))).toBe('80/tcp');
  });
});
