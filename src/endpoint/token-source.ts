/**
 * The dialling side's credential: the current bearer token of one peering, renewed through the
 * application's `getToken` before it expires. Pure: the clock and timers are injected, and the
 * token's `exp` is read from its payload without verifying anything (the hub verifies; we only
 * need to know when to ask for a new one).
 *
 * When a token holds an `exp`, `getToken` is called at about 80 % of its remaining lifetime minus
 * up to 10 % of jitter (so that many clients given tokens at once do not all return at once),
 * and a failed call is retried with exponential backoff and jitter (capped) while the current
 * token stays in use. A new connection (`forDial`) first renews a token that expired or expires
 * within `REFRESH_MARGIN_MS`. Tokens never appear in an error message.
 */
import { IsobrokerError } from '../errors.js';
import { backoffDelay } from './backoff.js';
import type { Timers } from '../util/timers.js';

/** A token expiring within this many ms is renewed before it is used for a new connection. */
export const REFRESH_MARGIN_MS = 60_000;
/** The share of a token's remaining lifetime after which it is renewed (before jitter). */
export const REFRESH_FRACTION = 0.8;
/** The most jitter taken off the renewal time, as a share of the remaining lifetime. */
export const REFRESH_JITTER = 0.1;
/** First delay before a failed `getToken` is retried, ms. */
export const DEFAULT_TOKEN_RETRY_MS = 1000;
/** Largest delay between retries of a failing `getToken`, ms. */
export const DEFAULT_TOKEN_MAX_RETRY_MS = 60_000;
/** The subprotocol that names the isobroker protocol among `bearerProtocols`' offers. */
export const ISOBROKER_SUBPROTOCOL = 'isobroker.v1';
/** Prefix of the subprotocol that carries a bearer token from a browser. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

/** Supplies a fresh token (e.g. from a login service); may return it or a promise of it. */
export type GetToken = () => string | Promise<string>;

/** Options of `new TokenSource(options)`. */
export interface TokenSourceOptions {
  /** The token to start with. @default none: `getToken` is called at the first dial */
  readonly token?: string;
  /** Renews the token. @default none: the token is used as it is until it expires */
  readonly getToken?: GetToken;
  /** Clock and timers. */
  readonly timers: Timers;
  /** Random numbers in [0, 1) for jitter. @default Math.random */
  readonly random?: () => number;
  /** First retry delay of a failing `getToken`, ms. @default DEFAULT_TOKEN_RETRY_MS */
  readonly retry?: number;
  /** Largest retry delay of a failing `getToken`, ms. @default DEFAULT_TOKEN_MAX_RETRY_MS */
  readonly maxRetry?: number;
  /** Told of each failed background renewal (the error never holds a token). @default ignore */
  readonly onError?: (err: IsobrokerError) => void;
}

/**
 * Reads `exp` (seconds since the epoch) from a JWT's payload without verifying it; returns ms
 * since the epoch, or undefined when the token is not a JWT or has no numeric `exp`.
 */
export function tokenExpiry(token: string): number | undefined {
  if (typeof token !== 'string') return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1]!.length === 0 || parts[1]!.length > 65_536) return undefined;
  const json = base64UrlToText(parts[1]!);
  if (json === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object') return undefined;
  const exp = (payload as { exp?: unknown }).exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Decodes base64url (no padding, or with it) to UTF-8 text; undefined for anything else. */
function base64UrlToText(s: string): string | undefined {
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const v = B64URL.indexOf(body[i]!);
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (acc >> bits) & 0xff;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

/**
 * The `Sec-WebSocket-Protocol` offers that carry `token` from a browser:
 * `['isobroker.v1', 'bearer.<token>']` (the hub selects `isobroker.v1` and never echoes the token).
 */
export function bearerProtocols(token: string): string[] {
  if (!isProtocolToken(token))
    throw new IsobrokerError('invalid_argument', 'a bearer token for a subprotocol must be a non-empty HTTP token');
  return [ISOBROKER_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`];
}

/** True when `s` is a non-empty HTTP token (RFC 9110 `tchar`s), as a subprotocol must be. */
export function isProtocolToken(s: string): boolean {
  return typeof s === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(s);
}

/**
 * The current token of one peering and its renewal. Its `current()`/`refresh()` pair is the
 * native session's credential hook (the hello carries `current()`; an in-band refresh awaits
 * `refresh()`).
 */
export class TokenSource {
  private token: string | undefined;
  /** The token last given out (`current`, `forDial`, `refresh`): what the connection presents. */
  private handedOut: string | undefined;
  private expiresAt: number | undefined;
  private inFlight: Promise<string> | undefined;
  private timer: unknown;
  private failures = 0;
  private stopped = false;
  private readonly random: () => number;
  private readonly retry: number;
  private readonly maxRetry: number;

  constructor(private readonly o: TokenSourceOptions) {
    this.random = o.random ?? Math.random;
    this.retry = o.retry ?? DEFAULT_TOKEN_RETRY_MS;
    this.maxRetry = o.maxRetry ?? DEFAULT_TOKEN_MAX_RETRY_MS;
    if (o.token !== undefined) this.adopt(o.token);
  }

  /** The token to present now, or undefined before the first `getToken` answered. */
  current(): string | undefined {
    this.handedOut = this.token;
    return this.token;
  }

  /** When the current token expires (ms since the epoch), if it says. */
  expiry(): number | undefined {
    return this.expiresAt;
  }

  /**
   * The token for a new connection: renews it first (awaiting `getToken`) when there is none, or
   * when it expired or expires within `REFRESH_MARGIN_MS`. Rejects when that renewal fails.
   */
  async forDial(): Promise<string | undefined> {
    if (this.o.getToken !== undefined && (this.token === undefined || this.expiresSoon()))
      this.handedOut = await this.fetch();
    else this.handedOut = this.token;
    return this.handedOut;
  }

  /**
   * A newer token than the one the connection presents (the hub warned that it expires): the
   * one the scheduled renewal already fetched, if it is not expiring too, else a new one from
   * `getToken` (one call at a time: concurrent callers share it). Without `getToken`, the
   * current token. Rejects when `getToken` fails.
   */
  async refresh(): Promise<string | undefined> {
    if (this.o.getToken !== undefined) {
      const renewed = this.token !== undefined && this.token !== this.handedOut && !this.expiresSoon();
      if (!renewed) await this.fetch();
    }
    this.handedOut = this.token;
    return this.token;
  }

  /** Cancels the scheduled renewal; `forDial` and `refresh` still work. Call when the peering ends. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private expiresSoon(): boolean {
    return this.expiresAt !== undefined && this.expiresAt - this.o.timers.now() <= REFRESH_MARGIN_MS;
  }

  private fetch(): Promise<string> {
    if (this.inFlight) return this.inFlight;
    const getToken = this.o.getToken!;
    const p = (async () => {
      let t: unknown;
      try {
        t = await getToken();
      } catch (err) {
        throw new IsobrokerError(
          'token_unavailable',
          `getToken failed${err instanceof Error && err.message ? `: ${err.message}` : ''}`,
          { cause: err },
        );
      }
      if (typeof t !== 'string' || t.length === 0)
        throw new IsobrokerError(
          'token_unavailable',
          `getToken returned ${typeof t === 'string' ? 'an empty string' : typeof t}, not a token`,
        );
      return t;
    })();
    this.inFlight = p.then(
      (t) => {
        this.inFlight = undefined;
        this.failures = 0;
        this.adopt(t);
        return t;
      },
      (err: unknown) => {
        this.inFlight = undefined;
        this.failed(err);
        throw err;
      },
    );
    return this.inFlight;
  }

  private adopt(token: string): void {
    this.token = token;
    this.expiresAt = tokenExpiry(token);
    this.schedule();
  }

  /** Arms the renewal at ~80 % of the remaining lifetime, minus jitter. */
  private schedule(): void {
    this.clearTimer();
    if (this.stopped || this.o.getToken === undefined || this.expiresAt === undefined) return;
    const remaining = this.expiresAt - this.o.timers.now();
    if (remaining <= 0) return; // expired: the next dial or refresh renews it
    const delay = Math.max(0, remaining * (REFRESH_FRACTION - REFRESH_JITTER * this.random()));
    this.arm(delay);
  }

  private failed(err: unknown): void {
    const e = err instanceof IsobrokerError ? err : new IsobrokerError('token_unavailable', 'getToken failed');
    this.o.onError?.(e);
    if (this.stopped) return;
    this.arm(backoffDelay(this.failures++, this.retry, this.maxRetry, this.random));
  }

  private arm(ms: number): void {
    this.clearTimer();
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      // A failure re-arms through `failed`; success through `adopt`.
      this.fetch().catch(() => {});
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
