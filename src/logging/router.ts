/**
 * Remote logging. Any node writes records to a stream; a logger writes them (Zeek's ASCII or
 * JSON format through a LogWriter). Records go round-robin per record among the live loggers,
 * batched per logger (a layout without any logger publishes them to `zeek/logs/<Stream::ID>` as
 * Zeek does).
 *
 * Beyond Zeek, which loses records in flight when a logger dies, loggers acknowledge every batch
 * after writing it, and the sender keeps every batch until acknowledged (bounded in bytes; what
 * does not fit is dropped and counted):
 * - with no logger alive, batches wait and go out when one comes up;
 * - a batch whose logger went down waits for it to come back (`handoverTimeout`), then goes to
 *   another live logger;
 * - a logger writes a batch only once: batches are numbered per sender, the logger remembers the
 *   numbers it wrote (pruned by the sender's low-water mark), and a file writer keeps them in a
 *   ledger so that a restarted logger still knows them.
 * So a logger that dies and restarts loses no record and writes none twice.
 */
import { count, enumValue, string, vector } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { makeEvent } from '../message/builders.js';
import { encodeValue } from '../codec/native/values.js';
import { parseZeekMessage } from '../message/parse.js';
import type { Timers } from '../util/timers.js';
import { systemTimers } from '../util/timers.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { ConfigError, IsobrokerError, ValueError } from '../errors.js';
import { errorEvent, listenerErrorEvent, type ErrorEvent } from '../endpoint/status.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import { checkOptionsObject, fnOption, intOption, numberOption, objectOption } from '../util/options.js';
import { loggersOf } from '../cluster/layout.js';
import { defineLogStream } from './stream.js';
import type { LogColumnType, LogStream } from './types.js';
import type { LogWriter } from './writer.js';
import { nodeTopic } from '../cluster/topics.js';

/** The event carrying a batch of log records to a logger. */
export const LOG_BATCH_EVENT = 'isobroker::log_batch';
/** The event a logger acknowledges written batches with. */
export const LOG_ACK_EVENT = 'isobroker::log_ack';

/** Where a node's log batches arrive (below its node topic). */
export const logTopic = (node: string): string => `${nodeTopic(node)}logs`;
/** Where a sender's acknowledgements arrive. */
export const logAckTopic = (node: string): string => `${nodeTopic(node)}log-acks`;
/** Zeek's topic for log writes when no logger is alive. */
export const fallbackLogTopic = (streamId: string): string => `zeek/logs/${streamId}`;

/** Options of `new LogRouter(node, options)`. */
export interface LogRouterOptions {
  /** Writer of this node's local logs. Required on loggers (a `ConfigError` otherwise). @default none */
  readonly writer?: LogWriter;
  /** Most records per batch, 1 or more. @default 500 */
  readonly maxBatch?: number;
  /** A batch unacknowledged this long (ms, more than 0) is sent again. @default 2000 */
  readonly ackTimeout?: number;
  /**
   * Most bytes (encoded) of records kept until a logger acknowledges them — sent and not yet
   * acknowledged, or waiting for a logger to come up. A record that does not fit is dropped and
   * counted (`counters.dropped`, an `error` event `log_dropped` when dropping starts). @default 64 MiB
   */
  readonly maxBufferBytes?: number;
  /**
   * How long (ms, 0 or more) unacknowledged batches wait for their logger to come back before
   * going to another live logger. While the logger returns within it, nothing is lost and nothing
   * written twice (a restarted logger knows the batches it wrote from its ledger); a batch handed
   * over may be written twice if the dead logger had written it without acknowledging it.
   * @default 10000
   */
  readonly handoverTimeout?: number;
  /** Clock and timers. @default the system's */
  readonly timers?: Timers;
  /** Sugar for `router.on('error', onError)`: it receives the same events. @default none */
  readonly onError?: (ev: ErrorEvent) => void;
}

/** Defaults of `LogRouterOptions`. */
export const DEFAULT_LOG_ROUTER_OPTIONS = Object.freeze({
  maxBatch: 500,
  ackTimeout: 2000,
  maxBufferBytes: 64 * 1024 * 1024,
  handoverTimeout: 10_000,
} as const);

/** Senders a logger remembers batch numbers of (the least recently heard from are forgotten). */
const MAX_SENDERS = 10_000;
/** Batch numbers a logger remembers per sender, beyond what the sender's low-water mark prunes. */
const MAX_SEEN_PER_SENDER = 100_000;

/**
 * The events of a log router. `error` reports a batch that could not be decoded or whose write
 * failed on a logger (`log_failed`, with the writer's error as `cause`), records dropped because
 * the send buffer was full (`log_dropped`, once each time dropping starts), and a listener that
 * threw.
 */
export interface LogRouterEvents {
  /** An asynchronous failure (see above). */
  error: ErrorEvent;
}

/** What a router holds and has done, for status displays and tests (`router.stats()`). */
export interface LogRouterStats {
  /** Records written here (loggers) from this node and from batches. */
  readonly written: number;
  /** Records sent to loggers, counting every resend. */
  readonly sent: number;
  /** Records sent again (no acknowledgement in time, or their logger came back). */
  readonly resent: number;
  /** Records a logger acknowledged (each counted once). */
  readonly acknowledged: number;
  /** Records of batches handed to another logger because theirs stayed down. */
  readonly handedOver: number;
  /** Records published to `zeek/logs/<Stream::ID>` (a layout without loggers). */
  readonly fallback: number;
  /** Records of batches received again and not written again (loggers). */
  readonly duplicates: number;
  /** Records dropped because the buffer was full. */
  readonly dropped: number;
  /** Records kept until acknowledged (sent, or waiting for a logger), and their encoded bytes. */
  readonly bufferedRecords: number;
  readonly bufferedBytes: number;
}

interface Batch {
  readonly id: number;
  readonly stream: LogStream;
  /** Records until the batch is closed; then only its encoded form is kept (for resends). */
  records: Data[];
  count: number;
  encoded?: Uint8Array;
  /** Where it goes; undefined while no logger is alive. */
  logger: string | undefined;
  /** When it was last sent (0: never). */
  sentAt: number;
}

interface SenderSeen {
  /** Batch numbers written. */
  readonly ids: Set<number>;
  /** Every batch below this is acknowledged at its sender and will not come again. */
  low: number;
}

function encodeStream(s: LogStream): Data {
  return vector([
    enumValue(s.id),
    string(s.path),
    vector(
      s.columns.map((c) => vector([string(c.name), string(c.type), { type: 'boolean', value: c.optional === true }])),
    ),
  ]);
}

/** Streams met in batches, by their description: batches of one stream reuse one definition. */
const streamCache = new Map<string, LogStream>();

function decodeStream(d: Data): LogStream | undefined {
  if (d.type !== 'vector' || d.elements.length !== 3) return undefined;
  const [id, path, cols] = d.elements;
  if (id?.type !== 'enum-value' || path?.type !== 'string' || cols?.type !== 'vector') return undefined;
  const columns: { name: string; type: LogColumnType; optional: boolean }[] = [];
  for (const c of cols.elements) {
    if (c.type !== 'vector' || c.elements.length !== 3) return undefined;
    const [n, t, o] = c.elements;
    if (n?.type !== 'string' || t?.type !== 'string' || o?.type !== 'boolean') return undefined;
    columns.push({ name: n.value, type: t.value as LogColumnType, optional: o.value });
  }
  const key = JSON.stringify([id.name, path.value, columns]);
  const known = streamCache.get(key);
  if (known) return known;
  try {
    const stream = defineLogStream({ id: id.name, path: path.value, columns });
    if (streamCache.size < 1000) streamCache.set(key, stream);
    return stream;
  } catch {
    return undefined; // a column type we cannot log
  }
}

/**
 * Routes log records of one cluster node: on a logger it writes them (and batches from other
 * nodes); elsewhere it sends them in acknowledged batches round-robin to the live loggers, and
 * keeps every batch (bounded in bytes) until a logger acknowledges it.
 */
export class LogRouter {
  private readonly isLogger: boolean;
  /** Open batches by logger and stream, closed at the end of the current turn or when full. */
  private readonly pendingOut = new Map<string, Batch>();
  /** Closed batches until acknowledged: sent, or waiting for a logger (in id order). */
  private readonly unacked = new Map<number, Batch>();
  private readonly seen = new Map<string, SenderSeen>();
  /** Acknowledgements to send at the end of the turn, by sender node. */
  private readonly acksOut = new Map<string, Data[]>();
  private acksScheduled = false;
  private live: readonly string[] | undefined;
  /** When each logger was last seen going down. */
  private readonly downSince = new Map<string, number>();
  private bufferedBytes = 0;
  private dropping = false;
  private nextBatch = 1;
  private cursor = 0;
  private flushScheduled = false;
  private timer: unknown;
  private closed = false;
  private readonly offs: (() => void)[] = [];
  private readonly timers: Timers;
  private readonly maxBatch: number;
  private readonly ackTimeout: number;
  private readonly maxBufferBytes: number;
  private readonly handoverTimeout: number;
  private readonly writer: LogWriter | undefined;
  private readonly hasLoggers: boolean;
  private readonly events: Emitter<LogRouterEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  /** What the router has done (see `LogRouterStats`; `stats()` adds what it holds). */
  readonly counters = {
    written: 0,
    sent: 0,
    resent: 0,
    acknowledged: 0,
    handedOver: 0,
    fallback: 0,
    duplicates: 0,
    dropped: 0,
  };

  constructor(
    private readonly node: ClusterNode,
    options?: LogRouterOptions,
  ) {
    checkOptionsObject('options', options);
    const o = options ?? {};
    this.timers = objectOption('timers', o.timers, systemTimers, ['now', 'setTimeout', 'clearTimeout']);
    this.maxBatch = intOption('maxBatch', o.maxBatch, DEFAULT_LOG_ROUTER_OPTIONS.maxBatch, 1);
    this.ackTimeout = numberOption('ackTimeout', o.ackTimeout, DEFAULT_LOG_ROUTER_OPTIONS.ackTimeout, Number.MIN_VALUE);
    this.maxBufferBytes = numberOption(
      'maxBufferBytes',
      o.maxBufferBytes,
      DEFAULT_LOG_ROUTER_OPTIONS.maxBufferBytes,
      1,
    );
    this.handoverTimeout = numberOption(
      'handoverTimeout',
      o.handoverTimeout,
      DEFAULT_LOG_ROUTER_OPTIONS.handoverTimeout,
      0,
    );
    this.writer = o.writer === undefined ? undefined : objectOption('writer', o.writer, o.writer, ['write', 'flush']);
    const onError = fnOption('onError', o.onError);
    if (onError) this.events.on('error', onError);
    const loggers = loggersOf(node.layout);
    this.hasLoggers = loggers.length > 0;
    this.isLogger = loggers.some((n) => n.name === node.name);
    const ep = node.endpoint;
    if (this.isLogger) {
      if (!this.writer) throw new ConfigError('writer', `node ${node.name} is a logger and needs a log writer`);
      // Batches an earlier run wrote (a restarted logger): a resend of one is not written again.
      for (const b of this.writer.recoveredBatches ?? []) this.seenOf(b.sender).ids.add(b.id);
      const sub = ep.subscribe(logTopic(node.name), ({ data }) => this.onBatch(data));
      this.offs.push(() => sub.unsubscribe());
    }
    const acks = ep.subscribe(logAckTopic(node.name), ({ data }) => this.onAck(data));
    this.offs.push(() => acks.unsubscribe());
    this.offs.push(
      node.on('nodeDown', ({ name }) => {
        this.live = undefined;
        if (loggers.some((n) => n.name === name)) this.downSince.set(name, this.timers.now());
      }),
    );
    // A logger that comes (back) up gets its unacknowledged batches, and parked ones, at once.
    this.offs.push(
      node.on('nodeUp', ({ name }) => {
        this.live = undefined;
        if (!loggers.some((n) => n.name === name)) return;
        this.downSince.delete(name);
        this.retry(name);
      }),
    );
    this.armTimer();
  }

  /** Listens to `error` events; returns a function that stops listening. */
  on<K extends keyof LogRouterEvents>(event: K, fn: (ev: LogRouterEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  /** Writes one record (a vector of the stream's columns, e.g. from `toRecord`). */
  write(stream: LogStream, record: Data): void {
    if (this.isLogger) {
      this.writer!.write(stream, [record]);
      this.counters.written++;
      return;
    }
    if (!this.hasLoggers) {
      this.node.endpoint.publish(fallbackLogTopic(stream.id), vector([encodeStream(stream), record]));
      this.counters.fallback++;
      return;
    }
    if (this.bufferedBytes >= this.maxBufferBytes) {
      this.counters.dropped++;
      if (!this.dropping) {
        this.dropping = true;
        this.events.emit(
          'error',
          errorEvent(
            'log_dropped',
            undefined,
            `log records dropped: ${this.bufferedBytes} bytes wait for a logger's acknowledgement (maxBufferBytes ${this.maxBufferBytes})`,
          ),
        );
      }
      return;
    }
    const loggers = this.liveLoggers();
    // With no logger alive the records wait (in batches) until one comes up.
    const logger = loggers.length === 0 ? undefined : loggers[this.cursor++ % loggers.length]!;
    const key = `${logger ?? ''}\u0000${stream.id}`;
    let b = this.pendingOut.get(key);
    if (!b) {
      b = { id: this.nextBatch++, stream, records: [], count: 0, logger, sentAt: 0 };
      this.pendingOut.set(key, b);
    }
    b.records.push(record);
    b.count++;
    if (b.records.length >= this.maxBatch) {
      this.pendingOut.delete(key);
      this.closeBatch(b);
    } else this.scheduleFlush();
  }

  /** Records sent but not yet acknowledged by a logger, or waiting for one. */
  get inFlight(): number {
    let n = 0;
    for (const b of this.unacked.values()) n += b.count;
    for (const b of this.pendingOut.values()) n += b.count;
    return n;
  }

  /** The counters and what the router holds now. */
  stats(): LogRouterStats {
    return { ...this.counters, bufferedRecords: this.inFlight, bufferedBytes: this.bufferedBytes };
  }

  /** Stops routing (unsent records stay unsent). */
  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
  }

  /** The live loggers, kept until a node comes up or goes down (asked once per record written). */
  private liveLoggers(): readonly string[] {
    this.live ??= loggersOf(this.node.layout)
      .map((n) => n.name)
      .filter((n) => this.node.isUp(n));
    return this.live;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const batches = [...this.pendingOut.values()];
      this.pendingOut.clear();
      for (const b of batches) this.closeBatch(b);
    });
  }

  /** Encodes a full (or flushed) batch, keeps it until acknowledged, and sends it if it can. */
  private closeBatch(b: Batch): void {
    if (this.closed) return;
    // The low-water mark lets a logger forget the numbers of batches acknowledged anywhere: every
    // batch below it is acknowledged (a resend carries an older mark, still true).
    let low = b.id;
    for (const o of this.unacked.keys()) if (o < low) low = o;
    for (const o of this.pendingOut.values()) if (o.id < low) low = o.id;
    b.encoded = encodeValue(
      makeEvent(LOG_BATCH_EVENT, [
        string(this.node.name),
        string(this.node.endpoint.id),
        count(b.id),
        encodeStream(b.stream),
        vector(b.records),
        count(low),
      ]),
    );
    b.records = [];
    this.bufferedBytes += b.encoded.length;
    this.unacked.set(b.id, b);
    if (b.logger !== undefined) this.send(b, b.logger);
  }

  private send(b: Batch, logger: string): void {
    b.logger = logger;
    b.sentAt = this.timers.now();
    this.counters.sent += b.count;
    this.node.endpoint.publishEncoded(logTopic(logger), b.encoded!);
  }

  /**
   * Sends what waits: batches without a logger go to a live one; batches whose logger is up go to
   * it again (at once when it just `cameUp`, else when unacknowledged for `ackTimeout`); batches whose logger stayed
   * down `handoverTimeout` go to another live logger.
   */
  private retry(cameUp?: string): void {
    if (this.closed) return;
    const t = this.timers.now();
    const live = this.liveLoggers();
    if (live.length === 0) return;
    for (const b of [...this.unacked.values()]) {
      if (b.logger === undefined) {
        this.send(b, live[this.cursor++ % live.length]!);
      } else if (live.includes(b.logger)) {
        // The same logger while it lives (it will not write the batch twice).
        if (b.sentAt === 0 || b.logger === cameUp || t - b.sentAt >= this.ackTimeout) {
          if (b.sentAt !== 0) this.counters.resent += b.count;
          this.send(b, b.logger);
        }
      } else {
        const since = Math.max(this.downSince.get(b.logger) ?? b.sentAt, b.sentAt);
        if (t - since < this.handoverTimeout) continue;
        this.counters.handedOver += b.count;
        this.counters.resent += b.count;
        this.send(b, live[this.cursor++ % live.length]!);
      }
    }
  }

  private armTimer(): void {
    this.timer = this.timers.setTimeout(
      () => {
        this.retry();
        if (!this.closed) this.armTimer();
      },
      Math.min(500, this.ackTimeout),
    );
  }

  private onAck(data: Data): void {
    try {
      const m = parseZeekMessage(data);
      if (m.kind !== 'event' || m.name !== LOG_ACK_EVENT) return;
      for (const id of m.args) {
        if (id.type !== 'count') continue;
        const b = this.unacked.get(Number(id.value));
        if (!b) continue;
        this.unacked.delete(b.id);
        this.counters.acknowledged += b.count;
        this.bufferedBytes -= b.encoded?.length ?? 0;
      }
      if (this.dropping && this.bufferedBytes < this.maxBufferBytes) this.dropping = false;
    } catch {
      /* not an ack */
    }
  }

  private seenOf(sender: string): SenderSeen {
    let s = this.seen.get(sender);
    if (s) {
      // Most recently heard from last: the first ones are forgotten first.
      this.seen.delete(sender);
    } else {
      s = { ids: new Set(), low: 0 };
      if (this.seen.size >= MAX_SENDERS) this.seen.delete(this.seen.keys().next().value!);
    }
    this.seen.set(sender, s);
    return s;
  }

  private onBatch(data: Data): void {
    let sender: string;
    let senderId: string;
    let id: number;
    let low = 0;
    let stream: LogStream | undefined;
    let records: readonly Data[];
    try {
      const m = parseZeekMessage(data);
      if (m.kind !== 'event' || m.name !== LOG_BATCH_EVENT) return;
      const [s, sid, i, st, recs, lw] = m.args;
      if (s?.type !== 'string' || sid?.type !== 'string' || i?.type !== 'count' || !st || recs?.type !== 'vector')
        return;
      sender = s.value;
      senderId = sid.value;
      id = Number(i.value);
      if (lw?.type === 'count' && lw.value <= i.value) low = Number(lw.value);
      stream = decodeStream(st);
      records = recs.elements;
    } catch (err) {
      this.fail('a log batch could not be decoded', err);
      return;
    }
    if (!stream) return;
    // Batch numbers are per sender process: a restarted sender starts again under a new id.
    const seen = this.seenOf(senderId);
    if (low > seen.low) {
      seen.low = low;
      for (const n of seen.ids) if (n < low) seen.ids.delete(n);
      this.writer!.forgetBatches?.(senderId, low);
    }
    if (id < seen.low || seen.ids.has(id)) {
      this.counters.duplicates += records.length;
    } else {
      try {
        this.writer!.write(stream, records, { sender: senderId, id });
      } catch (err) {
        // Not acknowledged: the sender sends the batch again.
        this.fail(`a batch of ${stream.id} from ${sender} could not be written`, err);
        return;
      }
      this.counters.written += records.length;
      seen.ids.add(id);
      if (seen.ids.size > MAX_SEEN_PER_SENDER) seen.ids.delete(seen.ids.values().next().value!);
    }
    // Acknowledge once the writer has the batch on disk; batches flushed together are
    // acknowledged in one event per sender.
    this.writer!.flush().then(
      () => this.queueAck(sender, id),
      (err: unknown) => this.fail(`a batch of ${stream.id} from ${sender} could not be flushed`, err),
    );
  }

  private queueAck(sender: string, id: number): void {
    let ids = this.acksOut.get(sender);
    if (ids === undefined) this.acksOut.set(sender, (ids = []));
    ids.push(count(id));
    if (this.acksScheduled) return;
    this.acksScheduled = true;
    queueMicrotask(() => {
      this.acksScheduled = false;
      const ep = this.node.endpoint;
      for (const [to, list] of this.acksOut) {
        if (!ep.isClosed) ep.publish(logAckTopic(to), makeEvent(LOG_ACK_EVENT, list));
      }
      this.acksOut.clear();
    });
  }

  private fail(context: string, err: unknown): void {
    const cause =
      err instanceof IsobrokerError
        ? err
        : new ValueError(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.events.emit('error', errorEvent('log_failed', undefined, `${context}: ${cause.message}`, cause));
  }
}
