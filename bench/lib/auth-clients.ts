/**
 * Clients of the `auth` benchmark, in its driver process: the `pubsub` section's hub clients (one
 * publisher, N subscribers, each an `Endpoint` on its own connection, the same 100-byte text
 * messages) dialled with `peer()` from `isobroker/node` so each may present its own token and
 * trust a private CA; and a loop of short-lived connections for connects per second.
 */
import { readFileSync } from 'node:fs';
import { Endpoint, string } from '../../src/index.js';
import { peer, type NodePeerOptions } from '../../src/node/index.js';
import { mintToken, parseSigningKey } from '../../server/cli/token.js';
import type { DeliverFn, PubSubClients } from '../sections/pubsub-clients.js';
import { parseText, payloadText, type ParsedPayload } from '../sections/pubsub-payload.js';
import { AUTH_BENCH_DENY, AUTH_BENCH_ROLE, AUTH_BENCH_SUBSCRIPTION, AUTH_BENCH_TOPIC } from './auth-material.js';

/** How a client dials: a key file to mint its token with, a certificate to trust. */
export interface DialSpec {
  readonly url: string;
  /** The signing key (`key.json`); absent: no token. */
  readonly keyPath?: string;
  /** PEM certificate to trust for `wss://`; absent: plain `ws://`. */
  readonly caPath?: string;
  /** The topic published to and the prefix subscribed to. @default AUTH_BENCH_TOPIC, AUTH_BENCH_SUBSCRIPTION */
  readonly topic?: string;
  readonly subscription?: string;
}

/** Token lifetime of the benchmark's clients, seconds. */
const TOKEN_TTL_SECONDS = 3600;

/** Mints one token per subject (HS256, `isb.roles: [bench]`) with `isobroker token`'s `mintToken`. */
export async function mintTokens(keyPath: string, subjects: readonly string[]): Promise<string[]> {
  const key = await parseSigningKey(readFileSync(keyPath, 'utf8'));
  return Promise.all(
    subjects.map((sub) => mintToken({ key, sub, roles: [AUTH_BENCH_ROLE], ttlSeconds: TOKEN_TTL_SECONDS })),
  );
}

function peerOptions(token: string | undefined, ca: Buffer | undefined): NodePeerOptions {
  return {
    retry: 0,
    ...(token !== undefined ? { token } : {}),
    ...(ca !== undefined ? { tls: { ca } } : {}),
  };
}

/** Connects a publisher and `subscribers` subscribers to the hub at `spec.url`, each with its own token when a key is given. */
export async function openAuthHubClients(
  spec: DialSpec,
  subscribers: number,
  deliver: DeliverFn,
): Promise<PubSubClients> {
  const names = [...Array.from({ length: subscribers }, (_, i) => `bench-sub-${i}`), 'bench-pub'];
  const tokens = spec.keyPath === undefined ? undefined : await mintTokens(spec.keyPath, names);
  const ca = spec.caPath === undefined ? undefined : readFileSync(spec.caPath);
  const topic = spec.topic ?? AUTH_BENCH_TOPIC;
  const subscription = spec.subscription ?? AUTH_BENCH_SUBSCRIPTION;
  const subs: Endpoint[] = [];
  for (let i = 0; i < subscribers; i++) {
    const ep = new Endpoint({ name: names[i]! });
    const parsed: ParsedPayload = { seq: 0, sentUs: 0 };
    ep.subscribe(subscription, (m) => {
      if (m.data.type === 'string' && parseText(m.data.value, parsed)) deliver(i, parsed.seq, parsed.sentUs);
    });
    await peer(ep, spec.url, peerOptions(tokens?.[i], ca));
    subs.push(ep);
  }
  const pub = new Endpoint({ name: 'bench-pub' });
  await peer(pub, spec.url, peerOptions(tokens?.[subscribers], ca));
  await pub.whenRoutable(topic);
  return {
    publish: (seq, sentUs) => pub.publish(topic, string(payloadText(seq, sentUs))),
    clientDrops: () =>
      [pub, ...subs].reduce((n, ep) => n + ep.peers().reduce((k, p) => k + (p.stats?.overflows ?? 0), 0), 0),
    close: async () => {
      await Promise.all([pub, ...subs].map((ep) => ep.close()));
    },
  };
}

/** One batch of connects. */
export interface ConnectSpec extends DialSpec {
  /** Connections opened (each: new endpoint, `peer()`, `close()`). */
  readonly n: number;
  /** How many are under way at once. */
  readonly concurrency: number;
}

/** What a batch of connects measured. */
export interface ConnectResult {
  readonly n: number;
  /** Wall time of the whole batch, ms. */
  readonly elapsedMs: number;
  /** `n` per second of `elapsedMs`. */
  readonly perSec: number;
  /** Median and 99th percentile of one `peer()` call (dial to handshake done), ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of this (client) process during the batch, ms. */
  readonly clientCpuMs: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Opens `n` connections to the hub, `concurrency` at a time: each a new `Endpoint` that peers
 * (with a token of its own when a key is given; tokens are minted before the clock starts) and
 * closes once the handshake is done. Throws when a connection fails.
 */
export async function runConnects(spec: ConnectSpec): Promise<ConnectResult> {
  const tokens =
    spec.keyPath === undefined
      ? undefined
      : await mintTokens(
          spec.keyPath,
          Array.from({ length: spec.n }, (_, i) => `bench-conn-${i}`),
        );
  const ca = spec.caPath === undefined ? undefined : readFileSync(spec.caPath);
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < spec.n; i = next++) {
      const ep = new Endpoint({ name: `bench-conn-${i}` });
      try {
        const s = performance.now();
        await peer(ep, spec.url, peerOptions(tokens?.[i], ca));
        latencies.push(performance.now() - s);
      } finally {
        await ep.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.n) }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    n: spec.n,
    elapsedMs,
    perSec: (spec.n * 1000) / elapsedMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * Checks that the hub at `spec.url` enforces what the benchmark claims to measure: a connection
 * without a token is refused; with tokens, a message published under a deny
 * (`bench/auth/a3/secret/…`) never reaches a subscriber of `bench/auth/a3/`, while one published
 * right after it to the benchmark's topic does. Throws when not.
 */
export async function probeAuth(spec: DialSpec): Promise<{ refusedWithoutToken: true; deniedDropped: true }> {
  if (spec.keyPath === undefined) throw new Error('probeAuth needs a key');
  const anon = new Endpoint({ name: 'bench-probe-anon' });
  let refused = false;
  try {
    await peer(anon, spec.url, { retry: 0 });
  } catch {
    refused = true;
  } finally {
    await anon.close();
  }
  if (!refused) throw new Error('the auth hub accepted a connection without a token');
  const [subToken, pubToken] = await mintTokens(spec.keyPath, ['bench-probe-sub', 'bench-probe-pub']);
  const sub = new Endpoint({ name: 'bench-probe-sub' });
  const pub = new Endpoint({ name: 'bench-probe-pub' });
  try {
    const seen: string[] = [];
    let allowedArrived!: () => void;
    const arrived = new Promise<void>((resolve) => {
      allowedArrived = resolve;
    });
    sub.subscribe(AUTH_BENCH_SUBSCRIPTION, (m) => {
      seen.push(m.topic);
      if (m.topic === AUTH_BENCH_TOPIC) allowedArrived();
    });
    await peer(sub, spec.url, peerOptions(subToken, undefined));
    await peer(pub, spec.url, peerOptions(pubToken, undefined));
    await pub.whenRoutable(AUTH_BENCH_TOPIC);
    pub.publish(`${AUTH_BENCH_DENY[0]}probe`, string('denied'));
    pub.publish(AUTH_BENCH_TOPIC, string('allowed'));
    await Promise.race([
      arrived,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the allowed probe message never arrived')), 5000)),
    ]);
    if (seen.some((t) => t !== AUTH_BENCH_TOPIC)) throw new Error('a message published under a deny was delivered');
    return { refusedWithoutToken: true, deniedDropped: true };
  } finally {
    await Promise.all([sub.close(), pub.close()]);
  }
}
