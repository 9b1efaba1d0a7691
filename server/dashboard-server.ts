/**
 * The launcher's HTTP server on 127.0.0.1: the built dashboard (`web-demo/dist`) and
 * `/cluster.json`, which tells the page the layout and where to peer.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterLayout } from '../src/index.js';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../web-demo/dist/', import.meta.url));

export interface ClusterInfo {
  readonly layout: ClusterLayout;
  /** Where the page peers (the manager's native URL). */
  readonly peer: string;
  readonly stores: readonly string[];
  readonly logPaths: readonly string[];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export async function startDashboardServer(opts: {
  host: string;
  port: number;
  cluster: ClusterInfo;
  dir?: string;
}): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const root = resolve(opts.dir ?? DASHBOARD_DIR);
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (path === '/cluster.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(opts.cluster));
      return;
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(root, 'index.html'))) {
        res
          .writeHead(503, { 'content-type': 'text/plain' })
          .end('The dashboard is not built: run `npx vite build` (npm start does it).\n');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => ok());
  });
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
