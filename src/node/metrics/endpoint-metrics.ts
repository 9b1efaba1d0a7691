/**
 * The endpoint's metrics, read at scrape time from `endpoint.stats()`, `endpoint.peers()` (with
 * each connection's send-queue statistics), `endpoint.routing()`, `endpoint.reachable()` and
 * `endpoint.subscriptions()`. Connections are grouped by link kind; only router links (a bounded
 * set: the hubs and cluster nodes) get a label per peer, never browsers or applications.
 */
import type { Registry } from 'prom-client';
import { DEFAULT_LINKS, type Endpoint, type LinksOptions, type PeerInfo } from '../../index.js';
import { DeltaTotals, mirroredCounter, mirroredGauge, type Sample } from './mirrored.js';

/**
 * The kind of a link as metrics label it: `router` (hub-to-hub, cluster nodes), `leaf` (a client
 * endpoint of ours: browser, application, pipe), `hub` (our uplink when we are a leaf),
 * `json_client` (a Broker JSON v1 client of ours), `json_server` (a Broker JSON v1 endpoint we
 * dialled), `pending` (a native connection before its hello).
 */
export type MetricsLinkKind = 'router' | 'leaf' | 'hub' | 'json_client' | 'json_server' | 'pending';

/** The label of `p`'s link kind. */
export function linkKindOf(p: PeerInfo): MetricsLinkKind {
  if (p.protocol === 'json') return p.direction === 'inbound' ? 'json_client' : 'json_server';
  return p.link ?? 'pending';
}

/** Which `links` entry configures a link kind (its overflow policy). */
const LINK_OPTIONS: Record<MetricsLinkKind, keyof LinksOptions> = {
  router: 'peers',
  hub: 'peers',
  pending: 'peers',
  leaf: 'leaves',
  json_client: 'jsonClients',
  json_server: 'jsonServers',
};

/** Registers the endpoint's metrics in `registry`; `links`: the endpoint's `links` option (for the overflow policy label). */
export function registerEndpointMetrics(registry: Registry, endpoint: Endpoint, links: LinksOptions = {}): void {
  const policyOf = (kind: MetricsLinkKind): string => {
    const key = LINK_OPTIONS[kind];
    return links[key]?.overflowPolicy ?? DEFAULT_LINKS[key].overflowPolicy;
  };
  const sent = new DeltaTotals();
  const dropped = new DeltaTotals();
  let peers: PeerInfo[] = [];
  let fresh = false;
  /**
   * `endpoint.peers()` once per scrape (prom-client starts every collect of a scrape in one
   * tick, so the reading stays fresh until the next); the per-connection counters move into
   * their totals.
   */
  const current = (): PeerInfo[] => {
    if (fresh) return peers;
    fresh = true;
    setImmediate(() => {
      fresh = false;
    });
    peers = endpoint.peers();
    for (const p of peers) {
      if (p.stats === undefined) continue;
      const link = linkKindOf(p);
      const key = `${p.protocol}|${p.direction}|${p.id ?? ''}|${p.url}`;
      sent.observe(key, { link }, p.stats.sent);
      dropped.observe(key, { link, policy: policyOf(link) }, p.stats.overflows);
    }
    sent.endRound();
    dropped.endRound();
    return peers;
  };
  /** Sums `value` over the connected peers per link kind (and protocol). */
  const byLink = (value: (p: PeerInfo) => number, withProtocol = false): Sample[] => {
    const sums = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const p of current()) {
      if (p.status !== 'connected') continue;
      const link = linkKindOf(p);
      const key = withProtocol ? `${link}|${p.protocol}` : link;
      let s = sums.get(key);
      if (s === undefined) {
        s = { labels: withProtocol ? { link, protocol: p.protocol } : { link }, value: 0 };
        sums.set(key, s);
      }
      s.value += value(p);
    }
    return [...sums.values()].map((s) => [s.labels, s.value] as const);
  };
  /** One sample per router peer. */
  const perRouter = (value: (p: PeerInfo) => number): Sample[] =>
    current()
      .filter((p) => p.status === 'connected' && p.link === 'router' && p.stats !== undefined)
      .map((p) => [{ peer: p.name || p.id || p.url }, value(p)] as const);
  const stat =
    (read: () => number): (() => Sample[]) =>
    () => [[{}, read()]];

  mirroredGauge(
    registry,
    'isobroker_connections',
    'Connected links by link kind and protocol.',
    ['link', 'protocol'],
    () => byLink(() => 1, true),
  );
  mirroredCounter(
    registry,
    'isobroker_messages_sent_total',
    'Messages handed to connections, by link kind (counted at scrape time).',
    ['link'],
    () => {
      current();
      return sent.samples();
    },
  );
  mirroredCounter(
    registry,
    'isobroker_send_queue_dropped_total',
    'Messages dropped (or disconnects) because a send buffer was full, by link kind and overflow policy.',
    ['link', 'policy'],
    () => {
      current();
      return dropped.samples();
    },
  );
  mirroredGauge(
    registry,
    'isobroker_send_queue_messages',
    'Messages waiting in send buffers, by link kind.',
    ['link'],
    () => byLink((p) => p.stats?.queued ?? 0),
  );
  mirroredGauge(
    registry,
    'isobroker_send_queue_bytes',
    'Bytes (characters for JSON v1) waiting in send buffers, by link kind.',
    ['link'],
    () => byLink((p) => p.stats?.queuedBytes ?? 0),
  );
  mirroredGauge(
    registry,
    'isobroker_transport_buffered_bytes',
    'Bytes handed to connections and not yet written to the network, by link kind.',
    ['link'],
    () => byLink((p) => p.stats?.bufferedBytes ?? 0),
  );
  mirroredGauge(
    registry,
    'isobroker_router_send_queue_messages',
    'Messages waiting in the send buffer of each router link (hubs, cluster nodes).',
    ['peer'],
    () => perRouter((p) => p.stats?.queued ?? 0),
  );
  mirroredGauge(
    registry,
    'isobroker_router_send_queue_bytes',
    'Bytes waiting in the send buffer of each router link (hubs, cluster nodes).',
    ['peer'],
    () => perRouter((p) => p.stats?.queuedBytes ?? 0),
  );
  mirroredGauge(
    registry,
    'isobroker_peerings_down',
    'Outbound peerings configured but not connected.',
    [],
    stat(() => current().filter((p) => p.status !== 'connected').length),
  );

  const counter = (name: string, help: string, read: () => number): void =>
    void mirroredCounter(registry, name, help, [], stat(read));
  counter(
    'isobroker_messages_published_total',
    'Messages published by this endpoint itself.',
    () => endpoint.stats().published,
  );
  counter(
    'isobroker_messages_received_total',
    'Data messages accepted from native peers (duplicates not counted).',
    () => endpoint.stats().received,
  );
  counter(
    'isobroker_messages_forwarded_total',
    'Messages relayed to other endpoints.',
    () => endpoint.stats().forwarded,
  );
  counter(
    'isobroker_messages_duplicate_total',
    'Messages suppressed as duplicates (seen before by way of another path).',
    () => endpoint.stats().duplicates,
  );
  counter(
    'isobroker_messages_ttl_expired_total',
    'Messages not relayed further because their TTL ran out.',
    () => endpoint.stats().ttlExpired,
  );
  counter(
    'isobroker_bad_frames_total',
    'Frames from peers that could not be decoded.',
    () => endpoint.stats().badFrames,
  );
  counter(
    'isobroker_messages_refused_total',
    'Messages refused without closing the link (relayed data of an unknown origin, own-id announcements).',
    () => endpoint.stats().refused,
  );
  counter(
    'isobroker_protocol_violations_total',
    'Connections closed for a protocol violation or a failure their input caused.',
    () => endpoint.stats().violations,
  );

  const gauge = (name: string, help: string, read: () => number): void =>
    void mirroredGauge(registry, name, help, [], stat(read));
  gauge('isobroker_subscriptions', 'Topic prefixes subscribed locally.', () => endpoint.subscriptions().length);
  gauge('isobroker_routing_filter_prefixes', 'Topic prefixes in the filters of every reachable endpoint, summed.', () =>
    endpoint.reachable().reduce((n, r) => n + r.filter.length, 0),
  );
  gauge(
    'isobroker_routing_endpoints',
    'Endpoints in the routing table (tombstones included).',
    () => endpoint.routing().endpoints,
  );
  gauge(
    'isobroker_routing_tombstones',
    'Routing table entries of endpoints that left.',
    () => endpoint.routing().tombstones,
  );
  gauge('isobroker_leaves', 'Leaves (client endpoints) connected to this endpoint.', () => endpoint.routing().leaves);
}
