/**
 * Child process of the pub/sub benchmark: the isobroker hub, built exactly as `isobroker hub`
 * builds it (`new Endpoint({ role: 'hub' })` + `listen` on 127.0.0.1, a free port), plus a
 * `stats` command on stdin (see `../lib/rpc.ts`) that reports its send-buffer overflows, and
 * `profile-start` / `profile-stop {path}` for a V8 CPU profile of a stretch of work.
 * Prints `ready <url>` once it listens; exits when stdin closes or on SIGTERM.
 */
import { Endpoint } from '../../src/index.js';
import { listen } from '../../src/node/index.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';

const hub = new Endpoint({ role: 'hub', name: 'bench-hub' });
const listener = await listen(hub, { host: '127.0.0.1', port: 0 });

function stats(): { overflows: number; queued: number; maxQueuedRecently: number; sent: number; peers: number } {
  let overflows = 0;
  let queued = 0;
  let maxQueuedRecently = 0;
  let sent = 0;
  const peers = hub.peers();
  for (const p of peers) {
    overflows += p.stats?.overflows ?? 0;
    queued += p.stats?.queued ?? 0;
    maxQueuedRecently = Math.max(maxQueuedRecently, p.stats?.maxQueuedRecently ?? 0);
    sent += p.stats?.sent ?? 0;
  }
  return { overflows, queued, maxQueuedRecently, sent, peers: peers.length };
}

async function shutdown(): Promise<void> {
  await hub.close();
  await listener.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    stats,
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write(`ready ${listener.url}\n`);
