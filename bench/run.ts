/**
 * Benchmark entry: `npm run bench -- [--only codec,trie] [--quick] [--no-write]`.
 *
 * Runs the sections of `sections/index.ts` in one process, prints each section's tables as it
 * finishes, and rewrites `BENCHMARKS.md` at the repository root, with each section's charts (its
 * own and those `lib/charts-from-report.ts` draws from its tables) written to
 * `bench/charts/<section>-<name>.svg`. Exits 1 when a section fails (a missed goal is reported,
 * not an error).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, parseBenchArgs, usage } from './lib/args.js';
import { gcAvailable } from './lib/memory.js';
import { addDerivedChartsToStored, withDerivedCharts } from './lib/charts-from-report.js';
import {
  chartPath,
  machineInfo,
  parseStoredSections,
  renderReport,
  renderSection,
  type RunInfo,
  type SectionOutcome,
} from './lib/report.js';
import { DEFAULT_TIMING_OPTIONS, QUICK_TIMING_OPTIONS } from './lib/timing.js';
import { SECTIONS } from './sections/index.js';
import { packageRoot } from './lib/package-root.js';

/**
 * Writes the charts of a section that ran and removes the ones it no longer draws (a failed
 * section keeps its files: BENCHMARKS.md keeps no reference to them, the next good run replaces them).
 */
function writeCharts(root: string, o: SectionOutcome): void {
  if ('error' in o) return;
  const dir = join(root, 'bench', 'charts');
  mkdirSync(dir, { recursive: true });
  const keep = new Set<string>();
  for (const c of o.report.charts ?? []) {
    const rel = chartPath(o.section.id, c);
    writeFileSync(join(root, rel), c.svg);
    keep.add(rel);
  }
  const prefix = `${o.section.id}-`;
  for (const name of readdirSync(dir)) {
    const rel = `bench/charts/${name}`;
    // Only this section's files: `stores-` must not take `stores-large-`'s charts.
    if (!name.startsWith(prefix) || !name.endsWith('.svg') || keep.has(rel)) continue;
    if (SECTIONS.some((s) => s.id.startsWith(prefix) && name.startsWith(`${s.id}-`))) continue;
    rmSync(join(dir, name));
  }
}

async function main(): Promise<number> {
  const ids = SECTIONS.map((s) => s.id);
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2), ids);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage(ids)}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${usage(ids)}\n`);
    return 0;
  }
  if (!gcAvailable()) process.stderr.write('note: run with node --expose-gc for exact memory numbers\n');

  const info: RunInfo = {
    date: new Date(),
    machine: machineInfo(),
    command: commandLine(args),
    quick: args.quick,
    timing: args.quick ? QUICK_TIMING_OPTIONS : DEFAULT_TIMING_OPTIONS,
  };
  process.stdout.write(`${info.command}\n${info.machine}\n\n`);

  const outcomes: SectionOutcome[] = [];
  for (const section of SECTIONS) {
    if (args.only !== undefined && !args.only.includes(section.id)) continue;
    const ctx = { quick: args.quick, timing: info.timing, log: (line: string) => process.stderr.write(`… ${line}\n`) };
    let outcome: SectionOutcome;
    try {
      outcome = { section, report: withDerivedCharts(section.id, await section.run(ctx), ctx.log) };
    } catch (e) {
      // The report names the failure in one line; the whole stack (machine paths, browser logs)
      // goes to the console only.
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      outcome = { section, error: (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300) };
    }
    outcomes.push(outcome);
    process.stdout.write(`${renderSection(outcome)}\n\n`);
  }

  if (args.write) {
    for (const o of outcomes) writeCharts(packageRoot(), o);
    const path = join(packageRoot(), 'BENCHMARKS.md');
    let previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
    // Sections kept from earlier runs that show no chart yet get the ones their tables allow.
    const ran = new Set(outcomes.map((o) => o.section.id));
    for (const [id, text] of parseStoredSections(previous)) {
      if (ran.has(id)) continue;
      const added = addDerivedChartsToStored(
        id,
        text,
        (c) => chartPath(id, c),
        (l) => process.stderr.write(`… ${l}\n`),
      );
      if (added.charts.length === 0) continue;
      mkdirSync(join(packageRoot(), 'bench', 'charts'), { recursive: true });
      for (const c of added.charts) writeFileSync(join(packageRoot(), chartPath(id, c)), c.svg);
      previous = previous.replace(text, () => added.text);
    }
    writeFileSync(path, renderReport(info, outcomes, previous, ids));
    process.stdout.write(`wrote ${path}\n`);
  }
  return outcomes.some((o) => 'error' in o) ? 1 : 0;
}

process.exitCode = await main();
