/**
 * Small SVG charts for BENCHMARKS.md, without dependencies: horizontal bars (one value per
 * label), grouped horizontal bars (several series per label, e.g. p50 and p99) and lines (series
 * of points, e.g. a scaling curve). Text is real SVG text (selectable, readable at any zoom),
 * axes carry their unit, bars show their value at the end, and the palette reads on a light and a
 * dark page alike (mid-tone text on a transparent background, a little lighter in dark mode).
 *
 * Every coordinate goes through {@link num}, which refuses a non-finite number, so a chart never
 * holds `NaN`; values that are not finite (or not positive on a log scale) are drawn as "n/a".
 */

/** How a value is written on the chart (ticks, bar ends). */
export type Formatter = (value: number) => string;

/** Axis scale. A log scale suits values spanning orders of magnitude (latencies of brokers). */
export type Scale = 'linear' | 'log';

/** One bar of a {@link BarChartSpec}. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Drawn in the accent colour (e.g. isobroker among other systems). */
  readonly highlight?: boolean;
  /** Text at the bar's end instead of `format(value)`. */
  readonly text?: string;
}

/** Horizontal bars, one per label, on a linear axis from zero. */
export interface BarChartSpec {
  readonly title: string;
  /** The axis title with its unit, e.g. `delivered messages per second`. */
  readonly axis: string;
  readonly bars: readonly Bar[];
  readonly format: Formatter;
  /** Ticks fall on round multiples of this (1024 for bytes, so they read 8 KiB, not 9.77 KiB). @default 1 */
  readonly tickUnit?: number;
  /** A line under the chart (what is not drawn, how it was measured). */
  readonly note?: string;
}

/** Horizontal bars in groups: one group per label, one bar per series. */
export interface GroupedBarChartSpec {
  readonly title: string;
  readonly axis: string;
  readonly groups: readonly string[];
  /** `values[i]` belongs to `groups[i]`. */
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
  readonly format: Formatter;
  /** @default 'linear' */
  readonly scale?: Scale;
  /** As {@link BarChartSpec.tickUnit}, on a linear scale. @default 1 */
  readonly tickUnit?: number;
  readonly note?: string;
}

/** Lines through points, one per series (e.g. a cost as N grows). */
export interface LineChartSpec {
  readonly title: string;
  readonly xAxis: string;
  readonly yAxis: string;
  readonly series: readonly { readonly name: string; readonly points: readonly (readonly [number, number])[] }[];
  readonly formatX: Formatter;
  readonly formatY: Formatter;
  /** @default 'linear' */
  readonly xScale?: Scale;
  /** As {@link BarChartSpec.tickUnit}, for the y axis. @default 1 */
  readonly yTickUnit?: number;
  readonly note?: string;
}

/** Series colours: mid-tone, distinguishable on white and on near-black. */
export const PALETTE: readonly string[] = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948'];
/** Colour of bars that are not highlighted in a single-series chart. */
export const NEUTRAL = '#8c96a3';

const WIDTH = 760;
const PAD = 12;
const TITLE_H = 26;
const LEGEND_H = 20;
const AXIS_H = 40;
const NOTE_H = 18;
const VALUE_W = 76;
const CHAR_W = 6.6; // mean advance of a 12 px sans-serif character, for layout only
const MAX_LABEL_CHARS = 48;

/** A coordinate or length for an attribute; throws on NaN or ±∞ so no chart ever holds one. */
export function num(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`chart coordinate is not finite: ${x}`);
  return (Math.round(x * 10) / 10).toString();
}

/** `s` escaped for SVG text and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]!};`);
}

function clip(s: string, max = MAX_LABEL_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function textWidth(s: string): number {
  return s.length * CHAR_W;
}

const STYLE =
  '<style>text{fill:#6b7280}.title{font-size:14px;font-weight:600}.axis{stroke:#9ca3af;stroke-width:1}' +
  '.grid{stroke:#9ca3af;stroke-opacity:.35;stroke-width:1}' +
  '@media (prefers-color-scheme:dark){text{fill:#a3acb9}}</style>';

function open(height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${num(height)}" viewBox="0 0 ${WIDTH} ${num(height)}" ` +
      `font-family="system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    STYLE,
    `<text class="title" x="${PAD}" y="18">${escapeXml(title)}</text>`,
  ];
}

function text(x: number, y: number, s: string, anchor: 'start' | 'middle' | 'end' = 'start', extra = ''): string {
  return `<text x="${num(x)}" y="${num(y)}" text-anchor="${anchor}"${extra}>${escapeXml(s)}</text>`;
}

/** A linear or log mapping of values onto `[0, length]`, with its ticks. */
interface Axis {
  readonly ticks: readonly number[];
  /** Position of `v`, or undefined when `v` cannot be placed (not finite; ≤ 0 on a log scale). */
  at(v: number): number | undefined;
}

/** Round tick step for a linear axis reaching `max`: 1, 2 or 5 × 10^k, about `ticks` ticks. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / Math.max(1, ticks);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function linearAxis(values: readonly number[], length: number, unit = 1, spacing = 80): Axis {
  const max = Math.max(0, ...values.filter((v) => Number.isFinite(v)));
  const u = unit > 0 && max >= unit ? unit : 1;
  // About one tick per `spacing` px, so tick labels never run into each other.
  const step = niceStep(max / u, Math.max(2, Math.min(6, Math.floor(length / spacing)))) * u;
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9; i++) ticks.push(i * step);
  return { ticks, at: (v) => (Number.isFinite(v) ? (Math.max(0, v) / top) * length : undefined) };
}

/** A log axis spanning exactly the values, a little padded: for the x of a line chart. */
function logRangeAxis(values: readonly number[], length: number): Axis {
  const ok = values.filter((v) => Number.isFinite(v) && v > 0);
  const lo0 = Math.log10(ok.length > 0 ? Math.min(...ok) : 1);
  const hi0 = Math.log10(ok.length > 0 ? Math.max(...ok) : 10);
  const pad = Math.max(0.05, (hi0 - lo0) * 0.08);
  const lo = lo0 - pad;
  const hi = hi0 + pad;
  const ticks: number[] = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) ticks.push(10 ** e);
  return {
    ticks,
    at: (v) => (Number.isFinite(v) && v > 0 ? ((Math.log10(v) - lo) / (hi - lo)) * length : undefined),
  };
}

function logAxis(values: readonly number[], length: number): Axis {
  const ok = values.filter((v) => Number.isFinite(v) && v > 0);
  // One decade below the smallest value when it is a power of ten, so its bar has a length.
  const lo = Math.floor(Math.log10(ok.length > 0 ? Math.min(...ok) : 1) - 1e-9);
  let hi = Math.ceil(Math.log10(ok.length > 0 ? Math.max(...ok) : 10));
  if (hi <= lo) hi = lo + 1;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return {
    ticks,
    at: (v) => (Number.isFinite(v) && v > 0 ? ((Math.log10(v) - lo) / (hi - lo)) * length : undefined),
  };
}

function axisFor(scale: Scale, values: readonly number[], length: number, unit = 1): Axis {
  return scale === 'log' ? logAxis(values, length) : linearAxis(values, length, unit);
}

/** Vertical grid lines, tick labels under the plot and the axis title. */
function xAxisLines(axis: Axis, x0: number, yTop: number, yBottom: number, format: Formatter, title: string): string[] {
  const out: string[] = [];
  for (const t of axis.ticks) {
    const x = x0 + axis.at(t)!;
    out.push(`<line class="grid" x1="${num(x)}" y1="${num(yTop)}" x2="${num(x)}" y2="${num(yBottom)}"/>`);
    out.push(text(x, yBottom + 14, t === 0 ? '0' : format(t), 'middle'));
  }
  out.push(`<line class="axis" x1="${num(x0)}" y1="${num(yTop)}" x2="${num(x0)}" y2="${num(yBottom)}"/>`);
  out.push(
    `<line class="axis" x1="${num(x0)}" y1="${num(yBottom)}" x2="${num(x0 + axis.at(axis.ticks.at(-1)!)!)}" y2="${num(yBottom)}"/>`,
  );
  out.push(text(x0 + axis.at(axis.ticks.at(-1)!)! / 2, yBottom + 32, title, 'middle'));
  return out;
}

function legend(names: readonly string[], y: number): string[] {
  const out: string[] = [];
  let x = PAD;
  names.forEach((name, i) => {
    out.push(
      `<rect x="${num(x)}" y="${num(y - 9)}" width="10" height="10" rx="2" fill="${PALETTE[i % PALETTE.length]}"/>`,
    );
    out.push(text(x + 14, y, name));
    x += 14 + textWidth(name) + 18;
  });
  return out;
}

function labelWidth(labels: readonly string[]): number {
  return Math.min(MAX_LABEL_CHARS * CHAR_W, Math.max(40, ...labels.map((l) => textWidth(clip(l))))) + 10;
}

function rowLabel(x: number, y: number, label: string): string {
  const shown = clip(label);
  const full = shown === label ? '' : `<title>${escapeXml(label)}</title>`;
  return `<text x="${num(x)}" y="${num(y)}" text-anchor="end">${full}${escapeXml(shown)}</text>`;
}

function barWithValue(
  axis: Axis,
  x0: number,
  y: number,
  h: number,
  value: number,
  fill: string,
  label: string,
): string[] {
  const w = axis.at(value);
  if (w === undefined) return [text(x0 + 4, y + h / 2 + 4, 'n/a')];
  return [
    `<rect x="${num(x0)}" y="${num(y)}" width="${num(Math.max(w, 1))}" height="${num(h)}" rx="2" fill="${fill}"/>`,
    text(x0 + Math.max(w, 1) + 4, y + h / 2 + 4, label),
  ];
}

/** A horizontal bar chart (linear axis from zero). */
export function barChartSvg(spec: BarChartSpec): string {
  const barH = 18;
  const gap = 8;
  const x0 = PAD + labelWidth(spec.bars.map((b) => b.label));
  const plotW = WIDTH - x0 - VALUE_W - PAD;
  const top = TITLE_H + 8;
  const plotH = spec.bars.length * (barH + gap) + gap;
  const height = top + plotH + AXIS_H + (spec.note === undefined ? 0 : NOTE_H) + PAD / 2;
  const axis = linearAxis(
    spec.bars.map((b) => b.value),
    plotW,
    spec.tickUnit,
  );
  const out = open(height, spec.title);
  out.push(...xAxisLines(axis, x0, top, top + plotH, spec.format, spec.axis));
  const anyHighlight = spec.bars.some((b) => b.highlight === true);
  spec.bars.forEach((b, i) => {
    const y = top + gap + i * (barH + gap);
    const fill = anyHighlight ? (b.highlight === true ? PALETTE[0]! : NEUTRAL) : PALETTE[0]!;
    out.push(rowLabel(x0 - 6, y + barH / 2 + 4, b.label));
    out.push(...barWithValue(axis, x0, y, barH, b.value, fill, b.text ?? spec.format(b.value)));
  });
  if (spec.note !== undefined) out.push(text(PAD, height - PAD / 2 - 2, spec.note));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Horizontal bars in groups (one bar per series in each group), on a linear or log axis. */
export function groupedBarChartSvg(spec: GroupedBarChartSpec): string {
  for (const s of spec.series) {
    if (s.values.length !== spec.groups.length)
      throw new RangeError(`series ${s.name} has ${s.values.length} values for ${spec.groups.length} groups`);
  }
  const barH = 14;
  const groupGap = 12;
  const groupH = spec.series.length * (barH + 2) + groupGap;
  const x0 = PAD + labelWidth(spec.groups);
  const plotW = WIDTH - x0 - VALUE_W - PAD;
  const top = TITLE_H + LEGEND_H + 6;
  const plotH = spec.groups.length * groupH + groupGap / 2;
  const height = top + plotH + AXIS_H + (spec.note === undefined ? 0 : NOTE_H) + PAD / 2;
  const scale = spec.scale ?? 'linear';
  const axis = axisFor(
    scale,
    spec.series.flatMap((s) => s.values),
    plotW,
    spec.tickUnit,
  );
  const out = open(height, spec.title);
  out.push(
    ...legend(
      spec.series.map((s) => s.name),
      TITLE_H + 14,
    ),
  );
  out.push(
    ...xAxisLines(axis, x0, top, top + plotH, spec.format, scale === 'log' ? `${spec.axis} (log scale)` : spec.axis),
  );
  spec.groups.forEach((g, gi) => {
    const y0 = top + groupGap / 2 + gi * groupH;
    out.push(rowLabel(x0 - 6, y0 + (spec.series.length * (barH + 2)) / 2 + 4, g));
    spec.series.forEach((s, si) => {
      const v = s.values[gi]!;
      out.push(...barWithValue(axis, x0, y0 + si * (barH + 2), barH, v, PALETTE[si % PALETTE.length]!, spec.format(v)));
    });
  });
  if (spec.note !== undefined) out.push(text(PAD, height - PAD / 2 - 2, spec.note));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A line chart: the y axis from zero (linear), the x axis linear or log. */
export function lineChartSvg(spec: LineChartSpec): string {
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]));
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const yLinear = linearAxis(ys, 220, spec.yTickUnit, 45);
  const yLabelW = Math.max(...yLinear.ticks.map((t) => textWidth(spec.formatY(t)))) + 8;
  const x0 = PAD + 16 + yLabelW;
  const plotW = WIDTH - x0 - PAD - 30;
  const top = TITLE_H + LEGEND_H + 10;
  const plotH = 220;
  const bottom = top + plotH;
  const height = bottom + AXIS_H + (spec.note === undefined ? 0 : NOTE_H) + PAD / 2;
  const yAxis = linearAxis(ys, plotH, spec.yTickUnit, 45);
  const xScale = spec.xScale ?? 'linear';
  const xAxis = xScale === 'log' ? logRangeAxis(xs, plotW) : linearAxis(xs, plotW);
  const out = open(height, spec.title);
  out.push(
    ...legend(
      spec.series.map((s) => s.name),
      TITLE_H + 14,
    ),
  );
  // x: grid and ticks at the measured x values when there are few, else at the axis ticks.
  const distinctX = [...new Set(xs.filter((x) => xAxis.at(x) !== undefined))].sort((a, b) => a - b);
  const xTicks = distinctX.length > 0 && distinctX.length <= 8 ? distinctX : xAxis.ticks;
  for (const t of xTicks) {
    const x = x0 + xAxis.at(t)!;
    out.push(`<line class="grid" x1="${num(x)}" y1="${num(top)}" x2="${num(x)}" y2="${num(bottom)}"/>`);
    out.push(text(x, bottom + 14, spec.formatX(t), 'middle'));
  }
  for (const t of yAxis.ticks) {
    const y = bottom - yAxis.at(t)!;
    out.push(`<line class="grid" x1="${num(x0)}" y1="${num(y)}" x2="${num(x0 + plotW)}" y2="${num(y)}"/>`);
    out.push(text(x0 - 6, y + 4, t === 0 ? '0' : spec.formatY(t), 'end'));
  }
  out.push(`<line class="axis" x1="${num(x0)}" y1="${num(top)}" x2="${num(x0)}" y2="${num(bottom)}"/>`);
  out.push(`<line class="axis" x1="${num(x0)}" y1="${num(bottom)}" x2="${num(x0 + plotW)}" y2="${num(bottom)}"/>`);
  out.push(text(x0 + plotW / 2, bottom + 32, xScale === 'log' ? `${spec.xAxis} (log scale)` : spec.xAxis, 'middle'));
  const cy = top + plotH / 2;
  out.push(text(PAD + 10, cy, spec.yAxis, 'middle', ` transform="rotate(-90 ${num(PAD + 10)} ${num(cy)})"`));
  const topAt = new Map<number, number>();
  for (const s of spec.series) for (const [x, y] of s.points) topAt.set(x, Math.max(topAt.get(x) ?? y, y));
  spec.series.forEach((s, si) => {
    const colour = PALETTE[si % PALETTE.length]!;
    const pts: [px: number, py: number, x: number, y: number][] = [];
    for (const [x, y] of s.points) {
      const px = xAxis.at(x);
      const py = yAxis.at(y);
      if (px !== undefined && py !== undefined) pts.push([x0 + px, bottom - py, x, y]);
    }
    if (pts.length > 1) {
      const d = pts.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${num(px)} ${num(py)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
    for (const [px, py, x, y] of pts) {
      out.push(`<circle cx="${num(px)}" cy="${num(py)}" r="3.5" fill="${colour}"/>`);
      // The highest value at an x is labelled above its point, the others below, so two close
      // lines do not write over each other.
      out.push(text(px + 5, y >= topAt.get(x)! ? py - 6 : py + 15, spec.formatY(y)));
    }
  });
  if (spec.note !== undefined) out.push(text(PAD, height - PAD / 2 - 2, spec.note));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
