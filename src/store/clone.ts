/**
 * A clone of a data store, as a state machine: a local copy kept in step with the master's
 * numbered updates. Writes go to the master and change the copy when the master's update comes
 * back. Beyond Broker, the clone resyncs by itself after any outage or master restart — a delta
 * from its last sequence number when the master still has it, else a streamed snapshot — fails
 * queries with `stale_data` once the master has been gone longer than `staleInterval`, and buffers
 * writes made while cut off for up to `mutationBufferInterval`.
 */
import { none, set as mkSet } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { STORE_ERROR_CODES, StoreError, type StoreErrorCode } from '../errors.js';
import type { Timers } from '../util/timers.js';
import { StoreOp, indexFromValue, type Mutation } from './operations.js';
import type { ClonePersistence, PersistChange } from './persistence.js';
import { ChangeKind, StoreMsg, masterTopic, type Change, type StoreMessage } from './store-protocol.js';
import type { StoreChangeEvent } from './store-events.js';
import { Emitter } from '../util/emitter.js';
import { checkEntrySize } from './value-size.js';
import { CompactEntries, PRESENT } from './compact-entries.js';
import { equals } from '../data/order.js';

/**
 * Where a clone stands: `loading` its persisted copy, `stale` (cut off from its master longer than
 * `staleInterval`), `syncing` (a delta or snapshot is arriving), `in-sync`, or `closed`.
 */
export type CloneStatus = 'loading' | 'stale' | 'syncing' | 'in-sync' | 'closed';

export interface CloneConfig {
  readonly name: string;
  readonly cloneId: string;
  readonly timers: Timers;
  readonly send: (topic: string, msg: StoreMessage) => void;
  /** Queries fail with stale_data once the master has been unreachable this long (ms). */
  readonly staleInterval: number;
  /** Writes made while cut off wait this long (ms) for the master, then fail. */
  readonly mutationBufferInterval: number;
  /** The master counts as gone after this long without hearing from it (ms). */
  readonly masterTimeout: number;
  /** Delay between attach attempts while the master is away (ms). */
  readonly resyncInterval: number;
  readonly persistence?: ClonePersistence;
  /** Whether the master's topic is routable now (the overlay knows a path to it). */
  readonly masterReachable: () => boolean;
  /** Largest write (encoded key plus arguments) sent to the master; larger ones fail at once with `value_too_large`. */
  readonly maxEntryBytes: number;
  readonly onError: (err: StoreError) => void;
}

export interface CloneEvents {
  readonly change: StoreChangeEvent;
  readonly status: CloneStatus;
  /** The master said this clone cannot sync, for a reason that retrying soon will not fix (e.g. `value_too_large`). */
  readonly syncFailed: StoreError;
}

interface Pending {
  readonly msg: Omit<Extract<StoreMessage, { kind: typeof StoreMsg.Command }>, 'lowest'>;
  readonly created: number;
  /** Sent to the master at least once (then its outcome is unknown until acknowledged). */
  sent: boolean;
  lastSent: number;
  readonly resolve: (d: Data) => void;
  readonly reject: (e: StoreError) => void;
}

const TICK_MS = 100;
/** A snapshot with no chunk for this long is abandoned and requested again. */
const SNAPSHOT_STALL_MS = 10_000;
/** After the master refused a sync (SyncFailed), wait this long before asking again; doubles up to the maximum. */
const SYNC_FAILED_RETRY_MS = 30_000;
const SYNC_FAILED_RETRY_MAX_MS = 300_000;

export class CloneCore {
  status: CloneStatus = 'loading';
  epoch: string | undefined;
  seq = 0;
  /** The local copy, held compactly (encoded; see compact-entries.ts). */
  private readonly data = new CompactEntries();
  /**
   * While a snapshot arrives into a copy that was not empty: the record numbers of the keys it
   * brought, so the keys it did not bring are swept at its end (an empty copy has nothing to sweep).
   */
  private seen: Set<number> | undefined;
  private lastHeard: number;
  private lostSince: number;
  private attachSentAt = -Infinity;
  private attaching = false;
  private snapshot: { epoch: string; seq: number; next: number; progress: number; stream: number } | undefined;
  /** Id of the latest Attach: only the stream answering it is accepted. */
  private stream = 0;
  /** A hub refused this clone `read` (`refusedByHub`): writes fail with it until the next attach. */
  private refusal: StoreError | undefined;
  /** No attach before this time (after the master refused a sync), and the next wait. */
  private failedUntil = -Infinity;
  private failedWait = SYNC_FAILED_RETRY_MS;
  /** While a delta arrives: the next seq it should bring, and when it last brought one. */
  private deltaNext = 0;
  private deltaProgress = -Infinity;
  private buffered: Extract<StoreMessage, { kind: typeof StoreMsg.Update }>[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: { seq: number; result: Data; resolve: (d: Data) => void }[] = [];
  private nextReq = 1;
  private timer: unknown;
  /** The highest fencing epoch seen from a master of this store (0: none yet, or masters without a lease). */
  private fenceSeen = 0;
  /** The fencing epoch of the master the copy follows (of the last message accepted). */
  private fenceFollowed = 0;
  /** Messages ignored because their master's fencing epoch was below `fenceSeen`. */
  private fencedOut = 0;
  /** Change feed and status; a listener that throws is reported through `onError`. */
  private readonly events: Emitter<CloneEvents>;

  constructor(private readonly cfg: CloneConfig) {
    this.events = new Emitter((event, err) =>
      cfg.onError(
        new StoreError(
          'listener_failed',
          `clone of ${cfg.name}: a '${event}' listener threw: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        ),
      ),
    );
    this.lastHeard = cfg.timers.now();
    this.lostSince = this.lastHeard;
  }

  /** Loads persisted contents (shown at once, marked stale), then starts syncing. */
  async start(): Promise<void> {
    const p = this.cfg.persistence;
    if (p) {
      const saved = await p.load();
      for (const [k, v] of saved.entries) this.data.set(k, v);
      if (saved.checkpoint && saved.checkpoint.epoch !== '') {
        this.epoch = saved.checkpoint.epoch;
        this.seq = saved.checkpoint.seq;
      }
    }
    if (this.status === 'closed') return;
    this.setStatus('stale');
    this.attach();
    this.tick();
  }

  // ---- queries (local)

  private checkFresh(): void {
    if (this.status === 'in-sync') return;
    const away = this.cfg.timers.now() - this.lostSince;
    if (away > this.cfg.staleInterval) {
      throw new StoreError(
        'stale_data',
        `clone of ${this.cfg.name}: master unreachable for ${away} ms (stale_interval ${this.cfg.staleInterval} ms)`,
      );
    }
  }

  get(key: Data): Data {
    this.checkFresh();
    const v = this.data.get(key);
    if (v === undefined) throw new StoreError('no_such_key', `no such key in store ${this.cfg.name}`);
    return v;
  }

  exists(key: Data): boolean {
    this.checkFresh();
    return this.data.has(key);
  }

  keys(): Data {
    this.checkFresh();
    return mkSet(this.data.keys());
  }

  getIndexFromValue(key: Data, index: Data): Data {
    return indexFromValue(key, this.get(key), index);
  }

  size(): number {
    return this.data.size;
  }

  /** Every key and value (no staleness check: for displays that show the stale marker). */
  entries(): IterableIterator<[Data, Data]> {
    return this.data.entries();
  }

  onChange(fn: (ev: StoreChangeEvent) => void): () => void {
    return this.events.on('change', fn);
  }

  onStatus(fn: (s: CloneStatus) => void): () => void {
    return this.events.on('status', fn);
  }

  onSyncFailed(fn: (err: StoreError) => void): () => void {
    return this.events.on('syncFailed', fn);
  }

  // ---- writes (to the master)

  mutate(m: Mutation): Promise<Data> {
    if (this.status === 'closed')
      return Promise.reject(new StoreError('request_timeout', `clone of ${this.cfg.name} is closed`));
    if (this.refusal && this.cfg.timers.now() < this.failedUntil) return Promise.reject(this.refusal);
    try {
      // A command too large to cross a link would never reach the master: refused here.
      checkEntrySize(
        this.cfg.name,
        m.key,
        m.args.length <= 1 ? m.args[0] : { type: 'vector', elements: m.args },
        this.cfg.maxEntryBytes,
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const reqId = this.nextReq++;
      const msg = {
        kind: StoreMsg.Command,
        cloneId: this.cfg.cloneId,
        reqId,
        op: m.op,
        key: m.key,
        args: m.args,
        ...(m.expiry === undefined ? {} : { expiry: m.expiry }),
      } as const;
      const p: Pending = { msg, created: this.cfg.timers.now(), sent: false, lastSent: 0, resolve, reject };
      this.pending.set(reqId, p);
      if (this.status === 'in-sync') this.sendCommand(p);
    });
  }

  clear(): Promise<Data> {
    return this.mutate({ op: StoreOp.Clear, key: none(), args: [] });
  }

  private sendCommand(p: Pending): void {
    p.sent = true;
    p.lastSent = this.cfg.timers.now();
    let lowest = p.msg.reqId;
    for (const id of this.pending.keys()) if (id < lowest) lowest = id;
    this.cfg.send(masterTopic(this.cfg.name), { ...p.msg, lowest });
  }

  close(): void {
    if (this.status === 'closed') return;
    this.setStatus('closed');
    if (this.timer !== undefined) this.cfg.timers.clearTimeout(this.timer);
    for (const p of this.pending.values())
      p.reject(new StoreError('request_timeout', `clone of ${this.cfg.name} closed before the master answered`));
    this.pending.clear();
    // Writes the master acknowledged are done, even if this copy never showed them.
    for (const w of this.waiting.splice(0)) w.resolve(w.result);
    // Commit what is still buffered, then release the persistence.
    this.cfg.persistence
      ?.close()
      .catch((err: unknown) =>
        this.cfg.onError(
          new StoreError(
            'backend_failure',
            `clone of ${this.cfg.name}: closing its persistence failed: ${String(err)}`,
            { cause: err },
          ),
        ),
      );
  }

  // ---- messages from the master

  /** Fencing: the highest master epoch seen, and how many messages of lower epochs were ignored. */
  get fencing(): { readonly epoch: number; readonly ignored: number } {
    return { epoch: this.fenceSeen, ignored: this.fencedOut };
  }

  /**
   * A lease watch saw a master with fencing epoch `epoch` take the store: from now on anything
   * from a lower epoch is ignored, and a clone following or resyncing from an older master
   * attaches again at once (the stepped-down master no longer answers; the new one does).
   */
  raiseFence(epoch: number): void {
    if (!(epoch > this.fenceSeen)) return;
    this.fenceSeen = epoch;
    if (this.status === 'closed' || this.status === 'loading') return;
    // Only a clone that followed an older master (not one that has heard from none yet: its
    // attach is answered by whoever holds the lease).
    const older = this.fenceFollowed > 0 && this.fenceFollowed < epoch;
    if (older && (this.status === 'in-sync' || this.attaching || this.snapshot)) this.attach();
  }

  /**
   * A message from the master: `via` says whether it came on the store's broadcast topic or on
   * this clone's own topic (resyncs, answers); undefined when unknown.
   */
  onMessage(msg: StoreMessage, via?: 'broadcast' | 'direct'): void {
    if (this.status === 'closed' || this.status === 'loading') return;
    // Fencing (PROTOCOL.md §9): a message from a master older than one already seen is ignored,
    // so a stepped-down master's late broadcasts never reach the copy. Without leases it is 0.
    const fence = (msg as { readonly fence?: number }).fence ?? 0;
    if (fence < this.fenceSeen) {
      this.fencedOut++;
      return;
    }
    if (fence > this.fenceSeen) {
      this.fenceSeen = fence;
      // A newer master's broadcast during a resync from an older one: that resync will not finish.
      const broadcast = msg.kind === StoreMsg.Update || msg.kind === StoreMsg.Heartbeat;
      if (broadcast && this.fenceFollowed > 0 && (this.attaching || this.snapshot)) this.attach();
    }
    this.fenceFollowed = fence;
    this.lastHeard = this.cfg.timers.now();
    switch (msg.kind) {
      case StoreMsg.Update:
        if (this.snapshot || this.attaching) {
          this.buffered.push(msg);
          // A delta in progress extends the run of changes after our seq (broadcasts ahead of it do
          // not; nor does a broadcast that happens to follow it: it would hide a lost Attach).
          if (
            this.attaching &&
            via !== 'broadcast' &&
            msg.seq <= this.deltaNext &&
            msg.seq + msg.changes.length > this.deltaNext
          ) {
            this.deltaNext = msg.seq + msg.changes.length;
            this.deltaProgress = this.lastHeard;
            // Received up to here: the master sends the next part of the delta within its window.
            this.cfg.send(masterTopic(this.cfg.name), {
              kind: StoreMsg.DeltaAck,
              cloneId: this.cfg.cloneId,
              seq: this.deltaNext - 1,
              stream: this.stream,
            });
          }
        } else this.onUpdate(msg);
        break;
      case StoreMsg.Heartbeat:
        if (!this.attaching && !this.snapshot && (msg.epoch !== this.epoch || msg.seq > this.seq)) this.attach();
        break;
      case StoreMsg.DeltaEnd:
        if (!this.attaching || msg.stream !== this.stream || msg.epoch !== this.epoch) return;
        this.attaching = false;
        this.drainBuffered();
        if (this.attaching) break; // the buffer had a gap: a new attach is under way
        if (msg.seq > this.seq) this.attach();
        else this.synced();
        break;
      case StoreMsg.SnapshotBegin:
        if (!this.attaching || msg.stream !== this.stream) return;
        this.attaching = false;
        this.snapshot = {
          epoch: msg.epoch,
          seq: msg.seq,
          next: 0,
          progress: this.cfg.timers.now(),
          stream: msg.stream,
        };
        this.seen = this.data.size > 0 ? new Set() : undefined;
        this.cfg.persistence?.reset();
        this.setStatus('syncing');
        break;
      case StoreMsg.SnapshotChunk:
        this.onChunk(msg);
        break;
      case StoreMsg.SnapshotEnd:
        this.onSnapshotEnd(msg);
        break;
      case StoreMsg.Ack:
        this.onAck(msg);
        break;
      case StoreMsg.SyncFailed:
        this.refused(msg);
        break;
      case StoreMsg.Resend:
        this.resend(msg.from);
        break;
      default:
        break;
    }
  }

  private onUpdate(msg: Extract<StoreMessage, { kind: typeof StoreMsg.Update }>): void {
    if (msg.epoch !== this.epoch) {
      this.attach();
      return;
    }
    const last = msg.seq + msg.changes.length - 1;
    if (last <= this.seq) return; // already applied
    if (msg.seq > this.seq + 1) {
      // A gap: some update went missing. Keep this one and ask for the delta.
      this.buffered.push(msg);
      this.attach();
      return;
    }
    const skip = this.seq + 1 - msg.seq;
    const persisted: PersistChange[] | undefined = this.cfg.persistence ? [] : undefined;
    for (const c of msg.changes.slice(skip)) this.applyChange(c, persisted);
    this.seq = last;
    if (persisted) this.cfg.persistence?.write(persisted, { epoch: this.epoch, seq: this.seq });
    this.releaseWaiting();
  }

  /** Applies one change; `persisted` (when there is a persistence) collects what to persist. */
  private applyChange(c: Change, persisted: PersistChange[] | undefined): void {
    switch (c.kind) {
      case ChangeKind.Put: {
        const watched = this.watched();
        const old = this.data.set(c.key, c.value, watched);
        persisted?.push({ key: c.key, value: c.value });
        if (!watched) break;
        this.emit(
          old !== undefined && old !== PRESENT
            ? { type: 'update', key: c.key, oldValue: old, newValue: c.value }
            : { type: 'insert', key: c.key, newValue: c.value },
        );
        break;
      }
      case ChangeKind.Erase:
      case ChangeKind.Expire: {
        const watched = this.watched();
        const old = this.data.delete(c.key, watched);
        if (old === undefined) return;
        persisted?.push({ key: c.key });
        if (old === PRESENT) break;
        this.emit({ type: c.kind === ChangeKind.Erase ? 'erase' : 'expire', key: c.key, oldValue: old });
        break;
      }
      case ChangeKind.Clear:
        if (persisted) for (const k of this.data.keys()) persisted.push({ key: k });
        this.data.clear();
        this.emit({ type: 'clear' });
        break;
    }
  }

  private onChunk(msg: Extract<StoreMessage, { kind: typeof StoreMsg.SnapshotChunk }>): void {
    const s = this.snapshot;
    if (!s || msg.stream !== s.stream || msg.epoch !== s.epoch) return;
    if (msg.index !== s.next) {
      // A chunk went missing: start over.
      this.snapshot = undefined;
      this.attach();
      return;
    }
    s.next++;
    s.progress = this.cfg.timers.now();
    const persistence = this.cfg.persistence;
    const persisted: PersistChange[] | undefined = persistence ? [] : undefined;
    const watched = this.watched();
    const seen = this.seen;
    for (const [k, v] of msg.entries) {
      const old = this.data.set(k, v, watched);
      seen?.add(this.data.lastId);
      persisted?.push({ key: k, value: v });
      if (old === PRESENT) continue;
      if (old === undefined) {
        if (watched) this.emit({ type: 'insert', key: k, newValue: v });
      } else if (!equals(old, v)) this.emit({ type: 'update', key: k, oldValue: old, newValue: v });
    }
    if (persisted) persistence?.write(persisted, { epoch: '', seq: 0 });
    this.cfg.send(masterTopic(this.cfg.name), {
      kind: StoreMsg.ChunkAck,
      cloneId: this.cfg.cloneId,
      index: msg.index,
      stream: s.stream,
    });
  }

  private onSnapshotEnd(msg: Extract<StoreMessage, { kind: typeof StoreMsg.SnapshotEnd }>): void {
    const s = this.snapshot;
    if (!s || msg.stream !== s.stream || msg.epoch !== s.epoch) return;
    this.snapshot = undefined;
    if (msg.chunks !== s.next) {
      this.attach();
      return;
    }
    // Sweep keys the snapshot did not contain (record numbers stay put while others are removed).
    const seen = this.seen;
    this.seen = undefined;
    if (seen) {
      for (const id of this.data.ids()) {
        if (seen.has(id)) continue;
        const [key, oldValue] = this.data.deleteRecord(id);
        this.emit({ type: 'erase', key, oldValue });
      }
    }
    const epochChanged = this.epoch !== s.epoch;
    this.epoch = s.epoch;
    this.seq = s.seq;
    this.cfg.persistence?.write([], { epoch: this.epoch, seq: this.seq });
    if (epochChanged) {
      // Acks of an older master incarnation can no longer be matched by sequence number.
      for (const w of this.waiting.splice(0)) w.resolve(w.result);
    }
    this.drainBuffered();
    // Writes acknowledged with a sequence number the snapshot already covers are done.
    this.releaseWaiting();
    if (!this.attaching) this.synced();
  }

  private drainBuffered(): void {
    const list = this.buffered.sort((a, b) => a.seq - b.seq);
    this.buffered = [];
    for (const u of list) {
      if (u.epoch !== this.epoch) continue;
      if (u.seq > this.seq + 1) {
        this.buffered.push(u);
        continue;
      }
      this.onUpdate(u);
    }
    if (this.buffered.length > 0) {
      this.buffered = [];
      this.attach();
    }
  }

  /** The master cannot serve this resync (an entry too large to send): report it, and ask again only after a while. */
  private refused(msg: Extract<StoreMessage, { kind: typeof StoreMsg.SyncFailed }>): void {
    if (msg.stream !== this.stream || !(this.attaching || this.snapshot)) return;
    this.attaching = false;
    this.snapshot = undefined;
    this.failedUntil = this.cfg.timers.now() + this.failedWait;
    this.failedWait = Math.min(SYNC_FAILED_RETRY_MAX_MS, this.failedWait * 2);
    const code = (STORE_ERROR_CODES as readonly string[]).includes(msg.code)
      ? (msg.code as StoreErrorCode)
      : 'backend_failure';
    const err = new StoreError(code, `clone of ${this.cfg.name} cannot sync: ${msg.text}`);
    this.cfg.onError(err);
    this.events.emit('syncFailed', err);
  }

  /**
   * A hub refused this clone's store traffic (`forbidden`, `err`): `need` is the permission it
   * lacks. Every write waiting for the master fails with `err` (the hub refuses each of them: the
   * permission is per store). Without `read` the clone cannot sync either: it stops attaching for
   * a while, as after `SyncFailed`, and reports `err` (`whenInSync` rejects with it) instead of
   * asking again and again unanswered; new writes fail with `err` at once during that pause.
   */
  refusedByHub(err: StoreError, need: 'read' | 'write' | 'master'): void {
    if (this.status === 'closed') return;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (need !== 'read') return;
    const quiet = !this.attaching && !this.snapshot && this.cfg.timers.now() < this.failedUntil;
    this.attaching = false;
    this.snapshot = undefined;
    if (this.status === 'in-sync') this.lost();
    if (quiet) return; // already reported; the pause is running
    this.refusal = err;
    this.failedUntil = this.cfg.timers.now() + this.failedWait;
    this.failedWait = Math.min(SYNC_FAILED_RETRY_MAX_MS, this.failedWait * 2);
    this.cfg.onError(err);
    this.events.emit('syncFailed', err);
  }

  /** A hub refused write `reqId` (`limit_exceeded`: too many commands awaiting their ack): it fails with `err`. */
  refusedCommand(reqId: number, err: StoreError): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    p.reject(err);
  }

  private onAck(msg: Extract<StoreMessage, { kind: typeof StoreMsg.Ack }>): void {
    const p = this.pending.get(msg.reqId);
    if (!p) return;
    this.pending.delete(msg.reqId);
    if (msg.errorCode !== undefined) {
      p.reject(new StoreError(msg.errorCode as StoreError['code'], msg.errorText ?? msg.errorCode));
      return;
    }
    // Read your writes: resolve once the local copy shows the change.
    if (msg.seq <= this.seq) p.resolve(msg.result);
    else this.waiting.push({ seq: msg.seq, result: msg.result, resolve: p.resolve });
  }

  private releaseWaiting(): void {
    if (this.waiting.length === 0) return;
    const keep: typeof this.waiting = [];
    for (const w of this.waiting) {
      if (w.seq <= this.seq) w.resolve(w.result);
      else keep.push(w);
    }
    this.waiting.length = 0;
    this.waiting.push(...keep);
  }

  // ---- attach, liveness, buffers

  private attach(): void {
    // Closed, or the master refused the last sync: wait out the pause (see onSyncFailed).
    if (this.status === 'closed' || this.cfg.timers.now() < this.failedUntil) return;
    this.attaching = true;
    this.snapshot = undefined;
    this.seen = undefined;
    this.stream++;
    this.attachSentAt = this.cfg.timers.now();
    this.deltaNext = this.seq + 1;
    this.deltaProgress = -Infinity;
    if (this.status === 'in-sync') this.lost();
    this.cfg.send(masterTopic(this.cfg.name), {
      kind: StoreMsg.Attach,
      cloneId: this.cfg.cloneId,
      ...(this.epoch === undefined ? {} : { epoch: this.epoch }),
      seq: this.seq,
      stream: this.stream,
    });
  }

  private synced(): void {
    this.refusal = undefined;
    this.failedUntil = -Infinity;
    this.failedWait = SYNC_FAILED_RETRY_MS;
    this.setStatus('in-sync');
    // Replay writes made while cut off, in order; the master drops ones it already applied.
    for (const p of [...this.pending.values()].sort((a, b) => a.msg.reqId - b.msg.reqId)) this.sendCommand(p);
  }

  private lost(): void {
    this.lostSince = this.lastHeard;
    this.setStatus('stale');
  }

  private tick(): void {
    this.timer = this.cfg.timers.setTimeout(() => {
      if (this.status === 'closed') return;
      const now = this.cfg.timers.now();
      if (this.status === 'in-sync' && (now - this.lastHeard > this.cfg.masterTimeout || !this.cfg.masterReachable()))
        this.lost();
      // A snapshot that is still arriving is left alone unless it stalled (heartbeats do not
      // count as progress); an attach that got no answer is sent again.
      const streaming =
        (this.snapshot !== undefined && now - this.snapshot.progress < SNAPSHOT_STALL_MS) ||
        (this.attaching && this.deltaProgress >= this.attachSentAt && now - this.deltaProgress < SNAPSHOT_STALL_MS);
      const waiting = this.status !== 'in-sync' || this.attaching;
      if (waiting && !streaming && now - this.attachSentAt >= this.cfg.resyncInterval) this.attach();
      if (this.status !== 'in-sync') this.expireBuffered(now);
      else this.retransmit(now);
      this.tick();
    }, TICK_MS);
  }

  /**
   * The master dropped some of our commands unapplied (they came too far ahead of a missing one):
   * send the unsettled ones again, from `from` on, in order (it applies each request id once).
   */
  private resend(from: number): void {
    if (this.status !== 'in-sync') return; // sent again in order once in sync
    for (const p of [...this.pending.values()].sort((a, b) => a.msg.reqId - b.msg.reqId))
      if (p.sent && p.msg.reqId >= from) this.sendCommand(p);
  }

  /** Commands without an answer are sent again (the master applies each request id once). */
  private retransmit(now: number): void {
    for (const p of this.pending.values()) if (now - p.lastSent >= this.cfg.resyncInterval) this.sendCommand(p);
  }

  private expireBuffered(now: number): void {
    for (const [id, p] of this.pending) {
      if (now - p.created <= this.cfg.mutationBufferInterval) continue;
      this.pending.delete(id);
      const code = this.epoch === undefined ? 'no_such_master' : 'request_timeout';
      const outcome = p.sent ? 'its outcome is unknown' : 'it was not applied';
      p.reject(
        new StoreError(
          code,
          `clone of ${this.cfg.name}: the master was unreachable for longer than mutation_buffer_interval (${this.cfg.mutationBufferInterval} ms); ${outcome}`,
        ),
      );
    }
  }

  private setStatus(s: CloneStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.events.emit('status', s);
  }

  private emit(ev: StoreChangeEvent): void {
    this.events.emit('change', ev);
  }

  /** Whether anyone listens to changes (else no old value is decoded for an event). */
  private watched(): boolean {
    return this.events.has('change');
  }
}
