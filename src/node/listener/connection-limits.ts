/**
 * Connection limits of a listener, checked before a WebSocket exists: connections in total and
 * per client IP, new connections per IP per second, connections per IP still authenticating, and
 * authentication failures per IP (after too many, that IP is refused for a cool-down while every
 * other IP connects as usual). Pure bookkeeping with an injected clock; the listener answers a
 * refusal with HTTP 503 (total) or 429 (per IP).
 */
import { ConfigError } from '../../errors.js';
import { checkOptionsObject, intOption } from '../../util/options.js';

/** Limits of `listen(…, { limits })`; 0 turns a count limit off. Defaults marked "auth" apply when `auth` is given, else that limit is off. */
export interface ConnectionLimits {
  /** WebSocket connections in total (HTTP 503 beyond). @default 20000 */
  readonly maxConnections?: number;
  /** WebSocket connections per client IP (HTTP 429 beyond). @default auth 2000, else 0 (off) */
  readonly maxConnectionsPerIp?: number;
  /** New WebSocket connections per client IP per second (HTTP 429 beyond). @default auth 500, else 0 (off) */
  readonly newConnectionsPerIpPerSecond?: number;
  /** Connections per client IP that have not authenticated yet (HTTP 429 beyond). @default auth 256, else 0 (off) */
  readonly maxPreAuthPerIp?: number;
  /** Authentication failures per IP within `authFailureWindow` after which that IP gets HTTP 429 for `authFailureCooldown`. @default 20 */
  readonly maxAuthFailuresPerIp?: number;
  /** Window of `maxAuthFailuresPerIp`, ms. @default 10000 */
  readonly authFailureWindow?: number;
  /** How long an IP over `maxAuthFailuresPerIp` is refused, ms. @default 30000 */
  readonly authFailureCooldown?: number;
  /** Absolute deadline from TCP accept to authenticated, ms; then the connection is closed (native 4008, JSON v1 1008). @default 5000 */
  readonly preAuthTimeout?: number;
  /** Bytes a connection may send before it is authenticated (its hello), framing included; beyond, it is closed with 1009. @default 65536 + 14 */
  readonly preAuthMaxBytes?: number;
  /** Time to receive a request's headers (slowloris), ms. @default 5000 */
  readonly headersTimeout?: number;
  /** Time to receive a whole plain HTTP request, ms (0 or at least `headersTimeout`). @default 30000 */
  readonly requestTimeout?: number;
  /** Largest request head (request line and headers), bytes; larger gets HTTP 431. @default 16384 */
  readonly maxHeaderSize?: number;
  /** Largest Authorization, Cookie or Sec-WebSocket-Protocol header value, bytes; larger gets HTTP 431. @default 8192 */
  readonly maxCredentialHeaderBytes?: number;
  /** TLS handshake deadline, ms. @default 5000 */
  readonly tlsHandshakeTimeout?: number;
}

/** Why an upgrade is refused before the WebSocket exists. */
export interface LimitRefusal {
  readonly status: 429 | 503;
  /** `connections`, `connections_per_ip`, `new_connections_per_ip`, `pre_auth_per_ip` or `auth_failures`. */
  readonly limit: string;
}

/** One admitted connection's place in the counts; both calls are idempotent. */
export interface ConnectionSlot {
  /** The connection authenticated (or needs none): it no longer counts as pre-auth. */
  authenticated(): void;
  /** The connection ended. */
  release(): void;
}

/** Resolves `limits` against the defaults (the per-IP ones only when `auth` is on). */
export function resolveConnectionLimits(l: ConnectionLimits | undefined, auth: boolean): Required<ConnectionLimits> {
  checkOptionsObject('limits', l);
  const r = l ?? {};
  const max = 1_000_000_000;
  const headersTimeout = intOption('limits.headersTimeout', r.headersTimeout, 5000, 1, max);
  const requestTimeout = intOption('limits.requestTimeout', r.requestTimeout, Math.max(30000, headersTimeout), 0, max);
  if (requestTimeout !== 0 && requestTimeout < headersTimeout)
    throw new ConfigError('limits.requestTimeout', `expected 0 or at least limits.headersTimeout (${headersTimeout})`);
  return {
    maxConnections: intOption('limits.maxConnections', r.maxConnections, 20000, 0, max),
    maxConnectionsPerIp: intOption('limits.maxConnectionsPerIp', r.maxConnectionsPerIp, auth ? 2000 : 0, 0, max),
    newConnectionsPerIpPerSecond: intOption(
      'limits.newConnectionsPerIpPerSecond',
      r.newConnectionsPerIpPerSecond,
      auth ? 500 : 0,
      0,
      max,
    ),
    maxPreAuthPerIp: intOption('limits.maxPreAuthPerIp', r.maxPreAuthPerIp, auth ? 256 : 0, 0, max),
    maxAuthFailuresPerIp: intOption('limits.maxAuthFailuresPerIp', r.maxAuthFailuresPerIp, 20, 1, max),
    authFailureWindow: intOption('limits.authFailureWindow', r.authFailureWindow, 10000, 1, max),
    authFailureCooldown: intOption('limits.authFailureCooldown', r.authFailureCooldown, 30000, 0, max),
    preAuthTimeout: intOption('limits.preAuthTimeout', r.preAuthTimeout, 5000, 1, max),
    preAuthMaxBytes: intOption('limits.preAuthMaxBytes', r.preAuthMaxBytes, 65536 + 14, 16, max),
    headersTimeout,
    requestTimeout,
    maxHeaderSize: intOption('limits.maxHeaderSize', r.maxHeaderSize, 16384, 1024, 1024 * 1024),
    maxCredentialHeaderBytes: intOption('limits.maxCredentialHeaderBytes', r.maxCredentialHeaderBytes, 8192, 64, max),
    tlsHandshakeTimeout: intOption('limits.tlsHandshakeTimeout', r.tlsHandshakeTimeout, 5000, 1, max),
  };
}

interface IpState {
  open: number;
  preAuth: number;
  rateStart: number;
  rateCount: number;
  failStart: number;
  failCount: number;
  blockedUntil: number;
}

/** Counts connections per IP and decides admissions; `now` is injected (ms). */
export class ConnectionLimiter {
  private readonly ips = new Map<string, IpState>();
  private total = 0;

  constructor(
    private readonly limits: Required<ConnectionLimits>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Connections admitted and not yet released. */
  get connections(): number {
    return this.total;
  }

  private state(ip: string): IpState {
    let s = this.ips.get(ip);
    if (s === undefined) {
      if (this.ips.size >= 10000) this.sweep();
      s = { open: 0, preAuth: 0, rateStart: 0, rateCount: 0, failStart: 0, failCount: 0, blockedUntil: 0 };
      this.ips.set(ip, s);
    }
    return s;
  }

  /** Forgets IPs with nothing open and nothing to remember. */
  private sweep(): void {
    const t = this.now();
    for (const [ip, s] of this.ips)
      if (
        s.open === 0 &&
        s.blockedUntil <= t &&
        t - s.failStart >= this.limits.authFailureWindow &&
        t - s.rateStart >= 1000
      )
        this.ips.delete(ip);
  }

  /** True while `ip` is cooling down after too many authentication failures. */
  blocked(ip: string): boolean {
    const s = this.ips.get(ip);
    return s !== undefined && s.blockedUntil > this.now();
  }

  /** Admits a connection from `ip`, or says which limit refuses it. */
  admit(ip: string): ConnectionSlot | LimitRefusal {
    const l = this.limits;
    const t = this.now();
    const s = this.state(ip);
    if (s.blockedUntil > t) return { status: 429, limit: 'auth_failures' };
    if (l.maxConnections > 0 && this.total >= l.maxConnections) return { status: 503, limit: 'connections' };
    if (l.maxConnectionsPerIp > 0 && s.open >= l.maxConnectionsPerIp)
      return { status: 429, limit: 'connections_per_ip' };
    if (t - s.rateStart >= 1000) {
      s.rateStart = t;
      s.rateCount = 0;
    }
    if (l.newConnectionsPerIpPerSecond > 0 && s.rateCount >= l.newConnectionsPerIpPerSecond)
      return { status: 429, limit: 'new_connections_per_ip' };
    if (l.maxPreAuthPerIp > 0 && s.preAuth >= l.maxPreAuthPerIp) return { status: 429, limit: 'pre_auth_per_ip' };
    s.rateCount++;
    s.open++;
    s.preAuth++;
    this.total++;
    let pre = true;
    let open = true;
    const done = (): void => {
      if (pre) {
        pre = false;
        s.preAuth--;
      }
    };
    return {
      authenticated: done,
      release: () => {
        done();
        if (!open) return;
        open = false;
        s.open--;
        this.total--;
      },
    };
  }

  /** Records an authentication failure from `ip`; true when this one starts a cool-down. */
  authFailed(ip: string): boolean {
    const l = this.limits;
    const t = this.now();
    const s = this.state(ip);
    if (t - s.failStart >= l.authFailureWindow) {
      s.failStart = t;
      s.failCount = 0;
    }
    s.failCount++;
    if (s.failCount >= l.maxAuthFailuresPerIp && s.blockedUntil <= t && l.authFailureCooldown > 0) {
      s.blockedUntil = t + l.authFailureCooldown;
      s.failCount = 0;
      s.failStart = t;
      return true;
    }
    return false;
  }
}

/** True when `r` is a refusal rather than a slot. */
export function isRefusal(r: ConnectionSlot | LimitRefusal): r is LimitRefusal {
  return 'status' in r;
}
