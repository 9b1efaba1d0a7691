/**
 * Data-store benchmark, parts 2 and 3: a clone's initial sync from a master in another process,
 * and its catch-up after a cut.
 *
 * The master runs in a child process (`../stores/master-process.ts`, a hub endpoint hosting a
 * memory-backed master) and is filled before the clone exists; the clone runs in a second child
 * (`../stores/clone-process.ts`) and peers with it. Both processes' RSS is sampled from `/proc`
 * every {@link RSS_SAMPLE_MS} ms during the sync, and their kernel peak (`VmHWM`) is reset just
 * before it. Optionally the clone is then cut off (its peering closed), 1% of the keys change on
 * the master, and the clone reconnects: the master's delta bytes for that catch-up are compared
 * with the bytes of the initial snapshot.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { MemorySnapshot } from '../lib/memory.js';
import { processCpuMs, type ChildHandle, type ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import { summarizeCpuProfile, type ProfileSummary } from './pubsub-profile.js';
import { RssSampler, procStatusBytes, resetPeakRss } from './stores-rss.js';

export const RSS_SAMPLE_MS = 50;
const START_TIMEOUT_MS = 20_000;
const SHORT_RPC_MS = 30_000;
const PROFILE_TOP = 6;

/** Memory of one process around the sync. */
export interface SyncMemory {
  /** RSS after garbage collection, just before the sync (master: filled; clone: peered, empty). */
  readonly baseline: number;
  /** Highest RSS during the sync: the larger of the sampled peak and the reset `VmHWM`. */
  readonly peak: number;
  readonly sampledPeak: number;
  /** `VmHWM` after the sync, when it could be reset before it. */
  readonly hwm: number | undefined;
  /** RSS after the sync and a garbage collection. */
  readonly after: number;
  /** Growth of the JS heap plus external memory over the sync, both read after a collection: what the process retains. */
  readonly retained: number;
  /** CPU time (user + system) during the sync, ms. */
  readonly cpuMs: number;
}

/** The catch-up after a cut. */
export interface DeltaResult {
  readonly changed: number;
  /** Master's delta bytes sent for the catch-up. */
  readonly deltaBytes: number;
  /** Master's snapshot bytes sent during the catch-up (0 when the delta sufficed). */
  readonly snapshotBytesDuringCatchUp: number;
  readonly reconnectMs: number;
}

export interface SyncResult {
  readonly n: number;
  /** Sum of the encoded key and value bytes of every entry. */
  readonly storeBytes: number;
  readonly fillMs: number;
  /** From `createClone` to in-sync, measured in the clone process. */
  readonly syncMs: number;
  /** From `createClone` to the first snapshot chunk's stream beginning (status `syncing`). */
  readonly snapshotBeganMs: number | undefined;
  /** Master's snapshot bytes for the initial sync. */
  readonly snapshotBytes: number;
  readonly master: SyncMemory;
  readonly clone: SyncMemory;
  readonly samples: number;
  readonly delta?: DeltaResult;
  readonly profiles?: { readonly master: ProfileSummary; readonly clone: ProfileSummary };
}

export interface SyncOptions {
  /** After the sync: cut, change every `every`-th key (to values tagged `tag`), reconnect. */
  readonly delta?: { readonly every: number; readonly tag: string };
  /** Record CPU profiles of both processes during the sync into this directory. */
  readonly profileDir?: string;
}

interface Stats {
  readonly size: number;
  readonly seq: number;
  readonly resyncBytes: { readonly delta: number; readonly snapshot: number };
  readonly errors: readonly string[];
}

interface CheckResult {
  readonly size: number;
  readonly mismatches: number;
  readonly firstMismatch?: string;
  readonly errors: readonly string[];
}

function helperPath(name: string): string {
  return fileURLToPath(new URL(`../stores/${name}`, import.meta.url));
}

/** Generous limits for work proportional to the store size. */
function scaledTimeout(n: number): number {
  return 60_000 + n * 0.5;
}

function cpuMs(pid: number): number {
  return processCpuMs(pid) ?? Number.NaN;
}

function assertCheck(what: string, n: number, c: CheckResult): void {
  if (c.size !== n || c.mismatches > 0) {
    throw new Error(`${what}: clone has ${c.size} keys (want ${n}), ${c.mismatches} wrong values (${c.firstMismatch ?? '—'})`);
  }
  if (c.errors.length > 0) throw new Error(`${what}: clone reported errors: ${c.errors.join('; ')}`);
}

/** Fills a master of `n` keys in one process, syncs a clone in another, and measures both. */
export async function runSync(procs: ProcessSet, n: number, opts: SyncOptions, log: (line: string) => void): Promise<SyncResult> {
  const masterChild = procs.spawn('store master', process.execPath, ['--expose-gc', helperPath('master-process.js')]);
  let cloneChild: ChildHandle | undefined;
  try {
    const url = (await masterChild.waitForLine(/^ready (ws:\/\/\S+)$/, START_TIMEOUT_MS))[1]!;
    const master = new RpcClient(masterChild);
    log(`stores: filling a master with ${n.toLocaleString('en-US')} keys`);
    const fill = await master.call<{ ms: number; size: number; storeBytes: number }>('fill', { n }, scaledTimeout(n));
    if (fill.size !== n) throw new Error(`master holds ${fill.size} keys after filling ${n}`);

    cloneChild = procs.spawn('store clone', process.execPath, ['--expose-gc', helperPath('clone-process.js')]);
    await cloneChild.waitForLine(/^ready$/, START_TIMEOUT_MS);
    const clone = new RpcClient(cloneChild);
    await clone.call('peer', { url }, SHORT_RPC_MS);

    const mBase = await master.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const cBase = await clone.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const pids = [masterChild.pid, cloneChild.pid] as const;
    const hwmReset = pids.map(resetPeakRss);
    if (opts.profileDir !== undefined) {
      await master.call('profile-start', null, SHORT_RPC_MS);
      await clone.call('profile-start', null, SHORT_RPC_MS);
    }
    const sampler = new RssSampler(pids);
    const cpu0 = pids.map(cpuMs);
    sampler.start(RSS_SAMPLE_MS);
    log(`stores: clone initial sync of ${n.toLocaleString('en-US')} keys`);
    let sync: { ms: number; snapshotBeganMs: number | undefined; size: number };
    try {
      sync = await clone.call('sync', { timeoutMs: scaledTimeout(n) }, scaledTimeout(n) + 5000);
    } finally {
      sampler.stop();
    }
    const cpu1 = pids.map(cpuMs);
    const hwm = pids.map((pid, i) => (hwmReset[i] ? procStatusBytes(pid, 'VmHWM') : undefined));
    let profiles: SyncResult['profiles'];
    if (opts.profileDir !== undefined) {
      const mPath = join(opts.profileDir, `master-${n}.cpuprofile`);
      const cPath = join(opts.profileDir, `clone-${n}.cpuprofile`);
      await master.call('profile-stop', { path: mPath }, SHORT_RPC_MS);
      await clone.call('profile-stop', { path: cPath }, SHORT_RPC_MS);
      profiles = { master: summarizeCpuProfile(mPath, PROFILE_TOP), clone: summarizeCpuProfile(cPath, PROFILE_TOP) };
    }
    const afterSync = await master.call<Stats>('stats', null, SHORT_RPC_MS);
    const mAfter = await master.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const cAfter = await clone.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    assertCheck('initial sync', n, await clone.call<CheckResult>('check', { n }, scaledTimeout(n)));
    if (afterSync.errors.length > 0) throw new Error(`master reported errors: ${afterSync.errors.join('; ')}`);

    const memory = (i: 0 | 1, base: MemorySnapshot, after: MemorySnapshot): SyncMemory => {
      const sampledPeak = sampler.peak(pids[i]);
      const h = hwm[i];
      return {
        baseline: base.rss,
        peak: Math.max(sampledPeak, h ?? 0),
        sampledPeak,
        hwm: h,
        after: after.rss,
        retained: after.heapUsed + after.external - (base.heapUsed + base.external),
        cpuMs: cpu1[i]! - cpu0[i]!,
      };
    };

    let delta: DeltaResult | undefined;
    if (opts.delta !== undefined) {
      const { every, tag } = opts.delta;
      log(`stores: cut the clone off, change every ${every}th key, reconnect`);
      await clone.call('cut', { url }, SHORT_RPC_MS);
      const change = await master.call<{ changed: number }>('change', { every, tag }, scaledTimeout(n));
      const before = await master.call<Stats>('stats', null, SHORT_RPC_MS);
      const back = await clone.call<{ ms: number }>('reconnect', { url, timeoutMs: SHORT_RPC_MS }, SHORT_RPC_MS + 5000);
      const after = await master.call<Stats>('stats', null, SHORT_RPC_MS);
      assertCheck('catch-up', n, await clone.call<CheckResult>('check', { n, every, tag }, scaledTimeout(n)));
      delta = {
        changed: change.changed,
        deltaBytes: after.resyncBytes.delta - before.resyncBytes.delta,
        snapshotBytesDuringCatchUp: after.resyncBytes.snapshot - before.resyncBytes.snapshot,
        reconnectMs: back.ms,
      };
    }

    return {
      n,
      storeBytes: fill.storeBytes,
      fillMs: fill.ms,
      syncMs: sync.ms,
      snapshotBeganMs: sync.snapshotBeganMs,
      snapshotBytes: afterSync.resyncBytes.snapshot,
      master: memory(0, mBase, mAfter),
      clone: memory(1, cBase, cAfter),
      samples: sampler.samples,
      ...(delta === undefined ? {} : { delta }),
      ...(profiles === undefined ? {} : { profiles }),
    };
  } finally {
    await cloneChild?.stop();
    await masterChild.stop();
  }
}
