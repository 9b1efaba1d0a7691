/**
 * Child process of the metrics benchmark: the hub of the pub/sub benchmark (`new Endpoint({ role:
 * 'hub' })` + `listen` on 127.0.0.1, a free port), with `--metrics` also the Prometheus metrics of
 * `isobroker hub` (`createMetrics` on the endpoint, `GET /metrics` on the listener's port, the
 * listener's bytes observed). Without the flag it is the same hub without metrics, so the two
 * differ only in metrics. Prints `ready <url>` once it listens; exits when stdin closes or on
 * SIGTERM.
 */
import { Endpoint } from '../../src/index.js';
import { createMetrics, listen } from '../../src/node/index.js';
import { serveRpc } from '../lib/rpc.js';

const withMetrics = process.argv.includes('--metrics');
const hub = new Endpoint({ role: 'hub', name: withMetrics ? 'bench-hub-metrics' : 'bench-hub' });
const metrics = withMetrics ? createMetrics({ endpoint: hub }) : undefined;
const listener = await listen(hub, { host: '127.0.0.1', port: 0, ...(metrics ? { http: metrics.handler } : {}) });
metrics?.observeListener(listener.server);

async function shutdown(): Promise<void> {
  metrics?.close();
  await hub.close();
  await listener.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc({}, shutdown);
process.stdout.write(`ready ${listener.url}\n`);
