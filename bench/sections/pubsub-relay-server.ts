/**
 * Child process of the pub/sub benchmark: the raw `ws` baseline, a WebSocket server on
 * 127.0.0.1 that forwards every frame it receives, unchanged, to every other connected client —
 * what any broker must at least do. Prints `ready <url>`; exits when stdin closes or on SIGTERM.
 */
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await new Promise<void>((resolve, reject) => {
  wss.once('listening', resolve);
  wss.once('error', reject);
});

wss.on('connection', (ws: WebSocket) => {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    for (const other of wss.clients) {
      if (other !== ws && other.readyState === other.OPEN) other.send(data, { binary: isBinary });
    }
  });
});

function shutdown(): void {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  process.exit(0);
}

process.once('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
const addr = wss.address();
if (typeof addr !== 'object' || addr === null) throw new Error('relay has no address');
process.stdout.write(`ready ws://127.0.0.1:${addr.port}\n`);
