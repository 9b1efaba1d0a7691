/**
 * An in-memory NATS "cluster" with NATS core semantics, for tests and the seeded simulation: the
 * NATS backbone runs on it exactly as on nats.js (`MemoryNatsConnection` satisfies
 * `NatsConnectionLike`). What it reproduces:
 *
 * - one copy per matching subscription (two overlapping subscriptions of one connection get two
 *   copies), `noEcho` (nothing the connection published comes back to it);
 * - asynchronous delivery (microtasks), in order per publisher;
 * - hosts and partitions: a connection belongs to a `host`; `partition(a, b)` silently loses every
 *   message between hosts of `a` and hosts of `b` (a cut route), `isolate(h)` cuts `h` off every
 *   other host, `heal()` ends both; connections see no status change (nothing tells them);
 * - seeded random loss (`dropRate`), each delivered copy lost independently;
 * - server-side cuts (`disconnect`): the connection sees `disconnect`, its publishes wait in an
 *   unbounded client-side buffer (as nats.js's), messages others publish to it meanwhile are lost,
 *   and on `reconnect` the buffer is sent and the subscriptions are still there;
 * - nats.js's client-side checks: `BAD_SUBJECT`, `MAX_PAYLOAD_EXCEEDED`, `CONNECTION_CLOSED`.
 *
 * Routing happens when the server receives the message (at `publish`, or at the reconnect that
 * sends it): a subscription made afterwards does not get it, one removed before its delivery does
 * not either (nats.js ignores messages for a closed subscription).
 */
import { IsobrokerError, ValueError } from '../errors.js';
import { systemTimers, type Timers } from '../util/timers.js';
import { isValidSubject, SubjectIndex } from './subject-match.js';
import type { NatsConnectionLike, NatsMsgLike, NatsStatusLike, NatsSubscriptionLike } from './types.js';

/** NATS's default `max_payload`: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** The longest subject accepted: what fits a NATS control line (4096 bytes) with room for the rest. */
export const MAX_CONTROL_LINE_SUBJECT = 4096 - 64;

/** Options of a `MemoryNats`. */
export interface MemoryNatsOptions {
  /** Seed of the random loss (`dropRate`); the same seed and the same traffic lose the same copies. */
  readonly seed?: number;
  /** Clock for `disconnect(conn, ms)` (default: the system's). */
  readonly timers?: Timers;
  /** The servers' `max_payload`, bytes (default 1 MiB). */
  readonly maxPayload?: number;
  /** What `rtt()` reports, ms (default 0). */
  readonly rtt?: number;
}

/** Options of one connection. */
export interface MemoryNatsConnectOptions {
  /** The connection's name (nats.js's `name`). */
  readonly name?: string;
  /** Never deliver to this connection what it published itself. */
  readonly noEcho?: boolean;
  /** The machine the client runs on, for `partition` (default `default`). */
  readonly host?: string;
  /** What `getServer()` reports (default `memory:4222`). */
  readonly server?: string;
}

/** Counters of a `MemoryNats`. */
export interface MemoryNatsStats {
  /** Open connections and their subscriptions. */
  readonly connections: number;
  readonly subscriptions: number;
  /** Messages the servers received from publishers (buffered ones count when sent). */
  readonly routed: number;
  /** Copies handed to subscription callbacks. */
  readonly delivered: number;
  /** Copies lost, all causes: the sum of the next three. */
  readonly dropped: number;
  /** Copies lost to `dropRate`. */
  readonly droppedRandom: number;
  /** Copies lost to a partition. */
  readonly droppedPartition: number;
  /** Copies lost because the receiving connection was disconnected. */
  readonly droppedDisconnected: number;
  /** Messages waiting in disconnected clients' buffers. */
  readonly buffered: number;
  /** Subscription callbacks that threw (each a bug in the code under test; see `errors`). */
  readonly callbackErrors: number;
}

/** mulberry32: a tiny seeded PRNG (32-bit state), uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function natsError(code: string, message: string): IsobrokerError {
  return new IsobrokerError(code, message);
}

type Callback = (err: Error | null, msg: NatsMsgLike) => void;

/** One subscription, as the server indexes it. */
interface Sub {
  readonly conn: MemoryNatsConnection;
  readonly subject: string;
  readonly callback: Callback;
  received: number;
  max: number;
  active: boolean;
}

/** A delivery (or a flush marker) waiting for the next microtask. */
type Pending = { readonly sub: Sub; readonly msg: NatsMsgLike; readonly epoch: number } | { readonly done: () => void };

/** The subscription handle given to the client. */
class MemorySubscription implements NatsSubscriptionLike {
  constructor(
    private readonly sub: Sub,
    private readonly server: MemoryNats,
  ) {}
  unsubscribe(max?: number): void {
    const sub = this.sub;
    if (!sub.active) return;
    if (max !== undefined && max > 0 && sub.received < max) {
      sub.max = max;
      return;
    }
    this.server.removeSub(sub);
  }
}

/** A status iterator: events pushed after its creation, until the connection closes. */
class StatusQueue implements AsyncIterableIterator<NatsStatusLike> {
  private readonly items: NatsStatusLike[] = [];
  private waiting: ((r: IteratorResult<NatsStatusLike>) => void) | undefined;
  private ended = false;

  constructor(private readonly owner: Set<StatusQueue>) {}

  push(s: NatsStatusLike): void {
    if (this.ended) return;
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w({ value: s, done: false });
    } else if (this.items.length < 1024) {
      this.items.push(s);
    }
  }

  end(): void {
    this.ended = true;
    this.owner.delete(this);
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<NatsStatusLike>> {
    const s = this.items.shift();
    if (s) return Promise.resolve({ value: s, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<NatsStatusLike>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<NatsStatusLike> {
    return this;
  }
}

/**
 * A NATS cluster in memory (all of its servers as one): connections, subscriptions, routing, and
 * the faults tests inject. See the module comment for the semantics.
 */
export class MemoryNats {
  /** Exceptions thrown by subscription callbacks (the first 100). */
  readonly errors: unknown[] = [];
  /** @internal */
  readonly timers: Timers;
  /** @internal */
  readonly maxPayload: number;
  /** @internal */
  readonly rttMs: number;
  private readonly random: () => number;
  private lossRate = 0;
  private readonly conns = new Set<MemoryNatsConnection>();
  private readonly index = new SubjectIndex<Sub>();
  /** Partitions; `b` undefined: `a` is cut off from every other host. */
  private readonly cuts: { readonly a: ReadonlySet<string>; readonly b: ReadonlySet<string> | undefined }[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private counters = {
    routed: 0,
    delivered: 0,
    droppedRandom: 0,
    droppedPartition: 0,
    droppedDisconnected: 0,
    callbackErrors: 0,
  };

  constructor(opts: MemoryNatsOptions = {}) {
    this.random = mulberry32(opts.seed ?? 1);
    this.timers = opts.timers ?? systemTimers;
    this.maxPayload = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.rttMs = opts.rtt ?? 0;
  }

  /** Opens a client connection (connected at once). */
  connect(opts: MemoryNatsConnectOptions = {}): MemoryNatsConnection {
    const conn = new MemoryNatsConnection(this, opts);
    this.conns.add(conn);
    return conn;
  }

  /** Hosts in `a` can no longer reach hosts in `b` nor the reverse: messages between them are lost silently. */
  partition(a: readonly string[], b: readonly string[]): void {
    this.cuts.push({ a: new Set(a), b: new Set(b) });
  }

  /** Cuts `hosts` off every other host (also hosts that connect later): a machine off the network. */
  isolate(...hosts: string[]): void {
    this.cuts.push({ a: new Set(hosts), b: undefined });
  }

  /** Ends every partition and isolation. */
  heal(): void {
    this.cuts.length = 0;
  }

  /** Loses each delivered copy with probability `p` (seeded, so a run replays); 0 ends the loss. */
  dropRate(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new ValueError(`dropRate: ${p} is not a probability in [0, 1]`);
    this.lossRate = p;
  }

  /**
   * Cuts `conn` off its server: it sees `disconnect`, buffers what it publishes, loses what others
   * publish to it; after `ms` (on the injected timers; never when omitted: call `reconnect`) it
   * sees `reconnect`, sends its buffer and keeps its subscriptions.
   */
  disconnect(conn: MemoryNatsConnection, ms?: number): void {
    conn.cut(ms);
  }

  /** Ends a cut made by `disconnect` at once. */
  reconnect(conn: MemoryNatsConnection): void {
    conn.restore();
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.conns].map((c) => c.close()));
  }

  /** Counters since creation. */
  stats(): MemoryNatsStats {
    const c = this.counters;
    let buffered = 0;
    for (const conn of this.conns) buffered += conn.bufferedCount;
    return {
      connections: this.conns.size,
      subscriptions: this.index.size,
      routed: c.routed,
      delivered: c.delivered,
      dropped: c.droppedRandom + c.droppedPartition + c.droppedDisconnected,
      droppedRandom: c.droppedRandom,
      droppedPartition: c.droppedPartition,
      droppedDisconnected: c.droppedDisconnected,
      buffered,
      callbackErrors: c.callbackErrors,
    };
  }

  /** @internal */
  addSub(conn: MemoryNatsConnection, subject: string, callback: Callback): Sub {
    const sub: Sub = { conn, subject, callback, received: 0, max: 0, active: true };
    this.index.add(subject, sub);
    return sub;
  }

  /** @internal */
  removeSub(sub: Sub): void {
    if (!sub.active) return;
    sub.active = false;
    sub.conn.forget(sub);
    this.index.delete(sub.subject, sub);
  }

  /** @internal */
  dropConnection(conn: MemoryNatsConnection): void {
    this.conns.delete(conn);
  }

  private blocked(from: string, to: string): boolean {
    if (from === to) return false;
    for (const { a, b } of this.cuts) {
      if (b === undefined) {
        if (a.has(from) !== a.has(to)) return true;
      } else if ((a.has(from) && b.has(to)) || (a.has(to) && b.has(from))) {
        return true;
      }
    }
    return false;
  }

  private offer(from: MemoryNatsConnection, sub: Sub, subject: string, data: Uint8Array): void {
    const to = sub.conn;
    if (from.noEcho && to === from) return;
    if (!to.isConnected()) {
      this.counters.droppedDisconnected++;
      return;
    }
    if (this.blocked(from.host, to.host)) {
      this.counters.droppedPartition++;
      return;
    }
    if (this.lossRate > 0 && this.random() < this.lossRate) {
      this.counters.droppedRandom++;
      return;
    }
    this.enqueue({ sub, msg: { subject, data: data.slice() }, epoch: to.epoch });
  }

  /** @internal The server received a message: one copy per matching subscription, delivered later. */
  route(from: MemoryNatsConnection, subject: string, data: Uint8Array): void {
    this.counters.routed++;
    this.index.match(subject, (sub) => this.offer(from, sub, subject, data));
  }

  /** @internal Runs `done` once everything queued before it was delivered. */
  marker(done: () => void): void {
    this.enqueue({ done });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    // Everything queued meanwhile (callbacks publishing) is delivered in this same pass, in order.
    for (let i = 0; i < this.queue.length; i++) {
      if (i >= 4096 && i * 2 >= this.queue.length) {
        // A long pass (callbacks keep publishing): let go of what was delivered.
        this.queue = this.queue.slice(i);
        i = 0;
      }
      const p = this.queue[i]!;
      if ('done' in p) {
        p.done();
        continue;
      }
      const { sub, msg } = p;
      if (!sub.active) continue;
      // A cut since routing (even one already over) lost what was in flight to the connection.
      if (!sub.conn.isConnected() || sub.conn.epoch !== p.epoch) {
        this.counters.droppedDisconnected++;
        continue;
      }
      sub.received++;
      if (sub.max > 0 && sub.received >= sub.max) this.removeSub(sub);
      this.counters.delivered++;
      try {
        sub.callback(null, msg);
      } catch (err) {
        this.counters.callbackErrors++;
        if (this.errors.length < 100) this.errors.push(err);
      }
    }
    this.queue = [];
    this.scheduled = false;
  };
}

type ConnState = 'connected' | 'disconnected' | 'closed';

/** A client connection to a `MemoryNats`, shaped like nats.js's `NatsConnection` (`NatsConnectionLike`). */
export class MemoryNatsConnection implements NatsConnectionLike {
  /** The connection's name. */
  readonly name: string;
  /** The machine the client runs on (for partitions). */
  readonly host: string;
  /** Whether the server never echoes this connection's own messages back. */
  readonly noEcho: boolean;
  /** The server's INFO, as nats.js exposes it. */
  readonly info: { readonly max_payload: number; readonly server_name: string };
  private state: ConnState = 'connected';
  /** @internal Cuts so far: a copy in flight across a cut is lost. */
  epoch = 0;
  private readonly server: string;
  private readonly subs = new Set<Sub>();
  private readonly statusQueues = new Set<StatusQueue>();
  private buffer: { readonly subject: string; readonly data: Uint8Array }[] = [];
  private waiters: { readonly resolve: () => void; readonly reject: (e: Error) => void }[] = [];
  private reconnectTimer: unknown;
  private resolveClosed!: (v: unknown) => void;
  private readonly closedPromise: Promise<unknown>;

  /** @internal Use `MemoryNats.connect`. */
  constructor(
    private readonly nats: MemoryNats,
    opts: MemoryNatsConnectOptions,
  ) {
    this.name = opts.name ?? '';
    this.host = opts.host ?? 'default';
    this.noEcho = opts.noEcho ?? false;
    this.server = opts.server ?? 'memory:4222';
    this.info = { max_payload: nats.maxPayload, server_name: this.server };
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Subscribes `subject` (wildcards allowed); the callback gets one copy per matching message. */
  subscribe(subject: string, opts: { callback: Callback }): NatsSubscriptionLike {
    if (this.state === 'closed') throw natsError('CONNECTION_CLOSED', 'connection closed');
    if (!isValidSubject(subject, true) || subject.length > MAX_CONTROL_LINE_SUBJECT) {
      throw natsError('BAD_SUBJECT', `bad subject: ${JSON.stringify(subject.slice(0, 200))}`);
    }
    const sub = this.nats.addSub(this, subject, opts.callback);
    this.subs.add(sub);
    return new MemorySubscription(sub, this.nats);
  }

  /** Publishes (a copy of `data`); buffered while disconnected, sent on reconnect. */
  publish(subject: string, data: Uint8Array = new Uint8Array(0)): void {
    if (this.state === 'closed') throw natsError('CONNECTION_CLOSED', 'connection closed');
    if (!isValidSubject(subject, false) || subject.length > MAX_CONTROL_LINE_SUBJECT) {
      throw natsError('BAD_SUBJECT', `bad subject: ${JSON.stringify(subject.slice(0, 200))}`);
    }
    if (data.length > this.info.max_payload) {
      throw natsError(
        'MAX_PAYLOAD_EXCEEDED',
        `payload of ${data.length} bytes over max_payload ${this.info.max_payload}`,
      );
    }
    if (this.state === 'disconnected') {
      this.buffer.push({ subject, data: data.slice() });
      return;
    }
    this.nats.route(this, subject, data);
  }

  /** Resolves once everything published before was delivered (after the reconnect while cut off). */
  flush(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(natsError('CONNECTION_CLOSED', 'connection closed'));
    return new Promise((resolve, reject) => {
      if (this.state === 'disconnected') this.waiters.push({ resolve, reject });
      else this.nats.marker(resolve);
    });
  }

  /** Status changes from now on (`disconnect`, `reconnecting`, `reconnect`), until the connection closes. */
  status(): AsyncIterable<NatsStatusLike> {
    const q = new StatusQueue(this.statusQueues);
    if (this.state === 'closed') q.end();
    else this.statusQueues.add(q);
    return q;
  }

  /** Resolves when the connection closed. */
  closed(): Promise<unknown> {
    return this.closedPromise;
  }

  /** True once closed. */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  /** @internal True while connected (not cut off, not closed). */
  isConnected(): boolean {
    return this.state === 'connected';
  }

  /** The server connected to (`host:port`). */
  getServer(): string {
    return this.server;
  }

  /** The configured round trip, once connected. */
  async rtt(): Promise<number> {
    await this.flush();
    return this.nats.rttMs;
  }

  /** Closes: subscriptions end, the client-side buffer is discarded, status iterators end. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.reconnectTimer !== undefined) this.nats.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const sub of [...this.subs]) this.nats.removeSub(sub);
    this.buffer = [];
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(natsError('CONNECTION_CLOSED', 'connection closed'));
    for (const q of [...this.statusQueues]) q.end();
    this.nats.dropConnection(this);
    this.resolveClosed(undefined);
  }

  /** @internal Messages waiting in the client-side buffer. */
  get bufferedCount(): number {
    return this.buffer.length;
  }

  /** @internal */
  forget(sub: Sub): void {
    this.subs.delete(sub);
  }

  /** @internal See `MemoryNats.disconnect`. */
  cut(ms: number | undefined): void {
    if (this.state !== 'connected') return;
    this.state = 'disconnected';
    this.epoch++;
    this.emit({ type: 'disconnect', data: this.server });
    if (ms !== undefined) {
      this.reconnectTimer = this.nats.timers.setTimeout(() => {
        this.reconnectTimer = undefined;
        this.restore();
      }, ms);
    }
  }

  /** @internal See `MemoryNats.reconnect`. */
  restore(): void {
    if (this.state !== 'disconnected') return;
    if (this.reconnectTimer !== undefined) this.nats.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.state = 'connected';
    this.emit({ type: 'reconnecting', data: this.server });
    this.emit({ type: 'reconnect', data: this.server });
    const buffer = this.buffer;
    this.buffer = [];
    for (const m of buffer) this.nats.route(this, m.subject, m.data);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) this.nats.marker(w.resolve);
  }

  private emit(s: NatsStatusLike): void {
    for (const q of this.statusQueues) q.push(s);
  }
}
