/**
 * The benchmark harness's helpers on fake inputs (no benchmark runs here): interleaved timing with
 * a fake clock, median ratios, markdown tables and formatting, goals, arguments and the report.
 */
import { describe, expect, it } from 'vitest';
import { commandLine, parseBenchArgs } from '../../bench/lib/args.js';
import { formatBytes, formatNs, formatOps, formatRatio, markdownTable } from '../../bench/lib/markdown.js';
import { renderReport, type SectionOutcome } from '../../bench/lib/report.js';
import { goalAtLeast, goalAtMost, type BenchSection } from '../../bench/lib/section.js';
import {
  QUICK_TIMING_OPTIONS,
  compareInterleaved,
  median,
  medianRatio,
  taskTiming,
  type Comparison,
} from '../../bench/lib/timing.js';

/** A clock that only moves when a fake task says it spent time; logs which task starts each batch. */
function fakeClock(): { now: () => number; spend: (name: string, ms: number) => void; batches: string[] } {
  let t = 0;
  let boundary = true;
  const batches: string[] = [];
  return {
    now: () => {
      boundary = true;
      return t;
    },
    spend: (name, ms) => {
      if (boundary) batches.push(name);
      boundary = false;
      t += ms;
    },
    batches,
  };
}

describe('median', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('compareInterleaved', () => {
  it('measures time per operation, ops/s and the ratio with a fake clock', () => {
    const clock = fakeClock();
    const c = compareInterleaved(
      [
        { name: 'a', run: () => clock.spend('a', 100e-6) }, // 100 ns per op
        { name: 'b', run: () => clock.spend('b', 300e-6) }, // 300 ns per op
      ],
      { warmupMs: 1, roundMs: 0.01, rounds: 5, now: clock.now },
    );
    const a = taskTiming(c, 'a');
    const b = taskTiming(c, 'b');
    expect(a.iterations).toBe(100);
    expect(b.iterations).toBe(33);
    expect(a.roundNs).toHaveLength(5);
    expect(a.medianNs).toBeCloseTo(100, 6);
    expect(b.medianNs).toBeCloseTo(300, 6);
    expect(a.opsPerSec).toBeCloseTo(1e7, 0);
    expect(a.spread).toBeCloseTo(0, 6);
    expect(medianRatio(c, 'b', 'a')).toBeCloseTo(3, 6);
    expect(medianRatio(c, 'a', 'b')).toBeCloseTo(1 / 3, 6);
  });

  it('runs the rounds interleaved, rotating which task goes first', () => {
    const clock = fakeClock();
    compareInterleaved(
      [
        { name: 'a', run: () => clock.spend('a', 1e-3) },
        { name: 'b', run: () => clock.spend('b', 1e-3) },
      ],
      { warmupMs: 0.5, roundMs: 0.1, rounds: 5, now: clock.now },
    );
    // Warm-up first runs all of a, then all of b; the last 10 batches are the measured rounds.
    expect(clock.batches[0]).toBe('a');
    expect(clock.batches.slice(-10)).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a', 'a', 'b']);
  });

  it('rejects bad input', () => {
    expect(() => compareInterleaved([])).toThrow(RangeError);
    const t = { name: 'x', run: () => 0 };
    expect(() => compareInterleaved([t, t], QUICK_TIMING_OPTIONS)).toThrow(/distinct/);
    expect(() => compareInterleaved([t], { rounds: 0 })).toThrow(RangeError);
    expect(() => taskTiming({ tasks: [] }, 'nope')).toThrow(/no task named 'nope'/);
  });
});

describe('medianRatio', () => {
  it('pairs rounds and takes the median of the per-round ratios, not the ratio of medians', () => {
    const timing = (name: string, roundNs: number[]) => ({
      name,
      iterations: 1,
      roundNs,
      medianNs: median(roundNs),
      opsPerSec: 1e9 / median(roundNs),
      spread: 0,
    });
    // A noisy second round slows both alike; the third favours b.
    const c: Comparison = { tasks: [timing('a', [100, 500, 110]), timing('b', [300, 1500, 200])] };
    expect(medianRatio(c, 'b', 'a')).toBeCloseTo(3, 9);
    expect(median([300, 1500, 200]) / median([100, 500, 110])).not.toBeCloseTo(3, 1);
  });
});

describe('markdown', () => {
  it('renders an aligned table with escaped cells', () => {
    const text = markdownTable({
      title: 'T',
      headers: ['name', 'ops'],
      rows: [
        ['a|b', '1'],
        ['c', '1000'],
      ],
    });
    expect(text).toBe(
      ['**T**', '', '| name |  ops |', '| ---- | ---: |', '| a\\|b |    1 |', '| c    | 1000 |'].join('\n'),
    );
    expect(() => markdownTable({ headers: ['a', 'b'], rows: [['1']] })).toThrow(RangeError);
  });

  it('formats numbers with units', () => {
    expect(formatOps(1_234_567)).toBe('1.23 M/s');
    expect(formatOps(45_600)).toBe('45.6 k/s');
    expect(formatOps(12)).toBe('12/s');
    expect(formatNs(869.4)).toBe('869 ns');
    expect(formatNs(1_810)).toBe('1.81 µs');
    expect(formatNs(2_790_000)).toBe('2.79 ms');
    expect(formatRatio(0.6843)).toBe('0.684×');
    expect(formatRatio(5748.2)).toBe('5748×');
    expect(formatBytes(62)).toBe('62 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(-3 * 1024 * 1024)).toBe('−3 MiB');
  });
});

describe('goals', () => {
  it('compares against the limit, inclusive', () => {
    expect(goalAtMost('x ≤ 1.5×', 1.5, 1.5)).toEqual({ goal: 'x ≤ 1.5×', measured: '1.5×', met: true });
    expect(goalAtMost('x ≤ 1.5×', 1.51, 1.5).met).toBe(false);
    expect(goalAtLeast('x ≥ 50×', 49.9, 50).met).toBe(false);
    expect(goalAtLeast('x ≥ 50×', 120, 50)).toEqual({ goal: 'x ≥ 50×', measured: '120×', met: true });
  });
});

describe('arguments and report', () => {
  const ids = ['codec', 'trie', 'pubsub'];

  it('parses --only in registry order and reproduces the command', () => {
    const args = parseBenchArgs(['--only', 'trie,codec', '--quick'], ids);
    expect(args.only).toEqual(['codec', 'trie']);
    expect(args.quick).toBe(true);
    expect(commandLine(args)).toBe('npm run bench -- --only codec,trie --quick');
    expect(parseBenchArgs(['--only=pubsub'], ids).only).toEqual(['pubsub']);
    expect(commandLine(parseBenchArgs([], ids))).toBe('npm run bench');
    expect(() => parseBenchArgs(['--only', 'nope'], ids)).toThrow(/unknown section nope/);
    expect(() => parseBenchArgs(['--only'], ids)).toThrow(/--only needs/);
    expect(() => parseBenchArgs(['--fast'], ids)).toThrow(/unknown argument/);
  });

  it('renders the date, machine, command, tables and goals', () => {
    const section: BenchSection = {
      id: 'codec',
      title: 'Codecs',
      about: 'About codecs.',
      run: () => ({ tables: [], goals: [] }),
    };
    const text = renderReport(
      {
        date: new Date('2025-01-02T03:04:05Z'),
        machine: 'Fake CPU, 2 cores, Node v20',
        command: 'npm run bench -- --only codec',
        quick: false,
        timing: QUICK_TIMING_OPTIONS,
      },
      [
        {
          section,
          report: {
            tables: [{ headers: ['codec', 'ratio'], rows: [['native', '0.7×']] }],
            goals: [goalAtMost('native ≤ 1.5×', 0.7, 1.5)],
          },
        },
      ],
    );
    expect(text).toContain('- Last run: 2025-01-02T03:04:05.000Z');
    expect(text).toContain('- Machine: Fake CPU, 2 cores, Node v20');
    expect(text).toContain('- Command: `npm run bench -- --only codec`');
    expect(text).toContain('## Codecs (`codec`)');
    expect(text).toContain('| native |  0.7× |');
    expect(text).toContain('| codec   | native ≤ 1.5× |     0.7× | yes |');
    expect(text).toContain('- ✅ met — native ≤ 1.5×: measured 0.7×');
    expect(text).not.toContain('Quick run');
  });

  it('keeps the sections a partial run (--only) did not run, and rebuilds the goals table', () => {
    const mk = (id: string, measured: number): SectionOutcome => ({
      section: { id, title: id, about: `About ${id}.`, run: () => ({ tables: [], goals: [] }) },
      report: { tables: [], goals: [goalAtMost(`${id} ≤ 2×`, measured, 2)] },
    });
    const info = (cmd: string): Parameters<typeof renderReport>[0] => ({
      date: new Date('2025-01-02T03:04:05Z'),
      machine: 'Fake CPU',
      command: cmd,
      quick: false,
      timing: QUICK_TIMING_OPTIONS,
    });
    const first = renderReport(info('npm run bench'), [mk('a', 1), mk('b', 3)], '', ['a', 'b']);
    const second = renderReport(info('npm run bench -- --only b'), [mk('b', 1.5)], first, ['a', 'b']);
    expect(second).toContain('| a       | a ≤ 2×');
    expect(second).toMatch(/\| b +\| b ≤ 2× +\| +1\.5× \| yes \|/);
    expect(second).not.toMatch(/measured 3×/);
    expect(second.indexOf('## a (`a`)')).toBeLessThan(second.indexOf('## b (`b`)'));
    expect(second).toContain('with `npm run bench`.');
    expect(second).toContain('with `npm run bench -- --only b`.');
  });
});
