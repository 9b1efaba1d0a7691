/** Scraping and parsing `/metrics` in tests, with a real Prometheus text-format parser. */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One metric family as the parser returns it. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  readonly metrics: readonly { readonly value?: string; readonly labels?: Record<string, string> }[];
}

/** Parses Prometheus text into families by name. */
export function parseMetrics(text: string): Map<string, Family> {
  const families = parsePrometheusTextFormat(text) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** GETs `url` (with `token` as a bearer credential) and parses the body; fails on a status other than 200. */
export async function scrape(url: string, token?: string): Promise<Map<string, Family>> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body}`);
  if (!/^text\/plain; version=0\.0\.4/.test(res.headers.get('content-type') ?? ''))
    throw new Error(`GET ${url}: content-type ${res.headers.get('content-type')}`);
  return parseMetrics(body);
}

/** The sum of a family's samples whose labels include `labels` (0 when none). */
export function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no metric ${name}`);
  let sum = 0;
  for (const m of f.metrics) {
    if (Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) sum += Number(m.value ?? 0);
  }
  return sum;
}
