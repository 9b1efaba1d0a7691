/**
 * What the listener does with an upgrade when `auth` is on: read its credential, verify it before
 * the WebSocket exists (header, subprotocol, cookie or a verified client certificate), or — a
 * native connection without one — hand it over with an `authenticate` for its hello. Failures
 * go to the endpoint as `AcceptAuth.error` (it answers and audits them); each one counts against
 * the client IP. Verification that outlives the pre-auth deadline is answered with HTTP 408.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AcceptAuth, AuditSink, Authenticate, ConnectionInfo } from '../../auth/types.js';
import { asAuthError } from '../../endpoint/access.js';
import type { ResolvedListenAuth } from './options.js';
import { listenerEvent } from './audit.js';
import { verifiedCertificateName } from './tls-server.js';
import { upgradeCredential } from './upgrade-credential.js';
import { rejectUpgrade } from './upgrade-socket.js';

/** One upgrade, as `decideUpgradeAuth` needs it. */
export interface UpgradeAuthContext {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  readonly auth: ResolvedListenAuth;
  /** Where the connection comes from (after `trustProxy`). */
  readonly at: Pick<ConnectionInfo, 'ip' | 'remote' | 'protocol'>;
  /** The pre-auth deadline, `Date.now()` ms. */
  readonly deadlineAt: number;
  /** Largest credential header value, bytes. */
  readonly maxCredentialBytes: number;
  readonly audit: AuditSink;
  /** An authentication failed: count it against the IP. */
  failed(): void;
  /** The hello's credential was verified (native connections handed over with `authenticate`). */
  helloAuthenticated(): void;
}

/** What becomes of the upgrade. */
export type UpgradeAuthDecision =
  /** Hand over without `AcceptAuth` (trusted, as with auth off: `required: false` and no credential). */
  | { readonly kind: 'trusted' }
  /** Hand over with this; `authenticated`: a principal came with the upgrade. */
  | { readonly kind: 'accept'; readonly auth: AcceptAuth; readonly authenticated: boolean }
  /** Already answered with an HTTP error, or the socket went away. */
  | { readonly kind: 'done' };

/** Decides (and for a credential on the upgrade, verifies) the upgrade in `ctx`; `pending` holds sockets awaiting verification. */
export async function decideUpgradeAuth(ctx: UpgradeAuthContext, pending: Set<Duplex>): Promise<UpgradeAuthDecision> {
  const { req, socket, auth, at } = ctx;
  const origin = req.headers.origin;
  const cred = upgradeCredential(req, {
    cookieName: auth.cookieName,
    cookieOriginAllowed: origin !== undefined && auth.origins.includes(origin.toLowerCase()),
    maxBytes: ctx.maxCredentialBytes,
  });
  if ('tooLarge' in cred) {
    ctx.audit(
      listenerEvent('limit_exceeded', { ...at, code: 'limit_exceeded', detail: `${cred.tooLarge} header size` }),
    );
    rejectUpgrade(socket, 431, `${cred.tooLarge} header too large`);
    return { kind: 'done' };
  }
  const certificateName = verifiedCertificateName(req.socket);
  const conn: ConnectionInfo = {
    ...at,
    ...(origin === undefined ? {} : { origin }),
    ...(certificateName === undefined ? {} : { certificateName }),
  };
  if ('invalid' in cred) {
    ctx.failed();
    return { kind: 'accept', auth: { conn, error: cred.invalid }, authenticated: false };
  }
  const credential = cred.credential;
  if (credential === undefined && certificateName === undefined) {
    if (!auth.required) return { kind: 'trusted' };
    if (at.protocol === 'native') {
      // The hello carries the credential: the endpoint verifies it through this.
      const authenticate: Authenticate = async (c, info) => {
        try {
          const principal = await auth.authenticate(c, info);
          ctx.helloAuthenticated();
          return principal;
        } catch (err) {
          ctx.failed();
          throw asAuthError(err);
        }
      };
      return { kind: 'accept', auth: { conn, authenticate }, authenticated: false };
    }
  }

  // Verify before the WebSocket exists; the socket waits unread (Node stops reading at 16 KiB).
  pending.add(socket);
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      ctx.audit(
        listenerEvent('auth_failed', { ...at, code: 'timeout', detail: 'authentication did not finish in time' }),
      );
      rejectUpgrade(socket, 408, 'authentication timed out');
    },
    Math.max(0, ctx.deadlineAt - Date.now()),
  );
  let result: AcceptAuth;
  try {
    const principal = await auth.authenticate(credential, conn);
    // Native connections refresh in band (Reauth), verified the same way.
    result = at.protocol === 'native' ? { conn, principal, authenticate: auth.authenticate } : { conn, principal };
  } catch (err) {
    ctx.failed(); // the endpoint audits auth_failed when it refuses the connection
    result = { conn, error: asAuthError(err) };
  } finally {
    clearTimeout(timer);
    pending.delete(socket);
  }
  if (timedOut || socket.destroyed) return { kind: 'done' };
  return { kind: 'accept', auth: result, authenticated: result.principal !== undefined };
}
