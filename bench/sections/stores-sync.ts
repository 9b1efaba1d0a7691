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
import { processCpuMs, sleep, type ChildHandle, type ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import { summarizeCpuProfile, type ProfileSummary } from './pubsub-profile.js';
import { RssSampler, procStatusBytes, resetPeakRss } from './stores-rss.js';

export const RSS_SAMPLE_MS = 50;
const START_TIMEOUT_MS = 20_000;
const SHORT_RPC_MS = 30_000;
const PROFILE_TOP = 6;
/**
 * A snapshot restarted once the master sent more than this many times the store's size (a clean
 * snapshot is the store plus about 0.05% of framing); such an attempt is abandoned.
 */
export const RESTART_LIMIT = 1.01;
const WATCHDOG_POLL_MS = 250;

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
  readonly delta?: DeltaResult;
  /**
   * The attempt with default clone options, when it was abandoned because its snapshot restarted:
   * stopped while still restarting, or `completed` in the end.
   */
  readonly abandoned?: { readonly elapsedMs: number; readonly snapshotBytes: number; readonly completed: boolean };
  /** The clone's `resyncInterval` in the measured sync, when not the default. */
  readonly resyncInterval?: number;
  /** Where an extra, profiled sync spent CPU (only with {@link SyncOptions.profileDir}). */
  readonly profiles?: { readonly master: ProfileSummary; readonly clone: ProfileSummary };
}

export interface SyncOptions {
  /** After the sync: cut, change every `every`-th key (to values tagged `tag`), reconnect. */
  readonly delta?: { readonly every: number; readonly tag: string };
  /**
   * After the measured sync (and the catch-up), sync one more fresh clone with both processes
   * under the CPU profiler, writing the profiles into this directory.
   */
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
    throw new Error(
      `${what}: clone has ${c.size} keys (want ${n}), ${c.mismatches} wrong values (${c.firstMismatch ?? '—'})`,
    );
  }
  if (c.errors.length > 0) throw new Error(`${what}: clone reported errors: ${c.errors.join('; ')}`);
}

/** A sync attempt abandoned because the master kept restarting the snapshot. */
class NotConverging extends Error {
  constructor(
    readonly elapsedMs: number,
    readonly snapshotBytes: number,
  ) {
    super(`snapshot restarted: ${snapshotBytes} bytes sent in ${Math.round(elapsedMs)} ms`);
  }
}

/**
 * Polls the master's snapshot bytes and rejects with {@link NotConverging} once more than
 * `limit` bytes went out since `start` (a healthy sync sends the store once).
 */
function snapshotWatchdog(
  master: RpcClient,
  start: number,
  limit: number,
): { readonly failed: Promise<never>; stop(): void } {
  let stopped = false;
  const t0 = performance.now();
  const failed = new Promise<never>((_, reject) => {
    void (async () => {
      while (!stopped) {
        await sleep(WATCHDOG_POLL_MS);
        if (stopped) return;
        const sent = (await master.call<Stats>('stats', null, SHORT_RPC_MS)).resyncBytes.snapshot - start;
        if (sent > limit && !stopped) reject(new NotConverging(performance.now() - t0, sent));
      }
    })().catch(() => undefined);
  });
  failed.catch(() => undefined);
  return { failed, stop: () => void (stopped = true) };
}

interface Attempt {
  readonly child: ChildHandle;
  readonly clone: RpcClient;
  readonly sync: { ms: number; snapshotBeganMs: number | undefined; size: number };
  readonly snapshotBytes: number;
  readonly master: SyncMemory;
  readonly cloneMemory: SyncMemory;
  readonly profiles?: SyncResult['profiles'];
}

/**
 * Starts a clone process, peers it with the master at `url`, and times its initial sync while
 * sampling both processes' memory; then checks every key (`changed`: the keys the master changed
 * since it was filled). Throws {@link NotConverging} (with the clone process stopped)
 * when the snapshot keeps restarting.
 */
async function syncAttempt(
  procs: ProcessSet,
  masterChild: ChildHandle,
  master: RpcClient,
  url: string,
  n: number,
  storeBytes: number,
  cloneOptions: { readonly resyncInterval?: number },
  profileDir: string | undefined,
  changed: SyncOptions['delta'],
): Promise<Attempt> {
  const child = procs.spawn('store clone', process.execPath, ['--expose-gc', helperPath('clone-process.js')]);
  try {
    await child.waitForLine(/^ready$/, START_TIMEOUT_MS);
    const clone = new RpcClient(child);
    await clone.call('peer', { url }, SHORT_RPC_MS);
    const startBytes = (await master.call<Stats>('stats', null, SHORT_RPC_MS)).resyncBytes.snapshot;
    const mBase = await master.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const cBase = await clone.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const pids = [masterChild.pid, child.pid] as const;
    const hwmReset = pids.map(resetPeakRss);
    if (profileDir !== undefined) {
      await master.call('profile-start', null, SHORT_RPC_MS);
      await clone.call('profile-start', null, SHORT_RPC_MS);
    }
    const sampler = new RssSampler(pids);
    const cpu0 = pids.map(cpuMs);
    const watchdog = snapshotWatchdog(master, startBytes, RESTART_LIMIT * storeBytes);
    sampler.start(RSS_SAMPLE_MS);
    let sync: Attempt['sync'];
    try {
      const call = clone.call<Attempt['sync']>(
        'sync',
        { timeoutMs: scaledTimeout(n), ...cloneOptions },
        scaledTimeout(n) + 5000,
      );
      call.catch(() => undefined); // when the watchdog wins, the call fails as the clone is stopped
      sync = await Promise.race([call, watchdog.failed]);
    } catch (e) {
      if (profileDir !== undefined)
        await master.call('profile-stop', { path: join(profileDir, 'abandoned.cpuprofile') }, SHORT_RPC_MS);
      throw e;
    } finally {
      watchdog.stop();
      sampler.stop();
    }
    const cpu1 = pids.map(cpuMs);
    const hwm = pids.map((pid, i) => (hwmReset[i] ? procStatusBytes(pid, 'VmHWM') : undefined));
    let profiles: SyncResult['profiles'];
    if (profileDir !== undefined) {
      const mPath = join(profileDir, `master-${n}.cpuprofile`);
      const cPath = join(profileDir, `clone-${n}.cpuprofile`);
      await master.call('profile-stop', { path: mPath }, SHORT_RPC_MS);
      await clone.call('profile-stop', { path: cPath }, SHORT_RPC_MS);
      profiles = { master: summarizeCpuProfile(mPath, PROFILE_TOP), clone: summarizeCpuProfile(cPath, PROFILE_TOP) };
    }
    const stats = await master.call<Stats>('stats', null, SHORT_RPC_MS);
    if (stats.errors.length > 0) throw new Error(`master reported errors: ${stats.errors.join('; ')}`);
    const mAfter = await master.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    const cAfter = await clone.call<MemorySnapshot>('memory', null, SHORT_RPC_MS);
    assertCheck('initial sync', n, await clone.call<CheckResult>('check', { n, ...changed }, scaledTimeout(n)));
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
    return {
      child,
      clone,
      sync,
      snapshotBytes: stats.resyncBytes.snapshot - startBytes,
      master: memory(0, mBase, mAfter),
      cloneMemory: memory(1, cBase, cAfter),
      ...(profiles === undefined ? {} : { profiles }),
    };
  } catch (e) {
    await child.stop();
    throw e;
  }
}

/** Cuts the clone off, changes every `every`-th key on the master, reconnects and measures the catch-up. */
async function catchUp(
  master: RpcClient,
  clone: RpcClient,
  url: string,
  n: number,
  every: number,
  tag: string,
): Promise<DeltaResult> {
  await clone.call('cut', { url }, SHORT_RPC_MS);
  const change = await master.call<{ changed: number }>('change', { every, tag }, scaledTimeout(n));
  const before = await master.call<Stats>('stats', null, SHORT_RPC_MS);
  const back = await clone.call<{ ms: number }>('reconnect', { url, timeoutMs: SHORT_RPC_MS }, SHORT_RPC_MS + 5000);
  const after = await master.call<Stats>('stats', null, SHORT_RPC_MS);
  assertCheck('catch-up', n, await clone.call<CheckResult>('check', { n, every, tag }, scaledTimeout(n)));
  return {
    changed: change.changed,
    deltaBytes: after.resyncBytes.delta - before.resyncBytes.delta,
    snapshotBytesDuringCatchUp: after.resyncBytes.snapshot - before.resyncBytes.snapshot,
    reconnectMs: back.ms,
  };
}

/**
 * Fills a master of `n` keys in one process and syncs a clone in another, measuring both. The
 * clone first runs with default options; if its snapshot restarts, that attempt is recorded as
 * {@link SyncResult.abandoned} and a fresh clone retries with a `resyncInterval` longer than the
 * sync can take. The profiled extra sync always uses that longer interval.
 */
export async function runSync(
  procs: ProcessSet,
  n: number,
  opts: SyncOptions,
  log: (line: string) => void,
): Promise<SyncResult> {
  const masterChild = procs.spawn('store master', process.execPath, ['--expose-gc', helperPath('master-process.js')]);
  let attempt: Attempt | undefined;
  try {
    const url = (await masterChild.waitForLine(/^ready (ws:\/\/\S+)$/, START_TIMEOUT_MS))[1]!;
    const master = new RpcClient(masterChild);
    log(`stores: filling a master with ${n.toLocaleString('en-US')} keys`);
    const fill = await master.call<{ ms: number; size: number; storeBytes: number }>('fill', { n }, scaledTimeout(n));
    if (fill.size !== n) throw new Error(`master holds ${fill.size} keys after filling ${n}`);

    let abandoned: SyncResult['abandoned'];
    const workaround = { resyncInterval: scaledTimeout(n) };
    log(`stores: clone initial sync of ${n.toLocaleString('en-US')} keys`);
    try {
      attempt = await syncAttempt(procs, masterChild, master, url, n, fill.storeBytes, {}, undefined, undefined);
      if (attempt.snapshotBytes > RESTART_LIMIT * fill.storeBytes) {
        abandoned = { elapsedMs: attempt.sync.ms, snapshotBytes: attempt.snapshotBytes, completed: true };
        await attempt.child.stop();
        attempt = undefined;
      }
    } catch (e) {
      if (!(e instanceof NotConverging)) throw e;
      abandoned = { elapsedMs: e.elapsedMs, snapshotBytes: e.snapshotBytes, completed: false };
    }
    if (attempt === undefined) {
      log(`stores: the snapshot restarted; again with resyncInterval ${workaround.resyncInterval} ms`);
      attempt = await syncAttempt(
        procs,
        masterChild,
        master,
        url,
        n,
        fill.storeBytes,
        workaround,
        undefined,
        undefined,
      );
    }

    let delta: DeltaResult | undefined;
    if (opts.delta !== undefined) {
      log(`stores: cut the clone off, change every ${opts.delta.every}th key, reconnect`);
      delta = await catchUp(master, attempt.clone, url, n, opts.delta.every, opts.delta.tag);
    }
    let profiles: SyncResult['profiles'];
    if (opts.profileDir !== undefined) {
      log(`stores: one more initial sync of ${n.toLocaleString('en-US')} keys with a fresh clone, profiled`);
      await attempt.child.stop();
      const profiled = await syncAttempt(
        procs,
        masterChild,
        master,
        url,
        n,
        fill.storeBytes,
        workaround,
        opts.profileDir,
        opts.delta,
      );
      await profiled.child.stop();
      profiles = profiled.profiles;
    }
    return {
      n,
      storeBytes: fill.storeBytes,
      fillMs: fill.ms,
      syncMs: attempt.sync.ms,
      snapshotBeganMs: attempt.sync.snapshotBeganMs,
      snapshotBytes: attempt.snapshotBytes,
      master: attempt.master,
      clone: attempt.cloneMemory,
      ...(abandoned === undefined ? {} : { abandoned, resyncInterval: workaround.resyncInterval }),
      ...(delta === undefined ? {} : { delta }),
      ...(profiles === undefined ? {} : { profiles }),
    };
  } finally {
    await attempt?.child.stop();
    await masterChild.stop();
  }
}
