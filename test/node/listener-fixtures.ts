/**
 * Helpers of the listener tests: a fake `authenticate` (fixed strings map to principals), raw
 * HTTP upgrade requests over `node:net` from chosen loopback addresses, and a hub with a listener.
 */
import { connect, type Socket } from 'node:net';
import { Endpoint } from 'isobroker';
import {
  AuthError,
  type AuditEvent,
  type Authenticate,
  type ConnectionInfo,
  type Credential,
  type Principal,
} from '../../src/auth/types.js';
import { FULL_ACCESS } from '../../src/auth/prefix-acl.js';
import { listen, type ListenOptions, type Listener } from '../../src/node/listener/listener.js';

export const GOOD_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
export const GOOD_KEY = 'isbk_0123456789abcdef0123456789abcdef';

/** A principal that may do everything (the fake authenticator's answer). */
export function testPrincipal(
  sub: string,
  method: Principal['method'] = 'token',
  node: string | null = null,
): Principal {
  return {
    sub,
    roles: ['test'],
    node,
    router: node !== null,
    publish: FULL_ACCESS,
    subscribe: FULL_ACCESS,
    storeAccess: () => 'write',
    limits: { publishRate: 0, publishBurst: 0, maxSubscriptions: 1024, storeCommandsInFlight: 64 },
    strict: false,
    expiresAt: undefined,
    issuedAt: undefined,
    credentialId: undefined,
    method,
  };
}

/** What the fake authenticator saw. */
export interface AuthCall {
  readonly credential: Credential | undefined;
  readonly conn: ConnectionInfo;
}

/** `GOOD_TOKEN` → alice, `GOOD_KEY` → svc, a verified certificate `node-a` → node-a; anything else fails. */
export function fakeAuthenticate(calls: AuthCall[] = []): Authenticate {
  return async (credential, conn) => {
    calls.push({ credential, conn });
    if (credential?.kind === 'bearer' && credential.value === GOOD_TOKEN) return testPrincipal('alice');
    if (credential?.kind === 'api_key' && credential.value === GOOD_KEY) return testPrincipal('svc', 'api_key');
    if (credential === undefined && conn.certificateName === 'node-a')
      return testPrincipal('node-a', 'certificate', 'node-a');
    throw new AuthError('unauthenticated', credential ? 'the credential is not valid' : 'a credential is required');
  };
}

/** A hub endpoint with a listener; `audit` collects the endpoint's audit events. */
export async function startHub(
  options: ListenOptions,
): Promise<{ hub: Endpoint; listener: Listener; audit: AuditEvent[]; close(): Promise<void> }> {
  const hub = new Endpoint({ name: 'hub', role: 'hub' });
  const audit: AuditEvent[] = [];
  hub.on('audit', (ev: AuditEvent) => audit.push(ev));
  const listener = await listen(hub, options);
  return {
    hub,
    listener,
    audit,
    close: async () => {
      await listener.close();
      await hub.close();
    },
  };
}

/** The head of an HTTP response read from a raw socket. */
export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly socket: Socket;
  /** Bytes after the head (WebSocket frames once upgraded). */
  readonly rest: Buffer;
}

/** A WebSocket upgrade request for `path` with `headers` (name → value; Host and the WebSocket ones added unless given). */
export function upgradeRequest(port: number, path: string, headers: Record<string, string> = {}, extra = ''): string {
  const h: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...headers,
  };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}${extra}\r\n`;
}

/** Opens a TCP connection from `localAddress` (127.0.0.x works on Linux loopback). */
export function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `request` on a new socket and reads the response head (rejects after `ms`). */
export async function rawUpgrade(
  port: number,
  request: string,
  opts: { localAddress?: string; ms?: number } = {},
): Promise<RawResponse> {
  const socket = await rawSocket(port, opts.localAddress);
  socket.write(request);
  return readHead(socket, opts.ms ?? 5000);
}

/** Reads an HTTP response head from `socket`. */
export function readHead(socket: Socket, ms: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no response head within ${ms} ms`));
    }, ms);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      cleanup();
      const head = buf.subarray(0, end).toString('latin1');
      resolve({ status: Number(head.split(' ')[1]), head, socket, rest: buf.subarray(end + 4) });
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`closed before a response head (${buf.length} bytes)`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('close', onEnd);
  });
}

/** A masked client frame (`fin`, `opcode`, payload), optionally with RSV1 set. */
export function clientFrame(opcode: number, payload: Buffer, fin = true, rsv1 = false): Buffer {
  const len = payload.length;
  const lenBytes =
    len < 126
      ? Buffer.from([0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | 126, len >> 8, len & 255])
        : (() => {
            const b = Buffer.alloc(9);
            b[0] = 0x80 | 127;
            b.writeBigUInt64BE(BigInt(len), 1);
            return b;
          })();
  const first = Buffer.from([(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([first, lenBytes, mask, body]);
}

/** Parses the server's (unmasked) frames in `buf`: opcode and payload of each complete frame. */
export function serverFrames(buf: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  while (off + 2 <= buf.length) {
    let len = buf[off + 1]! & 127;
    let p = off + 2;
    if (len === 126) {
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > buf.length) break;
    out.push({ opcode: buf[off]! & 15, payload: buf.subarray(p, p + len) });
    off = p + len;
  }
  return out;
}

/** Collects everything `socket` receives until it closes (or `ms` passes); resolves with the bytes and whether it closed. */
export function drain(
  socket: Socket,
  ms: number,
  initial: Buffer = Buffer.alloc(0),
): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [initial];
    if (socket.destroyed) {
      resolve({ data: initial, closed: true });
      return;
    }
    const timer = setTimeout(() => done(false), ms);
    const onData = (d: Buffer): void => void parts.push(d);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ data: Buffer.concat(parts), closed });
    };
    socket.on('data', onData);
    socket.once('close', () => done(true));
    socket.on('error', () => {});
  });
}

/** The close code of a close frame among `frames`, if any. */
export function closeCode(frames: { opcode: number; payload: Buffer }[]): number | undefined {
  const c = frames.find((f) => f.opcode === 8);
  return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : undefined;
}
