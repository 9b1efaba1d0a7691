/**
 * Transport pause/resume: a paused server-side transport over Node's `ws` delivers no frames and
 * stops reading its socket (the sender's backlog grows), then delivers everything in order on
 * resume. Transports over a browser's WebSocket have neither method. The inbox holds frames while
 * paused and drops them when the connection closes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportInbox, type Frame, type Transport } from '../../src/transport/transport.js';
import { wrapWebSocket, type WebSocketLike } from '../../src/transport/websocket-transport.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000, every = 5): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

let server: Server | undefined;
let wss: WebSocketServer | undefined;
let client: WebSocket | undefined;
afterEach(async () => {
  client?.terminate();
  for (const ws of wss?.clients ?? []) ws.terminate();
  wss?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = wss = client = undefined;
});

/** A ws server on 127.0.0.1 whose accepted socket is wrapped as a Transport, and a client of it. */
async function pair(): Promise<{
  transport: Transport;
  frames: Frame[];
  client: WebSocket;
  closed: Promise<number>;
  /** Bytes the server has read from its socket so far. */
  bytesRead: () => number;
}> {
  server = createServer();
  wss = new WebSocketServer({ server });
  let socket: { bytesRead: number } | undefined;
  const accepted = new Promise<Transport>((resolve) =>
    wss!.on('connection', (ws, req) => {
      socket = req.socket;
      resolve(wrapWebSocket(ws as unknown as WebSocketLike, 'client'));
    }),
  );
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  await new Promise<void>((resolve, reject) => {
    client!.once('open', () => resolve());
    client!.once('error', reject);
  });
  const transport = await accepted;
  const frames: Frame[] = [];
  let onClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => {
    onClosed = resolve;
  });
  transport.attach({ onMessage: (f) => frames.push(f), onClose: (code) => onClosed(code) });
  return { transport, frames, client, closed, bytesRead: () => socket!.bytesRead };
}

describe('pause and resume over ws', () => {
  it('a paused server-side transport delivers nothing, then everything in order', async () => {
    const { transport, frames, client } = await pair();
    expect(typeof transport.pause).toBe('function');
    expect(typeof transport.resume).toBe('function');
    client.send('before');
    await until(() => frames.length === 1, 'the first frame');
    transport.pause!();
    transport.pause!(); // idempotent
    for (let i = 0; i < 5; i++) client.send(`paused-${i}`);
    client.send(new Uint8Array([1, 2, 3]));
    // Give the frames every chance to arrive: the client has flushed them all to the socket.
    await until(() => client.bufferedAmount === 0, 'the client to flush');
    await sleep(100);
    expect(frames).toEqual(['before']);
    transport.resume!();
    await until(() => frames.length === 7, 'the held frames');
    expect(frames.slice(0, 6)).toEqual(['before', 'paused-0', 'paused-1', 'paused-2', 'paused-3', 'paused-4']);
    expect(frames[6]).toEqual(new Uint8Array([1, 2, 3]));
    client.send('after');
    await until(() => frames.length === 8, 'a frame after resume');
    expect(frames[7]).toBe('after');
  });

  it('a paused transport stops reading its socket: the sender backs up until resume', async () => {
    const { transport, frames, client, bytesRead } = await pair();
    transport.pause!();
    const chunks = 24;
    const chunk = new Uint8Array(1024 * 1024);
    // Far more than loopback socket buffers hold: the rest must wait in the sender.
    for (let i = 0; i < chunks; i++) client.send(chunk);
    // Wait until the server's reading stops; were the socket read, it would read all 24 MiB.
    let last = -1;
    let steady = 0;
    await until(
      () => {
        const now = bytesRead();
        steady = now === last ? steady + 1 : 0;
        last = now;
        return steady >= 3;
      },
      'the server to stop reading',
      10_000,
      100,
    );
    expect(bytesRead()).toBeLessThan(chunks * chunk.byteLength);
    expect(client.bufferedAmount).toBeGreaterThan(0);
    expect(frames).toHaveLength(0);
    transport.resume!();
    await until(() => frames.length === chunks, 'all 24 chunks', 20_000);
    expect(bytesRead()).toBeGreaterThan(chunks * chunk.byteLength);
  });

  it('closing a paused transport reports the close and drops the held frames', async () => {
    const { transport, frames, client, closed } = await pair();
    transport.pause!();
    client.send('held');
    await sleep(50);
    transport.close(4429, 'rate limited');
    expect(await closed).toBe(4429);
    transport.resume!();
    expect(frames).toEqual([]);
  });
});

describe('pause and resume where the platform cannot', () => {
  it('a transport over a browser-like WebSocket has no pause or resume', () => {
    const ws: WebSocketLike = {
      binaryType: 'blob',
      readyState: 1,
      bufferedAmount: 0,
      send: () => {},
      close: () => {},
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    const t = wrapWebSocket(ws, 'browser');
    expect(t.pause).toBeUndefined();
    expect(t.resume).toBeUndefined();
  });
});

describe('TransportInbox', () => {
  it('holds frames while paused, before and after attach, and delivers them in order', () => {
    const inbox = new TransportInbox();
    const got: Frame[] = [];
    inbox.message('a');
    inbox.pause();
    inbox.attach({ onMessage: (f) => got.push(f), onClose: () => {} });
    inbox.message('b');
    expect(got).toEqual([]);
    inbox.resume();
    expect(got).toEqual(['a', 'b']);
    inbox.message('c');
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('a handler that pauses during resume stops the delivery there', () => {
    const inbox = new TransportInbox();
    const got: Frame[] = [];
    inbox.attach({
      onMessage: (f) => {
        got.push(f);
        if (f === '2') inbox.pause();
      },
      onClose: () => {},
    });
    inbox.pause();
    for (const f of ['1', '2', '3']) inbox.message(f);
    inbox.resume();
    expect(got).toEqual(['1', '2']);
    inbox.resume();
    expect(got).toEqual(['1', '2', '3']);
  });

  it('a close while paused is reported at once and the held frames are dropped', () => {
    const inbox = new TransportInbox();
    const got: Frame[] = [];
    const closes: number[] = [];
    inbox.attach({ onMessage: (f) => got.push(f), onClose: (c) => closes.push(c) });
    inbox.pause();
    inbox.message('x');
    inbox.close(1000, '');
    expect(closes).toEqual([1000]);
    inbox.resume();
    expect(got).toEqual([]);
  });
});
