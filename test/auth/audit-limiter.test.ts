/** AuditLimiter with a fake clock: sliding window per key and kind, suppressed counts, bounded keys. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { AuditLimiter, DEFAULT_AUDIT_LIMITS } from '../../src/auth/audit-limiter.js';
import { AUDIT_KINDS, type AuditEvent, type AuditKind } from '../../src/auth/types.js';

function fakeClock(start = 0) {
  let t = start;
  return {
    now: () => t,
    set(ms: number) {
      t = ms;
    },
  };
}

describe('AuditLimiter', () => {
  it('defaults to 10 per 10 s and reports the left-out count with the next recorded event', () => {
    const clock = fakeClock();
    const l = new AuditLimiter({ now: clock.now });
    expect([l.limit, l.intervalMs, l.maxKeys]).toEqual([10, 10_000, DEFAULT_AUDIT_LIMITS.maxKeys]);
    for (let i = 0; i < 10; i++) expect(l.admit('c1', 'publish_denied')).toBe(0);
    for (let i = 0; i < 5; i++) expect(l.admit('c1', 'publish_denied')).toBeUndefined();
    clock.set(9_999);
    expect(l.admit('c1', 'publish_denied')).toBeUndefined();
    clock.set(10_000);
    expect(l.admit('c1', 'publish_denied')).toBe(6);
    expect(l.admit('c1', 'publish_denied')).toBe(0);
    expect(l.suppressedTotal).toBe(6);
  });

  it('is a sliding window: a slot frees when the oldest recorded event leaves it', () => {
    const clock = fakeClock();
    const l = new AuditLimiter({ limit: 3, intervalMs: 1000, now: clock.now });
    for (const t of [0, 100, 200]) {
      clock.set(t);
      expect(l.admit('k', 'limit_exceeded')).toBe(0);
    }
    for (const t of [300, 999]) {
      clock.set(t);
      expect(l.admit('k', 'limit_exceeded')).toBeUndefined();
    }
    clock.set(1000);
    expect(l.admit('k', 'limit_exceeded')).toBe(2);
    clock.set(1099);
    expect(l.admit('k', 'limit_exceeded')).toBeUndefined();
    clock.set(1100);
    expect(l.admit('k', 'limit_exceeded')).toBe(1);
  });

  it('limits each key and kind separately', () => {
    const l = new AuditLimiter({ limit: 1, now: () => 0 });
    expect(l.admit('a', 'publish_denied')).toBe(0);
    expect(l.admit('a', 'publish_denied')).toBeUndefined();
    expect(l.admit('a', 'subscribe_denied')).toBe(0);
    expect(l.admit('b', 'publish_denied')).toBe(0);
    expect(l.keys).toBe(2);
  });

  it('filter returns the event, with suppressed only when some were left out', () => {
    const clock = fakeClock();
    const l = new AuditLimiter({ limit: 1, intervalMs: 1000, now: clock.now });
    const e: AuditEvent = { kind: 'store_denied', time: 1, subject: 'prefs', code: 'forbidden' };
    expect(l.filter('c', e)).toBe(e);
    expect(l.filter('c', e)).toBeUndefined();
    expect(l.filter('c', e)).toBeUndefined();
    clock.set(1000);
    expect(l.filter('c', e)).toEqual({ ...e, suppressed: 2 });
  });

  it('forget drops a key and hands back its unreported counts', () => {
    const l = new AuditLimiter({ limit: 1, now: () => 0 });
    l.admit('c', 'publish_denied');
    l.admit('c', 'publish_denied');
    l.admit('c', 'publish_denied');
    l.admit('c', 'subscribe_denied');
    expect(l.forget('c')).toEqual([{ kind: 'publish_denied', suppressed: 2 }]);
    expect(l.keys).toBe(0);
    expect(l.forget('c')).toEqual([]);
    expect(l.admit('c', 'publish_denied')).toBe(0);
  });

  it('tracks at most maxKeys keys; the rest share one overflow state per kind', () => {
    const l = new AuditLimiter({ limit: 2, maxKeys: 2, now: () => 0 });
    expect(l.admit('a', 'auth_failed')).toBe(0);
    expect(l.admit('b', 'auth_failed')).toBe(0);
    // 1,000 further connections: two events of theirs get through, the rest are counted.
    let admitted = 0;
    for (let i = 0; i < 1000; i++) if (l.admit(`x${i}`, 'auth_failed') !== undefined) admitted++;
    expect(admitted).toBe(2);
    expect(l.keys).toBe(2);
    expect(l.suppressedTotal).toBe(998);
    expect(l.forget('x5')).toEqual([]);
    // Forgetting a tracked key makes room for a new one.
    l.forget('a');
    expect(l.admit('fresh', 'auth_failed')).toBe(0);
    expect(l.keys).toBe(2);
  });

  it('rejects bad options', () => {
    const now = () => 0;
    expect(() => new AuditLimiter({} as never)).toThrow(ConfigError);
    expect(() => new AuditLimiter({ now, limit: 0 })).toThrow(/limit/);
    expect(() => new AuditLimiter({ now, intervalMs: 1.5 })).toThrow(/intervalMs/);
    expect(() => new AuditLimiter({ now, maxKeys: -1 })).toThrow(/maxKeys/);
    expect(() => new AuditLimiter(undefined as never)).toThrow(ConfigError);
  });

  it('records exactly what fits limit per key and kind in any window, and loses no count', () => {
    const eventArb = fc.tuple(
      fc.integer({ min: 0, max: 300 }),
      fc.constantFrom('a', 'b', 'c'),
      fc.constantFrom<AuditKind>(...AUDIT_KINDS.slice(0, 3)),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.array(eventArb, { maxLength: 200 }),
        (limit, intervalMs, events) => {
          const clock = fakeClock();
          const l = new AuditLimiter({ limit, intervalMs, now: clock.now });
          const recorded = new Map<string, number[]>();
          let reported = 0;
          let t = 0;
          for (const [dt, key, kind] of events) {
            t += dt;
            clock.set(t);
            const s = l.admit(key, kind);
            const times = recorded.get(`${key} ${kind}`) ?? [];
            if (s === undefined) {
              // Left out only when the window already holds `limit` recorded events.
              expect(times.filter((x) => t - x < intervalMs).length).toBe(limit);
              continue;
            }
            reported += s;
            times.push(t);
            recorded.set(`${key} ${kind}`, times);
            const inWindow = times.filter((x) => t - x < intervalMs).length;
            expect(inWindow).toBeLessThanOrEqual(limit);
          }
          let pending = 0;
          for (const key of ['a', 'b', 'c']) for (const c of l.forget(key)) pending += c.suppressed;
          const total = [...recorded.values()].reduce((n, xs) => n + xs.length, 0);
          expect(total + reported + pending).toBe(events.length);
          expect(reported + pending).toBe(l.suppressedTotal);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
