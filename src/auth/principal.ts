/**
 * Principals from credentials under a policy: a verified token's claims, an API key, a client
 * with no credential (the policy's `anonymous` role), roles given directly (e.g. a client
 * certificate mapped to a node), and the `TRUSTED_PRINCIPAL` of connections with auth off. How
 * roles and claims combine, and what the reserved prefixes do, is in `principal-build.ts`.
 *
 * After a policy reload `revalidatePrincipal` re-checks a live principal against the new policy:
 * each principal made here remembers (in a WeakMap, not on the object) what it was made from.
 */
import { checkClaims } from './claims.js';
import type { ApiKeyEntry, Policy } from './policy.js';
import { buildPrincipal, type BuiltPrincipal, type PrincipalInput } from './principal-build.js';
import { FULL_ACCESS } from './prefix-acl.js';
import { type AuthMethod, AuthError, type Principal } from './types.js';

/** The subject of principals without a credential. */
export const ANONYMOUS_SUB = 'anonymous';

/**
 * A connection with auth off or in-process: every topic, every store as master, router links,
 * unlimited publishing. Endpoints skip all checks for `method: 'trusted'`.
 */
export const TRUSTED_PRINCIPAL: Principal = Object.freeze({
  sub: 'trusted',
  roles: Object.freeze([]),
  node: null,
  router: true,
  publish: FULL_ACCESS,
  subscribe: FULL_ACCESS,
  storeAccess: () => 'master' as const,
  limits: Object.freeze({
    publishRate: 0,
    publishBurst: 1_000_000_000,
    maxSubscriptions: 1_000_000,
    storeCommandsInFlight: 1_000_000,
  }),
  strict: false,
  expiresAt: undefined,
  issuedAt: undefined,
  credentialId: undefined,
  method: 'trusted',
});

/** What a principal was made from, to re-check it after a reload. */
type Source =
  | { readonly kind: 'token'; readonly claims: unknown; readonly authAtMs: number }
  | { readonly kind: 'api_key'; readonly id: string; readonly hash: string }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'roles'; readonly spec: RolePrincipalSpec };

interface Made {
  readonly source: Source;
  readonly fingerprint: string;
}

const made = new WeakMap<Principal, Made>();

function remember(built: BuiltPrincipal | AuthError, source: Source): Principal | AuthError {
  if (built instanceof AuthError) return built;
  made.set(built.principal, { source, fingerprint: built.fingerprint });
  return built.principal;
}

/**
 * The principal of a verified token's claims at `nowMs` (see `checkClaims` for every refusal).
 * `{sub}` in its grants is its `sub`, `{node}` its `isb.node`. Never throws.
 */
export function principalFromClaims(policy: Policy, claims: unknown, nowMs: number): Principal | AuthError {
  return fromClaims(policy, claims, nowMs, { kind: 'token', claims, authAtMs: nowMs }, false);
}

function fromClaims(
  policy: Policy,
  claims: unknown,
  nowMs: number,
  source: Source & { kind: 'token' },
  recheck: boolean,
): Principal | AuthError {
  const checked = checkClaims(
    policy,
    claims,
    nowMs,
    recheck ? { skipExpiry: true, lifetimeFromMs: source.authAtMs } : {},
  );
  if (checked instanceof AuthError) return checked;
  const input: PrincipalInput = {
    sub: checked.sub,
    roles: checked.isb.roles,
    node: checked.isb.node,
    method: 'token',
    claims: checked.isb,
    substituteSub: true,
    expiresAt: checked.expiresAt,
    issuedAt: checked.issuedAt,
    credentialId: checked.jti,
  };
  return remember(safeBuild(policy, input), source);
}

/**
 * The principal of an API key of `policy` (the adapter finds it by hash, `apiKeyByHash`): its
 * `sub`, roles and node; `revoked` when its id is in `revocations.apiKeys` or it is no longer in
 * the policy.
 */
export function principalFromApiKey(policy: Policy, entry: ApiKeyEntry): Principal | AuthError {
  const current = policy.apiKeys.find((k) => k.id === entry.id);
  if (current === undefined || current.hash !== entry.hash) {
    return new AuthError('revoked', `API key ${JSON.stringify(entry.id)} is not in the policy`);
  }
  if (policy.revocations.apiKeys.has(current.id)) {
    return new AuthError('revoked', `API key ${JSON.stringify(current.id)} was revoked`);
  }
  const input: PrincipalInput = {
    sub: current.sub,
    roles: current.roles,
    node: current.node,
    method: 'api_key',
    substituteSub: true,
    credentialId: current.id,
  };
  return remember(safeBuild(policy, input), { kind: 'api_key', id: current.id, hash: current.hash });
}

/**
 * The principal of a client without a credential: sub `anonymous`, the policy's `anonymous` role
 * (`{sub}` prefixes and store names are dropped: anonymous clients share one subject), or an
 * `unauthenticated` error when the policy names no anonymous role.
 */
export function anonymousPrincipal(policy: Policy): Principal | AuthError {
  if (policy.anonymous === undefined) {
    return new AuthError('unauthenticated', 'a credential is required (the policy has no anonymous role)');
  }
  const input: PrincipalInput = {
    sub: ANONYMOUS_SUB,
    roles: [policy.anonymous],
    node: null,
    method: 'anonymous',
    substituteSub: false,
  };
  return remember(safeBuild(policy, input), { kind: 'anonymous' });
}

/** Who a principal given by roles is (e.g. a client certificate's name mapped to a node). */
export interface RolePrincipalSpec {
  readonly sub: string;
  readonly roles: readonly string[];
  /** The node name, required when a role is a node role. */
  readonly node?: string | null;
  readonly method: Exclude<AuthMethod, 'trusted'>;
  readonly credentialId?: string;
  readonly expiresAt?: number;
}

/** A principal with `spec`'s roles of `policy` (`forbidden` for an unknown role). */
export function principalFromRoles(policy: Policy, spec: RolePrincipalSpec): Principal | AuthError {
  if (typeof spec.sub !== 'string' || spec.sub.length === 0) {
    return new AuthError('unauthenticated', 'a principal needs a non-empty subject');
  }
  const input: PrincipalInput = {
    sub: spec.sub,
    roles: spec.roles,
    node: spec.node ?? null,
    method: spec.method,
    substituteSub: spec.method !== 'anonymous',
    credentialId: spec.credentialId,
    expiresAt: spec.expiresAt,
  };
  return remember(safeBuild(policy, input), { kind: 'roles', spec: Object.freeze({ ...spec }) });
}

/**
 * Re-checks `principal` against a reloaded `policy` at `nowMs`: the same object when nothing it
 * may do changed, a new principal when its grants changed, or an `AuthError` — `revoked` (its
 * token id, subject or API key was revoked, or the API key is gone), `forbidden` (a role it holds
 * is gone), `unauthenticated` (the anonymous role is gone, issuer or audience changed, its
 * lifetime now exceeds a role maximum). Expiry is left to the endpoint's expiry timer and refresh
 * grace. `TRUSTED_PRINCIPAL` stays; a principal not made by this module gets `revoked`.
 */
export function revalidatePrincipal(policy: Policy, principal: Principal, nowMs: number): Principal | AuthError {
  if (principal === TRUSTED_PRINCIPAL) return principal;
  const m = made.get(principal);
  if (m === undefined) return new AuthError('revoked', 'the principal was not made under a policy');
  const next = remade(policy, m.source, nowMs);
  if (next instanceof AuthError) return next;
  const n = made.get(next);
  return n !== undefined && n.fingerprint === m.fingerprint ? principal : next;
}

function remade(policy: Policy, source: Source, nowMs: number): Principal | AuthError {
  switch (source.kind) {
    case 'token':
      return fromClaims(policy, source.claims, nowMs, source, true);
    case 'api_key': {
      const entry = policy.apiKeys.find((k) => k.id === source.id);
      if (entry === undefined || entry.hash !== source.hash) {
        return new AuthError('revoked', `API key ${JSON.stringify(source.id)} is no longer in the policy`);
      }
      return principalFromApiKey(policy, entry);
    }
    case 'anonymous':
      return anonymousPrincipal(policy);
    case 'roles':
      return principalFromRoles(policy, source.spec);
  }
}

function safeBuild(policy: Policy, input: PrincipalInput): BuiltPrincipal | AuthError {
  try {
    return buildPrincipal(policy, input);
  } catch (err) {
    return new AuthError('forbidden', 'the principal cannot be built from the policy', { cause: err });
  }
}
