/**
 * Authorization of a Broker JSON v1 client (hub side): its principal comes with the upgrade (JSON
 * v1 has no hello), its handshake's prefixes are narrowed to the grant, its publishes are checked
 * and rate-limited, and it is closed when its credential expires (JSON v1 cannot refresh).
 */
import type { Data } from '../data/types.js';
import { encodeValue } from '../codec/native-values.js';
import type { ConnectionInfo, Principal } from '../auth/types.js';
import type { AccessControl, ConnectionAccess } from './access.js';
import type { JsonServerSession } from './json-server-session.js';

/** Runs `session` as `principal`: registers it, arms its expiry, audits `auth_ok`. */
export function acceptJsonAccess(
  control: AccessControl,
  session: JsonServerSession,
  principal: Principal,
  conn: ConnectionInfo,
): ConnectionAccess {
  const a = control.open(principal, conn, undefined);
  a.link = {
    notify: (code, context) => session.sendError(code, context),
    refuse: (err) => session.refuse(err.code, err.message),
    ...(session.transport.pause && session.transport.resume
      ? { pause: () => session.transport.pause!(), resume: () => session.transport.resume!() }
      : {}),
  };
  session.access = a;
  a.audit('auth_ok', { detail: principal.method });
  a.armExpiry(0, false);
  return a;
}

/**
 * The handshake's prefixes narrowed to the grant: the ack goes out as usual, refusals and
 * narrowings are told with error messages (`forbidden`), the effective prefixes are returned.
 */
export function narrowJson(session: JsonServerSession, a: ConnectionAccess, filter: readonly string[]): string[] {
  const r = a.narrow(filter);
  for (const { prefix, error } of r.refused) a.reply(error.code, `subscription '${prefix}' refused: ${error.message}`);
  if (r.narrowed.length > 0)
    session.sendError(
      'subscription_narrowed',
      `subscriptions ${JSON.stringify(r.narrowed)} narrowed to the grant: ${JSON.stringify(r.effective)}`,
    );
  return r.effective;
}

/** True when the client may publish this message; else it is dropped and the client told. */
export function mayPublishJson(a: ConnectionAccess, topic: string, data: Data): boolean {
  if (!a.admitPublish()) return false;
  const err = a.checkPublish(topic, () => encodeValue(data));
  if (!err) return true;
  a.reply(err.code, `message on '${topic}' dropped: ${err.message}`);
  return false;
}
