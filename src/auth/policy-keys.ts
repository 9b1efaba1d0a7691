/**
 * The `keys` section of a policy file: token verification keys, selected by a token's `kid`.
 * Checked here without any crypto (pure code): an HMAC algorithm takes a base64url `secret` of at
 * least the hash size (RFC 7518 §3.2), a public-key algorithm takes a PUBLIC key — a JWK of the
 * matching type and curve, an SPKI PEM or an X.509 certificate PEM — and never a secret, so a token cannot be verified
 * with the wrong kind of key (algorithm confusion). Secret material is never put into a message.
 */
import { checkKnownKeys, describe, field, isRecord, keyPath, type Problems } from './policy-validate.js';

/** Token signature algorithms a policy may allow. `none` is never one of them. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'] as const;
/** One of `JWT_ALGORITHMS`. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
/** The HMAC algorithms (shared secret) and the smallest secret each accepts, in bytes. */
export const HMAC_MIN_SECRET_BYTES: Readonly<Partial<Record<JwtAlgorithm, number>>> = {
  HS256: 32,
  HS384: 48,
  HS512: 64,
};

/** True for the HMAC algorithms (a shared secret rather than a public key). */
export function isHmacAlgorithm(alg: JwtAlgorithm): boolean {
  return HMAC_MIN_SECRET_BYTES[alg] !== undefined;
}

/** The public members of a JWK that verification needs (private members are refused). */
export interface PublicJwk {
  readonly kty: 'OKP' | 'EC' | 'RSA';
  readonly alg: JwtAlgorithm;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/**
 * One verification key. `secret` (HMAC keys) is a non-enumerable property, so logging or
 * `JSON.stringify`-ing a policy never shows it.
 */
export type PolicyKey =
  | { readonly kid: string; readonly alg: JwtAlgorithm; readonly kind: 'secret'; readonly secret: Uint8Array }
  | { readonly kid: string; readonly alg: JwtAlgorithm; readonly kind: 'jwk'; readonly jwk: PublicJwk }
  | { readonly kid: string; readonly alg: JwtAlgorithm; readonly kind: 'pem'; readonly publicKeyPem: string };

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const B64URL = /^[A-Za-z0-9_-]+$/;
/** An SPKI public key or an X.509 certificate (whose public key verifies), one PEM block. */
const PEM = /^-----BEGIN (PUBLIC KEY|CERTIFICATE)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----\s*$/;
const MAX_SECRET_CHARS = 2048;
const MAX_PEM_CHARS = 16384;

/** Decodes base64url without padding (RFC 4648 §5); undefined when it is not. */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v =
      c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 71 : c >= 48 && c <= 57 ? c + 4 : c === 45 ? 62 : 63;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** What each public-key algorithm needs of a JWK: type, curve and members. */
const JWK_SHAPES: Readonly<Partial<Record<JwtAlgorithm, { kty: PublicJwk['kty']; crv?: string; members: string[] }>>> =
  {
    EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['x'] },
    ES256: { kty: 'EC', crv: 'P-256', members: ['x', 'y'] },
    ES384: { kty: 'EC', crv: 'P-384', members: ['x', 'y'] },
    RS256: { kty: 'RSA', members: ['n', 'e'] },
    PS256: { kty: 'RSA', members: ['n', 'e'] },
  };

/** RSA moduli below 2048 bits are refused (base64url characters of 256 bytes). */
const MIN_RSA_N_CHARS = 342;

/**
 * Checks `$.keys`: an array of `{ kid, alg, secret | jwk | publicKeyPem }` with unique `kid`s and
 * each `alg` among `algorithms`. Returns the keys, or undefined after reporting.
 */
export function checkKeys(
  p: Problems,
  path: string,
  value: unknown,
  algorithms: readonly JwtAlgorithm[] | undefined,
): PolicyKey[] | undefined {
  if (!Array.isArray(value)) {
    p.error(path, `expected an array of keys, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > 1000) {
    p.error(path, `expected at most 1000 keys, got ${value.length}`);
    return undefined;
  }
  const out: PolicyKey[] = [];
  const kids = new Map<string, number>();
  let ok = true;
  for (let i = 0; i < value.length; i++) {
    const at = `${path}[${i}]`;
    const key = checkKey(p, at, value[i], algorithms);
    if (key === undefined) {
      ok = false;
      continue;
    }
    const first = kids.get(key.kid);
    if (first !== undefined) {
      p.error(`${at}.kid`, `duplicate kid ${JSON.stringify(key.kid)} (also ${path}[${first}])`);
      ok = false;
      continue;
    }
    kids.set(key.kid, i);
    out.push(key);
  }
  return ok ? out : undefined;
}

function checkKey(
  p: Problems,
  path: string,
  value: unknown,
  algorithms: readonly JwtAlgorithm[] | undefined,
): PolicyKey | undefined {
  if (!isRecord(value)) {
    p.error(path, `expected a key object, got ${describe(value)}`);
    return undefined;
  }
  const before = p.count;
  checkKnownKeys(p, path, value, ['kid', 'alg', 'secret', 'jwk', 'publicKeyPem']);
  const kid = field(value, 'kid');
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) {
    p.error(`${path}.kid`, `expected a non-empty string of at most 256 characters, got ${describe(kid)}`);
  }
  const alg = checkAlgorithm(p, `${path}.alg`, field(value, 'alg'));
  if (alg !== undefined && algorithms !== undefined && !algorithms.includes(alg)) {
    p.error(`${path}.alg`, `${alg} is not in $.algorithms (${algorithms.join(', ')}): the key could never be used`);
  }
  const material = (['secret', 'jwk', 'publicKeyPem'] as const).filter((k) => field(value, k) !== undefined);
  if (material.length !== 1) {
    p.error(path, `expected exactly one of "secret", "jwk" or "publicKeyPem", got ${material.length}`);
    return undefined;
  }
  if (alg === undefined || typeof kid !== 'string') return undefined;
  const kind = material[0]!;
  const hmacMin = HMAC_MIN_SECRET_BYTES[alg];
  if (hmacMin !== undefined && kind !== 'secret') {
    p.error(`${path}.${kind}`, `${alg} is an HMAC algorithm: it takes a "secret", not a public key`);
    return undefined;
  }
  if (hmacMin === undefined && kind === 'secret') {
    p.error(`${path}.secret`, `${alg} is a public-key algorithm: give "jwk" or "publicKeyPem", never a secret`);
    return undefined;
  }
  if (kind === 'secret') {
    const text = field(value, 'secret');
    const bytes =
      typeof text === 'string' && text.length <= MAX_SECRET_CHARS
        ? decodeBase64Url(text.replace(/=+$/, ''))
        : undefined;
    if (bytes === undefined) {
      p.error(`${path}.secret`, `expected base64url text of at most ${MAX_SECRET_CHARS} characters (value not shown)`);
      return undefined;
    }
    if (bytes.length < hmacMin!) {
      p.error(`${path}.secret`, `${alg} needs a secret of at least ${hmacMin} bytes, got ${bytes.length}`);
      return undefined;
    }
    if (p.count > before) return undefined;
    const key = { kid, alg, kind: 'secret' as const } as { kid: string; alg: JwtAlgorithm; kind: 'secret' };
    Object.defineProperty(key, 'secret', { value: bytes, enumerable: false });
    return Object.freeze(key) as PolicyKey;
  }
  if (kind === 'publicKeyPem') {
    const pem = field(value, 'publicKeyPem');
    if (typeof pem !== 'string' || pem.length > MAX_PEM_CHARS || !PEM.test(pem)) {
      const priv = typeof pem === 'string' && pem.includes('PRIVATE KEY');
      p.error(
        `${path}.publicKeyPem`,
        priv
          ? 'a private key does not belong in the policy file: give the public key (value not shown)'
          : `expected one PEM "PUBLIC KEY" (SPKI) or "CERTIFICATE" block of at most ${MAX_PEM_CHARS} characters (value not shown)`,
      );
      return undefined;
    }
    if (p.count > before) return undefined;
    return Object.freeze({ kid, alg, kind: 'pem', publicKeyPem: pem });
  }
  const jwk = checkJwk(p, `${path}.jwk`, field(value, 'jwk'), alg);
  if (jwk === undefined || p.count > before) return undefined;
  return Object.freeze({ kid, alg, kind: 'jwk', jwk });
}

/** One of `JWT_ALGORITHMS`, or undefined after reporting (`none` gets its own message). */
export function checkAlgorithm(p: Problems, path: string, value: unknown): JwtAlgorithm | undefined {
  if (typeof value === 'string' && (JWT_ALGORITHMS as readonly string[]).includes(value)) return value as JwtAlgorithm;
  if (typeof value === 'string' && value.toLowerCase() === 'none') {
    p.error(path, 'algorithm "none" (unsigned tokens) is never allowed');
  } else {
    p.error(path, `expected one of ${JWT_ALGORITHMS.join(', ')}, got ${describe(value)}`);
  }
  return undefined;
}

function checkJwk(p: Problems, path: string, value: unknown, alg: JwtAlgorithm): PublicJwk | undefined {
  if (!isRecord(value)) {
    p.error(path, `expected a public JWK object, got ${describe(value)}`);
    return undefined;
  }
  const priv = PRIVATE_JWK_MEMBERS.filter((m) => field(value, m) !== undefined);
  if (priv.length > 0) {
    p.error(path, `holds private or secret members (${priv.join(', ')}): give the public key only (values not shown)`);
    return undefined;
  }
  const shape = JWK_SHAPES[alg]!;
  let ok = true;
  const kty = field(value, 'kty');
  if (kty !== shape.kty) {
    p.error(keyPath(path, 'kty'), `${alg} needs kty ${JSON.stringify(shape.kty)}, got ${describe(kty)}`);
    ok = false;
  }
  const crv = field(value, 'crv');
  if (shape.crv !== undefined && crv !== shape.crv) {
    p.error(keyPath(path, 'crv'), `${alg} needs crv ${JSON.stringify(shape.crv)}, got ${describe(crv)}`);
    ok = false;
  }
  const jwkAlg = field(value, 'alg');
  if (jwkAlg !== undefined && jwkAlg !== alg) {
    p.error(keyPath(path, 'alg'), `must match the key's alg ${alg}, got ${describe(jwkAlg)}`);
    ok = false;
  }
  const use = field(value, 'use');
  if (use !== undefined && use !== 'sig') {
    p.error(keyPath(path, 'use'), `must be "sig" for a verification key, got ${describe(use)}`);
    ok = false;
  }
  const out: Record<string, string> = { kty: shape.kty, alg };
  if (shape.crv !== undefined) out.crv = shape.crv;
  for (const m of shape.members) {
    const v = field(value, m);
    if (typeof v !== 'string' || v.length > 4096 || decodeBase64Url(v) === undefined) {
      p.error(
        keyPath(path, m),
        `expected base64url text, got ${typeof v === 'string' ? 'another string' : describe(v)}`,
      );
      ok = false;
    } else if (m === 'n' && v.length < MIN_RSA_N_CHARS) {
      p.error(keyPath(path, m), 'RSA keys of fewer than 2048 bits are refused');
      ok = false;
    } else out[m] = v;
  }
  return ok ? (Object.freeze(out) as unknown as PublicJwk) : undefined;
}
