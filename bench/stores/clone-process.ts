/**
 * Child process of the data-store benchmark: an endpoint that holds a clone of
 * {@link STORE_NAME}. Prints `ready` at once, then answers commands on stdin (see `../lib/rpc.ts`):
 *
 * - `peer {url}` peers with the master's endpoint and waits until the master's topic is routable;
 * - `sync {timeoutMs, resyncInterval?}` creates the clone and waits until it is in sync (the timed initial sync);
 * - `cut {url}` ends the peering and waits until the clone noticed (its status leaves in-sync);
 * - `reconnect {url, timeoutMs}` peers again and waits until the clone is back in sync;
 * - `check {n, every?, tag?}` compares every key's value with what the master holds;
 * - `memory` collects garbage and reads `process.memoryUsage()`;
 * - `profile-start` / `profile-stop {path}` record a V8 CPU profile.
 *
 * Exits when stdin closes or on SIGTERM.
 */
import { Endpoint, createClone, type CloneStatus, type StoreClone } from '../../src/index.js';
import { masterTopic } from '../../src/store/store-protocol.js';
import { memorySnapshot } from '../lib/memory.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';
import { STORE_NAME, keyData, valueText } from './workload.js';

const ROUTE_TIMEOUT_MS = 10_000;
const CUT_TIMEOUT_MS = 10_000;

const endpoint = new Endpoint({ name: 'bench-store-clone' });
let clone: StoreClone | undefined;
const errors: string[] = [];

function theClone(): StoreClone {
  if (clone === undefined) throw new Error('no clone yet: send sync first');
  return clone;
}

async function peer(raw: unknown): Promise<void> {
  await endpoint.peer((raw as { url: string }).url);
  await endpoint.whenRoutable(masterTopic(STORE_NAME), { timeoutMs: ROUTE_TIMEOUT_MS });
}

/** Creates the clone; resolves with the time to `whenInSync` and when the snapshot began. */
async function sync(raw: unknown): Promise<{ ms: number; snapshotBeganMs: number | undefined; size: number }> {
  const { timeoutMs, resyncInterval } = raw as { timeoutMs: number; resyncInterval?: number };
  if (clone !== undefined) throw new Error('already synced');
  const t0 = performance.now();
  let began: number | undefined;
  const c = await createClone(endpoint, STORE_NAME, {
    onError: (e) => errors.push(`${e.code}: ${e.message}`),
    ...(resyncInterval === undefined ? {} : { resyncInterval }),
  });
  clone = c;
  const off = c.onStatus((s: CloneStatus) => {
    if (s === 'syncing') began ??= performance.now() - t0;
  });
  await c.whenInSync(timeoutMs);
  const ms = performance.now() - t0;
  off();
  return { ms, snapshotBeganMs: began, size: c.size };
}

async function cut(raw: unknown): Promise<{ ms: number; status: CloneStatus }> {
  const c = theClone();
  const t0 = performance.now();
  await endpoint.unpeer((raw as { url: string }).url);
  while (c.status === 'in-sync') {
    if (performance.now() - t0 > CUT_TIMEOUT_MS)
      throw new Error(`clone still in sync ${CUT_TIMEOUT_MS} ms after unpeering`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { ms: performance.now() - t0, status: c.status };
}

async function reconnect(raw: unknown): Promise<{ ms: number; size: number }> {
  const { url, timeoutMs } = raw as { url: string; timeoutMs: number };
  const c = theClone();
  const t0 = performance.now();
  await endpoint.peer(url);
  await c.whenInSync(timeoutMs);
  return { ms: performance.now() - t0, size: c.size };
}

/** Every key 0…n−1 must hold its fill value, or the `tag` value when it is an `every`-th key. */
function check(raw: unknown): { size: number; mismatches: number; firstMismatch?: string; errors: string[] } {
  const { n, every, tag } = raw as { n: number; every?: number; tag?: string };
  const c = theClone();
  let mismatches = 0;
  let firstMismatch: string | undefined;
  for (let i = 0; i < n; i++) {
    const want = every !== undefined && tag !== undefined && i % every === 0 ? valueText(i, tag) : valueText(i);
    let got: string;
    try {
      const v = c.get(keyData(i));
      got = v.type === 'string' ? v.value : `(${v.type})`;
    } catch (e) {
      got = `(${(e as Error).message})`;
    }
    if (got !== want) {
      mismatches++;
      firstMismatch ??= `key ${i}: ${got.slice(0, 40)}`;
    }
  }
  return { size: c.size, mismatches, ...(firstMismatch === undefined ? {} : { firstMismatch }), errors };
}

async function shutdown(): Promise<void> {
  clone?.close();
  await endpoint.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    peer,
    sync,
    cut,
    reconnect,
    check,
    memory: () => memorySnapshot(),
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write('ready\n');
