/**
 * Verifying signed tokens (compact JWS JWTs) with `jose`, against the keys of a policy.
 *
 * The header's `kid` picks one key of the policy; a token without a `kid`, or naming a key the
 * policy does not hold, is refused. The token's `alg` must be the key's own algorithm AND in the
 * policy's `algorithms`: so `alg: none`, unlisted algorithms and algorithm confusion (an HS256
 * token "signed" with a public key's bytes as the secret) all fail before any signature check.
 * `exp` and `sub` are required; `iss` and `aud` are checked when the policy names them; `exp`,
 * `nbf` and `iat` get the policy's clock tolerance (30 s by default). Tokens over 8 KiB are
 * refused before anything is parsed.
 *
 * Every failure is an `AuthError` — `token_expired` for an expired token, `unauthenticated` for
 * the rest — whose message says why without quoting the token. Keys are imported once per policy
 * object (a reloaded policy is a new object and imports its keys afresh).
 */
import { Buffer } from 'node:buffer';
import { decodeProtectedHeader, errors, importJWK, importSPKI, importX509, jwtVerify, type JWTPayload } from 'jose';
import { DEFAULT_ALGORITHMS, DEFAULT_CLOCK_TOLERANCE_SECONDS } from '../../auth/policy-model.js';
import { AuthError } from '../../auth/types.js';

export type { JWTPayload } from 'jose';

/** One verification key of a policy (as the policy file gives it). */
export interface TokenKey {
  readonly kid: string;
  /** The key's only algorithm, e.g. `HS256`, `EdDSA`, `ES256`. */
  readonly alg: string;
  /** HMAC secret: base64url text or the raw bytes. */
  readonly secret?: string | Uint8Array | null;
  /** A public JWK (or an `oct` JWK for HMAC). */
  readonly jwk?: object | null;
  /** A PEM SPKI public key or X.509 certificate. */
  readonly publicKeyPem?: string | null;
}

/** What token verification needs from a policy (a parsed policy satisfies it). */
export interface TokenPolicy {
  readonly keys: readonly TokenKey[];
  /** Algorithms accepted at all. @default ['HS256'] */
  readonly algorithms?: readonly string[];
  readonly issuer?: string | null;
  readonly audience?: string | readonly string[] | null;
  /** @default 30 */
  readonly clockToleranceSeconds?: number;
}

/** The largest token accepted, in bytes (checked before parsing). */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** The signature algorithms keys may use (`none` is never one of them). */
export const TOKEN_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const;

/** Minimum HMAC secret length per algorithm, bytes (RFC 7518 §3.2: at least the hash size). */
const HMAC_MIN_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** An attacker-chosen header value, safe to show in a message: quoted and at most 40 characters. */
const shown = (v: unknown): string => {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
};

/** jose's errors are not attached as causes: some carry the token's claims. */
const refuse = (message: string, _cause?: unknown): AuthError => new AuthError('unauthenticated', message);

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** Imports one key entry for `jwtVerify`; throws an Error saying what is wrong with the entry. */
export async function importTokenKey(entry: TokenKey): Promise<VerifyKey> {
  const alg = entry.alg;
  if (!(TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new Error(`key ${shown(entry.kid)}: unsupported algorithm ${shown(alg)}`);
  }
  const hmac = alg.startsWith('HS');
  const given = [entry.secret, entry.jwk, entry.publicKeyPem].filter((v) => v !== undefined && v !== null).length;
  if (given !== 1) throw new Error(`key ${shown(entry.kid)}: expected exactly one of secret, jwk, publicKeyPem`);
  if (entry.secret !== undefined && entry.secret !== null) {
    if (!hmac) throw new Error(`key ${shown(entry.kid)}: a secret is only for HS256/HS384/HS512, not ${alg}`);
    const bytes =
      typeof entry.secret === 'string' ? new Uint8Array(Buffer.from(entry.secret, 'base64url')) : entry.secret;
    if (typeof entry.secret === 'string' && !/^[A-Za-z0-9_-]*$/.test(entry.secret)) {
      throw new Error(`key ${shown(entry.kid)}: the secret is not base64url`);
    }
    const min = HMAC_MIN_BYTES[alg] ?? 32;
    if (bytes.length < min) {
      throw new Error(`key ${shown(entry.kid)}: an ${alg} secret needs at least ${min} bytes, got ${bytes.length}`);
    }
    return bytes;
  }
  if (entry.jwk !== undefined && entry.jwk !== null) {
    const jwk = entry.jwk as Record<string, unknown>;
    if ('d' in jwk && !hmac) throw new Error(`key ${shown(entry.kid)}: the jwk is a private key; give the public key`);
    if ((jwk.kty === 'oct') !== hmac) {
      throw new Error(`key ${shown(entry.kid)}: a jwk of kty ${shown(jwk.kty)} does not fit algorithm ${alg}`);
    }
    if (hmac) {
      const k = typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url') : Buffer.alloc(0);
      const min = HMAC_MIN_BYTES[alg] ?? 32;
      if (k.length < min) {
        throw new Error(`key ${shown(entry.kid)}: an ${alg} secret needs at least ${min} bytes, got ${k.length}`);
      }
    }
    return await importJWK({ ...jwk, alg } as never, alg);
  }
  if (hmac) throw new Error(`key ${shown(entry.kid)}: ${alg} needs a secret, not a public key`);
  const pem = String(entry.publicKeyPem).trim();
  if (pem.startsWith('-----BEGIN CERTIFICATE-----')) return await importX509(pem, alg);
  if (!pem.startsWith('-----BEGIN PUBLIC KEY-----')) {
    throw new Error(`key ${shown(entry.kid)}: publicKeyPem must be a PEM public key (BEGIN PUBLIC KEY) or certificate`);
  }
  return await importSPKI(pem, alg);
}

/** Imported keys by policy object, then kid: an import failure is kept as its Error. */
const imported = new WeakMap<TokenPolicy, Map<string, Promise<VerifyKey | Error>>>();

function keyFor(policy: TokenPolicy, entry: TokenKey): Promise<VerifyKey | Error> {
  let byKid = imported.get(policy);
  if (!byKid) {
    byKid = new Map();
    imported.set(policy, byKid);
  }
  let p = byKid.get(entry.kid);
  if (!p) {
    p = importTokenKey(entry).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      return new Error(
        message.startsWith('key "') ? message : `key ${shown(entry.kid)}: cannot import it (${message})`,
      );
    });
    byKid.set(entry.kid, p);
  }
  return p;
}

/**
 * Imports every key of `policy` (filling the cache `verifyToken` uses) and returns one message per
 * key that cannot be used, plus duplicate kids; empty when all are fine. The policy loader calls
 * this so that a bad key stops a start or a reload instead of failing each token.
 */
export async function checkPolicyKeys(policy: TokenPolicy): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of policy.keys) {
    if (seen.has(entry.kid)) problems.push(`key ${shown(entry.kid)}: duplicate kid`);
    seen.add(entry.kid);
    const k = await keyFor(policy, entry);
    if (k instanceof Error) problems.push(k.message);
  }
  return problems;
}

/**
 * Verifies `token` against `policy` at time `nowMs`; resolves with its claims. Rejects only with
 * an `AuthError`: `token_expired` when it expired (beyond the tolerance), `unauthenticated` for
 * every other reason (the message says which, never quoting the token).
 */
export async function verifyToken(token: string, policy: TokenPolicy, nowMs: number): Promise<JWTPayload> {
  if (typeof token !== 'string' || token.length === 0) throw refuse('the token is empty');
  if (token.length > MAX_TOKEN_BYTES) throw refuse(`the token is larger than ${MAX_TOKEN_BYTES} bytes`);
  if (!COMPACT_JWS.test(token)) throw refuse('the token is not a signed JWT (three base64url parts)');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw refuse('the token header is not valid base64url JSON');
  }
  const alg = header.alg;
  if (typeof alg !== 'string') throw refuse('the token header has no alg');
  if (alg.toLowerCase() === 'none') throw refuse('unsigned tokens (alg "none") are not accepted');
  if (typeof header.kid !== 'string' || header.kid === '') throw refuse('the token header has no kid');
  const entry = policy.keys.find((k) => k.kid === header.kid);
  if (!entry) throw refuse(`the token's key id ${shown(header.kid)} is not one of the policy's keys`);
  const algorithms: readonly string[] = policy.algorithms ?? DEFAULT_ALGORITHMS;
  if (alg !== entry.alg || !algorithms.includes(alg)) {
    throw refuse(
      `the token's algorithm ${shown(alg)} is not accepted for key ${shown(entry.kid)} (expected ${entry.alg}${algorithms.includes(entry.alg) ? '' : ', which the policy does not allow'})`,
    );
  }
  const key = await keyFor(policy, entry);
  if (key instanceof Error) throw refuse(`the policy's key cannot be used: ${key.message}`);

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [entry.alg],
      currentDate: new Date(nowMs),
      clockTolerance: policy.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
      ...(policy.issuer ? { issuer: policy.issuer } : {}),
      ...(policy.audience && (typeof policy.audience === 'string' || policy.audience.length > 0)
        ? { audience: policy.audience as string | string[] }
        : {}),
    }));
  } catch (err) {
    throw translate(err, nowMs);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw refuse('the token\'s "sub" claim is not a string');
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) {
    throw refuse('the token\'s "exp" claim is not a number');
  }
  return payload;
}

const CLAIM_TEXT: Readonly<Record<string, string>> = {
  iss: 'the token was issued by another issuer than the policy names',
  aud: 'the token is meant for another audience than the policy names',
  nbf: 'the token is not valid yet (nbf)',
  iat: 'the token was issued in the future (iat)',
};

/** A jose failure as an AuthError whose message says why, never quoting the token. */
function translate(err: unknown, nowMs: number): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired) {
    const exp = (err.payload as JWTPayload | undefined)?.exp;
    const ago = typeof exp === 'number' ? ` ${Math.max(0, Math.round(nowMs / 1000 - exp))} s ago` : '';
    return new AuthError('token_expired', `the token expired${ago}`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return refuse(`the token has no "${err.claim}" claim`, err);
    if (err.reason === 'invalid') return refuse(`the token's "${err.claim}" claim is not valid`, err);
    return refuse(CLAIM_TEXT[err.claim] ?? `the token's "${err.claim}" claim is not accepted`, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('the token signature does not verify', err);
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('the token algorithm is not accepted', err);
  if (err instanceof errors.JWTInvalid) return refuse('the token claims are not a valid JSON object', err);
  if (err instanceof errors.JWSInvalid) return refuse('the token is not a valid JWS', err);
  if (err instanceof errors.JOSENotSupported) return refuse('the token uses an unsupported feature', err);
  return refuse('the token cannot be verified', err);
}
