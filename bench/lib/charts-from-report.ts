/**
 * Charts drawn from the tables a section already returns, for sections that do not draw their
 * own: the runner adds them after the section ran (`withDerivedCharts`). Tables are found by their
 * column names (and a word of their title), cells parsed back from the formats of `markdown.ts`;
 * a table that is missing or changed shape yields no chart rather than an error. A chart the
 * section returns itself (same `file`) wins over a derived one.
 */
import { formatBytes, formatCount, formatNs, formatOps, type Table } from './markdown.js';
import type { SectionChart, SectionReport } from './section.js';
import { barChartSvg, groupedBarChartSvg, lineChartSvg } from './svg-chart.js';

/** `299 k/s`, `1.17 M/s`, `789/s` → operations per second (NaN when not a rate). */
export function parseRate(cell: string): number {
  const m = /^\s*([\d.,]+)\s*([kMG]?)\/s\b/.exec(cell);
  if (m === null) return Number.NaN;
  return Number(m[1]!.replace(/,/g, '')) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!]!;
}

/** `93 µs`, `2.24 ms`, `1.2 s`, `841 ns` → nanoseconds (NaN when not a duration). */
export function parseDuration(cell: string): number {
  const m = /^\s*(-?[\d.,]+)\s*(ns|µs|us|ms|s)\b/.exec(cell);
  if (m === null) return Number.NaN;
  const unit = ({ ns: 1, µs: 1e3, us: 1e3, ms: 1e6, s: 1e9 } as Record<string, number>)[m[2]!]!;
  return Number(m[1]!.replace(/,/g, '')) * unit;
}

/** `62 B`, `16.6 KiB`, `109 MiB` → bytes (NaN when not a size). */
export function parseBytes(cell: string): number {
  const m = /^\s*([−-]?)([\d.,]+)\s*(B|KiB|MiB|GiB)\b/.exec(cell);
  if (m === null) return Number.NaN;
  const unit = ({ B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as Record<string, number>)[m[3]!]!;
  return (m[1] === '' ? 1 : -1) * Number(m[2]!.replace(/,/g, '')) * unit;
}

/** `5,000` → 5000 (NaN when not a plain count). */
export function parseCount(cell: string): number {
  return /^\s*[\d,]+\s*$/.test(cell) ? Number(cell.replace(/[,\s]/g, '')) : Number.NaN;
}

/** The first table having every one of `columns` (and, when given, a title matching `title`). */
export function findTable(report: SectionReport, columns: readonly string[], title?: RegExp): Table | undefined {
  return report.tables.find(
    (t) => columns.every((c) => t.headers.includes(c)) && (title === undefined || title.test(t.title ?? '')),
  );
}

/** Every table having `columns` (and a title matching `title`). */
export function findTables(report: SectionReport, columns: readonly string[], title?: RegExp): Table[] {
  return report.tables.filter(
    (t) => columns.every((c) => t.headers.includes(c)) && (title === undefined || title.test(t.title ?? '')),
  );
}

/** The cells of column `name`, one per row. */
export function column(t: Table, name: string): string[] {
  const i = t.headers.indexOf(name);
  if (i < 0) throw new RangeError(`no column '${name}' in table ${t.title ?? '(untitled)'}`);
  return t.rows.map((r) => {
    const cell = r[i];
    if (cell === undefined) throw new RangeError(`a row of table ${t.title ?? '(untitled)'} has no '${name}' cell`);
    return cell;
  });
}

/** `1→10: one publisher …` → `1→10`; the file-name form `1to10`. */
function scenarioOf(title: string | undefined): { name: string; file: string } | undefined {
  const m = /^(\d+)→(\d+)/.exec(title ?? '');
  return m === null ? undefined : { name: `${m[1]}→${m[2]}`, file: `${m[1]}to${m[2]}` };
}

const isHub = (system: string): boolean => /isobroker|hub/i.test(system) && !/relay/i.test(system);

/** pubsub: delivered msg/s per system at full speed; p50/p99 latency at half the hub's peak. */
function pubsubCharts(report: SectionReport): SectionChart[] {
  const charts: SectionChart[] = [];
  for (const t of findTables(report, ['system', 'delivered msg/s'])) {
    const sc = scenarioOf(t.title);
    if (sc === undefined) continue;
    const systems = column(t, 'system');
    if (/half/i.test(t.title ?? '')) {
      if (!t.headers.includes('p50') || !t.headers.includes('p99')) continue;
      const offered = /: (.*) deliveries offered/.exec(t.title ?? '')?.[1];
      const notes = t.headers.includes('note') ? column(t, 'note') : [];
      const behind = systems.filter((_, i) => /cannot keep up/i.test(notes[i] ?? ''));
      charts.push({
        file: `latency-${sc.file}`,
        title: `${sc.name}: latency at half the hub's peak`,
        after: t.title,
        svg: groupedBarChartSvg({
          title: `${sc.name}: latency at half the hub's peak${offered === undefined ? '' : ` (${offered} offered)`}`,
          axis: 'publish → delivery latency',
          groups: systems,
          series: [
            { name: 'p50', values: column(t, 'p50').map(parseDuration) },
            { name: 'p99', values: column(t, 'p99').map(parseDuration) },
          ],
          format: formatNs,
          scale: 'log',
          note:
            behind.length === 0
              ? undefined
              : `Could not keep up with the offered rate (latency under overload): ${behind.join(', ')}.`,
        }),
      });
    } else {
      charts.push({
        file: `throughput-${sc.file}`,
        title: `${sc.name}: delivered messages per second`,
        after: t.title,
        svg: barChartSvg({
          title: `${sc.name}: delivered messages per second, full speed (more is better)`,
          axis: 'delivered messages per second',
          bars: systems.map((s, i) => ({
            label: s,
            value: parseRate(column(t, 'delivered msg/s')[i]!),
            highlight: isHub(s),
          })),
          format: formatOps,
        }),
      });
    }
  }
  return charts;
}

/** logging: records/s of every variant but the raw-append ceiling (far off the scale). */
function loggingCharts(report: SectionReport): SectionChart[] {
  const t = findTable(report, ['variant', 'records/s']);
  if (t === undefined) return [];
  const names = column(t, 'variant');
  const rates = column(t, 'records/s').map(parseRate);
  const keep = names.map((_, i) => i).filter((i) => !/^ceiling/i.test(names[i]!));
  const dropped = names
    .map((n, i) => [n, rates[i]!] as const)
    .filter(([n]) => /^ceiling/i.test(n))
    .map(([n, r]) => `${n.replace(/`/g, '')}: ${formatOps(r).replace('/s', ' records/s')}`);
  return [
    {
      file: 'records',
      title: 'Logging: records per second, end to end and the file writer alone',
      after: t.title,
      svg: barChartSvg({
        title: 'Logging: records per second, end to end vs the file writer alone (more is better)',
        axis: 'records per second',
        bars: keep.map((i) => ({ label: names[i]!, value: rates[i]!, highlight: !/alone/i.test(names[i]!) })),
        format: formatOps,
        note: dropped.length > 0 ? `Not drawn (off the scale): ${dropped.join('; ')}.` : undefined,
      }),
    },
  ];
}

/** connections: the hub's RSS per idle client as N grows, one line per kind of client. */
function connectionsCharts(report: SectionReport): SectionChart[] {
  const t = findTable(report, ['N', 'clients', 'hub RSS per client']);
  if (t === undefined) return [];
  const ns = column(t, 'N').map(parseCount);
  const kinds = column(t, 'clients');
  const rss = column(t, 'hub RSS per client').map(parseBytes);
  const series = [...new Set(kinds)].map((kind) => ({
    name: kind,
    points: ns.map((n, i) => [n, rss[i]!] as const).filter((_, i) => kinds[i] === kind),
  }));
  return [
    {
      file: 'rss-per-client',
      title: 'Hub RSS per idle client as the number of clients grows',
      after: t.title,
      svg: lineChartSvg({
        title: 'Hub RSS per idle client as N grows (less is better)',
        xAxis: 'idle clients of each kind connected (N)',
        yAxis: 'hub RSS per client',
        series,
        formatX: formatCount,
        formatY: formatBytes,
        xScale: 'log',
        yTickUnit: 1024,
      }),
    },
  ];
}

/** stores: master apply rate per variant, against the raw better-sqlite3 loops. */
function storesCharts(report: SectionReport): SectionChart[] {
  const t = findTable(report, ['variant', 'puts']);
  if (t === undefined) return [];
  const names = column(t, 'variant');
  const rates = column(t, 'puts').map(parseRate);
  return [
    {
      file: 'apply-rate',
      title: 'Store master apply rate against a raw batched insert',
      after: t.title,
      svg: barChartSvg({
        title: 'Store master: puts per second against a raw better-sqlite3 loop (more is better)',
        axis: 'puts per second',
        bars: names.map((n, i) => ({ label: n, value: rates[i]!, highlight: !/^raw/i.test(n) })),
        format: formatOps,
      }),
    },
  ];
}

/** Chart derivers by section id. */
export const DERIVED_CHARTS: Readonly<Record<string, (report: SectionReport) => SectionChart[]>> = {
  pubsub: pubsubCharts,
  logging: loggingCharts,
  connections: connectionsCharts,
  stores: storesCharts,
};

/**
 * `report` with the charts derived from its tables added (unless it already has a chart of the
 * same file). A deriver that throws, e.g. on a table whose shape changed, adds nothing and says so
 * through `log`.
 */
export function withDerivedCharts(
  id: string,
  report: SectionReport,
  log: (line: string) => void = () => {},
): SectionReport {
  const derive = DERIVED_CHARTS[id];
  if (derive === undefined) return report;
  let derived: SectionChart[];
  try {
    derived = derive(report);
  } catch (e) {
    log(`${id}: no charts derived from its tables (${(e as Error).message})`);
    return report;
  }
  const own = report.charts ?? [];
  const files = new Set(own.map((c) => c.file));
  const added = derived.filter((c) => !files.has(c.file));
  return added.length === 0 ? report : { ...report, charts: [...own, ...added] };
}

/** A markdown table as `markdownTable` writes it, read back: its title, cells and where it ends. */
interface StoredTable {
  readonly table: Table;
  /** Offset just after the table's last line in the text it was read from. */
  readonly end: number;
}

function splitRow(line: string): string[] {
  return line
    .trim()
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** The titled tables of a stored section's markdown (see `markdownTable`). */
export function parseStoredTables(text: string): StoredTable[] {
  const out: StoredTable[] = [];
  for (const m of text.matchAll(/^\*\*(.+)\*\*\n\n((?:\|.*\|(?:\n|$))+)/gm)) {
    const lines = m[2]!.replace(/\n$/, '').split('\n');
    if (lines.length < 2) continue;
    out.push({
      table: { title: m[1]!, headers: splitRow(lines[0]!), rows: lines.slice(2).map(splitRow) },
      end: m.index + m[0].replace(/\n$/, '').length,
    });
  }
  return out;
}

/**
 * For a section kept from an earlier run (BENCHMARKS.md) that shows no chart yet: the charts
 * derived from its stored tables, and its text with each image put after the table it draws.
 * `path` names a chart's file (`chartPath`). Returns no charts when the section has its images
 * already or none can be derived.
 */
export function addDerivedChartsToStored(
  id: string,
  text: string,
  path: (chart: SectionChart) => string,
  log: (line: string) => void = () => {},
): { text: string; charts: SectionChart[] } {
  if (DERIVED_CHARTS[id] === undefined || text.includes('](bench/charts/')) return { text, charts: [] };
  const stored = parseStoredTables(text);
  const report = withDerivedCharts(id, { tables: stored.map((s) => s.table), goals: [] }, log);
  const charts = [...(report.charts ?? [])];
  let out = text;
  // Insert from the last table up, so earlier offsets stay valid.
  for (const s of [...stored].reverse()) {
    const here = charts.filter((c) => c.after === s.table.title);
    if (here.length === 0) continue;
    const images = here.map((c) => `![${c.title.replace(/[[\]\n]/g, ' ')}](${path(c)})`).join('\n');
    out = `${out.slice(0, s.end)}\n\n${images}${out.slice(s.end)}`;
  }
  return { text: out, charts };
}
