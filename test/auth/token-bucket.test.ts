/** TokenBucket with a fake clock: burst, refill, msUntil, unlimited rate, bad options. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ValueError } from '../../src/errors.js';
import { TokenBucket } from '../../src/auth/token-bucket.js';

function fakeClock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    set(ms: number) {
      t = ms;
    },
  };
}

describe('TokenBucket', () => {
  it('starts full, allows a burst, then refuses until it refills', () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 10, burst: 5, now: clock.now });
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.msUntil()).toBe(100);
    clock.advance(99);
    expect(b.take()).toBe(false);
    clock.advance(1);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });

  it('refills at the rate, never above the burst', () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 100, burst: 20, now: clock.now });
    expect(b.take(20)).toBe(true);
    clock.advance(50);
    expect(b.tokens).toBeCloseTo(5, 9);
    clock.advance(10_000);
    expect(b.tokens).toBe(20);
    expect(b.take(21)).toBe(false);
    expect(b.take(20)).toBe(true);
  });

  it('take(n) takes all or nothing; msUntil says how long for n', () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 4, burst: 8, now: clock.now });
    expect(b.take(6)).toBe(true);
    expect(b.take(3)).toBe(false);
    expect(b.tokens).toBeCloseTo(2, 9);
    expect(b.msUntil(3)).toBe(250);
    expect(b.msUntil(2)).toBe(0);
    expect(b.msUntil(9)).toBe(Number.POSITIVE_INFINITY);
    expect(b.take(0)).toBe(true);
  });

  it('defaults the burst to one second of the rate (at least 1)', () => {
    expect(new TokenBucket({ rate: 50, now: () => 0 }).burst).toBe(50);
    expect(new TokenBucket({ rate: 0.5, now: () => 0 }).burst).toBe(1);
  });

  it('rate 0 is unlimited', () => {
    const b = new TokenBucket({ rate: 0, now: () => 0 });
    for (let i = 0; i < 1000; i++) expect(b.take(10)).toBe(true);
    expect(b.msUntil(1e6)).toBe(0);
  });

  it('a clock going backwards adds no tokens', () => {
    const clock = fakeClock(10_000);
    const b = new TokenBucket({ rate: 1, burst: 1, now: clock.now });
    expect(b.take()).toBe(true);
    clock.set(0);
    expect(b.take()).toBe(false);
    clock.set(999);
    expect(b.take()).toBe(false);
    clock.set(1000);
    expect(b.take()).toBe(true);
  });

  it('rejects bad options and counts', () => {
    const now = () => 0;
    expect(() => new TokenBucket({ now } as never)).toThrow(ConfigError);
    expect(() => new TokenBucket({ rate: -1, now })).toThrow(/rate/);
    expect(() => new TokenBucket({ rate: 1, burst: 0.5, now })).toThrow(/burst/);
    expect(() => new TokenBucket({ rate: 1 } as never)).toThrow(/now/);
    expect(() => new TokenBucket(null as never)).toThrow(ConfigError);
    const b = new TokenBucket({ rate: 1, now });
    expect(() => b.take(-1)).toThrow(ValueError);
    expect(() => b.msUntil(Number.NaN)).toThrow(ValueError);
  });

  it('waiting msUntil(n) always suffices, and admits at most burst + rate × time', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 10_000, noNaN: true }),
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 5, noNaN: true })), {
          maxLength: 60,
        }),
        (rate, burst, steps) => {
          const clock = fakeClock(0);
          const b = new TokenBucket({ rate, burst, now: clock.now });
          let taken = 0;
          for (const [dt, n] of steps) {
            clock.advance(dt);
            if (b.take(n)) taken += n;
            else if (n <= burst) {
              const wait = b.msUntil(n);
              expect(wait).toBeGreaterThan(0);
              clock.advance(wait);
              expect(b.take(n)).toBe(true);
              taken += n;
            } else expect(b.msUntil(n)).toBe(Number.POSITIVE_INFINITY);
          }
          expect(taken).toBeLessThanOrEqual(burst + (rate * clock.now()) / 1000 + 1e-6);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
