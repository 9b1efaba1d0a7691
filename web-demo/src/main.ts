/**
 * The live cluster dashboard. Reads `/cluster.json` from the launcher, peers a browser endpoint
 * with the manager (with the token the launcher hands out at `/token` when auth is on) and shows cluster totals,
 * topology, message rates, nodes (uptime, restarts, failures), the busiest topics, client
 * connections, an event stream, a store browser, a log tail and a publish form. Against any other endpoint (a plain hub, a Zeek's JSON v1 URL) it
 * shows the event stream and the publish form only, and says why.
 */
import { Endpoint, newEndpointId } from 'isobroker';
import { startClusterPanel } from './cluster-panel.js';
import { fetchClusterInfo, fetchToken, resolveConfig, type DashboardConfig } from './config.js';
import { ConnectionBanner } from './connection-banner.js';
import { byId, h } from './dom.js';
import { EventStream } from './event-stream.js';
import { LogTail } from './log-tail.js';
import { PublishForm } from './publish-form.js';
import { StoreBrowser } from './store-browser.js';

const JSON_V1_SUFFIX = '/v1/messages/json';

function showMode(cfg: DashboardConfig): void {
  byId('peer-url').textContent = cfg.peer;
  document.body.dataset.mode = cfg.mode;
  document.querySelectorAll<HTMLElement>('[data-cluster-only]').forEach((el) => {
    el.hidden = cfg.mode !== 'cluster';
  });
  const notice = byId('mode-notice');
  notice.hidden = cfg.mode === 'cluster';
  if (cfg.mode === 'events') {
    const kind = cfg.peer.endsWith(JSON_V1_SUFFIX)
      ? 'a Broker JSON v1 endpoint (a Zeek or a hub)'
      : 'a plain endpoint (a hub)';
    notice.replaceChildren(
      h('strong', {}, 'Events-only mode. '),
      `This page talks to ${kind} — ${cfg.reason}. Watching and publishing events works; `,
      'topology, message rates, stores and log tails need an isobroker cluster (',
      h('code', {}, 'isobroker cluster --demo'),
      ').',
    );
  }
}

async function main(): Promise<void> {
  const pageUrl = new URL(location.href);
  const cfg = resolveConfig(pageUrl, await fetchClusterInfo());
  showMode(cfg);
  const id = newEndpointId();
  const endpoint = new Endpoint({ id, name: `dashboard-${id.slice(0, 8)}`, role: 'browser' });
  const banner = new ConnectionBanner(endpoint, cfg.peer, { banner: byId('banner'), dot: byId('conn-dot') });

  const events = new EventStream(
    endpoint,
    {
      filter: byId<HTMLInputElement>('event-filter'),
      pause: byId<HTMLButtonElement>('events-pause'),
      clear: byId<HTMLButtonElement>('events-clear'),
      list: byId('event-list'),
      meta: byId('events-meta'),
      empty: byId('events-empty'),
    },
    // `?filter=demo/` starts with that filter; otherwise the last one used in this browser.
    pageUrl.searchParams.get('filter') ?? undefined,
  );
  new PublishForm(
    endpoint,
    {
      form: byId<HTMLFormElement>('publish-form'),
      topic: byId<HTMLInputElement>('publish-topic'),
      name: byId<HTMLInputElement>('publish-name'),
      args: byId('publish-args'),
      addArg: byId<HTMLButtonElement>('publish-add-arg'),
      error: byId('publish-error'),
      result: byId('publish-result'),
    },
    !cfg.peer.endsWith(JSON_V1_SUFFIX),
    (topic, data) => events.showOwn(topic, data),
  );

  if (cfg.mode === 'cluster') {
    startClusterPanel(endpoint, cfg.cluster, {
      topology: byId('topology'),
      rates: byId('rates'),
      totals: { tiles: byId('totals-tiles'), chart: byId('totals-chart') },
      nodes: byId<HTMLTableSectionElement>('nodes-body'),
      topics: { body: byId<HTMLTableSectionElement>('topics-body'), empty: byId('topics-empty') },
      clients: { body: byId<HTMLTableSectionElement>('clients-body'), meta: byId('clients-meta') },
      backbone: {
        panel: byId('backbone-panel'),
        body: byId<HTMLTableSectionElement>('backbone-body'),
        meta: byId('backbone-meta'),
      },
    });
    // The clone loads its IndexedDB copy now and syncs once the peering is up.
    new StoreBrowser(endpoint, cfg.cluster.stores, {
      select: byId<HTMLSelectElement>('store-select'),
      status: byId('store-status'),
      search: byId<HTMLInputElement>('store-search'),
      body: byId<HTMLTableSectionElement>('store-body'),
      meta: byId('store-meta'),
      empty: byId('store-empty'),
    });
    new LogTail(endpoint, cfg.cluster.logPaths, {
      select: byId<HTMLSelectElement>('log-select'),
      head: byId<HTMLTableSectionElement>('log-head'),
      body: byId<HTMLTableSectionElement>('log-body'),
      meta: byId('log-meta'),
      empty: byId('log-empty'),
    });
  }

  // With auth on (`npm start`), the launcher hands this page a short-lived token at `/token`;
  // the endpoint presents it in the native hello and asks for a fresh one before it expires.
  let first: Awaited<ReturnType<typeof fetchToken>>;
  try {
    first = cfg.mode === 'cluster' ? await fetchToken() : undefined;
  } catch (err) {
    banner.fail(err instanceof Error ? err.message : String(err));
    first = undefined;
  }
  const getToken = async (): Promise<string> => {
    const next = await fetchToken();
    if (next === undefined) throw new Error('the launcher no longer hands out tokens');
    return next.token;
  };
  try {
    // Resolves at the first handshake; until then (and after drops) the banner tells the story.
    endpoint.peer(cfg.peer, first ? { token: first.token, getToken } : {}).catch(() => undefined);
  } catch (err) {
    banner.fail(err instanceof Error ? err.message : String(err));
  }
  document.body.dataset.ready = 'yes';
}

void main();
