/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, a `.cpuprofile` JSON file): self time per
 * function, and self time per source file, so a benchmark can say where a process spends its time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function or file. */
export interface ProfileEntry {
  /** `name (file:line)` for a function, the file for a file, or a V8 pseudo-frame like `(garbage collector)`. */
  readonly name: string;
  readonly selfMs: number;
  /** Share of all sampled time, 0–1. */
  readonly share: number;
}

/** Per-function and per-file self times of a profile, largest first. */
export interface ProfileSummary {
  readonly totalMs: number;
  /** Time not spent idle (the `(idle)` pseudo-frame excluded). */
  readonly busyMs: number;
  readonly functions: readonly ProfileEntry[];
  readonly files: readonly ProfileEntry[];
}

/** Shortens a script URL to the part a reader recognises (`src/…`, `node_modules/…`, `node:…`). */
function shortFile(url: string): string {
  if (url === '') return '(native)';
  for (const mark of ['/node_modules/', '/dist/']) {
    const i = url.lastIndexOf(mark);
    if (i >= 0) return url.slice(i + (mark === '/dist/' ? mark.length : 1));
  }
  return url.replace(/^file:\/\//, '');
}

function top(map: Map<string, number>, total: number, n: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: total > 0 ? us / total : 0 }));
}

/** Reads `path` and returns the `n` largest functions and files by self time. */
export function summarizeCpuProfile(path: string, n: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let total = 0;
  // The first sample's delta runs from the profiler's start and is charged to the inspector call
  // that started it (`dispatch`), not to work: skip it.
  for (let i = 1; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) continue;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = shortFile(f.url);
    const name =
      f.url === ''
        ? f.functionName || '(anonymous)'
        : `${f.functionName || '(anonymous)'} (${file}:${f.lineNumber + 1})`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    const fileKey = f.url === '' ? f.functionName : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const busy = total - idle;
  return { totalMs: total / 1000, busyMs: busy / 1000, functions: top(fns, busy, n), files: top(files, busy, n) };
}
