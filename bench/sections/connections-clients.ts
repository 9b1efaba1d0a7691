/**
 * Child process of the `connections` benchmark that holds idle clients of one hub and answers the
 * benchmark's commands on stdin (see `../lib/rpc.ts`):
 *
 * - `observers {url, hubId}`: a raw router peer and a raw leaf that only say hello, announce
 *   themselves, answer pings and count the bytes the hub sends them;
 * - `bytes` → `{router, leaf}`: those counts so far;
 * - `join {url, n, kind}`: `n` more idle clients at once, `kind` `native` (an `Endpoint` leaf
 *   subscribed to `stats/` and a clone topic of its own, like a dashboard) or `json` (a Broker
 *   JSON v1 client subscribed to `stats/`, handshake acknowledged); resolves once all are open;
 * - `leave`: closes every client opened by `join`.
 *
 * Exits when stdin closes (without closing its clients one by one: the hub sees the sockets go).
 */
import WebSocket from 'ws';
import { Endpoint } from '../../src/index.js';
import {
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
} from '../../src/internal.js';
import { serveRpc } from '../lib/rpc.js';

const OPEN_TIMEOUT_MS = 60_000;

let observerCount = 0;
/** A raw native client: hello as `link`, one announcement, pongs; counts the bytes it receives. */
function observer(url: string, link: 'leaf' | 'router', hubId: string): Promise<{ bytes(): number }> {
  const ws = new WebSocket(`${url}/v1/messages/native`);
  const id = `0c1b2c3d-0000-4000-8000-${String(++observerCount).padStart(12, '0')}`;
  let bytes = 0;
  ws.on('message', (d: Buffer) => {
    bytes += d.length;
    for (const m of decodeFrame(new Uint8Array(d)))
      if (m.kind === MessageKind.Ping)
        ws.send(encodeFrame([encodeMessage({ kind: MessageKind.Pong, nonce: m.nonce })]));
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(
        encodeFrame([
          encodeMessage({
            kind: MessageKind.Hello,
            version: NATIVE_PROTOCOL_VERSION,
            id: idToBytes(id),
            name: `observer-${link}`,
            role: 'bench',
            link,
          }),
          encodeMessage({
            kind: MessageKind.Announce,
            origin: idToBytes(id),
            version: 1,
            name: `observer-${link}`,
            filter: [],
            neighbors: link === 'router' ? [idToBytes(hubId)] : [],
          }),
        ]),
      );
      resolve({ bytes: () => bytes });
    });
  });
}

/** A Broker JSON v1 client subscribed to `stats/`; resolves once the hub acknowledged it. */
function jsonClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send('["stats/"]'));
    ws.once('message', (d: Buffer) => {
      const ack = JSON.parse(d.toString()) as { type?: string };
      if (ack.type === 'ack') resolve(ws);
      else reject(new Error(`expected an ack, got ${d.toString().slice(0, 200)}`));
    });
  });
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not open within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const observers: { router?: { bytes(): number }; leaf?: { bytes(): number } } = {};
const leaves: Endpoint[] = [];
const jsons: WebSocket[] = [];
let joined = 0;

serveRpc(
  {
    async observers(args) {
      const { url, hubId } = args as { url: string; hubId: string };
      observers.router = await observer(url, 'router', hubId);
      observers.leaf = await observer(url, 'leaf', hubId);
      return null;
    },
    bytes: () => ({ router: observers.router?.bytes() ?? 0, leaf: observers.leaf?.bytes() ?? 0 }),
    async join(args) {
      const { url, n, kind } = args as { url: string; n: number; kind: 'native' | 'json' };
      const opening: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        if (kind === 'json') {
          opening.push(jsonClient(url).then((ws) => jsons.push(ws)));
        } else {
          // Idle: no pings of its own (the hub still pings it), like the leaves test.
          const ep = new Endpoint({ name: `leaf-${process.pid}-${++joined}`, pingInterval: 0 });
          ep.subscribe(['stats/', `<$>/store/kv/clone/${ep.id}`], () => undefined);
          leaves.push(ep);
          opening.push(ep.peer(url, { retry: 0 }));
        }
      }
      await withTimeout(Promise.all(opening), `${n} ${kind} clients`);
      return null;
    },
    async leave() {
      for (const ws of jsons.splice(0)) ws.terminate();
      await Promise.all(leaves.splice(0).map((ep) => ep.close()));
      return null;
    },
  },
  () => undefined,
);
process.stdout.write('ready\n');
