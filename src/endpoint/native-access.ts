/**
 * Authentication and authorization of native connections (PROTOCOL.md §10), for the overlay:
 * the hello's credential verified before anything else of the peer is processed, `Welcome` after
 * success, router links and node names checked, a leaf's data checked against its publish grant,
 * its subscriptions narrowed to its subscribe grant (`Narrowed`), and refresh in band (`Reauth`).
 * The dialling side's part — answering `token_expiring` with a `Reauth` — is here too.
 */
import { AuthError, type Principal } from '../auth/types.js';
import { MessageKind, type NativeMessage } from '../codec/native/messages.js';
import {
  EXPIRY_GRACE_MS,
  asAuthError,
  credentialOf,
  nativeCloseCode,
  subscriptionLimit,
  type AccessControl,
  type ConnectionAccess,
} from './access.js';
import { normalizeInterest } from './interest.js';
import type { NativeSession } from './native-session.js';

/** Protocol version that knows `Welcome`, `Reauth` and `Narrowed`. */
const AUTH_VERSION = 3;

export class NativeAccess {
  private readonly reauthPending = new WeakSet<NativeSession>();

  constructor(
    private readonly control: AccessControl,
    /** Reports something the hub told us (a narrowed subscription, a failed refresh) to the application. */
    private readonly report: (s: NativeSession, code: string, context: string) => void,
  ) {}

  /**
   * Authenticates an accepted session's hello (or takes the principal of the upgrade) and checks
   * the link it asks for. Resolves to an error code when the session was refused (and closed).
   */
  async hello(s: NativeSession): Promise<string | undefined> {
    const auth = s.authOptions.auth!;
    let principal: Principal;
    try {
      principal = await this.principalOf(s);
    } catch (err) {
      const e = asAuthError(err);
      this.control.audit(undefined, 'auth_failed', {
        ip: auth.conn.ip,
        remote: auth.conn.remote,
        protocol: 'native',
        code: e.code,
        detail: e.message,
      });
      s.fail(e.code, e.message, nativeCloseCode(e));
      return e.code;
    }
    if (s.isClosed) return 'closed';
    if (principal.method === 'trusted') return undefined;
    const refusal =
      s.kind === 'router' && !principal.router
        ? `${principal.sub} may not open router links (a hub or cluster node role is needed)`
        : principal.node !== null && s.peerName !== principal.node
          ? `${principal.sub} may only connect as node '${principal.node}', not '${s.peerName}'`
          : undefined;
    const a = this.control.open(principal, auth.conn, auth.authenticate);
    s.access = a;
    a.link = {
      // The expiry warning is a control message (never dropped); error replies are notices.
      notify: (code, context) =>
        code === 'token_expiring' ? s.sendControl({ kind: MessageKind.Error, code, context }) : s.notify(code, context),
      refuse: (err) => s.refuse(err.code, err.message, nativeCloseCode(err)),
      replaced: (context) => s.bye('takeover', context),
      ...(s.transport.pause && s.transport.resume
        ? { pause: () => s.transport.pause!(), resume: () => s.transport.resume!() }
        : {}),
    };
    if (refusal) {
      a.audit('auth_failed', { code: 'forbidden', detail: refusal });
      s.fail('forbidden', refusal, nativeCloseCode(new AuthError('forbidden', refusal)));
      return 'forbidden';
    }
    a.audit('auth_ok', { detail: principal.method });
    if (principal.node !== null)
      this.control
        .claimNode(a, principal.node)
        ?.link?.replaced?.(`node '${principal.node}' connected again from ${auth.conn.remote}`);
    this.welcome(s, principal);
    a.armExpiry(EXPIRY_GRACE_MS, s.peerVersion >= AUTH_VERSION);
    return undefined;
  }

  private async principalOf(s: NativeSession): Promise<Principal> {
    const auth = s.authOptions.auth!;
    const credential = credentialOf(s.takeHelloCredential());
    if (auth.principal) return auth.principal;
    if (!auth.authenticate) throw new AuthError('unauthenticated', 'this endpoint cannot verify credentials');
    return auth.authenticate(credential, auth.conn);
  }

  private welcome(s: NativeSession, p: Principal): void {
    if (s.peerVersion < AUTH_VERSION) return;
    s.sendControl({ kind: MessageKind.Welcome, sub: p.sub, roles: [...p.roles], expiresAt: p.expiresAt ?? 0 });
  }

  /** A leaf's announced subscriptions narrowed to its grant; it hears of changes (`Narrowed`, `forbidden`). */
  narrow(s: NativeSession, a: ConnectionAccess, filter: readonly string[]): string[] {
    const r = a.narrow(filter);
    const effective = normalizeInterest(r.effective);
    if ((r.narrowed.length > 0 || r.refused.length > 0) && s.peerVersion >= AUTH_VERSION) {
      s.sendControl({
        kind: MessageKind.Narrowed,
        requested: [...r.narrowed, ...r.refused.map((x) => x.prefix)],
        effective,
      });
    }
    return effective;
  }

  /** `Welcome`, `Reauth`, `Narrowed` and errors about credentials. Returns false when not ours. */
  message(s: NativeSession, m: NativeMessage): boolean {
    switch (m.kind) {
      case MessageKind.Reauth:
        this.reauth(s, m.credential);
        return true;
      case MessageKind.Welcome:
        if (!s.initiator) return false;
        s.welcome = { sub: m.sub, roles: m.roles, expiresAt: m.expiresAt };
        return true;
      case MessageKind.Narrowed:
        if (!s.initiator) return false;
        this.report(
          s,
          'subscription_narrowed',
          `the hub serves ${JSON.stringify(m.effective)} (changed or refused: ${JSON.stringify(m.requested)})`,
        );
        return true;
      case MessageKind.Error:
        if (m.code === 'token_expiring' && s.initiator) this.refresh(s);
        return false;
      default:
        return false;
    }
  }

  /** Dialling side: fetches a fresh credential and sends it in a `Reauth`. */
  private refresh(s: NativeSession): void {
    const cred = s.authOptions.credential;
    if (!cred || this.reauthPending.has(s)) return;
    this.reauthPending.add(s);
    cred.refresh().then(
      (value) => {
        this.reauthPending.delete(s);
        // The same credential again would change nothing (no getToken): let it expire.
        if (!value || s.isClosed || value === s.credentialSent) return;
        s.credentialSent = value;
        s.sendControl({ kind: MessageKind.Reauth, credential: value });
      },
      (err: unknown) => {
        this.reauthPending.delete(s);
        this.report(s, 'token_refresh_failed', err instanceof Error ? err.message : String(err));
      },
    );
  }

  /** Hub side: verifies a `Reauth` (same subject and node) and replaces the principal. */
  private reauth(s: NativeSession, value: string): void {
    const a = s.access;
    if (!a?.authenticate) {
      s.notify('unexpected_message', 'this connection was not authenticated with a refreshable credential');
      return;
    }
    if (this.reauthPending.has(s)) {
      a.reply('limit_exceeded', 'a Reauth is already being verified');
      return;
    }
    this.reauthPending.add(s);
    const verify = a.authenticate;
    Promise.resolve()
      .then(() => verify(credentialOf(value), a.conn))
      .then(
        (p) => {
          this.reauthPending.delete(s);
          if (s.isClosed || a.isClosed) return;
          if (p.sub !== a.principal.sub || p.node !== a.principal.node) {
            a.audit('auth_failed', { code: 'forbidden', detail: 'Reauth with another subject or node' });
            a.reply('forbidden', 'Reauth must keep the subject and node of the connection');
            return;
          }
          if (!a.replace(p)) return;
          a.audit('auth_refreshed');
          this.welcome(s, p);
          a.armExpiry(EXPIRY_GRACE_MS, s.peerVersion >= AUTH_VERSION);
        },
        (err: unknown) => {
          this.reauthPending.delete(s);
          const e = asAuthError(err);
          a.audit('auth_failed', { code: e.code, detail: `Reauth: ${e.message}` });
          a.reply(e.code, `Reauth refused: ${e.message}`);
        },
      );
  }
}

/**
 * A leaf's announced prefixes as served: narrowed to its grant when it runs as a principal, then
 * at most the subscription limit (`max`, or the principal's when smaller); the excess is not
 * served and the leaf gets a `subscription_limit` error.
 */
export function servedLeafFilter(
  s: NativeSession,
  filter: string[],
  max: number,
  native: NativeAccess | undefined,
): string[] {
  let served = s.access && native ? native.narrow(s, s.access, filter) : filter;
  const limit = subscriptionLimit(max, s.access);
  if (served.length > limit) {
    s.sendControl({
      kind: MessageKind.Error,
      code: 'subscription_limit',
      context: `${served.length} prefixes subscribed, the limit per connection is ${limit}: the last ${served.length - limit} are not served`,
    });
    served = served.slice(0, limit);
  }
  return served;
}
