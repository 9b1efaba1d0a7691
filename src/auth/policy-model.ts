/**
 * The policy's data model: the validated, frozen shapes `parsePolicy` (policy.ts) produces, and
 * the constants of the policy file format (reserved prefixes, node role names, defaults).
 */
import type { JwtAlgorithm, PolicyKey } from './policy-keys.js';
import type { LimitsSpec, StoreGrants } from './policy-validate.js';
import type { Grant, PrincipalLimits } from './types.js';

/** The policy file format version this code reads. */
export const POLICY_VERSION = 1;

/** Role names that are node and router roles unless they say otherwise. */
export const NODE_ROLE_NAMES = ['manager', 'logger', 'proxy', 'worker', 'hub'] as const;

/** Prefixes only node principals may publish to (and read, unless granted inside them explicitly). */
export const NODE_ONLY_PREFIXES = ['zeek/cluster/', 'zeek/logs/', 'isobroker/'] as const;
/** Prefixes never accepted from any remote principal (Broker's endpoint-local namespace). */
export const LOCAL_ONLY_PREFIXES = ['<$>/local/'] as const;
/** Every reserved prefix: `NODE_ONLY_PREFIXES` and `LOCAL_ONLY_PREFIXES`. */
export const RESERVED_PREFIXES: readonly string[] = Object.freeze([...NODE_ONLY_PREFIXES, ...LOCAL_ONLY_PREFIXES]);

/** Limits of a role that sets none (and of anything a role leaves out). */
export const DEFAULT_LIMITS: PrincipalLimits = Object.freeze({
  publishRate: 10_000,
  publishBurst: 20_000,
  maxSubscriptions: 1024,
  storeCommandsInFlight: 256,
});

/** Default `clockToleranceSeconds`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Default `maxTokenLifetimeSeconds` of the policy (every token, whatever its roles). */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** Default `algorithms`. */
export const DEFAULT_ALGORITHMS: readonly JwtAlgorithm[] = Object.freeze(['HS256'] as JwtAlgorithm[]);

/** A role as the policy defines it (grants still hold their placeholders). */
export interface RoleDef {
  readonly name: string;
  readonly publish: Grant;
  readonly subscribe: Grant;
  /** Store name (or `*`) → permission; names may hold placeholders. */
  readonly stores: StoreGrants;
  /** The limits this role sets; `DEFAULT_LIMITS` fill the rest. */
  readonly limits: LimitsSpec;
  /** Tokens carrying this role may live at most this long (exp − iat), seconds. */
  readonly maxTokenLifetimeSeconds: number | undefined;
  /** A cluster node role: may use the reserved prefixes, needs a node name, hellos only as it. */
  readonly node: boolean;
  /** May open router links (hubs and cluster nodes). */
  readonly router: boolean;
  /** Subscriptions broader than the grant are refused rather than narrowed. */
  readonly strict: boolean;
}

/** An API key: the SHA-256 of the key text (`sha256:<64 lowercase hex>`) and who it makes you. */
export interface ApiKeyEntry {
  readonly id: string;
  readonly hash: string;
  readonly sub: string;
  readonly roles: readonly string[];
  /** The node name, required when a role is a node role; else null. */
  readonly node: string | null;
}

/**
 * A client certificate mapping: a verified client certificate whose subject CN is `name` is
 * authenticated as `sub` with `roles` (and `node`, required for a node role).
 */
export interface CertificateEntry {
  /** The certificate's subject CN (the key of `$.certificates`). */
  readonly name: string;
  readonly sub: string;
  readonly roles: readonly string[];
  /** The node name, required when a role is a node role; else null. */
  readonly node: string | null;
}

/** Revoked credentials. */
export interface Revocations {
  /** Revoked token ids. */
  readonly jti: ReadonlySet<string>;
  /** Subject → instant (ms since the epoch): the subject's tokens issued before it are revoked. */
  readonly subjects: ReadonlyMap<string, number>;
  /** Revoked API key ids. */
  readonly apiKeys: ReadonlySet<string>;
}

/** A validated policy (see the module comment for the file it comes from). Deeply frozen. */
export interface Policy {
  readonly version: 1;
  readonly issuer: string | undefined;
  readonly audience: readonly string[] | undefined;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly clockToleranceSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
  readonly keys: readonly PolicyKey[];
  readonly apiKeys: readonly ApiKeyEntry[];
  /** API keys by `hash` (`sha256:<hex>`). */
  readonly apiKeysByHash: ReadonlyMap<string, ApiKeyEntry>;
  readonly roles: ReadonlyMap<string, RoleDef>;
  /**
   * Client certificate subject CN → who it makes you (`$.certificates`). Optional so policies
   * built by hand stay valid; `parsePolicy` always sets it.
   */
  readonly certificates?: ReadonlyMap<string, CertificateEntry>;
  /** The role of clients without a credential, or undefined: they are refused. */
  readonly anonymous: string | undefined;
  readonly revocations: Revocations;
  /** Exact browser origins allowed (`scheme://host[:port]`). */
  readonly origins: readonly string[];
  /** The token cookie, when cookie authentication is on (only together with `origins`). */
  readonly cookie: { readonly name: string } | undefined;
}

/** What `parsePolicy` gives: a policy and warnings, or every error (never both). */
export type PolicyParseResult =
  | { readonly policy: Policy; readonly warnings: string[]; readonly errors?: undefined }
  | { readonly errors: string[]; readonly warnings?: undefined; readonly policy?: undefined };
