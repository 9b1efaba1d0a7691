/**
 * The launcher's HTTP server on 127.0.0.1: the built dashboard (`web-demo/dist`),
 * `/cluster.json`, which tells the page the layout, where to peer, and each node's state as the
 * launcher sees it, and — when the cluster runs with auth on — `/token`, the page's short-lived
 * token (same-origin requests from this machine only; see `tokenRequestRefusal`).
 *
 * It faces whatever a browser sends (any web page can make a browser request any path, e.g. with
 * an `<img>`), so no request can take the launcher down: every answer is 2xx, 3xx or 4xx, and a
 * failure inside a handler is a 500 for that request alone. Only GET and HEAD are served (OPTIONS
 * gets the allowed methods, anything else — CONNECT and protocol upgrades too — 405 or 400); a path that is not valid percent-encoding, holds
 * a NUL or a backslash, or climbs out of the directory is a 400; paths over 2,048 bytes are a
 * 414; headers over 16 KiB are refused by Node's parser (431); a request that is not finished
 * within 5 s gets a 408 and the close.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLUSTER_JSON_PATH,
  TOKEN_PATH as PAGE_TOKEN_PATH,
  type ClusterInfo,
  type ClusterJson,
  type NodeStatus,
} from './shapes.js';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../web-demo/dist/', import.meta.url));

export type { ClusterInfo, NodeStatus } from './shapes.js';

/** Longest request target served (bytes); longer ones get 414. */
export const MAX_PATH_BYTES = 2048;
/** Most bytes of request headers (Node's parser answers 431 beyond). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** A request must arrive completely within this (ms). */
export const REQUEST_TIMEOUT_MS = 5_000;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

/**
 * The file a request path names under `root`, or a status code: 400 for a path that is not valid
 * percent-encoding, holds a NUL or a backslash, or leaves `root` once decoded.
 */
export function resolveRequestPath(root: string, target: string): string | 400 {
  const raw = target.split(/[?#]/, 1)[0]!;
  if (!raw.startsWith('/')) return 400;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return 400;
  }
  if (path.includes('\0') || path.includes('\\')) return 400;
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return 400;
  const file = resolve(join(root, ...(segments.length === 0 ? ['index.html'] : segments)));
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return 400;
  return file;
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...extra });
  res.end(text);
}

/** Where the page gets its token (`/token`), when the cluster runs with auth on. */
export const TOKEN_PATH = `/${PAGE_TOKEN_PATH}`;

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLoopbackAddress = (a: string | undefined): boolean =>
  a !== undefined && (a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.'));

/**
 * Why a `/token` request is refused, or undefined when it may have a token: only from this
 * machine (a loopback peer address), only under a loopback Host name (a DNS-rebinding page has
 * its own name in Host), and only same-origin (a browser's `Origin` and `Sec-Fetch-Site`, when
 * sent, must say the request comes from this server's own page).
 */
export function tokenRequestRefusal(req: IncomingMessage): string | undefined {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return 'tokens are handed out on this machine only';
  const host = req.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  if (!LOOPBACK_NAMES.has(name.toLowerCase())) return 'tokens are handed out under a loopback host name only';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return 'tokens are handed out to this page only';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'tokens are handed out to this page only';
  return undefined;
}

export async function startDashboardServer(opts: {
  host: string;
  port: number;
  cluster: ClusterInfo;
  /** Each node's state for `/cluster.json` (`nodes`). @default none */
  status?: () => readonly NodeStatus[];
  dir?: string;
  /**
   * Mints a short-lived token for the page (`GET /token`, same-origin from loopback only, JSON
   * `{ token, expiresAt }`). @default none: `/token` is a 404 and the page connects without one
   */
  token?: () => Promise<{ token: string; expiresAt: number }>;
}): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const root = resolve(opts.dir ?? DASHBOARD_DIR);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...SECURITY_HEADERS, allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      plain(res, 405, 'method not allowed\n', { allow: 'GET, HEAD, OPTIONS' });
      return;
    }
    const target = req.url ?? '/';
    if (Buffer.byteLength(target) > MAX_PATH_BYTES) {
      plain(res, 414, 'request path too long\n');
      return;
    }
    const file = resolveRequestPath(root, target);
    if (file === 400) {
      plain(res, 400, 'bad request path\n');
      return;
    }
    if (opts.token && file === join(root, TOKEN_PATH.slice(1))) {
      const refusal = tokenRequestRefusal(req);
      if (refusal !== undefined) {
        plain(res, 403, `${refusal}\n`);
        return;
      }
      const body = JSON.stringify(await opts.token());
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (file === join(root, CLUSTER_JSON_PATH)) {
      const json: ClusterJson = { ...opts.cluster, ...(opts.status ? { nodes: opts.status() } : {}), now: Date.now() };
      const body = JSON.stringify(json);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    let st: Stats | undefined;
    try {
      st = await stat(file);
    } catch {
      st = undefined;
    }
    if (!st?.isFile()) {
      const built = await stat(join(root, 'index.html')).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!built) plain(res, 503, 'The dashboard is not built: run `npx vite build` (npm start does it).\n');
      else plain(res, 404, 'not found\n');
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      // A request body is never read: drain and drop it.
      req.resume();
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      handle(req, res).catch(() => plain(res, 500, 'internal error\n'));
    },
  );
  // A malformed request (bad request line, headers too large, …) gets Node's 4xx, then the close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  // CONNECT and protocol upgrades are not served (without these handlers Node drops the socket).
  const refuse = (status: string) => (_req: IncomingMessage, socket: import('node:stream').Duplex) => {
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };
  server.on('connect', refuse('405 Method Not Allowed'));
  server.on('upgrade', refuse('400 Bad Request'));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  // After listening, an error of the server itself is logged, never thrown at the launcher.
  server.on('error', (err) => process.stderr.write(`dashboard server: ${err.message}\n`));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
