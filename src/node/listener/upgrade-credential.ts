/**
 * The credential of a WebSocket upgrade request: `Authorization: Bearer <token>`,
 * `Authorization: ApiKey isbk_…` (or `Bearer isbk_…`), the subprotocol list
 * `Sec-WebSocket-Protocol: isobroker.v1, bearer.<token>` (browsers cannot set headers; the server
 * selects `isobroker.v1` and never echoes the credential), or a cookie — the cookie only from an
 * allowed Origin, because the browser attaches it to requests from any page. Never from the query
 * string. Header values are bounded; the credential itself never goes into a message.
 */
import type { IncomingMessage } from 'node:http';
import { API_KEY_PREFIX, AuthError, type Credential } from '../../auth/types.js';
import { BEARER_SUBPROTOCOL_PREFIX, ISOBROKER_SUBPROTOCOL } from '../../endpoint/token-source.js';

/** How an upgrade's credential was read. */
export type CredentialSource = 'authorization' | 'subprotocol' | 'cookie';

/** What `upgradeCredential` found. */
export type UpgradeCredentialResult =
  /** A credential, or none (`credential` undefined). */
  | { readonly credential: Credential | undefined; readonly source?: CredentialSource }
  /** A header over the size bound: answer HTTP 431 before any WebSocket exists. */
  | { readonly tooLarge: string }
  /** A malformed credential: refuse the connection like a wrong one. */
  | { readonly invalid: AuthError };

// Token characters of RFC 7230 minus what no credential needs; JWTs are base64url with dots.
const CREDENTIAL = /^[A-Za-z0-9._~+/=-]+$/;

function credentialOf(value: string, forceApiKey: boolean): Credential | undefined {
  if (!CREDENTIAL.test(value)) return undefined;
  return { kind: forceApiKey || value.startsWith(API_KEY_PREFIX) ? 'api_key' : 'bearer', value };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(name === 'cookie' ? '; ' : ', ') : v;
}

function cookieValue(cookies: string, name: string): string | undefined {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

const malformed = (where: string): { invalid: AuthError } => ({
  invalid: new AuthError('unauthenticated', `malformed credential in ${where}`),
});

/**
 * Reads the credential of an upgrade request. `cookieName` is read only when `cookieOriginAllowed`
 * (the request's Origin is in the auth Origin allowlist).
 */
export function upgradeCredential(
  req: IncomingMessage,
  opts: { readonly cookieName: string | undefined; readonly cookieOriginAllowed: boolean; readonly maxBytes: number },
): UpgradeCredentialResult {
  const authorization = header(req, 'authorization');
  const protocols = header(req, 'sec-websocket-protocol');
  const cookies = opts.cookieName !== undefined && opts.cookieOriginAllowed ? header(req, 'cookie') : undefined;
  for (const [name, v] of [
    ['Authorization', authorization],
    ['Sec-WebSocket-Protocol', protocols],
    ['Cookie', cookies],
  ] as const)
    if (v !== undefined && v.length > opts.maxBytes) return { tooLarge: name };

  if (authorization !== undefined) {
    const m = /^(Bearer|ApiKey)[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const cred = m ? credentialOf(m[2]!, m[1]!.toLowerCase() === 'apikey') : undefined;
    return cred ? { credential: cred, source: 'authorization' } : malformed('the Authorization header');
  }
  if (protocols !== undefined) {
    const bearers = protocols
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
    if (bearers.length > 1) return malformed('Sec-WebSocket-Protocol (more than one bearer.)');
    if (bearers.length === 1) {
      const cred = credentialOf(bearers[0]!.slice(BEARER_SUBPROTOCOL_PREFIX.length), false);
      return cred ? { credential: cred, source: 'subprotocol' } : malformed('Sec-WebSocket-Protocol');
    }
  }
  if (cookies !== undefined && opts.cookieName !== undefined) {
    const v = cookieValue(cookies, opts.cookieName);
    if (v !== undefined) {
      const cred = credentialOf(v, false);
      return cred ? { credential: cred, source: 'cookie' } : malformed('the cookie');
    }
  }
  return { credential: undefined };
}

/**
 * `ws`'s `handleProtocols`: selects `isobroker.v1` when offered, else (as `ws` does by default)
 * the first offered subprotocol — but never a `bearer.` entry, so a credential is never echoed.
 * With nothing selectable, the response carries no subprotocol.
 */
export function selectSubprotocol(protocols: Set<string>): string | false {
  if (protocols.has(ISOBROKER_SUBPROTOCOL)) return ISOBROKER_SUBPROTOCOL;
  for (const p of protocols) if (!p.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return p;
  return false;
}
