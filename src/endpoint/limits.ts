/** Limits that keep one misbehaving peer from exhausting a hub. */

/** Most prefixes one endpoint or JSON v1 client may subscribe to; a flood beyond it is refused. */
export const MAX_FILTER_PREFIXES = 100_000;
/** Most direct peers one endpoint may announce. */
export const MAX_NEIGHBORS = 10_000;

/** The window over which bad input from one connection is counted, ms. */
export const BAD_INPUT_WINDOW_MS = 10_000;
/** A connection that sends more bad frames (native) or inputs (JSON v1) than this in one window is closed. */
export const BAD_INPUT_CLOSE_LIMIT = 100;
/** Error replies to bad input per connection and window; the rest are counted and reported with the next reply. */
export const ERROR_REPLY_LIMIT = 10;
/** Longest context of an error reply, characters (the rest is cut and marked with `…`). */
export const MAX_ERROR_CONTEXT = 1024;

/** What to do about one bad input: answer it, count it silently, or close the connection. */
export type BadInputAction = 'reply' | 'quiet' | 'close';

/**
 * Counts bad input on one connection: the first `replyLimit` of a window are answered, the rest
 * are only counted (and reported with the next answer), and more than `closeLimit` in one window
 * closes the connection. Error replies therefore never outgrow the input that caused them.
 */
export class BadInputGuard {
  /** Bad inputs seen on this connection. */
  total = 0;
  private windowStart: number;
  private inWindow = 0;
  private replied = 0;
  private unreported = 0;

  constructor(
    private readonly now: () => number,
    readonly closeLimit: number = BAD_INPUT_CLOSE_LIMIT,
    readonly replyLimit: number = ERROR_REPLY_LIMIT,
    readonly windowMs: number = BAD_INPUT_WINDOW_MS,
  ) {
    this.windowStart = now();
  }

  /** Records one bad input and says what to do about it. */
  record(): BadInputAction {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
      this.replied = 0;
    }
    this.total++;
    this.inWindow++;
    if (this.inWindow > this.closeLimit) return 'close';
    if (this.replied < this.replyLimit) {
      this.replied++;
      return 'reply';
    }
    this.unreported++;
    return 'quiet';
  }

  /** Bad inputs not answered since the last call (to mention in the next answer). */
  takeUnreported(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  /** The context of the error that closes the connection. */
  closeContext(): string {
    return `more than ${this.closeLimit} bad inputs within ${this.windowMs} ms (${this.total} in all); closing`;
  }
}

/** `context` cut to MAX_ERROR_CONTEXT characters, plus a note of unanswered earlier errors. */
export function errorContext(context: string, unreported = 0): string {
  const cut = context.length > MAX_ERROR_CONTEXT ? `${context.slice(0, MAX_ERROR_CONTEXT - 1)}…` : context;
  return unreported > 0
    ? `${cut} (and ${unreported} earlier bad input${unreported === 1 ? '' : 's'} not answered)`
    : cut;
}

/**
 * Rate limit per key (e.g. a peer and an error code) over fixed windows: `admit` lets the first
 * `perWindow` events of a key through in each window and counts the rest; `drain` returns the
 * counts of keys whose window ended with suppressed events, so that they can be reported once.
 * At most `maxKeys` keys are tracked; beyond that, new keys share one overflow key.
 */
const OTHER_KEY = '(other)';

export class KeyedRateLimit {
  private readonly keys = new Map<string, { start: number; passed: number; suppressed: number }>();

  constructor(
    private readonly now: () => number,
    readonly perWindow = 5,
    readonly windowMs = 10_000,
    readonly maxKeys = 1000,
  ) {}

  /**
   * Records one event of `key`: returns undefined when it is to be suppressed, otherwise the
   * number of events of this key suppressed before it (in the windows since the last one let through).
   */
  admit(key: string): number | undefined {
    const t = this.now();
    let k = this.keys.get(key);
    if (!k) {
      if (this.keys.size >= this.maxKeys && key !== OTHER_KEY) return this.admit(OTHER_KEY);
      k = { start: t, passed: 0, suppressed: 0 };
      this.keys.set(key, k);
    }
    if (t - k.start >= this.windowMs) {
      k.start = t;
      k.passed = 0;
    }
    if (k.passed >= this.perWindow) {
      k.suppressed++;
      return undefined;
    }
    k.passed++;
    const before = k.suppressed;
    k.suppressed = 0;
    return before;
  }

  /** Keys whose window has ended (every key with `all`), with their suppressed counts (> 0); forgets them. */
  drain(all = false): [key: string, suppressed: number][] {
    const t = this.now();
    const out: [string, number][] = [];
    for (const [key, k] of this.keys) {
      if (!all && t - k.start < this.windowMs) continue;
      if (k.suppressed > 0) out.push([key, k.suppressed]);
      this.keys.delete(key);
    }
    return out;
  }
}
