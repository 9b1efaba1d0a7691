/**
 * The NATS backbone: `Backbone` over any `NatsConnectionLike` (nats.js's connection, or the
 * in-memory NATS of the tests). Topics travel as subjects (`subjects.ts`), the data messages of
 * one topic and turn as one native frame (`batch.ts`).
 *
 * - Outbound: while the connection is down, frames wait in a bounded queue (count and bytes,
 *   Broker's drop policies) instead of in nats.js's unbounded reconnect buffer, and drain in
 *   order on reconnect. Control messages are not queued: while disconnected they are dropped
 *   (presence repeats every heartbeat, and says hello again on reconnect).
 * - Interest changes: new subscriptions first; the ones no longer wanted stay ("linger") until
 *   the server confirmed the new ones (a flush) and `extensionLinger` ms passed, so that neither
 *   a message in flight nor a publisher that has not yet seen our new partial prefixes loses
 *   anything. Meanwhile a message on a lingering subscription is delivered only when its topic
 *   is wanted now, and until one more linger passed, batches are deduplicated by the identity
 *   (origin, sequence number) of their first message (at most 16,384 remembered, ~1 MiB): a
 *   batch that reached two of our subscriptions (old and new, or an extension subject and the
 *   topic's own) is delivered once. In a steady state the subscriptions of a normalised filter
 *   never overlap, and nothing is peeked at (superset mode aside).
 * - State: `start` tells the sink `connected` before it returns; a reconnect first drains the
 *   queue, then tells `reconnected` and `connected`; the connection closing tells `closed` (what
 *   was queued is counted as dropped), and so does `close`.
 * - Superset mode: the receiver filters by the topic of the frame's first message (all messages
 *   of a batch share it) and counts what it drops as `wasted`.
 * - The connection must be opened with `noEcho` (the Node adapter does): the backbone cannot
 *   switch echo off, and relies on not receiving its own messages.
 * - Nothing is thrown into the NATS client's callbacks and nothing waits in them; errors of the
 *   client (publish, subscribe, flush, subscription errors) and of the sink go to `onError`.
 */
import { ConfigError, IsobrokerError } from '../errors.js';
import { MsgpackReader } from '../codec/msgpack/reader.js';
import { encodeFrame } from '../codec/native/frame.js';
import { ENDPOINT_ID_BYTES, MessageKind } from '../codec/native/kinds.js';
import { DEFAULT_NATIVE_LIMITS } from '../codec/native/limits.js';
import {
  boolOption,
  checkOptionsObject,
  fnOption,
  intOption,
  objectOption,
  oneOfOption,
  stringOption,
} from '../util/options.js';
import { SendQueue } from '../util/send-queue.js';
import { systemTimers, type Timers } from '../util/timers.js';
import { FRAME_HEADER_BYTES, MAX_BATCH_MESSAGES, TopicBatcher, type TopicBatch } from './batch.js';
import {
  controlSubject,
  DEFAULT_NAMESPACE,
  filterWants,
  MAX_NAMESPACE_TOKEN_LENGTH,
  PartialPrefixIndex,
  planSubscriptions,
  type SubjectOptions,
  subjectOptions,
  type TopicSeparator,
  topicSubject,
} from './subjects.js';
import type {
  Backbone,
  BackboneSink,
  BackboneState,
  BackboneStats,
  NatsConnectionLike,
  NatsMsgLike,
  NatsStatusLike,
  NatsSubscriptionLike,
} from './types.js';

/** Options of `NatsBackbone`. */
export interface NatsBackboneOptions {
  /** The cluster namespace in every subject (`ib.<namespace>.…`); default `isobroker`. */
  readonly namespace?: string;
  /** What splits a topic into subject tokens: `/` (default) or `.` (Zeek 8's dotted topics). */
  readonly separator?: TopicSeparator;
  /**
   * Subscribe a partial prefix's token superset and filter at the receiver (counted `wasted`)
   * instead of exact subjects plus an announced extension subject; default false.
   */
  readonly superset?: boolean;
  /** Most frames held while disconnected; default 8192 (Broker's send buffer). */
  readonly queueSize?: number;
  /** Most bytes held while disconnected; default 64 MiB. */
  readonly queueBytes?: number;
  /** What a full queue drops: the oldest frame (default) or the new one. */
  readonly overflowPolicy?: 'drop_oldest' | 'drop_newest';
  /** Most bytes of one NATS message (a batch); default 64 KiB, and never above the server's `max_payload`. */
  readonly maxBatchBytes?: number;
  /** Most data messages in one batch; default 256. */
  readonly maxBatchMessages?: number;
  /** Clock and timers (for the RTT probe and the linger of old subscriptions); default the system's. */
  readonly timers?: Timers;
  /** How often the round trip to the server is measured, ms; 0 never; default 5000. */
  readonly rttInterval?: number;
  /**
   * How long a subscription no longer wanted stays after the server confirmed its replacement,
   * ms, so that publishers learn our new partial prefixes (presence) first; default 2000.
   */
  readonly extensionLinger?: number;
  /** Told about errors of the NATS client and of the sink (never thrown); default: ignored. */
  readonly onError?: (error: unknown) => void;
}

/** Default bytes held while disconnected. */
export const DEFAULT_BACKBONE_QUEUE_BYTES = 64 * 1024 * 1024;
/** Default bytes of one batch. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;
/** Default data messages of one batch. */
export const DEFAULT_MAX_BATCH_MESSAGES = 256;
/** Default interval of the RTT probe, ms. */
export const DEFAULT_RTT_INTERVAL = 5000;
/** Default linger of a subscription no longer wanted, ms (the presence timeout). */
export const DEFAULT_EXTENSION_LINGER = 2000;
/** nats-server's default `max_payload`, used when the connection does not tell. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Most batch identities remembered during an interest change. */
const SEEN_LIMIT = 16384;
/** Most topics whose subjects are remembered. */
const SUBJECT_CACHE_SIZE = 4096;

interface Resolved {
  readonly subjects: SubjectOptions;
  readonly queueSize: number;
  readonly queueBytes: number;
  readonly overflowPolicy: 'drop_oldest' | 'drop_newest';
  readonly maxBatchBytes: number;
  readonly maxBatchMessages: number;
  readonly timers: Timers;
  readonly rttInterval: number;
  readonly extensionLinger: number;
  readonly onError: (error: unknown) => void;
}

function resolveOptions(o: NatsBackboneOptions | undefined): Resolved {
  checkOptionsObject('options', o);
  const opts = o ?? {};
  return {
    subjects: subjectOptions({
      namespace: stringOption('namespace', opts.namespace, DEFAULT_NAMESPACE, MAX_NAMESPACE_TOKEN_LENGTH),
      separator: oneOfOption<TopicSeparator>('separator', opts.separator, '/', ['/', '.']),
      superset: boolOption('superset', opts.superset, false),
    }),
    queueSize: intOption('queueSize', opts.queueSize, 8192, 1, 1 << 24),
    queueBytes: intOption('queueBytes', opts.queueBytes, DEFAULT_BACKBONE_QUEUE_BYTES, 1),
    overflowPolicy: oneOfOption('overflowPolicy', opts.overflowPolicy, 'drop_oldest', ['drop_oldest', 'drop_newest']),
    maxBatchBytes: intOption('maxBatchBytes', opts.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES, 64, 64 * 1024 * 1024),
    maxBatchMessages: intOption(
      'maxBatchMessages',
      opts.maxBatchMessages,
      DEFAULT_MAX_BATCH_MESSAGES,
      1,
      MAX_BATCH_MESSAGES,
    ),
    timers: objectOption('timers', opts.timers, systemTimers, ['now', 'setTimeout', 'clearTimeout']),
    rttInterval: intOption('rttInterval', opts.rttInterval, DEFAULT_RTT_INTERVAL, 0, 2 ** 31 - 1),
    extensionLinger: intOption('extensionLinger', opts.extensionLinger, DEFAULT_EXTENSION_LINGER, 0, 2 ** 31 - 1),
    onError: fnOption('onError', opts.onError) ?? (() => {}),
  };
}

/** One NATS subscription of ours. */
interface Sub {
  readonly pattern: string;
  readonly handle: NatsSubscriptionLike | undefined;
  /** False once unsubscribed: a message still arriving on it is ignored. */
  active: boolean;
  /** Set while no longer wanted but kept: the interest change that dropped it. */
  lingerSince: number | undefined;
}

/** A frame waiting for the connection. */
interface Queued {
  readonly topic: string;
  readonly frame: Uint8Array;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * A backbone over one NATS connection (see the module comment). The connection stays the
 * caller's: `close()` unsubscribes and drains but does not close it.
 */
export class NatsBackbone implements Backbone {
  readonly #nc: NatsConnectionLike;
  readonly #o: Resolved;
  readonly #controlSubject: string;
  readonly #batcher: TopicBatcher;
  readonly #queue: SendQueue<Queued>;
  readonly #index = new PartialPrefixIndex();
  readonly #subjectCache = new Map<string, string | undefined>();
  readonly #subs = new Map<string, Sub>();
  readonly #reader = new MsgpackReader(DEFAULT_NATIVE_LIMITS);
  #control: Sub | undefined;
  #sink: BackboneSink | undefined;
  #state: BackboneState;
  #closed = false;
  #filter: readonly string[] = EMPTY;
  #partials: readonly string[] = EMPTY;
  #interestSet = false;
  #interestGeneration = 0;
  #rttTimer: unknown;
  readonly #lingerTimers = new Set<unknown>();
  /** Interest changes not yet over (see `#afterFlush`); while any is, batches are deduplicated. */
  #transitions = 0;
  /** Identities of the batches delivered during the open transitions (bounded, oldest out first). */
  readonly #seen = new Set<string>();
  #peekedTopic = '';
  #peekedKey = '';
  #statusIterator: AsyncIterator<NatsStatusLike> | undefined;
  /** Set while `close` hands the queue to the client although disconnected. */
  #forceSend = false;

  #published = 0;
  #batchesOut = 0;
  #bytesOut = 0;
  #batchesIn = 0;
  #bytesIn = 0;
  #lost = 0;
  #tooLong = 0;
  #reconnects = 0;
  #rtt: number | undefined;
  #wasted = 0;

  /**
   * @param nc an open NATS connection, opened with `noEcho`
   * @param options see `NatsBackboneOptions`; invalid values throw `ConfigError`
   */
  constructor(nc: NatsConnectionLike, options?: NatsBackboneOptions) {
    if (nc === undefined || nc === null) throw new ConfigError('nc', 'expected a NATS connection');
    this.#nc = objectOption('nc', nc, nc, ['subscribe', 'publish', 'flush', 'status', 'closed', 'isClosed', 'rtt']);
    this.#o = resolveOptions(options);
    this.#controlSubject = controlSubject(this.#o.subjects);
    this.#batcher = new TopicBatcher(
      (b) => this.#emit(b),
      this.#o.maxBatchMessages,
      () => this.#maxBatchBytes(),
    );
    this.#queue = new SendQueue<Queued>(
      this.#o.queueSize,
      this.#o.overflowPolicy,
      this.#o.timers.now,
      this.#o.queueBytes,
      (q) => q.frame.length,
    );
    this.#state = nc.isClosed() ? 'closed' : 'connecting';
  }

  /**
   * Subscribes the control subject and the interest given so far, watches the connection's
   * status, and tells the sink the state (`connected`) before it returns.
   */
  start(sink: BackboneSink): void {
    if (this.#sink !== undefined) throw new IsobrokerError('invalid_state', 'the backbone was already started');
    if (this.#closed) throw new IsobrokerError('invalid_state', 'the backbone is closed');
    this.#sink = sink;
    if (this.#nc.isClosed()) {
      this.#setState('closed');
      return;
    }
    this.#control = this.#subscribe(this.#controlSubject, (_sub, msg) => this.#onControl(msg));
    if (this.#interestSet) this.#applyInterest();
    this.#setState('connected');
    void this.#watchStatus();
    this.#nc.closed().then(
      () => this.#onConnectionClosed(),
      () => this.#onConnectionClosed(),
    );
    if (this.#o.rttInterval > 0) this.#measureRtt();
  }

  /**
   * Replaces the interest with `prefixes` (a normalised filter). Before `start` it is only
   * remembered. Never throws for a NATS error (they go to `onError`).
   */
  setInterest(prefixes: readonly string[]): void {
    if (this.#closed) return;
    const filter = Object.freeze([...prefixes]);
    this.#filter = filter;
    this.#interestSet = true;
    if (this.#sink !== undefined && this.#state !== 'closed') this.#applyInterest();
    else this.#partials = Object.freeze([...planSubscriptions(filter, this.#o.subjects).partials]);
  }

  /** Our partial prefixes (see `Backbone.partials`). */
  partials(): readonly string[] {
    return this.#partials;
  }

  /** Another endpoint's partial prefixes (see `Backbone.remotePartials`). */
  remotePartials(endpointId: string, partials: readonly string[]): void {
    if (partials.length === 0) this.#index.delete(endpointId);
    else this.#index.set(endpointId, partials);
  }

  /** Forgets an endpoint's partial prefixes. */
  forgetRemote(endpointId: string): void {
    this.#index.delete(endpointId);
  }

  /**
   * Sends one encoded data message on `topic`, batched with the others of this turn. False when
   * closed, when the topic's subject would be too long (`tooLong`), when the message cannot fit
   * a NATS message (`dropped`), or when the queue (while disconnected) dropped it.
   */
  publish(topic: string, frame: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#state === 'closed' || FRAME_HEADER_BYTES + frame.length > this.#maxPayload()) {
      this.#lost++;
      return false;
    }
    if (this.#subject(topic) === undefined) {
      this.#tooLong++;
      return false;
    }
    if (this.#state === 'disconnected') {
      if (this.#queue.push({ topic, frame }) === 'dropped') return false;
      this.#published++;
      return true;
    }
    this.#published++;
    this.#batcher.add(topic, frame);
    return true;
  }

  /**
   * Publishes a control message to every other endpoint. Dropped while disconnected or closed
   * (presence repeats; see the module comment).
   */
  publishControl(payload: Uint8Array): void {
    if (this.#closed || this.#state === 'disconnected' || this.#state === 'closed') return;
    this.#send(this.#controlSubject, payload);
  }

  /**
   * Stops: sends the open batches (and, while disconnected, hands what is queued to the client,
   * which sends it on reconnect), unsubscribes everything, waits for the server to confirm when
   * connected, and stops the timers. Publishing afterwards returns false.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const wasConnected = this.#state !== 'disconnected' && this.#state !== 'closed';
    if (wasConnected) {
      this.#batcher.flush();
    } else if (this.#state === 'disconnected' && !this.#nc.isClosed()) {
      // Bounded by our queue: safe to hand to the client's reconnect buffer.
      this.#drainQueue(true);
    }
    this.#closed = true;
    this.#stopWatching();
    if (this.#rttTimer !== undefined) this.#o.timers.clearTimeout(this.#rttTimer);
    this.#rttTimer = undefined;
    for (const t of this.#lingerTimers) this.#o.timers.clearTimeout(t);
    this.#lingerTimers.clear();
    for (const sub of this.#subs.values()) this.#unsubscribe(sub);
    this.#subs.clear();
    if (this.#control !== undefined) this.#unsubscribe(this.#control);
    this.#control = undefined;
    this.#queue.clear();
    const previous = this.#state;
    this.#state = 'closed';
    if (previous !== 'closed' && this.#sink !== undefined) this.#tell('closed');
    if (wasConnected && !this.#nc.isClosed()) {
      try {
        await this.#nc.flush();
      } catch (e) {
        this.#report(e);
      }
    }
  }

  /** Counters and state. `dropped` counts the queue's overflow and messages the client refused. */
  stats(): BackboneStats {
    let server: string | undefined;
    try {
      server = this.#state === 'closed' || this.#nc.isClosed() ? undefined : this.#nc.getServer();
    } catch {
      server = undefined;
    }
    return {
      state: this.#state,
      server,
      published: this.#published,
      batchesOut: this.#batchesOut,
      bytesOut: this.#bytesOut,
      batchesIn: this.#batchesIn,
      bytesIn: this.#bytesIn,
      queued: this.#queue.length,
      queuedBytes: this.#queue.byteLength,
      dropped: this.#queue.overflowCount + this.#lost,
      tooLong: this.#tooLong,
      reconnects: this.#reconnects,
      rtt: this.#rtt,
      wasted: this.#wasted,
      subscriptions: this.#subs.size + (this.#control === undefined ? 0 : 1),
    };
  }

  // ---- outbound

  /** The server's limit of one NATS message. */
  #maxPayload(): number {
    const max = this.#nc.info?.max_payload;
    return typeof max === 'number' && max > 0 ? max : DEFAULT_MAX_PAYLOAD;
  }

  #maxBatchBytes(): number {
    return Math.min(this.#o.maxBatchBytes, this.#maxPayload());
  }

  #subject(topic: string): string | undefined {
    const cache = this.#subjectCache;
    const hit = cache.get(topic);
    if (hit !== undefined || cache.has(topic)) return hit;
    const subject = topicSubject(topic, this.#o.subjects);
    if (cache.size >= SUBJECT_CACHE_SIZE) cache.clear();
    cache.set(topic, subject);
    return subject;
  }

  /** A finished batch: published, or queued when the connection went down meanwhile. */
  #emit(batch: TopicBatch): void {
    if (this.#state === 'disconnected' && !this.#forceSend) {
      for (const f of batch.parts) this.#queue.push({ topic: batch.topic, frame: f });
      return;
    }
    const subject = this.#subject(batch.topic);
    if (subject === undefined) return; // checked at publish
    const frame = encodeFrame(batch.parts);
    if (!this.#send(subject, frame)) {
      this.#lost += batch.parts.length;
      return;
    }
    if (this.#index.size > 0) {
      for (const ext of this.#index.extensionSubjects(batch.topic, this.#o.subjects)) this.#send(ext, frame);
    }
  }

  #send(subject: string, payload: Uint8Array): boolean {
    try {
      this.#nc.publish(subject, payload);
    } catch (e) {
      this.#report(e);
      return false;
    }
    this.#batchesOut++;
    this.#bytesOut += payload.length;
    return true;
  }

  /** Sends what waited for the connection, in order (`force`: even while disconnected, at close). */
  #drainQueue(force = false): void {
    const q = this.#queue;
    this.#forceSend = force;
    try {
      while (q.length > 0 && (force || this.#state !== 'disconnected')) {
        for (const item of q.take(1024)) this.#batcher.add(item.topic, item.frame);
      }
      this.#batcher.flush();
    } finally {
      this.#forceSend = false;
    }
  }

  // ---- interest

  #applyInterest(): void {
    const plan = planSubscriptions(this.#filter, this.#o.subjects);
    this.#partials = Object.freeze([...plan.partials]);
    const generation = ++this.#interestGeneration;
    const wanted = new Set(plan.patterns);
    let added = false;
    for (const pattern of plan.patterns) {
      const sub = this.#subs.get(pattern);
      if (sub !== undefined) {
        sub.lingerSince = undefined;
        continue;
      }
      const created = this.#subscribe(pattern, (s, msg) => this.#onData(s, msg));
      if (created !== undefined) {
        this.#subs.set(pattern, created);
        added = true;
      }
    }
    let dropped = false;
    for (const sub of this.#subs.values()) {
      if (!wanted.has(sub.pattern) && sub.lingerSince === undefined) {
        sub.lingerSince = generation;
        dropped = true;
      }
    }
    if (!added && !dropped) return;
    this.#transitions++;
    this.#nc.flush().then(
      () => this.#afterFlush(generation, dropped),
      (e: unknown) => {
        this.#report(e);
        this.#afterFlush(generation, dropped);
      },
    );
  }

  /**
   * The server has the new subscriptions: the dropped ones go after their linger, and the
   * transition ends one more linger later (copies still in flight).
   */
  #afterFlush(generation: number, dropped: boolean): void {
    if (this.#closed) return;
    const linger = this.#o.extensionLinger;
    if (dropped) {
      if (linger === 0) this.#prune(generation);
      else this.#later(linger, () => this.#prune(generation));
    }
    this.#later(2 * linger, () => {
      if (--this.#transitions === 0) this.#seen.clear();
    });
  }

  #later(ms: number, fn: () => void): void {
    const timer = this.#o.timers.setTimeout(() => {
      this.#lingerTimers.delete(timer);
      if (!this.#closed) fn();
    }, ms);
    this.#lingerTimers.add(timer);
  }

  #prune(generation: number): void {
    if (this.#closed) return;
    for (const sub of [...this.#subs.values()]) {
      if (sub.lingerSince !== undefined && sub.lingerSince <= generation) {
        this.#unsubscribe(sub);
        this.#subs.delete(sub.pattern);
      }
    }
  }

  #subscribe(pattern: string, onMsg: (sub: Sub, msg: NatsMsgLike) => void): Sub | undefined {
    let sub: Sub | undefined;
    const callback = (err: Error | null, msg: NatsMsgLike): void => {
      if (err !== null) {
        this.#report(err);
        return;
      }
      if (sub === undefined || !sub.active || this.#closed) return;
      try {
        onMsg(sub, msg);
      } catch (e) {
        this.#report(e);
      }
    };
    try {
      const handle = this.#nc.subscribe(pattern, { callback });
      sub = { pattern, handle, active: true, lingerSince: undefined };
      return sub;
    } catch (e) {
      this.#report(e);
      return undefined;
    }
  }

  #unsubscribe(sub: Sub): void {
    if (!sub.active) return;
    sub.active = false;
    try {
      sub.handle?.unsubscribe();
    } catch (e) {
      this.#report(e);
    }
  }

  // ---- inbound

  #onData(sub: Sub, msg: NatsMsgLike): void {
    const data = msg.data;
    this.#batchesIn++;
    this.#bytesIn += data.length;
    const sink = this.#sink;
    if (sink === undefined) return;
    const superset = this.#o.subjects.superset === true;
    const lingering = sub.lingerSince !== undefined;
    if ((superset || lingering || this.#transitions > 0) && this.#peek(data)) {
      if ((superset || lingering) && !filterWants(this.#filter, this.#peekedTopic)) {
        if (superset && !lingering) this.#wasted++;
        return;
      }
      if (this.#transitions > 0) {
        // The same batch on two of our subscriptions (old and new, or an extension subject and
        // the topic's own): deliver the first copy only.
        const key = this.#peekedKey;
        const seen = this.#seen;
        if (seen.has(key)) return;
        seen.add(key);
        if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string);
      }
    }
    sink.data(data);
  }

  #onControl(msg: NatsMsgLike): void {
    this.#batchesIn++;
    this.#bytesIn += msg.data.length;
    this.#sink?.control(msg.data);
  }

  /**
   * Reads the topic and identity (origin, sequence number) of a frame's first data
   * message into `#peekedTopic` and `#peekedKey`. False when it is no such frame: it is passed
   * on as it is, and the sink reports it.
   */
  #peek(frame: Uint8Array): boolean {
    const r = this.#reader;
    r.reset(frame, DEFAULT_NATIVE_LIMITS);
    try {
      if (r.arrayHeader('the frame', false) === 0) return false;
      if (r.arrayHeader('a message', false) !== 6) return false;
      if (r.uint('the message kind') !== MessageKind.Data) return false;
      const topic = r.string('Data topic');
      const origin = r.binExact('Data origin', ENDPOINT_ID_BYTES);
      const seq = r.uint('Data seq');
      this.#peekedTopic = topic;
      this.#peekedKey = `${seq} ${String.fromCharCode(...origin)}`;
      return true;
    } catch {
      return false;
    } finally {
      r.reset(EMPTY_BYTES, DEFAULT_NATIVE_LIMITS);
    }
  }

  // ---- connection state

  async #watchStatus(): Promise<void> {
    try {
      const it = this.#nc.status()[Symbol.asyncIterator]();
      this.#statusIterator = it;
      for (;;) {
        const r = await it.next();
        if (r.done === true || this.#closed) return;
        if (r.value.type === 'disconnect') this.#onDisconnect();
        else if (r.value.type === 'reconnect') this.#onReconnect();
      }
    } catch (e) {
      if (!this.#closed) this.#report(e);
    }
  }

  /** Ends the status iteration (where the client's iterator supports it). */
  #stopWatching(): void {
    const it = this.#statusIterator;
    this.#statusIterator = undefined;
    try {
      it?.return?.()?.catch(() => {});
    } catch {
      // nothing to stop
    }
  }

  #onDisconnect(): void {
    if (this.#state === 'disconnected' || this.#state === 'closed') return;
    // The open batches go first, so that the frames published from now on stay behind them.
    for (const b of this.#batcher.takeAll()) for (const f of b.parts) this.#queue.push({ topic: b.topic, frame: f });
    this.#setState('disconnected');
  }

  #onReconnect(): void {
    if (this.#state === 'closed') return;
    this.#reconnects++;
    this.#state = 'reconnected';
    this.#drainQueue();
    this.#tell('reconnected');
    if (this.#state === 'reconnected') this.#setState('connected');
  }

  #onConnectionClosed(): void {
    if (this.#closed || this.#state === 'closed') return;
    this.#lost += this.#queue.length + this.#batcher.pending;
    this.#queue.clear();
    this.#batcher.takeAll();
    this.#setState('closed');
  }

  #setState(state: BackboneState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#tell(state);
  }

  #tell(state: BackboneState): void {
    try {
      this.#sink?.state(state);
    } catch (e) {
      this.#report(e);
    }
  }

  #measureRtt(): void {
    this.#rttTimer = this.#o.timers.setTimeout(() => this.#measureRtt(), this.#o.rttInterval);
    if (this.#state !== 'connected' && this.#state !== 'reconnected') return;
    let p: Promise<number>;
    try {
      p = this.#nc.rtt();
    } catch {
      return;
    }
    p.then(
      (ms) => {
        if (!this.#closed && typeof ms === 'number' && Number.isFinite(ms)) this.#rtt = ms;
      },
      () => {},
    );
  }

  #report(e: unknown): void {
    try {
      this.#o.onError(e);
    } catch {
      // an error handler that throws must not break the backbone
    }
  }
}

const EMPTY_BYTES = new Uint8Array(0);
