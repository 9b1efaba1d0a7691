/**
 * A seeded, fault-injecting, simulated network for convergence tests (CONVENTIONS 10), in the
 * spirit of Yjs's TestConnector and lib0's `--seed`:
 *
 * - `Rng`: a small seeded PRNG (mulberry32). One seed drives everything, so a failing run replays.
 * - `SimClock`: virtual time implementing the `Timers` seam. Endpoints, masters, clones and the
 *   network all run on it; `runUntil` fires timers in order and lets microtasks settle after each,
 *   so seconds of simulated chaos take a fraction of a second and replay exactly.
 * - `SimNetwork`: endpoints listen on names and dial each other through per-endpoint connectors.
 *   Every connection is two `Transport` ends joined by two FIFO directions (one WebSocket never
 *   reorders its own frames; frames on different links do overtake each other). Faults, each with
 *   a rate: random latency and latency spikes; hard cuts (both ends closed, the rest of the frames
 *   in flight lost, the pair unreachable for a while); half-open connections (one end told, the
 *   other left to its keepalive); endpoints going offline; silent partitions (frames held, nobody
 *   told: pings time out or the frames arrive late, and the sender's buffered bytes grow, so its
 *   outbox backs up and may overflow for real); dropped data messages (a send-buffer overflow:
 *   the overlay loses them; control frames are never dropped, as the outbox never drops them);
 *   and data frames delivered a second time over another link of the receiver (a mesh path: the
 *   endpoint's duplicate suppression must absorb it). `heal()` stops all faults.
 * - For minimal reproductions: `cut`, `stall`, `isolate` on demand, `dropWhere` (drop chosen
 *   messages), `watch` (observe delivered messages) and a trace of what happened.
 */
import type { Connector, Frame, Timers, Transport, TransportHandlers } from 'isobroker';
import { MessageKind, decodeFrame, encodeFrame, encodeMessage, type Acceptor } from '../../src/internal.js';

// ---- randomness

/** mulberry32: a tiny, fast, seeded PRNG with a 32-bit state. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  /** An independent generator (so one consumer's draws do not shift another's). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
  fill(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

// ---- virtual time

interface SimTimer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
  cancelled: boolean;
}

const before = (a: SimTimer, b: SimTimer): boolean => a.at < b.at || (a.at === b.at && a.order < b.order);
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Virtual time for every state machine of a simulation (the `Timers` seam). */
export class SimClock implements Timers {
  private t: number;
  private order = 0;
  private readonly heap: SimTimer[] = [];
  /** Exceptions thrown by timer callbacks (each one is a bug in the code under test). */
  readonly errors: unknown[] = [];
  /** Timers fired so far. */
  fired = 0;

  constructor(readonly start = 1_700_000_000_000) {
    this.t = start;
  }

  readonly now = (): number => this.t;

  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const timer: SimTimer = { at: this.t + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    const h = this.heap;
    h.push(timer);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return timer;
  };

  readonly clearTimeout = (handle: unknown): void => {
    if (handle && typeof handle === 'object' && 'cancelled' in handle) (handle as SimTimer).cancelled = true;
  };

  private pop(): SimTimer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }

  /**
   * Fires timers in time order until `cond` holds (checked every `pollMs` of virtual time, and
   * before the first timer) or `maxMs` of virtual time passed. Microtasks settle after each timer.
   * Returns whether `cond` held.
   */
  async runUntil(cond: () => boolean, maxMs: number, pollMs = 10): Promise<boolean> {
    const end = this.t + maxMs;
    await settle();
    let nextPoll = this.t;
    for (;;) {
      if (this.t >= nextPoll) {
        if (cond()) return true;
        nextPoll = this.t + pollMs;
      }
      while (this.heap[0]?.cancelled) this.pop();
      const next = this.heap[0];
      const stop = Math.min(end, nextPoll);
      if (!next || next.at > stop) {
        if (stop >= end) {
          this.t = end;
          return cond();
        }
        this.t = stop;
        continue;
      }
      this.pop();
      this.t = next.at;
      this.fired++;
      try {
        next.fn();
      } catch (err) {
        this.errors.push(err);
      }
      await settle();
    }
  }

  /** Lets `ms` of virtual time pass. */
  async run(ms: number): Promise<void> {
    await this.runUntil(() => false, ms, ms + 1);
  }
}

// ---- the network

export interface SimFaults {
  /** One-way latency of each frame, ms (uniform in the range). */
  readonly latency: readonly [number, number];
  /** Per link and second: the chance that the link turns slow (extra latency) for a while. */
  readonly spikeRate: number;
  readonly spikeMs: readonly [number, number];
  readonly spikeLatency: readonly [number, number];
  /** Per link and second: the chance of a hard cut (both ends closed, frames in flight partly lost). */
  readonly cutRate: number;
  /** How long a cut pair stays unreachable (dials fail), ms. */
  readonly downMs: readonly [number, number];
  /**
   * Per link and second: the chance that a connection goes half-open: one end is told it was
   * reset, the other hears nothing (no close, no frames) until its own keepalive gives up — as
   * when a NAT forgets a connection or a laptop sleeps. Dials succeed meanwhile.
   */
  readonly halfOpenRate: number;
  /** Per endpoint and second: the chance that an endpoint goes offline (every link cut and down) for a while. */
  readonly isolateRate: number;
  readonly isolateMs: readonly [number, number];
  /** Per link and second: the chance of a silent partition (frames held back, nobody told). */
  readonly stallRate: number;
  readonly stallMs: readonly [number, number];
  /** Per data message: the chance it is dropped (a send-buffer overflow). */
  readonly dropRate: number;
  /** Per delivered data frame: the chance it is delivered again over another link of the receiver. */
  readonly dupRate: number;
}

export const CALM: SimFaults = {
  latency: [1, 4],
  spikeRate: 0,
  spikeMs: [0, 0],
  spikeLatency: [0, 0],
  cutRate: 0,
  downMs: [0, 0],
  halfOpenRate: 0,
  isolateRate: 0,
  isolateMs: [0, 0],
  stallRate: 0,
  stallMs: [0, 0],
  dropRate: 0,
  dupRate: 0,
};

export interface SimNetworkOptions {
  /** Describes a data message for the trace (e.g. the store message it carries); undefined: not traced. */
  readonly describe?: (topic: string, valueBytes: Uint8Array) => string | undefined;
  /** How often faults are rolled, ms. @default 10 */
  readonly faultTick?: number;
  /** Trace lines kept. @default 400 */
  readonly traceSize?: number;
  /** Also trace every delivered data message that `describe` describes (verbose; for replays). @default false */
  readonly traceDeliveries?: boolean;
}

interface Pair {
  readonly name: string;
  downUntil: number;
  stallUntil: number;
  slowUntil: number;
  slowExtra: number;
  readonly conns: Set<SimConn>;
}

type Item = { readonly at: number } & (
  | { readonly frame: Frame; readonly bytes: number }
  | { readonly close: readonly [number, string] }
);

/** One direction of a connection: FIFO, delivered one item at a time on the clock. */
class Direction {
  items: Item[] = [];
  private lastAt = 0;
  private timer: unknown;
  constructor(
    private readonly net: SimNetwork,
    private readonly pair: Pair,
    readonly from: SimEnd,
    readonly to: SimEnd,
  ) {}

  /** Queues an item due at `at`, but never before the items already queued (FIFO). */
  push(
    item: { readonly frame: Frame; readonly bytes: number } | { readonly close: readonly [number, string] },
    at: number,
  ): void {
    this.lastAt = Math.max(this.lastAt, at);
    this.items.push({ ...item, at: this.lastAt });
    if ('frame' in item) this.from.inFlight += item.bytes;
    if (this.timer === undefined) this.arm();
  }

  /** Keeps the first `keep` items, loses the rest. */
  truncate(keep: number): void {
    for (const it of this.items.slice(keep)) if ('frame' in it) this.from.inFlight -= it.bytes;
    this.items = this.items.slice(0, keep);
  }

  /** (Re)schedules delivery of the head item (held while the pair is partitioned). */
  arm(): void {
    const clock = this.net.clock;
    if (this.timer !== undefined) clock.clearTimeout(this.timer);
    this.timer = undefined;
    const head = this.items[0];
    if (!head) return;
    const at = Math.max(head.at, this.pair.stallUntil);
    this.timer = clock.setTimeout(() => this.fire(), at - clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    const head = this.items[0];
    const now = this.net.clock.now();
    if (head && (now < head.at || now < this.pair.stallUntil)) {
      this.arm();
      return;
    }
    const item = this.items.shift();
    if (item) {
      if ('frame' in item) {
        this.from.inFlight -= item.bytes;
        this.net.delivered(this, item.frame);
      } else this.to.remoteClosed(item.close[0], item.close[1]);
    }
    this.arm();
  }
}

/** One end of a simulated connection, as the endpoint on that side sees it. */
class SimEnd implements Transport {
  inFlight = 0;
  /** Frames sent so far (the first is the hello). */
  sent = 0;
  out!: Direction;
  private handlers: TransportHandlers | undefined;
  private early: Frame[] = [];
  private closed = false;
  private reported: [number, string] | undefined;
  private told = false;

  constructor(
    private readonly net: SimNetwork,
    readonly conn: SimConn,
    /** The endpoint this end belongs to. */
    readonly owner: string,
    readonly remote: string,
  ) {}

  get isOpen(): boolean {
    return !this.closed;
  }

  send(frame: Frame): void {
    if (this.closed || this.conn.dead) return;
    this.sent++;
    this.net.transmit(this, frame);
  }

  bufferedAmount(): number {
    return this.inFlight;
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.conn.dead)
      this.out.push({ close: [code, reason] }, this.net.clock.now() + this.net.latency(this.conn.pair));
    this.net.clock.setTimeout(() => this.report(code, reason), 0);
  }

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new Error('transport already attached');
    this.handlers = handlers;
    for (const f of this.early.splice(0)) if (!this.closed) handlers.onMessage(f);
    if (this.reported) this.report(...this.reported);
  }

  receive(frame: Frame): void {
    if (this.closed) return;
    if (this.handlers) this.handlers.onMessage(frame);
    else this.early.push(frame);
  }

  remoteClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.report(code, reason);
  }

  private report(code: number, reason: string): void {
    this.reported ??= [code, reason];
    if (this.told || !this.handlers) return;
    this.told = true;
    this.net.closedEnd(this);
    this.handlers.onClose(code, reason);
  }
}

class SimConn {
  readonly client: SimEnd;
  readonly server: SimEnd;
  /** Cut: nothing more is transmitted (what was kept in flight still arrives). */
  dead = false;
  constructor(
    net: SimNetwork,
    readonly id: number,
    readonly pair: Pair,
    from: string,
    to: string,
    url: string,
  ) {
    this.client = new SimEnd(net, this, from, url);
    this.server = new SimEnd(net, this, to, `sim:${from}#${id}`);
    this.client.out = new Direction(net, pair, this.client, this.server);
    this.server.out = new Direction(net, pair, this.server, this.client);
  }
  get label(): string {
    return `${this.client.owner}->${this.server.owner}#${this.id}`;
  }
}

export interface SimStats {
  frames: number;
  dropped: number;
  duplicated: number;
  cuts: number;
  stalls: number;
  spikes: number;
  refused: number;
  connections: number;
}

export class SimNetwork {
  private readonly hosts = new Map<string, Acceptor>();
  private readonly pairs = new Map<string, Pair>();
  private faults: SimFaults = CALM;
  private dropFilter: ((topic: string, valueBytes: Uint8Array) => boolean) | undefined;
  private readonly watchers: ((topic: string, valueBytes: Uint8Array, from: string, to: string) => void)[] = [];
  private faultTimer: unknown;
  private nextConn = 1;
  private readonly trace: string[] = [];
  readonly stats: SimStats = {
    frames: 0,
    dropped: 0,
    duplicated: 0,
    cuts: 0,
    stalls: 0,
    spikes: 0,
    refused: 0,
    connections: 0,
  };

  constructor(
    readonly clock: SimClock,
    private readonly rng: Rng,
    private readonly opts: SimNetworkOptions = {},
  ) {}

  /** Makes `acceptor` reachable as `ws://<name>`. */
  listen(name: string, acceptor: Acceptor): string {
    this.hosts.set(name, acceptor);
    return `ws://${name}`;
  }

  /** The connector endpoint `from` dials with. */
  connectorFor(from: string): Connector {
    return (url) =>
      new Promise<Transport>((resolve, reject) => {
        const host = /^wss?:\/\/([^/]+)/.exec(url)?.[1] ?? '';
        const pair = this.pair(from, host);
        this.clock.setTimeout(() => {
          const acceptor = this.hosts.get(host);
          const now = this.clock.now();
          if (!acceptor || now < pair.downUntil || now < pair.stallUntil) {
            this.stats.refused++;
            this.log(`dial ${from}->${host} failed`);
            reject(new Error(`sim: cannot reach ${host} from ${from}`));
            return;
          }
          const conn = new SimConn(this, this.nextConn++, pair, from, host, url);
          pair.conns.add(conn);
          this.stats.connections++;
          this.log(`open ${conn.label}`);
          acceptor.accept(conn.server, 'native');
          resolve(conn.client);
        }, 2 * this.latency(pair));
      });
  }

  /** Changes the fault rates (from now on); starts rolling faults when any rate is set. */
  setFaults(change: Partial<SimFaults>): void {
    this.faults = { ...this.faults, ...change };
    const f = this.faults;
    const active = f.cutRate > 0 || f.halfOpenRate > 0 || f.isolateRate > 0 || f.stallRate > 0 || f.spikeRate > 0;
    if (active && this.faultTimer === undefined) this.rollFaults();
    if (!active && this.faultTimer !== undefined) {
      this.clock.clearTimeout(this.faultTimer);
      this.faultTimer = undefined;
    }
  }

  /**
   * Drops every data message for which `filter` returns true (a scripted fault, for minimal
   * reproductions); `undefined` stops it. Control messages are never dropped.
   */
  dropWhere(filter: ((topic: string, valueBytes: Uint8Array) => boolean) | undefined): void {
    this.dropFilter = filter;
  }

  /** Calls `fn` for every data message delivered to an open end (to observe a protocol). */
  watch(fn: (topic: string, valueBytes: Uint8Array, from: string, to: string) => void): void {
    this.watchers.push(fn);
  }

  /** Stops every fault: calm latency, no drops or duplicates, partitions over, pairs reachable. */
  heal(): void {
    this.setFaults(CALM);
    const now = this.clock.now();
    for (const p of this.pairs.values()) {
      p.downUntil = Math.min(p.downUntil, now);
      p.slowUntil = Math.min(p.slowUntil, now);
      if (p.stallUntil > now) {
        p.stallUntil = now;
        for (const c of p.conns) for (const d of [c.client.out, c.server.out]) d.arm();
      }
    }
    this.log('heal');
  }

  /**
   * Cuts every connection between `a` and `b` now. A `reset` closes both ends (each gets a prefix
   * of what was in flight, then the close) and keeps the pair unreachable for `downMs`; a
   * `half-open` cut tells one end (`told`, else one at random) and leaves the other to find out
   * by itself.
   */
  cut(
    a: string,
    b: string,
    opts: { readonly downMs?: number; readonly mode?: 'reset' | 'half-open'; readonly told?: string } = {},
  ): void {
    const { downMs = 0, mode = 'reset' } = opts;
    const pair = this.pair(a, b);
    const now = this.clock.now();
    pair.downUntil = Math.max(pair.downUntil, now + downMs);
    for (const c of [...pair.conns]) {
      if (c.dead) continue;
      c.dead = true;
      this.stats.cuts++;
      const told =
        mode === 'reset'
          ? undefined
          : opts.told !== undefined
            ? c.client.owner === opts.told
              ? c.client
              : c.server
            : this.rng.pick([c.client, c.server]);
      for (const d of [c.client.out, c.server.out]) {
        const keep = this.rng.int(0, d.items.length);
        const lost = d.items.length - keep;
        d.truncate(keep);
        if (told === undefined || told === d.to)
          d.push({ close: [1006, `sim: connection ${mode}`] }, now + this.latency(pair));
        if (lost > 0) this.log(`cut ${c.label}: ${lost} frame(s) ${d.from.owner}->${d.to.owner} lost`);
      }
      this.log(`cut ${c.label} (${mode}${told ? `, only ${told.owner} is told` : `, down ${downMs} ms`})`);
    }
  }

  /** Takes endpoint `name` offline for `ms`: every connection of it is cut and no dial reaches it or leaves it. */
  isolate(name: string, ms: number): void {
    this.log(`isolate ${name} for ${ms} ms`);
    for (const p of [...this.pairs.values()]) {
      const [a, b] = p.name.split('|') as [string, string];
      if (a === name || b === name) this.cut(a, b, { downMs: ms });
    }
  }

  /** Holds every frame between `a` and `b` for `ms` (a silent partition). */
  stall(a: string, b: string, ms: number): void {
    const pair = this.pair(a, b);
    pair.stallUntil = Math.max(pair.stallUntil, this.clock.now() + ms);
    this.stats.stalls++;
    this.log(`stall ${pair.name} for ${ms} ms`);
  }

  /** Adds a line to the trace (e.g. a state change of the system under test). */
  note(line: string): void {
    this.log(line);
  }

  /** The last lines of the trace (faults, connections, dropped and duplicated store traffic). */
  traceTail(n = 80): string[] {
    return this.trace.slice(-n);
  }

  /** Live connections, by label. */
  connections(): string[] {
    const out: string[] = [];
    for (const p of this.pairs.values()) for (const c of p.conns) out.push(c.label);
    return out;
  }

  // ---- internals used by ends and directions

  latency(pair: Pair): number {
    const [lo, hi] = this.faults.latency;
    const extra = this.clock.now() < pair.slowUntil ? pair.slowExtra : 0;
    return this.rng.int(lo, hi) + extra;
  }

  transmit(from: SimEnd, frame: Frame): void {
    let out: Frame | undefined = frame;
    if ((this.faults.dropRate > 0 || this.dropFilter) && typeof frame !== 'string') out = this.dropSome(from, frame);
    if (out === undefined) return;
    this.stats.frames++;
    const bytes = typeof out === 'string' ? out.length : out.byteLength;
    const copy = typeof out === 'string' ? out : out.slice();
    from.out.push({ frame: copy, bytes }, this.clock.now() + this.latency(from.conn.pair));
  }

  delivered(d: Direction, frame: Frame): void {
    if (this.watchers.length > 0 && typeof frame !== 'string' && d.to.isOpen) {
      for (const m of decodeFrame(frame)) {
        if (m.kind === MessageKind.Data)
          for (const w of this.watchers) w(m.topic, m.valueBytes, d.from.owner, d.to.owner);
      }
    }
    if (this.opts.traceDeliveries && typeof frame !== 'string' && d.to.isOpen) {
      const what = this.describeFrame(frame, false);
      if (what) this.log(`recv ${d.from.owner}->${d.to.owner}: ${what}`);
    }
    d.to.receive(frame);
    if (
      this.faults.dupRate > 0 &&
      typeof frame !== 'string' &&
      this.rng.chance(this.faults.dupRate) &&
      dataOnly(frame)
    ) {
      // The same messages reach the receiver over another of its links too (a mesh path).
      const others: SimEnd[] = [];
      for (const p of this.pairs.values()) {
        for (const c of p.conns) {
          if (c === d.from.conn || c.dead) continue;
          const mine = c.client.owner === d.to.owner ? c.client : c.server.owner === d.to.owner ? c.server : undefined;
          const theirs = mine === c.client ? c.server : c.client;
          // Only over a connection whose hello went first (data before a hello is a protocol error).
          if (mine?.isOpen && theirs.isOpen && theirs.sent > 0) others.push(theirs);
        }
      }
      if (others.length === 0) return;
      const via = this.rng.pick(others);
      this.stats.duplicated++;
      this.log(`dup ${d.from.owner}->${d.to.owner} again via ${via.owner}: ${this.describeFrame(frame)}`);
      via.out.push({ frame: frame.slice(), bytes: frame.byteLength }, this.clock.now() + this.latency(via.conn.pair));
    }
  }

  closedEnd(end: SimEnd): void {
    const c = end.conn;
    if (!c.client.isOpen && !c.server.isOpen && c.pair.conns.delete(c)) this.log(`closed ${c.label}`);
  }

  private dropSome(from: SimEnd, frame: Uint8Array): Uint8Array | undefined {
    let msgs: ReturnType<typeof decodeFrame>;
    try {
      msgs = decodeFrame(frame);
    } catch {
      return frame;
    }
    if (msgs.length === 0 || msgs.some((m) => m.kind !== MessageKind.Data)) return frame; // control is never dropped
    const kept = msgs.filter((m) => {
      const scripted = m.kind === MessageKind.Data && this.dropFilter?.(m.topic, m.valueBytes) === true;
      if (!scripted && !this.rng.chance(this.faults.dropRate)) return true;
      this.stats.dropped++;
      if (m.kind === MessageKind.Data) {
        const what = this.opts.describe?.(m.topic, m.valueBytes);
        if (what !== undefined) this.log(`drop ${from.owner}->${from.out.to.owner}: ${what}`);
      }
      return false;
    });
    if (kept.length === msgs.length) return frame;
    return kept.length === 0 ? undefined : encodeFrame(kept.map((m) => encodeMessage(m)));
  }

  private describeFrame(frame: Uint8Array, placeholder = true): string {
    const parts: string[] = [];
    let msgs: ReturnType<typeof decodeFrame>;
    try {
      msgs = decodeFrame(frame);
    } catch {
      return placeholder ? '(undecodable)' : '';
    }
    for (const m of msgs) {
      if (m.kind !== MessageKind.Data) continue;
      const what = this.opts.describe?.(m.topic, m.valueBytes);
      if (what !== undefined) parts.push(what);
    }
    return parts.length === 0 && placeholder ? '(no store messages)' : parts.join('; ');
  }

  private pair(a: string, b: string): Pair {
    const name = a < b ? `${a}|${b}` : `${b}|${a}`;
    let p = this.pairs.get(name);
    if (!p) {
      p = { name, downUntil: 0, stallUntil: 0, slowUntil: 0, slowExtra: 0, conns: new Set() };
      this.pairs.set(name, p);
    }
    return p;
  }

  private rollFaults(): void {
    const tick = this.opts.faultTick ?? 10;
    this.faultTimer = this.clock.setTimeout(() => {
      const f = this.faults;
      const now = this.clock.now();
      const per = tick / 1000;
      for (const host of [...this.hosts.keys()])
        if (this.rng.chance(f.isolateRate * per)) this.isolate(host, this.rng.int(...f.isolateMs));
      for (const p of this.pairs.values()) {
        const [a, b] = p.name.split('|') as [string, string];
        if (this.rng.chance(f.cutRate * per)) this.cut(a, b, { downMs: this.rng.int(...f.downMs) });
        if (this.rng.chance(f.halfOpenRate * per)) this.cut(a, b, { mode: 'half-open' });
        if (now >= p.stallUntil && this.rng.chance(f.stallRate * per)) this.stall(a, b, this.rng.int(...f.stallMs));
        if (now >= p.slowUntil && this.rng.chance(f.spikeRate * per)) {
          p.slowUntil = now + this.rng.int(...f.spikeMs);
          p.slowExtra = this.rng.int(...f.spikeLatency);
          this.stats.spikes++;
          this.log(`slow ${p.name}: +${p.slowExtra} ms until +${p.slowUntil - now} ms`);
        }
      }
      this.rollFaults();
    }, tick);
  }

  private log(line: string): void {
    this.trace.push(`t=${this.clock.now() - this.clock.start} ${line}`);
    const max = this.opts.traceSize ?? 400;
    if (this.trace.length > max) this.trace.splice(0, this.trace.length - max);
  }
}

function dataOnly(frame: Uint8Array): boolean {
  try {
    const msgs = decodeFrame(frame);
    return msgs.length > 0 && msgs.every((m) => m.kind === MessageKind.Data);
  } catch {
    return false;
  }
}
