/**
 * Tables of the `auth` benchmark section (`../sections/auth.ts`), built from the rounds each hub
 * ran: pub/sub rates per hub, ratios of each hub to the hub without auth (medians of per-round
 * ratios, the rounds having run interleaved), and connects per second.
 */
import type { RoundOut } from '../sections/pubsub-report.js';
import type { ConnectResult } from './auth-clients.js';
import { formatCount, formatNs, formatOps, formatRatio, type Table } from './markdown.js';
import { median } from './timing.js';

/** The hubs compared: auth off, auth + ACLs (the published topic's grant has a deny inside it), the same without that deny overlap, and `wss://`. */
export type Variant = 'off' | 'auth' | 'auth-open' | 'wss';

/** How each hub is named in the tables. */
export const VARIANT_LABELS: Readonly<Record<Variant, string>> = {
  off: 'ws://, auth off',
  auth: 'ws://, auth + ACLs (token per client)',
  'auth-open': 'ws://, auth + ACLs, no deny inside the grant',
  wss: 'wss://, auth off',
};

/** A batch of connects as the section records it: the driver's result and the hub's CPU time. */
export type ConnectOut = ConnectResult & { readonly hubCpuMs: number | null };

function ms(x: number): string {
  return Number.isFinite(x) ? formatNs(x * 1e6) : '—';
}

function percent(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—';
}

/** Per-round ratios of `a` to `b` (rounds were interleaved, so round i of each ran side by side). */
export function roundRatios<T>(a: readonly T[], b: readonly T[], value: (x: T) => number): number[] {
  return a.slice(0, b.length).map((x, i) => value(x) / value(b[i]!));
}

function range(xs: readonly number[]): string {
  if (xs.length === 0) return '—';
  return `${formatRatio(Math.min(...xs))} – ${formatRatio(Math.max(...xs))}`;
}

export interface Scenario {
  readonly subscribers: number;
  readonly rounds: Map<Variant, RoundOut[]>;
  readonly hubOverflows: Map<Variant, number>;
}

export function pubsubTable(scenarios: readonly Scenario[]): Table {
  const rows: string[][] = [];
  for (const s of scenarios) {
    for (const [v, rounds] of s.rounds) {
      const cpuShare = median(rounds.flatMap((r) => (r.brokerCpuMs === null ? [] : [r.brokerCpuMs / r.elapsedMs])));
      const perDelivery = median(
        rounds.flatMap((r) => (r.brokerCpuMs === null || r.delivered === 0 ? [] : [r.brokerCpuMs / r.delivered])),
      );
      const clientShare = median(rounds.map((r) => r.clientCpuMs / r.elapsedMs));
      const drops = rounds.reduce((n, r) => n + r.lost + r.clientDrops, 0) + (s.hubOverflows.get(v) ?? 0);
      rows.push([
        `1→${s.subscribers}`,
        VARIANT_LABELS[v],
        formatOps(median(rounds.map((r) => r.deliveredPerSec))),
        ms(median(rounds.map((r) => r.p50Ms))),
        ms(median(rounds.map((r) => r.p99Ms))),
        formatCount(drops),
        percent(cpuShare),
        ms(perDelivery),
        percent(clientShare),
      ]);
    }
  }
  return {
    title: 'Pub/sub at full speed (flow-controlled), 100-byte messages, medians over interleaved rounds',
    headers: [
      'scenario',
      'hub',
      'delivered msg/s',
      'p50',
      'p99',
      'drops (all rounds)',
      'hub CPU',
      'hub CPU per delivery',
      'clients CPU',
    ],
    rows,
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  };
}

export interface RatioRow {
  readonly what: string;
  readonly ratios: readonly number[];
  readonly goal: string;
}

export function ratioTable(rows: readonly RatioRow[]): Table {
  return {
    title: 'Ratios (median of per-round ratios; rounds ran interleaved)',
    headers: ['comparison', 'ratio', 'per-round range', 'rounds', 'goal'],
    rows: rows.map((r) => [
      r.what,
      r.ratios.length > 0 ? formatRatio(median(r.ratios)) : '—',
      range(r.ratios),
      String(r.ratios.length),
      r.goal,
    ]),
    align: ['left', 'right', 'right', 'right', 'left'],
  };
}

export function connectTable(c: ReadonlyMap<Variant, readonly ConnectOut[]>, n: number, concurrency: number): Table {
  const off = c.get('off') ?? [];
  return {
    title: `Connects: ${n} per round, ${concurrency} at a time, each a new Endpoint that peers and closes`,
    headers: ['hub', 'connects/s', 'p50 connect', 'p99 connect', 'hub CPU per connect', 'this ÷ auth off'],
    rows: [...c].map(([v, rounds]) => [
      VARIANT_LABELS[v],
      formatOps(median(rounds.map((r) => r.perSec))),
      ms(median(rounds.map((r) => r.p50Ms))),
      ms(median(rounds.map((r) => r.p99Ms))),
      ms(median(rounds.flatMap((r) => (r.hubCpuMs === null ? [] : [r.hubCpuMs / r.n])))),
      v === 'off' ? '1×' : formatRatio(median(roundRatios(rounds, off, (r) => r.perSec))),
    ]),
    align: ['left', 'right', 'right', 'right', 'right', 'right'],
  };
}
