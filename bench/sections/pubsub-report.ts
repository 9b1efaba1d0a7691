/**
 * Tables and goals of the pub/sub section, built from the rounds each system ran.
 */
import { formatCount, formatNs, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import { goalAtLeast, type GoalResult } from '../lib/section.js';
import { median } from '../lib/timing.js';
import { SYSTEMS, type SystemId } from './pubsub-clients.js';
import type { RoundResult } from './pubsub-load.js';
import type { ProfileSummary } from './pubsub-profile.js';

/** A round as the driver reports it. */
export type RoundOut = RoundResult & { readonly clientDrops: number };

/** Everything one scenario measured. */
export interface ScenarioResult {
  readonly subscribers: number;
  /** Full-speed rounds per system, in round order (interleaved). */
  readonly peak: ReadonlyMap<SystemId, readonly RoundOut[]>;
  /** Rate-limited rounds per system. */
  readonly rate: ReadonlyMap<SystemId, readonly RoundOut[]>;
  /** Deliveries per second offered in the rate-limited pass: half the hub's peak. */
  readonly targetDelivered: number;
  /** Send-buffer overflows the hub counted during the full-speed and the rate-limited rounds. */
  readonly hubOverflows: { readonly peak: number; readonly rate: number };
}

/** Goal: the hub at least this many times as fast as nats-server. */
export const NATS_GOAL = 1.2;
/** Goal: the hub's delivered msg/s at least this share of the raw ws relay's (the floor any broker pays). */
export const RELAY_SHARE_GOAL = 0.4;
/** Goal: the hub at least this many times as fast as mosquitto. */
export const MOSQUITTO_GOAL = 5;
/** Goal: the hub's p99 latency at half its peak rate below this, in ms. */
export const P99_GOAL_MS = 5;

const LABELS: Readonly<Record<SystemId, string>> = {
  hub: 'isobroker hub (Endpoint clients)',
  nats: 'nats-server 2.9 (nats.ws)',
  mosquitto: 'mosquitto 2.0 (MQTT.js, QoS 0)',
  ws: 'raw ws relay (baseline)',
};

const RATIO_NAMES: Readonly<Record<SystemId, string>> = {
  hub: 'hub',
  nats: 'nats',
  mosquitto: 'mosquitto',
  ws: 'raw ws',
};

function ms(x: number): string {
  return Number.isFinite(x) ? formatNs(x * 1e6) : '—';
}

function percent(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—';
}

function scenarioName(n: number): string {
  return `1→${n}`;
}

function present(m: ReadonlyMap<SystemId, readonly RoundOut[]>): SystemId[] {
  return SYSTEMS.filter((s) => (m.get(s)?.length ?? 0) > 0);
}

function drops(rounds: readonly RoundOut[], extra: number): number {
  return rounds.reduce((n, r) => n + r.lost + r.clientDrops, 0) + extra;
}

function cpu(rounds: readonly RoundOut[], which: 'brokerCpuMs' | 'clientCpuMs'): number {
  const shares = rounds.flatMap((r) => (r[which] === null ? [] : [r[which]! / r.elapsedMs]));
  return shares.length === 0 ? NaN : median(shares);
}

/** Median over rounds of broker CPU time per delivered message, in ms. */
function cpuPerDelivery(rounds: readonly RoundOut[]): number {
  const per = rounds.flatMap((r) => (r.brokerCpuMs === null || r.delivered === 0 ? [] : [r.brokerCpuMs / r.delivered]));
  return per.length === 0 ? NaN : median(per);
}

/** Median over rounds of hub ÷ `system` delivered/s; NaN when either was not measured. */
export function hubRatio(r: ScenarioResult, system: SystemId): number {
  const hub = r.peak.get('hub') ?? [];
  const other = r.peak.get(system) ?? [];
  if (hub.length === 0 || other.length === 0) return NaN;
  return median(hub.map((h, i) => h.deliveredPerSec / (other[i] ?? other[other.length - 1]!).deliveredPerSec));
}

/** The full-speed table of one scenario. */
export function peakTable(r: ScenarioResult): Table {
  return {
    title: `${scenarioName(r.subscribers)}: one publisher, ${r.subscribers} subscriber${r.subscribers === 1 ? '' : 's'}, full speed (flow-controlled)`,
    headers: [
      'system',
      'delivered msg/s',
      'p50',
      'p99',
      'drops (all rounds)',
      'broker CPU',
      'broker CPU per delivery',
      'clients CPU',
      'hub ÷ this',
    ],
    rows: present(r.peak).map((s) => {
      const rounds = r.peak.get(s)!;
      return [
        LABELS[s],
        formatOps(median(rounds.map((x) => x.deliveredPerSec))),
        ms(median(rounds.map((x) => x.p50Ms))),
        ms(median(rounds.map((x) => x.p99Ms))),
        formatCount(drops(rounds, s === 'hub' ? r.hubOverflows.peak : 0)),
        percent(cpu(rounds, 'brokerCpuMs')),
        ms(cpuPerDelivery(rounds)),
        percent(cpu(rounds, 'clientCpuMs')),
        s === 'hub' ? '1×' : formatRatio(hubRatio(r, s)),
      ];
    }),
  };
}

/** The rate-limited table of one scenario. */
export function rateTable(r: ScenarioResult): Table {
  return {
    title: `${scenarioName(r.subscribers)} at half the hub's peak: ${formatOps(r.targetDelivered)} deliveries offered`,
    headers: [
      'system',
      'delivered msg/s',
      'p50',
      'p99',
      'max',
      'drops (all rounds)',
      'broker CPU',
      'clients CPU',
      'note',
    ],
    rows: present(r.rate).map((s) => {
      const rounds = r.rate.get(s)!;
      const delivered = median(rounds.map((x) => x.deliveredPerSec));
      return [
        LABELS[s],
        formatOps(delivered),
        ms(median(rounds.map((x) => x.p50Ms))),
        ms(median(rounds.map((x) => x.p99Ms))),
        ms(Math.max(...rounds.map((x) => x.maxMs))),
        formatCount(drops(rounds, s === 'hub' ? r.hubOverflows.rate : 0)),
        percent(cpu(rounds, 'brokerCpuMs')),
        percent(cpu(rounds, 'clientCpuMs')),
        delivered < 0.95 * r.targetDelivered ? 'cannot keep up with this rate' : '',
      ];
    }),
  };
}

/** Median over rounds of hub ÷ `system` broker CPU per delivery; NaN when unknown. */
function hubCpuRatio(r: ScenarioResult, system: SystemId): number {
  const hub = cpuPerDelivery(r.peak.get('hub') ?? []);
  const other = cpuPerDelivery(r.peak.get(system) ?? []);
  return hub / other;
}

/** Hub ÷ peer ratios, one row per scenario: throughput, and broker CPU per delivery. */
export function ratioTable(results: readonly ScenarioResult[]): Table {
  const peers: SystemId[] = ['nats', 'mosquitto', 'ws'];
  const fmt = (x: number): string => (Number.isFinite(x) ? formatRatio(x) : 'not measured');
  return {
    title:
      'Ratios: delivered msg/s (median of per-round ratios; above 1 the hub is faster) and broker CPU per delivery ' +
      '(ratio of medians; below 1 the hub spends less)',
    headers: [
      'scenario',
      ...peers.map((p) => `msg/s hub ÷ ${RATIO_NAMES[p]}`),
      ...peers.map((p) => `CPU/msg hub ÷ ${RATIO_NAMES[p]}`),
    ],
    rows: results.map((r) => [
      scenarioName(r.subscribers),
      ...peers.map((p) => fmt(hubRatio(r, p))),
      ...peers.map((p) => fmt(hubCpuRatio(r, p))),
    ]),
  };
}

/** The section's goals: throughput against nats-server and mosquitto, and the hub's latency at half load. */
export function goalsFor(results: readonly ScenarioResult[], skipped: ReadonlyMap<SystemId, string>): GoalResult[] {
  const goals: GoalResult[] = [];
  const against = (
    r: ScenarioResult,
    system: SystemId,
    limit: number,
    text: string,
    format?: (x: number) => string,
  ): GoalResult => {
    const x = hubRatio(r, system);
    if (!Number.isFinite(x))
      return { goal: text, measured: `not measured (${skipped.get(system) ?? 'no rounds'})`, met: false };
    return goalAtLeast(text, x, limit, format);
  };
  for (const r of results) {
    const name = scenarioName(r.subscribers);
    goals.push(against(r, 'nats', NATS_GOAL, `${name}: hub delivered msg/s ≥ ${NATS_GOAL}× nats-server's`));
  }
  for (const r of results) {
    const name = scenarioName(r.subscribers);
    goals.push(
      against(r, 'mosquitto', MOSQUITTO_GOAL, `${name}: hub delivered msg/s ≥ ${MOSQUITTO_GOAL}× mosquitto's`),
    );
  }
  for (const r of results) {
    const name = scenarioName(r.subscribers);
    goals.push(
      against(
        r,
        'ws',
        RELAY_SHARE_GOAL,
        `${name}: hub delivered msg/s ≥ ${percent(RELAY_SHARE_GOAL)} of the raw ws relay's`,
        percent,
      ),
    );
  }
  for (const r of results) {
    const p99 = median((r.rate.get('hub') ?? []).map((x) => x.p99Ms));
    goals.push({
      goal: `${scenarioName(r.subscribers)}: hub p99 latency < ${P99_GOAL_MS} ms at half its peak rate`,
      measured: ms(p99),
      met: p99 < P99_GOAL_MS,
    });
  }
  return goals;
}

/** Where a profiled process spent its time: by function and by file. */
export function profileTables(what: string, p: ProfileSummary, round: RoundOut): Table[] {
  const title =
    `CPU profile of the ${what} (V8 sampling profiler, as \`node --cpu-prof\`), 1→10 at full speed, ${formatOps(round.deliveredPerSec)} delivered; ` +
    `busy ${ms(p.busyMs)} of ${ms(p.totalMs)} sampled — self time by`;
  return [
    {
      title: `${title} function`,
      headers: ['function', 'self time', 'share of busy'],
      rows: p.functions.map((e) => [e.name, ms(e.selfMs), percent(e.share)]),
    },
    {
      title: `${title} file`,
      headers: ['file', 'self time', 'share of busy'],
      rows: p.files.map((e) => [e.name, ms(e.selfMs), percent(e.share)]),
    },
  ];
}

/** Which side limited each system at full speed: the broker process or its clients' process. */
export function bottleneckNote(results: readonly ScenarioResult[]): string {
  const parts = results.map((r) => {
    const each = present(r.peak).map((s) => {
      const rounds = r.peak.get(s)!;
      return `${RATIO_NAMES[s]} ${percent(cpu(rounds, 'brokerCpuMs'))} / ${percent(cpu(rounds, 'clientCpuMs'))}`;
    });
    return `${scenarioName(r.subscribers)}: ${each.join(', ')}`;
  });
  const hubRounds = results.flatMap((r) => r.peak.get('hub') ?? []);
  const clientBound = hubRounds.length > 0 && cpu(hubRounds, 'clientCpuMs') > 1.5 * cpu(hubRounds, 'brokerCpuMs');
  return (
    `Where the limit is (broker CPU / clients CPU at full speed, 100% = one core) — ${parts.join('; ')}. ` +
    (clientBound
      ? "The hub process is far from saturated while its clients' process is the busy one: delivered msg/s here " +
        'measures broker plus client library, and for the hub mostly the `Endpoint` receive path (every subscriber ' +
        'decodes every message into Broker data); the broker CPU per delivery column compares the brokers themselves.'
      : "The hub process is as busy as (or busier than) its clients' process: the broker limits throughput.")
  );
}
