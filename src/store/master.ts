/**
 * The master of a data store, as a state machine over a backend: it applies mutations in order in
 * batches (one backend transaction per batch — group commit), numbers the resulting changes,
 * broadcasts them, acknowledges clones' commands after the commit, expires keys, and brings
 * clones up to date with a delta from its change log or a snapshot streamed in acknowledged chunks.
 * No I/O of its own: messages go out through `send`, time comes from `timers`.
 */
import { boolean as mkBoolean, none, set as mkSet } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { StoreError } from '../errors.js';
import type { Timers } from '../util/timers.js';
import type { EntryPresence, StoreBackend, StoreEntry } from './backend.js';
import { ExpiryQueue } from './expiry-queue.js';
import { StoreOp, applyMutation, indexFromValue, type Mutation } from './operations.js';
import { ChangeLog } from './change-log.js';
import { ChangeKind, StoreMsg, cloneTopic, updatesTopic, type Change, type StoreMessage } from './store-protocol.js';
import { SnapshotStreams } from './snapshot-stream.js';
import type { StoreChangeEvent } from './store-events.js';
import { Emitter } from '../util/emitter.js';
import { changeSize, checkEntrySize, encodedSize } from './value-size.js';

export interface MasterConfig {
  readonly name: string;
  readonly backend: StoreBackend;
  readonly timers: Timers;
  /** Sends a store message on a topic (through the endpoint); returns its encoded size in bytes. */
  readonly send: (topic: string, msg: StoreMessage) => number;
  /** Changes kept for delta resyncs. */
  readonly changeLogSize: number;
  /** Most entries per snapshot chunk, delta batch or broadcast update. */
  readonly chunkSize: number;
  /** Target bytes (encoded keys and values) per snapshot chunk, delta batch or broadcast update. */
  readonly chunkBytes: number;
  /** Largest entry (encoded key plus value) a write may create: larger ones fail with `value_too_large`. */
  readonly maxEntryBytes: number;
  /** Snapshot chunks in flight per clone before waiting for acknowledgements. */
  readonly chunkWindow: number;
  /** Snapshot bytes in flight per clone before waiting for acknowledgements (one chunk always may be). */
  readonly chunkWindowBytes: number;
  /** Out-of-order commands held per clone, counted from the first missing one (PROTOCOL.md §9). */
  readonly aheadWindow: number;
  /** Bytes (encoded keys and arguments) of out-of-order commands held per clone. */
  readonly aheadWindowBytes: number;
  /** Bytes of out-of-order commands held over all clones (many clone ids cannot add up past it). */
  readonly aheadTotalBytes: number;
  /** A clone's bookkeeping is dropped once it has been unreachable this long (ms). */
  readonly cloneRetention: number;
  /** Whether a clone's topic is routable now (it is connected somewhere); absent = judged by its messages only. */
  readonly cloneReachable?: (cloneId: string) => boolean;
  readonly heartbeatInterval: number;
  readonly expiryTick: number;
  readonly newEpoch: () => string;
  readonly onError: (err: StoreError) => void;
}

/** A clone's command being applied: its progress is committed with the change. */
interface Origin {
  readonly cloneId: string;
  readonly reqId: number;
}

type Job =
  | {
      readonly kind: 'mutation';
      readonly m: Mutation;
      readonly from?: Origin;
      readonly done: (r: Data | StoreError, seq: number) => void;
    }
  | { readonly kind: 'clear'; readonly from?: Origin; readonly done: (r: Data | StoreError, seq: number) => void };

/** Meta key under which a clone's progress (its next request id) is kept with the data. */
const CLONE_PROGRESS_PREFIX = 'clone-next:';
const cloneProgressKey = (cloneId: string): string => `${CLONE_PROGRESS_PREFIX}${cloneId}`;

type Command = Extract<StoreMessage, { kind: typeof StoreMsg.Command }>;

interface CloneRecord {
  /** The request id this clone's next command must have; earlier ones are done. */
  next: number;
  /** Commands that arrived ahead of a missing one (with their size), applied once the gap fills. */
  readonly ahead: Map<number, { readonly msg: Command; readonly bytes: number }>;
  aheadBytes: number;
  /** Commands queued or being committed: their answer is on its way. */
  readonly applying: Set<number>;
  readonly acks: Map<number, StoreMessage>;
  /** `next` when the clone was last told to resend (no second Resend until `next` moves). */
  resendAsked: number;
  /** Since when the clone has been unreachable (undefined: reachable or heard from since the last check). */
  goneSince: number | undefined;
}

const ACKS_KEPT = 1024;
/** Per-command overhead counted against `aheadWindowBytes` besides its key and arguments. */
const COMMAND_OVERHEAD_BYTES = 64;

/** The master's counters, for tests, benchmarks and operators (`StoreMaster.stats`). */
export interface MasterStats {
  /** Clones with bookkeeping (a row each; SQLite keeps their progress as `clone-next:` meta). */
  readonly clones: number;
  /** Out-of-order commands held, over all clones, and their bytes (keys and arguments). */
  readonly heldCommands: number;
  readonly heldBytes: number;
  /** Commands not held because they fell outside their clone's window (the clone was told to resend). */
  readonly refusedCommands: number;
  /** `Resend` messages sent. */
  readonly resendsSent: number;
  /** Clones whose bookkeeping was dropped after `cloneRetention`. */
  readonly clonesPruned: number;
  /** Resync bytes (deltas and snapshots) sent and not acknowledged yet, over all clones. */
  readonly resyncInFlightBytes: number;
  /** The most resync bytes ever in flight to one clone. */
  readonly resyncInFlightBytesPeak: number;
}

export class MasterCore {
  readonly epoch: string;
  seq: number;
  private readonly log: ChangeLog;
  private readonly expiry = new ExpiryQueue();
  private readonly streams: SnapshotStreams;
  private readonly clones = new Map<string, CloneRecord>();
  /** The change feed; a listener that throws is reported through `onError`, never to the writer. */
  private readonly events: Emitter<{ change: StoreChangeEvent }>;
  private queue: Job[] = [];
  private scheduled = false;
  private closed = false;
  /** Stepped down (its lease was lost): serves nobody and accepts no write until resumed. */
  private standby = false;
  private heartbeatTimer: unknown;
  private expiryTimer: unknown;
  private pruneTimer: unknown;
  private storedLoaded = false;
  private held = { commands: 0, bytes: 0 };
  private counters = { refusedCommands: 0, resendsSent: 0, clonesPruned: 0 };
  /** Bytes of store messages sent to clones for resyncs, by kind (for benchmarks and tests). */
  readonly resyncBytes = { delta: 0, snapshot: 0 };

  constructor(private readonly cfg: MasterConfig) {
    this.events = new Emitter((event, err) =>
      cfg.onError(
        new StoreError(
          'listener_failed',
          `store ${cfg.name}: a '${event}' listener threw: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        ),
      ),
    );
    const b = cfg.backend;
    const epoch = b.getMeta('epoch');
    this.epoch = epoch ?? cfg.newEpoch();
    this.seq = Number(b.getMeta('seq') ?? '0');
    if (epoch === undefined) b.transaction(() => b.setMeta('epoch', this.epoch));
    this.log = new ChangeLog(cfg.changeLogSize, this.seq);
    for (const e of b.expiring()) if (e.expiry !== undefined) this.expiry.add(e.key, e.expiry);
    this.streams = new SnapshotStreams({
      name: cfg.name,
      backend: b,
      log: this.log,
      chunkSize: cfg.chunkSize,
      chunkBytes: cfg.chunkBytes,
      maxEntryBytes: cfg.maxEntryBytes,
      window: cfg.chunkWindow,
      windowBytes: cfg.chunkWindowBytes,
      timers: cfg.timers,
      send: (cloneId, msg, kind) => {
        this.resyncBytes[kind] += cfg.send(cloneTopic(cfg.name, cloneId), msg);
      },
      epoch: this.epoch,
      seq: () => this.seq,
      onError: (e) => cfg.onError(e),
    });
    this.armHeartbeat();
    this.armExpiry();
    this.armPrune();
  }

  get stats(): MasterStats {
    return {
      clones: this.clones.size,
      heldCommands: this.held.commands,
      heldBytes: this.held.bytes,
      ...this.counters,
      resyncInFlightBytes: this.streams.inFlightBytes,
      resyncInFlightBytesPeak: this.streams.peakInFlightBytes,
    };
  }

  // ---- local API

  /** Applies a mutation; resolves with its result once committed. */
  mutate(m: Mutation): Promise<Data> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'mutation', m, done: (r) => (r instanceof StoreError ? reject(r) : resolve(r)) });
    });
  }

  clear(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'clear', done: (r) => (r instanceof StoreError ? reject(r) : resolve()) });
    });
  }

  get(key: Data): Data {
    const e = this.cfg.backend.get(key);
    if (!e) throw new StoreError('no_such_key', `no such key in store ${this.cfg.name}`);
    return e.value;
  }

  exists(key: Data): boolean {
    return this.cfg.backend.get(key) !== undefined;
  }

  keys(): Data {
    return mkSet(this.cfg.backend.keys());
  }

  getIndexFromValue(key: Data, index: Data): Data {
    return indexFromValue(key, this.get(key), index);
  }

  size(): number {
    return this.cfg.backend.size();
  }

  /** Every entry, paged from the backend (no copy of the whole store). */
  *entries(pageSize = 1000): IterableIterator<[Data, Data]> {
    let cursor: unknown;
    do {
      const page = this.cfg.backend.scan(cursor, pageSize);
      for (const e of page.entries) yield [e.key, e.value];
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  onChange(fn: (ev: StoreChangeEvent) => void): () => void {
    return this.events.on('change', fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.clear();
    this.streams.cancelAll();
    if (this.heartbeatTimer !== undefined) this.cfg.timers.clearTimeout(this.heartbeatTimer);
    if (this.expiryTimer !== undefined) this.cfg.timers.clearTimeout(this.expiryTimer);
    if (this.pruneTimer !== undefined) this.cfg.timers.clearTimeout(this.pruneTimer);
    for (const j of this.queue) j.done(new StoreError('request_timeout', `store ${this.cfg.name} closed`), this.seq);
    this.queue = [];
    this.cfg.backend.close();
  }

  /** Whether the master is stepped down (see `setStandby`). */
  get isStandby(): boolean {
    return this.standby;
  }

  /**
   * Steps down (`true`: the master lost its lease) or resumes (`false`: it holds it again).
   * Stepped down, it sends nothing (no heartbeat, update, ack or resync: resyncs in progress are
   * cancelled), ignores clones' messages (they retry with whichever master holds the lease),
   * refuses local writes with `stale_data` and expires nothing. Resuming sends a heartbeat at
   * once, so clones that went stale attach again (by delta: the store's epoch did not change).
   */
  setStandby(on: boolean): void {
    if (this.closed || on === this.standby) return;
    this.standby = on;
    if (on) {
      this.streams.cancelAll();
      return;
    }
    this.cfg.send(updatesTopic(this.cfg.name), { kind: StoreMsg.Heartbeat, epoch: this.epoch, seq: this.seq });
  }

  private standbyError(): StoreError {
    return new StoreError(
      'stale_data',
      `store ${this.cfg.name}: this master lost its lease and accepts no writes until it holds it again`,
    );
  }

  // ---- network

  onMessage(msg: StoreMessage): void {
    if (this.closed || this.standby) return;
    switch (msg.kind) {
      case StoreMsg.Command:
        this.onCommand(msg);
        break;
      case StoreMsg.Attach:
        this.heard(msg.cloneId);
        this.onAttach(msg.cloneId, msg.epoch, msg.seq, msg.stream);
        break;
      case StoreMsg.ChunkAck:
        this.heard(msg.cloneId);
        this.streams.ack(msg.cloneId, msg.stream, msg.index);
        break;
      case StoreMsg.DeltaAck:
        this.heard(msg.cloneId);
        this.streams.ackDelta(msg.cloneId, msg.stream, msg.seq);
        break;
      default:
        break; // clones' messages on the master topic only
    }
  }

  /**
   * A clone's commands are applied once each and in the clone's order: one that arrives ahead of
   * a missing one waits for it; the clone's `lowest` (its oldest unsettled request) says which
   * earlier ids it gave up on, so a gap never blocks for good.
   *
   * Waiting commands are held only within a window per clone (`aheadWindow` ids from the first
   * missing one, `aheadWindowBytes` in all): one beyond it is dropped unapplied and the clone is
   * told (`Resend`) to send its unsettled commands again from the missing one on. Nothing dropped
   * was applied, and a resent command the master did apply is answered from the cache, so a write
   * is still applied once; a clone that misses the Resend retransmits on its own timer anyway.
   */
  private onCommand(msg: Command): void {
    let rec = this.clones.get(msg.cloneId);
    if (!rec) {
      // A durable backend remembers how far this clone got before a restart of the master.
      const stored = Number(this.cfg.backend.getMeta(cloneProgressKey(msg.cloneId)) ?? '0');
      rec = this.newRecord(Math.max(msg.lowest, stored));
      this.clones.set(msg.cloneId, rec);
    }
    rec.goneSince = undefined;
    if (msg.lowest > rec.next) {
      rec.next = msg.lowest;
      for (const id of [...rec.ahead.keys()]) if (id < rec.next) this.unhold(rec, id);
    }
    if (msg.reqId < rec.next) {
      if (rec.applying.has(msg.reqId)) return; // the real answer follows the commit
      // A retransmission: never apply twice. Answer again from the cache; after a restart the
      // answer is gone (only the progress was kept), so the write is confirmed without a result.
      void this.cfg.send(cloneTopic(this.cfg.name, msg.cloneId), rec.acks.get(msg.reqId) ?? this.lostAnswer(msg));
      return;
    }
    if (msg.reqId > rec.next && !rec.ahead.has(msg.reqId)) {
      const bytes = commandBytes(msg);
      if (
        msg.reqId - rec.next >= this.cfg.aheadWindow ||
        rec.aheadBytes + bytes > this.cfg.aheadWindowBytes ||
        this.held.bytes + bytes > this.cfg.aheadTotalBytes
      ) {
        this.refuse(msg.cloneId, rec);
        return;
      }
      rec.ahead.set(msg.reqId, { msg, bytes });
      rec.aheadBytes += bytes;
      this.held.commands++;
      this.held.bytes += bytes;
      return;
    }
    if (msg.reqId === rec.next && !rec.ahead.has(msg.reqId)) {
      rec.next++;
      this.apply(rec, msg);
    }
    for (let h = rec.ahead.get(rec.next); h !== undefined; h = rec.ahead.get(rec.next)) {
      this.unhold(rec, rec.next);
      rec.next++;
      this.apply(rec, h.msg);
    }
  }

  private newRecord(next: number): CloneRecord {
    return {
      next,
      ahead: new Map(),
      aheadBytes: 0,
      applying: new Set(),
      acks: new Map(),
      resendAsked: -1,
      goneSince: undefined,
    };
  }

  private unhold(rec: CloneRecord, id: number): void {
    const h = rec.ahead.get(id);
    if (!h) return;
    rec.ahead.delete(id);
    rec.aheadBytes -= h.bytes;
    this.held.commands--;
    this.held.bytes -= h.bytes;
  }

  /** A command outside the window: not held, not applied; the clone is told once per gap. */
  private refuse(cloneId: string, rec: CloneRecord): void {
    this.counters.refusedCommands++;
    if (rec.resendAsked === rec.next) return;
    rec.resendAsked = rec.next;
    this.counters.resendsSent++;
    void this.cfg.send(cloneTopic(this.cfg.name, cloneId), {
      kind: StoreMsg.Resend,
      from: rec.next,
      held: rec.ahead.size,
    });
  }

  /** A message from a clone: it is present. */
  private heard(cloneId: string): void {
    const rec = this.clones.get(cloneId);
    if (rec) rec.goneSince = undefined;
  }

  /**
   * The answer to a command applied before this master restarted (only the clone's progress was
   * kept, not the outcomes): put, erase and clear cannot fail, so they succeed; for every other
   * operation the outcome (put_unique's answer, or a type_clash) is unknown, and the write fails
   * with an error that says so rather than guessing.
   */
  private lostAnswer(msg: Command): StoreMessage {
    if (msg.op === StoreOp.Put || msg.op === StoreOp.Erase || msg.op === StoreOp.Clear) {
      return { kind: StoreMsg.Ack, reqId: msg.reqId, seq: this.seq, result: mkBoolean(true) };
    }
    return {
      kind: StoreMsg.Ack,
      reqId: msg.reqId,
      seq: this.seq,
      result: none(),
      errorCode: 'request_timeout',
      errorText: `store ${this.cfg.name}: this write reached the master before it restarted; its outcome was not kept`,
    };
  }

  private apply(rec: CloneRecord, msg: Command): void {
    rec.applying.add(msg.reqId);
    const done = (r: Data | StoreError, seq: number): void => {
      rec.applying.delete(msg.reqId);
      const ack: StoreMessage =
        r instanceof StoreError
          ? { kind: StoreMsg.Ack, reqId: msg.reqId, seq, result: none(), errorCode: r.code, errorText: r.message }
          : { kind: StoreMsg.Ack, reqId: msg.reqId, seq, result: r };
      rec.acks.set(msg.reqId, ack);
      if (rec.acks.size > ACKS_KEPT) rec.acks.delete(rec.acks.keys().next().value!);
      void this.cfg.send(cloneTopic(this.cfg.name, msg.cloneId), ack);
    };
    const from: Origin = { cloneId: msg.cloneId, reqId: msg.reqId };
    if (msg.op === StoreOp.Clear) this.enqueue({ kind: 'clear', from, done });
    else {
      this.enqueue({
        kind: 'mutation',
        m: { op: msg.op, key: msg.key, args: msg.args, ...(msg.expiry === undefined ? {} : { expiry: msg.expiry }) },
        from,
        done,
      });
    }
  }

  /** A delta from the change log when it reaches back to the clone's seq, else a snapshot; both streamed (see SnapshotStreams). */
  private onAttach(cloneId: string, epoch: string | undefined, seq: number, stream: number): void {
    if (epoch === this.epoch && seq <= this.seq && this.log.covers(seq)) this.streams.startDelta(cloneId, stream, seq);
    else this.streams.start(cloneId, stream);
  }

  // ---- batches

  private enqueue(job: Job): void {
    if (this.closed) {
      job.done(new StoreError('request_timeout', `store ${this.cfg.name} is closed`), this.seq);
      return;
    }
    if (this.standby) {
      job.done(this.standbyError(), this.seq);
      return;
    }
    this.queue.push(job);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.runBatch();
    });
  }

  private runBatch(): void {
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    if (this.standby) {
      // Stepped down between the write and its batch: nothing applied.
      for (const j of jobs) j.done(this.standbyError(), this.seq);
      return;
    }
    const b = this.cfg.backend;
    const now = this.cfg.timers.now();
    const changes: Change[] = [];
    /** The encoded size of each change, measured when it was made (for the broadcast's bounds). */
    const sizes: number[] = [];
    const events: StoreChangeEvent[] = [];
    const outcomes: { r: Data | StoreError; seq: number }[] = [];
    const firstSeq = this.seq + 1;
    try {
      b.transaction(() => {
        for (const job of jobs) {
          if (job.kind === 'clear') {
            b.clear();
            this.expiry.clear();
            changes.push({ kind: ChangeKind.Clear });
            sizes.push(1);
            events.push({ type: 'clear' });
            outcomes.push({ r: mkBoolean(true), seq: firstSeq + changes.length - 1 });
            continue;
          }
          try {
            outcomes.push(this.applyOne(job.m, now, changes, sizes, events, firstSeq));
          } catch (err) {
            if (!(err instanceof StoreError)) throw err;
            outcomes.push({ r: err, seq: firstSeq + changes.length - 1 });
          }
        }
        if (changes.length > 0) b.setMeta('seq', String(this.seq + changes.length));
        const progress = new Map<string, number>();
        for (const j of jobs) if (j.from) progress.set(j.from.cloneId, j.from.reqId + 1);
        for (const [cloneId, next] of progress) b.setMeta(cloneProgressKey(cloneId), String(next));
      });
    } catch (err) {
      const e = new StoreError(
        'backend_failure',
        `store ${this.cfg.name}: the backend failed to commit a batch: ${String(err)}`,
        { cause: err },
      );
      this.cfg.onError(e);
      for (const j of jobs) j.done(e, this.seq);
      return;
    }
    this.commit(changes, events, sizes);
    jobs.forEach((j, i) => {
      j.done(outcomes[i]!.r, Math.max(outcomes[i]!.seq, 0));
    });
  }

  private applyOne(
    m: Mutation,
    now: number,
    changes: Change[],
    sizes: number[],
    events: StoreChangeEvent[],
    firstSeq: number,
  ): { r: Data; seq: number } {
    const b = this.cfg.backend;
    const watched = this.events.has('change');
    // A put needs the old value only for a listener's event. Without one it needs the old
    // interval only when it passes no expiry and some key has one (every key with an expiry is in
    // the expiry queue), and a backend with `putValue` keeps that itself: then nothing is read.
    const light = m.op === StoreOp.Put && !watched;
    const rearms = m.expiry === undefined && this.expiry.size > 0;
    const oneStep = light && rearms && b.putValue !== undefined;
    let cur: StoreEntry | undefined;
    let present: EntryPresence | undefined;
    if (!light) present = cur = b.get(m.key);
    else if (rearms && !oneStep) present = b.peek !== undefined ? b.peek(m.key) : b.get(m.key);
    const r = applyMutation(m, cur?.value);
    if (!r.changed) return { r: r.result, seq: firstSeq + changes.length - 1 };
    if (r.value === undefined) {
      b.erase(m.key);
      this.expiry.remove(m.key);
      const change: Change = { kind: ChangeKind.Erase, key: m.key };
      changes.push(change);
      sizes.push(changeSize(change));
      if (watched) events.push({ type: 'erase', key: m.key, ...(cur ? { oldValue: cur.value } : {}) });
    } else {
      // Expiry is relative to the last modification: no expiry given keeps the interval and
      // re-arms it, as Broker's documentation says; an explicit 0 clears it (ARCHITECTURE.md,
      // Data stores).
      // Refused here, before it is stored, if it could never reach a clone.
      const size = checkEntrySize(this.cfg.name, m.key, r.value, this.cfg.maxEntryBytes);
      let interval: number | undefined;
      if (oneStep) interval = b.putValue!(m.key, r.value, now);
      else {
        interval = m.expiry === undefined ? present?.interval : m.expiry === 0 ? undefined : m.expiry;
        b.put(
          interval === undefined
            ? { key: m.key, value: r.value }
            : { key: m.key, value: r.value, interval, expiry: now + interval },
        );
      }
      if (interval !== undefined) this.expiry.add(m.key, now + interval);
      else this.expiry.remove(m.key);
      changes.push({ kind: ChangeKind.Put, key: m.key, value: r.value });
      sizes.push(size);
      if (watched)
        events.push(
          cur
            ? { type: 'update', key: m.key, oldValue: cur.value, newValue: r.value }
            : { type: 'insert', key: m.key, newValue: r.value },
        );
    }
    return { r: r.result, seq: firstSeq + changes.length - 1 };
  }

  /** After a successful commit: number, log, broadcast and report the changes. */
  private commit(changes: Change[], events: StoreChangeEvent[], sizes?: readonly number[]): void {
    if (changes.length === 0) return;
    const first = this.seq + 1;
    this.seq += changes.length;
    this.log.append(first, changes);
    // Broadcast in updates bounded in bytes and entries, like resyncs.
    const topic = updatesTopic(this.cfg.name);
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < changes.length; i++) {
      const size = sizes?.[i] ?? changeSize(changes[i]!);
      if (i > start && (i - start >= this.cfg.chunkSize || bytes + size > this.cfg.chunkBytes)) {
        this.cfg.send(topic, {
          kind: StoreMsg.Update,
          epoch: this.epoch,
          seq: first + start,
          changes: changes.slice(start, i),
        });
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    this.cfg.send(topic, {
      kind: StoreMsg.Update,
      epoch: this.epoch,
      seq: first + start,
      changes: start === 0 ? changes : changes.slice(start),
    });
    for (const ev of events) this.events.emit('change', ev);
  }

  // ---- timers

  private armHeartbeat(): void {
    this.heartbeatTimer = this.cfg.timers.setTimeout(() => {
      if (this.closed) return;
      if (!this.standby)
        this.cfg.send(updatesTopic(this.cfg.name), { kind: StoreMsg.Heartbeat, epoch: this.epoch, seq: this.seq });
      this.armHeartbeat();
    }, this.cfg.heartbeatInterval);
  }

  /**
   * Bookkeeping of clones gone longer than `cloneRetention` is dropped (memory and the
   * `clone-next:` meta rows). A clone counts as gone while its topic is unreachable (or, without a
   * reachability test, while nothing is heard from it); it is checked every quarter retention (at
   * most every minute). A clone that comes back is treated as the master treats clones after a
   * memory master's restart: its next command's `lowest` is where it starts. That is exact as long
   * as the clone gave up its unsettled writes meanwhile, which it does after its
   * `mutationBufferInterval` (2 min by default) away, far below the retention (1 h by default).
   */
  private armPrune(): void {
    const every = Math.max(1, Math.min(this.cfg.cloneRetention / 4, 60_000));
    this.pruneTimer = this.cfg.timers.setTimeout(() => {
      if (this.closed) return;
      this.pruneGone();
      this.armPrune();
    }, every);
  }

  /** Drops the bookkeeping of clones gone longer than the retention (also of ones only the backend remembers). */
  pruneGone(): void {
    const now = this.cfg.timers.now();
    const b = this.cfg.backend;
    // Clones known only from a previous run (their progress rows): tracked from now on.
    if (!this.storedLoaded) {
      this.storedLoaded = true;
      for (const key of b.metaNames?.(CLONE_PROGRESS_PREFIX) ?? []) {
        const id = key.slice(CLONE_PROGRESS_PREFIX.length);
        if (!this.clones.has(id)) this.clones.set(id, this.newRecord(Number(b.getMeta(key) ?? '0')));
      }
    }
    const drop: string[] = [];
    for (const [id, rec] of this.clones) {
      if (rec.applying.size > 0) continue;
      const reachable = this.cfg.cloneReachable?.(id) ?? false;
      if (reachable) {
        rec.goneSince = undefined;
        continue;
      }
      rec.goneSince ??= now;
      if (now - rec.goneSince >= this.cfg.cloneRetention) drop.push(id);
    }
    if (drop.length === 0) return;
    try {
      if (b.deleteMeta)
        b.transaction(() => {
          for (const id of drop) b.deleteMeta!(cloneProgressKey(id));
        });
    } catch (err) {
      this.cfg.onError(
        new StoreError('backend_failure', `store ${this.cfg.name}: pruning clones failed: ${String(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    for (const id of drop) {
      const rec = this.clones.get(id)!;
      for (const h of [...rec.ahead.keys()]) this.unhold(rec, h);
      this.clones.delete(id);
      this.streams.cancel(id);
      this.counters.clonesPruned++;
    }
  }

  private armExpiry(): void {
    this.expiryTimer = this.cfg.timers.setTimeout(() => {
      if (this.closed) return;
      if (!this.standby) this.expireDue();
      this.armExpiry();
    }, this.cfg.expiryTick);
  }

  /** Expires every key whose deadline lies strictly before now. */
  expireDue(): void {
    const now = this.cfg.timers.now();
    const due = this.expiry.due(now);
    if (due.length === 0) return;
    const b = this.cfg.backend;
    const changes: Change[] = [];
    const events: StoreChangeEvent[] = [];
    try {
      b.transaction(() => {
        for (const key of due) {
          const e = b.get(key);
          if (!e || e.expiry === undefined || !(now > e.expiry)) continue;
          b.erase(key);
          changes.push({ kind: ChangeKind.Expire, key });
          events.push({ type: 'expire', key, oldValue: e.value });
        }
        if (changes.length > 0) b.setMeta('seq', String(this.seq + changes.length));
      });
    } catch (err) {
      this.cfg.onError(
        new StoreError('backend_failure', `store ${this.cfg.name}: expiry failed: ${String(err)}`, { cause: err }),
      );
      return;
    }
    this.commit(changes, events);
  }
}

/** What a held command costs: its key and arguments, encoded, plus a fixed overhead. */
function commandBytes(msg: Command): number {
  let n = COMMAND_OVERHEAD_BYTES + encodedSize(msg.key);
  for (const a of msg.args) n += encodedSize(a);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}
