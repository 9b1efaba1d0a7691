/**
 * The WebSocket listener: one port serves the native protocol (binary frames at
 * `/v1/messages/native`) and Broker JSON v1 (text frames at `/v1/messages/json`), binding
 * 127.0.0.1 unless told otherwise. Upgrades are checked against an Origin/Host allowlist, because
 * any web page the user opens can try `ws://127.0.0.1:…` (cross-site WebSocket hijacking, DNS
 * rebinding). Other HTTP requests go to an optional handler (the demo page).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Endpoint } from '../endpoint/endpoint.js';
import { JSON_PATH, NATIVE_PATH } from '../endpoint/peering.js';
import { encodeJsonMessage } from '../codec/json-v1-encode.js';
import { wrapWebSocket, type WebSocketLike } from '../transport/websocket-transport.js';
import { ConfigError } from '../errors.js';
import { checkOptionsObject, fnOption, intOption, numberOption, stringOption } from '../util/options.js';

/** Options of `listen(endpoint, options)`; an invalid one rejects with a `ConfigError`. */
export interface ListenOptions {
  /** Address to bind. @default DEFAULT_LISTEN_HOST ('127.0.0.1') */
  readonly host?: string;
  /** Port, 0 to 65535; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Extra origins (`http://host:port`) allowed to open WebSockets; `'*'` allows any. @default [] (loopback origins and the listener's own are always allowed) */
  readonly allowedOrigins?: readonly string[] | '*';
  /** Extra Host header names allowed (DNS-rebinding guard). @default [] (loopback names and the bound host) */
  readonly allowedHosts?: readonly string[];
  /** Largest WebSocket message on the native path (trusted hub-to-hub links) in bytes, 1 or more; larger ones close the connection with 1009. @default DEFAULT_MAX_PAYLOAD (64 MiB) */
  readonly maxPayload?: number;
  /** Largest WebSocket message on the JSON v1 path (untrusted clients) in bytes, 1 or more; larger ones close with 1009. The endpoint's `links.jsonClients` limits then apply to the text. @default DEFAULT_MAX_JSON_PAYLOAD (16 MiB) */
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
}

/** The address `listen` binds by default: loopback only. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** Largest WebSocket message accepted on the native path by default (hub-to-hub links), bytes. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Largest WebSocket message accepted on the JSON v1 path by default (untrusted clients), bytes. */
export const DEFAULT_MAX_JSON_PAYLOAD = 16 * 1024 * 1024;
/** WebSocket-level ping interval by default, ms. */
export const DEFAULT_WS_PING_INTERVAL_MS = 5000;
/** Time a connection we close has to finish the closing handshake before it is cut, ms. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

type ResolvedListenOptions = Required<Omit<ListenOptions, 'http'>> & Pick<ListenOptions, 'http'>;

function stringList(name: string, v: readonly string[] | undefined): readonly string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
    throw new ConfigError(name, 'expected an array of non-empty strings');
  return v;
}

/** Resolves listener options once; throws a `ConfigError` naming the first invalid option. */
export function resolveListenOptions(o: ListenOptions | undefined): ResolvedListenOptions {
  checkOptionsObject('options', o);
  const r = o ?? {};
  return {
    host: stringOption('host', r.host, DEFAULT_LISTEN_HOST, 255),
    port: intOption('port', r.port, 0, 0, 65535),
    allowedOrigins: r.allowedOrigins === '*' ? '*' : stringList('allowedOrigins', r.allowedOrigins),
    allowedHosts: stringList('allowedHosts', r.allowedHosts),
    maxPayload: intOption('maxPayload', r.maxPayload, DEFAULT_MAX_PAYLOAD, 1),
    maxJsonPayload: intOption('maxJsonPayload', r.maxJsonPayload, DEFAULT_MAX_JSON_PAYLOAD, 1),
    pingInterval: numberOption('pingInterval', r.pingInterval, DEFAULT_WS_PING_INTERVAL_MS, 0),
    closeTimeout: numberOption('closeTimeout', r.closeTimeout, DEFAULT_CLOSE_TIMEOUT_MS, Number.MIN_VALUE),
    http: fnOption('http', r.http),
  };
}

/** A running listener, returned by `listen`. */
export interface Listener {
  /** The bound address. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** `ws://host:port` — peer with this for the native protocol. */
  readonly url: string;
  /** `ws://host:port/v1/messages/json` for Broker JSON v1 clients. */
  readonly jsonUrl: string;
  /** The underlying HTTP server. */
  readonly server: Server;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  const colon = hostHeader.lastIndexOf(':');
  return (colon >= 0 ? hostHeader.slice(0, colon) : hostHeader).toLowerCase();
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/**
 * Makes `ws.close()` final within `ms`: a peer that does not read never answers the closing
 * handshake, and until then its unsent backlog stays in memory.
 */
function cutAfterClose(ws: WebSocket, ms: number): void {
  const close = ws.close.bind(ws);
  let timer: ReturnType<typeof setTimeout> | undefined;
  ws.close = (code?: number, reason?: string | Buffer) => {
    close(code, reason);
    if (timer === undefined && ws.readyState !== ws.CLOSED) {
      timer = setTimeout(() => ws.terminate(), ms);
      timer.unref();
    }
  };
  ws.once('close', () => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/**
 * Starts listening for peers and JSON v1 clients of `endpoint`. Which native links it accepts is
 * the endpoint's choice, not the listener's: with `acceptRouters: false` in the endpoint's
 * options (`isobroker hub --no-routers`) a peer asking for a router link gets `peer_refused`
 * and leaves are served as usual (PROTOCOL.md §8).
 */
export async function listen(endpoint: Endpoint, options?: ListenOptions): Promise<Listener> {
  const opts = resolveListenOptions(options);
  const host = opts.host;
  const pingInterval = opts.pingInterval;
  const server = createServer((req, res) => {
    if (opts.http) opts.http(req, res);
    else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`isobroker endpoint ${endpoint.name}: WebSocket paths are ${NATIVE_PATH} and ${JSON_PATH}\n`);
    }
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false });
  const jsonWss = new WebSocketServer({ noServer: true, maxPayload: opts.maxJsonPayload, perMessageDeflate: false });
  const alive = new WeakMap<WebSocket, boolean>();

  const allowedHosts = new Set([
    ...LOOPBACK_HOSTS,
    host.toLowerCase(),
    ...opts.allowedHosts.map((h) => h.toLowerCase()),
  ]);
  const originAllowed = (origin: string | undefined, port: number): boolean => {
    if (origin === undefined) return true; // not a browser
    if (opts.allowedOrigins === '*') return true;
    if (opts.allowedOrigins.includes(origin)) return true;
    const m = /^https?:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?$/i.exec(origin);
    if (!m) return false;
    const h = m[1]!.toLowerCase();
    return LOOPBACK_HOSTS.has(h) || (h === host.toLowerCase() && Number(m[2] ?? 80) === port);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const port = (server.address() as AddressInfo).port;
    const hostHeader = req.headers.host ?? '';
    if (!allowedHosts.has(hostName(hostHeader))) {
      reject(socket, 403, `Host '${hostHeader}' is not allowed`);
      return;
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin, port)) {
      reject(socket, 403, `Origin '${origin}' is not allowed`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    (path === JSON_PATH ? jsonWss : wss).handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      cutAfterClose(ws, opts.closeTimeout);
      if (path === JSON_PATH) endpoint.accept(wrapWebSocket(ws as unknown as WebSocketLike, remote), 'json');
      else if (path === NATIVE_PATH) endpoint.accept(wrapWebSocket(ws as unknown as WebSocketLike, remote), 'native');
      else {
        const context = 'Invalid URI - use /v1/messages/json';
        ws.send(encodeJsonMessage({ type: 'error', code: 'invalid_uri', context }));
        ws.close(1008, context);
      }
    });
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
    url: `ws://${urlHost}:${port}`,
    jsonUrl: `ws://${urlHost}:${port}${JSON_PATH}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        if (pinger) clearInterval(pinger);
        for (const ws of [...wss.clients, ...jsonWss.clients]) ws.terminate();
        wss.close();
        jsonWss.close();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
