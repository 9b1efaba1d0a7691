/**
 * Child process of the `connections` benchmark: the hub as `isobroker hub` builds it
 * (`new Endpoint({ role: 'hub' })` + `listen` on 127.0.0.1, a free port) and nothing else, so that
 * its memory and CPU time are the hub's. Answers `stats` on stdin (see `../lib/rpc.ts`): memory
 * after a full garbage collection (run with `--expose-gc`), CPU time so far and the hub's routing
 * counts; `leaves` (the leaf count alone, cheap enough to poll). Prints `ready <native url> <json url> <hub id>` once it listens; exits when stdin closes.
 */
import { Endpoint } from '../../src/index.js';
import { listen } from '../../src/node/index.js';
import { serveRpc } from '../lib/rpc.js';

export interface HubStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /** User + system CPU time of the whole process so far, ms. */
  readonly cpuMs: number;
  readonly leaves: number;
  readonly endpoints: number;
}

const hub = new Endpoint({ role: 'hub', name: 'bench-hub' });
const listener = await listen(hub, { host: '127.0.0.1', port: 0 });
const gc = (globalThis as { gc?: () => void }).gc;

function stats(args: unknown): HubStats {
  if ((args as { gc?: boolean } | null)?.gc === true) gc?.();
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  const r = hub.routing();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    cpuMs: (c.user + c.system) / 1000,
    leaves: r.leaves,
    endpoints: r.endpoints,
  };
}

serveRpc({ stats, leaves: () => hub.routing().leaves }, async () => {
  await hub.close();
  await listener.close();
});
process.stdout.write(`ready ${listener.url} ${listener.jsonUrl} ${hub.id}\n`);
