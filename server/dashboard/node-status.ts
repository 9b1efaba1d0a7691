/**
 * A cluster node's status for the dashboard: twice a second (`STATS_INTERVAL_MS`) the node
 * publishes `isobroker::node_stats` on `isobroker/stats/<name>` (layout in `shapes.ts`) with its
 * counters, its peers, the busiest topics it published on since the last stats, and every
 * connection with its send queue (from `endpoint.peers()`), and its backbone link when it has one
 * (state, server, endpoints seen, queue, drops, reconnects, RTT).
 *
 * Topics are counted by a wrapper around the endpoint's `publish` and `publishEncoded`, so that
 * everything the node sends — the demo's events, log writes, store updates — counts: each message
 * adds one to its topic (a map cleared at every stats), and one message in `BYTES_SAMPLE_EVERY`
 * is encoded to measure its size (`publishEncoded` gets its size for free), so bytes are an
 * estimate whose cost stays a small fraction of publishing itself.
 */
import { DEFAULT_LINKS, type Endpoint, type LogRouter, type PeerInfo } from '../../src/index.js';
import { encodeValue } from '../../src/internal.js';
import {
  type BackboneStatus,
  MAX_BACKBONE_NODES,
  MAX_STATS_CLIENTS,
  MAX_STATS_TOPICS,
  STATS_INTERVAL_MS,
  nodeStatsEvent,
  statsTopic,
  type ClientInfo,
  type TopicSample,
} from './shapes.js';

/** One message in this many is encoded to measure its size. */
export const BYTES_SAMPLE_EVERY = 16;
/** Distinct topics counted per interval; the rest go to `OTHER_TOPICS`. */
export const MAX_COUNTED_TOPICS = 1024;
/** Where messages on topics beyond `MAX_COUNTED_TOPICS` are counted. */
export const OTHER_TOPICS = '(other topics)';

/** Messages and (sampled) bytes per topic since the last `take`. */
export class TopicCounter {
  private counts = new Map<string, { messages: number; bytes: number }>();
  private n = 0;
  private last: { messages: number; bytes: number } | undefined;
  /** Bytes of every message, estimated from the sample (total since start). */
  bytes = 0;

  /**
   * Counts one message on `topic`; returns whether its size should be measured (one message in
   * `BYTES_SAMPLE_EVERY`), to be passed to `addBytes`. No allocation for the others.
   */
  count(topic: string): boolean {
    let c = this.counts.get(topic);
    if (!c) {
      const key = this.counts.size < MAX_COUNTED_TOPICS ? topic : OTHER_TOPICS;
      c = this.counts.get(key) ?? { messages: 0, bytes: 0 };
      this.counts.set(key, c);
    }
    c.messages++;
    this.last = c;
    return this.n++ % BYTES_SAMPLE_EVERY === 0;
  }

  /** Adds the size of the message just counted: `size` bytes, standing for `weight` messages. */
  addBytes(size: number, weight = BYTES_SAMPLE_EVERY): void {
    const b = size * weight;
    if (this.last) this.last.bytes += b;
    this.bytes += b;
  }

  /** Counts one message whose size is `size` when known, else `measure()` for one in `BYTES_SAMPLE_EVERY`. */
  add(topic: string, measure: () => number, known = false): void {
    const sample = this.count(topic);
    if (known) this.addBytes(measure(), 1);
    else if (sample) this.addBytes(measure());
  }

  /** The `max` busiest topics since the last call, and a fresh start. */
  take(max = MAX_STATS_TOPICS): TopicSample[] {
    const out = [...this.counts]
      .map(([topic, c]) => ({ topic, messages: c.messages, bytes: c.bytes }))
      .sort((a, b) => b.messages - a.messages || (a.topic < b.topic ? -1 : 1))
      .slice(0, max);
    this.counts = new Map();
    this.last = undefined;
    return out;
  }
}

/** Counts every message `ep` publishes in `counter` (wraps its `publish` and `publishEncoded`). */
export function countPublishes(ep: Endpoint, counter: TopicCounter): void {
  const publish = ep.publish.bind(ep);
  const publishEncoded = ep.publishEncoded.bind(ep);
  ep.publish = (topic, value) => {
    publish(topic, value);
    // After the call: a message the endpoint refused (closed, bad topic) is not counted.
    if (!counter.count(topic)) return;
    let size = topic.length;
    try {
      if (value !== null && typeof value === 'object' && 'type' in value)
        size += encodeValue(value as Parameters<typeof encodeValue>[0]).length;
    } catch {
      // a plain value the endpoint converted: its topic alone is counted
    }
    counter.addBytes(size);
  };
  ep.publishEncoded = (topic, bytes) => {
    publishEncoded(topic, bytes);
    counter.count(topic);
    counter.addBytes(topic.length + bytes.length, 1);
  };
}

/** The send-buffer limits of a connection (the node runs with the default link options). */
function limitsOf(p: PeerInfo): { size: number; bytes: number } {
  const l =
    p.protocol === 'json'
      ? p.direction === 'inbound'
        ? DEFAULT_LINKS.jsonClients
        : DEFAULT_LINKS.jsonServers
      : p.link === 'leaf'
        ? DEFAULT_LINKS.leaves
        : DEFAULT_LINKS.peers;
  return { size: l.bufferSize, bytes: l.bufferBytes };
}

/** Every connected peer of `ep` as the dashboard lists it. */
export function clientsOf(ep: Endpoint): ClientInfo[] {
  const filters = new Map(ep.reachable().map((r) => [r.id, r.filter.length]));
  return ep
    .peers()
    .filter((p) => p.status === 'connected')
    .slice(0, MAX_STATS_CLIENTS)
    .map((p) => {
      const s = p.stats;
      const lim = limitsOf(p);
      const fill = s ? Math.max(s.queued / lim.size, lim.bytes > 0 ? s.queuedBytes / lim.bytes : 0) : 0;
      return {
        name: p.name ?? p.url,
        kind: p.role ?? (p.protocol === 'json' ? 'json' : 'unknown'),
        protocol: p.protocol,
        link: p.link ?? '',
        direction: p.direction,
        address: p.url,
        subscriptions: p.id !== undefined && filters.has(p.id) ? filters.get(p.id)! : -1,
        queued: s?.queued ?? 0,
        fill: Math.min(1, fill),
        drops: s?.overflows ?? 0,
      };
    });
}

/** `ep`'s backbone link as the dashboard shows it, undefined without one. */
export function backboneStatusOf(ep: Endpoint): BackboneStatus | undefined {
  const link = ep.backbone;
  const s = link?.stats();
  if (link === undefined || s === undefined) return undefined;
  const nodes = link.presence
    .nodes()
    .slice(0, MAX_BACKBONE_NODES)
    .map((n) => n.name);
  return {
    nodes,
    state: s.state,
    server: s.server ?? '',
    endpoints: s.endpoints,
    queued: s.queued,
    dropped: s.dropped,
    reconnects: s.reconnects,
    ...(s.rtt !== undefined ? { rtt: s.rtt } : {}),
    published: s.published,
    received: s.batchesIn,
    wasted: s.wasted,
  };
}

/**
 * Starts publishing `ep`'s status every `STATS_INTERVAL_MS` as node `name` of role `role`;
 * returns the stop function.
 */
export function startNodeStatus(ep: Endpoint, name: string, role: string, router: LogRouter): () => void {
  const counter = new TopicCounter();
  countPublishes(ep, counter);
  // Drops are counted per connection; a connection that goes keeps its drops in the total.
  const lastDrops = new Map<string, number>();
  let drops = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    if (ep.isClosed) return;
    const clients = clientsOf(ep);
    const seen = new Set<string>();
    for (const c of clients) {
      const key = `${c.direction} ${c.address} ${c.name}`;
      seen.add(key);
      drops += Math.max(0, c.drops - (lastDrops.get(key) ?? 0));
      lastDrops.set(key, c.drops);
    }
    for (const k of lastDrops.keys()) if (!seen.has(k)) lastDrops.delete(k);
    const s = ep.stats();
    const l = router.stats();
    const now = Date.now();
    const topics = counter.take();
    const bb = backboneStatusOf(ep);
    ep.publish(
      statsTopic(name),
      nodeStatsEvent({
        name,
        role,
        id: ep.id,
        peers: ep
          .peers()
          .filter((p) => p.status === 'connected' && p.name)
          .map((p) => p.name!),
        published: s.published,
        received: s.received,
        logging: {
          bufferedRecords: l.bufferedRecords,
          bufferedBytes: l.bufferedBytes,
          dropped: l.dropped,
          duplicates: l.duplicates,
        },
        publishedBytes: counter.bytes,
        drops: drops + l.dropped + (bb?.dropped ?? 0),
        intervalMs: now - last,
        topics,
        clients,
        ...(bb ? { backbone: bb } : {}),
      }),
    );
    last = now;
  }, STATS_INTERVAL_MS);
  return () => clearInterval(timer);
}
