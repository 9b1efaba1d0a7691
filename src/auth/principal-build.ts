/**
 * Builds a `Principal` from roles of a policy plus (for tokens) the grants of its `isb` claim.
 *
 * How grants combine — claims come from the trusted issuer, so they add to the roles:
 * - topics: allow = every role's allow ∪ the claim's allow; deny = every role's deny ∪ the claim's
 *   deny (a deny from anywhere wins over every allow, also another role's);
 * - stores: per store the most permissive entry of any role or the claim, where an entry for the
 *   exact name and one for `*` both apply;
 * - limits: per field the most generous role (a role's unset fields count as `DEFAULT_LIMITS`;
 *   `publishRate` 0 means unlimited and beats everything), then the claim's fields replace those;
 * - `node`/`router`/`strict`: true when any role (or the claim, for `strict`) says so.
 * Then the reserved prefixes: `<$>/local/` is denied to every principal built here, publish and
 * subscribe; a principal without a node role is denied publishing to `NODE_ONLY_PREFIXES`, and
 * subscribing to each of them unless its allow prefixes that meet it were all written inside it
 * (`isobroker/stats/` literally — not a `{sub}` that happens to expand to it, not `""`).
 *
 * Placeholders: an allow prefix or store entry whose substitution is refused is dropped; a deny
 * whose substitution is refused is cut back to its text before the first placeholder (a broader
 * deny), so a refused substitution never widens what the principal may do.
 */
import type { IsbClaims } from './claims.js';
import { LOCAL_ONLY_PREFIXES, NODE_ONLY_PREFIXES, type Policy, type RoleDef, DEFAULT_LIMITS } from './policy.js';
import { compileAcl } from './prefix-acl.js';
import { substitute, type SubstitutionValues } from './substitute.js';
import {
  type AuthMethod,
  AuthError,
  type Grant,
  type Principal,
  type PrincipalLimits,
  STORE_PERMISSIONS,
  type StorePermission,
} from './types.js';

/** Everything a principal is made of besides its grants. */
export interface PrincipalInput {
  readonly sub: string;
  readonly roles: readonly string[];
  /** The node name the credential names (used only when a role is a node role). */
  readonly node: string | null;
  readonly method: AuthMethod;
  /** Extra grants of a token's `isb` claim. */
  readonly claims?: IsbClaims;
  /** False: `{sub}` is never substituted (anonymous principals share one subject). */
  readonly substituteSub: boolean;
  readonly expiresAt?: number;
  readonly issuedAt?: number;
  readonly credentialId?: string;
}

/** A built principal and a canonical text of everything it may do, to tell a change. */
export interface BuiltPrincipal {
  readonly principal: Principal;
  readonly fingerprint: string;
}

/** Builds the principal (see the module comment), or an `AuthError` for an unknown role or missing node. */
export function buildPrincipal(policy: Policy, input: PrincipalInput): BuiltPrincipal | AuthError {
  const roles: RoleDef[] = [];
  for (const name of input.roles) {
    const role = policy.roles.get(name);
    if (role === undefined) return new AuthError('forbidden', `role ${JSON.stringify(name)} is not in the policy`);
    if (!roles.includes(role)) roles.push(role);
  }
  const isNode = roles.some((r) => r.node);
  const node = isNode ? input.node : null;
  if (isNode && node === null) return new AuthError('unauthenticated', 'a node role needs a node name');
  const values: SubstitutionValues = { sub: input.substituteSub ? input.sub : undefined, node };
  const claims = input.claims;

  const publishT = unionTemplates([...roles.map((r) => r.publish), ...(claims?.publish ? [claims.publish] : [])]);
  const subscribeT = unionTemplates([
    ...roles.map((r) => r.subscribe),
    ...(claims?.subscribe ? [claims.subscribe] : []),
  ]);
  const publish = substituteGrant(publishT, values);
  const subscribe = substituteGrant(subscribeT, values);
  publish.deny.push(...LOCAL_ONLY_PREFIXES);
  subscribe.deny.push(...LOCAL_ONLY_PREFIXES);
  if (!isNode) {
    publish.deny.push(...NODE_ONLY_PREFIXES);
    for (const r of NODE_ONLY_PREFIXES) {
      const meeting = subscribe.pairs.filter(({ value }) => r.startsWith(value) || value.startsWith(r));
      const honoured = meeting.length > 0 && meeting.every(({ template }) => template.startsWith(r));
      if (!honoured) subscribe.deny.push(r);
    }
  }
  const publishGrant = finalGrant(publish.pairs, publish.deny);
  const subscribeGrant = finalGrant(subscribe.pairs, subscribe.deny);
  let publishAcl: Principal['publish'];
  let subscribeAcl: Principal['subscribe'];
  try {
    publishAcl = compileAcl(publishGrant);
    subscribeAcl = compileAcl(subscribeGrant);
  } catch (err) {
    return new AuthError('forbidden', 'the grants of this principal cannot be compiled', { cause: err });
  }

  const stores = new Map<string, StorePermission>();
  for (const map of [...roles.map((r) => r.stores), ...(claims?.stores ? [claims.stores] : [])]) {
    for (const [template, perm] of map) {
      const name = substitute(template, values);
      if (name === undefined) continue;
      stores.set(name, maxPermission(stores.get(name), perm)!);
    }
  }
  const wildcard = stores.get('*');
  const storeAccess = (name: string): StorePermission | undefined =>
    typeof name === 'string' ? maxPermission(stores.get(name), wildcard) : undefined;

  const limits = combineLimits(roles, claims);
  const sortedRoles = Object.freeze(roles.map((r) => r.name));
  const principal: Principal = Object.freeze({
    sub: input.sub,
    roles: sortedRoles,
    node,
    router: roles.some((r) => r.router),
    publish: publishAcl,
    subscribe: subscribeAcl,
    storeAccess,
    limits,
    strict: roles.some((r) => r.strict) || claims?.strict === true,
    expiresAt: input.expiresAt,
    issuedAt: input.issuedAt,
    credentialId: input.credentialId,
    method: input.method,
  });
  const fingerprint = JSON.stringify([
    principal.sub,
    principal.roles,
    principal.node,
    principal.router,
    principal.strict,
    publishGrant,
    subscribeGrant,
    [...stores].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    limits,
    principal.expiresAt,
    principal.issuedAt,
    principal.credentialId,
    principal.method,
  ]);
  return { principal, fingerprint };
}

/** Most permissive of two store permissions (undefined = none). */
export function maxPermission(
  a: StorePermission | undefined,
  b: StorePermission | undefined,
): StorePermission | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return STORE_PERMISSIONS.indexOf(a) >= STORE_PERMISSIONS.indexOf(b) ? a : b;
}

/** Per field the most generous role (unset fields are defaults; rate 0 = unlimited), then the claim's fields. */
export function combineLimits(roles: readonly RoleDef[], claims: IsbClaims | undefined): PrincipalLimits {
  const pick = (field: keyof PrincipalLimits): number => {
    const fromClaim = claims?.limits?.[field];
    if (fromClaim !== undefined) return fromClaim;
    if (roles.length === 0) return DEFAULT_LIMITS[field];
    let best: number | undefined;
    for (const r of roles) {
      const v = r.limits[field] ?? DEFAULT_LIMITS[field];
      if (best === undefined) best = v;
      else if (field === 'publishRate' && (v === 0 || best === 0)) best = 0;
      else best = Math.max(best, v);
    }
    return best!;
  };
  return Object.freeze({
    publishRate: pick('publishRate'),
    publishBurst: pick('publishBurst'),
    maxSubscriptions: pick('maxSubscriptions'),
    storeCommandsInFlight: pick('storeCommandsInFlight'),
  });
}

interface Templates {
  readonly allow: string[];
  readonly deny: string[];
}

function unionTemplates(grants: readonly Grant[]): Templates {
  const allow = new Set<string>();
  const deny = new Set<string>();
  for (const g of grants) {
    for (const a of g.allow) allow.add(a);
    for (const d of g.deny) deny.add(d);
  }
  return { allow: [...allow], deny: [...deny] };
}

interface Substituted {
  /** Each allow prefix with the template it came from. */
  readonly pairs: { readonly template: string; readonly value: string }[];
  readonly deny: string[];
}

function substituteGrant(t: Templates, values: SubstitutionValues): Substituted {
  const pairs: { template: string; value: string }[] = [];
  for (const template of t.allow) {
    const value = substitute(template, values);
    if (value !== undefined) pairs.push({ template, value });
  }
  const deny: string[] = [];
  for (const template of t.deny) deny.push(substitute(template, values) ?? literalHead(template));
  return { pairs, deny };
}

/** The text of `template` before its first placeholder segment (a prefix of every expansion). */
function literalHead(template: string): string {
  const segments = template.split('/');
  const i = segments.findIndex((s) => s === '{sub}' || s === '{node}' || s.includes('{'));
  return i < 0 ? template : segments.slice(0, i).join('/') + (i > 0 ? '/' : '');
}

function finalGrant(pairs: Substituted['pairs'], deny: readonly string[]): Grant {
  const allow = [...new Set(pairs.map((p) => p.value))].sort();
  return Object.freeze({ allow: Object.freeze(allow), deny: Object.freeze([...new Set(deny)].sort()) });
}
