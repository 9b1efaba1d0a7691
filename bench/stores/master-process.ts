/**
 * Child process of the data-store benchmark: a hub endpoint (as `isobroker hub` builds it) that
 * listens on 127.0.0.1 and hosts the master of {@link STORE_NAME}. Prints `ready <url>` once it
 * listens, then answers commands on stdin (see `../lib/rpc.ts`):
 *
 * - `fill {n, backend?, path?}` creates the master (memory backend, or SQLite at `path`) and puts
 *   keys 0…n−1, {@link BATCH} per turn, each batch awaited;
 * - `change {every, tag}` overwrites every `every`-th key with a value under `tag`;
 * - `stats` gives the master's size, position and resync bytes;
 * - `memory` collects garbage and reads `process.memoryUsage()`;
 * - `profile-start` / `profile-stop {path}` record a V8 CPU profile.
 *
 * Exits when stdin closes or on SIGTERM.
 */
import { Endpoint, createMaster, createMemoryBackend, type StoreMaster } from '../../src/index.js';
import { listen, openSqliteBackend } from '../../src/node/index.js';
import { memorySnapshot } from '../lib/memory.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';
import { BATCH, STORE_NAME, changedKeys, entryBytes, keyData, valueData } from './workload.js';

interface FillArgs {
  readonly n: number;
  readonly backend?: 'memory' | 'sqlite';
  readonly path?: string;
}

const endpoint = new Endpoint({ role: 'hub', name: 'bench-store-master' });
const listener = await listen(endpoint, { host: '127.0.0.1', port: 0 });
let master: StoreMaster | undefined;
let filled = 0;
const errors: string[] = [];

function theMaster(): StoreMaster {
  if (master === undefined) throw new Error('no master yet: send fill first');
  return master;
}

/** Puts `keys` (values under `tag`), one awaited batch of {@link BATCH} puts per turn. */
async function putRange(m: StoreMaster, keys: readonly number[], tag: string): Promise<void> {
  for (let b = 0; b < keys.length; b += BATCH) {
    const puts: Promise<void>[] = [];
    for (const i of keys.slice(b, b + BATCH)) puts.push(m.put(keyData(i), valueData(i, tag)));
    await Promise.all(puts);
  }
}

async function fill(raw: unknown): Promise<{ ms: number; size: number; storeBytes: number }> {
  const a = raw as FillArgs;
  if (master !== undefined) throw new Error('already filled');
  const backend =
    a.backend === 'sqlite'
      ? openSqliteBackend({ path: a.path ?? ':memory:', journalMode: 'WAL', synchronous: 'NORMAL' })
      : createMemoryBackend();
  master = await createMaster(endpoint, STORE_NAME, {
    backend,
    onError: (e) => errors.push(`${e.code}: ${e.message}`),
  });
  const t0 = performance.now();
  let storeBytes = 0;
  for (let start = 0; start < a.n; start += BATCH) {
    const keys: number[] = [];
    for (let i = start; i < Math.min(a.n, start + BATCH); i++) {
      keys.push(i);
      storeBytes += entryBytes(i);
    }
    await putRange(master, keys, 'v');
  }
  filled = a.n;
  return { ms: performance.now() - t0, size: master.size, storeBytes };
}

async function change(raw: unknown): Promise<{ ms: number; changed: number }> {
  const a = raw as { every: number; tag: string };
  const keys = changedKeys(filled, a.every);
  const t0 = performance.now();
  await putRange(theMaster(), keys, a.tag);
  return { ms: performance.now() - t0, changed: keys.length };
}

function stats(): { size: number; seq: number; resyncBytes: { delta: number; snapshot: number }; errors: string[] } {
  const m = theMaster();
  return { size: m.size, seq: m.position.seq, resyncBytes: m.resyncBytes, errors };
}

async function shutdown(): Promise<void> {
  master?.close();
  await endpoint.close();
  await listener.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    fill,
    change,
    stats,
    memory: () => memorySnapshot(),
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write(`ready ${listener.url}\n`);
