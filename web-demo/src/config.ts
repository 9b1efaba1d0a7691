/**
 * What the page connects to and what it can show. The cluster launcher serves `/cluster.json`
 * (layout, manager URL, stores, log paths); `?peer=ws://…` overrides the URL. Without the file, or
 * with a `?peer=` outside the cluster (a plain hub, a Zeek's JSON v1 URL), the page runs in
 * events-only mode: event stream and publish form.
 */

import {
  CLUSTER_JSON_PATH,
  ROLE_ORDER,
  TOKEN_PATH,
  type ClusterInfo,
  type LayoutNode,
  type PageToken,
  type Role,
} from '../../server/dashboard/shapes.js';

export { CLUSTER_JSON_PATH, ROLE_ORDER, TOKEN_PATH };
export type { ClusterInfo, LayoutNode, PageToken, Role };

export type DashboardConfig =
  | { readonly mode: 'cluster'; readonly peer: string; readonly cluster: ClusterInfo }
  | { readonly mode: 'events'; readonly peer: string; readonly reason: string };

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Checks the launcher's `/cluster.json`; returns a reason when it is not usable. */
export function parseClusterInfo(json: unknown): ClusterInfo | string {
  if (typeof json !== 'object' || json === null) return 'cluster.json is not an object';
  const o = json as Record<string, unknown>;
  if (typeof o.peer !== 'string' || o.peer === '') return 'cluster.json has no "peer" URL';
  const layout = o.layout as Record<string, unknown> | undefined;
  if (typeof layout !== 'object' || layout === null || !Array.isArray(layout.nodes))
    return 'cluster.json has no layout.nodes';
  const nodes: LayoutNode[] = [];
  for (const n of layout.nodes as unknown[]) {
    const x = n as Record<string, unknown>;
    if (typeof x?.name !== 'string' || !ROLE_ORDER.includes(x.role as Role))
      return `cluster.json has a bad node: ${JSON.stringify(n)}`;
    nodes.push({
      name: x.name,
      role: x.role as Role,
      host: typeof x.host === 'string' ? x.host : '127.0.0.1',
      port: typeof x.port === 'number' ? x.port : 0,
    });
  }
  return {
    layout: { nodes, managerIsLogger: layout.managerIsLogger === true },
    peer: o.peer,
    stores: isStringArray(o.stores) ? o.stores : [],
    logPaths: isStringArray(o.logPaths) ? o.logPaths : [],
  };
}

/** `ws://host:port` without a trailing slash, for comparing URLs. */
function sameUrl(a: string, b: string): boolean {
  const norm = (u: string): string => {
    try {
      const x = new URL(u);
      const host = x.hostname === 'localhost' ? '127.0.0.1' : x.hostname;
      return `${x.protocol}//${host}:${x.port}${x.pathname.replace(/\/+$/, '')}`;
    } catch {
      return u;
    }
  };
  return norm(a) === norm(b);
}

/** Decides the mode from the page URL and the launcher's answer (undefined when it gave none). */
export function resolveConfig(pageUrl: URL, cluster: ClusterInfo | string | undefined): DashboardConfig {
  const override = pageUrl.searchParams.get('peer') ?? undefined;
  const fallbackPeer = `${pageUrl.protocol === 'https:' ? 'wss' : 'ws'}://${pageUrl.host}`;
  if (cluster === undefined || typeof cluster === 'string') {
    const why = cluster ?? 'this page was not served by the cluster launcher (no /cluster.json)';
    return { mode: 'events', peer: override ?? fallbackPeer, reason: why };
  }
  if (override === undefined) return { mode: 'cluster', peer: cluster.peer, cluster };
  // Any node of the cluster carries the stats, stores and log tails through the overlay.
  const inCluster =
    sameUrl(override, cluster.peer) || cluster.layout.nodes.some((n) => sameUrl(override, `ws://${n.host}:${n.port}`));
  if (inCluster) return { mode: 'cluster', peer: override, cluster };
  return {
    mode: 'events',
    peer: override,
    reason: `?peer= points at ${override}, which is not a node of the cluster that served this page`,
  };
}

/** Fetches `/cluster.json`; undefined when the server has none. */
export async function fetchClusterInfo(fetchFn: typeof fetch = fetch): Promise<ClusterInfo | string | undefined> {
  let res: Response;
  try {
    res = await fetchFn(CLUSTER_JSON_PATH, { cache: 'no-store', headers: { accept: 'application/json' } });
  } catch {
    return undefined;
  }
  if (!res.ok) return undefined;
  try {
    return parseClusterInfo(await res.json());
  } catch {
    return 'cluster.json is not valid JSON';
  }
}

/**
 * Asks the launcher for a fresh token (`/token`, same origin); undefined when it has none to give
 * (auth off: a 404) or cannot be reached. Throws on anything else, so that a refresh is retried.
 */
export async function fetchToken(fetchFn: typeof fetch = fetch): Promise<PageToken | undefined> {
  const res = await fetchFn(TOKEN_PATH, { cache: 'no-store', credentials: 'same-origin' });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`the launcher refused a token (HTTP ${res.status})`);
  const body = (await res.json()) as Partial<PageToken>;
  if (typeof body.token !== 'string' || typeof body.expiresAt !== 'number')
    throw new Error('the launcher answered /token without a token');
  return { token: body.token, expiresAt: body.expiresAt };
}
