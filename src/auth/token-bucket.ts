/**
 * A token bucket for rate limits (e.g. a client connection's publish rate): it holds up to `burst`
 * tokens, refills at `rate` tokens per second, and each operation takes tokens. The clock is
 * injected, so the bucket is pure and testable.
 */
import { ConfigError, ValueError } from '../errors.js';
import { checkOptionsObject, fnOption, numberOption } from '../util/options.js';

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second; 0 means unlimited (every `take` succeeds), as in `PrincipalLimits`. */
  readonly rate: number;
  /**
   * Most tokens the bucket holds (the largest burst); at least 1. The bucket starts full.
   * @default rate (one second's worth), at least 1
   */
  readonly burst?: number;
  /** Monotonic clock in milliseconds (e.g. `() => performance.now()`). */
  readonly now: () => number;
}

/**
 * Tolerance on the token count, so that waiting exactly `msUntil(n)` always makes `take(n)`
 * succeed despite floating-point rounding (a billionth of a token is never worth refusing).
 */
const EPSILON = 1e-9;

/** Rate limit by token bucket; see {@link TokenBucketOptions}. */
export class TokenBucket {
  /** Tokens per second (0: unlimited). */
  readonly rate: number;
  /** Capacity, tokens. */
  readonly burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(options: TokenBucketOptions) {
    checkOptionsObject('TokenBucket options', options);
    if (options?.rate === undefined) throw new ConfigError('rate', 'required (tokens per second, 0 = unlimited)');
    this.rate = numberOption('rate', options.rate, 0, 0);
    this.burst = numberOption('burst', options.burst, Math.max(1, this.rate), 1);
    const now = fnOption('now', options.now);
    if (now === undefined) throw new ConfigError('now', 'required (a monotonic clock in milliseconds)');
    this.#now = now;
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `n` tokens if there are that many, else takes none; true when taken. */
  take(n = 1): boolean {
    checkCount(n);
    if (this.rate === 0) return true;
    this.#refill();
    if (this.#tokens + EPSILON < n) return false;
    this.#tokens = Math.max(0, this.#tokens - n);
    return true;
  }

  /**
   * Milliseconds (whole, rounded up) until `take(n)` can succeed: 0 when it can now, `Infinity`
   * when `n` exceeds the burst (it never can).
   */
  msUntil(n = 1): number {
    checkCount(n);
    if (this.rate === 0) return 0;
    if (n > this.burst) return Number.POSITIVE_INFINITY;
    this.#refill();
    const missing = n - this.#tokens;
    return missing <= EPSILON ? 0 : Math.ceil((missing * 1000) / this.rate);
  }

  #refill(): void {
    const t = this.#now();
    // A clock that went back adds nothing; counting resumes from the new reading.
    const elapsed = t - this.#last;
    this.#last = t;
    if (elapsed > 0 && this.#tokens < this.burst)
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000);
  }
}

function checkCount(n: number): void {
  if (typeof n !== 'number' || !(n >= 0) || !Number.isFinite(n))
    throw new ValueError(`token count must be a finite number ≥ 0, got ${String(n)}`);
}
