/**
 * Transport over a standard WebSocket object (the browser's, or `ws`'s, which implements the same
 * event API). Used for client connections and, by the Node listener, for accepted sockets.
 */
import { TransportInbox, type Frame, type Transport, type TransportHandlers } from './transport.js';

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
}

/** A WebSocket constructor (`globalThis.WebSocket`, `ws`'s `WebSocket`, …). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

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

  constructor(
    private readonly ws: WebSocketLike,
    readonly remote: string,
  ) {
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

/** A Connector that dials `url` with the given WebSocket constructor. */
export function websocketConnector(WebSocketImpl: WebSocketConstructor) {
  return (url: string): Promise<Transport> =>
    new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new WebSocketImpl(url);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => resolve(new WebSocketTransport(ws, url));
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
      ws.onclose = (ev) => reject(new Error(`cannot connect to ${url}: closed with ${ev.code} ${ev.reason}`));
    });
}
