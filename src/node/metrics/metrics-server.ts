/**
 * A separate HTTP server for metrics (`--metrics HOST:PORT`): serves only the metrics handler,
 * on loopback unless told otherwise. A non-loopback host without authentication needs
 * `insecureNoAuth`, as for the listener.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../index.js';
import { isLoopbackHost } from '../listener/options.js';
import type { MetricsHandler } from './http-handler.js';

/** Options of `serveMetrics`. */
export interface MetricsServerOptions {
  /** Address to bind. @default '127.0.0.1' */
  readonly host?: string;
  /** Port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Whether the handler checks credentials (a non-loopback host needs that, or `insecureNoAuth`). @default false */
  readonly authenticated?: boolean;
  /** Serve a non-loopback host without authentication. @default false */
  readonly insecureNoAuth?: boolean;
}

/** A running metrics server. */
export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves `handler` (from `createMetrics`) on its own HTTP server. */
export async function serveMetrics(
  handler: MetricsHandler,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!isLoopbackHost(host) && options.authenticated !== true && options.insecureNoAuth !== true)
    throw new ConfigError(
      'metrics',
      `host ${host} is not loopback: serve metrics with authentication, or allow it explicitly`,
    );
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port: bound,
    url: `http://${urlHost}:${bound}/metrics`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
