/** A registry with every part of `createMetrics` (endpoint, store, log router, cluster node, listener), for checks of what it exports. */
import { createServer } from 'node:http';
import { ClusterNode, Endpoint, LogRouter, createMaster, parseLayout } from 'isobroker';
import { createMetrics } from 'isobroker/node';

/** What a fully configured registry exports. */
export interface Exported {
  /** Every series name (histograms and summaries with their suffixes). */
  readonly series: Set<string>;
  /** Every metric family with its type and label names. */
  readonly families: readonly { readonly name: string; readonly type: string; readonly labels: readonly string[] }[];
}

/** Builds the registry; `cleanup` gets what closes it. */
export async function fullyConfigured(cleanup: (() => unknown)[]): Promise<Exported> {
  const layout = parseLayout({
    nodes: [
      { name: 'manager', role: 'manager', host: '127.0.0.1', port: 1 },
      { name: 'logger', role: 'logger', host: '127.0.0.1', port: 2 },
    ],
  });
  const ep = new Endpoint({ name: 'manager', role: 'manager' });
  const node = new ClusterNode(ep, layout, 'manager');
  const router = new LogRouter(node);
  const master = await createMaster(ep, 'kv');
  const metrics = createMetrics({ endpoint: ep, stores: [master], logRouter: router, cluster: node });
  metrics.observeListener(createServer());
  cleanup.push(async () => {
    metrics.close();
    router.close();
    master.close();
    node.close();
    await ep.close();
  });
  const series = new Set<string>();
  const families: Exported['families'][number][] = [];
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    series.add(m.name);
    const type = String(m.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(`${m.name}${s}`);
    if (type === 'summary') for (const s of ['_sum', '_count']) series.add(`${m.name}${s}`);
    const metric = metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: readonly string[] };
    families.push({ name: m.name, type, labels: metric.labelNames ?? [] });
  }
  return { series, families };
}
