/**
 * The WebSocket listener: one port serves the native protocol (binary frames at
 * `/v1/messages/native`) and Broker JSON v1 (text frames at `/v1/messages/json`), binding
 * 127.0.0.1 unless told otherwise, over `ws://` or (with `tls`) `wss://`. It is a security
 * boundary: before any WebSocket exists an upgrade is checked against the Host and Origin
 * allowlists (cross-site WebSocket hijacking, DNS rebinding) and the connection limits; with
 * `auth` its credential is read (`upgrade-credential.ts`) and verified, and what a connection may
 * cost before it has authenticated is bounded (`pre-auth-guard.ts`). Other HTTP requests go to an
 * optional handler (the demo page).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { type AcceptAuth, AuthCloseCode, type AuditSink } from '../../auth/types.js';
import { encodeJsonMessage } from '../../codec/json-v1/encode.js';
import { ConfigError } from '../../errors.js';
import type { Endpoint } from '../../endpoint/endpoint.js';
import { jsonV1 } from '../../endpoint/json-v1/plugin.js';
import { JSON_PATH, NATIVE_PATH } from '../../endpoint/peering.js';
import { wrapWebSocket, type WebSocketLike } from '../../transport/websocket-transport.js';
import { clientAddress } from './client-address.js';
import { ConnectionLimiter, isRefusal } from './connection-limits.js';
import { resolveListenOptions, type ListenOptions, type ResolvedListenOptions } from './options.js';
import { listenerEvent, throttledAudit } from './audit.js';
import { guardPreAuth, type PreAuthGuard } from './pre-auth-guard.js';
import { createTlsServer, reloadTlsCertificates, type TlsCertificates } from './tls-server.js';
import { decideUpgradeAuth } from './upgrade-auth.js';
import { selectSubprotocol } from './upgrade-credential.js';
import { cutAfterClose, rejectUpgrade, shownHeader } from './upgrade-socket.js';
import { upgradeOriginCheck } from './upgrade-origin.js';

export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_LISTEN_HOST,
  DEFAULT_MAX_CLIENT_PAYLOAD,
  DEFAULT_MAX_JSON_PAYLOAD,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_WS_PING_INTERVAL_MS,
  listenWarnings,
  resolveListenOptions,
} from './options.js';
export type { ListenAuthOptions, ListenOptions } from './options.js';

/** A running listener, returned by `listen`. */
export interface Listener {
  /** The bound address. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** `ws://host:port` (`wss://` with TLS) — peer with this for the native protocol. */
  readonly url: string;
  /** `ws://host:port/v1/messages/json` (`wss://` with TLS) for Broker JSON v1 clients. */
  readonly jsonUrl: string;
  /** The underlying HTTP (or HTTPS) server. */
  readonly server: Server;
  /** Replaces the TLS certificates for new connections; open connections stay. Throws a `ConfigError` without `tls` or for unusable certificates. */
  reloadTls(certs: TlsCertificates): void;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Where the listener's audit events go: the endpoint's `reportAudit` when it has one, else `auth.onAudit`. */
function auditSink(endpoint: Endpoint, opts: ResolvedListenOptions): AuditSink | undefined {
  const report = (endpoint as Endpoint & { reportAudit?: AuditSink }).reportAudit;
  return typeof report === 'function' ? (ev) => report.call(endpoint, ev) : opts.auth?.onAudit;
}

/** Registers JSON v1 on the endpoint a listener serves (an open `Endpoint` that lacks it). */
function servesJsonV1(endpoint: Endpoint): void {
  const ep = endpoint as Partial<Pick<Endpoint, 'use' | 'speaks' | 'isClosed'>>;
  if (
    typeof ep.use === 'function' &&
    typeof ep.speaks === 'function' &&
    !ep.isClosed &&
    !ep.speaks.call(endpoint, 'json')
  )
    ep.use.call(endpoint, jsonV1);
}

/**
 * Starts listening for peers and JSON v1 clients of `endpoint`. Which native links it accepts is
 * the endpoint's choice, not the listener's: with `acceptRouters: false` in the endpoint's
 * options (`isobroker hub --no-routers`) a peer asking for a router link gets `peer_refused`
 * and leaves are served as usual (PROTOCOL.md §8).
 *
 * With `auth`, a credential on the upgrade (Authorization header, `bearer.` subprotocol, cookie
 * from an allowed Origin, or a verified client certificate) is verified before the connection is
 * handed over; a native connection without one is handed over with `authenticate` for its hello.
 *
 * The listener serves Broker JSON v1 clients at `/v1/messages/json`: it registers the `jsonV1`
 * plug-in on `endpoint` when the endpoint does not speak JSON v1 yet.
 */
export async function listen(endpoint: Endpoint, options?: ListenOptions): Promise<Listener> {
  const opts = resolveListenOptions(options);
  servesJsonV1(endpoint);
  const { host, limits, auth } = opts;
  const pingInterval = opts.pingInterval;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (opts.http) opts.http(req, res);
    else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`isobroker endpoint ${endpoint.name}: WebSocket paths are ${NATIVE_PATH} and ${JSON_PATH}\n`);
    }
  };
  const httpOptions = {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    maxHeaderSize: limits.maxHeaderSize,
    // Node checks the two timeouts at this interval (30 s by default).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeout),
  };
  const server: Server = opts.tls
    ? createTlsServer(opts.tls, limits.tlsHandshakeTimeout, httpOptions, handler)
    : createServer(httpOptions, handler);
  const wsOptions = { noServer: true, perMessageDeflate: false, handleProtocols: selectSubprotocol } as const;
  const wss = new WebSocketServer({ ...wsOptions, maxPayload: opts.maxPayload });
  const jsonWss = new WebSocketServer({ ...wsOptions, maxPayload: opts.maxJsonPayload });
  const alive = new WeakMap<WebSocket, boolean>();
  const checks = upgradeOriginCheck(host, opts.allowedHosts, [
    ...(opts.allowedOrigins === '*' ? [] : opts.allowedOrigins),
    ...(auth?.origins ?? []),
  ]);
  const originCheck = opts.allowedOrigins === '*' ? upgradeOriginCheck(host, opts.allowedHosts, '*') : checks;
  const limiter = new ConnectionLimiter(limits);
  const audit = throttledAudit(auditSink(endpoint, opts));
  const scheme = opts.tls ? 'wss' : 'ws';

  // The pre-auth deadline runs from TCP accept (TLS: from the end of the handshake, which has its
  // own deadline). A socket that served plain requests first starts a new clock at its upgrade.
  const acceptedAt = new WeakMap<object, number>();
  server.on(opts.tls ? 'secureConnection' : 'connection', (s: object) => acceptedAt.set(s, Date.now()));
  server.on('request', (req: IncomingMessage) => acceptedAt.delete(req.socket));
  const authenticating = new Set<Duplex>();

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', () => {
      /* a reset while we decide; ws adds its own handler on upgrade */
    });
    const port = (server.address() as AddressInfo).port;
    const addr = clientAddress(req, opts.trustProxy);
    const remote =
      addr.port > 0 && opts.trustProxy === undefined
        ? `${req.socket.remoteAddress}:${req.socket.remotePort}`
        : addr.port > 0
          ? `${addr.ip}:${addr.port}`
          : addr.ip;
    const path = (req.url ?? '/').split('?')[0]!;
    const protocol = path === JSON_PATH ? 'json' : 'native';
    const at = { ip: addr.ip, remote, protocol } as const;
    const hostHeader = req.headers.host ?? '';
    if (!checks.hostAllowed(hostHeader)) {
      audit(listenerEvent('host_rejected', { ...at, detail: `Host ${shownHeader(hostHeader)}` }));
      rejectUpgrade(socket, 403, `Host ${shownHeader(hostHeader)} is not allowed`);
      return;
    }
    const origin = req.headers.origin;
    if (!originCheck.originAllowed(origin, port, hostHeader)) {
      audit(listenerEvent('origin_rejected', { ...at, detail: `Origin ${shownHeader(origin)}` }));
      rejectUpgrade(socket, 403, `Origin ${shownHeader(origin)} is not allowed`);
      return;
    }
    const slot = limiter.admit(addr.ip);
    if (isRefusal(slot)) {
      audit(listenerEvent('limit_exceeded', { ...at, code: 'limit_exceeded', detail: slot.limit }));
      const retry =
        slot.limit === 'auth_failures' ? `Retry-After: ${Math.ceil(limits.authFailureCooldown / 1000)}\r\n` : '';
      rejectUpgrade(socket, slot.status, `connection limit reached (${slot.limit})`, retry);
      return;
    }
    socket.once('close', () => slot.release());
    const startedAt = Date.now();
    const deadlineAt = (): number => (acceptedAt.get(req.socket) ?? startedAt) + limits.preAuthTimeout;
    let preAuth: PreAuthGuard | undefined;

    /** Completes the upgrade and hands the connection to the endpoint. */
    const handOver = (acceptAuth: AcceptAuth | undefined, guard: boolean): void => {
      if (socket.destroyed) return;
      (path === JSON_PATH ? jsonWss : wss).handleUpgrade(req, socket, head, (ws) => {
        alive.set(ws, true);
        ws.on('pong', () => alive.set(ws, true));
        cutAfterClose(ws, opts.closeTimeout);
        if (guard) {
          const g = guardPreAuth(ws, socket, {
            deadlineAt: deadlineAt(),
            maxBytes: limits.preAuthMaxBytes,
            initialBytes: head.length,
            timeoutCode: protocol === 'native' ? AuthCloseCode.Timeout : 1008,
            onViolation: (what) =>
              audit(
                listenerEvent(what === 'timeout' ? 'auth_failed' : 'limit_exceeded', {
                  ...at,
                  code: what === 'timeout' ? 'timeout' : 'limit_exceeded',
                  detail: what === 'timeout' ? 'no authentication before the deadline' : 'pre-auth bytes',
                }),
              ),
          });
          preAuth = g;
          ws.once('close', () => g.dispose());
        }
        const t = wrapWebSocket(ws as unknown as WebSocketLike, remote);
        if (path !== JSON_PATH && path !== NATIVE_PATH) {
          const context = 'Invalid URI - use /v1/messages/json';
          ws.send(encodeJsonMessage({ type: 'error', code: 'invalid_uri', context }));
          ws.close(1008, context);
        } else if (acceptAuth === undefined) endpoint.accept(t, protocol);
        else endpoint.accept(t, protocol, acceptAuth);
      });
    };

    if (auth === undefined) {
      slot.authenticated();
      handOver(undefined, false);
      return;
    }
    const decision = await decideUpgradeAuth(
      {
        req,
        socket,
        auth,
        at,
        deadlineAt: deadlineAt(),
        maxCredentialBytes: limits.maxCredentialHeaderBytes,
        audit,
        failed: () => {
          if (limiter.authFailed(addr.ip))
            audit(listenerEvent('limit_exceeded', { ...at, code: 'limit_exceeded', detail: 'auth_failures' }));
        },
        helloAuthenticated: () => {
          slot.authenticated();
          preAuth?.authenticated();
        },
      },
      authenticating,
    );
    if (decision.kind === 'done') return;
    if (decision.kind === 'trusted' || decision.authenticated) slot.authenticated();
    if (decision.kind === 'trusted') handOver(undefined, false);
    else handOver(decision.auth, !decision.authenticated);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch(() => socket.destroy());
  });

  const pinger =
    pingInterval > 0
      ? setInterval(() => {
          for (const ws of [...wss.clients, ...jsonWss.clients]) {
            if (alive.get(ws) === false) {
              ws.terminate();
              continue;
            }
            alive.set(ws, false);
            ws.ping();
          }
        }, pingInterval)
      : undefined;
  pinger?.unref();

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port, host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `${scheme}://${urlHost}:${port}`,
    jsonUrl: `${scheme}://${urlHost}:${port}${JSON_PATH}`,
    server,
    reloadTls: (certs) => {
      if (opts.tls === undefined) throw new ConfigError('tls', 'this listener serves plain ws:// (no tls given)');
      reloadTlsCertificates(server as HttpsServer, opts.tls, certs);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (pinger) clearInterval(pinger);
        for (const s of authenticating) s.destroy();
        for (const ws of [...wss.clients, ...jsonWss.clients]) ws.terminate();
        wss.close();
        jsonWss.close();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
