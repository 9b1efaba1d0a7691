/**
 * Server side of Broker's JSON v1 WebSocket protocol, for a client connected to our listener:
 * handshake (array of topic prefixes) → ack; then data messages both ways. Bad input gets Broker's
 * error messages and the connection stays open; a client that cannot keep up is told why before
 * it is disconnected (Broker closes silently).
 */
import type { Data } from '../data/types.js';
import { DecodeError } from '../errors.js';
import { encodeJsonMessage } from '../codec/json-v1-encode.js';
import { decodeJsonHandshake, decodeJsonMessage } from '../codec/json-v1-message.js';
import { CloseCode, type Frame, type Transport } from '../transport/transport.js';
import { Outbox } from './outbox.js';
import { MAX_FILTER_PREFIXES } from './limits.js';
import type { SessionConfig } from './native-session.js';
import type { SendQueueStats } from './send-queue.js';

export interface JsonServerEvents {
  subscribed(s: JsonServerSession, filter: readonly string[]): void;
  publish(s: JsonServerSession, topic: string, data: Data): void;
  closed(s: JsonServerSession, code: number, reason: string): void;
}

export interface JsonServerConfig extends SessionConfig {
  /** Version string put in acks. */
  readonly version: string;
}

export class JsonServerSession {
  filter: readonly string[] | undefined;
  private readonly outbox: Outbox<string>;
  private inputs = 0;
  private closed = false;

  constructor(
    readonly transport: Transport,
    private readonly cfg: JsonServerConfig,
    private readonly events: JsonServerEvents,
  ) {
    this.outbox = new Outbox<string>(transport, {
      limit: cfg.sendBufferSize,
      policy: cfg.overflowPolicy,
      highWaterMark: cfg.highWaterMark,
      maxBatch: cfg.maxBatch,
      toFrames: (items) => items,
      timers: cfg.timers,
    });
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
    if (this.outbox.push(json) === 'overflow-disconnect') {
      this.error(
        'buffer_overflow',
        `send buffer of ${this.cfg.sendBufferSize} messages overflowed: this client reads too slowly; disconnecting`,
      );
      this.outbox.flushNow();
      this.transport.close(CloseCode.PolicyViolation, 'send buffer overflow');
    }
  }

  stats(): SendQueueStats {
    return this.outbox.queue.stats();
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    this.outbox.flushNow();
    this.transport.close(code, reason);
  }

  /** Refuses the client's last input with an error (the connection stays open). */
  reject(context: string): void {
    this.error('deserialization_failed', `input #${this.inputs}: ${context}`);
  }

  private error(code: string, context: string): void {
    this.outbox.pushControl(encodeJsonMessage({ type: 'error', code, context }));
  }

  private onFrame(f: Frame): void {
    if (this.closed) return;
    if (this.filter === undefined) {
      this.onHandshake(f);
      return;
    }
    const n = ++this.inputs;
    if (typeof f !== 'string') {
      this.error('deserialization_failed', `input #${n}: binary frame on the JSON path; send text frames`);
      return;
    }
    let msg;
    try {
      msg = decodeJsonMessage(f);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.error('deserialization_failed', `input #${n} contained invalid data: ${err.message}`);
      return;
    }
    if (msg.type !== 'data-message') {
      this.error('deserialization_failed', `input #${n}: expected a data-message, got '${msg.type}'`);
      return;
    }
    this.events.publish(this, msg.topic, msg.data);
  }

  private onHandshake(f: Frame): void {
    let filter: string[];
    try {
      if (typeof f !== 'string') throw new DecodeError('subscriptions not an array');
      filter = decodeJsonHandshake(f);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      // As Zeek does: no ack, the connection stays open and waits for a valid handshake.
      this.error('deserialization_failed', err.message);
      return;
    }
    if (filter.length > MAX_FILTER_PREFIXES) {
      this.error('deserialization_failed', `too many subscriptions: ${filter.length}, the limit is ${MAX_FILTER_PREFIXES}`);
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
    this.events.closed(this, code, reason);
  }
}
