/**
 * The HTTP side of metrics: `GET /metrics` answers with the registry in Prometheus text format;
 * with `auth`, only to a request whose credential (`Authorization: Bearer <token>`,
 * `Authorization: ApiKey isbk_…`, or a verified client certificate the policy maps) belongs to a
 * principal `allow` accepts — by default one with the role `metrics`, or a router principal (a
 * hub or cluster node credential). No credential, or one that fails, is 401; a principal that is
 * not allowed is 403. Anonymous principals are never allowed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { AuthError, type Authenticate, type ConnectionInfo, type Principal } from '../../index.js';
import { verifiedCertificateName } from '../listener/tls-server.js';
import { upgradeCredential } from '../listener/upgrade-credential.js';

/** The path metrics are served at. */
export const METRICS_PATH = '/metrics';

/** The role that may read metrics under the default `allow`. */
export const METRICS_ROLE = 'metrics';

/** Largest Authorization header read, bytes. */
const MAX_CREDENTIAL_BYTES = 8192;

/** Who may read metrics by default: a principal with the role `metrics`, or a router principal (hub, cluster node). */
export function defaultMetricsAllow(p: Principal): boolean {
  return p.method !== 'anonymous' && (p.router || p.roles.includes(METRICS_ROLE));
}

/** Authentication of metrics requests. */
export interface MetricsAuthOptions {
  /** Turns a credential into a principal (the listener's `auth.authenticate`); rejects with an `AuthError`. */
  readonly authenticate: Authenticate;
  /** Whether `principal` may read metrics. @default defaultMetricsAllow */
  readonly allow?: (principal: Principal) => boolean;
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

const unauthorized = (res: ServerResponse, why: string): void =>
  answer(res, 401, why, { 'www-authenticate': 'Bearer realm="isobroker metrics"' });

/** Whether the request may read metrics; answers 401/403 itself when not. */
async function admitted(req: IncomingMessage, res: ServerResponse, auth: MetricsAuthOptions): Promise<boolean> {
  const cred = upgradeCredential(req, {
    cookieName: undefined,
    cookieOriginAllowed: false,
    maxBytes: MAX_CREDENTIAL_BYTES,
  });
  if ('tooLarge' in cred) {
    answer(res, 431, `${cred.tooLarge} header too large`);
    return false;
  }
  if ('invalid' in cred) {
    unauthorized(res, 'malformed credential');
    return false;
  }
  const certificateName = verifiedCertificateName(req.socket);
  if (cred.credential === undefined && certificateName === undefined) {
    unauthorized(res, 'authentication required: Authorization: Bearer <token> or ApiKey <key>');
    return false;
  }
  const ip = req.socket.remoteAddress ?? '';
  const conn: ConnectionInfo = {
    ip,
    remote: `${ip}:${req.socket.remotePort ?? 0}`,
    protocol: 'json',
    ...(certificateName === undefined ? {} : { certificateName }),
  };
  let principal: Principal;
  try {
    principal = await auth.authenticate(cred.credential, conn);
  } catch (err) {
    unauthorized(res, err instanceof AuthError ? `${err.code}: ${err.message}` : 'the credential cannot be checked');
    return false;
  }
  if (principal.method === 'anonymous') {
    unauthorized(res, 'authentication required');
    return false;
  }
  if (!(auth.allow ?? defaultMetricsAllow)(principal)) {
    answer(res, 403, `forbidden: reading metrics needs the role ${METRICS_ROLE} (or a hub or cluster node credential)`);
    return false;
  }
  return true;
}

/** A request handler for the listener's `http` option (or any HTTP server). */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Makes the handler of `GET /metrics` (and `HEAD`) over `registry`; other paths go to `next`, or
 * get 404. Never throws: a failure while collecting is a 500.
 */
export function metricsHandler(
  registry: Registry,
  options: { readonly auth?: MetricsAuthOptions | undefined; readonly next?: MetricsHandler | undefined } = {},
): MetricsHandler {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      if (options.next) options.next(req, res);
      else answer(res, 404, `not found; metrics are at ${METRICS_PATH}`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return;
    }
    const serve = async (): Promise<void> => {
      if (options.auth && !(await admitted(req, res, options.auth))) return;
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    serve().catch(() => {
      if (!res.headersSent) answer(res, 500, 'metrics could not be collected');
      else res.destroy();
    });
  };
}
