/**
 * Helpers of the auth load and fault tests (test/load/auth-*.process.test.ts): a private folder
 * with an HS256 secret and a policy file written atomically (write + rename, as an operator's
 * deploy tool would), tokens minted in this process with `jose` (thousands of them: spawning
 * `isobroker token` per token would dominate the run), raw Broker JSON v1 clients that carry their
 * token in the `Authorization` header, per-publisher sequence checks, the child's RSS, and the
 * kernel socket queues of a connection (to tell what a hub had written from what it had queued).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, afterEach } from 'vitest';
import WebSocket from 'ws';
import { Endpoint, string, type Message } from 'isobroker';
import { jsonV1 } from 'isobroker/json-v1';
import { killAll } from './processes.js';

/** Full size (`ISOBROKER_LOAD=1`, `npm run test:load`) rather than CI size. */
export const LOAD = process.env.ISOBROKER_LOAD === '1';

/** What an auth load or fault test file tears down after each test (and after all of them). */
export interface LoadTeardown {
  /** Run last, last added first (the fixture's folder). */
  readonly cleanup: (() => unknown)[];
  /** Closed after the raw sockets and endpoints. */
  readonly fleets: Fleet[];
  /** Closed after the raw sockets. */
  readonly endpoints: Endpoint[];
  /** Terminated first. */
  readonly raws: JsonV1Client[];
  /** Tears all of the above down now (also run after each test and after all of them). */
  tearDown(): Promise<void>;
  /** A fleet of `options`, in `fleets`, connected and warmed up. */
  startFleet(options: FleetOptions): Promise<Fleet>;
}

/**
 * Call once at the top of an auth load or fault test file: after each test and after all of them,
 * terminates `raws`, closes `endpoints` then `fleets`, kills the `spawnCli` children, then runs
 * `cleanup` (last added first).
 */
export function loadTeardown(): LoadTeardown {
  const cleanup: (() => unknown)[] = [];
  const fleets: Fleet[] = [];
  const endpoints: Endpoint[] = [];
  const raws: JsonV1Client[] = [];
  const tearDown = async (): Promise<void> => {
    for (const r of raws.splice(0)) r.ws.terminate();
    await Promise.all(endpoints.splice(0).map((e) => e.close()));
    await Promise.all(fleets.splice(0).map((f) => f.close()));
    await killAll();
    for (const f of cleanup.splice(0).reverse()) await f();
  };
  afterEach(tearDown);
  afterAll(tearDown);
  const startFleet = async (options: FleetOptions): Promise<Fleet> => {
    const fleet = new Fleet(options);
    fleets.push(fleet);
    await fleet.connect();
    await fleet.warmUp();
    return fleet;
  };
  return { cleanup, fleets, endpoints, raws, tearDown, startFleet };
}

/** The Broker JSON v1 URL of a hub whose native URL is `url`. */
export const jsonUrlOf = (url: string): string => `${url}/v1/messages/json`;

/** Prints one figure for the closing note: `[tag] name: value`. */
export function figure(tag: string, name: string, value: string | number): void {
  console.log(`[${tag}] ${name}: ${value}`);
}

/** A folder holding `secret.txt` (key id `k1`) and `policy.json`; removed by `cleanup`. */
export interface AuthFixture {
  readonly dir: string;
  readonly policyFile: string;
  /** Writes `policy` (`version` and the `k1` key added) to the policy file, atomically. */
  writePolicy(policy: Record<string, unknown>): void;
  /** Writes `text` as the policy file, atomically (for invalid versions). */
  writeRaw(text: string): void;
  /** A token signed with `k1`: `sub`, `iat`, `exp` (now + `ttlSeconds`, default 900), a jti, and `isb`. */
  mint(sub: string, isb: Record<string, unknown>, ttlSeconds?: number): Promise<string>;
}

/** Makes an `AuthFixture` in a new temporary folder. */
export function authFixture(cleanup: (() => unknown)[]): AuthFixture {
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-auth-load-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const secret = randomBytes(32);
  writeFileSync(join(dir, 'secret.txt'), `${secret.toString('base64url')}\n`, { mode: 0o600 });
  const policyFile = join(dir, 'policy.json');
  let n = 0;
  const writeRaw = (text: string): void => {
    const tmp = join(dir, `.policy.${n++}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, policyFile);
  };
  return {
    dir,
    policyFile,
    writeRaw,
    writePolicy(policy) {
      writeRaw(
        JSON.stringify(
          { version: 1, keys: [{ kid: 'k1', alg: 'HS256', secretFile: 'secret.txt' }], ...policy },
          null,
          1,
        ),
      );
    },
    async mint(sub, isb, ttlSeconds = 900) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub, iat: now, exp: now + ttlSeconds, jti: randomBytes(12).toString('base64url'), isb })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT' })
        .sign(secret);
    },
  };
}

/** VmRSS of process `pid` in KiB (Linux `/proc/<pid>/status`). */
export function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]);
}

/** The `p`-th percentile (0–100) of `values` (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Bytes in the kernel queues of the IPv4 TCP connection `localPort` → `remotePort` on this host
 * (`/proc/net/tcp`): `tx` sent but not acknowledged or not yet sent, `rx` received but not read.
 */
export function tcpQueues(localPort: number, remotePort: number): { tx: number; rx: number } | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    if (f[1]!.endsWith(`:${hex(localPort)}`) && f[2]!.endsWith(`:${hex(remotePort)}`)) {
      const [tx, rx] = f[4]!.split(':').map((h) => Number.parseInt(h, 16));
      return { tx: tx!, rx: rx! };
    }
  }
  return undefined;
}

/** A JSON v1 message as a raw client reads it. */
export interface JsonV1Text {
  readonly type: string;
  readonly topic?: string;
  readonly data?: unknown;
  readonly code?: string;
  readonly context?: string;
}

/** A raw Broker JSON v1 client (the `ws` package) that authenticates with `Authorization: Bearer`. */
export interface JsonV1Client {
  readonly ws: WebSocket;
  /** Error messages received (`type: "error"`), in order. */
  readonly errors: JsonV1Text[];
  /** The close, once it happened. */
  closed: { code: number; reason: string } | undefined;
  /** Sends a data message with a string payload. */
  publish(topic: string, text: string): void;
  /** Stops reading the socket (TCP backpressure builds up at the hub). */
  pause(): void;
  resume(): void;
  /** The local TCP port of the connection. */
  readonly localPort: number;
}

/**
 * Opens `url` (the hub's JSON v1 URL) with `token`, sends the handshake `topics` and resolves
 * after the ack; data messages go to `onData(topic, data)`. Rejects on a refusal (HTTP status or
 * an error instead of the ack) or after `timeoutMs`.
 */
export function openJsonV1(
  url: string,
  token: string,
  topics: readonly string[],
  onData: (topic: string, data: unknown) => void,
  timeoutMs = 20_000,
): Promise<JsonV1Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
    let acked = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('JSON v1 client: no ack in time'));
    }, timeoutMs);
    const client: JsonV1Client = {
      ws,
      errors: [],
      closed: undefined,
      publish(topic, text) {
        ws.send(JSON.stringify({ type: 'data-message', topic, '@data-type': 'string', data: text }));
      },
      pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
      resume: () => (ws as unknown as { _socket: { resume(): void } })._socket.resume(),
      get localPort() {
        return (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
      },
    };
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as JsonV1Text;
      if (m.type === 'data-message') onData(m.topic!, m.data);
      else if (m.type === 'ack' && !acked) {
        acked = true;
        clearTimeout(timer);
        resolve(client);
      } else if (m.type === 'error') {
        client.errors.push(m);
        if (!acked) {
          clearTimeout(timer);
          reject(new Error(`JSON v1 client refused: ${m.code}`));
        }
      }
    });
    ws.on('close', (code, reason) => {
      client.closed = { code, reason: reason.toString() };
      if (!acked) {
        clearTimeout(timer);
        reject(new Error(`JSON v1 client closed before the ack (${code})`));
      }
    });
    ws.on('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`JSON v1 client: HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('open', () => ws.send(JSON.stringify(topics)));
  });
}

/**
 * Sequence checks of one subscriber: publisher `p` numbers its messages 0, 1, 2, … and sends
 * number `s` to group `s % groups`, so a subscriber of group `g` expects g, g + groups, … from
 * every publisher, in order. A number below the next expected one is a duplicate; one above it
 * means the ones between were lost.
 */
export class SeqCheck {
  private readonly next: number[];
  lost = 0;
  dup = 0;
  received = 0;

  constructor(
    publishers: number,
    private readonly group: number,
    private readonly groups: number,
  ) {
    this.next = Array.from({ length: publishers }, () => group);
  }

  /** Records message `seq` of publisher `p`. */
  record(p: number, seq: number): void {
    this.received++;
    const next = this.next[p]!;
    if (seq < next || (seq - this.group) % this.groups !== 0) {
      this.dup++;
      return;
    }
    this.lost += (seq - next) / this.groups;
    this.next[p] = seq + this.groups;
  }

  /** Messages this subscriber should have got when publisher `p` sent `sent[p]` numbers. */
  expected(sent: readonly number[]): number {
    let n = 0;
    for (const s of sent) n += s > this.group ? Math.ceil((s - this.group) / this.groups) : 0;
    return n;
  }

  /** Lost so far, counting the ones not yet arrived of `sent` as lost. */
  lostOf(sent: readonly number[]): number {
    let missing = 0;
    for (let p = 0; p < sent.length; p++) {
      const next = this.next[p]!;
      if (sent[p]! > next) missing += Math.ceil((sent[p]! - next) / this.groups);
    }
    return this.lost + missing;
  }
}

/** Waits until `cond()` holds (polling every `step` ms), or throws after `ms` naming `what`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string, step = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Runs `fn(i)` for i < n with at most `concurrency` at a time and at most `perSecond` starts per second. */
export async function paced(
  n: number,
  concurrency: number,
  perSecond: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const start = Date.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const due = start + (i * 1000) / perSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/** How a fleet client connects: an SDK endpoint over native or JSON v1, or a raw JSON v1 socket. */
export type FleetKind = 'native' | 'json-sdk' | 'json-raw';

/** One subscriber of a fleet: its group's grant is `<prefix>/<group>/`. */
export interface FleetClient {
  readonly index: number;
  readonly kind: FleetKind;
  readonly group: number;
  readonly check: SeqCheck;
  /** Deliveries outside the client's grant (must stay 0). */
  outside: number;
  /** Publishers whose warm-up message arrived. */
  readonly warm: Set<number>;
  /** Connect + authenticate time of the first connection, ms. */
  connectMs: number;
  /** `getToken` calls (clients with `getToken` only). */
  tokenCalls: number;
  /** When the last data message arrived (performance.now()). */
  lastDataAt: number;
  /** Closes seen (raw JSON v1) or `peer_lost` statuses (SDK endpoints). */
  losses: number;
  /** When the last `peer_added` status came (SDK endpoints; performance.now()). */
  upAt: number;
  /** When the last message of each publisher arrived (performance.now()). */
  readonly lastFromAt: number[];
  /** When the first data message after `Fleet.mark()` arrived (performance.now()). */
  firstAfterMark: number | undefined;
  readonly endpoint?: Endpoint;
  readonly raw?: JsonV1Client;
}

/** One publisher of a fleet: message `s` of publisher `p` goes to `<prefix>/<s % groups>/p<p>`. */
export interface FleetPublisher {
  readonly kind: FleetKind;
  sent: number;
  send(topic: string, text: string): void;
  readonly endpoint?: Endpoint;
  readonly raw?: JsonV1Client;
}

/** What a fleet is made of. */
export interface FleetOptions {
  /** The hub's native URL. */
  readonly url: string;
  /** Its Broker JSON v1 URL. @default jsonUrlOf(url) */
  readonly jsonUrl?: string;
  readonly fx: AuthFixture;
  readonly clients: number;
  readonly groups: number;
  /** First topic segment, e.g. `t`. */
  readonly prefix: string;
  /** Kinds of the clients, used round-robin. */
  readonly kinds: readonly FleetKind[];
  /** Kinds of the publishers (role `publisher`), one each. */
  readonly publishers: readonly FleetKind[];
  /** Clients and publishers fetch tokens with this lifetime through `getToken` and reconnect (retry `retry` ms). */
  readonly getTokenTtl?: number;
  readonly retry?: number;
  /** Connection starts per second. @default 200 */
  readonly connectRate?: number;
}

/**
 * Subscribers with per-client grants (role `client`, and a token claim granting
 * `<prefix>/<group>/` to subscribe) that subscribe more broadly than their grant (`<prefix>/` or
 * `""`, so the hub must narrow), and publishers (role `publisher`) that number their messages.
 */
export class Fleet {
  readonly clients: FleetClient[] = [];
  readonly pubs: FleetPublisher[] = [];
  private marked = false;
  constructor(readonly o: FleetOptions) {}

  /** From now on, each client's `firstAfterMark` records its next data message. */
  mark(): void {
    this.marked = true;
    for (const c of this.clients) c.firstAfterMark = undefined;
  }

  private grant(g: number): string {
    return `${this.o.prefix}/${g}/`;
  }

  /** Connects every publisher and client (paced); throws when one is refused. */
  async connect(): Promise<void> {
    const o = this.o;
    await paced(o.clients, 32, o.connectRate ?? 200, (i) => this.connectClient(i));
    for (let p = 0; p < o.publishers.length; p++) {
      const kind = o.publishers[p]!;
      const isb = { roles: ['publisher'] };
      if (kind !== 'json-raw') {
        const ep = new Endpoint({ name: `pub${p}`, ...(kind === 'native' ? {} : { protocols: [jsonV1] }) });
        const pub: FleetPublisher = { kind, sent: 0, send: (t, x) => ep.publish(t, string(x)), endpoint: ep };
        this.pubs.push(pub);
        const creds =
          o.getTokenTtl !== undefined
            ? { getToken: () => o.fx.mint(`pub${p}`, isb, o.getTokenTtl), retry: o.retry ?? 200 }
            : { token: await o.fx.mint(`pub${p}`, isb), retry: 0 };
        await ep.peer(kind === 'native' ? o.url : (o.jsonUrl ?? jsonUrlOf(o.url)), creds);
      } else {
        const raw = await openJsonV1(
          o.jsonUrl ?? jsonUrlOf(o.url),
          await o.fx.mint(`pub${p}`, isb),
          [],
          () => undefined,
        );
        this.pubs.push({ kind, sent: 0, send: (t, x) => raw.publish(t, x), raw });
      }
    }
  }

  private async connectClient(i: number): Promise<void> {
    const o = this.o;
    const kind = o.kinds[i % o.kinds.length]!;
    const group = i % o.groups;
    const grant = this.grant(group);
    const isb = { roles: ['client'], subscribe: { allow: [grant] } };
    const sub = i % 2 === 0 ? `${o.prefix}/` : '';
    const c: FleetClient = {
      index: i,
      kind,
      group,
      check: new SeqCheck(o.publishers.length, group, o.groups),
      outside: 0,
      warm: new Set(),
      connectMs: 0,
      tokenCalls: 0,
      lastDataAt: 0,
      losses: 0,
      upAt: 0,
      lastFromAt: o.publishers.map(() => 0),
      firstAfterMark: undefined,
    };
    const onData = (topic: string, data: unknown): void => {
      c.lastDataAt = performance.now();
      if (this.marked && c.firstAfterMark === undefined) c.firstAfterMark = c.lastDataAt;
      if (!topic.startsWith(grant)) {
        c.outside++;
        return;
      }
      const text = String(data);
      const colon = text.indexOf(':');
      const p = Number(text.slice(0, colon));
      const rest = text.slice(colon + 1);
      c.lastFromAt[p] = c.lastDataAt;
      if (rest === 'w') c.warm.add(p);
      else c.check.record(p, Number(rest));
    };
    const t0 = performance.now();
    if (kind === 'json-raw') {
      const raw = await openJsonV1(o.jsonUrl ?? jsonUrlOf(o.url), await o.fx.mint(`c${i}`, isb), [sub], onData);
      raw.ws.on('close', () => c.losses++);
      Object.assign(c, { raw });
    } else {
      const ep = new Endpoint({ name: `c${i}`, ...(kind === 'native' ? {} : { protocols: [jsonV1] }) });
      Object.assign(c, { endpoint: ep });
      ep.subscribe(sub, (m: Message) => onData(m.topic, (m.data as { value: unknown }).value));
      ep.on('status', (s) => {
        if (s.code === 'peer_lost') c.losses++;
        if (s.code === 'peer_added') c.upAt = performance.now();
      });
      const url = kind === 'native' ? o.url : (o.jsonUrl ?? jsonUrlOf(o.url));
      if (o.getTokenTtl !== undefined) {
        const ttl = o.getTokenTtl;
        await ep.peer(url, {
          retry: o.retry ?? 200,
          getToken: () => {
            c.tokenCalls++;
            return o.fx.mint(`c${i}`, isb, ttl);
          },
        });
      } else await ep.peer(url, { retry: 0, token: await o.fx.mint(`c${i}`, isb) });
    }
    c.connectMs = performance.now() - t0;
    this.clients.push(c);
  }

  /** Publishes warm-up messages to every group until every client heard from every publisher. */
  async warmUp(ms = 30_000): Promise<void> {
    const P = this.pubs.length;
    const end = Date.now() + ms;
    while (!this.clients.every((c) => c.warm.size === P)) {
      if (Date.now() > end) {
        const cold = this.clients
          .filter((c) => c.warm.size < P)
          .map((c) => `c${c.index}(${c.kind}, heard ${[...c.warm].join(',')}; outside ${c.outside})`);
        throw new Error(`warm-up: ${cold.length} clients never heard every publisher: ${cold.slice(0, 10).join(' ')}`);
      }
      for (let p = 0; p < P; p++)
        for (let g = 0; g < this.o.groups; g++) this.pubs[p]!.send(`${this.grant(g)}warm`, `${p}:w`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Numbers sent so far, per publisher. */
  get sent(): number[] {
    return this.pubs.map((p) => p.sent);
  }

  /**
   * Publishes for `ms` at `deliveriesPerSec` deliveries in total (spread over the publishers and
   * groups), in 10 ms steps; `stop()` ends it early. Resolves with the elapsed ms.
   */
  async stream(ms: number, deliveriesPerSec: number, stop: () => boolean = () => false): Promise<number> {
    const perGroup = this.clients.length / this.o.groups;
    const perPub = deliveriesPerSec / perGroup / this.pubs.length;
    const start = performance.now();
    const base = this.sent;
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= ms || stop()) return elapsed;
      const due = Math.floor((perPub * elapsed) / 1000);
      this.pubs.forEach((pub, p) => {
        while (pub.sent - base[p]! < due) {
          const s = pub.sent++;
          pub.send(`${this.grant(s % this.o.groups)}p${p}`, `${p}:${s}`);
        }
      });
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits (up to `ms`) until every client has every message sent; returns the totals. */
  async drain(ms: number): Promise<{ delivered: number; lost: number; dup: number; outside: number }> {
    const sent = this.sent;
    await waitUntil(() => this.clients.every((c) => c.check.lostOf(sent) === 0), ms, 'every delivery').catch(
      () => undefined,
    );
    return this.totals(sent);
  }

  /** Deliveries, losses, duplicates and deliveries outside a grant, over every client. */
  totals(sent = this.sent): { delivered: number; lost: number; dup: number; outside: number } {
    let delivered = 0;
    let lost = 0;
    let dup = 0;
    let outside = 0;
    for (const c of this.clients) {
      delivered += c.check.received;
      lost += c.check.lostOf(sent);
      dup += c.check.dup;
      outside += c.outside;
    }
    return { delivered, lost, dup, outside };
  }

  /** Closes every endpoint and socket. */
  async close(): Promise<void> {
    const eps = [...this.clients, ...this.pubs];
    await Promise.all(
      eps.map(async (c) => {
        c.raw?.ws.terminate();
        await c.endpoint?.close();
      }),
    );
  }
}
