/**
 * `isobroker token`: mints a signed token (JWT) for operators, tests and the demo, and makes the
 * material a policy file needs: a fresh HMAC secret (`--new-secret`) or a new API key and the
 * hash line to put into the policy (`--new-api-key`).
 *
 * The key file holds either a raw HMAC secret (base64url, as `--new-secret` prints it), a JSON
 * key entry (`{"kid", "alg", "secret"}`, or a private `jwk`, or `privateKeyPem`), or a PEM
 * private key (PKCS#8) for the public-key algorithms. Claims: `sub`, `iat`, `exp` (`--ttl`), a
 * random `jti` (for revocation), `iss`/`aud` when given, and the private claims in `isb`
 * (`roles`, `node`, and whatever `--claims '{"isb": {…}}'` adds).
 */
import { randomBytes } from 'node:crypto';
import { importJWK, importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { generateApiKey, hashApiKey } from '../../src/node/auth/api-keys.js';
import {
  EXIT,
  UsageError,
  checkNonEmpty,
  checkOneOf,
  defineCommand,
  expected,
  parseOrMeta,
  readOptionFile,
} from './args.js';

/** The algorithms `isobroker token` can sign with. */
export const TOKEN_SIGNING_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
  'ES256',
  'ES384',
  'RS256',
  'PS256',
] as const;
/** One of `TOKEN_SIGNING_ALGORITHMS`. */
export type TokenSigningAlgorithm = (typeof TOKEN_SIGNING_ALGORITHMS)[number];

/** Bytes of a fresh HMAC secret per algorithm (the hash size, RFC 7518 §3.2). */
const SECRET_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/** The longest `--ttl`: one year. */
export const MAX_TOKEN_TTL_SECONDS = 366 * 24 * 3600;

/** `isobroker token`: its options, for `--help` and checks. */
export const TOKEN_COMMAND = defineCommand({
  name: 'token',
  synopsis:
    '--key-file FILE [--kid KID] --sub SUB [--role ROLE]... [--node NAME] [--ttl 15m] [--alg HS256] [--aud A] [--iss I] [--claims JSON]\n' +
    '       isobroker token --new-secret [--alg HS256]\n' +
    '       isobroker token --new-api-key [--sub SUB] [--role ROLE]...',
  description: `
Prints one signed token (JWT) on stdout, for a hub whose policy file holds the same key (same kid).
The key file holds a base64url HMAC secret (as --new-secret prints it), a JSON key entry
({"kid", "alg", "secret"}, a private "jwk", or "privateKeyPem"), or a PKCS#8 PEM private key.
The token carries sub, iat, exp (now + --ttl), a random jti (for revocation), iss and aud when
given, and {"isb": {"roles": [...], "node": ...}}; --claims adds claims (a JSON object; its "isb"
members are merged into that object).
--new-secret prints a fresh HMAC secret for a key file and the policy's "keys".
--new-api-key prints a new API key (line 1: give it to the client, it is shown only now) and the
entry for the policy's "apiKeys" (line 2: holds only the key's hash).`,
  options: {
    'key-file': { type: 'string', arg: 'FILE', help: 'the signing key (secret, JSON key entry or PEM private key)' },
    kid: {
      type: 'string',
      arg: 'KID',
      defaultText: "the key file's kid",
      help: "the key's id in the policy",
      check: checkNonEmpty,
    },
    sub: { type: 'string', arg: 'SUB', help: 'the subject (principal name)', check: checkNonEmpty },
    role: { type: 'string', arg: 'ROLE', multiple: true, help: 'a role of the policy', check: checkNonEmpty },
    node: { type: 'string', arg: 'NAME', help: 'the cluster node name this principal may use', check: checkNonEmpty },
    ttl: {
      type: 'string',
      arg: 'DURATION',
      default: '15m',
      help: 'lifetime: N (seconds) or Ns, Nm, Nh, Nd; at most 366d',
      check: (v, flag) => void parseDuration(v, flag),
    },
    alg: {
      type: 'string',
      arg: 'ALG',
      defaultText: "HS256, or the key file's alg",
      help: `signature algorithm: ${TOKEN_SIGNING_ALGORITHMS.join(', ')}`,
      check: checkOneOf(...TOKEN_SIGNING_ALGORITHMS),
    },
    aud: { type: 'string', arg: 'AUD', help: 'audience claim (the policy\'s "audience")', check: checkNonEmpty },
    iss: { type: 'string', arg: 'ISS', help: 'issuer claim (the policy\'s "issuer")', check: checkNonEmpty },
    claims: {
      type: 'string',
      arg: 'JSON',
      help: 'more claims, a JSON object, e.g. \'{"isb":{"stores":{"ui_prefs":"write"}}}\'',
      check: (v, flag) => void parseClaims(v, flag),
    },
    'new-secret': { type: 'boolean', help: 'print a fresh HMAC secret (base64url) and exit' },
    'new-api-key': { type: 'boolean', help: 'print a new API key and its policy entry and exit' },
  },
  validate: (v) => {
    if (v['new-secret'] && v['new-api-key']) throw new UsageError('--new-secret and --new-api-key exclude each other');
    const mint = !v['new-secret'] && !v['new-api-key'];
    if (mint && v['key-file'] === undefined) throw new UsageError('--key-file: required (FILE) to mint a token');
    if (mint && v.sub === undefined) throw new UsageError('--sub: required (SUB) to mint a token');
    if (!mint) {
      const only = v['new-secret'] ? ['alg'] : ['sub', 'role'];
      for (const name of ['key-file', 'kid', 'sub', 'role', 'node', 'aud', 'iss', 'claims', 'alg'] as const) {
        const given = Array.isArray(v[name]) ? (v[name] as string[]).length > 0 : v[name] !== undefined;
        if (given && !only.includes(name)) {
          throw new UsageError(`--${name} does not go with --${v['new-secret'] ? 'new-secret' : 'new-api-key'}`);
        }
      }
      if (v['new-secret'] && v.alg !== undefined && SECRET_BYTES[v.alg] === undefined) {
        throw new UsageError(`--alg: --new-secret makes HMAC secrets (HS256, HS384, HS512), not ${v.alg}`);
      }
    }
  },
});

/** `15m` → 900. Accepts N (seconds), Ns, Nm, Nh, Nd; from 1 s to `MAX_TOKEN_TTL_SECONDS`. */
export function parseDuration(text: string, flag = '--ttl'): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text);
  const n = m ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] : NaN;
  if (!(n >= 1 && n <= MAX_TOKEN_TTL_SECONDS)) expected(flag, 'a duration from 1s to 366d (N, Ns, Nm, Nh or Nd)', text);
  return n;
}

const REGISTERED = ['sub', 'exp', 'iat', 'nbf', 'jti', 'iss', 'aud'];

function parseClaims(text: string, flag = '--claims'): JWTPayload {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    expected(flag, 'a JSON object', text.length > 60 ? `${text.slice(0, 60)}…` : text);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) expected(flag, 'a JSON object', text.slice(0, 60));
  const obj = v as Record<string, unknown>;
  for (const k of REGISTERED) {
    if (k in obj)
      throw new UsageError(`${flag}: "${k}" is set by its own option (--sub, --ttl, --iss, --aud), not here`);
  }
  if ('isb' in obj && (typeof obj.isb !== 'object' || obj.isb === null || Array.isArray(obj.isb))) {
    throw new UsageError(`${flag}: "isb" must be a JSON object`);
  }
  return obj as JWTPayload;
}

/** A key to sign with, as read from a key file. */
export interface SigningKey {
  readonly alg: TokenSigningAlgorithm;
  readonly key: Uint8Array | CryptoKey;
  /** The key file's `kid`, if it names one. */
  readonly kid?: string;
}

const isAlg = (v: unknown): v is TokenSigningAlgorithm =>
  typeof v === 'string' && (TOKEN_SIGNING_ALGORITHMS as readonly string[]).includes(v);

/**
 * Reads a key file's text: a base64url HMAC secret, a JSON key entry, or a PKCS#8 PEM private key.
 * `alg` (from `--alg`) must agree with the file's own `alg` when it has one. Throws a UsageError
 * naming `flag` that never quotes the key material.
 */
export async function parseSigningKey(text: string, alg?: string, flag = '--key-file'): Promise<SigningKey> {
  const t = text.trim();
  const bad = (why: string): never => {
    throw new UsageError(`${flag}: ${why}`);
  };
  if (alg !== undefined && !isAlg(alg)) bad(`unsupported algorithm ${JSON.stringify(alg)}`);
  const hmacSecret = (b64: string, a: TokenSigningAlgorithm, kid?: string): SigningKey => {
    if (SECRET_BYTES[a] === undefined) bad(`a secret signs only HS256, HS384 or HS512, not ${a}`);
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(b64)) bad('expected a base64url secret, a JSON key entry or a PEM private key');
    const bytes = new Uint8Array(Buffer.from(b64, 'base64url'));
    if (bytes.length < SECRET_BYTES[a]!)
      bad(`an ${a} secret needs at least ${SECRET_BYTES[a]} bytes, got ${bytes.length}`);
    return { alg: a, key: bytes, ...(kid !== undefined ? { kid } : {}) };
  };
  if (t.startsWith('-----BEGIN')) {
    if (!t.startsWith('-----BEGIN PRIVATE KEY-----')) bad('a PEM key must be a PKCS#8 "BEGIN PRIVATE KEY" block');
    if (alg === undefined || SECRET_BYTES[alg] !== undefined) bad('a PEM private key needs --alg (EdDSA, ES256, …)');
    try {
      return { alg: alg as TokenSigningAlgorithm, key: await importPKCS8(t, alg as string) };
    } catch {
      return bad(`the PEM private key cannot be used for ${alg}`);
    }
  }
  if (!t.startsWith('{')) return hmacSecret(t, (alg as TokenSigningAlgorithm | undefined) ?? 'HS256');
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(t) as Record<string, unknown>;
  } catch {
    return bad('not valid JSON (expected a key entry)');
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return bad('expected a JSON key entry object');
  const fileAlg = entry.alg;
  if (fileAlg !== undefined && !isAlg(fileAlg))
    bad(`the key entry's alg is not one of ${TOKEN_SIGNING_ALGORITHMS.join(', ')}`);
  if (alg !== undefined && fileAlg !== undefined && alg !== fileAlg)
    bad(`--alg ${alg} differs from the key entry's alg ${fileAlg}`);
  const a = (alg ?? fileAlg ?? 'HS256') as TokenSigningAlgorithm;
  const kid = entry.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid === ''))
    bad('the key entry\'s "kid" must be a non-empty string');
  const given = ['secret', 'jwk', 'privateKeyPem'].filter((k) => entry[k] !== undefined);
  if (given.length !== 1) bad('the key entry needs exactly one of "secret", "jwk" (private) or "privateKeyPem"');
  if (entry.secret !== undefined) {
    if (typeof entry.secret !== 'string') bad('the key entry\'s "secret" must be base64url text');
    return hmacSecret(entry.secret as string, a, kid as string | undefined);
  }
  if (SECRET_BYTES[a] !== undefined) bad(`${a} signs with a "secret", not a private key`);
  try {
    const key =
      entry.jwk !== undefined
        ? await importJWK({ ...(entry.jwk as object), alg: a } as never, a)
        : await importPKCS8(String(entry.privateKeyPem), a);
    if (key instanceof Uint8Array || (key as CryptoKey).type !== 'private') bad('the key entry holds no private key');
    return { alg: a, key: key as CryptoKey, ...(kid !== undefined ? { kid: kid as string } : {}) };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return bad(`the key entry's private key cannot be used for ${a}`);
  }
}

/** What `mintToken` puts into a token. */
export interface MintOptions {
  readonly key: SigningKey;
  /** The policy's kid of the key (default: the key's own `kid`). */
  readonly kid?: string;
  readonly sub: string;
  readonly roles?: readonly string[];
  readonly node?: string | null;
  /** Lifetime in seconds. @default 900 */
  readonly ttlSeconds?: number;
  readonly audience?: string;
  readonly issuer?: string;
  /** More claims; an `isb` object is merged into the one built from roles and node. */
  readonly claims?: JWTPayload;
  /** The issue time, ms since the epoch. @default Date.now() */
  readonly nowMs?: number;
}

/** Signs a token: sub, iat, exp, a random jti, iss/aud when given, and `isb` {roles, node, …}. */
export async function mintToken(o: MintOptions): Promise<string> {
  const kid = o.kid ?? o.key.kid;
  if (kid === undefined) throw new UsageError('--kid: required (KID): the key file names no kid');
  const now = Math.floor((o.nowMs ?? Date.now()) / 1000);
  const extra = o.claims ?? {};
  const isb = {
    roles: [...(o.roles ?? [])],
    ...(o.node !== undefined && o.node !== null ? { node: o.node } : {}),
    ...((extra.isb as object | undefined) ?? {}),
  };
  const payload: JWTPayload = { ...extra, isb, sub: o.sub, iat: now, exp: now + (o.ttlSeconds ?? 900) };
  payload.jti = randomBytes(16).toString('base64url');
  if (o.issuer !== undefined) payload.iss = o.issuer;
  if (o.audience !== undefined) payload.aud = o.audience;
  return new SignJWT(payload).setProtectedHeader({ alg: o.key.alg, kid, typ: 'JWT' }).sign(o.key.key);
}

/** The `apiKeys` entry for a new key (`--new-api-key`): an id, the hash, sub and roles. */
export function apiKeyEntry(key: string, sub?: string, roles: readonly string[] = []): Record<string, unknown> {
  return {
    id: `key-${randomBytes(4).toString('hex')}`,
    hash: hashApiKey(key),
    sub: sub ?? 'CHANGE-ME',
    roles: [...roles],
  };
}

/** Runs `isobroker token`; resolves to the exit code. */
export async function runToken(argv: readonly string[]): Promise<number> {
  const v = parseOrMeta(TOKEN_COMMAND, argv);
  if (!v) return EXIT.ok;
  if (v['new-secret']) {
    process.stdout.write(`${randomBytes(SECRET_BYTES[v.alg ?? 'HS256']!).toString('base64url')}\n`);
    return EXIT.ok;
  }
  if (v['new-api-key']) {
    const key = generateApiKey();
    process.stdout.write(`${key}\n${JSON.stringify(apiKeyEntry(key, v.sub, v.role))}\n`);
    return EXIT.ok;
  }
  const key = await parseSigningKey(readOptionFile(v['key-file']!, '--key-file'), v.alg);
  const token = await mintToken({
    key,
    ...(v.kid !== undefined ? { kid: v.kid } : {}),
    sub: v.sub!,
    roles: v.role,
    node: v.node ?? null,
    ttlSeconds: parseDuration(v.ttl),
    ...(v.aud !== undefined ? { audience: v.aud } : {}),
    ...(v.iss !== undefined ? { issuer: v.iss } : {}),
    ...(v.claims !== undefined ? { claims: parseClaims(v.claims) } : {}),
  });
  process.stdout.write(`${token}\n`);
  return EXIT.ok;
}
