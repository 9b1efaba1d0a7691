/**
 * Seeded fuzzing of the first frames of both protocols against a LIVE hub with auth on (a
 * listener on 127.0.0.1 with the policy-based authenticator over HS256 tokens): random and
 * mutated native `Hello` frames (the credential slot with random strings, truncated, re-signed or
 * `alg: none` JWTs, huge strings; mutated MessagePack) and mutated JSON v1 handshakes with random
 * or broken upgrade credentials. The hub never crashes, grants nothing without a valid credential
 * (no `Welcome`, no ack, no delivery either way), ends every connection with a clean close code
 * (or an HTTP refusal before any WebSocket), and a good client still connects afterwards. Then
 * mutated frames after authentication from a native leaf and a JSON v1 client: the hub answers
 * errors or closes that connection, delivers nothing outside the grant, and a healthy pair of
 * clients is unaffected.
 *
 * The seed is printed (FUZZ_SEED=… replays a run); ISOBROKER_LOAD=1 runs ten times the cases.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Endpoint, count, string, type Message } from 'isobroker';
import { parsePolicy } from '../../src/auth/policy.js';
import { MessageKind, decodeFrame, encodeDataMessage, encodeFrame, encodeMessage } from '../../src/internal.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { PolicyHolder } from '../../src/node/auth/policy-file.js';
import { listen, type Listener } from '../../src/node/listener/listener.js';
import { until } from '../support/endpoints.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const LOAD = process.env.ISOBROKER_LOAD === '1';
const SCALE = Number(process.env.FUZZ_SCALE ?? (LOAD ? 10 : 1));
const N = (ci: number): number => Math.max(1, Math.round(ci * SCALE));
const NATIVE_PATH = '/v1/messages/native';

const secret = randomBytes(32);
const otherSecret = randomBytes(32);

/** Close codes a hub may end a refused or broken connection with (never 1006 or 1011). */
const CLEAN_CLOSES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 4008, 4401, 4403, 4429]);
/** Native kinds that mean the hub granted something. */
const GRANTS = new Set<number>([MessageKind.Welcome, MessageKind.Data, MessageKind.Announce, MessageKind.Narrowed]);

function policy() {
  const r = parsePolicy({
    version: 1,
    keys: [{ kid: 'k1', alg: 'HS256', secret: secret.toString('base64url') }],
    roles: {
      fuzzer: { publish: { allow: ['fuzz/ok/'] }, subscribe: { allow: ['fuzz/'] } },
      healthy: { publish: { allow: ['healthy/'] }, subscribe: { allow: ['healthy/'] } },
    },
  });
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

async function sign(
  sub: string,
  role: string,
  o: { key?: Uint8Array; exp?: number; alg?: string; kid?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, iat: now, exp: o.exp ?? now + 600, isb: { roles: [role] } })
    .setProtectedHeader({ alg: o.alg ?? 'HS256', kid: o.kid ?? 'k1' })
    .sign(o.key ?? secret);
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

let hub: Endpoint;
let listener: Listener;
let good: string;
let badTokens: string[];
/** Every topic the hub's own subscriber received. */
const observed: string[] = [];
let ticker: NodeJS.Timeout | undefined;

beforeAll(async () => {
  console.log(`auth first-frame fuzz: seed ${SEED}${LOAD ? ' (load size)' : ''}`);
  hub = new Endpoint({ name: 'hub', role: 'hub' });
  hub.subscribe('', (m: Message) => void observed.push(m.topic));
  const { authenticate } = createAuthenticator(new PolicyHolder(policy()));
  listener = await listen(hub, {
    auth: { authenticate, required: true },
    // A first frame the hub cannot use is held to the pre-auth deadline (4008): keep it short.
    limits: {
      maxAuthFailuresPerIp: 10_000_000,
      newConnectionsPerIpPerSecond: 1_000_000,
      maxConnectionsPerIp: 10_000,
      maxPreAuthPerIp: 10_000,
      preAuthTimeout: 1000,
    },
  });
  good = await sign('fuzz-user', 'fuzzer');
  const now = Math.floor(Date.now() / 1000);
  badTokens = [
    await sign('fuzz-user', 'fuzzer', { key: otherSecret }),
    await sign('fuzz-user', 'fuzzer', { exp: now - 3600 }),
    await sign('fuzz-user', 'fuzzer', { kid: 'nope' }),
    await sign('fuzz-user', 'nosuchrole'),
    `${b64({ alg: 'none', kid: 'k1' })}.${b64({ sub: 'x', exp: now + 600, isb: { roles: ['fuzzer'] } })}.`,
    `${good.slice(0, good.lastIndexOf('.'))}.${Buffer.alloc(32).toString('base64url')}`,
  ];
  // Something to deliver: a connection granted by mistake would receive it.
  ticker = setInterval(() => hub.publish('fuzz/tick', count(1)), 20);
});

afterAll(async () => {
  if (ticker) clearInterval(ticker);
  await listener?.close();
  await hub?.close();
});

// ---------------------------------------------------------------------------------------------
// Outcomes

interface Outcome {
  /** HTTP status of a refused upgrade, or the WebSocket close code. */
  readonly http?: number;
  readonly close?: number;
  /** JSON v1: answered with an error and kept open (as for a bad handshake with auth off). */
  readonly answered?: boolean;
  /** A grant was seen: Welcome/Data/Announce/Narrowed (native) or ack/data-message (JSON v1). */
  readonly granted: boolean;
  /** The client-side failure, when neither happened. */
  readonly failure?: string;
}

function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) {
    const k =
      o.http !== undefined
        ? `http ${o.http}`
        : o.close !== undefined
          ? `close ${o.close}`
          : o.answered
            ? 'error, kept open'
            : `${o.failure}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

const isClean = (o: Outcome): boolean =>
  (o.http !== undefined && o.http >= 400 && o.http < 500) ||
  (o.close !== undefined && CLEAN_CLOSES.has(o.close)) ||
  o.answered === true ||
  (o.failure?.startsWith('client refused') ?? false); // `ws` would not send it (e.g. a bad subprotocol)

/** Opens a WebSocket, sends `first` once open, and follows the connection to its end (ms bound). */
function attempt(
  url: string,
  first: Uint8Array | string,
  opts: { headers?: Record<string, string>; protocols?: string[]; native: boolean; ms?: number },
): Promise<Outcome> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {}, perMessageDeflate: false });
    } catch (e) {
      resolve({ granted: false, failure: `client refused: ${(e as Error).name}` });
      return;
    }
    let granted = false;
    let done = false;
    const finish = (o: Omit<Outcome, 'granted'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...o, granted });
      ws.terminate();
    };
    const timer = setTimeout(() => finish({ failure: 'no end within the bound' }), opts.ms ?? 6000);
    ws.on('unexpected-response', (_req, res) => {
      finish({ http: res.statusCode ?? 0 });
      res.resume();
    });
    ws.on('error', (e) => finish({ failure: `error: ${e.message.slice(0, 40)}` }));
    ws.on('open', () => ws.send(first));
    ws.on('message', (data, isBinary) => {
      if (opts.native) {
        if (!isBinary) return;
        try {
          for (const m of decodeFrame(new Uint8Array(data as Buffer))) if (GRANTS.has(m.kind)) granted = true;
        } catch {
          granted = true; // the hub sends only valid frames; anything else is a failure too
        }
        if (granted) ws.close(1000);
      } else {
        const text = data.toString();
        let type: unknown;
        try {
          type = (JSON.parse(text) as { type?: unknown }).type;
        } catch {
          type = 'unparseable';
        }
        if (type !== 'error') granted = true;
        if (granted) ws.close(1000);
        // An error that does not close (a bad handshake over an accepted upgrade): wait a little.
        else setTimeout(() => finish({ answered: true }), 500);
      }
    });
    ws.on('close', (code) => finish({ close: code }));
  });
}

/** Runs `n` attempts from `make`, `batch` at a time. */
async function runAll<T>(cases: readonly T[], batch: number, run: (c: T) => Promise<Outcome>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < cases.length; i += batch) out.push(...(await Promise.all(cases.slice(i, i + batch).map(run))));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });

/** The credential slot of a Hello (everything but the good token, which is mixed in below). */
const badCredential = (): fc.Arbitrary<string | null> =>
  fc.oneof(
    fc.constant(null),
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    printable,
    fc.constantFrom(...badTokens),
    fc.nat({ max: good.length - 1 }).map((n) => good.slice(0, n)), // truncated
    fc.tuple(fc.nat({ max: good.length - 1 }), fc.constantFrom('A', 'B', '_', '-', '.')).map(([i, c]) => {
      const s = good.slice(0, i) + c + good.slice(i + 1);
      return s === good ? `${s}x` : s; // one changed character
    }),
    fc.uint8Array({ maxLength: 32 }).map((b) => `isbk_${Buffer.from(b).toString('hex')}`),
    { arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => 'a'.repeat(n)), weight: 1 }, // huge
    fc.constant(`${good} `),
    fc.constant(`Bearer ${good}`),
  );

interface HelloCase {
  readonly version: number;
  readonly id: Uint8Array;
  readonly name: string;
  readonly role: string;
  readonly credential: string | null;
  readonly link: string;
  /** Messages after the Hello in the same frame (held until authentication, then refused). */
  readonly trailing: readonly ('data' | 'announce' | 'ping')[];
}

const helloCase = (credential: fc.Arbitrary<string | null>): fc.Arbitrary<HelloCase> =>
  fc.record({
    version: fc.oneof({ arbitrary: fc.constant(3), weight: 4 }, fc.constant(2), fc.nat({ max: 2 ** 32 })),
    id: fc.oneof({ arbitrary: bytes16, weight: 5 }, fc.uint8Array({ maxLength: 40 })),
    name: fc.oneof(fc.constant('fuzz-leaf'), fc.string({ maxLength: 40 })),
    role: fc.oneof(fc.constant('client'), fc.string({ maxLength: 20 })),
    credential,
    link: fc.oneof({ arbitrary: fc.constantFrom('leaf', 'router'), weight: 5 }, fc.string({ maxLength: 10 })),
    trailing: fc.array(fc.constantFrom('data', 'announce', 'ping'), { maxLength: 3 }),
  }) as fc.Arbitrary<HelloCase>;

/** Encodes a Hello case as one frame; undefined when the encoder refuses its fields. */
function helloFrame(c: HelloCase): Uint8Array | undefined {
  try {
    const parts = [
      encodeMessage({
        kind: MessageKind.Hello,
        version: c.version,
        id: c.id,
        name: c.name,
        role: c.role,
        credential: c.credential,
        link: c.link,
      } as never),
    ];
    for (const t of c.trailing) {
      if (t === 'data') parts.push(encodeDataMessage('fuzz/leak/first-frame', c.id.slice(0, 16), 1, 4, count(1)));
      else if (t === 'announce')
        parts.push(
          encodeMessage({
            kind: MessageKind.Announce,
            origin: c.id.slice(0, 16),
            version: 1,
            name: c.name,
            filter: [''],
            neighbors: [],
          } as never),
        );
      else parts.push(encodeMessage({ kind: MessageKind.Ping, nonce: 1 }));
    }
    return encodeFrame(parts);
  } catch {
    return undefined;
  }
}

/** Byte-level mutations of a frame: flips, inserted and deleted runs, truncation, appended junk. */
const mutation = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), v: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('append' as const), v: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  ),
  { minLength: 1, maxLength: 4 },
);

function mutate(frame: Uint8Array, ops: readonly MutationOp[]): Uint8Array {
  let b = Buffer.from(frame);
  for (const m of ops) {
    const at = b.length === 0 ? 0 : m.at === undefined ? 0 : m.at % b.length;
    if (m.op === 'flip' && b.length) b[at] = b[at]! ^ (1 << m.bit!);
    else if (m.op === 'set' && b.length) b[at] = m.v as number;
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.v as Uint8Array, b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n!)]);
    else if (m.op === 'truncate') b = b.subarray(0, at);
    else if (m.op === 'append') b = Buffer.concat([b, m.v as Uint8Array]);
  }
  return new Uint8Array(b);
}
type MutationOp = { op: string; at?: number; bit?: number; v?: number | Uint8Array; n?: number };

/** Whether the hub may grant this native first frame: a decodable Hello whose credential is the good token. */
function mayGrantNative(frame: Uint8Array | string): boolean {
  if (typeof frame === 'string') return false;
  try {
    const msgs = decodeFrame(frame);
    const h = msgs[0];
    return h?.kind === MessageKind.Hello && (h as { credential: string | null }).credential === good;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

/** A good native leaf and JSON v1 client connect (and get Welcome / ack). */
async function goodClientsConnect(): Promise<void> {
  const leaf = new Endpoint({ name: `good-${Math.random().toString(36).slice(2, 8)}`, linkKind: 'leaf' });
  try {
    await leaf.peer(listener.url, { token: good });
    const got: string[] = [];
    leaf.subscribe('fuzz/tick', (m) => void got.push(m.topic));
    await until(() => got.length > 0, 5000, 'a tick at a good native leaf');
  } finally {
    await leaf.close();
  }
  const json = await attempt(listener.jsonUrl, '["fuzz/"]', {
    headers: { Authorization: `Bearer ${good}` },
    native: false,
  });
  expect(json.granted, 'a good JSON v1 client is acked').toBe(true);
}

describe('first frames against a live hub with auth on', () => {
  it(
    'native: random and mutated Hello frames never get a grant without the good credential, and end cleanly',
    async () => {
      const wellFormed = fc.sample(
        helloCase(fc.oneof({ arbitrary: badCredential(), weight: 9 }, { arbitrary: fc.constant(good), weight: 1 })),
        { seed: SEED, numRuns: N(300) },
      );
      const mutated = fc.sample(fc.tuple(helloCase(fc.oneof(badCredential(), fc.constant(good))), mutation), {
        seed: SEED + 1,
        numRuns: N(250),
      });
      const junk = fc.sample(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ maxLength: 100 }), // a text frame on the native path
          fc.constant(new Uint8Array([0x90])), // an empty frame
          fc.constant(encodeFrame([encodeMessage({ kind: MessageKind.Ping, nonce: 7 })])), // no Hello first
        ),
        { seed: SEED + 2, numRuns: N(50) },
      );
      const frames: (Uint8Array | string)[] = [];
      let unencodable = 0;
      for (const c of wellFormed) {
        const f = helloFrame(c);
        if (f) frames.push(f);
        else unencodable++;
      }
      for (const [c, ops] of mutated) {
        const f = helloFrame(c);
        if (f) frames.push(mutate(f, ops as MutationOp[]));
      }
      frames.push(...junk);

      // A hub that stops reading an oversize frame cuts the socket after its close timeout (5 s).
      const outcomes = await runAll(frames, 150, (f) =>
        attempt(`${listener.url}${NATIVE_PATH}`, f, { native: true, ms: 12_000 }),
      );
      const granted = outcomes.filter((o, i) => o.granted && !mayGrantNative(frames[i]!));
      const unclean = outcomes.filter((o) => !o.granted && !isClean(o));
      console.log(
        `native first frames (seed ${SEED}): ${frames.length} sent (${wellFormed.length - unencodable} well-formed Hellos, ${mutated.length} mutated, ${junk.length} junk; ${unencodable} not encodable), ` +
          `${outcomes.filter((o) => o.granted).length} granted with the good token; outcomes ${JSON.stringify(tally(outcomes))}`,
      );
      const show = (f: Uint8Array | string): string =>
        typeof f === 'string'
          ? `text(${f.length})`
          : `${Buffer.from(f.subarray(0, 48)).toString('hex')} (${f.length} bytes)`;
      for (const [i, o] of outcomes.entries())
        if ((!o.granted && !isClean(o)) || (process.env.FUZZ_DEBUG && o.close === 4008))
          console.log(`unclean: ${JSON.stringify(o)} after ${show(frames[i]!)}`);
      expect(granted, 'grants without the good credential').toEqual([]);
      expect(
        unclean.map((o) => tally([o])),
        'unclean ends',
      ).toEqual([]);
      expect(observed.filter((t) => t.startsWith('fuzz/leak/'))).toEqual([]);
      await goodClientsConnect();
    },
    120_000 * Math.max(1, SCALE),
  );

  it(
    'JSON v1: mutated handshakes with random upgrade credentials never get an ack or data, and end cleanly',
    async () => {
      const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
      const credentialHeader = fc.oneof(
        fc.constant(undefined),
        fc.string({ unit: headerChar, maxLength: 200 }),
        badCredential()
          .filter((c): c is string => c !== null && /^[\x20-\x7e]*$/.test(c))
          .map((c) => `Bearer ${c}`),
        fc.constantFrom(...badTokens).map((t) => `Bearer ${t}`),
        fc.constantFrom(`Basic ${good}`, `Bearer  ${good}x`, `ApiKey isbk_${'0'.repeat(32)}`, `Bearer ${good}.`),
        { arbitrary: fc.integer({ min: 9000, max: 60_000 }).map((n) => `Bearer ${'b'.repeat(n)}`), weight: 1 },
      );
      const protocols = fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 3 },
        badCredential()
          .filter((c): c is string => c !== null && /^[A-Za-z0-9._~+/=-]{1,2000}$/.test(c))
          .map((c) => ['isobroker.v1', `bearer.${c}`]),
        fc.constant(['isobroker.v1'] as string[]),
      );
      const handshake = fc.oneof(
        fc.constant('["fuzz/"]'),
        fc
          .tuple(fc.constant('["fuzz/", "healthy/", ""]'), mutation)
          .map(([s, ops]) => Buffer.from(mutate(Buffer.from(s), ops as MutationOp[])).toString('latin1')),
        fc.json({ maxDepth: 3 }),
        fc.string({ maxLength: 200 }),
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 50 }).map((a) => JSON.stringify(a)),
        fc.uint8Array({ maxLength: 100 }), // binary first frame
      );
      const cases = fc.sample(fc.record({ authorization: credentialHeader, protocols, handshake }), {
        seed: SEED + 3,
        numRuns: N(400),
      });
      const outcomes = await runAll(cases, 50, (c) =>
        attempt(listener.jsonUrl, c.handshake, {
          native: false,
          ...(c.authorization === undefined ? {} : { headers: { Authorization: c.authorization } }),
          ...(c.protocols === undefined ? {} : { protocols: c.protocols }),
        }),
      );
      // The good token may turn up (e.g. with trailing blanks, which HTTP strips): then an ack is fine.
      const mayGrant = (c: (typeof cases)[number]): boolean =>
        (c.authorization !== undefined &&
          new RegExp(`^Bearer[ \t]+${good}[ \t]*$`, 'i').test(c.authorization.trim())) ||
        (c.authorization === undefined && (c.protocols?.includes(`bearer.${good}`) ?? false));
      const granted = outcomes.filter((o, i) => o.granted && !mayGrant(cases[i]!));
      // Kept open after an error only with the good credential (a bad handshake over an accepted upgrade).
      const unclean = outcomes.filter((o, i) => !o.granted && (!isClean(o) || (o.answered && !mayGrant(cases[i]!))));
      console.log(
        `JSON v1 first frames (seed ${SEED}): ${cases.length} sent; outcomes ${JSON.stringify(tally(outcomes))}`,
      );
      for (const [i, o] of outcomes.entries())
        if (!o.granted && !isClean(o)) {
          const c = cases[i]!;
          console.log(
            `unclean: ${JSON.stringify(o)} after auth ${c.authorization?.slice(0, 60)} (${c.authorization?.length}) protocols ${c.protocols?.map((p) => p.slice(0, 40))} handshake ${typeof c.handshake === 'string' ? JSON.stringify(c.handshake.slice(0, 60)) : `binary ${c.handshake.length}`}`,
          );
        }
      expect(granted.length, 'acks or data without a valid credential').toBe(0);
      expect(
        unclean.map((o) => tally([o])),
        'unclean ends',
      ).toEqual([]);
      await goodClientsConnect();
    },
    120_000 * Math.max(1, SCALE),
  );
});

// ---------------------------------------------------------------------------------------------
// After authentication

/** Topics the fuzzing clients aim at: inside the grant, beside it, reserved, another's. */
const TOPICS = [
  'fuzz/ok/a',
  'fuzz/ok/',
  'fuzz/okay',
  'fuzz/no/b',
  'fuzz/',
  '',
  'healthy/x',
  '<$>/local/x',
  '<$>/store/prefs',
  'zeek/cluster/hello',
  'zeek/logs/conn',
  'isobroker/stats/x',
];

/** What the hub may deliver to its own subscriber: its tick, the healthy pair, the fuzzers' grant. */
const mayObserve = (t: string): boolean => t === 'fuzz/tick' || t.startsWith('healthy/') || t.startsWith('fuzz/ok/');

/** A native leaf with the good token, done by hand; resolves once Welcome arrived. */
async function authedNative(id: Uint8Array): Promise<{ ws: WebSocket; topics: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${listener.url}${NATIVE_PATH}`, { perMessageDeflate: false });
  const topics: string[] = [];
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => undefined);
  ws.on('message', (d) => {
    for (const m of decodeFrame(new Uint8Array(d as Buffer))) {
      if (m.kind === MessageKind.Welcome) welcomed();
      if (m.kind === MessageKind.Data) topics.push(m.topic);
    }
  });
  await new Promise<void>((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  ws.send(
    encodeFrame([
      encodeMessage({
        kind: MessageKind.Hello,
        version: 3,
        id,
        name: 'fuzz-leaf',
        role: 'client',
        credential: good,
        link: 'leaf',
      }),
      encodeMessage({
        kind: MessageKind.Announce,
        origin: id,
        version: 1,
        name: 'fuzz-leaf',
        filter: ['fuzz/'],
        neighbors: [],
      }),
    ]),
  );
  await Promise.race([welcome, closed.then((c) => Promise.reject(new Error(`closed ${c} before Welcome`)))]);
  return { ws, topics, closed };
}

/** A JSON v1 client with the good token; resolves after the ack. */
async function authedJson(): Promise<{ ws: WebSocket; texts: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(listener.jsonUrl, {
    headers: { Authorization: `Bearer ${good}` },
    perMessageDeflate: false,
  });
  const texts: string[] = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => undefined);
  const first = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
  ws.on('message', (d) => void texts.push(String(d)));
  await new Promise<void>((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  ws.send('["fuzz/"]');
  const ack = JSON.parse(await first) as { type: string };
  if (ack.type !== 'ack') throw new Error(`expected an ack, got ${ack.type}`);
  return { ws, texts, closed };
}

/** Waits until the hub's subscriber saw `topic`, or the connection closed; true when seen. */
async function synced(topic: string, closed: Promise<number>, ms = 5000): Promise<boolean> {
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  const start = Date.now();
  while (!observed.includes(topic)) {
    if (isClosed) return false;
    if (Date.now() - start > ms) throw new Error(`${topic} did not arrive and the connection stayed open`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe('frames after authentication', () => {
  it(
    'a native leaf and a JSON v1 client sending mutated frames get errors or a close; nothing outside the grant; a healthy pair is unaffected',
    async () => {
      const ta = await sign('healthy-a', 'healthy');
      const tb = await sign('healthy-b', 'healthy');
      const a = new Endpoint({ name: 'healthy-a', linkKind: 'leaf' });
      const b = new Endpoint({ name: 'healthy-b', linkKind: 'leaf' });
      const healthy: number[] = [];
      try {
        b.subscribe('healthy/', (m) => void healthy.push(Number((m.data as { value: unknown }).value)));
        await a.peer(listener.url, { token: ta });
        await b.peer(listener.url, { token: tb });
        await a.whenRoutable('healthy/x');
        let healthySent = 0;

        // Native: mutated Data/Announce/Reauth/Hello frames and junk, in batches, each batch followed
        // by a good Data message in the grant that shows the hub processed the batch.
        const id = new Uint8Array(randomBytes(16));
        let seq = 1;
        const nativeCase = fc.record({
          kind: fc.constantFrom('data', 'data', 'data', 'announce', 'reauth', 'hello', 'junk', 'text'),
          topic: fc.constantFrom(...TOPICS),
          value: fc.string({ maxLength: 40 }),
          filter: fc.array(fc.oneof(fc.constantFrom(...TOPICS), fc.string({ maxLength: 12 })), { maxLength: 4 }),
          mutate: fc.option(mutation, { freq: 2 }),
          junk: fc.uint8Array({ maxLength: 200 }),
        });
        const nativeCases = fc.sample(nativeCase, { seed: SEED + 4, numRuns: N(600) });
        const nativeCloses: Record<string, number> = {};
        let nativeErrors = 0;
        let conn = await authedNative(id);
        let sync = 0;
        const countErrors = (ws: WebSocket): void =>
          void ws.on('message', (d) => {
            for (const m of decodeFrame(new Uint8Array(d as Buffer))) if (m.kind === MessageKind.Error) nativeErrors++;
          });
        countErrors(conn.ws);
        const leafTopics: string[] = [];
        for (let i = 0; i < nativeCases.length; i += 20) {
          for (const c of nativeCases.slice(i, i + 20)) {
            let f: Uint8Array | string;
            if (c.kind === 'text') f = c.value;
            else if (c.kind === 'junk') f = c.junk;
            else {
              const msg =
                c.kind === 'data'
                  ? encodeDataMessage(c.topic, id, seq++, 4, string(c.value))
                  : c.kind === 'announce'
                    ? encodeMessage({
                        kind: MessageKind.Announce,
                        origin: id,
                        version: seq++,
                        name: 'fuzz-leaf',
                        filter: c.filter,
                        neighbors: [],
                      })
                    : c.kind === 'reauth'
                      ? encodeMessage({ kind: MessageKind.Reauth, credential: c.value })
                      : encodeMessage({
                          kind: MessageKind.Hello,
                          version: 3,
                          id,
                          name: 'x',
                          role: 'client',
                          credential: good,
                          link: 'leaf',
                        });
              f = encodeFrame([msg]);
              if (c.mutate) f = mutate(f, c.mutate as MutationOp[]);
            }
            conn.ws.send(f);
          }
          const syncTopic = `fuzz/ok/sync-native-${sync++}`;
          conn.ws.send(encodeFrame([encodeDataMessage(syncTopic, id, seq++, 4, count(1))]));
          a.publish('healthy/x', count(healthySent++));
          if (!(await synced(syncTopic, conn.closed))) {
            const code = await conn.closed;
            nativeCloses[code] = (nativeCloses[code] ?? 0) + 1;
            leafTopics.push(...conn.topics);
            conn = await authedNative(id);
            countErrors(conn.ws);
          }
        }
        leafTopics.push(...conn.topics);
        conn.ws.close();

        // JSON v1: mutated data messages, random JSON, binary frames.
        const jsonCase = fc.record({
          kind: fc.constantFrom('data', 'data', 'data', 'json', 'text', 'binary'),
          topic: fc.constantFrom(...TOPICS),
          mutate: fc.option(mutation, { freq: 2 }),
          json: fc.json({ maxDepth: 3 }),
          junk: fc.uint8Array({ maxLength: 100 }),
          value: fc.string({ maxLength: 40 }),
        });
        const jsonCases = fc.sample(jsonCase, { seed: SEED + 5, numRuns: N(600) });
        const jsonCloses: Record<string, number> = {};
        let jsonErrors = 0;
        let jc = await authedJson();
        const jsonTexts: string[] = [];
        for (let i = 0; i < jsonCases.length; i += 20) {
          for (const c of jsonCases.slice(i, i + 20)) {
            let f: string | Uint8Array;
            if (c.kind === 'binary') f = c.junk;
            else if (c.kind === 'json') f = c.json;
            else if (c.kind === 'text') f = c.value;
            else {
              const text = JSON.stringify({
                type: 'data-message',
                topic: c.topic,
                '@data-type': 'string',
                data: c.value,
              });
              f = c.mutate ? Buffer.from(mutate(Buffer.from(text), c.mutate as MutationOp[])).toString('latin1') : text;
            }
            jc.ws.send(f);
          }
          const syncTopic = `fuzz/ok/sync-json-${sync++}`;
          jc.ws.send(JSON.stringify({ type: 'data-message', topic: syncTopic, '@data-type': 'count', data: 1 }));
          a.publish('healthy/x', count(healthySent++));
          if (!(await synced(syncTopic, jc.closed))) {
            const code = await jc.closed;
            jsonCloses[code] = (jsonCloses[code] ?? 0) + 1;
            jsonTexts.push(...jc.texts);
            jc = await authedJson();
          }
        }
        jsonTexts.push(...jc.texts);
        jc.ws.close();
        for (const t of jsonTexts) {
          const m = JSON.parse(t) as { type: string; topic?: string };
          if (m.type === 'error') jsonErrors++;
          if (m.type === 'data-message') expect(m.topic!.startsWith('fuzz/'), `delivered ${m.topic}`).toBe(true);
        }

        await until(() => healthy.length === healthySent, 5000, 'every healthy message');
        expect(healthy).toEqual([...Array(healthySent).keys()]);
        const outside = [...new Set(observed.filter((t) => !mayObserve(t)))];
        expect(outside, 'delivered outside the grant').toEqual([]);
        expect(leafTopics.filter((t) => !t.startsWith('fuzz/'))).toEqual([]);
        for (const code of [...Object.keys(nativeCloses), ...Object.keys(jsonCloses)])
          expect(CLEAN_CLOSES.has(Number(code)), `close ${code}`).toBe(true);
        console.log(
          `after auth (seed ${SEED}): native ${nativeCases.length} frames, ${nativeErrors} Error replies, closes ${JSON.stringify(nativeCloses)}; ` +
            `JSON v1 ${jsonCases.length} frames, ${jsonErrors} error replies, closes ${JSON.stringify(jsonCloses)}; ` +
            `healthy pair ${healthy.length}/${healthySent} delivered in order`,
        );
        await goodClientsConnect();
      } finally {
        await a.close();
        await b.close();
      }
    },
    120_000 * Math.max(1, SCALE),
  );
});
