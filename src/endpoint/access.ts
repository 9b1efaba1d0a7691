/**
 * Authorization inside the endpoint (hub side), shared by both protocols: the principal each
 * authenticated connection runs as (`ConnectionAccess`), and the endpoint-wide part
 * (`AccessControl`): topic guards for internal topics (`topic-guards.ts`), rate-limited audit
 * events, node names in use, and revalidation after a policy reload. Connections accepted without
 * `AcceptAuth` (or with a trusted principal) have no `ConnectionAccess` and pay nothing.
 */
import {
  API_KEY_PREFIX,
  AuthCloseCode,
  AuthError,
  type AcceptAuth,
  type AuditEvent,
  type AuditKind,
  type ConnectionInfo,
  type Credential,
  type Grant,
  type Principal,
  type PrincipalLimits,
  type Revalidate,
} from '../auth/types.js';
import { AuditLimiter } from '../auth/audit-limiter.js';
import { LOCAL_ONLY_PREFIXES, NODE_ONLY_PREFIXES } from '../auth/policy-model.js';
import { TokenBucket } from '../auth/token-bucket.js';
import { MessageKind, encodeFrame, encodeMessage } from '../codec/native/messages.js';
import { INTERNAL_TOPIC_PREFIX, isInternalTopic } from '../topic/internal.js';
import type { Transport } from '../transport/transport.js';
import { KeyedRateLimit } from './limits.js';
import type { Timers } from '../util/timers.js';
import { TopicGuards, type ConnectionGuardStates } from './topic-guards.js';

/** Warning (`token_expiring`) this long before a native connection's credential expires, ms. */
export const EXPIRY_WARNING_MS = 60_000;
/** A native connection is closed this long after its credential expired unless it refreshed, ms. */
export const EXPIRY_GRACE_MS = 30_000;
/** A client publishing above its rate this long without a break is closed, ms. */
export const RATE_EXCESS_CLOSE_MS = 5_000;
/** Audit events of one kind per connection and window (the rest are counted in the next one). */
const AUDIT_PER_WINDOW = 5;
const AUDIT_WINDOW_MS = 10_000;
/** Most connections whose audit events are limited separately (the rest share one state). */
const AUDIT_MAX_KEYS = 10_000;
/** Longest single timer; longer waits are re-armed (setTimeout overflows beyond 2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 30;

/** What a requested subscription became under a connection's grant. */
export interface NarrowResult {
  /** The prefixes served (normalisation is the caller's). */
  readonly effective: string[];
  /** Requested prefixes replaced by narrower ones. */
  readonly narrowed: string[];
  /** Requested prefixes not served, with the reason. */
  readonly refused: { prefix: string; error: AuthError }[];
  /** Some served prefix has a deny inside it: deliveries must be checked one by one. */
  readonly filtered: boolean;
}

/** The close code of an auth error on a native link (JSON v1 always closes with 1008). */
export function nativeCloseCode(err: AuthError): number {
  if (err.code === 'forbidden') return AuthCloseCode.Forbidden;
  if (err.code === 'limit_exceeded') return AuthCloseCode.RateLimited;
  return AuthCloseCode.Unauthenticated;
}

/** The credential a hello or `Reauth` carries: `isbk_…` is an API key, anything else a token. */
export function credentialOf(value: string | null | undefined): Credential | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return { kind: value.startsWith(API_KEY_PREFIX) ? 'api_key' : 'bearer', value };
}

/** The reserved prefix under which no remote connection may publish or subscribe, if `topic` is under one. */
function localOnlyPrefix(topic: string): string | undefined {
  return LOCAL_ONLY_PREFIXES.find((r) => topic.startsWith(r));
}

/** The subscription limit of a connection: the endpoint's `max`, or its principal's when smaller. */
export function subscriptionLimit(max: number, a: ConnectionAccess | undefined): number {
  return a ? Math.min(max, a.principal.limits.maxSubscriptions) : max;
}

/**
 * The publish token bucket of a principal's limits: `publishRate` per second (0: unlimited), and a
 * burst of at least one message (a burst below one would refuse everything).
 */
function publishBucket(limits: PrincipalLimits, now: () => number): TokenBucket {
  const rate = limits.publishRate > 0 ? Math.min(limits.publishRate, Number.MAX_VALUE) : 0;
  const burst = limits.publishBurst >= 1 ? Math.min(limits.publishBurst, Number.MAX_VALUE) : 1;
  return new TokenBucket({ rate, burst, now });
}

/** `err` as an `AuthError`: itself, or `unauthenticated` without its message (it may quote a credential). */
export function asAuthError(err: unknown): AuthError {
  return err instanceof AuthError ? err : new AuthError('unauthenticated', 'the credential could not be verified');
}

/** True when `auth` asks for checks (a trusted principal, like no `auth`, needs none). */
export function needsAccess(auth: AcceptAuth | undefined): auth is AcceptAuth {
  return auth !== undefined && auth.principal?.method !== 'trusted';
}

function sameGrant(a: Grant, b: Grant): boolean {
  const eq = (x: readonly string[], y: readonly string[]): boolean =>
    x.length === y.length && x.every((p, i) => p === y[i]);
  return eq(a.allow, b.allow) && eq(a.deny, b.deny);
}

/** How the owner of a connection closes it for an auth reason, and tells it things. */
export interface AccessLink {
  /** Sends an error message (the connection stays open). */
  notify(code: string, context: string): void;
  /** Drops what is queued for the peer, sends the error and closes (4401/4403/4429, JSON v1 1008). */
  refuse(err: AuthError): void;
  /** Stops reading from the peer (where the transport can), until `resume`. */
  pause?(): void;
  resume?(): void;
  /** Another connection took this one's node name (native: Bye `takeover`). */
  replaced?(context: string): void;
}

/** One authenticated connection: its principal, publish checks, rate, expiry. */
export class ConnectionAccess {
  /** Set by the owner once the link exists. */
  link: AccessLink | undefined;
  /** Deliveries must be checked one by one (`mayReceive`): some served prefix needs it. */
  filtered = false;
  /** A served prefix has a deny inside it: topics are checked against `principal.subscribe`. */
  private aclFiltered = false;
  /** An internal prefix was served through a guard with a `deliver` check. */
  private internalFiltered = false;
  /** The subscription last requested (before narrowing), to narrow again after a change. */
  requested: readonly string[] = [];
  /** The node name this connection holds, once registered. */
  node: string | undefined;
  private bucket: TokenBucket;
  private excessSince: number | undefined;
  private lastDrop = 0;
  private pauseTimer: unknown;
  private readonly replies: KeyedRateLimit;
  private warnTimer: unknown;
  private expireTimer: unknown;
  private closed = false;
  private warnedFor: number | undefined;
  /** Per-connection state of the topic guards (e.g. store commands in flight). */
  private readonly guardStates: ConnectionGuardStates = new Map();

  constructor(
    private readonly control: AccessControl,
    public principal: Principal,
    readonly conn: ConnectionInfo,
    /** Verifies a refreshed credential (native `Reauth`); absent when the connection cannot refresh. */
    readonly authenticate: AcceptAuth['authenticate'],
  ) {
    this.bucket = publishBucket(principal.limits, () => control.timers.now());
    this.replies = new KeyedRateLimit(control.timers.now, 10, AUDIT_WINDOW_MS, 16);
  }

  /** Emits an audit event about this connection (rate-limited per kind). */
  audit(kind: AuditKind, fields: Partial<AuditEvent> = {}): void {
    this.control.audit(this, kind, fields);
  }

  /** The refusal of a publish on `topic`, or undefined when it may go on. */
  checkPublish(topic: string, valueBytes: () => Uint8Array): AuthError | undefined {
    const p = this.principal;
    let err: AuthError | undefined;
    const local = localOnlyPrefix(topic);
    if (local !== undefined) {
      err = new AuthError('forbidden', `topics under ${local} are local to each endpoint`);
    } else if (isInternalTopic(topic)) {
      err = this.control.guards.checkPublish(topic, valueBytes(), p, {
        states: this.guardStates,
        now: this.control.timers.now(),
      });
    } else if (p.node === null && NODE_ONLY_PREFIXES.some((r) => topic.startsWith(r))) {
      err = new AuthError('forbidden', `only cluster nodes may publish on '${topic}'`);
    } else if (!p.publish.allows(topic)) {
      err = new AuthError('forbidden', `${p.sub} may not publish on '${topic}'`);
    }
    if (err)
      this.audit(err.code === 'limit_exceeded' ? 'limit_exceeded' : 'publish_denied', {
        subject: topic,
        code: err.code,
      });
    return err;
  }

  /**
   * True when a message on `topic` may be published: within the rate (`admitPublish`) and allowed
   * (`checkPublish`); else it is dropped and the peer told (rate-limited).
   */
  mayPublish(topic: string, valueBytes: () => Uint8Array): boolean {
    if (!this.admitPublish()) return false;
    const err = this.checkPublish(topic, valueBytes);
    if (!err) return true;
    this.reply(err.code, `message on '${topic}' dropped: ${err.message}`);
    return false;
  }

  /**
   * Takes one publish from the token bucket: true when within the rate. Above it the message is
   * to be dropped (with a rate-limited `limit_exceeded` notice); after RATE_EXCESS_CLOSE_MS of
   * continuous excess (drops less than a second apart) the connection is refused.
   */
  admitPublish(): boolean {
    if (this.bucket.take()) return true;
    const publishRate = this.bucket.rate;
    const now = this.control.timers.now();
    // An episode of excess: drops with less than a second between them.
    if (this.excessSince === undefined || now - this.lastDrop > 1000) this.excessSince = now;
    this.lastDrop = now;
    if (now - this.excessSince >= RATE_EXCESS_CLOSE_MS) {
      this.audit('limit_exceeded', { code: 'limit_exceeded', detail: 'publish rate exceeded for 5 s; closing' });
      this.link?.refuse(
        new AuthError('limit_exceeded', `publishing above ${publishRate} messages/s for ${RATE_EXCESS_CLOSE_MS} ms`),
      );
    } else {
      this.audit('limit_exceeded', { code: 'limit_exceeded', detail: `publish rate ${publishRate}/s` });
      this.reply('limit_exceeded', `publish rate of ${publishRate} messages/s exceeded: message dropped`);
      this.pauseUntilToken();
    }
    return false;
  }

  /** Backpressure: reading stops until the bucket holds a token again (where the transport can pause). */
  private pauseUntilToken(): void {
    const link = this.link;
    if (this.pauseTimer !== undefined || !link?.pause || !link.resume) return;
    link.pause();
    const t = this.control.timers;
    this.pauseTimer = t.setTimeout(
      () => {
        this.pauseTimer = undefined;
        if (!this.closed) link.resume!();
      },
      Math.max(1, this.bucket.msUntil(1)),
    );
  }

  /** Sends an error notice to the peer, at most a few per code and window (the rest are counted). */
  reply(code: string, context: string): void {
    const before = this.replies.admit(code);
    if (before === undefined) return;
    this.link?.notify(code, before > 0 ? `${context} (and ${before} more not reported)` : context);
  }

  /**
   * Narrows requested subscription prefixes to the grant (internal ones through the guards); the
   * peer is told of each refused prefix (rate-limited), and refusals and narrowings are audited.
   */
  narrow(prefixes: readonly string[]): NarrowResult {
    this.requested = prefixes;
    const p = this.principal;
    const effective: string[] = [];
    const narrowed: string[] = [];
    const refused: { prefix: string; error: AuthError }[] = [];
    let filtered = false;
    let internalFiltered = false;
    for (const prefix of prefixes) {
      if (isInternalTopic(prefix) || (prefix.length > 0 && INTERNAL_TOPIC_PREFIX.startsWith(prefix))) {
        const local = localOnlyPrefix(prefix);
        const err =
          local !== undefined
            ? new AuthError('forbidden', `${local} topics are local to each endpoint`)
            : this.control.guards.checkSubscribe(prefix, p);
        if (err) refused.push({ prefix, error: err });
        else {
          effective.push(prefix);
          internalFiltered ||= this.control.guards.checksDeliveries(prefix);
        }
        continue;
      }
      const d = p.subscribe.narrow(prefix);
      if (d.kind === 'refuse') {
        refused.push({
          prefix,
          error: new AuthError(
            'forbidden',
            d.reason === 'denied'
              ? `${p.sub} may not subscribe to '${prefix}' (denied)`
              : `${p.sub} may not subscribe to '${prefix}' (outside the grant)`,
          ),
        });
      } else if (d.kind === 'narrow' && p.strict) {
        refused.push({
          prefix,
          error: new AuthError('forbidden', `'${prefix}' is broader than the grant of ${p.sub} (strict)`),
        });
      } else {
        if (d.kind === 'narrow') narrowed.push(prefix);
        effective.push(...d.prefixes);
        filtered ||= d.filtered;
      }
    }
    for (const n of narrowed) this.audit('subscribe_narrowed', { subject: n });
    for (const r of refused) {
      this.audit('subscribe_denied', { subject: r.prefix, code: r.error.code });
      this.reply(r.error.code, `subscription '${r.prefix}' refused: ${r.error.message}`);
    }
    this.aclFiltered = filtered;
    this.internalFiltered = internalFiltered;
    this.filtered = filtered || internalFiltered;
    return { effective, narrowed, refused, filtered };
  }

  /**
   * True when a message on `topic` may be delivered to this connection. `valueBytes` (internal
   * topics) lets the guards' per-connection state see what is delivered (e.g. store acks).
   */
  mayReceive(topic: string, valueBytes?: Uint8Array): boolean {
    if (isInternalTopic(topic))
      return (
        !this.internalFiltered ||
        this.control.guards.checkDelivery(topic, this.principal, valueBytes, this.guardStates) === undefined
      );
    return !this.aclFiltered || this.principal.subscribe.allows(topic);
  }

  /**
   * Arms the expiry timers of the current principal: `warn` EXPIRY_WARNING_MS before expiry
   * (native), and the refusal `graceMs` after it.
   */
  armExpiry(graceMs: number, warn: boolean): void {
    this.clearExpiry();
    const at = this.principal.expiresAt;
    if (at === undefined || this.closed) return;
    const t = this.control.timers;
    // Warned once per expiry time: a Reauth that does not extend it is not asked for again.
    if (warn && this.warnedFor !== at) {
      this.warnTimer = this.later(at - EXPIRY_WARNING_MS, () => {
        this.warnTimer = undefined;
        this.warnedFor = at;
        this.link?.notify('token_expiring', `the credential expires in ${Math.max(0, at - t.now())} ms; send Reauth`);
      });
    }
    this.expireTimer = this.later(at + graceMs, () => {
      this.expireTimer = undefined;
      this.audit('auth_expired', { code: 'token_expired' });
      this.link?.refuse(new AuthError('token_expired', 'the credential expired'));
    });
  }

  /** A timer firing at time `at` (ms since the epoch), re-armed for very long waits. */
  private later(at: number, fn: () => void): unknown {
    const t = this.control.timers;
    const wait = at - t.now();
    const handle = { h: undefined as unknown };
    const arm = (ms: number): void => {
      handle.h = t.setTimeout(
        () => {
          const left = at - t.now();
          if (left > 0) arm(Math.min(left, MAX_TIMER_MS));
          else fn();
        },
        Math.max(0, ms),
      );
    };
    arm(Math.min(wait, MAX_TIMER_MS));
    return handle;
  }

  private clearExpiry(): void {
    for (const h of [this.warnTimer, this.expireTimer]) {
      if (h !== undefined) this.control.timers.clearTimeout((h as { h: unknown }).h);
    }
    this.warnTimer = this.expireTimer = undefined;
  }

  private clearPause(): void {
    if (this.pauseTimer !== undefined) this.control.timers.clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  /**
   * Replaces the principal (refresh or revalidation). A new publish grant applies from the next
   * message. A changed subscribe grant, node or router right closes the connection (4403, JSON v1
   * 1008) with context `permissions_changed`, its queued messages dropped, so that nothing the new
   * grant forbids is delivered and the client reconnects under its new grant. Returns false then.
   */
  replace(next: Principal): boolean {
    const old = this.principal;
    this.principal = next;
    const { publishRate, publishBurst } = next.limits;
    if (publishRate !== old.limits.publishRate || publishBurst !== old.limits.publishBurst)
      this.bucket = publishBucket(next.limits, () => this.control.timers.now());
    if (sameGrant(old.subscribe.grant, next.subscribe.grant) && old.node === next.node && old.router === next.router)
      return true;
    this.audit('auth_revoked', { code: 'forbidden', detail: 'permissions_changed' });
    this.link?.refuse(new AuthError('forbidden', 'permissions_changed: reconnect to be served under the new grant'));
    return false;
  }

  /** The connection closed: timers and registrations go. */
  closed_(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearExpiry();
    this.clearPause();
    this.guardStates.clear();
    this.control.forget(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** The endpoint-wide part of authorization (one per endpoint). */
export class AccessControl {
  /** Guards of internal topics (`endpoint.addTopicGuard`). */
  readonly guards = new TopicGuards();
  private readonly conns = new Set<ConnectionAccess>();
  private readonly nodes = new Map<string, ConnectionAccess>();
  private readonly auditLimit: AuditLimiter;
  private readonly ids = new WeakMap<ConnectionAccess, number>();
  private nextId = 0;

  constructor(
    readonly timers: Timers,
    private readonly sink: (ev: AuditEvent) => void,
  ) {
    this.auditLimit = new AuditLimiter({
      limit: AUDIT_PER_WINDOW,
      intervalMs: AUDIT_WINDOW_MS,
      maxKeys: AUDIT_MAX_KEYS,
      now: () => timers.now(),
    });
  }

  /** Registers a connection running as `principal` (audited `connection_open`). */
  open(principal: Principal, conn: ConnectionInfo, authenticate: AcceptAuth['authenticate']): ConnectionAccess {
    const a = new ConnectionAccess(this, principal, conn, authenticate);
    this.ids.set(a, ++this.nextId);
    this.conns.add(a);
    a.audit('connection_open');
    return a;
  }

  /**
   * Claims node name `name` for `a`; a connection holding it already is closed (`takeover`,
   * audited) and returned.
   */
  claimNode(a: ConnectionAccess, name: string): ConnectionAccess | undefined {
    const old = this.nodes.get(name);
    this.nodes.set(name, a);
    a.node = name;
    if (!old || old === a || old.isClosed) return undefined;
    old.node = undefined;
    a.audit('takeover', { subject: name, detail: `replaces the connection from ${old.conn.remote}` });
    return old;
  }

  forget(a: ConnectionAccess): void {
    if (!this.conns.delete(a)) return;
    if (a.node !== undefined && this.nodes.get(a.node) === a) this.nodes.delete(a.node);
    // Events left out since the last one of their kind are counted once, before the close.
    for (const { kind, suppressed } of this.auditLimit.forget(this.auditKey(a)))
      this.emit({ ...this.eventBase(a, kind), suppressed });
    a.audit('connection_close');
  }

  /**
   * The refusal of a connection that cannot run as anyone: `auth.error`, or no principal where the
   * protocol has no hello to carry a credential (`needsPrincipal`: JSON v1). Audited as
   * `auth_failed`; the caller refuses the transport the way its protocol does. Undefined when the
   * connection may go on.
   */
  refusal(protocol: 'native' | 'json', auth: AcceptAuth, needsPrincipal: boolean): AuthError | undefined {
    const err =
      auth.error ??
      (needsPrincipal && !auth.principal
        ? new AuthError('unauthenticated', 'a credential is required (Authorization header or subprotocol)')
        : undefined);
    if (!err) return undefined;
    const { ip, remote } = auth.conn;
    this.audit(undefined, 'auth_failed', { ip, remote, protocol, code: err.code, detail: err.message });
    return err;
  }

  /**
   * Emits an audit event, rate-limited per connection and kind (`AuditLimiter`; the count of those
   * left out travels as `suppressed` with the next one recorded, or at the connection's close).
   */
  audit(a: ConnectionAccess | undefined, kind: AuditKind, fields: Partial<AuditEvent>): void {
    const ev: AuditEvent = { ...this.eventBase(a, kind), ...fields };
    if (kind === 'connection_open' || kind === 'connection_close') this.emit(ev);
    else {
      const recorded = this.auditLimit.filter(this.auditKey(a), ev);
      if (recorded) this.emit(recorded);
    }
  }

  private auditKey(a: ConnectionAccess | undefined): string {
    return String(a ? this.ids.get(a) : 0);
  }

  private eventBase(a: ConnectionAccess | undefined, kind: AuditKind): AuditEvent {
    return {
      kind,
      time: this.timers.now(),
      ...(a ? { sub: a.principal.sub, ip: a.conn.ip, remote: a.conn.remote, protocol: a.conn.protocol } : {}),
    };
  }

  /** Passes an event on to the endpoint's listeners. */
  emit(ev: AuditEvent): void {
    this.sink(ev);
  }

  /** Re-checks every authenticated connection (see `Endpoint.revalidate`). */
  revalidate(check: Revalidate): void {
    for (const a of [...this.conns]) {
      if (a.isClosed) continue;
      const r = check(a.principal);
      if (r instanceof AuthError) {
        a.audit(r.code === 'token_expired' ? 'auth_expired' : 'auth_revoked', { code: r.code });
        a.link?.refuse(r);
        continue;
      }
      if (r === a.principal) continue;
      a.replace(r);
    }
  }

  /** Number of authenticated connections. */
  get size(): number {
    return this.conns.size;
  }
}

/**
 * Refuses a native connection before any session exists (authentication at the upgrade failed):
 * an Error message and close 4401/4403. (JSON v1 refuses its own way: `json-v1/access.ts`.)
 */
export function refuseNativeTransport(transport: Transport, err: AuthError): void {
  transport.attach({ onMessage: () => undefined, onClose: () => undefined });
  transport.send(encodeFrame([encodeMessage({ kind: MessageKind.Error, code: err.code, context: err.message })]));
  transport.close(nativeCloseCode(err), err.code);
}
