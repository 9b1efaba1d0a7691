/**
 * Pub/sub section: messages per second delivered and latency through a broker over WebSocket on
 * 127.0.0.1 — the isobroker hub against nats-server (nats.ws), mosquitto (MQTT.js, QoS 0) and a
 * raw `ws` relay — one publisher to one and to ten subscribers, 100-byte messages, in interleaved
 * rounds. Each broker runs in its own process; each system's clients run in a driver process of
 * their own (see `pubsub-brokers.ts`).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ProcessSet } from '../lib/processes.js';
import type { BenchSection, GoalResult, SectionContext, SectionReport } from '../lib/section.js';
import type { Table } from '../lib/markdown.js';
import { median } from '../lib/timing.js';
import type { SystemId } from './pubsub-clients.js';
import {
  NATS_SERVER_CANDIDATES,
  findExecutable,
  mosquittoUnavailable,
  startHub,
  startMosquitto,
  startNats,
  startRelay,
  type BrokerSetup,
} from './pubsub-brokers.js';
import type { RoundSpec } from './pubsub-load.js';
import { summarizeCpuProfile } from './pubsub-profile.js';
import {
  bottleneckNote,
  goalsFor,
  peakTable,
  profileTables,
  rateTable,
  ratioTable,
  type ScenarioResult,
  type RoundOut,
} from './pubsub-report.js';

/** Messages published per event-loop turn. */
export const BURST = 500;
/** Most messages per subscriber published but not yet delivered before the publisher waits. */
export const IN_FLIGHT_CAP = 2000;
/** Subscriber counts of the two scenarios. */
const SCENARIOS = [1, 10] as const;

interface Durations {
  readonly warmupMs: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly rateRounds: number;
  readonly drainMs: number;
  readonly profileMs: number;
}

const FULL: Durations = { warmupMs: 1000, roundMs: 1000, rounds: 7, rateRounds: 3, drainMs: 2000, profileMs: 2000 };
const QUICK: Durations = { warmupMs: 300, roundMs: 700, rounds: 1, rateRounds: 1, drainMs: 1000, profileMs: 1000 };

const CALL_SLACK_MS = 15_000;
/** Functions and files listed per profile. */
const PROFILE_TOP = 12;

function roundCall(b: BrokerSetup, spec: Omit<RoundSpec, 'brokerPid'>): Promise<RoundOut> {
  const full: RoundSpec = { ...spec, brokerPid: b.brokerPid };
  return b.driver.call<RoundOut>('round', full, spec.durationMs + spec.drainMs + CALL_SLACK_MS);
}

async function hubOverflows(hub: BrokerSetup): Promise<number> {
  return (await hub.control!.call<{ overflows: number }>('stats', {}, 5000)).overflows;
}

/** Runs one scenario: every system warmed up, interleaved peak rounds, then the rate-limited pass. */
async function runScenario(
  ctx: SectionContext,
  brokers: readonly BrokerSetup[],
  subscribers: number,
  d: Durations,
): Promise<ScenarioResult> {
  const label = `1→${subscribers}`;
  for (const b of brokers) {
    ctx.log(`pubsub ${label}: connecting ${b.system} clients`);
    await b.driver.call('setup', { system: b.system, url: b.url, subscribers }, 30_000);
  }
  const hub = brokers.find((b) => b.system === 'hub')!;
  const peakSpec = { durationMs: d.roundMs, burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs };
  for (const b of brokers) {
    ctx.log(`pubsub ${label}: warming up ${b.system}`);
    await roundCall(b, { ...peakSpec, durationMs: d.warmupMs });
  }
  const overflows0 = await hubOverflows(hub);
  const peak = new Map<SystemId, RoundOut[]>(brokers.map((b) => [b.system, []]));
  for (let r = 0; r < d.rounds; r++) {
    for (let k = 0; k < brokers.length; k++) {
      const b = brokers[(r + k) % brokers.length]!;
      ctx.log(`pubsub ${label}: round ${r + 1}/${d.rounds}, ${b.system} at full speed`);
      peak.get(b.system)!.push(await roundCall(b, peakSpec));
    }
  }
  const overflows1 = await hubOverflows(hub);
  const hubPeak = median(peak.get('hub')!.map((x) => x.deliveredPerSec));
  const targetDelivered = hubPeak / 2;
  const rateSpec = { ...peakSpec, rate: targetDelivered / subscribers };
  const rate = new Map<SystemId, RoundOut[]>(brokers.map((b) => [b.system, []]));
  for (let r = 0; r < d.rateRounds; r++) {
    for (let k = 0; k < brokers.length; k++) {
      const b = brokers[(r + k) % brokers.length]!;
      ctx.log(
        `pubsub ${label}: rate round ${r + 1}/${d.rateRounds}, ${b.system} at ${Math.round(targetDelivered)} deliveries/s`,
      );
      rate.get(b.system)!.push(await roundCall(b, rateSpec));
    }
  }
  const overflows2 = await hubOverflows(hub);
  for (const b of brokers) await b.driver.call('teardown', {}, 15_000);
  return {
    subscribers,
    peak,
    rate,
    targetDelivered,
    hubOverflows: { peak: overflows1 - overflows0, rate: overflows2 - overflows1 },
  };
}

/**
 * Profiles the hub and its client driver with V8's CPU profiler (what `node --cpu-prof` runs),
 * sampling only during one 1→10 round at full speed: where the broker's time goes, and where its
 * clients' goes. Uses the scenario's hub, after the measured rounds.
 */
async function profileHub(ctx: SectionContext, procs: ProcessSet, hub: BrokerSetup, d: Durations): Promise<Table[]> {
  const dir = procs.tempDir('isobroker-bench-prof-');
  ctx.log('pubsub: profiling the hub and its clients (V8 CPU profiler), 1→10 at full speed');
  await hub.driver.call('setup', { system: 'hub', url: hub.url, subscribers: 10 }, 30_000);
  const spec = { durationMs: d.profileMs, burst: BURST, inFlightCap: IN_FLIGHT_CAP, drainMs: d.drainMs };
  await roundCall(hub, { ...spec, durationMs: d.warmupMs });
  const hubFile = join(dir, 'hub.cpuprofile');
  const clientFile = join(dir, 'clients.cpuprofile');
  await Promise.all([hub.control!.call('profile-start', {}, 5000), hub.driver.call('profile-start', {}, 5000)]);
  const r = await roundCall(hub, spec);
  await Promise.all([
    hub.control!.call('profile-stop', { path: hubFile }, 30_000),
    hub.driver.call('profile-stop', { path: clientFile }, 30_000),
  ]);
  await hub.driver.call('teardown', {}, 15_000);
  return [
    ...profileTables('hub process', summarizeCpuProfile(hubFile, PROFILE_TOP), r),
    ...profileTables(
      'client driver (publisher + 10 subscriber endpoints)',
      summarizeCpuProfile(clientFile, PROFILE_TOP),
      r,
    ),
  ];
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const d = ctx.quick ? QUICK : FULL;
  const notes: string[] = [];
  const procs = new ProcessSet();
  const results: ScenarioResult[] = [];
  const skipped = new Map<SystemId, string>();
  const loadBefore = loadavg()[0]!;
  let loadAfter = NaN;
  let profile: Table[] = [];
  try {
    ctx.log('pubsub: starting brokers');
    const brokers: BrokerSetup[] = [await startHub(procs)];
    const nats = findExecutable(NATS_SERVER_CANDIDATES);
    if (nats === undefined) skipped.set('nats', 'nats-server is not installed');
    else brokers.push(await startNats(procs, nats));
    const noMosquitto = mosquittoUnavailable();
    if (noMosquitto !== undefined) skipped.set('mosquitto', noMosquitto);
    else {
      try {
        brokers.push(await startMosquitto(procs));
      } catch (e) {
        skipped.set(
          'mosquitto',
          `could not start in a private network namespace: ${(e as Error).message.split('\n')[0]}`,
        );
      }
    }
    brokers.push(await startRelay(procs));
    for (const n of SCENARIOS) results.push(await runScenario(ctx, brokers, n, d));
    loadAfter = loadavg()[0]!;
    if (d.profileMs > 0) {
      try {
        profile = await profileHub(ctx, procs, brokers.find((b) => b.system === 'hub')!, d);
      } catch (e) {
        notes.push(`Profiling the hub failed: ${(e as Error).message}`);
      }
    }
  } finally {
    await procs.stopAll();
  }
  for (const [system, why] of skipped) notes.push(`**${system} not measured:** ${why}.`);
  notes.push(
    `Machine load (1-minute load average) ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after the ` +
      'measured rounds, on 2 cores: other work on the machine takes CPU from brokers and clients alike.',
  );

  const tables: Table[] = [];
  for (const r of results) tables.push(peakTable(r), rateTable(r));
  tables.push(ratioTable(results));
  tables.push(...profile);
  if (results.length > 0) notes.push(bottleneckNote(results));
  const goals: GoalResult[] = goalsFor(results, skipped);
  return { tables, goals, notes: [...notes, ...methodNotes(d)] };
}

function methodNotes(d: Durations): string[] {
  return [
    `Method: each broker runs in its own process; each system's clients (one publisher, N subscribers, each on its own ` +
      `WebSocket connection) run together in one driver process of their own, so on this 2-core machine the broker has ` +
      `one core and its clients the other (nats-server is multi-threaded and may take more). mosquitto and its driver run ` +
      `inside a private network namespace (\`unshare -n\`), because its WebSocket listener ignores the bind address. ` +
      `Per scenario every system is warmed up (${d.warmupMs} ms), then the systems run interleaved for ${d.rounds} ` +
      `round(s) of ${d.roundMs} ms, the starting system rotating; figures are medians over rounds, ratios the median of ` +
      'per-round ratios.',
    `Load: the publisher publishes ${BURST} messages per event-loop turn, then yields (\`setImmediate\`); it waits while ` +
      `more than ${IN_FLIGHT_CAP} messages per subscriber are published but not delivered (flow control), so no broker ` +
      'is driven into dropping. Each message is 100 ASCII bytes carrying a sequence number and the publish time ' +
      '(`performance.now()`); subscribers take the latency on the same clock and count sequence gaps as drops. ' +
      '"delivered/s" is messages received summed over subscribers while publishing. Latency at full speed is mostly ' +
      "queueing behind the in-flight window; the rate-limited pass publishes at half the hub's peak (paced per " +
      'millisecond, same bursts rule) and is the latency that matters.',
    'Drops: sequence gaps plus messages still missing 2 s after the round (subscriber side), client-side send-buffer ' +
      'overflows or lost connections, and for the hub its send-buffer overflows. CPU: broker process (all threads) and ' +
      "driver process CPU time over the round's wall time; 100% is one core. mosquitto is configured with " +
      '`max_queued_messages 100000` so its default per-client queue (1000) does not drop inside the in-flight window.',
    'Clients: isobroker `Endpoint` (native protocol, `publish(topic, string(text))`, default options: `maxBatch` 1024, ' +
      '`sendBufferSize` 8192); nats.ws `publish(subject, bytes)` with a callback subscription; MQTT.js `publish(topic, ' +
      'buffer, { qos: 0 })`; raw ws: the publisher packs the messages of one turn into frames of at most 1024 records ' +
      '(like the endpoint), the relay forwards each frame unchanged to every other client.',
  ];
}

/** The `pubsub` section. */
export const pubsubSection: BenchSection = {
  id: 'pubsub',
  title: 'Pub/sub through a broker over WebSocket',
  about:
    'Messages per second delivered and publish-to-delivery latency through a broker on 127.0.0.1, one publisher to ' +
    'one and to ten subscribers, 100-byte messages: the isobroker hub (`isobroker hub`: `Endpoint` + `listen`) against ' +
    'nats-server with nats.ws, mosquitto with MQTT.js (QoS 0), and a raw `ws` relay that forwards frames without ' +
    'looking at them (the floor any broker pays), all in the same run in interleaved rounds.',
  run,
};
