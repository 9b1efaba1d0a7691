/**
 * The dialling side's token source: `exp` read from a JWT without verifying it, renewal at ~80 %
 * of the remaining lifetime minus jitter, retries with capped exponential backoff, renewal before
 * a dial when the token expires within a minute, one `getToken` call at a time. Manual timers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Timers } from '../../src/util/timers.js';
import {
  REFRESH_MARGIN_MS,
  TokenSource,
  bearerProtocols,
  tokenExpiry,
  type TokenSourceOptions,
} from '../../src/endpoint/token-source.js';
import { IsobrokerError } from '../../src/errors.js';

/** Manual timers: nothing fires until `advance`; each timer runs at its own time. */
class ManualTimers implements Timers {
  t = 1_000_000_000_000;
  private pending: { at: number; fn: () => void; cancelled: boolean }[] = [];
  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const h = { at: this.t + ms, fn, cancelled: false };
    this.pending.push(h);
    return h;
  };
  readonly clearTimeout = (h: unknown): void => {
    (h as { cancelled: boolean }).cancelled = true;
  };
  /** When the next live timer fires, or undefined. */
  get next(): number | undefined {
    const live = this.pending.filter((p) => !p.cancelled).map((p) => p.at);
    return live.length === 0 ? undefined : Math.min(...live);
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.pending.filter((p) => !p.cancelled && p.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      this.t = due.at;
      due.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An unsigned JWT-shaped token with these claims (the source never verifies). */
const jwt = (claims: Record<string, unknown>) => `${b64url({ alg: 'EdDSA', typ: 'JWT' })}.${b64url(claims)}.c2ln`;
/** A token that expires `ms` after `timers.now()` (exp in whole seconds). */
const expiringIn = (timers: ManualTimers, ms: number, n = 0) =>
  jwt({ sub: 'client', n, exp: Math.floor((timers.now() + ms) / 1000) });

function source(timers: ManualTimers, o: Partial<TokenSourceOptions> = {}): TokenSource {
  return new TokenSource({ timers, random: () => 0, ...o });
}

describe('tokenExpiry', () => {
  it('reads exp (seconds) as ms, without verifying', () => {
    expect(tokenExpiry(jwt({ exp: 1_700_000_000 }))).toBe(1_700_000_000_000);
    expect(tokenExpiry(jwt({ exp: 1.5 }))).toBe(1500);
  });

  it('is undefined for what is not a JWT with a numeric exp', () => {
    expect(tokenExpiry('opaque-api-key')).toBeUndefined();
    expect(tokenExpiry('a.b')).toBeUndefined();
    expect(tokenExpiry('a..c')).toBeUndefined();
    expect(tokenExpiry('a.!!!!.c')).toBeUndefined();
    expect(tokenExpiry(`a.${Buffer.from('not json').toString('base64url')}.c`)).toBeUndefined();
    expect(tokenExpiry(jwt({ sub: 'x' }))).toBeUndefined();
    expect(tokenExpiry(jwt({ exp: '1700000000' }))).toBeUndefined();
    expect(tokenExpiry(`a.${b64url([1, 2])}.c`)).toBeUndefined();
    expect(tokenExpiry(`a.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c`)).toBeUndefined();
  });

  it('agrees with Buffer on any payload and never throws on any input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.dictionary(fc.string(), fc.string()), (exp, extra) => {
        const claims = { ...extra, exp };
        expect(tokenExpiry(jwt(claims))).toBe(exp * 1000);
      }),
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        const r = tokenExpiry(`${a}.${b}.${c}`);
        expect(r === undefined || Number.isFinite(r)).toBe(true);
      }),
    );
  });
});

describe('bearerProtocols', () => {
  it('offers isobroker.v1 then bearer.<token>', () => {
    const t = jwt({ exp: 1 });
    expect(bearerProtocols(t)).toEqual(['isobroker.v1', `bearer.${t}`]);
  });
  it('refuses a token that is not an HTTP token, without showing it', () => {
    let err: unknown;
    try {
      bearerProtocols('abc def/secret=');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IsobrokerError);
    expect((err as Error).message).not.toContain('secret');
  });
});

describe('TokenSource', () => {
  it('renews at 80 % of the remaining lifetime minus up to 10 % jitter', async () => {
    for (const [r, share] of [
      [0, 0.8],
      [0.5, 0.75],
    ] as const) {
      const timers = new ManualTimers();
      let calls = 0;
      const s = source(timers, {
        random: () => r,
        token: expiringIn(timers, 1_000_000),
        getToken: () => {
          calls++;
          return expiringIn(timers, 1_000_000, calls);
        },
      });
      const first = s.current();
      await timers.advance(1_000_000 * share - 1);
      expect(calls).toBe(0);
      await timers.advance(1);
      expect(calls).toBe(1);
      expect(s.current()).not.toBe(first);
      expect(s.expiry()).toBe(tokenExpiry(s.current()!));
      // The next renewal is scheduled from the new token's lifetime.
      expect(timers.next).toBe(timers.now() + 1_000_000 * share);
      s.stop();
      expect(timers.next).toBeUndefined();
    }
  });

  it('retries a failing getToken with capped exponential backoff and keeps the current token', async () => {
    const timers = new ManualTimers();
    const errors: IsobrokerError[] = [];
    let calls = 0;
    const at: number[] = [];
    const start = expiringIn(timers, 100_000);
    const s = source(timers, {
      random: () => 0.5, // backoff jitter factor 1.0, renewal at 75 %
      retry: 1000,
      maxRetry: 5000,
      token: start,
      onError: (e) => errors.push(e),
      getToken: () => {
        calls++;
        at.push(timers.now());
        if (calls <= 5) throw new Error(`login service down (${calls})`);
        return expiringIn(timers, 100_000, calls);
      },
    });
    const t0 = timers.now();
    await timers.advance(75_000 + 1000 + 2000 + 4000 + 5000 + 5000);
    expect(at.map((x) => x - t0)).toEqual([75_000, 76_000, 78_000, 82_000, 87_000, 92_000]);
    expect(errors.map((e) => e.code)).toEqual(Array(5).fill('token_unavailable'));
    expect(errors[0]!.message).toContain('login service down (1)');
    expect(s.current()).not.toBe(start);
    // Success resets the backoff: the next renewal is at 75 % again.
    expect(timers.next).toBe(timers.now() + 75_000);
    s.stop();
  });

  it('forDial renews a token that expired or expires within a minute, and only then', async () => {
    const timers = new ManualTimers();
    let calls = 0;
    const getToken = async () => {
      calls++;
      return expiringIn(timers, 3_600_000, calls);
    };
    const fresh = source(timers, { token: expiringIn(timers, REFRESH_MARGIN_MS + 1000), getToken });
    expect(await fresh.forDial()).toBe(fresh.current());
    expect(calls).toBe(0);
    fresh.stop();

    const soon = source(timers, { token: expiringIn(timers, REFRESH_MARGIN_MS - 1000), getToken });
    const old = soon.current();
    const t = await soon.forDial();
    expect(calls).toBe(1);
    expect(t).not.toBe(old);
    expect(soon.current()).toBe(t);
    soon.stop();

    const expired = source(timers, { token: expiringIn(timers, -5000), getToken });
    expect(timers.next).toBeUndefined(); // nothing to schedule for an expired token
    await expired.forDial();
    expect(calls).toBe(2);
    expired.stop();

    const none = source(timers, { getToken });
    expect(none.current()).toBeUndefined();
    await none.forDial();
    expect(calls).toBe(3);
    none.stop();
  });

  it('refresh (the hub warned) hands over an already renewed token, else asks getToken', async () => {
    const timers = new ManualTimers();
    let calls = 0;
    const s = source(timers, {
      token: expiringIn(timers, 1_000_000),
      getToken: () => expiringIn(timers, 1_000_000, ++calls),
    });
    const a = s.current(); // what the hello carries
    await timers.advance(800_000);
    expect(calls).toBe(1);
    // The renewal already fetched b: handed over without another call.
    const b = await s.refresh();
    expect(b).not.toBe(a);
    expect(b).toBe(s.current());
    expect(calls).toBe(1);
    // The session now presents b: a second warning needs a new token.
    const c = await s.refresh();
    expect(calls).toBe(2);
    expect(c).not.toBe(b);
    s.stop();
  });

  it('shares one getToken call among concurrent callers', async () => {
    const timers = new ManualTimers();
    let calls = 0;
    let release!: (t: string) => void;
    const s = source(timers, {
      getToken: () => {
        calls++;
        return new Promise<string>((resolve) => {
          release = resolve;
        });
      },
    });
    const a = s.forDial();
    const b = s.refresh();
    const c = s.forDial();
    await flush();
    expect(calls).toBe(1);
    release('opaque-token');
    expect(await Promise.all([a, b, c])).toEqual(['opaque-token', 'opaque-token', 'opaque-token']);
    // Without exp nothing is scheduled, and a dial reuses the token.
    expect(timers.next).toBeUndefined();
    expect(await s.forDial()).toBe('opaque-token');
    expect(calls).toBe(1);
  });

  it('a static token is used as it is', async () => {
    const timers = new ManualTimers();
    const t = expiringIn(timers, 1000);
    const s = source(timers, { token: t });
    expect(timers.next).toBeUndefined();
    expect(await s.forDial()).toBe(t);
    expect(await s.refresh()).toBe(t);
  });

  it('rejects what getToken returns when it is not a token, without echoing it', async () => {
    const timers = new ManualTimers();
    const errors: IsobrokerError[] = [];
    const s = source(timers, { getToken: () => '' as string, onError: (e) => errors.push(e) });
    await expect(s.forDial()).rejects.toMatchObject({ code: 'token_unavailable' });
    const s2 = source(timers, { getToken: () => 42 as unknown as string });
    await expect(s2.refresh()).rejects.toMatchObject({ code: 'token_unavailable' });
    expect(errors).toHaveLength(1);
    // A failure at a dial also schedules a background retry; stop cancels it.
    expect(timers.next).toBeDefined();
    s.stop();
    s2.stop();
    expect(timers.next).toBeUndefined();
  });
});
