/**
 * Resident memory of other processes, from `/proc/<pid>/status` (Linux): a sampler that tracks
 * each process's peak `VmRSS`, and the kernel's own peak (`VmHWM`), which can be reset so it
 * covers only the stretch being measured.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** A `kB` field of `/proc/<pid>/status` in bytes; undefined when the process or field is gone. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]) * 1024;
}

/** Resets the process's `VmHWM` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`); false when refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples the RSS of some processes every `intervalMs` and keeps each one's peak. */
export class RssSampler {
  private readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: readonly number[]) {}

  start(intervalMs: number): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes a last sample and stops. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  /** The highest RSS seen for `pid`, in bytes (0 when never read). */
  peak(pid: number): number {
    return this.peaks.get(pid) ?? 0;
  }

  private sample(): void {
    for (const pid of this.pids) {
      const rss = procStatusBytes(pid, 'VmRSS');
      if (rss !== undefined && rss > (this.peaks.get(pid) ?? 0)) this.peaks.set(pid, rss);
    }
  }
}
