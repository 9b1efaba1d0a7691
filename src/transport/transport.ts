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
  /**
   * Stops delivering frames: the platform stops reading the socket (TCP backpressure reaches the
   * sender) and frames already read are held until `resume`. Absent where the platform cannot
   * stop reading (browsers). Pausing a paused transport does nothing.
   */
  pause?(): void;
  /** Delivers the frames held by `pause` (in order) and reads the socket again. */
  resume?(): void;
}

/**
 * Per-dial options of a connector: what goes on the WebSocket upgrade request. Values hold
 * credentials: never log them.
 */
export interface DialOptions {
  /**
   * Extra HTTP headers on the upgrade request (e.g. `Authorization`). Only connectors whose
   * `sendsHeaders` is true can send them (Node's `ws`); browsers cannot set headers.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** `Sec-WebSocket-Protocol` offers, e.g. `['isobroker.v1', 'bearer.<jwt>']`. */
  readonly protocols?: readonly string[];
}

/**
 * Opens a client transport to `url`; rejects when the connection cannot be established.
 * `options` (optional, so a plain `(url) => …` function is a connector) says what goes on the
 * upgrade; `sendsHeaders` is true when the connector can send `options.headers` (a connector that
 * does not say so is taken not to: a peering with `headers` is then refused with a `ConfigError`).
 */
export type Connector = ((url: string, options?: DialOptions) => Promise<Transport>) & {
  readonly sendsHeaders?: boolean;
};

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
  private paused = false;

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new IsobrokerError('invalid_state', 'transport already attached');
    this.handlers = handlers;
    if (!this.paused) {
      const pending = this.pending;
      this.pending = [];
      for (const f of pending) handlers.onMessage(f);
    }
    if (this.closed) this.reportClose();
  }

  message(frame: Frame): void {
    if (this.closed) return;
    if (this.handlers && !this.paused) this.handlers.onMessage(frame);
    else this.pending.push(frame);
  }

  /** Holds arriving frames until `resume` (the platform should stop reading too). */
  pause(): void {
    this.paused = true;
  }

  /** Delivers the held frames in order; frames held when the connection closed are dropped. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.handlers) return;
    // A handler may pause again or close while we deliver: stop there, keep the rest.
    while (this.pending.length > 0 && !this.paused && !this.closed) this.handlers.onMessage(this.pending.shift()!);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = [code, reason];
    if (this.paused) this.pending = [];
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
