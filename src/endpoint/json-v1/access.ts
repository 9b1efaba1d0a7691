/**
 * A Broker JSON v1 client accepted by a hub, and its authorization: its input runs behind one
 * boundary; its principal comes with the upgrade (JSON v1 has no hello), its handshake's prefixes
 * are narrowed to the grant, its publishes are checked and rate-limited, and it is closed when its
 * credential expires (JSON v1 cannot refresh).
 */
import type { Data } from '../../data/types.js';
import { encodeValue } from '../../codec/native/values.js';
import type { AcceptAuth, AuthError, ConnectionInfo, Principal } from '../../auth/types.js';
import { encodeJsonMessage } from '../../codec/json-v1/encode.js';
import { INTERNAL_TOPIC_PREFIX, isInternalTopic } from '../../topic/internal.js';
import { CloseCode, type Transport } from '../../transport/transport.js';
import type { AccessControl, ConnectionAccess } from '../access.js';
import { JsonServerSession, type JsonServerConfig } from './server-session.js';
import { errorEvent, type ErrorEvent } from '../status.js';

/** What the endpoint does with an accepted JSON v1 client's input, once it passed the checks. */
export interface JsonClientHooks {
  /** The client's handshake prefixes (narrowed to its grant when it runs as a principal). */
  subscribed(s: JsonServerSession, filter: readonly string[]): void;
  /** A message the client may publish (never on an internal topic). */
  publish(s: JsonServerSession, topic: string, data: Data): void;
  closed(s: JsonServerSession): void;
  /** A handler failed on the client's input (the client is closed with 1011). */
  error(ev: ErrorEvent): void;
}

/**
 * Takes over a JSON v1 client accepted by a listener. Every handler of its input runs behind one
 * boundary: what it throws closes that client (1011) and is reported, nothing else. Publishing on
 * an internal topic is refused. With `auth` (checked, not refused) the client runs as
 * `auth.principal` under `control` (see `acceptJsonAccess`, `narrowJson`, `ConnectionAccess.mayPublish`);
 * without, it is trusted.
 */
export function acceptJsonClient(
  transport: Transport,
  cfg: JsonServerConfig,
  control: AccessControl,
  auth: AcceptAuth | undefined,
  hooks: JsonClientHooks,
): JsonServerSession {
  const guard =
    <A extends unknown[]>(fn: (x: JsonServerSession, ...a: A) => void) =>
    (x: JsonServerSession, ...a: A): void => {
      try {
        fn(x, ...a);
      } catch (err) {
        hooks.error(
          errorEvent(
            'internal_error',
            { remote: x.remote },
            `input from this JSON v1 client made a handler fail; closing it: ${err instanceof Error ? err.message : String(err)}`,
            err,
          ),
        );
        x.close(1011, 'internal_error');
      }
    };
  const session = new JsonServerSession(transport, cfg, {
    subscribed: guard((x, filter: readonly string[]) =>
      hooks.subscribed(x, x.access ? narrowJson(x, x.access, filter) : filter),
    ),
    publish: guard((x, topic: string, data: Data) => {
      if (isInternalTopic(topic))
        x.reject(`topic '${topic}' is reserved: topics starting with ${INTERNAL_TOPIC_PREFIX} are internal`);
      else if (!x.access || x.access.mayPublish(topic, () => encodeValue(data))) hooks.publish(x, topic, data);
    }),
    closed: guard((x) => {
      x.access?.closed_();
      hooks.closed(x);
    }),
  });
  if (auth?.principal) acceptJsonAccess(control, session, auth.principal, auth.conn);
  return session;
}

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
  if (r.narrowed.length > 0)
    session.sendError(
      'subscription_narrowed',
      `subscriptions ${JSON.stringify(r.narrowed)} narrowed to the grant: ${JSON.stringify(r.effective)}`,
    );
  return r.effective;
}

/**
 * Refuses a JSON v1 connection before any session exists (authentication at the upgrade failed, or
 * no principal: JSON v1 has no hello to carry a credential): `{"type":"error","code":…}` and close
 * 1008, no ack.
 */
export function refuseJsonTransport(transport: Transport, err: AuthError): void {
  transport.attach({ onMessage: () => undefined, onClose: () => undefined });
  transport.send(encodeJsonMessage({ type: 'error', code: err.code, context: err.message }));
  transport.close(CloseCode.PolicyViolation, err.code);
}
