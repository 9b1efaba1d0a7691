/**
 * The hub's `Authenticate` and `Revalidate` over a policy that can be reloaded: bearer tokens are
 * verified with `verifyToken` and turned into principals by `principalFromClaims`; API keys are
 * looked up by hash in constant time and turned into principals by `principalFromApiKey`; no
 * credential gets the principal of the connection's verified client certificate when the policy's
 * `certificates` lists its subject CN (method `certificate`), else the policy's anonymous role or
 * `unauthenticated`; a token or API key always wins over the certificate. Every call uses the policy in
 * force at that moment; a reload during a verification makes it start over under the new policy.
 *
 * `revalidate` re-checks a live principal after a reload (`revalidatePrincipal`), and also
 * refuses a token principal whose signing key left the policy or changed (`revoked`): removing a
 * compromised key closes the connections that used it. A certificate principal whose name left
 * `certificates`, or whose subject or node changed, is `revoked`.
 *
 * `authenticate` rejects only with `AuthError`s; messages never hold the credential.
 */
import { createHash } from 'node:crypto';
import type { CertificateEntry, Policy, PolicyKey } from '../../auth/policy.js';
import {
  anonymousPrincipal,
  principalFromApiKey,
  principalFromClaims,
  principalFromRoles,
  revalidatePrincipal,
} from '../../auth/principal.js';
import {
  AuthError,
  type Authenticate,
  type ConnectionInfo,
  type Credential,
  type Principal,
  type Revalidate,
} from '../../auth/types.js';
import { findApiKey, isApiKeyShaped } from './api-keys.js';
import { verifyToken } from './jwt.js';

/** Where the authenticator gets the policy in force (a `PolicyHolder`, or any object with `current`). */
export interface PolicySource {
  readonly current: Policy;
}

/** Options of `createAuthenticator`. */
export interface AuthenticatorOptions {
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** What `createAuthenticator` makes. */
export interface Authenticator {
  readonly authenticate: Authenticate;
  readonly revalidate: Revalidate;
}

/** How often a verification starts over because the policy changed under it, at most. */
const MAX_POLICY_RACES = 3;

/** A digest of a key's material (never the material itself), to notice a changed key. */
function keyDigest(key: PolicyKey): string {
  const h = createHash('sha256').update(`${key.alg}\0${key.kind}\0`);
  if (key.kind === 'secret') h.update(key.secret);
  else if (key.kind === 'jwk') h.update(JSON.stringify(key.jwk));
  else h.update(key.publicKeyPem);
  return h.digest('base64url');
}

/** Per policy object: kid → digest. */
const digests = new WeakMap<Policy, Map<string, string>>();
function digestOf(policy: Policy, kid: string): string | undefined {
  let m = digests.get(policy);
  if (!m) {
    m = new Map(policy.keys.map((k) => [k.kid, keyDigest(k)]));
    digests.set(policy, m);
  }
  return m.get(kid);
}

/** Reads the `kid` of a token that verified (its header is valid base64url JSON by then). */
function tokenKid(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as {
      kid?: unknown;
    };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/** The certificate mapping of `name` in `policy`, or undefined (own entries only). */
function certificateEntry(policy: Policy, name: string): CertificateEntry | undefined {
  return policy.certificates?.get(name);
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/** Creates the `Authenticate` and `Revalidate` of a hub whose policy `source` holds. */
export function createAuthenticator(source: PolicySource, options: AuthenticatorOptions = {}): Authenticator {
  const now = options.now ?? Date.now;
  /** Token principals → the key that signed their token. */
  const signedBy = new WeakMap<Principal, { kid: string; digest: string }>();

  const fromToken = async (token: string): Promise<Principal> => {
    for (let attempt = 0; ; attempt++) {
      const policy = source.current;
      const t = now();
      const claims = await verifyToken(token, policy, t);
      if (source.current !== policy && attempt < MAX_POLICY_RACES) continue;
      const p = principalFromClaims(policy, claims, t);
      if (p instanceof AuthError) throw p;
      const kid = tokenKid(token);
      const digest = kid === undefined ? undefined : digestOf(policy, kid);
      if (kid !== undefined && digest !== undefined) signedBy.set(p, { kid, digest });
      return p;
    }
  };

  const fromApiKey = (key: string): Principal => {
    const policy = source.current;
    const entry = findApiKey(policy.apiKeys, key);
    if (entry === undefined) throw new AuthError('unauthenticated', 'the API key is not known');
    const p = principalFromApiKey(policy, entry);
    if (p instanceof AuthError) throw p;
    return p;
  };

  /** Certificate principals → the mapping they were made from. */
  const certifiedBy = new WeakMap<Principal, CertificateEntry>();

  const fromCertificate = (policy: Policy, entry: CertificateEntry): Principal | AuthError => {
    const p = principalFromRoles(policy, {
      sub: entry.sub,
      roles: entry.roles,
      node: entry.node,
      method: 'certificate',
      credentialId: entry.name,
    });
    if (!(p instanceof AuthError)) certifiedBy.set(p, entry);
    return p;
  };

  const authenticate: Authenticate = async (credential: Credential | undefined, conn?: ConnectionInfo) => {
    try {
      if (credential === undefined || credential === null) {
        const policy = source.current;
        const name = conn?.certificateName;
        const entry = typeof name === 'string' && name !== '' ? certificateEntry(policy, name) : undefined;
        if (entry !== undefined) {
          const c = fromCertificate(policy, entry);
          if (c instanceof AuthError) throw c;
          return c;
        }
        // A verified certificate the policy does not list is no credential at all.
        const p = anonymousPrincipal(policy);
        if (p instanceof AuthError) throw p;
        return p;
      }
      const value = credential.value;
      if (typeof value !== 'string' || value === '') throw new AuthError('unauthenticated', 'the credential is empty');
      // `Authorization: Bearer isbk_…` carries an API key: accept it as one.
      if (credential.kind === 'api_key' || (credential.kind === 'bearer' && isApiKeyShaped(value))) {
        return fromApiKey(value);
      }
      if (credential.kind === 'bearer') return await fromToken(value);
      throw new AuthError('unauthenticated', 'unknown kind of credential');
    } catch (err) {
      if (err instanceof AuthError) throw err;
      throw new AuthError('unauthenticated', 'the credential cannot be checked');
    }
  };

  const revalidateCertificate = (
    policy: Policy,
    principal: Principal,
    was: CertificateEntry,
  ): Principal | AuthError => {
    const entry = certificateEntry(policy, was.name);
    if (entry === undefined) {
      return new AuthError('revoked', `the certificate name ${JSON.stringify(was.name)} left the policy`);
    }
    if (entry.sub !== was.sub || entry.node !== was.node) {
      return new AuthError('revoked', `the certificate name ${JSON.stringify(was.name)} now maps to someone else`);
    }
    if (!sameRoles(entry.roles, was.roles)) return fromCertificate(policy, entry);
    const next = revalidatePrincipal(policy, principal, now());
    if (!(next instanceof AuthError) && next !== principal) certifiedBy.set(next, entry);
    return next;
  };

  const revalidate: Revalidate = (principal) => {
    try {
      const policy = source.current;
      const cert = certifiedBy.get(principal);
      if (cert !== undefined) return revalidateCertificate(policy, principal, cert);
      const signer = signedBy.get(principal);
      if (signer !== undefined && digestOf(policy, signer.kid) !== signer.digest) {
        return new AuthError('revoked', `the key ${JSON.stringify(signer.kid)} that signed the token left the policy`);
      }
      const next = revalidatePrincipal(policy, principal, now());
      if (signer !== undefined && !(next instanceof AuthError) && next !== principal) signedBy.set(next, signer);
      return next;
    } catch {
      return new AuthError('unauthenticated', 'the principal cannot be re-checked');
    }
  };

  return { authenticate, revalidate };
}
