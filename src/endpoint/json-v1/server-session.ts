/**
 * Server side of Broker's JSON v1 WebSocket protocol, for a client connected to our listener:
 * handshake (array of topic prefixes) → ack; then data messages both ways. Bad input gets Broker's
 * error messages and the connection stays open — up to a point: error replies are rate-limited and
 * count against the client's send buffer, and a client that keeps sending bad input is closed
 * (`BadInputGuard`). The handshake must arrive within `handshakeTimeout`. A client that cannot keep
 * up is treated by its link options (`links.jsonClients`): by default as Broker's server does (a
 * buffer of 512 messages, then a `buffer_overflow` error and the connection closed); with a drop
 * policy it stays connected and is told how many messages it lost (a `buffer_overflow` error with
 * the count, at most one per `DROP_NOTICE_INTERVAL_MS`). The buffer is also bounded in characters
 * (`bufferBytes`), and a client whose connection does not drain for `writeTimeout` is dropped with
 * a `buffer_overflow` error, whatever the policy.
 */
import type { Data } from '../../data/types.js';
import { DecodeError } from '../../errors.js';
import { encodeJsonMessage } from '../../codec/json-v1/encode.js';
import { decodeJsonHandshake, decodeJsonMessage, inputErrorContext } from '../../codec/json-v1/message.js';
import type { JsonLimits } from '../../codec/json-v1/json-parse.js';
import { DEFAULT_LINKS, type ResolvedLinkOptions, type ResolvedLinks } from '../links.js';
import { CloseCode, type Frame, type Transport } from '../../transport/transport.js';
import { Outbox } from '../outbox.js';
import { BadInputGuard, MAX_FILTER_PREFIXES, errorContext } from '../limits.js';
import type { SessionConfig } from '../native-session.js';
import type { SendQueueStats } from '../../util/send-queue.js';
import type { ConnectionAccess } from '../access.js';
import type { PeerInfo, Session } from '../sessions.js';

/** What a JSON v1 client's session (server side) reports to its owner. */
export interface JsonServerEvents {
  subscribed(s: JsonServerSession, filter: readonly string[]): void;
  publish(s: JsonServerSession, topic: string, data: Data): void;
  closed(s: JsonServerSession, code: number, reason: string): void;
}

/** The settings of a server-side JSON v1 session. */
export interface JsonServerConfig extends SessionConfig {
  /** Version string put in acks. */
  readonly version: string;
  /** Options per kind of link (this session uses `jsonClients`). @default DEFAULT_LINKS */
  readonly links?: ResolvedLinks;
}

/** Least time between two notices of dropped messages to one client, ms. */
export const DROP_NOTICE_INTERVAL_MS = 1000;

/** The server side of a JSON v1 client connected to our listener. */
export class JsonServerSession implements Session {
  readonly protocol = 'json' as const;
  readonly direction = 'inbound' as const;
  readonly peering = undefined;
  /** JSON v1 clients do not tell their endpoint id. */
  readonly peerId = undefined;
  filter: readonly string[] | undefined;
  /** The principal's checks, for a connection accepted with authentication (else trusted). */
  access: ConnectionAccess | undefined;
  private readonly outbox: Outbox<string>;
  private inputs = 0;
  private closed = false;
  private readonly link: ResolvedLinkOptions;
  private readonly limits: JsonLimits;
  /** Messages dropped since the last notice. */
  private droppedUnreported = 0;
  private noticeTimer: unknown;
  private handshakeTimer: unknown;
  private readonly badInput: BadInputGuard;

  constructor(
    readonly transport: Transport,
    private readonly cfg: JsonServerConfig,
    private readonly events: JsonServerEvents,
  ) {
    this.link = cfg.links?.jsonClients ?? DEFAULT_LINKS.jsonClients;
    this.limits = { maxTextLength: this.link.maxMessageSize, maxStringLength: this.link.maxStringSize };
    this.outbox = new Outbox<string>(transport, {
      limit: this.link.bufferSize,
      policy: this.link.overflowPolicy,
      highWaterMark: cfg.highWaterMark,
      maxBatch: cfg.maxBatch,
      toFrames: (items) => items,
      timers: cfg.timers,
      byteLimit: this.link.bufferBytes,
      writeTimeout: this.link.writeTimeout,
      onStall: (context) => this.drop(context),
    });
    this.badInput = new BadInputGuard(cfg.timers.now);
    if (this.link.handshakeTimeout > 0)
      this.handshakeTimer = cfg.timers.setTimeout(() => {
        this.handshakeTimer = undefined;
        if (this.closed || this.filter !== undefined) return;
        this.outbox.pushControl(
          encodeJsonMessage({
            type: 'error',
            code: 'peer_timeout',
            context: `no handshake (a JSON array of topic prefixes) within ${this.link.handshakeTimeout} ms; closing`,
          }),
        );
        this.close(CloseCode.PolicyViolation, 'handshake timeout');
      }, this.link.handshakeTimeout);
    transport.attach({
      onMessage: (f) => this.onFrame(f),
      onClose: (code, reason) => this.onClosed(code, reason),
    });
  }

  get remote(): string {
    return this.transport.remote;
  }

  /** Queues an encoded data message (JSON text). */
  sendData(json: string): void {
    if (this.closed) return;
    const before = this.outbox.queue.overflowCount;
    const r = this.outbox.push(json);
    if (r === 'overflow-disconnect') {
      this.drop(
        `send buffer of ${this.link.bufferSize} messages or ${this.link.bufferBytes} characters overflowed: ` +
          `this client reads too slowly; ${this.outbox.describe()}; disconnecting`,
      );
      return;
    }
    const dropped = this.outbox.queue.overflowCount - before; // this one (drop_newest) or older ones
    if (dropped > 0) {
      this.droppedUnreported += dropped;
      if (this.noticeTimer === undefined) this.noticeDrops();
    }
  }

  /**
   * Drops the client as Broker does: the backlog is dropped and `buffer_overflow` (with `context`)
   * is its last message before the close.
   */
  private drop(context: string): void {
    if (this.closed) return;
    this.outbox.dropQueued();
    this.outbox.pushControl(encodeJsonMessage({ type: 'error', code: 'buffer_overflow', context }));
    this.close(CloseCode.PolicyViolation, 'send buffer overflow');
  }

  /** Tells the client how many messages it lost, then waits before the next notice. */
  private noticeDrops(): void {
    const n = this.droppedUnreported;
    if (this.closed || n === 0) {
      this.noticeTimer = undefined;
      return;
    }
    this.droppedUnreported = 0;
    this.notice(
      'buffer_overflow',
      `dropped ${n} message${n === 1 ? '' : 's'}: send buffer of ${this.link.bufferSize} messages or ` +
        `${this.link.bufferBytes} characters full (policy ${this.link.overflowPolicy}); this client reads too slowly`,
    );
    this.noticeTimer = this.cfg.timers.setTimeout(() => this.noticeDrops(), DROP_NOTICE_INTERVAL_MS);
  }

  stats(): SendQueueStats {
    return this.outbox.stats();
  }

  /** Whether its handshake (the subscription list) came and was acked. */
  get established(): boolean {
    return this.filter !== undefined;
  }

  /** Shown once its handshake was acked. */
  info(): PeerInfo | undefined {
    if (this.filter === undefined || this.closed) return undefined;
    return {
      url: this.remote,
      protocol: 'json',
      direction: 'inbound',
      status: 'connected',
      stats: this.outbox.stats(),
    };
  }

  /** True once the transport closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    this.outbox.flushNow();
    this.transport.close(code, reason);
  }

  /** Refuses the client's last input with an error (the connection stays open). */
  reject(context: string): void {
    this.badInputError('deserialization_failed', `input #${this.inputs} contained invalid data -> ${context}`);
  }

  /** Sends an error message (rate-limiting is the caller's); the connection stays open. */
  sendError(code: string, context: string): void {
    if (!this.closed) this.notice(code, errorContext(context));
  }

  /** Drops what is queued for the client, sends an error and closes with 1008. */
  refuse(code: string, context: string): void {
    if (this.closed) return;
    this.outbox.dropQueued();
    this.outbox.pushControl(encodeJsonMessage({ type: 'error', code, context: errorContext(context) }));
    this.close(CloseCode.PolicyViolation, code);
  }

  /** An optional message to the client: dropped when it would not fit the send buffer. */
  private notice(code: string, context: string): void {
    this.outbox.pushNotice(encodeJsonMessage({ type: 'error', code, context }));
  }

  /**
   * Answers bad input, within limits: replies are rate-limited (the ones left out are counted in
   * the next), and a client that keeps sending bad input is closed.
   */
  private badInputError(code: string, context: string): void {
    if (this.closed) return;
    const action = this.badInput.record();
    if (action === 'close') {
      this.outbox.pushControl(encodeJsonMessage({ type: 'error', code, context: this.badInput.closeContext() }));
      this.close(CloseCode.PolicyViolation, 'too much bad input');
    } else if (action === 'reply') this.notice(code, errorContext(context, this.badInput.takeUnreported()));
  }

  /** Bad inputs from this client so far. */
  get badInputs(): number {
    return this.badInput.total;
  }

  private onFrame(f: Frame): void {
    if (this.closed) return;
    if (this.filter === undefined) {
      this.onHandshake(f);
      return;
    }
    const n = ++this.inputs;
    if (typeof f !== 'string') {
      this.badInputError(
        'deserialization_failed',
        `input #${n} contained malformed JSON -> binary frame on the JSON path; send text frames`,
      );
      return;
    }
    let msg: ReturnType<typeof decodeJsonMessage>;
    try {
      msg = decodeJsonMessage(f, this.limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.badInputError('deserialization_failed', inputErrorContext(n, err));
      return;
    }
    if (msg.type !== 'data-message') {
      this.badInputError(
        'deserialization_failed',
        `input #${n} contained invalid data -> expected a data-message, got '${msg.type}'`,
      );
      return;
    }
    this.events.publish(this, msg.topic, msg.data);
  }

  private onHandshake(f: Frame): void {
    let filter: string[];
    try {
      if (typeof f !== 'string') throw new DecodeError('subscriptions not an array');
      filter = decodeJsonHandshake(f, this.limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      // As Zeek does: no ack, the connection stays open and waits for a valid handshake.
      this.badInputError('deserialization_failed', err.message);
      return;
    }
    if (filter.length > MAX_FILTER_PREFIXES) {
      this.badInputError(
        'deserialization_failed',
        `too many subscriptions: ${filter.length}, the limit is ${MAX_FILTER_PREFIXES}`,
      );
      return;
    }
    this.filter = [...new Set(filter)];
    this.outbox.pushControl(encodeJsonMessage({ type: 'ack', endpoint: this.cfg.selfId, version: this.cfg.version }));
    this.events.subscribed(this, this.filter);
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.close();
    if (this.noticeTimer !== undefined) this.cfg.timers.clearTimeout(this.noticeTimer);
    if (this.handshakeTimer !== undefined) this.cfg.timers.clearTimeout(this.handshakeTimer);
    this.events.closed(this, code, reason);
  }
}
