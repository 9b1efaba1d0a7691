/**
 * The shapes of authentication and authorization shared by the core and the Node adapter: who is
 * connected (`Principal`), what they may publish, subscribe and do with stores (`PrefixAcl`,
 * `StorePermission`), the credential a connection presented, and audit events. Pure data: the
 * ACL engine, policy model and claim validation are in this folder; verifying signatures, hashing
 * keys and reading files is the Node adapter's work (`src/node/auth/`).
 */
import { IsobrokerError } from '../errors.js';

/** Allowed and denied topic prefixes (byte-prefix semantics: `zeek/logs` also covers `zeek/logsecret`). */
export interface Grant {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** What becomes of one requested subscription prefix under a subscribe ACL. */
export type SubscriptionDecision =
  /** Inside the grant. `filtered`: a deny lies deeper, so deliveries must be checked one by one. */
  | { readonly kind: 'keep'; readonly prefixes: readonly string[]; readonly filtered: boolean }
  /** Broader than the grant: replaced by the granted prefixes under it. */
  | { readonly kind: 'narrow'; readonly prefixes: readonly string[]; readonly filtered: boolean }
  /** `denied`: a deny covers it; `outside_grant`: no allow prefix meets it. */
  | { readonly kind: 'refuse'; readonly reason: 'denied' | 'outside_grant' };

/** A compiled allow/deny prefix list. */
export interface PrefixAcl {
  readonly grant: Grant;
  /** True iff some allow prefix is a byte prefix of `topic` and no deny prefix is. */
  allows(topic: string): boolean;
  /** What a subscription to `prefix` becomes (see `SubscriptionDecision`). */
  narrow(prefix: string): SubscriptionDecision;
  /** True when this ACL allows every topic (allow `""`, no deny): checks can be skipped. */
  readonly open: boolean;
}

/** Store permissions, each including the ones before it: read ⊂ write ⊂ master. */
export const STORE_PERMISSIONS = ['read', 'write', 'master'] as const;
/** `read` (attach a clone, queries), `write` (every mutating operation), `master` (host the master). */
export type StorePermission = (typeof STORE_PERMISSIONS)[number];

/** Limits that apply to one principal's connections (per role, the most generous role wins). */
export interface PrincipalLimits {
  /** Messages per second a client connection may publish (token bucket rate); 0 = unlimited. */
  readonly publishRate: number;
  /** Burst of the publish token bucket, messages. */
  readonly publishBurst: number;
  /** Subscription prefixes per connection. */
  readonly maxSubscriptions: number;
  /** Store commands awaiting their acknowledgement per connection. */
  readonly storeCommandsInFlight: number;
}

/** How a principal proved who it is. */
export type AuthMethod = 'token' | 'api_key' | 'certificate' | 'anonymous' | 'trusted';

/**
 * Who is on the other end of a connection and what they may do. `trusted` principals (auth off,
 * or in-process) skip every check.
 */
export interface Principal {
  /** Subject: the token's `sub`, the API key's principal, the certificate's name, or `anonymous`. */
  readonly sub: string;
  readonly roles: readonly string[];
  /** The cluster node name this principal may use in a hello (node principals only), else null. */
  readonly node: string | null;
  /** May open router links (role `hub` or a cluster node role). */
  readonly router: boolean;
  readonly publish: PrefixAcl;
  readonly subscribe: PrefixAcl;
  /** The permission on store `name`, or undefined for none. */
  storeAccess(name: string): StorePermission | undefined;
  readonly limits: PrincipalLimits;
  /** Subscriptions broader than the grant are refused instead of narrowed. */
  readonly strict: boolean;
  /** Expiry, ms since the epoch; undefined for credentials that do not expire. */
  readonly expiresAt: number | undefined;
  /** Issued-at, ms since the epoch (tokens). */
  readonly issuedAt: number | undefined;
  /** The token id (`jti`) or the API key id, for revocation. */
  readonly credentialId: string | undefined;
  readonly method: AuthMethod;
}

/** A credential as presented by a connection (never logged). */
export interface Credential {
  /** `bearer`: a signed token; `api_key`: a long-lived key. */
  readonly kind: 'bearer' | 'api_key';
  readonly value: string;
}

/** Where a connection comes from, for limits and audit. */
export interface ConnectionInfo {
  /** Client address (after `--trust-proxy`), e.g. `127.0.0.2`. */
  readonly ip: string;
  /** `ip:port` or a URL, for messages. */
  readonly remote: string;
  readonly protocol: 'native' | 'json';
  /** The Origin header, when a browser sent one. */
  readonly origin?: string;
  /** Subject CN of the client certificate, when the listener verified one against its CA (TLS `clientAuth`). */
  readonly certificateName?: string;
}

/** Turns a credential (or none) into a principal; rejects with an `AuthError`. */
export type Authenticate = (credential: Credential | undefined, conn: ConnectionInfo) => Promise<Principal>;

/** The prefix of every isobroker API key (`isbk_…`): a credential starting with it is an API key, not a token. */
export const API_KEY_PREFIX = 'isbk_';

/** Codes of authentication and authorization failures. */
export const AUTH_ERROR_CODES = [
  /** No credential where one is required, or one that cannot be verified. */
  'unauthenticated',
  /** The credential expired. */
  'token_expired',
  /** The credential was revoked. */
  'revoked',
  /** The principal may not do this. */
  'forbidden',
  /** A rate or count limit was exceeded. */
  'limit_exceeded',
] as const;
/** One of `AUTH_ERROR_CODES`. */
export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

/** Authentication or authorization failed; `code` says which way, the message says why (never the credential). */
export class AuthError extends IsobrokerError {
  override name = 'AuthError';
  declare readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** WebSocket close codes of refusals on native links (JSON v1 uses 1008 with an error message). */
export const AuthCloseCode = {
  Unauthenticated: 4401,
  Forbidden: 4403,
  RateLimited: 4429,
  Timeout: 4008,
} as const;

/** Kinds of audit events. */
export const AUDIT_KINDS = [
  'connection_open',
  'connection_close',
  'origin_rejected',
  'host_rejected',
  'auth_ok',
  'auth_failed',
  'auth_refreshed',
  'auth_expired',
  'auth_revoked',
  'publish_denied',
  'subscribe_denied',
  'subscribe_narrowed',
  'store_denied',
  'limit_exceeded',
  'slow_consumer',
  'takeover',
  'policy_reloaded',
  'policy_failed',
] as const;
/** One of `AUDIT_KINDS`. */
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** One audit record. Never holds a token, key, cookie or message body. */
export interface AuditEvent {
  readonly kind: AuditKind;
  /** ms since the epoch. */
  readonly time: number;
  readonly sub?: string;
  readonly ip?: string;
  readonly remote?: string;
  readonly protocol?: 'native' | 'json';
  /** A topic, prefix or store name the event is about. */
  readonly subject?: string;
  /** A machine-readable reason (an error code). */
  readonly code?: string;
  /** Human-readable detail. */
  readonly detail?: string;
  /** Events of this kind on this connection left out by audit rate limiting since the last one recorded. */
  readonly suppressed?: number;
}

/** Receives audit events. */
export type AuditSink = (event: AuditEvent) => void;

/**
 * How a listener hands a connection's authentication to the endpoint (`endpoint.accept(t, p, auth)`).
 * Absent: auth is off and the connection is trusted, exactly as before.
 */
export interface AcceptAuth {
  readonly conn: ConnectionInfo;
  /** The principal authenticated at the upgrade (header, subprotocol, cookie or client certificate). */
  readonly principal?: Principal;
  /** Verifies the native hello's credential (or refresh) when no principal came with the upgrade. */
  readonly authenticate?: Authenticate;
  /** Authentication at the upgrade failed: the endpoint refuses the connection with this error. */
  readonly error?: AuthError;
}

/**
 * Re-checks a live connection's principal after a policy reload or revocation: the same principal
 * (unchanged), a new one (grants changed), or an `AuthError` (the connection is closed).
 */
export type Revalidate = (principal: Principal) => Principal | AuthError;

/**
 * Checks a message a principal sends on an internal topic the guard's owner understands (e.g. a
 * store command: `read`, `write` or `master` on that store); returns an error to refuse it.
 */
export type TopicGuard = (topic: string, valueBytes: Uint8Array, principal: Principal) => AuthError | undefined;
