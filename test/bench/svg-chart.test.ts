/**
 * The benchmark charts (bench/lib/svg-chart.ts) and the charts derived from section tables
 * (bench/lib/charts-from-report.ts): well-formed XML, no NaN, bars proportional to their values,
 * escaped labels, and charts placed next to their tables in the report.
 */
import { describe, expect, it } from 'vitest';
import {
  addDerivedChartsToStored,
  parseBytes,
  parseCount,
  parseDuration,
  parseRate,
  parseStoredTables,
  withDerivedCharts,
} from '../../bench/lib/charts-from-report.js';
import { formatBytes, formatCount, formatNs, formatOps, markdownTable } from '../../bench/lib/markdown.js';
import { chartPath, renderSection } from '../../bench/lib/report.js';
import type { SectionReport } from '../../bench/lib/section.js';
import { barChartSvg, escapeXml, groupedBarChartSvg, lineChartSvg, niceStep, num } from '../../bench/lib/svg-chart.js';

/**
 * Checks that `xml` is well formed (one root, every tag closed in order, attributes quoted, only
 * the five XML entities or numeric references) and returns its elements with their attributes.
 */
function parseXml(xml: string): { name: string; attrs: Record<string, string>; text: string }[] {
  const elements: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const stack: { name: string; attrs: Record<string, string>; text: string }[] = [];
  let roots = 0;
  const checkText = (s: string): string => {
    if (/[<>]/.test(s)) throw new Error(`unescaped < or > in text: ${s}`);
    for (const m of s.matchAll(/&([^;\s]*);?/g)) {
      if (!/^(amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+)$/.test(m[1]!) || !m[0].endsWith(';'))
        throw new Error(`bad entity ${m[0]} in: ${s}`);
    }
    return s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  };
  const tagRe = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of xml.trim().matchAll(tagRe)) {
    if (m[6] !== undefined) throw new Error(`stray < at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      const text = checkText(m[5]);
      if (stack.length === 0) {
        if (text.trim() !== '') throw new Error(`text outside the root: ${text}`);
      } else stack.at(-1)!.text += text;
      continue;
    }
    const [, close, name, attrText, selfClose] = m;
    if (close === '/') {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice on <${name}>`);
      attrs[a[1]!] = checkText(a[2]!);
    }
    const el = { name: name!, attrs, text: '' };
    elements.push(el);
    if (stack.length === 0) roots++;
    if (selfClose !== '/') stack.push(el);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

const bars = (svg: string) => parseXml(svg).filter((e) => e.name === 'rect' && e.attrs.height !== '10');
const texts = (svg: string) =>
  parseXml(svg)
    .filter((e) => e.name === 'text')
    .map((e) => e.text);

describe('barChartSvg', () => {
  const svg = barChartSvg({
    title: 'Throughput <1→1> & "more"',
    axis: 'messages per second',
    bars: [
      { label: 'isobroker hub', value: 300_000, highlight: true },
      { label: "nats-server's <fast> path & co", value: 150_000 },
      { label: 'mosquitto', value: 30_000 },
    ],
    format: formatOps,
    note: 'ceiling 11 M/s not drawn',
  });

  it('is well-formed SVG with a title and no NaN', () => {
    const els = parseXml(svg);
    expect(els[0]!.name).toBe('svg');
    expect(els[0]!.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(els.find((e) => e.name === 'title')?.text).toBe('Throughput <1→1> & "more"');
  });

  it('draws bars proportional to their values, each value written at its end', () => {
    const rects = bars(svg);
    expect(rects).toHaveLength(3);
    const widths = rects.map((r) => Number(r.attrs.width));
    expect(widths[0]! / widths[1]!).toBeCloseTo(2, 1);
    expect(widths[0]! / widths[2]!).toBeCloseTo(10, 0);
    expect(new Set(rects.map((r) => r.attrs.x)).size).toBe(1);
    expect(texts(svg)).toEqual(expect.arrayContaining(['300 k/s', '150 k/s', '30 k/s', 'messages per second']));
    // The highlighted bar stands out from the others.
    expect(rects[0]!.attrs.fill).not.toBe(rects[1]!.attrs.fill);
    expect(rects[1]!.attrs.fill).toBe(rects[2]!.attrs.fill);
  });

  it('escapes labels and keeps them as text', () => {
    expect(svg).toContain('nats-server&apos;s &lt;fast&gt; path &amp; co');
    expect(texts(svg)).toContain("nats-server's <fast> path & co");
  });

  it('has an axis reaching past the largest value, with round ticks', () => {
    const ticks = parseXml(svg)
      .filter((e) => e.name === 'text' && e.attrs['text-anchor'] === 'middle' && e.text.endsWith('/s'))
      .map((e) => e.text);
    expect(ticks).toEqual(['100 k/s', '200 k/s', '300 k/s']);
    expect(texts(svg)).toContain('0');
  });

  it('draws a value that is not a number as n/a, never as NaN', () => {
    const s = barChartSvg({
      title: 't',
      axis: 'a',
      bars: [
        { label: 'ok', value: 5 },
        { label: 'missing', value: Number.NaN },
        { label: 'inf', value: Number.POSITIVE_INFINITY },
      ],
      format: formatCount,
    });
    parseXml(s);
    expect(s).not.toMatch(/NaN|Infinity/);
    expect(texts(s).filter((t) => t === 'n/a')).toHaveLength(2);
    expect(bars(s)).toHaveLength(1);
  });
});

describe('groupedBarChartSvg', () => {
  it('draws one bar per series and group, proportional on a linear axis', () => {
    const svg = groupedBarChartSvg({
      title: 'latency',
      axis: 'time',
      groups: ['hub', 'nats'],
      series: [
        { name: 'p50', values: [1e6, 2e6] },
        { name: 'p99', values: [4e6, 8e6] },
      ],
      format: formatNs,
    });
    const rects = bars(svg);
    expect(rects).toHaveLength(4);
    const w = rects.map((r) => Number(r.attrs.width));
    // Order: group by group, series within.
    expect(w[2]! / w[0]!).toBeCloseTo(2, 1);
    expect(w[1]! / w[0]!).toBeCloseTo(4, 1);
    expect(w[3]! / w[0]!).toBeCloseTo(8, 1);
    expect(texts(svg)).toEqual(expect.arrayContaining(['p50', 'p99', '1 ms', '8 ms']));
  });

  it('on a log scale, equal ratios give equal steps and the axis says so', () => {
    const svg = groupedBarChartSvg({
      title: 'latency',
      axis: 'time',
      groups: ['a', 'b', 'c'],
      series: [{ name: 'p50', values: [1e3, 1e4, 1e5] }],
      format: formatNs,
      scale: 'log',
    });
    const w = bars(svg).map((r) => Number(r.attrs.width));
    expect(w[0]!).toBeGreaterThan(10); // the smallest value still has a bar
    expect(w[2]! - w[1]!).toBeCloseTo(w[1]! - w[0]!, 0);
    expect(texts(svg)).toContain('time (log scale)');
    expect(svg).not.toMatch(/NaN/);
  });

  it('rejects a series whose length does not match the groups', () => {
    expect(() =>
      groupedBarChartSvg({
        title: 't',
        axis: 'a',
        groups: ['x'],
        series: [{ name: 's', values: [1, 2] }],
        format: String,
      }),
    ).toThrow(RangeError);
  });
});

describe('lineChartSvg', () => {
  it('draws a path per series through its points, higher values higher up', () => {
    const svg = lineChartSvg({
      title: 'RSS per client',
      xAxis: 'N',
      yAxis: 'bytes',
      series: [
        {
          name: 'native',
          points: [
            [100, 16_000],
            [1000, 21_000],
            [5000, 15_000],
          ],
        },
        {
          name: 'json <v1>',
          points: [
            [100, 32_000],
            [1000, 25_000],
            [5000, 8_000],
          ],
        },
      ],
      formatX: formatCount,
      formatY: formatBytes,
      xScale: 'log',
    });
    const els = parseXml(svg);
    expect(svg).not.toMatch(/NaN/);
    const paths = els.filter((e) => e.name === 'path');
    expect(paths).toHaveLength(2);
    const circles = els.filter((e) => e.name === 'circle');
    expect(circles).toHaveLength(6);
    const cy = circles.map((c) => Number(c.attrs.cy));
    // 21,000 is above 16,000 (smaller y), 32,000 above all.
    expect(cy[1]!).toBeLessThan(cy[0]!);
    expect(cy[3]!).toBeLessThan(Math.min(cy[0]!, cy[1]!, cy[2]!));
    // Log x: 100 → 1000 is one decade, as 1000 → 10000 would be; 5000 sits at log10(5) of a decade.
    const cx = circles.map((c) => Number(c.attrs.cx));
    expect((cx[2]! - cx[1]!) / (cx[1]! - cx[0]!)).toBeCloseTo(Math.log10(5), 1);
    expect(texts(svg)).toEqual(expect.arrayContaining(['100', '1,000', '5,000', 'json <v1>', 'N (log scale)']));
  });
});

describe('helpers', () => {
  it('num refuses non-finite numbers', () => {
    expect(num(1.234)).toBe('1.2');
    expect(() => num(Number.NaN)).toThrow(RangeError);
    expect(() => num(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('escapes the five XML characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });

  it('picks 1, 2 or 5 × 10^k tick steps', () => {
    expect(niceStep(300_000)).toBe(100_000);
    expect(niceStep(4.35e6)).toBe(1e6);
    expect(niceStep(7)).toBe(2);
    expect(niceStep(0)).toBe(1);
  });

  it('parses the formats of markdown.ts back', () => {
    expect(parseRate('299 k/s')).toBe(299_000);
    expect(parseRate('1.17 M/s')).toBeCloseTo(1_170_000, 3);
    expect(parseRate('789/s')).toBe(789);
    expect(parseRate(formatOps(4_350_000))).toBeCloseTo(4_350_000, 3);
    expect(parseRate('—')).toBeNaN();
    expect(parseDuration('93 µs')).toBe(93_000);
    expect(parseDuration('2.24 ms')).toBeCloseTo(2_240_000, 3);
    expect(parseDuration('841 ns')).toBe(841);
    expect(parseDuration('1.2 s')).toBe(1.2e9);
    expect(parseBytes('16.6 KiB')).toBeCloseTo(16.6 * 1024, 6);
    expect(parseBytes('−3 MiB')).toBe(-3 * 1024 * 1024);
    expect(parseBytes('62 B')).toBe(62);
    expect(parseCount('5,000')).toBe(5000);
    expect(parseCount('5 k')).toBeNaN();
  });
});

describe('charts in the report', () => {
  const pubsub: SectionReport = {
    tables: [
      {
        title: '1→10: one publisher, 10 subscribers, full speed (flow-controlled)',
        headers: ['system', 'delivered msg/s', 'p50', 'p99'],
        rows: [
          ['isobroker hub (Endpoint clients)', '600 k/s', '13 ms', '49 ms'],
          ['nats-server 2.9 (nats.ws)', '900 k/s', '8 ms', '42 ms'],
        ],
      },
      {
        title: "1→10 at half the hub's peak: 300 k/s deliveries offered",
        headers: ['system', 'delivered msg/s', 'p50', 'p99'],
        rows: [
          ['isobroker hub (Endpoint clients)', '300 k/s', '500 µs', '2.8 ms'],
          ['nats-server 2.9 (nats.ws)', '300 k/s', '600 µs', '4.4 ms'],
        ],
      },
      { title: 'Unrelated', headers: ['a'], rows: [['1']] },
    ],
    goals: [],
  };

  it('derives pubsub throughput and latency charts from the tables, by column name', () => {
    const r = withDerivedCharts('pubsub', pubsub);
    expect(r.charts?.map((c) => c.file)).toEqual(['throughput-1to10', 'latency-1to10']);
    const throughput = r.charts![0]!;
    const w = bars(throughput.svg).map((b) => Number(b.attrs.width));
    expect(w[1]! / w[0]!).toBeCloseTo(1.5, 1);
    expect(texts(throughput.svg)).toEqual(expect.arrayContaining(['600 k/s', '900 k/s']));
    expect(texts(r.charts![1]!.svg)).toEqual(expect.arrayContaining(['500 µs', '4.4 ms']));
  });

  it("keeps a section's own chart over a derived one of the same file, and leaves other sections alone", () => {
    const own = { file: 'throughput-1to10', title: 'mine', svg: '<svg xmlns="http://www.w3.org/2000/svg"/>' };
    const r = withDerivedCharts('pubsub', { ...pubsub, charts: [own] });
    expect(r.charts?.filter((c) => c.file === 'throughput-1to10')).toEqual([own]);
    expect(withDerivedCharts('trie', pubsub)).toBe(pubsub);
  });

  it('derives nothing from a table whose shape changed, and says so instead of failing', () => {
    const lines: string[] = [];
    const broken: SectionReport = {
      tables: [{ title: '1→1: one publisher, full speed', headers: ['system', 'delivered msg/s'], rows: [['hub']] }],
      goals: [],
    };
    const r = withDerivedCharts('pubsub', broken, (l) => lines.push(l));
    expect(r.charts ?? []).toHaveLength(0);
    expect(lines.join('\n')).toMatch(/no charts derived/);
  });

  it('embeds each chart right after the table it illustrates, and the rest after the tables', () => {
    const report = withDerivedCharts('pubsub', pubsub);
    const text = renderSection({
      section: { id: 'pubsub', title: 'Pub/sub', about: 'About.', run: () => report },
      report: { ...report, charts: [...report.charts!, { file: 'extra', title: 'Extra [x]', svg: '' }] },
    });
    const img = (file: string) => text.indexOf(`](bench/charts/pubsub-${file}.svg)`);
    expect(img('throughput-1to10')).toBeGreaterThan(text.indexOf('| nats-server 2.9 (nats.ws) | 900 k/s'));
    expect(img('throughput-1to10')).toBeLessThan(text.indexOf("**1→10 at half the hub's peak"));
    expect(img('latency-1to10')).toBeGreaterThan(text.indexOf("**1→10 at half the hub's peak"));
    expect(img('extra')).toBeGreaterThan(text.indexOf('| a   |'));
    expect(text).toContain('![Extra  x ](bench/charts/pubsub-extra.svg)');
    expect(chartPath('codec', { file: 'msgpack-time' })).toBe('bench/charts/codec-msgpack-time.svg');
    expect(() => chartPath('codec', { file: '../x' })).toThrow(RangeError);
  });
});

describe('charts for sections kept from an earlier run', () => {
  const table = {
    title: 'Records per second, end to end',
    headers: ['variant', 'records/s', 'note'],
    rows: [
      ['2 workers → 1 logger', '80.8 k/s', 'a | b'],
      ['file log writer alone', '554 k/s', ''],
      ['ceiling: append the same lines', '11 M/s', ''],
    ],
  };
  const text = `## Logging (\`logging\`)\n\nAbout.\n\n${markdownTable(table)}\n\n${markdownTable({ ...table, title: 'Other' })}\n\n_Measured then._`;

  it('reads back the tables markdownTable wrote', () => {
    const stored = parseStoredTables(text);
    expect(stored.map((s) => s.table)).toEqual([table, { ...table, title: 'Other' }]);
    expect(text.slice(stored[0]!.end, stored[0]!.end + 4)).toBe('\n\n**');
  });

  it('adds the derived images after their table, once', () => {
    const { text: out, charts } = addDerivedChartsToStored(
      'logging',
      text,
      (c) => `bench/charts/logging-${c.file}.svg`,
    );
    expect(charts.map((c) => c.file)).toEqual(['records']);
    const img = out.indexOf('](bench/charts/logging-records.svg)');
    expect(img).toBeGreaterThan(out.indexOf('| ceiling: append the same lines'));
    expect(img).toBeLessThan(out.indexOf('**Other**'));
    expect(texts(charts[0]!.svg)).toEqual(expect.arrayContaining(['80.8 k/s', '554 k/s']));
    expect(texts(charts[0]!.svg).join(' ')).toMatch(
      /Not drawn \(off the scale\): ceiling: append the same lines: 11 M records\/s/,
    );
    expect(addDerivedChartsToStored('logging', out, () => 'x').charts).toHaveLength(0);
    expect(addDerivedChartsToStored('trie', text, () => 'x')).toEqual({ text, charts: [] });
  });
});
