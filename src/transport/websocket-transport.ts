/**
 * Transport over a standard WebSocket object (the browser's, or `ws`'s, which implements the same
 * event API). Used for client connections and, by the Node listener, for accepted sockets.
 */
import {
  TransportInbox,
  type Connector,
  type DialOptions,
  type Frame,
  type Transport,
  type TransportHandlers,
} from './transport.js';

/** The part of the standard WebSocket API that isobroker uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** Stops reading the socket (Node's `ws` only). */
  pause?(): void;
  /** Reads the socket again (Node's `ws` only). */
  resume?(): void;
}

/**
 * A WebSocket constructor (`globalThis.WebSocket`, `ws`'s `WebSocket`, …). The third argument
 * (upgrade `headers`) is understood only by Node's `ws`; browsers' constructors take two.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/**
 * True for Node's `ws` WebSocket class and its subclasses, which can send upgrade headers; false
 * for a browser's WebSocket (and Node's global, undici's), which cannot. Detected by the methods
 * only `ws` has: `pause`, `resume` and `terminate` on the prototype.
 */
export function canSendHeaders(WebSocketImpl: WebSocketConstructor): boolean {
  const proto = (WebSocketImpl as unknown as { prototype?: Record<string, unknown> }).prototype;
  return (
    proto !== undefined &&
    typeof proto.pause === 'function' &&
    typeof proto.resume === 'function' &&
    typeof proto.terminate === 'function'
  );
}

const OPEN = 1;

function toFrame(data: unknown): Frame | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // ws may hand fragmented messages as a list of chunks.
    const parts = data.map((d) => toFrame(d)).filter((d): d is Uint8Array => d instanceof Uint8Array);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.byteLength;
    }
    return out;
  }
  return undefined;
}

class WebSocketTransport implements Transport {
  private readonly inbox = new TransportInbox();
  /** Present only over a socket that can stop reading (Node's `ws`). */
  readonly pause?: () => void;
  readonly resume?: () => void;

  constructor(
    private readonly ws: WebSocketLike,
    readonly remote: string,
  ) {
    if (typeof ws.pause === 'function' && typeof ws.resume === 'function') {
      this.pause = () => {
        if (this.inbox.isPaused || this.inbox.isClosed) return;
        this.inbox.pause();
        ws.pause?.();
      };
      this.resume = () => {
        if (!this.inbox.isPaused) return;
        ws.resume?.();
        this.inbox.resume();
      };
    }
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      const frame = toFrame(ev.data);
      if (frame !== undefined) this.inbox.message(frame);
    };
    ws.onclose = (ev) => this.inbox.close(ev.code, ev.reason);
    ws.onerror = () => {
      /* an error is always followed by close */
    };
  }

  attach(handlers: TransportHandlers): void {
    this.inbox.attach(handlers);
  }

  send(frame: Frame): void {
    if (this.ws.readyState === OPEN) this.ws.send(frame);
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(code = 1000, reason = ''): void {
    try {
      this.ws.close(code, reason);
    } catch {
      // Browsers only allow 1000 and 3000–4999 from scripts.
      this.ws.close(1000, reason);
    }
    // Report the close now: the peer may never answer the closing handshake.
    this.inbox.close(code, reason);
  }
}

/** Wraps an already open WebSocket (e.g. one accepted by a server) as a Transport. */
export function wrapWebSocket(ws: WebSocketLike, remote: string): Transport {
  return new WebSocketTransport(ws, remote);
}

/**
 * A Connector that dials `url` with the given WebSocket constructor, offering `options.protocols`
 * and, when the constructor is Node's `ws` (`canSendHeaders`), sending `options.headers` on the
 * upgrade. Header values are never put in an error message.
 */
export function websocketConnector(WebSocketImpl: WebSocketConstructor): Connector {
  const sendsHeaders = canSendHeaders(WebSocketImpl);
  const connect = (url: string, options?: DialOptions): Promise<Transport> =>
    new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        const protocols = options?.protocols && options.protocols.length > 0 ? [...options.protocols] : undefined;
        const headers = options?.headers && Object.keys(options.headers).length > 0 ? options.headers : undefined;
        if (headers !== undefined && !sendsHeaders)
          throw new Error('this WebSocket cannot send upgrade headers (browsers cannot set headers)');
        ws =
          headers !== undefined
            ? new WebSocketImpl(url, protocols ?? [], { headers: { ...headers } })
            : protocols !== undefined
              ? new WebSocketImpl(url, protocols)
              : new WebSocketImpl(url);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => resolve(new WebSocketTransport(ws, url));
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
      ws.onclose = (ev) => reject(new Error(`cannot connect to ${url}: closed with ${ev.code} ${ev.reason}`));
    });
  return Object.assign(connect, { sendsHeaders });
}
