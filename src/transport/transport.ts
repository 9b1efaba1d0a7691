/**
 * The transport seam: one bidirectional, message-oriented, ordered connection (a WebSocket, or an
 * in-memory pair in tests). Binary frames carry the native protocol, text frames Broker JSON v1.
 */
import { IsobrokerError } from '../errors.js';

/** One WebSocket message: binary (native protocol) or text (Broker JSON v1). */
export type Frame = Uint8Array | string;

/** What a transport calls when a frame arrives or the connection closes. */
export interface TransportHandlers {
  /** One frame arrived. */
  onMessage(frame: Frame): void;
  /** The connection closed (by either side or by failure); called once. */
  onClose(code: number, reason: string): void;
}

/** One ordered, message-oriented connection; the seam every platform connection is adapted to. */
export interface Transport {
  /** Sends one frame. Frames sent after close are dropped. */
  send(frame: Frame): void;
  /** Bytes handed to `send` but not yet written to the network (0 when unknown). */
  bufferedAmount(): number;
  /** Closes the connection; `onClose` follows. */
  close(code?: number, reason?: string): void;
  /** Attaches the receiver; frames that arrived earlier are delivered now. Call once. */
  attach(handlers: TransportHandlers): void;
  /** The URL dialled (client side) or the remote address (server side), for status messages. */
  readonly remote: string;
}

/** Opens a client transport to `url`; rejects when the connection cannot be established. */
export type Connector = (url: string) => Promise<Transport>;

/** WebSocket close codes used by isobroker. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

/**
 * A small helper for transport implementations: buffers frames that arrive before `attach`, and
 * guarantees `onClose` is reported once.
 */
export class TransportInbox {
  private handlers: TransportHandlers | undefined;
  private pending: Frame[] = [];
  private closed: [number, string] | undefined;
  private reported = false;

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new IsobrokerError('invalid_state', 'transport already attached');
    this.handlers = handlers;
    const pending = this.pending;
    this.pending = [];
    for (const f of pending) handlers.onMessage(f);
    if (this.closed) this.reportClose();
  }

  message(frame: Frame): void {
    if (this.closed) return;
    if (this.handlers) this.handlers.onMessage(frame);
    else this.pending.push(frame);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = [code, reason];
    if (this.handlers) this.reportClose();
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  private reportClose(): void {
    if (this.reported || !this.handlers || !this.closed) return;
    this.reported = true;
    this.handlers.onClose(this.closed[0], this.closed[1]);
  }
}
