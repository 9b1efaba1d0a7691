/**
 * Small pieces of the listener's socket handling: answering an upgrade with an HTTP error before
 * any WebSocket exists, and making `ws.close()` final within a deadline.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

const REASONS: Record<number, string> = {
  403: 'Forbidden',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** Answers an upgrade request with `status` and a plain-text `text`, then closes; `extra` is more header lines (each ending in CRLF). */
export function rejectUpgrade(socket: Duplex, status: number, text: string, extra = ''): void {
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nConnection: close\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** A header value for a message: quoted, at most 100 characters. */
export const shownHeader = (v: string | undefined): string => JSON.stringify((v ?? '').slice(0, 100));

/**
 * Makes `ws.close()` final within `ms`: a peer that does not read never answers the closing
 * handshake, and until then its unsent backlog stays in memory.
 */
export function cutAfterClose(ws: WebSocket, ms: number): void {
  const close = ws.close.bind(ws);
  let timer: ReturnType<typeof setTimeout> | undefined;
  ws.close = (code?: number, reason?: string | Buffer) => {
    close(code, reason);
    if (timer === undefined && ws.readyState !== ws.CLOSED) {
      timer = setTimeout(() => ws.terminate(), ms);
      timer.unref();
    }
  };
  ws.once('close', () => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
