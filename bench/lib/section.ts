/**
 * The contract of a benchmark section (one file in `bench/sections/`, registered in
 * `bench/sections/index.ts`) and helpers to state its goals.
 */
import { formatRatio, type Table } from './markdown.js';
import type { TimingOptions } from './timing.js';

/** What a section gets from the runner. */
export interface SectionContext {
  /** `--quick`: a smoke test; use smaller inputs where a full run is slow. */
  readonly quick: boolean;
  /** Timing options for this run; pass them to `compareInterleaved`. */
  readonly timing: Readonly<Required<TimingOptions>>;
  /** Progress for the person watching (stderr); results go in the report. */
  log(line: string): void;
}

/** A stated goal and whether this run met it. */
export interface GoalResult {
  /** The goal in words, e.g. `native ≤ 1.5× baseline time`. */
  readonly goal: string;
  /** What was measured, formatted. */
  readonly measured: string;
  readonly met: boolean;
}

/**
 * A chart a section draws (with `../lib/svg-chart.ts`). The runner writes it to
 * `bench/charts/<section id>-<file>.svg` and BENCHMARKS.md shows it as an image.
 */
export interface SectionChart {
  /** The file name's own part: lower-case letters, digits and dashes, e.g. `throughput-1to1`. */
  readonly file: string;
  /** The image's alt text in BENCHMARKS.md. */
  readonly title: string;
  /** The whole SVG document. */
  readonly svg: string;
  /**
   * Title of the table the chart illustrates: the image goes right after that table.
   * @default after the last table
   */
  readonly after?: string;
}

/** What a section produces. */
export interface SectionReport {
  readonly tables: readonly Table[];
  readonly goals: readonly GoalResult[];
  /** Extra lines (markdown) shown after the tables. */
  readonly notes?: readonly string[];
  /** Charts shown next to the tables (see {@link SectionChart}). */
  readonly charts?: readonly SectionChart[];
}

/** A benchmark section. */
export interface BenchSection {
  /** Short id used by `--only`, e.g. `codec`. */
  readonly id: string;
  readonly title: string;
  /** What is measured and against what (markdown, one paragraph). */
  readonly about: string;
  run(ctx: SectionContext): Promise<SectionReport> | SectionReport;
}

/** Goal: `value ≤ limit` (e.g. a time ratio against a baseline). */
export function goalAtMost(
  goal: string,
  value: number,
  limit: number,
  format: (x: number) => string = formatRatio,
): GoalResult {
  return { goal, measured: format(value), met: value <= limit };
}

/** Goal: `value ≥ limit` (e.g. a speed-up against a peer). */
export function goalAtLeast(
  goal: string,
  value: number,
  limit: number,
  format: (x: number) => string = formatRatio,
): GoalResult {
  return { goal, measured: format(value), met: value >= limit };
}
