/**
 * Auth section (issue 11): what authentication, topic ACLs and TLS cost a hub, each against the
 * same hub without them, in the same run and interleaved rounds:
 *
 * 1. pub/sub 1→1 and 1→10 through a hub with auth + ACLs (every client presents its own HS256
 *    token; its role has 10 allow and 2 deny prefixes) against a hub without auth;
 * 2. connects per second with a token (verified by the listener's `authenticate` from
 *    `createAuthenticator`) against connects without;
 * 3. pub/sub 1→1 over `wss://` (self-signed certificate made with `openssl` at the start) against
 *    `ws://`.
 *
 * Each hub runs in its own process (`../lib/auth-hub-server.ts`), each hub's clients in a driver
 * process of their own (`../lib/auth-driver.ts`), as in the `pubsub` section, whose load
 * (`pubsub-load.ts`) and constants this section reuses.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeAuthMaterial,
  AUTH_BENCH_ALLOW,
  AUTH_BENCH_DENY,
  AUTH_BENCH_OPEN_SUBSCRIPTION,
  AUTH_BENCH_OPEN_TOPIC,
  type AuthMaterial,
} from '../lib/auth-material.js';
import type { ConnectResult, DialSpec } from '../lib/auth-clients.js';
import {
  connectTable,
  pubsubTable,
  ratioTable,
  roundRatios,
  type ConnectOut,
  type Scenario,
  type Variant,
} from '../lib/auth-report.js';
import { formatRatio, type Table } from '../lib/markdown.js';
import { processCpuMs, ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import {
  goalAtLeast,
  type BenchSection,
  type GoalResult,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { median } from '../lib/timing.js';
import { BURST, IN_FLIGHT_CAP } from './pubsub.js';
import { summarizeCpuProfile } from './pubsub-profile.js';
import { profileTables, type RoundOut } from './pubsub-report.js';

/** Issue 11: pub/sub with auth and ACLs on at least this fraction of the rate with them off. */
const AUTH_GOAL = 0.9;
const START_TIMEOUT_MS = 15_000;
const CALL_SLACK_MS = 15_000;

interface Durations {
  readonly warmupMs: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly drainMs: number;
  /** Connects per measured batch (the N). */
  readonly connects: number;
  readonly connectRounds: number;
  readonly connectWarmup: number;
  readonly connectConcurrency: number;
  /** Length of the profiled 1→10 round of the auth hub, ms. */
  readonly profileMs: number;
}

const FULL: Durations = {
  warmupMs: 1000,
  roundMs: 1000,
  rounds: 11,
  drainMs: 2000,
  connects: 500,
  connectRounds: 7,
  connectWarmup: 100,
  connectConcurrency: 8,
  profileMs: 2000,
};
const QUICK: Durations = {
  warmupMs: 300,
  roundMs: 700,
  rounds: 2,
  drainMs: 1000,
  connects: 100,
  connectRounds: 1,
  connectWarmup: 20,
  connectConcurrency: 8,
  profileMs: 1000,
};

/** Functions listed from the auth hub's CPU profile. */
const PROFILE_TOP = 15;

/** A running hub of one variant and the driver of its clients. */
interface Hub {
  readonly variant: Variant;
  readonly url: string;
  readonly pid: number;
  readonly control: RpcClient;
  readonly driver: RpcClient;
  /** How the driver's clients dial and what they publish to (see `DialSpec`). */
  readonly dial: Omit<DialSpec, 'url'>;
}

function helperPath(name: string): string {
  return fileURLToPath(new URL(`../lib/${name}`, import.meta.url));
}

async function startHub(procs: ProcessSet, variant: Variant, m: AuthMaterial): Promise<Hub> {
  const mode = variant === 'off' ? 'plain' : variant === 'wss' ? 'tls' : 'auth';
  const child = procs.spawn(`${variant} hub`, process.execPath, [
    helperPath('auth-hub-server.js'),
    '--mode',
    mode,
    '--dir',
    m.dir,
  ]);
  const url = (await child.waitForLine(/^ready (wss?:\/\/\S+)$/, START_TIMEOUT_MS))[1]!;
  const driver = new RpcClient(procs.spawn(`${variant} driver`, process.execPath, [helperPath('auth-driver.js')]));
  const dial =
    variant === 'auth'
      ? { keyPath: m.keyPath }
      : variant === 'auth-open'
        ? { keyPath: m.keyPath, topic: AUTH_BENCH_OPEN_TOPIC, subscription: AUTH_BENCH_OPEN_SUBSCRIPTION }
        : variant === 'wss'
          ? { caPath: m.certPath }
          : {};
  return { variant, url, pid: child.pid, control: new RpcClient(child), driver, dial };
}

async function overflows(hub: Hub): Promise<number> {
  return (await hub.control.call<{ overflows: number }>('stats', {}, 5000)).overflows;
}

/** One pub/sub scenario: every hub warmed up, then interleaved full-speed rounds (the first hub rotating). */
async function pubsubScenario(
  ctx: SectionContext,
  hubs: readonly Hub[],
  subscribers: number,
  d: Durations,
): Promise<{ rounds: Map<Variant, RoundOut[]>; hubOverflows: Map<Variant, number> }> {
  const label = `1→${subscribers}`;
  for (const h of hubs) {
    ctx.log(`auth ${label}: connecting clients of the ${h.variant} hub`);
    await h.driver.call('setup', { url: h.url, subscribers, ...h.dial }, 30_000);
  }
  const spec = { durationMs: d.roundMs, burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs };
  const call = (h: Hub, durationMs: number): Promise<RoundOut> =>
    h.driver.call<RoundOut>(
      'round',
      { ...spec, durationMs, brokerPid: h.pid },
      durationMs + spec.drainMs + CALL_SLACK_MS,
    );
  for (const h of hubs) {
    ctx.log(`auth ${label}: warming up the ${h.variant} hub`);
    await call(h, d.warmupMs);
  }
  const before = new Map<Variant, number>();
  for (const h of hubs) before.set(h.variant, await overflows(h));
  const rounds = new Map<Variant, RoundOut[]>(hubs.map((h) => [h.variant, []]));
  for (let r = 0; r < d.rounds; r++) {
    for (let k = 0; k < hubs.length; k++) {
      const h = hubs[(r + k) % hubs.length]!;
      ctx.log(`auth ${label}: round ${r + 1}/${d.rounds}, ${h.variant} hub`);
      rounds.get(h.variant)!.push(await call(h, d.roundMs));
    }
  }
  const hubOverflows = new Map<Variant, number>();
  for (const h of hubs) hubOverflows.set(h.variant, (await overflows(h)) - before.get(h.variant)!);
  for (const h of hubs) await h.driver.call('teardown', {}, 15_000);
  return { rounds, hubOverflows };
}

/** Interleaved batches of connects against each hub. */
async function connectRounds(
  ctx: SectionContext,
  hubs: readonly Hub[],
  d: Durations,
): Promise<Map<Variant, ConnectOut[]>> {
  const batch = async (h: Hub, n: number): Promise<ConnectOut> => {
    const cpu0 = processCpuMs(h.pid);
    const r = await h.driver.call<ConnectResult>(
      'connects',
      { url: h.url, n, concurrency: d.connectConcurrency, ...h.dial },
      120_000,
    );
    const cpu1 = processCpuMs(h.pid);
    return { ...r, hubCpuMs: cpu0 === undefined || cpu1 === undefined ? null : cpu1 - cpu0 };
  };
  for (const h of hubs) {
    ctx.log(`auth connects: warming up the ${h.variant} hub (${d.connectWarmup} connects)`);
    await batch(h, d.connectWarmup);
  }
  const out = new Map<Variant, ConnectOut[]>(hubs.map((h) => [h.variant, []]));
  for (let r = 0; r < d.connectRounds; r++) {
    for (let k = 0; k < hubs.length; k++) {
      const h = hubs[(r + k) % hubs.length]!;
      ctx.log(`auth connects: round ${r + 1}/${d.connectRounds}, ${d.connects} connects to the ${h.variant} hub`);
      out.get(h.variant)!.push(await batch(h, d.connects));
    }
  }
  return out;
}

/**
 * Profiles the auth hub with V8's CPU profiler during one 1→10 round at full speed (after the
 * measured rounds): where the hub's time goes with auth and ACLs on. Function table only.
 */
async function profileAuthHub(ctx: SectionContext, procs: ProcessSet, hub: Hub, d: Durations): Promise<Table[]> {
  ctx.log('auth: profiling the auth hub (V8 CPU profiler), 1→10 at full speed');
  const file = join(procs.tempDir('isobroker-bench-auth-prof-'), 'auth-hub.cpuprofile');
  await hub.driver.call('setup', { url: hub.url, subscribers: 10, ...hub.dial }, 30_000);
  const spec = { burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs, brokerPid: hub.pid };
  await hub.driver.call('round', { ...spec, durationMs: d.warmupMs }, d.warmupMs + d.drainMs + CALL_SLACK_MS);
  await hub.control.call('profile-start', {}, 5000);
  const r = await hub.driver.call<RoundOut>(
    'round',
    { ...spec, durationMs: d.profileMs },
    d.profileMs + d.drainMs + CALL_SLACK_MS,
  );
  await hub.control.call('profile-stop', { path: file }, 30_000);
  await hub.driver.call('teardown', {}, 15_000);
  return profileTables(
    'auth hub (auth + ACLs, deny inside the grant)',
    summarizeCpuProfile(file, PROFILE_TOP),
    r,
  ).slice(0, 1);
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const d = ctx.quick ? QUICK : FULL;
  const procs = new ProcessSet();
  const scenarios: Scenario[] = [];
  let connects = new Map<Variant, ConnectOut[]>();
  let profile: Table[] = [];
  const profileNotes: string[] = [];
  const loadBefore = loadavg()[0]!;
  let loadAfter = NaN;
  try {
    ctx.log('auth: making the signing key, the policy and a self-signed certificate (openssl)');
    const material = makeAuthMaterial(procs);
    ctx.log('auth: starting the hubs (ws:// auth off, ws:// auth + ACLs, wss://)');
    const off = await startHub(procs, 'off', material);
    const auth = await startHub(procs, 'auth', material);
    const authOpen = await startHub(procs, 'auth-open', material);
    const wss = await startHub(procs, 'wss', material);
    ctx.log('auth: checking that the auth hub refuses a token-less client and drops a message under a deny');
    await auth.driver.call('probe-auth', { url: auth.url, ...auth.dial }, 30_000);
    scenarios.push({ subscribers: 1, ...(await pubsubScenario(ctx, [off, auth, authOpen, wss], 1, d)) });
    scenarios.push({ subscribers: 10, ...(await pubsubScenario(ctx, [off, auth, authOpen], 10, d)) });
    connects = await connectRounds(ctx, [off, auth, wss], d);
    loadAfter = loadavg()[0]!;
    try {
      profile = await profileAuthHub(ctx, procs, auth, d);
    } catch (e) {
      profileNotes.push(`Profiling the auth hub failed: ${(e as Error).message.split('\n')[0]}`);
    }
  } finally {
    await procs.stopAll();
  }

  const rate = (r: RoundOut): number => r.deliveredPerSec;
  const cpuPerDelivery = (r: RoundOut): number =>
    r.brokerCpuMs === null || r.delivered === 0 ? NaN : r.brokerCpuMs / r.delivered;
  const ratioOf = (s: Scenario, a: Variant, value: (r: RoundOut) => number = rate): number[] =>
    roundRatios(s.rounds.get(a) ?? [], s.rounds.get('off') ?? [], value).filter(Number.isFinite);
  const connectRatio = (a: Variant, value: (r: ConnectOut) => number): number[] =>
    roundRatios(connects.get(a) ?? [], connects.get('off') ?? [], value).filter(Number.isFinite);
  const hubCpuPerConnect = (r: ConnectOut): number => (r.hubCpuMs === null ? NaN : r.hubCpuMs / r.n);
  const [one, ten] = scenarios as [Scenario, Scenario];
  const authOne = ratioOf(one, 'auth');
  const authTen = ratioOf(ten, 'auth');
  const goal = `≥ ${formatRatio(AUTH_GOAL)}`;
  const tables: Table[] = [
    pubsubTable(scenarios),
    ratioTable([
      { what: 'pub/sub 1→1 msg/s: auth + ACLs ÷ auth off', ratios: authOne, goal },
      { what: 'pub/sub 1→10 msg/s: auth + ACLs ÷ auth off', ratios: authTen, goal },
      { what: 'pub/sub 1→1 msg/s: auth + ACLs, no deny inside ÷ auth off', ratios: ratioOf(one, 'auth-open'), goal },
      { what: 'pub/sub 1→10 msg/s: auth + ACLs, no deny inside ÷ auth off', ratios: ratioOf(ten, 'auth-open'), goal },
      { what: 'pub/sub 1→1 msg/s: wss:// ÷ ws://', ratios: ratioOf(one, 'wss'), goal: 'reported' },
      {
        what: 'hub CPU per delivery 1→1: auth + ACLs ÷ auth off',
        ratios: ratioOf(one, 'auth', cpuPerDelivery),
        goal: 'reported',
      },
      {
        what: 'hub CPU per delivery 1→10: auth + ACLs ÷ auth off',
        ratios: ratioOf(ten, 'auth', cpuPerDelivery),
        goal: 'reported',
      },
      {
        what: 'hub CPU per delivery 1→10: auth + ACLs, no deny inside ÷ auth off',
        ratios: ratioOf(ten, 'auth-open', cpuPerDelivery),
        goal: 'reported',
      },
      {
        what: 'hub CPU per delivery 1→1: wss:// ÷ ws://',
        ratios: ratioOf(one, 'wss', cpuPerDelivery),
        goal: 'reported',
      },
      { what: 'connects/s: with token ÷ without', ratios: connectRatio('auth', (r) => r.perSec), goal: 'reported' },
      { what: 'connects/s: wss:// ÷ ws://', ratios: connectRatio('wss', (r) => r.perSec), goal: 'reported' },
      {
        what: 'hub CPU per connect: with token ÷ without',
        ratios: connectRatio('auth', hubCpuPerConnect),
        goal: 'reported',
      },
      { what: 'hub CPU per connect: wss:// ÷ ws://', ratios: connectRatio('wss', hubCpuPerConnect), goal: 'reported' },
    ]),
    connectTable(connects, d.connects, d.connectConcurrency),
    ...profile,
  ];
  const goals: GoalResult[] = [
    goalAtLeast(`pub/sub 1→1 with auth + ACLs ≥ ${formatRatio(AUTH_GOAL)} of auth off`, median(authOne), AUTH_GOAL),
    goalAtLeast(`pub/sub 1→10 with auth + ACLs ≥ ${formatRatio(AUTH_GOAL)} of auth off`, median(authTen), AUTH_GOAL),
  ];
  const notes = [
    `Machine load (1-minute load average) ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after, on 2 ` +
      'cores shared with other work: absolute rates move with it, the interleaved ratios much less.',
    'Method: three hubs, each in its own process (`new Endpoint({ role: "hub" })` + `listen` on 127.0.0.1): `ws://` ' +
      'without auth; `ws://` with `auth.authenticate` from `createAuthenticator` over a policy checked by `parsePolicy` ' +
      '(one HS256 key; one role with 10 allow prefixes and 2 deny prefixes for publish and subscribe, publish rate ' +
      'limit raised to 10⁹/s so it never bites but is still consulted); `wss://` with a self-signed P-256 certificate ' +
      "made by `openssl req -x509` at the start (clients trust it as their CA), without auth. Each hub's clients run " +
      'in a driver process of their own; each client is an `Endpoint` dialled with `peer()` from `isobroker/node` on ' +
      "the native protocol, presenting its own token (minted with `isobroker token`'s `mintToken`: HS256, `kid`, " +
      '`sub`, `exp`, `isb.roles`) in its hello. Before measuring, the section checks ' +
      'that the auth hub refuses a client without a token and drops a message published under a deny.',
    `Pub/sub load as in the \`pubsub\` section (bursts of ${BURST}, at most ${IN_FLIGHT_CAP} messages per subscriber ` +
      `in flight, 100-byte text messages): every hub is warmed up (${d.warmupMs} ms), then the hubs run interleaved for ` +
      `${d.rounds} rounds of ${d.roundMs} ms, the starting hub rotating. The publisher publishes to ` +
      `\`bench/auth/a3/data\`, inside the allow prefix \`bench/auth/a3/\` (of ${AUTH_BENCH_ALLOW.length}); one of the ` +
      `${AUTH_BENCH_DENY.length} denies (\`${AUTH_BENCH_DENY[0]}\`) lies inside that allow prefix, so the subscribers' ` +
      'subscription `bench/auth/a3/` is kept but filtered and every delivery is checked against the deny (the dearer ' +
      'path of the ACL). A second auth hub (same policy, own process) carries the same load on `' +
      `${AUTH_BENCH_OPEN_TOPIC}\`, whose allow prefix has no deny inside it, so its subscription is not filtered. ` +
      'The hub uses well under a core (see "hub CPU"); the clients\' driver process and, on this shared machine, ' +
      'other work take the rest, so the msg/s ratios say what a client sees, and "hub CPU per delivery" (CPU time of ' +
      'the hub process from /proc over messages delivered) what auth costs the hub itself.',
    `Connects: ${d.connectRounds} interleaved rounds of ${d.connects} connections per hub after ${d.connectWarmup} ` +
      `warm-up connects, ${d.connectConcurrency} under way at once; each is a new \`Endpoint\` whose \`peer()\` resolves ` +
      'once the handshake (and with auth, the token check) is done, then closes. Tokens are minted before the clock ' +
      'starts, one per connection. The auth hub lifts the per-IP new-connection rate limit (500/s by default with ' +
      'auth), because every benchmark client comes from 127.0.0.1 and the point is the cost of checking tokens.',
  ];
  return { tables, goals, notes: [...notes, ...profileNotes] };
}

/** The `auth` section. */
export const authSection: BenchSection = {
  id: 'auth',
  title: 'Authentication, ACLs and TLS: cost against the same hub without them',
  about:
    'Pub/sub 1→1 and 1→10 through a hub with auth and byte-prefix ACLs on (a JWT per client, 10 allow and 2 deny ' +
    'prefixes per principal) against the same hub with auth off; connects per second with tokens (HS256, verified by ' +
    "the listener's `authenticate`) against without; and `wss://` against `ws://` — all in the same run, in " +
    'interleaved rounds, hubs and their clients in separate processes.',
  run,
};
