/**
 * Options of `listen(endpoint, options)` and their checks: every field is resolved once, an
 * invalid one throws a `ConfigError` naming it. A listener on a non-loopback address refuses to
 * start without TLS (`insecureTransport: true` overrides) and without authentication
 * (`insecureNoAuth: true` overrides).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AuditSink, Authenticate } from '../../auth/types.js';
import { ConfigError } from '../../errors.js';
import { boolOption, checkOptionsObject, fnOption, intOption, numberOption, stringOption } from '../../util/options.js';
import { type ConnectionLimits, resolveConnectionLimits } from './connection-limits.js';
import { resolveTlsServing, type ResolvedTlsServing, type TlsServingOptions } from './tls-server.js';
import { parseTrustProxy, type TrustedProxies } from './client-address.js';

/** Authentication at the listener (`listen(endpoint, { auth })`). */
export interface ListenAuthOptions {
  /** Turns a credential (or none) into a principal; rejects with an `AuthError`. */
  readonly authenticate: Authenticate;
  /**
   * When true, every connection is authenticated (a credential-less one gets
   * `authenticate(undefined, conn)`, which the policy may map to an anonymous role). When false,
   * an upgrade that carries no credential at all is handed over trusted, as with auth off (for
   * loopback development; a native hello token is then not checked either). @default true
   */
  readonly required?: boolean;
  /** Name of a cookie that may carry the credential; only accepted from an Origin in `origins`. @default none (cookies ignored) */
  readonly cookieName?: string;
  /** Origins (`https://host[:port]`) whose pages may connect with a cookie credential; they are also allowed as WebSocket origins. @default [] */
  readonly origins?: readonly string[];
  /** Receives the listener's audit events when the endpoint has no `reportAudit`. @default none */
  readonly onAudit?: AuditSink;
}

/** Options of `listen(endpoint, options)`; an invalid one rejects with a `ConfigError`. */
export interface ListenOptions {
  /** Address to bind. @default DEFAULT_LISTEN_HOST ('127.0.0.1') */
  readonly host?: string;
  /** Port, 0 to 65535; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Browser origins (`http://host:port`) allowed to open WebSockets besides the listener's own (same host and port); `'*'` allows any. Pages on other ports, loopback ones included (a dev server, a dashboard served elsewhere), must be listed. @default [] (only the listener's own origin, and clients that send no Origin) */
  readonly allowedOrigins?: readonly string[] | '*';
  /** Extra Host header names allowed (DNS-rebinding guard). @default [] (loopback names and the bound host) */
  readonly allowedHosts?: readonly string[];
  /** Largest WebSocket message on the native path (trusted hub-to-hub links) in bytes, 1 or more; larger ones close the connection with 1009. @default DEFAULT_MAX_PAYLOAD (64 MiB) */
  readonly maxPayload?: number;
  /** Largest WebSocket message on the JSON v1 path (untrusted clients) in bytes, 1 or more; larger ones close with 1009. The endpoint's `links.jsonClients` limits then apply to the text. @default DEFAULT_MAX_JSON_PAYLOAD (16 MiB); with `auth`, DEFAULT_MAX_CLIENT_PAYLOAD (1 MiB) */
  readonly maxJsonPayload?: number;
  /** WebSocket-level ping interval in ms (dead clients are dropped after two silent intervals); 0 disables. @default DEFAULT_WS_PING_INTERVAL_MS (5000) */
  readonly pingInterval?: number;
  /**
   * How long a connection we close may take to finish the closing handshake, in ms, more than 0:
   * then it is cut (a peer that stopped reading would otherwise hold its unsent backlog for `ws`'s
   * 30 s). @default DEFAULT_CLOSE_TIMEOUT_MS (5000)
   */
  readonly closeTimeout?: number;
  /** Handles plain HTTP requests (e.g. serves the dashboard). @default 404 for everything */
  readonly http?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Authenticate connections at the upgrade (and native hellos). @default none: every connection is trusted, as before */
  readonly auth?: ListenAuthOptions;
  /** Connection limits; refusals are HTTP 503 (total) or 429 (per IP) before any WebSocket exists. */
  readonly limits?: ConnectionLimits;
  /** Serve `wss://` with these certificates. @default none (plain `ws://`) */
  readonly tls?: TlsServingOptions;
  /** Reverse proxies (CIDRs, e.g. `10.0.0.0/8`, `::1/128`) whose X-Forwarded-For / X-Forwarded-Proto are believed. @default [] */
  readonly trustProxy?: readonly string[];
  /** Allow a non-loopback `host` without `tls` (e.g. TLS terminated by a proxy). @default false */
  readonly insecureTransport?: boolean;
  /** Allow a non-loopback `host` without `auth`. @default false */
  readonly insecureNoAuth?: boolean;
}

/** The address `listen` binds by default: loopback only. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** Largest WebSocket message accepted on the native path by default (hub-to-hub links), bytes. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Largest WebSocket message accepted on the JSON v1 path by default (untrusted clients), bytes. */
export const DEFAULT_MAX_JSON_PAYLOAD = 16 * 1024 * 1024;
/** Largest JSON v1 message by default when `auth` is on (authenticated, untrusted clients), bytes. */
export const DEFAULT_MAX_CLIENT_PAYLOAD = 1024 * 1024;
/** WebSocket-level ping interval by default, ms. */
export const DEFAULT_WS_PING_INTERVAL_MS = 5000;
/** Time a connection we close has to finish the closing handshake before it is cut, ms. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

/** `ListenAuthOptions` after checking. */
export interface ResolvedListenAuth {
  readonly authenticate: Authenticate;
  readonly required: boolean;
  readonly cookieName: string | undefined;
  readonly origins: readonly string[];
  readonly onAudit: AuditSink | undefined;
}

/** `ListenOptions` after checking. */
export interface ResolvedListenOptions {
  readonly host: string;
  readonly port: number;
  readonly allowedOrigins: readonly string[] | '*';
  readonly allowedHosts: readonly string[];
  readonly maxPayload: number;
  readonly maxJsonPayload: number;
  readonly pingInterval: number;
  readonly closeTimeout: number;
  readonly http: ListenOptions['http'];
  readonly auth: ResolvedListenAuth | undefined;
  readonly limits: Required<ConnectionLimits>;
  readonly tls: ResolvedTlsServing | undefined;
  readonly trustProxy: TrustedProxies | undefined;
  readonly insecureTransport: boolean;
  readonly insecureNoAuth: boolean;
}

function stringList(name: string, v: readonly string[] | undefined): readonly string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
    throw new ConfigError(name, 'expected an array of non-empty strings');
  return v;
}

const ORIGIN = /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]{1,128}$/i;

function resolveAuth(a: ListenAuthOptions | undefined): ResolvedListenAuth | undefined {
  if (a === undefined) return undefined;
  checkOptionsObject('auth', a);
  const authenticate = fnOption('auth.authenticate', a.authenticate);
  if (authenticate === undefined) throw new ConfigError('auth.authenticate', 'expected a function, got undefined');
  const cookieName = a.cookieName === undefined ? undefined : stringOption('auth.cookieName', a.cookieName, '', 128);
  if (cookieName !== undefined && !COOKIE_NAME.test(cookieName))
    throw new ConfigError('auth.cookieName', 'expected a cookie name (token characters)');
  const origins = stringList('auth.origins', a.origins);
  for (const o of origins)
    if (!ORIGIN.test(o))
      throw new ConfigError('auth.origins', `expected origins like https://host[:port], got ${JSON.stringify(o)}`);
  if (cookieName !== undefined && origins.length === 0)
    throw new ConfigError('auth.origins', 'a cookie credential needs an Origin allowlist (auth.origins)');
  return {
    authenticate,
    required: boolOption('auth.required', a.required, true),
    cookieName,
    origins: origins.map((o) => o.toLowerCase()),
    onAudit: fnOption('auth.onAudit', a.onAudit),
  };
}

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Resolves listener options once; throws a `ConfigError` naming the first invalid option. */
export function resolveListenOptions(o: ListenOptions | undefined): ResolvedListenOptions {
  checkOptionsObject('options', o);
  const r = o ?? {};
  const auth = resolveAuth(r.auth);
  const tls = resolveTlsServing(r.tls);
  const host = stringOption('host', r.host, DEFAULT_LISTEN_HOST, 255);
  const insecureTransport = boolOption('insecureTransport', r.insecureTransport, false);
  const insecureNoAuth = boolOption('insecureNoAuth', r.insecureNoAuth, false);
  if (!isLoopbackHost(host)) {
    if (tls === undefined && !insecureTransport)
      throw new ConfigError(
        'insecureTransport',
        `host ${host} is not loopback: give tls, or set insecureTransport: true to serve plain ws:// anyway`,
      );
    if (auth === undefined && !insecureNoAuth)
      throw new ConfigError(
        'insecureNoAuth',
        `host ${host} is not loopback: give auth, or set insecureNoAuth: true to let anyone connect`,
      );
  }
  return {
    host,
    port: intOption('port', r.port, 0, 0, 65535),
    allowedOrigins: r.allowedOrigins === '*' ? '*' : stringList('allowedOrigins', r.allowedOrigins),
    allowedHosts: stringList('allowedHosts', r.allowedHosts),
    maxPayload: intOption('maxPayload', r.maxPayload, DEFAULT_MAX_PAYLOAD, 1),
    maxJsonPayload: intOption(
      'maxJsonPayload',
      r.maxJsonPayload,
      auth ? DEFAULT_MAX_CLIENT_PAYLOAD : DEFAULT_MAX_JSON_PAYLOAD,
      1,
    ),
    pingInterval: numberOption('pingInterval', r.pingInterval, DEFAULT_WS_PING_INTERVAL_MS, 0),
    closeTimeout: numberOption('closeTimeout', r.closeTimeout, DEFAULT_CLOSE_TIMEOUT_MS, Number.MIN_VALUE),
    http: fnOption('http', r.http),
    auth,
    limits: resolveConnectionLimits(r.limits, auth !== undefined),
    tls,
    trustProxy: r.trustProxy === undefined ? undefined : parseTrustProxy('trustProxy', r.trustProxy),
    insecureTransport,
    insecureNoAuth,
  };
}

/**
 * Warnings a CLI should print for `options` (each one line): the explicit opt-outs
 * `insecureTransport` / `insecureNoAuth` on a non-loopback host. Empty when there is nothing to say.
 */
export function listenWarnings(options: ListenOptions | undefined): string[] {
  const host = options?.host ?? DEFAULT_LISTEN_HOST;
  if (isLoopbackHost(host)) return [];
  const out: string[] = [];
  if (options?.tls === undefined && options?.insecureTransport === true)
    out.push(
      `WARNING: listening on ${host} without TLS (insecure transport): credentials and messages travel in clear text`,
    );
  if (options?.auth === undefined && options?.insecureNoAuth === true)
    out.push(
      `WARNING: listening on ${host} without authentication: anyone who can reach it may read and publish everything`,
    );
  return out;
}
