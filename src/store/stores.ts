/**
 * Data stores on an endpoint: `createMaster(endpoint, name, options)` and
 * `createClone(endpoint, name, options)`. They are functions over an Endpoint (not methods of it)
 * so that the endpoint layer stays free of store code and a browser bundle that only publishes
 * and subscribes does not carry it.
 */
import { from, isData } from '../data/constructors.js';
import type { Data, TimespanData } from '../data/types.js';
import { StoreError, ValueError } from '../errors.js';
import { encodeValue } from '../codec/native/values.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { newEndpointId } from '../util/ids.js';
import type { Timers } from '../util/timers.js';
import { systemTimers } from '../util/timers.js';
import type { StoreBackend } from './backend.js';
import { CloneCore, type CloneStatus } from './clone.js';
import { MasterCore, type MasterStats } from './master.js';
import { createMemoryBackend } from './memory-backend.js';
import { StoreOp, type Mutation } from './operations.js';
import type { ClonePersistence } from './persistence.js';
import type { StoreChangeEvent } from './store-events.js';
import {
  cloneTopic,
  decodeStoreMessage,
  encodeStoreMessage,
  masterTopic,
  updatesTopic,
  type StoreMessage,
} from './store-protocol.js';
import { DEFAULT_MAX_ENTRY_BYTES } from './value-size.js';
import { installStoreGuard } from './install-store-guard.js';
import { storeCommandRefusal } from './store-commands-in-flight.js';
import { storeRefusal } from './store-guard.js';
import { Emitter } from '../util/emitter.js';
import { checkOptionsObject, fnOption, intOption, numberOption } from '../util/options.js';
import { ConfigError } from '../errors.js';
import type { LeaseKv } from '../backbone/types.js';
import { MasterLease, watchMaster } from './master-lease.js';
import { BackboneMasters, conflictingMaster, type BackboneMaster } from './backbone-masters.js';

/** An expiry: milliseconds, or a Broker timespan. 0 clears a key's expiry. */
export type Expiry = number | TimespanData;

/** Options of one write (`put`, `increment`, …). */
export interface WriteOptions {
  /** Expire the key this long after this change (and after each later change that passes none). */
  readonly expiry?: Expiry;
}

/**
 * A store master's lease (single writer across machines, see `master-lease.ts`): the bucket (the
 * cluster's JetStream KV, `natsLeaseKv` from `isobroker/node`), the lease's time to live and its
 * renewal period.
 */
export interface MasterLeaseConfig {
  readonly kv: LeaseKv;
  /** ms; keep it at the bucket's TTL (at least 15 s on JetStream: a stream leader election takes 4–10 s). @default 15000 */
  readonly ttl?: number;
  /** ms, below `ttl`. @default ttl / 3 */
  readonly renewInterval?: number;
}

/** Options of `createMaster`, each resolved once against {@link DEFAULT_MASTER_OPTIONS}; an invalid value throws a `ConfigError`. */
export interface MasterOptions {
  /** Where entries live; the master owns it from now on and closes it on `close()`. @default a new memory backend */
  readonly backend?: StoreBackend;
  /** Changes kept for delta resyncs of clones. @default 100000 */
  readonly changeLogSize?: number;
  /** Most entries per snapshot chunk, delta batch or broadcast update (1–100000). @default 1000 */
  readonly chunkSize?: number;
  /**
   * Target bytes (encoded keys and values) per snapshot chunk, delta batch or broadcast update, so
   * no message nears the frame limit and live traffic interleaves with a resync (1 KiB–8 MiB); an
   * entry larger than this travels alone. @default 524288 (512 KiB)
   */
  readonly chunkBytes?: number;
  /** Unacknowledged snapshot chunks per clone (1–1024). @default 8 */
  readonly chunkWindow?: number;
  /**
   * Unacknowledged snapshot bytes (encoded keys and values) per clone: the next chunk leaves only
   * while less than this is in flight, so live traffic on the same connection waits behind at
   * most this much of a snapshot (one chunk always may be in flight; 1 KiB–256 MiB).
   * @default 1048576 (1 MiB)
   */
  readonly chunkWindowBytes?: number;
  /**
   * Largest entry (encoded key plus value) a write may create; a larger one fails with
   * `value_too_large` instead of being stored where no clone could ever receive it (64 B up to
   * the frame limit less 64 KiB). @default 16711680 (16 MiB − 64 KiB)
   */
  readonly maxEntryBytes?: number;
  /**
   * Out-of-order commands held per clone, counted in request ids from the first missing one
   * (1–1000000): a command further ahead is dropped unapplied and the clone is told to resend.
   * @default 1024
   */
  readonly aheadWindow?: number;
  /** Bytes (encoded keys and arguments) of out-of-order commands held per clone (1 KiB–1 GiB). @default 8388608 (8 MiB) */
  readonly aheadWindowBytes?: number;
  /** Bytes of out-of-order commands held over all clones (1 KiB–4 GiB). @default 67108864 (64 MiB) */
  readonly aheadTotalBytes?: number;
  /**
   * A clone's bookkeeping (its progress; a `clone-next:` row in SQLite) is dropped once the clone
   * has been unreachable this long, ms. Keep it above the clones' `mutationBufferInterval`.
   * @default 3600000 (1 h)
   */
  readonly cloneRetention?: number;
  /** Heartbeat to clones, ms. @default 1000 */
  readonly heartbeatInterval?: number;
  /**
   * Claim the store's lease before serving (one master per store across machines, enforced by
   * the bucket rather than by who is reachable): `createMaster` rejects with `master_exists` while
   * another endpoint holds it. The lease's revision is stamped on everything the master sends as
   * its fencing epoch. A master whose lease is lost (not renewed within `ttl`, or taken over)
   * steps down at once: it serves nobody and refuses writes with `stale_data`; it claims the lease
   * again every renewal period until it holds it (and serves again: clones resync by delta) or
   * finds another master holding it (then it stays down and reports `master_exists` on its error
   * channel). @default none: one master per reachable network, as Broker (on a backbone, best
   * effort from presence heartbeats: a conflicting later master steps down once they cross)
   */
  readonly lease?: MasterLeaseConfig;
  /** Expiry check period, ms. @default 100 (Broker's) */
  readonly expiryTick?: number;
  /** Backend failures and other non-fatal problems. @default ignored */
  readonly onError?: (err: StoreError) => void;
  readonly timers?: Timers;
}

/** Options of `createClone`, each resolved once against {@link DEFAULT_CLONE_OPTIONS}; an invalid value throws a `ConfigError`. */
export interface CloneOptions {
  /** Queries fail with stale_data once the master was unreachable this long, ms. @default 300000 (Zeek's 5 min) */
  readonly staleInterval?: number;
  /** Writes made while cut off wait this long for the master, ms. @default 120000 (Zeek's 2 min) */
  readonly mutationBufferInterval?: number;
  /** The master counts as gone after this long without a word from it, ms. @default 3000 */
  readonly masterTimeout?: number;
  /** Delay between attempts to reach the master, ms. @default 1000 */
  readonly resyncInterval?: number;
  /** Local persistence (IndexedDB in browsers). @default none */
  readonly persistence?: ClonePersistence;
  /** Largest write (encoded key plus arguments) sent to the master; larger ones fail at once with `value_too_large`. @default 16711680 (16 MiB − 64 KiB) */
  readonly maxEntryBytes?: number;
  /**
   * Watch the store's lease (the masters' bucket): when a new master takes the store, messages of
   * the older one are ignored at once (fencing works without it too, from the first message of
   * the new master) and the clone attaches to the new one without waiting for its timeouts.
   * @default none
   */
  readonly lease?: { readonly kv: LeaseKv };
  readonly onError?: (err: StoreError) => void;
  readonly timers?: Timers;
}

/** The defaults of {@link MasterOptions}. */
export const DEFAULT_MASTER_OPTIONS = {
  changeLogSize: 100_000,
  chunkSize: 1000,
  chunkBytes: 512 * 1024,
  chunkWindow: 8,
  chunkWindowBytes: 1024 * 1024,
  maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
  aheadWindow: 1024,
  aheadWindowBytes: 8 * 1024 * 1024,
  aheadTotalBytes: 64 * 1024 * 1024,
  cloneRetention: 3_600_000,
  heartbeatInterval: 1000,
  expiryTick: 100,
} as const;

/** The defaults of {@link CloneOptions}. */
export const DEFAULT_CLONE_OPTIONS = {
  staleInterval: 300_000,
  mutationBufferInterval: 120_000,
  masterTimeout: 3000,
  resyncInterval: 1000,
  maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
} as const;

const DAY_MS = 86_400_000;

/** A store backend or clone persistence: an object with the methods named. */
function objectOption<T>(name: string, value: T | undefined, methods: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  const o = value as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || methods.some((m) => typeof o[m] !== 'function')) {
    throw new ConfigError(name, `expected an object with the methods ${methods.join(', ')}`);
  }
  return value;
}

/** `MasterOptions` checked once, each field in its range (a `ConfigError` names the first bad one). */
export function resolveMasterOptions(o: MasterOptions = {}) {
  checkOptionsObject('MasterOptions', o);
  const d = DEFAULT_MASTER_OPTIONS;
  const maxEntryBytes = intOption('maxEntryBytes', o.maxEntryBytes, d.maxEntryBytes, 64, DEFAULT_MAX_ENTRY_BYTES);
  return {
    backend: objectOption('backend', o.backend, [
      'get',
      'put',
      'erase',
      'scan',
      'transaction',
      'getMeta',
      'setMeta',
      'close',
    ]),
    changeLogSize: intOption('changeLogSize', o.changeLogSize, d.changeLogSize, 0, 100_000_000),
    chunkSize: intOption('chunkSize', o.chunkSize, d.chunkSize, 1, 100_000),
    chunkBytes: intOption('chunkBytes', o.chunkBytes, d.chunkBytes, 1024, 8 * 1024 * 1024),
    chunkWindow: intOption('chunkWindow', o.chunkWindow, d.chunkWindow, 1, 1024),
    chunkWindowBytes: intOption('chunkWindowBytes', o.chunkWindowBytes, d.chunkWindowBytes, 1024, 256 * 1024 * 1024),
    maxEntryBytes,
    aheadWindow: intOption('aheadWindow', o.aheadWindow, d.aheadWindow, 1, 1_000_000),
    aheadWindowBytes: intOption('aheadWindowBytes', o.aheadWindowBytes, d.aheadWindowBytes, 1024, 1024 ** 3),
    aheadTotalBytes: intOption('aheadTotalBytes', o.aheadTotalBytes, d.aheadTotalBytes, 1024, 4 * 1024 ** 3),
    cloneRetention: numberOption('cloneRetention', o.cloneRetention, d.cloneRetention, 1, 365 * DAY_MS),
    heartbeatInterval: numberOption('heartbeatInterval', o.heartbeatInterval, d.heartbeatInterval, 1, DAY_MS),
    expiryTick: numberOption('expiryTick', o.expiryTick, d.expiryTick, 1, DAY_MS),
    lease: leaseOption(o.lease),
    onError: fnOption('onError', o.onError),
    timers: objectOption('timers', o.timers, ['now', 'setTimeout', 'clearTimeout']),
  };
}

/** `CloneOptions` checked once, each field in its range (a `ConfigError` names the first bad one). */
export function resolveCloneOptions(o: CloneOptions = {}) {
  checkOptionsObject('CloneOptions', o);
  const d = DEFAULT_CLONE_OPTIONS;
  return {
    staleInterval: numberOption('staleInterval', o.staleInterval, d.staleInterval, 0),
    mutationBufferInterval: numberOption(
      'mutationBufferInterval',
      o.mutationBufferInterval,
      d.mutationBufferInterval,
      0,
    ),
    masterTimeout: numberOption('masterTimeout', o.masterTimeout, d.masterTimeout, 1, DAY_MS),
    resyncInterval: numberOption('resyncInterval', o.resyncInterval, d.resyncInterval, 1, DAY_MS),
    persistence: objectOption('persistence', o.persistence, ['load', 'write', 'reset', 'close']),
    maxEntryBytes: intOption('maxEntryBytes', o.maxEntryBytes, d.maxEntryBytes, 64, DEFAULT_MAX_ENTRY_BYTES),
    lease: o.lease === undefined ? undefined : { kv: leaseKvOption((o.lease as { kv?: LeaseKv } | null)?.kv) },
    onError: fnOption('onError', o.onError),
    timers: objectOption('timers', o.timers, ['now', 'setTimeout', 'clearTimeout']),
  };
}

function leaseKvOption(kv: LeaseKv | undefined): LeaseKv {
  const checked = objectOption('lease.kv', kv, ['create', 'update', 'get', 'delete', 'watch']);
  if (checked === undefined) throw new ConfigError('lease.kv', 'expected a lease bucket (LeaseKv)');
  return checked;
}

/** A master's lease option: the bucket checked; ttl and renewInterval are checked by `MasterLease`. */
function leaseOption(l: MasterLeaseConfig | undefined): MasterLeaseConfig | undefined {
  if (l === undefined) return undefined;
  if (l === null || typeof l !== 'object') throw new ConfigError('lease', 'expected an object with kv');
  const kv = leaseKvOption(l.kv);
  return { ...l, kv };
}

const toData = (v: unknown): Data => (isData(v) ? v : from(v));

function expiryMs(e: Expiry | undefined): number | undefined {
  if (e === undefined) return undefined;
  const ms = typeof e === 'number' ? e : Number(e.ns) / 1e6;
  if (!Number.isFinite(ms) || ms < 0) throw new ValueError(`expiry must be a non-negative duration, got ${String(ms)}`);
  return Math.round(ms);
}

/** The part of the master and clone state machines that the public handles share. */
interface StoreCore {
  mutate(m: Mutation): Promise<Data>;
  get(key: Data): Data;
  exists(key: Data): boolean;
  keys(): Data;
  getIndexFromValue(key: Data, index: Data): Data;
  size(): number;
  entries(): IterableIterator<[Data, Data]>;
  onChange(fn: (ev: StoreChangeEvent) => void): () => void;
}

/** What masters and clones share: writes (as mutations), queries and the change feed. */
abstract class StoreHandle {
  abstract readonly name: string;
  protected abstract readonly core: StoreCore;
  /** The store's error channel: the `onError` option and `onError()` listeners. */
  protected readonly errors = new Emitter<{ error: StoreError }>();

  /** Errors that concern no single call: backend failures, listeners that threw, a sync the master refused. */
  onError(fn: (err: StoreError) => void): () => void {
    return this.errors.on('error', fn);
  }

  protected mutate(m: Mutation): Promise<Data> {
    return this.core.mutate(m);
  }
  /** The value at `key`; `no_such_key` when absent (`stale_data` on a clone cut off too long). */
  get(key: unknown): Data {
    return this.core.get(toData(key));
  }
  exists(key: unknown): boolean {
    return this.core.exists(toData(key));
  }
  /** All keys, as a Broker set. */
  keys(): Data {
    return this.core.keys();
  }
  /** Broker's get_index_from_value: a vector element, a table value, or set membership. */
  getIndexFromValue(key: unknown, index: unknown): Data {
    return this.core.getIndexFromValue(toData(key), toData(index));
  }
  get size(): number {
    return this.core.size();
  }
  /** Every entry (a master pages them from its backend; a clone shows its copy, fresh or not). */
  entries(): IterableIterator<[Data, Data]> {
    return this.core.entries();
  }
  /** Insert/update/erase/expire/clear events with old and new values. */
  onChange(fn: (ev: StoreChangeEvent) => void): () => void {
    return this.core.onChange(fn);
  }

  private write(op: StoreOp, key: unknown, args: unknown[], opts: WriteOptions | undefined): Promise<Data> {
    const expiry = expiryMs(opts?.expiry);
    const k = toData(key);
    const a = args.map(toData);
    return this.mutate(expiry === undefined ? { op, key: k, args: a } : { op, key: k, args: a, expiry });
  }

  async put(key: unknown, value: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Put, key, [value], opts);
  }
  /** Inserts only if the key is absent; resolves to whether it inserted. */
  async putUnique(key: unknown, value: unknown, opts?: WriteOptions): Promise<boolean> {
    const r = await this.write(StoreOp.PutUnique, key, [value], opts);
    return r.type === 'boolean' && r.value;
  }
  async erase(key: unknown): Promise<void> {
    await this.write(StoreOp.Erase, key, [], undefined);
  }
  /** Adds `amount` (count 1 by default) to a number, timestamp or timespan; creates a missing key at zero. */
  async increment(key: unknown, amount: unknown = { type: 'count', value: 1n }, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Increment, key, [amount], opts);
  }
  async decrement(key: unknown, amount: unknown = { type: 'count', value: 1n }, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Decrement, key, [amount], opts);
  }
  async append(key: unknown, text: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Append, key, [text], opts);
  }
  /** Inserts an element into a set, or `key → value` into a table (pass `value`). */
  async insertInto(key: unknown, element: unknown, value?: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.InsertInto, key, value === undefined ? [element] : [element, value], opts);
  }
  async removeFrom(key: unknown, element: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.RemoveFrom, key, [element], opts);
  }
  async push(key: unknown, value: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Push, key, [value], opts);
  }
  async pop(key: unknown, opts?: WriteOptions): Promise<void> {
    await this.write(StoreOp.Pop, key, [], opts);
  }
}

/** Masters hosted per endpoint (an endpoint never receives its own publishes). */
const localMasters = new WeakMap<Endpoint, Set<string>>();
/** The master handles open per endpoint (for `mastersOn`). */
const openMasters = new WeakMap<Endpoint, Set<StoreMaster>>();

/** The masters open on `endpoint` that serve (a master that lost its lease is left out). */
function servingMasters(endpoint: Endpoint): BackboneMaster[] {
  const out: BackboneMaster[] = [];
  for (const m of openMasters.get(endpoint) ?? []) {
    const l = m.leaseState;
    if (l !== undefined && !l.held) continue;
    out.push({
      name: m.name,
      epoch: l?.epoch ?? 0,
      claimedAt: l === undefined ? m.claimedAt : undefined,
      stepDown: (reason) => m.stepDown(reason),
    });
  }
  return out;
}

let backboneMastersInstance: BackboneMasters | undefined;
/** Presence heartbeats of endpoints with a backbone list their masters (made with the first master). */
function backboneMasters(): BackboneMasters {
  backboneMastersInstance ??= new BackboneMasters(servingMasters);
  return backboneMastersInstance;
}

/**
 * The stores `endpoint` masters now, each with its fencing epoch (0 without a lease); a master
 * that lost its lease is left out. What a backbone's presence heartbeat lists (`stores`), so that
 * without a lease bucket a conflicting master elsewhere can be noticed.
 */
export function mastersOn(endpoint: Endpoint): { readonly name: string; readonly epoch: number }[] {
  return servingMasters(endpoint).map((m) => ({ name: m.name, epoch: m.epoch }));
}

/** Sends store messages on `ep`; a master with a lease stamps its fencing epoch (`fence()`) on each. */
function sender(ep: Endpoint, fence?: () => number): (topic: string, msg: StoreMessage) => number {
  return (topic, msg) => {
    const bytes = encodeValue(encodeStoreMessage(msg, fence?.()));
    if (!ep.isClosed) ep.publishEncoded(topic, bytes); // a store outliving its endpoint goes quiet

    return bytes.length;
  };
}

function receiver(onMessage: (m: StoreMessage) => void, onError: (e: StoreError) => void) {
  return ({ data }: { data: Data }): void => {
    let msg: StoreMessage;
    try {
      msg = decodeStoreMessage(data);
    } catch (err) {
      onError(new StoreError('invalid_data', `ignored a malformed store message: ${String(err)}`, { cause: err }));
      return;
    }
    onMessage(msg);
  };
}

/** The master of a store: the one place its data is changed. */
export class StoreMaster extends StoreHandle {
  protected readonly core: MasterCore;
  private readonly unsubscribe: () => void;
  /** The store's lease, when the master was created with one (held: it is claimed before serving). */
  private readonly lease: MasterLease | undefined;
  private reclaimTimer: unknown;
  private closed = false;
  /**
   * When this master was created, ms on its clock (an integer ≥ 1): without a lease, of two
   * masters of one store that find each other on a backbone, the later one steps down.
   */
  readonly claimedAt: number;

  /** @internal use `createMaster` */
  constructor(
    readonly endpoint: Endpoint,
    readonly name: string,
    opts: MasterOptions = {},
    lease?: MasterLease,
  ) {
    super();
    const o = resolveMasterOptions(opts);
    if (o.onError) this.errors.on('error', o.onError);
    const onError = (e: StoreError): void => this.errors.emit('error', e);
    const timers = o.timers ?? systemTimers;
    this.claimedAt = Math.max(1, Math.floor(timers.now()));
    this.lease = lease;
    this.core = new MasterCore({
      name,
      backend: o.backend ?? createMemoryBackend(),
      timers,
      send: sender(endpoint, lease && (() => lease.epoch)),
      changeLogSize: o.changeLogSize,
      chunkSize: o.chunkSize,
      chunkBytes: o.chunkBytes,
      chunkWindow: o.chunkWindow,
      chunkWindowBytes: o.chunkWindowBytes,
      maxEntryBytes: o.maxEntryBytes,
      aheadWindow: o.aheadWindow,
      aheadWindowBytes: o.aheadWindowBytes,
      aheadTotalBytes: o.aheadTotalBytes,
      cloneRetention: o.cloneRetention,
      cloneReachable: (cloneId) => endpoint.hasRoute(cloneTopic(name, cloneId)),
      heartbeatInterval: o.heartbeatInterval,
      expiryTick: o.expiryTick,
      newEpoch: newEndpointId,
      onError,
    });
    const sub = endpoint.subscribe(
      masterTopic(name),
      receiver((m) => this.core.onMessage(m), onError),
    );
    let names = localMasters.get(endpoint);
    if (!names) localMasters.set(endpoint, (names = new Set()));
    names.add(name);
    let open = openMasters.get(endpoint);
    if (!open) openMasters.set(endpoint, (open = new Set()));
    open.add(this);
    // A hub that refuses to let this endpoint serve the store says so (store permission `master`).
    const offRefused = endpoint.on('error', (ev) => {
      if (ev.code !== 'forbidden' || ev.context === undefined || storeRefusal(ev.context, name) === undefined) return;
      onError(new StoreError('forbidden', `master of ${name}: ${ev.context}`));
    });
    const offHeld = lease?.on('held', () => backboneMasters().changed(endpoint));
    const offLost = lease?.on('lost', ({ epoch, reason }) => {
      this.core.setStandby(true);
      backboneMasters().changed(endpoint);
      onError(
        new StoreError('stale_data', `master of ${name} stepped down (lease epoch ${epoch}): ${reason.message}`, {
          cause: reason,
        }),
      );
      this.reclaim(timers, lease, onError);
    });
    this.unsubscribe = () => {
      sub.unsubscribe();
      offRefused();
      offLost?.();
      offHeld?.();
      if (this.reclaimTimer !== undefined) timers.clearTimeout(this.reclaimTimer);
      localMasters.get(endpoint)?.delete(name);
      openMasters.get(endpoint)?.delete(this);
      backboneMasters().changed(endpoint);
    };
    endpoint.flushSubscriptions();
    // Listed in the backbone's heartbeats (when the endpoint has one) from now on.
    backboneMasters().changed(endpoint);
  }

  /**
   * After losing the lease: claim it again every renewal period. Held again, the master serves
   * again (a new, higher epoch); another holder means it was superseded: it stays down for good.
   */
  private reclaim(timers: Timers, lease: MasterLease, onError: (e: StoreError) => void): void {
    this.reclaimTimer = timers.setTimeout(() => {
      this.reclaimTimer = undefined;
      lease.claim().then(
        () => this.core.setStandby(false),
        (err: unknown) => {
          if (lease.state === 'released') return;
          if (err instanceof StoreError && err.code === 'master_exists') {
            onError(new StoreError('master_exists', `master of ${this.name} superseded: ${err.message}`));
            return;
          }
          this.reclaim(timers, lease, onError);
        },
      );
    }, lease.renewInterval);
  }

  /**
   * The store's lease (masters created with `lease`): its fencing epoch (0 before the first claim)
   * and whether it is held now (false: the master stepped down).
   */
  get leaseState(): { readonly epoch: number; readonly held: boolean } | undefined {
    return this.lease && { epoch: this.lease.epoch, held: this.lease.held };
  }

  async clear(): Promise<void> {
    await this.core.clear();
  }
  /** Current sequence number and epoch. */
  get position(): { epoch: string; seq: number } {
    return { epoch: this.core.epoch, seq: this.core.seq };
  }
  /** Clones tracked, out-of-order commands held, resync bytes in flight, and what was refused or pruned. */
  get stats(): MasterStats {
    return this.core.stats;
  }
  /** Bytes sent to clones for deltas and snapshots so far. */
  get resyncBytes(): { readonly delta: number; readonly snapshot: number } {
    return { ...this.core.resyncBytes };
  }
  /** True once closed (by `close()`, or stepped down for an earlier master found on the backbone). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Closes the master for good, then reports `reason` on its error channel. */
  stepDown(reason: StoreError): void {
    if (this.closed) return;
    this.close();
    this.errors.emit('error', reason);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.close();
    this.unsubscribe();
    this.endpoint.flushSubscriptions();
    // Handed back at once, so another master need not wait for the lease to expire.
    this.lease
      ?.release()
      .catch((err: unknown) =>
        this.errors.emit(
          'error',
          new StoreError('backend_failure', `master of ${this.name}: releasing its lease failed: ${String(err)}`),
        ),
      );
  }
}

/** A clone: a local copy that follows the master and forwards writes to it. */
export class StoreClone extends StoreHandle {
  readonly cloneId = newEndpointId();
  protected readonly core: CloneCore;
  private readonly subs: { unsubscribe(): void }[];

  /** @internal use `createClone` */
  constructor(
    readonly endpoint: Endpoint,
    readonly name: string,
    opts: CloneOptions = {},
  ) {
    super();
    const o = resolveCloneOptions(opts);
    if (o.onError) this.errors.on('error', o.onError);
    const onError = (e: StoreError): void => this.errors.emit('error', e);
    this.core = new CloneCore({
      name,
      cloneId: this.cloneId,
      timers: o.timers ?? systemTimers,
      send: sender(endpoint),
      staleInterval: o.staleInterval,
      mutationBufferInterval: o.mutationBufferInterval,
      masterTimeout: o.masterTimeout,
      resyncInterval: o.resyncInterval,
      ...(o.persistence ? { persistence: o.persistence } : {}),
      masterReachable: () => endpoint.hasRoute(masterTopic(name)),
      maxEntryBytes: o.maxEntryBytes,
      onError,
    });
    this.subs = [
      endpoint.subscribe(
        updatesTopic(name),
        receiver((m) => this.core.onMessage(m, 'broadcast'), onError),
      ),
      endpoint.subscribe(
        cloneTopic(name, this.cloneId),
        receiver((m) => this.core.onMessage(m, 'direct'), onError),
      ),
    ];
    if (o.lease) {
      const off = watchMaster(o.lease.kv, name, (h) => {
        if (h) this.core.raiseFence(h.epoch);
      });
      this.subs.push({ unsubscribe: off });
    }
    // A hub that refuses this store's traffic says so in a `forbidden` notice (store permissions).
    const offRefused = endpoint.on('error', (ev) => {
      if (ev.code === 'limit_exceeded' && ev.context !== undefined) {
        // One write refused: too many of this connection's commands await their ack.
        const reqId = storeCommandRefusal(ev.context, name, this.cloneId);
        if (reqId !== undefined)
          this.core.refusedCommand(reqId, new StoreError('limit_exceeded', `clone of ${name}: ${ev.context}`));
        return;
      }
      if (ev.code !== 'forbidden' || ev.context === undefined) return;
      const need = storeRefusal(ev.context, name, this.cloneId);
      if (need === undefined) return;
      this.core.refusedByHub(new StoreError('forbidden', `clone of ${name}: ${ev.context}`), need);
    });
    this.subs.push({ unsubscribe: offRefused });
    endpoint.flushSubscriptions();
  }

  /** @internal */
  start(): Promise<void> {
    return this.core.start();
  }

  async clear(): Promise<void> {
    await this.core.clear();
  }
  /** `in-sync`, or `stale`/`syncing` while the copy may lag the master. */
  get status(): CloneStatus {
    return this.core.status;
  }
  get position(): { epoch: string | undefined; seq: number } {
    return { epoch: this.core.epoch, seq: this.core.seq };
  }
  /**
   * Fencing: the highest fencing epoch seen from a master of this store (0 without leases) and
   * how many messages from masters of lower epochs (stepped down) were ignored.
   */
  get fencing(): { readonly epoch: number; readonly ignored: number } {
    return this.core.fencing;
  }
  onStatus(fn: (s: CloneStatus) => void): () => void {
    return this.core.onStatus(fn);
  }
  /**
   * Resolves when the clone is in sync with the master (now or later); rejects after `timeoutMs`,
   * or at once with the master's reason when it refused the sync (e.g. `value_too_large`).
   */
  whenInSync(timeoutMs = 30_000): Promise<void> {
    if (this.core.status === 'in-sync') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(t);
        off();
        offFailed();
      };
      const t = setTimeout(() => {
        done();
        reject(new StoreError('request_timeout', `clone of ${this.name} not in sync after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.core.onStatus((s) => {
        if (s !== 'in-sync') return;
        done();
        resolve();
      });
      const offFailed = this.core.onSyncFailed((err) => {
        done();
        reject(err);
      });
    });
  }
  close(): void {
    this.core.close();
    for (const s of this.subs) s.unsubscribe();
  }
}

/**
 * Creates the master of store `name` on `endpoint`. Refused with `master_exists` when a master of
 * that name is already reachable (there is one master per store in the whole network), or, on an
 * endpoint with a backbone, listed in another member's presence heartbeats. Without a lease,
 * masters created on two members before either heard of the other both serve until their
 * heartbeats cross; then the later one closes and reports `master_exists` on its error channel
 * (best effort under partition: see backbone-masters.ts). With `lease` the bucket decides. Installs
 * the store permission guard on `endpoint` (`installStoreGuard`): connections it serves with a
 * principal need `read`, `write` or `master` on a store for its traffic.
 */
export async function createMaster(endpoint: Endpoint, name: string, opts: MasterOptions = {}): Promise<StoreMaster> {
  const topic = masterTopic(name);
  const exists = (): StoreError =>
    new StoreError('master_exists', `a master for store '${name}' already exists in the network`);
  if (localMasters.get(endpoint)?.has(name)) throw exists();
  const leaseOpts = resolveMasterOptions(opts).lease;
  let lease: MasterLease | undefined;
  if (leaseOpts) {
    // The lease decides (a stepped-down master may still be reachable): claimed before serving.
    lease = new MasterLease({
      kv: leaseOpts.kv,
      store: name,
      endpointId: endpoint.id,
      name: endpoint.name,
      ...(leaseOpts.ttl === undefined ? {} : { ttl: leaseOpts.ttl }),
      ...(leaseOpts.renewInterval === undefined ? {} : { renewInterval: leaseOpts.renewInterval }),
      ...(opts.timers ? { timers: opts.timers } : {}),
    });
    // Reserved while claiming, so a second createMaster here is refused rather than taking over
    // this endpoint's own lease.
    let names = localMasters.get(endpoint);
    if (!names) localMasters.set(endpoint, (names = new Set()));
    names.add(name);
    try {
      await lease.claim();
    } catch (err) {
      names.delete(name);
      throw err;
    }
  } else {
    if (endpoint.reachable().some((r) => r.filter.includes(topic))) {
      // Masters subscribe to exactly their topic, and internal prefixes are never folded into
      // broader ones, so an announced filter lists every master it hosts.
      throw exists();
    }
    // On a backbone: another member's heartbeats list it (best effort: see backbone-masters.ts).
    const other = conflictingMaster(endpoint, name);
    if (other) {
      throw new StoreError(
        'master_exists',
        `a master for store '${name}' already exists on the backbone, at endpoint '${other.name}' (${other.id})`,
      );
    }
  }
  // A hub hosting masters checks the store permissions of the connections it serves.
  installStoreGuard(endpoint);
  return new StoreMaster(endpoint, name, opts, lease);
}

/** Creates a clone of store `name` on `endpoint`; it syncs with the master in the background. */
export async function createClone(endpoint: Endpoint, name: string, opts: CloneOptions = {}): Promise<StoreClone> {
  if (localMasters.get(endpoint)?.has(name)) {
    throw new StoreError(
      'master_exists',
      `this endpoint hosts the master of store '${name}': use the master, a clone here would never hear from it`,
    );
  }
  const clone = new StoreClone(endpoint, name, opts);
  await clone.start();
  return clone;
}
