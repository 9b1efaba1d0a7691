/**
 * Bounds what a connection may cost before it has authenticated: an absolute deadline from TCP
 * accept, and a byte budget for everything it sends (its hello frame, framing included).
 *
 * `ws`'s `maxPayload` is per server, not per connection, so the budget is kept by a second
 * `'data'` listener on the socket: it sees every chunk `ws` parses, counts the bytes, and once
 * the budget is spent closes the WebSocket with 1009 and stops reading, so `ws` never buffers
 * more than the budget plus one chunk. Once authenticated the listener is removed and the
 * server's `maxPayload` applies.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** One connection's pre-auth bounds. */
export interface PreAuthGuard {
  /** Authentication succeeded: lift the deadline and the byte budget. */
  authenticated(): void;
  /** Stops watching (the connection closed). */
  dispose(): void;
}

/** Options of `guardPreAuth`. */
export interface PreAuthGuardOptions {
  /** When the deadline passes, `Date.now()` ms. */
  readonly deadlineAt: number;
  /** Bytes the connection may send before authenticating. */
  readonly maxBytes: number;
  /** Bytes already counted (the upgrade's head). */
  readonly initialBytes: number;
  /** Close code at the deadline (native 4008, JSON v1 1008). */
  readonly timeoutCode: number;
  /** Called once when a bound is hit (for audit). */
  readonly onViolation: (what: 'timeout' | 'bytes') => void;
}

/** Arms the deadline and the byte budget for `ws` on `socket`. */
export function guardPreAuth(ws: WebSocket, socket: Duplex, o: PreAuthGuardOptions): PreAuthGuard {
  let bytes = o.initialBytes;
  let done = false;
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes <= o.maxBytes || done) return;
    stop();
    socket.pause();
    o.onViolation('bytes');
    ws.close(1009, 'too much data before authentication');
  };
  const timer = setTimeout(
    () => {
      if (done) return;
      stop();
      o.onViolation('timeout');
      ws.close(o.timeoutCode, 'authentication timeout');
    },
    Math.max(0, o.deadlineAt - Date.now()),
  );
  timer.unref();
  const stop = (): void => {
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
  };
  socket.on('data', onData);
  if (bytes > o.maxBytes) queueMicrotask(() => onData(Buffer.alloc(0)));
  return { authenticated: stop, dispose: stop };
}
