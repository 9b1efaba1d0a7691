/**
 * Time charts with uPlot: a time axis in local time, a value axis with its unit, and the value of
 * every line under the pointer in the legend (or the latest values when the pointer is away).
 * Sized by a ResizeObserver on the container, so drawing never forces a layout.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LineSpec {
  readonly label: string;
  /** A CSS custom property holding the colour, e.g. `--pub`. */
  readonly color: string;
  /** Formats a value with its unit for the legend (`12 msg/s`). */
  readonly format: (v: number) => string;
  /** Which value axis: 0 (left) or 1 (right). @default 0 */
  readonly axis?: 0 | 1;
}

export interface ChartSpec {
  readonly height: number;
  readonly lines: readonly LineSpec[];
  /** Tick labels of each value axis (left, and right when a line uses it). */
  readonly ticks: readonly ((v: number) => string)[];
  /** Axis titles (unit), left and right. */
  readonly units: readonly string[];
}

/** `HH:MM:SS` of epoch seconds, local time. */
function clock(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const cssVar = (name: string, fallback: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

export class TimeChart {
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private readonly spec: ChartSpec,
  ) {
    this.data = [[], ...spec.lines.map(() => [])];
    // What the canvas draws, for tests and tools: the axes' units.
    container.dataset.axes = ['time', ...spec.units].join(' | ');
    this.resize = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w < 50) return;
      if (!this.plot) this.create(w);
      else if (Math.abs(this.plot.width - w) >= 1) this.plot.setSize({ width: w, height: spec.height });
    });
    this.resize.observe(container);
  }

  private create(width: number): void {
    const grid = cssVar('--chart-grid', '#2b323c');
    const muted = cssVar('--muted', '#8b96a3');
    const axis = (side: 1 | 3, i: number): uPlot.Axis => ({
      scale: i === 0 ? 'y' : 'y2',
      side,
      stroke: muted,
      grid: { show: i === 0, stroke: grid, width: 1 },
      ticks: { show: false },
      size: 52,
      label: this.spec.units[i],
      labelSize: 14,
      labelFont: '11px system-ui, sans-serif',
      font: '11px system-ui, sans-serif',
      values: (_u, splits) => splits.map((v) => this.spec.ticks[i]!(v)),
    });
    const twoAxes = this.spec.lines.some((l) => l.axis === 1);
    this.plot = new uPlot(
      {
        width,
        height: this.spec.height,
        padding: [6, 4, 0, 0],
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        legend: { show: true, live: true },
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
          y2: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
        },
        axes: [
          {
            stroke: muted,
            grid: { show: false },
            ticks: { stroke: grid, width: 1, size: 4 },
            font: '11px system-ui, sans-serif',
            size: 26,
            space: 64,
            // One line per tick, local time (uPlot's default adds a second line with the date).
            values: (_u, splits) => splits.map((v) => clock(v)),
          },
          axis(3, 0),
          ...(twoAxes ? [axis(1, 1)] : []),
        ],
        series: [
          {
            label: 'time',
            value: (_u, v) => (v == null ? '—' : clock(v)),
          },
          ...this.spec.lines.map(
            (l): uPlot.Series => ({
              label: l.label,
              scale: l.axis === 1 ? 'y2' : 'y',
              stroke: cssVar(l.color, '#4aa3ff'),
              width: 1.5,
              spanGaps: false,
              points: { show: false },
              value: (_u, v) => (v == null ? '—' : l.format(v)),
            }),
          ),
        ],
      },
      this.data,
      this.container,
    );
  }

  /**
   * Shows points at `times` (ms since the epoch) with one value list per line (null = a gap);
   * the time axis ends at `now` and spans at least `minSpanMs`.
   */
  update(
    times: readonly number[],
    values: readonly (readonly (number | null)[])[],
    now: number,
    minSpanMs: number,
  ): void {
    this.data = [times.map((t) => t / 1000), ...values.map((v) => [...v])] as uPlot.AlignedData;
    if (!this.plot) return;
    const from = Math.min(times[0] ?? now, now - minSpanMs);
    this.plot.batch(() => {
      this.plot!.setData(this.data, false);
      this.plot!.setScale('x', { min: from / 1000, max: now / 1000 });
    });
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }
}
