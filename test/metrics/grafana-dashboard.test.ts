/**
 * The Grafana dashboard in the repository (server/dashboard/grafana-isobroker.json) queries only
 * metrics that `createMetrics` exports: every PromQL expression is read, its metric names picked
 * out (label matchers, grouping labels, range selectors and functions stripped), and each is
 * looked up in a registry built with every part (endpoint, store, log router, cluster node).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fullyConfigured } from './exported.js';

const DASHBOARD = new URL('../../server/dashboard/grafana-isobroker.json', import.meta.url);

interface Panel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating?: { readonly list: readonly { readonly query?: unknown; readonly definition?: string }[] };
}

/** PromQL words that are not metric names: aggregations, keywords, functions are caught by their `(`. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/** The metric names an expression selects. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1'); // grouping labels
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    // A function, or an aggregation (`sum by (…) (…)`).
    if (after.startsWith('(') || /^(by|without)\b/.test(after) || KEYWORDS.has(word)) continue;
    if (/^\d/.test(word) || /^[0-9.]+[smhdwy]$/.test(word)) continue;
    names.push(word);
  }
  return names;
}

function allExpressions(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: readonly Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: p.title ?? '?', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (typeof v.definition === 'string' && v.definition.startsWith('label_values('))
      out.push({ where: 'variable', expr: v.definition.replace(/^label_values\(([^,)]+).*$/, '$1') });
  }
  return out;
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('the Grafana dashboard', () => {
  it('picks metric names out of PromQL', () => {
    expect(
      metricNames(
        'sum by (instance, link) (rate(isobroker_messages_sent_total{instance=~"$instance"}[$__rate_interval]))',
      ),
    ).toEqual(['isobroker_messages_sent_total']);
    expect(metricNames('-sum(a_total{x="y(z)"}) / on (i) group_left b_bytes')).toEqual(['a_total', 'b_bytes']);
    expect(metricNames('increase(x_total[1h]) > 0')).toEqual(['x_total']);
  });

  it('queries only metrics that createMetrics exports', async () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const exprs = allExpressions(d);
    expect(exprs.length).toBeGreaterThan(20);
    const exported = (await fullyConfigured(cleanup)).series;
    const unknown = exprs.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    // And every query selects at least one metric.
    expect(exprs.filter(({ expr }) => metricNames(expr).length === 0)).toEqual([]);
  });
});
