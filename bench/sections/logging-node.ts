/**
 * Child process of the logging benchmark: one node of a cluster layout run by `runNode` of
 * `server/cluster/node.ts` — exactly what `isobroker node --layout FILE --name NAME --dir DIR` runs — with
 * `profile-start` / `profile-stop {path}` on stdin (see `../lib/rpc.ts`) for a V8 CPU profile of a
 * stretch of work, which `node --cpu-prof` cannot limit to the measured round. Usage:
 * `node logging-node.js node --layout FILE --name NAME --dir DIR`. Stops on SIGTERM, as the
 * command does, and when stdin closes.
 */
import { runNode } from '../../server/cluster/node.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';

const [command, ...argv] = process.argv.slice(2);
if (command !== 'node') throw new Error('usage: logging-node.js node --layout FILE --name NAME --dir DIR');
const done = runNode(argv);

serveRpc(
  {
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  async () => {
    process.emit('SIGTERM');
    await done;
  },
);
// stdin keeps the event loop alive: exit once the node has stopped.
done.then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
