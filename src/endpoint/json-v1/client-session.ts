/**
 * Client side of Broker's JSON v1 WebSocket protocol: our endpoint talking to a Zeek
 * (`Broker::listen_websocket`, `Cluster::listen_websocket`) or to any isobroker hub's JSON path.
 * The handshake carries our subscriptions; JSON v1 cannot change them later, so the endpoint
 * reconnects with a new handshake when they change. Events travel here, not stores or logs.
 *
 * What we send is encoded as a lossless client (`role: 'client'`: shortest round-trip reals,
 * nanosecond timestamps), with the string escapes chosen in `links.jsonServers.stringEscapes`;
 * what we read may hold Broker's bare `nan`, `inf`, `-inf` reals. A value that JSON v1 cannot
 * carry (a non-finite real) is not sent and is reported as a `serialization_failed` error.
 */
import type { Data } from '../../data/types.js';
import { DecodeError } from '../../errors.js';
import { encodeJsonHandshake, encodeJsonMessage, type JsonEncodeOptions } from '../../codec/json-v1/encode.js';
import type { JsonLimits } from '../../codec/json-v1/json-parse.js';
import { DEFAULT_LINKS, type ResolvedLinks } from '../links.js';
import { decodeJsonMessage } from '../../codec/json-v1/message.js';
import { CloseCode, type Frame, type Transport } from '../../transport/transport.js';
import { Outbox } from '../outbox.js';
import type { SessionConfig } from '../native-session.js';
import type { Peering } from '../peering.js';
import type { SendQueueStats } from '../../util/send-queue.js';
import type { PeerInfo, Session } from '../sessions.js';

/** What a JSON v1 client session reports to its owner (the JSON v1 plug-in). */
export interface JsonClientEvents {
  acked(s: JsonClientSession): void;
  message(s: JsonClientSession, topic: string, data: Data): void;
  /** The server reported an error (or sent something we cannot decode). */
  serverError(s: JsonClientSession, code: string, context: string): void;
  closed(s: JsonClientSession, code: number, reason: string): void;
}

/** Our session with a JSON v1 server (a Zeek), dialled for a peering. */
export class JsonClientSession implements Session {
  readonly protocol = 'json' as const;
  readonly direction = 'outbound' as const;
  peerId: string | undefined;
  peerVersion = '';
  established = false;
  private readonly outbox: Outbox<string>;
  private closed = false;
  private lastHeard: number;
  private watchdog: unknown;
  private readonly encodeOptions: JsonEncodeOptions;
  private readonly limits: JsonLimits;

  constructor(
    readonly transport: Transport,
    readonly peering: Peering,
    readonly filter: readonly string[],
    private readonly cfg: SessionConfig & { readonly links?: ResolvedLinks },
    private readonly events: JsonClientEvents,
  ) {
    this.lastHeard = cfg.timers.now();
    const link = cfg.links?.jsonServers ?? DEFAULT_LINKS.jsonServers;
    this.encodeOptions = { role: 'client', stringEscapes: link.stringEscapes };
    this.limits = {
      maxTextLength: link.maxMessageSize,
      maxStringLength: link.maxStringSize,
      allowNonFiniteReals: true,
    };
    this.outbox = new Outbox<string>(transport, {
      limit: link.bufferSize,
      policy: link.overflowPolicy,
      highWaterMark: cfg.highWaterMark,
      maxBatch: cfg.maxBatch,
      toFrames: (items) => items,
      timers: cfg.timers,
      byteLimit: link.bufferBytes,
      writeTimeout: link.writeTimeout,
      // The server does not drain our writes: reported locally, and the peering redials.
      onStall: (context) => {
        this.events.serverError(this, 'buffer_overflow', context);
        this.close(CloseCode.PolicyViolation, 'write deadline');
      },
    });
    this.outbox.pushControl(encodeJsonHandshake(filter, this.encodeOptions));
    transport.attach({
      onMessage: (f) => this.onFrame(f),
      onClose: (code, reason) => this.onClosed(code, reason),
    });
    this.armWatchdog();
  }

  get remote(): string {
    return this.transport.remote;
  }

  publish(topic: string, data: Data): void {
    let text: string;
    try {
      text = encodeJsonMessage({ type: 'data-message', topic, data }, this.encodeOptions);
    } catch (err) {
      // Not representable in JSON v1 (NaN, ±Infinity): nothing is sent.
      this.events.serverError(
        this,
        'serialization_failed',
        `message on topic ${JSON.stringify(topic)} not sent: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    if (this.outbox.push(text) === 'overflow-disconnect') {
      this.transport.close(CloseCode.PolicyViolation, 'send buffer overflow');
    }
  }

  stats(): SendQueueStats {
    return this.outbox.stats();
  }

  /** Shown once the server acked our handshake. */
  info(): PeerInfo | undefined {
    if (!this.established || this.closed) return undefined;
    return {
      id: this.peerId!,
      url: this.remote,
      protocol: 'json',
      direction: 'outbound',
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

  private onFrame(f: Frame): void {
    if (this.closed) return;
    this.lastHeard = this.cfg.timers.now();
    if (typeof f !== 'string') {
      this.events.serverError(this, 'deserialization_failed', 'binary frame from a JSON v1 server');
      return;
    }
    let msg: ReturnType<typeof decodeJsonMessage>;
    try {
      msg = decodeJsonMessage(f, this.limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.events.serverError(this, 'deserialization_failed', err.message);
      return;
    }
    switch (msg.type) {
      case 'ack':
        this.peerId = msg.endpoint;
        this.peerVersion = msg.version;
        this.established = true;
        this.events.acked(this);
        break;
      case 'error':
        this.events.serverError(this, msg.code, msg.context);
        break;
      case 'data-message':
        this.events.message(this, msg.topic, msg.data);
        break;
    }
  }

  // JSON v1 has no application-level ping; the server pings at the WebSocket level. We only
  // notice a server that stays silent through the whole handshake.
  private armWatchdog(): void {
    const { pingTimeout, timers } = this.cfg;
    if (pingTimeout <= 0) return;
    this.watchdog = timers.setTimeout(() => {
      if (this.closed || this.established) return;
      if (timers.now() - this.lastHeard >= pingTimeout) this.transport.close(CloseCode.GoingAway, 'no ack');
      else this.armWatchdog();
    }, pingTimeout);
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.close();
    if (this.watchdog !== undefined) this.cfg.timers.clearTimeout(this.watchdog);
    this.events.closed(this, code, reason);
  }
}
