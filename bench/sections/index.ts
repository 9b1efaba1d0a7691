/**
 * The benchmark sections, in the order they run and appear in `BENCHMARKS.md`.
 *
 * To add one: write `bench/sections/<id>.ts` exporting a `BenchSection` (see `../lib/section.ts`;
 * time with `compareInterleaved` from `../lib/timing.ts`, measure memory with `../lib/memory.ts`,
 * return tables built with `../lib/markdown.ts` and goals from `goalAtMost`/`goalAtLeast`), then add
 * it to this list. `npm run bench -- --only <id>` runs it alone.
 *
 * Charts: a section may return `charts: [{ file, title, svg, after }]` in its report, the SVG drawn
 * with `barChartSvg`, `groupedBarChartSvg` or `lineChartSvg` from `../lib/svg-chart.ts` (see
 * `codec.ts`); the runner writes each to `bench/charts/<id>-<file>.svg` and BENCHMARKS.md shows it
 * right after the table whose title is `after`. Sections that return none get the charts
 * `../lib/charts-from-report.ts` draws from their tables (by column name), if it knows the section.
 */
import type { BenchSection } from '../lib/section.js';
import { codecSection } from './codec.js';
import { trieSection } from './trie.js';
import { aclSection } from './acl.js';
import { pubsubSection } from './pubsub.js';
import { backboneSection } from './backbone.js';
import { metricsSection } from './metrics.js';
import { connectionsSection } from './connections.js';
import { authSection } from './auth.js';
import { bundleSection } from './bundle.js';
import { storesSection } from './stores.js';
import { storesLargeSection } from './stores-large.js';
import { loggingSection } from './logging.js';
import { browserSection } from './browser.js';

/** Every section, in run order. */
export const SECTIONS: readonly BenchSection[] = [
  codecSection,
  trieSection,
  aclSection,
  pubsubSection,
  backboneSection,
  metricsSection,
  connectionsSection,
  authSection,
  bundleSection,
  storesSection,
  storesLargeSection,
  loggingSection,
  browserSection,
];
