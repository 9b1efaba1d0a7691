/** How the dashboard writes rates, sizes and durations: short, with their unit. */

/** A number in at most three significant digits with k/M/G (`950`, `1.2k`, `34M`). */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${trimZero((n / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${trimZero((n / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${trimZero((n / 1e3).toPrecision(3))}k`;
  if (a >= 100 || a === 0) return n.toFixed(0);
  return trimZero(n.toPrecision(2));
}

const trimZero = (s: string): string => (s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s);

/** Messages per second, e.g. `1.2k msg/s`. */
export const msgRate = (n: number): string => `${compact(n)} msg/s`;

/** Bytes in binary units, e.g. `512 B`, `3.4 KiB`, `12 MiB`. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? v.toFixed(0) : v >= 100 ? v.toFixed(0) : trimZero(v.toFixed(1));
  return `${n < 0 ? '-' : ''}${text} ${units[i]}`;
}

/** Bytes per second, e.g. `3.4 KiB/s`. */
export const byteRate = (n: number): string => `${bytes(n)}/s`;

/** A duration in its two largest units, e.g. `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${sec} s`;
  return `${sec} s`;
}

/** A share 0–1 as a percentage, e.g. `0 %`, `0.4 %`, `37 %`. */
export function percent(x: number): string {
  const p = x * 100;
  return `${p === 0 || p >= 10 ? p.toFixed(0) : trimZero(p.toFixed(1))} %`;
}
