/**
 * A helper process of the `stores-large` benchmark: `node stores-large-peer.js master|clone`
 * hosts one side (see `stores-large-roles.ts`) and answers the benchmark's requests (bench/lib/rpc).
 */
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';
import { CloneSide, MasterSide } from './stores-large-roles.js';

const role = process.argv[2];
const profiling = {
  profileStart: () => startCpuProfile(),
  profileStop: (a: unknown) => stopCpuProfile((a as { path: string }).path),
};
if (role === 'master') {
  const side = new MasterSide();
  serveRpc(
    {
      setup: (a) => {
        const { n, valueBytes, dir } = a as { n: number; valueBytes: number; dir: string };
        return side.setup(n, valueBytes, dir);
      },
      startEvents: (a) => side.startEvents((a as { everyMs: number }).everyMs),
      stopEvents: () => side.stopEvents(),
      rssStart: () => side.rss.start(),
      rssStop: () => side.rss.stop(),
      snapshotBytes: () => side.snapshotBytes(),
      ...profiling,
    },
    () => side.close(),
  );
} else if (role === 'clone') {
  const side = new CloneSide();
  serveRpc(
    {
      peer: (a) => side.peer((a as { url: string }).url),
      sync: (a) => side.sync((a as { timeoutMs: number }).timeoutMs),
      takeArrivals: () => side.takeArrivals(),
      rssStart: () => side.rss.start(),
      rssStop: () => side.rss.stop(),
      ...profiling,
    },
    () => side.close(),
  );
} else {
  process.stderr.write('usage: stores-large-peer.js master|clone\n');
  process.exit(2);
}
process.stdout.write('ready\n');
