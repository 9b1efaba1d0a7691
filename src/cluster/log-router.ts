/**
 * Remote logging. Any node writes records to a stream; a logger writes them (Zeek's ASCII or
 * JSON format through a LogWriter). Records go round-robin per record among the live loggers,
 * batched per logger; with no logger alive they go to `zeek/logs/<Stream::ID>` as Zeek does.
 * Beyond Zeek, which loses records in flight when a logger dies, loggers acknowledge every batch
 * after writing it, and a batch without an acknowledgement goes to another logger: killing a
 * logger loses no record. A logger writes a batch it has already written only once (batches are
 * numbered per sender), so a retransmission to the same logger is not written twice.
 */
import { count, enumValue, string, vector } from '../data/constructors.js';
import type { Data } from '../data/types.js';
import { makeEvent } from '../message/builders.js';
import { encodeValue } from '../codec/native-values.js';
import { parseZeekMessage } from '../message/parse.js';
import type { Timers } from '../endpoint/timers.js';
import { systemTimers } from '../endpoint/timers.js';
import type { ClusterNode } from './cluster-node.js';
import { ConfigError, IsobrokerError, ValueError } from '../errors.js';
import { errorEvent, listenerErrorEvent, type ErrorEvent } from '../endpoint/status.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import { checkOptionsObject, fnOption, intOption, numberOption, objectOption } from '../util/options.js';
import { loggersOf } from './layout.js';
import { defineLogStream } from './log-stream.js';
import type { LogColumnType, LogStream } from './log-types.js';
import type { LogWriter } from './log-writer.js';
import { nodeTopic } from './topics.js';

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
  /** Clock and timers. @default the system's */
  readonly timers?: Timers;
  /** Sugar for `router.on('error', onError)`: it receives the same events. @default none */
  readonly onError?: (ev: ErrorEvent) => void;
}

/** Defaults of `LogRouterOptions`. */
export const DEFAULT_LOG_ROUTER_OPTIONS = Object.freeze({ maxBatch: 500, ackTimeout: 2000 } as const);

/**
 * The events of a log router. `error` reports a batch that could not be decoded or whose write
 * failed on a logger (`log_failed`, with the writer's error as `cause`), and a listener that threw.
 */
export interface LogRouterEvents {
  /** An asynchronous failure (see above). */
  error: ErrorEvent;
}

interface Batch {
  readonly id: number;
  readonly stream: LogStream;
  /** Records until the batch is sent; then only its encoded form is kept (for resends). */
  records: Data[];
  count: number;
  encoded?: Uint8Array;
  logger: string;
  sentAt: number;
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
 * nodes); elsewhere it sends them in acknowledged batches round-robin to the live loggers.
 */
export class LogRouter {
  private readonly isLogger: boolean;
  private readonly pendingOut = new Map<string, Batch>();
  private readonly unacked = new Map<number, Batch>();
  private readonly seen = new Map<string, Set<number>>();
  private nextBatch = 1;
  private cursor = 0;
  private flushScheduled = false;
  private timer: unknown;
  private readonly offs: (() => void)[] = [];
  private readonly timers: Timers;
  private readonly maxBatch: number;
  private readonly ackTimeout: number;
  private readonly writer: LogWriter | undefined;
  private readonly events: Emitter<LogRouterEvents> = new Emitter((event, err) =>
    this.events.emit('error', listenerErrorEvent(event, err)),
  );
  /** Records written here (loggers) and sent away (others), for status displays and tests. */
  readonly counters = { written: 0, sent: 0, resent: 0, fallback: 0, duplicates: 0 };

  constructor(
    private readonly node: ClusterNode,
    options?: LogRouterOptions,
  ) {
    checkOptionsObject('options', options);
    const o = options ?? {};
    this.timers = objectOption('timers', o.timers, systemTimers, ['now', 'setTimeout', 'clearTimeout']);
    this.maxBatch = intOption('maxBatch', o.maxBatch, DEFAULT_LOG_ROUTER_OPTIONS.maxBatch, 1);
    this.ackTimeout = numberOption('ackTimeout', o.ackTimeout, DEFAULT_LOG_ROUTER_OPTIONS.ackTimeout, Number.MIN_VALUE);
    this.writer = o.writer === undefined ? undefined : objectOption('writer', o.writer, o.writer, ['write', 'flush']);
    const onError = fnOption('onError', o.onError);
    if (onError) this.events.on('error', onError);
    this.isLogger = loggersOf(node.layout).some((n) => n.name === node.name);
    const ep = node.endpoint;
    if (this.isLogger) {
      if (!this.writer) throw new ConfigError('writer', `node ${node.name} is a logger and needs a log writer`);
      const sub = ep.subscribe(logTopic(node.name), ({ data }) => this.onBatch(data));
      this.offs.push(() => sub.unsubscribe());
    }
    const acks = ep.subscribe(logAckTopic(node.name), ({ data }) => this.onAck(data));
    this.offs.push(() => acks.unsubscribe());
    // A logger that goes down hands its unacknowledged batches to the others at once.
    this.offs.push(node.on('nodeDown', ({ name }) => this.reassign(name)));
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
    const loggers = this.liveLoggers();
    if (loggers.length === 0) {
      this.node.endpoint.publish(fallbackLogTopic(stream.id), vector([encodeStream(stream), record]));
      this.counters.fallback++;
      return;
    }
    const logger = loggers[this.cursor++ % loggers.length]!;
    const key = `${logger}\u0000${stream.id}`;
    let b = this.pendingOut.get(key);
    if (!b) {
      b = { id: this.nextBatch++, stream, records: [], count: 0, logger, sentAt: 0 };
      this.pendingOut.set(key, b);
    }
    b.records.push(record);
    b.count++;
    if (b.records.length >= this.maxBatch) {
      this.pendingOut.delete(key);
      this.send(b);
    } else this.scheduleFlush();
  }

  /** Records sent but not yet acknowledged by a logger. */
  get inFlight(): number {
    let n = 0;
    for (const b of this.unacked.values()) n += b.count;
    for (const b of this.pendingOut.values()) n += b.count;
    return n;
  }

  /** Stops routing (unsent records stay unsent). */
  close(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
  }

  private liveLoggers(): string[] {
    return loggersOf(this.node.layout)
      .map((n) => n.name)
      .filter((n) => this.node.isUp(n));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const batches = [...this.pendingOut.values()];
      this.pendingOut.clear();
      for (const b of batches) this.send(b);
    });
  }

  private send(b: Batch): void {
    b.sentAt = this.timers.now();
    this.unacked.set(b.id, b);
    this.counters.sent += b.count;
    // Encoded once; a resend (to the same or another logger) reuses the bytes.
    b.encoded ??= encodeValue(
      makeEvent(LOG_BATCH_EVENT, [
        string(this.node.name),
        string(this.node.endpoint.id),
        count(b.id),
        encodeStream(b.stream),
        vector(b.records),
      ]),
    );
    b.records = [];
    this.node.endpoint.publishEncoded(logTopic(b.logger), b.encoded);
  }

  private reassign(deadLogger: string): void {
    const live = this.liveLoggers();
    for (const b of this.unacked.values()) {
      if (b.logger !== deadLogger) continue;
      if (live.length === 0) continue; // the timer retries once one is back
      b.logger = live[this.cursor++ % live.length]!;
      this.counters.resent += b.count;
      this.send(b);
    }
  }

  private armTimer(): void {
    this.timer = this.timers.setTimeout(
      () => {
        const now = this.timers.now();
        const live = this.liveLoggers();
        for (const b of this.unacked.values()) {
          if (now - b.sentAt < this.ackTimeout || live.length === 0) continue;
          // The same logger while it lives (it will not write the batch twice), else another.
          if (!live.includes(b.logger)) b.logger = live[this.cursor++ % live.length]!;
          this.counters.resent += b.count;
          this.send(b);
        }
        this.armTimer();
      },
      Math.min(500, this.ackTimeout),
    );
  }

  private onAck(data: Data): void {
    try {
      const m = parseZeekMessage(data);
      if (m.kind !== 'event' || m.name !== LOG_ACK_EVENT) return;
      for (const id of m.args) if (id.type === 'count') this.unacked.delete(Number(id.value));
    } catch {
      /* not an ack */
    }
  }

  private onBatch(data: Data): void {
    let sender: string;
    let senderId: string;
    let id: number;
    let stream: LogStream | undefined;
    let records: readonly Data[];
    try {
      const m = parseZeekMessage(data);
      if (m.kind !== 'event' || m.name !== LOG_BATCH_EVENT) return;
      const [s, sid, i, st, recs] = m.args;
      if (s?.type !== 'string' || sid?.type !== 'string' || i?.type !== 'count' || !st || recs?.type !== 'vector')
        return;
      sender = s.value;
      senderId = sid.value;
      id = Number(i.value);
      stream = decodeStream(st);
      records = recs.elements;
    } catch (err) {
      this.fail('a log batch could not be decoded', err);
      return;
    }
    if (!stream) return;
    // Batch numbers are per sender process: a restarted sender starts again under a new id.
    let seen = this.seen.get(senderId);
    if (!seen) this.seen.set(senderId, (seen = new Set()));
    if (seen.has(id)) {
      this.counters.duplicates += records.length;
    } else {
      try {
        this.writer!.write(stream, [...records]);
      } catch (err) {
        // Not acknowledged: the sender sends the batch again.
        this.fail(`a batch of ${stream.id} from ${sender} could not be written`, err);
        return;
      }
      this.counters.written += records.length;
      seen.add(id);
      if (seen.size > 100_000) seen.delete(seen.values().next().value!);
    }
    // Acknowledge once the writer has the batch on disk.
    const ack = makeEvent(LOG_ACK_EVENT, [count(id)]);
    this.writer!.flush().then(
      () => {
        if (!this.node.endpoint.isClosed) this.node.endpoint.publish(logAckTopic(sender), ack);
      },
      (err: unknown) => this.fail(`a batch of ${stream.id} from ${sender} could not be flushed`, err),
    );
  }

  private fail(context: string, err: unknown): void {
    const cause =
      err instanceof IsobrokerError
        ? err
        : new ValueError(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.events.emit('error', errorEvent('log_failed', undefined, `${context}: ${cause.message}`, cause));
  }
}
