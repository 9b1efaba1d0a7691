/**
 * Bytes in and out of a listener's connections, by protocol (`native`, `json`, or `http` for
 * requests that were not upgraded to a WebSocket: the dashboard, metrics scrapes), WebSocket and
 * HTTP framing included. Read from each socket's own byte counts at scrape time and when the
 * socket closes; nothing is counted per message.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Registry } from 'prom-client';
import { mirroredCounter, type Sample } from './mirrored.js';

/** The WebSocket path of Broker JSON v1 (everything else that upgrades is the native protocol). */
const JSON_PATH = '/v1/messages/json';

interface Tracked {
  protocol: 'native' | 'json' | 'http';
  read: number;
  written: number;
}

/** Registers the byte counters of `server` in `registry`; returns a function that stops tracking. */
export function registerListenerBytes(registry: Registry, server: Server): () => void {
  const live = new Map<Socket, Tracked>();
  const totals = new Map<string, { read: number; written: number }>();
  const account = (socket: Socket, t: Tracked): void => {
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    let sum = totals.get(t.protocol);
    if (sum === undefined) {
      sum = { read: 0, written: 0 };
      totals.set(t.protocol, sum);
    }
    sum.read += Math.max(0, read - t.read);
    sum.written += Math.max(0, written - t.written);
    t.read = read;
    t.written = written;
  };
  const onConnection = (socket: Socket): void => {
    const t: Tracked = { protocol: 'http', read: 0, written: 0 };
    live.set(socket, t);
    socket.once('close', () => {
      account(socket, t);
      live.delete(socket);
    });
  };
  const onUpgrade = (req: IncomingMessage): void => {
    const t = live.get(req.socket);
    if (t === undefined) return;
    account(req.socket, t);
    t.protocol = (req.url ?? '/').split('?')[0] === JSON_PATH ? 'json' : 'native';
  };
  // Over TLS the requests' socket is the TLS socket (plaintext bytes), made at the handshake.
  const connectionEvent = server instanceof TlsServer ? 'secureConnection' : 'connection';
  server.on(connectionEvent, onConnection);
  server.prependListener('upgrade', onUpgrade);
  const read = (field: 'read' | 'written') => (): Sample[] => {
    for (const [socket, t] of live) account(socket, t);
    return [...totals].map(([protocol, sum]) => [{ protocol }, sum[field]] as const);
  };
  mirroredCounter(
    registry,
    'isobroker_listener_received_bytes_total',
    "Bytes received on the listener's connections, by protocol (native, json, http), framing included.",
    ['protocol'],
    read('read'),
  );
  mirroredCounter(
    registry,
    'isobroker_listener_sent_bytes_total',
    "Bytes sent on the listener's connections, by protocol (native, json, http), framing included.",
    ['protocol'],
    read('written'),
  );
  return () => {
    server.off(connectionEvent, onConnection);
    server.off('upgrade', onUpgrade);
  };
}
