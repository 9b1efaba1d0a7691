/**
 * Markdown tables and number formatting for benchmark reports. Tables are padded so they also
 * read well on a terminal.
 */

/** Column alignment. */
export type Align = 'left' | 'right';

/** A table: a header row and body rows of already-formatted cells. */
export interface Table {
  /** Shown as a bold line above the table. */
  readonly title?: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /**
   * Alignment per column.
   * @default first column left, the others right
   */
  readonly align?: readonly Align[];
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function pad(s: string, width: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, width - s.length));
  return align === 'right' ? fill + s : s + fill;
}

/** Renders `t` as a GitHub-flavoured markdown table (with its title line, if any). */
export function markdownTable(t: Table): string {
  const cols = t.headers.length;
  for (const row of t.rows) {
    if (row.length !== cols)
      throw new RangeError(`row has ${row.length} cells, the header ${cols}: ${row.join(' | ')}`);
  }
  const align = t.headers.map((_, i): Align => t.align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const header = t.headers.map(escapeCell);
  const body = t.rows.map((r) => r.map(escapeCell));
  const width = header.map((h, i) => Math.max(3, h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => pad(c, width[i]!, align[i]!)).join(' | ')} |`;
  const rule = `| ${width.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  const lines = [line(header), rule, ...body.map(line)];
  return (t.title === undefined ? '' : `**${t.title}**\n\n`) + lines.join('\n');
}

/** Three significant digits, trailing zeros kept off: 1.23, 12.3, 123, 1234. */
function sig3(x: number): string {
  if (x >= 1000) return Math.round(x).toString();
  return Number(x.toPrecision(3)).toString();
}

/** Operations per second: `1.23 M/s`, `456 k/s`, `789/s`. */
export function formatOps(opsPerSec: number): string {
  if (!Number.isFinite(opsPerSec)) return '∞';
  if (opsPerSec >= 1e6) return `${sig3(opsPerSec / 1e6)} M/s`;
  if (opsPerSec >= 1e3) return `${sig3(opsPerSec / 1e3)} k/s`;
  return `${sig3(opsPerSec)}/s`;
}

/** A duration given in nanoseconds: `123 ns`, `1.23 µs`, `4.56 ms`, `1.2 s`. */
export function formatNs(ns: number): string {
  if (ns >= 1e9) return `${sig3(ns / 1e9)} s`;
  if (ns >= 1e6) return `${sig3(ns / 1e6)} ms`;
  if (ns >= 1e3) return `${sig3(ns / 1e3)} µs`;
  return `${sig3(ns)} ns`;
}

/** A ratio: `1.42×`, `0.87×`, `312×`. */
export function formatRatio(x: number): string {
  return `${sig3(x)}×`;
}

/** A byte count: `87 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(n: number): string {
  const sign = n < 0 ? '−' : '';
  const a = Math.abs(n);
  if (a >= 1024 * 1024) return `${sign}${sig3(a / (1024 * 1024))} MiB`;
  if (a >= 1024) return `${sign}${sig3(a / 1024)} KiB`;
  return `${sign}${a} B`;
}

/** A plain count with thousands separators: `100,000`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
