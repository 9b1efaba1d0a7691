/**
 * Claim validation of a verified token (the Node adapter has checked the signature with `jose`):
 * registered claims with the policy's clock tolerance, issuer, audience, lifetime and
 * revocations, and the private claims under `"isb"`:
 *
 * ```jsonc
 * "isb": {
 *   "roles": ["dashboard"],                          // each must be a role of the policy
 *   "node": "worker-1",                              // required for node roles, else null / absent
 *   "publish":   { "allow": ["demo/"], "deny": [] }, // added to the roles' grants
 *   "subscribe": { "allow": ["users/{sub}/"] },
 *   "stores":    { "ui_prefs": "write" },
 *   "limits":    { "publishRate": 50 },             // replace the roles' limits field by field
 *   "strict": true
 * }
 * ```
 *
 * Unknown members of `isb` are ignored (an issuer may add its own); malformed known members
 * refuse the token. Messages name claims and roles, never a token or its signature.
 */
import type { Policy } from './policy.js';
import {
  checkBool,
  checkGrant,
  checkLimits,
  checkStores,
  checkStringList,
  describe,
  field,
  isRecord,
  type LimitsSpec,
  Problems,
  type StoreGrants,
} from './policy-validate.js';
import { isSafeSegmentValue } from './substitute.js';
import { AuthError, type Grant } from './types.js';

/** The name of the private claim object. */
export const ISB_CLAIM = 'isb';

/** The private claims, validated. */
export interface IsbClaims {
  readonly roles: readonly string[];
  readonly node: string | null;
  readonly publish: Grant | undefined;
  readonly subscribe: Grant | undefined;
  readonly stores: StoreGrants | undefined;
  readonly limits: LimitsSpec | undefined;
  readonly strict: boolean;
}

/** A token's claims after validation, times in ms since the epoch. */
export interface CheckedClaims {
  readonly sub: string;
  readonly expiresAt: number;
  readonly issuedAt: number | undefined;
  readonly jti: string | undefined;
  readonly isb: IsbClaims;
}

/** How `checkClaims` treats time (a policy reload re-checks a token already accepted). */
export interface ClaimCheckOptions {
  /** Skip the `exp` check: the endpoint's expiry timer and refresh grace own expiry. */
  readonly skipExpiry?: boolean;
  /** The "now" of the lifetime check of a token without `iat` (its first acceptance). */
  readonly lifetimeFromMs?: number;
}

const MAX_CLAIM_STRING = 1024;
const NO_ISB: IsbClaims = Object.freeze({
  roles: Object.freeze([]),
  node: null,
  publish: undefined,
  subscribe: undefined,
  stores: undefined,
  limits: undefined,
  strict: false,
});

/**
 * Validates the claims of a verified token against `policy` at `nowMs`. Refusals: `token_expired`
 * (past `exp` + tolerance), `revoked` (its `jti`, or its subject issued before the revocation
 * instant — also when it has no `iat`), `forbidden` (a role the policy does not define), and
 * `unauthenticated` for everything else (missing `sub`/`exp`, not yet valid, issued in the future,
 * wrong issuer or audience, lifetime above the smallest maximum of the policy and its roles, a
 * node role without a node name, malformed claims). Never throws.
 */
export function checkClaims(
  policy: Policy,
  claims: unknown,
  nowMs: number,
  opts: ClaimCheckOptions = {},
): CheckedClaims | AuthError {
  try {
    return checkClaimsUnsafe(policy, claims, nowMs, opts);
  } catch (err) {
    return new AuthError('unauthenticated', 'token claims cannot be read', { cause: err });
  }
}

function checkClaimsUnsafe(
  policy: Policy,
  claims: unknown,
  nowMs: number,
  opts: ClaimCheckOptions,
): CheckedClaims | AuthError {
  const bad = (msg: string): AuthError => new AuthError('unauthenticated', msg);
  if (!isRecord(claims)) return bad('token claims are not an object');
  const sub = field(claims, 'sub');
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_CLAIM_STRING) {
    return bad(`token claim "sub" must be a non-empty string of at most ${MAX_CLAIM_STRING} characters`);
  }
  const exp = field(claims, 'exp');
  if (!isNumericDate(exp)) return bad('token claim "exp" (expiry) is required and must be a number of seconds');
  const nbf = field(claims, 'nbf');
  if (nbf !== undefined && !isNumericDate(nbf)) return bad('token claim "nbf" must be a number of seconds');
  const iat = field(claims, 'iat');
  if (iat !== undefined && !isNumericDate(iat)) return bad('token claim "iat" must be a number of seconds');
  const jti = field(claims, 'jti');
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_CLAIM_STRING)) {
    return bad('token claim "jti" must be a non-empty string');
  }

  if (policy.issuer !== undefined && field(claims, 'iss') !== policy.issuer) {
    return bad('token claim "iss" does not name the policy\'s issuer');
  }
  if (policy.audience !== undefined) {
    const aud = field(claims, 'aud');
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!auds.some((a) => typeof a === 'string' && policy.audience!.includes(a))) {
      return bad('token claim "aud" does not name an audience of the policy');
    }
  }

  const tolMs = policy.clockToleranceSeconds * 1000;
  const expMs = exp * 1000;
  if (opts.skipExpiry !== true && nowMs > expMs + tolMs) {
    return new AuthError('token_expired', `token expired ${Math.round((nowMs - expMs) / 1000)} s ago`);
  }
  if (nbf !== undefined && nowMs < nbf * 1000 - tolMs) return bad('token is not valid yet ("nbf")');
  if (iat !== undefined && iat * 1000 > nowMs + tolMs) return bad('token claim "iat" lies in the future');

  if (jti !== undefined && policy.revocations.jti.has(jti)) return new AuthError('revoked', 'token was revoked');
  const revokedBefore = policy.revocations.subjects.get(sub);
  if (revokedBefore !== undefined && (iat === undefined || iat * 1000 < revokedBefore)) {
    return new AuthError('revoked', "the subject's tokens issued before a revocation are revoked");
  }

  const isb = parseIsbClaim(field(claims, ISB_CLAIM));
  if (isb instanceof AuthError) return isb;
  let maxLife = policy.maxTokenLifetimeSeconds;
  let maxBy = 'the policy';
  let nodeRole = false;
  for (const name of isb.roles) {
    const role = policy.roles.get(name);
    if (role === undefined)
      return new AuthError('forbidden', `token role ${JSON.stringify(name)} is not in the policy`);
    if (role.maxTokenLifetimeSeconds !== undefined && role.maxTokenLifetimeSeconds < maxLife) {
      maxLife = role.maxTokenLifetimeSeconds;
      maxBy = `role ${JSON.stringify(name)}`;
    }
    if (role.node) nodeRole = true;
  }
  const lifeSeconds = iat !== undefined ? exp - iat : exp - (opts.lifetimeFromMs ?? nowMs) / 1000;
  const slack = iat !== undefined ? 0 : policy.clockToleranceSeconds;
  if (lifeSeconds > maxLife + slack) {
    return bad(`token lifetime of ${Math.round(lifeSeconds)} s exceeds the maximum of ${maxLife} s set by ${maxBy}`);
  }
  if (nodeRole && isb.node === null) return bad('a token with a node role needs the "isb.node" claim');
  return Object.freeze({
    sub,
    expiresAt: expMs,
    issuedAt: iat === undefined ? undefined : iat * 1000,
    jti,
    isb,
  });
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e13;
}

/**
 * The `isb` claim, validated (absent: no roles and no grants), or an `unauthenticated` error
 * listing what is wrong with it.
 */
export function parseIsbClaim(value: unknown): IsbClaims | AuthError {
  if (value === undefined) return NO_ISB;
  const p = new Problems();
  const path = ISB_CLAIM;
  if (!isRecord(value)) {
    return new AuthError('unauthenticated', `token claim "${ISB_CLAIM}" must be an object, got ${describe(value)}`);
  }
  const rolesRaw = field(value, 'roles');
  const roles =
    rolesRaw === undefined
      ? []
      : checkStringList(p, `${path}.roles`, rolesRaw, { maxItems: 1000, maxLength: 128, allowEmptyList: true });
  const nodeRaw = field(value, 'node');
  let node: string | null = null;
  if (nodeRaw !== undefined && nodeRaw !== null) {
    if (isSafeSegmentValue(nodeRaw)) node = nodeRaw;
    else p.error(`${path}.node`, 'expected a node name (one path segment, no "/") or null');
  }
  const opt = <T>(key: string, check: (at: string, raw: unknown) => T | undefined): T | undefined => {
    const raw = field(value, key);
    return raw === undefined ? undefined : check(`${path}.${key}`, raw);
  };
  const publish = opt('publish', (at, raw) => checkGrant(p, at, raw, { warnSeparator: false }));
  const subscribe = opt('subscribe', (at, raw) => checkGrant(p, at, raw, { warnSeparator: false }));
  const stores = opt('stores', (at, raw) => checkStores(p, at, raw));
  const limits = opt('limits', (at, raw) => checkLimits(p, at, raw));
  const strict = opt('strict', (at, raw) => checkBool(p, at, raw)) ?? false;
  if (!p.ok || roles === undefined) {
    const errors = p.listErrors();
    const shown = errors.slice(0, 5).join('; ');
    return new AuthError(
      'unauthenticated',
      `invalid token claim "${ISB_CLAIM}": ${shown}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`,
    );
  }
  return Object.freeze({ roles: Object.freeze(roles), node, publish, subscribe, stores, limits, strict });
}
