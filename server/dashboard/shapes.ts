/**
 * The dashboard's shapes, one copy for both sides: what the launcher serves (`/cluster.json`,
 * `/token`), what every node publishes for the page (`isobroker::node_stats` on
 * `isobroker/stats/<node>`) and what loggers publish as the live log tail
 * (`isobroker::log_tail` on `isobroker/logtail/<path>`). The nodes build their events with the
 * builders here, the page (web-demo, bundled by Vite) reads them with the readers here; a change
 * to a layout is made once.
 *
 * Only the public API (`src/index.ts`) is imported, so the page bundles nothing extra.
 */
import {
  count,
  isZeekEvent,
  makeEvent,
  parseZeekMessage,
  string,
  vector,
  type ClusterLayout,
  type Data,
  type NodeSpec,
  type Role,
} from '../../src/index.js';

// ---- /cluster.json and /token (the launcher's HTTP server)

/** One node of the layout the page is given (a cluster node spec). */
export type LayoutNode = NodeSpec;
export type { Role };

/** The roles in the order the page lists them. */
export const ROLE_ORDER: readonly Role[] = ['manager', 'logger', 'proxy', 'worker'];

/** What the launcher tells the page about the cluster (`/cluster.json` without `nodes`). */
export interface ClusterInfo {
  readonly layout: ClusterLayout;
  /** Where the page peers (the manager's native URL). */
  readonly peer: string;
  readonly stores: readonly string[];
  readonly logPaths: readonly string[];
}

/** A node's state as its launcher (supervisor) sees it. */
export type SupervisorState = 'starting' | 'up' | 'restarting' | 'failed' | 'stopped';

/** What the launcher knows of one node (an entry of `/cluster.json`'s `nodes`). */
export interface NodeStatus {
  readonly name: string;
  /**
   * `starting` (spawned, not yet ready), `up` (printed its ready line), `restarting` (exited after
   * coming up, restarts soon), `failed` (exited without coming up; retried with backoff), or
   * `stopped`.
   */
  readonly state: SupervisorState;
  readonly pid?: number;
  /** Starts after the first (restarts after a crash and retries of a failed start). */
  readonly restarts: number;
  /** Exits in a row without coming up. */
  readonly failedStarts: number;
  /** Why the node last exited (its last line on stderr, or its exit code). */
  readonly lastError?: string;
  /** When the next start is due (ms since the epoch), while restarting or failed. */
  readonly nextStartAt?: number;
  /** When the node last came up (ms since the epoch), while it is up. */
  readonly upSince?: number;
}

/** The whole of `/cluster.json`. */
export interface ClusterJson extends ClusterInfo {
  readonly nodes?: readonly NodeStatus[];
  /** The launcher's clock when it answered (ms since the epoch), to measure uptimes against. */
  readonly now?: number;
}

/** Where the launcher serves `/cluster.json` (relative to the page). */
export const CLUSTER_JSON_PATH = 'cluster.json';
/** Where the launcher hands out the page's token (relative to the page) when auth is on. */
export const TOKEN_PATH = 'token';

/** A token from the launcher (`/token`) and when it expires (ms since the epoch). */
export interface PageToken {
  readonly token: string;
  readonly expiresAt: number;
}

// ---- isobroker::node_stats

/** How often every node publishes its stats (ms). */
export const STATS_INTERVAL_MS = 500;
export const STATS_TOPIC_PREFIX = 'isobroker/stats/';
export const statsTopic = (name: string): string => `${STATS_TOPIC_PREFIX}${name}`;
export const STATS_EVENT = 'isobroker::node_stats';
/** At most this many topics per stats event (the busiest of the interval). */
export const MAX_STATS_TOPICS = 10;
/** At most this many connections listed per stats event. */
export const MAX_STATS_CLIENTS = 64;

/** One topic's traffic in one stats interval (messages and bytes published on it). */
export interface TopicSample {
  readonly topic: string;
  readonly messages: number;
  /** Estimated from a sample of the messages (see `server/dashboard/node-status.ts`). */
  readonly bytes: number;
}

/** One connection of a node, as `endpoint.peers()` tells it. */
export interface ClientInfo {
  /** The peer's name (native peers), else its address. */
  readonly name: string;
  /** The peer's role (`worker`, `browser`, `endpoint`, …), or `json` for a JSON v1 client. */
  readonly kind: string;
  /** `native` or `json`. */
  readonly protocol: string;
  /** Native links: `router`, `leaf` (our client) or `hub` (we are its client); else empty. */
  readonly link: string;
  readonly direction: 'inbound' | 'outbound';
  /** Remote address (inbound) or the URL dialled (outbound). */
  readonly address: string;
  /** Topic prefixes it subscribes to (native peers), or -1 when unknown. */
  readonly subscriptions: number;
  /** Messages waiting in its send queue now. */
  readonly queued: number;
  /** Fill of its send queue, 0–1 (the larger of messages and bytes against the link's limits). */
  readonly fill: number;
  /** Messages dropped (or disconnects) because its send buffer was full. */
  readonly drops: number;
}

/** At most this many backbone node names per stats event. */
export const MAX_BACKBONE_NODES = 256;

/** A node's NATS backbone link (when one is attached): its state and counters. */
export interface BackboneStatus {
  /** `connecting`, `connected`, `disconnected`, `reconnected` or `closed`. */
  readonly state: string;
  /** The NATS server connected to (`host:port`), empty when not known. */
  readonly server: string;
  /** Other endpoints present on the backbone now. */
  readonly endpoints: number;
  /** Names of the cluster nodes present on the backbone now (at most `MAX_BACKBONE_NODES`). */
  readonly nodes: readonly string[];
  /** Data messages waiting in the outbound queue (while disconnected). */
  readonly queued: number;
  /** Data messages the outbound queue dropped. */
  readonly dropped: number;
  readonly reconnects: number;
  /** Last round trip to the server, ms; undefined before the first measurement. */
  readonly rtt?: number;
  /** Data messages handed to the backbone, and NATS messages received (totals). */
  readonly published: number;
  readonly received: number;
  /** Superset mode: batches received that nothing wanted. */
  readonly wasted: number;
}

/** The fields of one `node_stats` event. Counters are totals since the node started. */
export interface NodeStats {
  readonly name: string;
  readonly role: string;
  /** The node's endpoint id (a new one after every restart). */
  readonly id: string;
  /** Names of the peers connected now. */
  readonly peers: readonly string[];
  readonly published: number;
  readonly received: number;
  /** Remote logging: records buffered until acknowledged, their bytes, dropped, duplicates. */
  readonly logging?: {
    readonly bufferedRecords: number;
    readonly bufferedBytes: number;
    readonly dropped: number;
    readonly duplicates: number;
  };
  /** Bytes of the messages published here (an estimate from a sample). */
  readonly publishedBytes?: number;
  /** Messages dropped for full send buffers, all connections together. */
  readonly drops?: number;
  /** The interval the topics were counted over (ms). */
  readonly intervalMs?: number;
  /** The busiest topics published here in the last interval. */
  readonly topics?: readonly TopicSample[];
  /** Connections now. */
  readonly clients?: readonly ClientInfo[];
  /** The backbone link, when the node has one. */
  readonly backbone?: BackboneStatus;
}

const str = (d: Data | undefined): string | undefined => (d?.type === 'string' ? d.value : undefined);
const num = (d: Data | undefined): number | undefined =>
  d?.type === 'count' || d?.type === 'integer' ? Number(d.value) : undefined;
const nat = (n: number): Data => count(Math.max(0, Math.round(Number.isFinite(n) ? n : 0)));
const elems = (d: Data | undefined): readonly Data[] | undefined => (d?.type === 'vector' ? d.elements : undefined);

/** The `node_stats` event of `s` (for `statsTopic(s.name)`). */
export function nodeStatsEvent(s: NodeStats): Data {
  const l = s.logging;
  return makeEvent(STATS_EVENT, [
    string(s.name),
    string(s.role),
    string(s.id),
    vector(s.peers.map((p) => string(p))),
    nat(s.published),
    nat(s.received),
    vector(l ? [nat(l.bufferedRecords), nat(l.bufferedBytes), nat(l.dropped), nat(l.duplicates)] : []),
    vector([nat(s.publishedBytes ?? 0), nat(s.drops ?? 0)]),
    nat(s.intervalMs ?? 0),
    vector((s.topics ?? []).map((t) => vector([string(t.topic), nat(t.messages), nat(t.bytes)]))),
    vector(
      (s.clients ?? []).map((c) =>
        vector([
          string(c.name),
          string(c.kind),
          string(c.protocol),
          string(c.link),
          string(c.direction),
          string(c.address),
          // -1 (unknown) travels as 0 subscriptions plus a flag.
          nat(c.subscriptions),
          count(c.subscriptions < 0 ? 0 : 1),
          nat(c.queued),
          nat(c.fill * 1000),
          nat(c.drops),
        ]),
      ),
    ),
    backboneData(s.backbone),
  ]);
}

/** The backbone as an event argument: an empty vector without one; the RTT in microseconds with a known flag. */
function backboneData(b: BackboneStatus | undefined): Data {
  if (!b) return vector([]);
  return vector([
    string(b.state),
    string(b.server),
    vector(b.nodes.slice(0, MAX_BACKBONE_NODES).map((x) => string(x))),
    nat(b.endpoints),
    nat(b.queued),
    nat(b.dropped),
    nat(b.reconnects),
    nat((b.rtt ?? 0) * 1000),
    count(b.rtt === undefined ? 0 : 1),
    nat(b.published),
    nat(b.received),
    nat(b.wasted),
  ]);
}

function readBackbone(d: Data | undefined): BackboneStatus | undefined {
  const [state, server, names, ...rest] = elems(d) ?? [];
  const st = str(state);
  const sv = str(server);
  const nodes = strings(names);
  const n = rest.map(num);
  if (st === undefined || sv === undefined || !nodes || n.length !== 9 || n.some((x) => x === undefined))
    return undefined;
  const [endpoints, queued, dropped, reconnects, rttUs, rttKnown, published, received, wasted] = n as number[];
  return {
    state: st,
    server: sv,
    nodes: nodes.slice(0, MAX_BACKBONE_NODES),
    endpoints: endpoints!,
    queued: queued!,
    dropped: dropped!,
    reconnects: reconnects!,
    ...(rttKnown === 1 ? { rtt: rttUs! / 1000 } : {}),
    published: published!,
    received: received!,
    wasted: wasted!,
  };
}

function readClient(d: Data): ClientInfo | undefined {
  const [name, kind, protocol, link, direction, address, subs, subsKnown, queued, fill, drops] = elems(d) ?? [];
  const dir = str(direction);
  const c = {
    name: str(name),
    kind: str(kind),
    protocol: str(protocol),
    link: str(link),
    address: str(address),
    subs: num(subs),
    known: num(subsKnown),
    queued: num(queued),
    fill: num(fill),
    drops: num(drops),
  };
  if (Object.values(c).some((v) => v === undefined) || (dir !== 'inbound' && dir !== 'outbound')) return undefined;
  return {
    name: c.name!,
    kind: c.kind!,
    protocol: c.protocol!,
    link: c.link!,
    direction: dir,
    address: c.address!,
    subscriptions: c.known === 0 ? -1 : c.subs!,
    queued: c.queued!,
    fill: Math.min(1, c.fill! / 1000),
    drops: c.drops!,
  };
}

/** The arguments of a `node_stats` event, or undefined when they do not have its layout. */
export function readNodeStats(args: readonly Data[]): NodeStats | undefined {
  const [name, role, id, peers, published, received, logging, traffic, interval, topics, clients, backbone] = args;
  const n = str(name);
  const r = str(role);
  const p = num(published);
  const q = num(received);
  const peerList = elems(peers);
  if (n === undefined || r === undefined || p === undefined || q === undefined || !peerList) return undefined;
  const names: string[] = [];
  for (const e of peerList) if (e.type === 'string') names.push(e.value);
  const out: { -readonly [K in keyof NodeStats]: NodeStats[K] } = {
    name: n,
    role: r,
    id: str(id) ?? '',
    peers: names,
    published: p,
    received: q,
  };
  const lg = elems(logging)?.map(num);
  if (lg && lg.length === 4 && lg.every((x) => x !== undefined))
    out.logging = { bufferedRecords: lg[0]!, bufferedBytes: lg[1]!, dropped: lg[2]!, duplicates: lg[3]! };
  const tr = elems(traffic)?.map(num);
  if (tr && tr.length === 2 && tr.every((x) => x !== undefined)) {
    out.publishedBytes = tr[0]!;
    out.drops = tr[1]!;
  }
  const iv = num(interval);
  if (iv !== undefined) out.intervalMs = iv;
  const ts = elems(topics);
  if (ts) {
    out.topics = ts.slice(0, MAX_STATS_TOPICS).flatMap((t) => {
      const [topic, msgs, bytes] = elems(t) ?? [];
      const x = { topic: str(topic), messages: num(msgs), bytes: num(bytes) };
      return x.topic !== undefined && x.messages !== undefined && x.bytes !== undefined
        ? [{ topic: x.topic, messages: x.messages, bytes: x.bytes }]
        : [];
    });
  }
  const cs = elems(clients);
  if (cs) out.clients = cs.slice(0, MAX_STATS_CLIENTS).flatMap((c) => readClient(c) ?? []);
  const bb = readBackbone(backbone);
  if (bb) out.backbone = bb;
  return out;
}

/** The stats in a message on a stats topic, or undefined when it is not a `node_stats` event. */
export function nodeStatsOf(data: Data): NodeStats | undefined {
  if (!isZeekEvent(data)) return undefined;
  const ev = parseZeekMessage(data);
  return ev.kind === 'event' && ev.name === STATS_EVENT ? readNodeStats(ev.args) : undefined;
}

// ---- isobroker::log_tail

export const LOG_TAIL_EVENT = 'isobroker::log_tail';
export const LOG_TAIL_TOPIC_PREFIX = 'isobroker/logtail/';
export const logTailTopic = (path: string): string => `${LOG_TAIL_TOPIC_PREFIX}${path}`;

/** One written batch of a log, values formatted as in the log file. */
export interface LogBatch {
  readonly path: string;
  readonly fields: readonly string[];
  /** Zeek's type name of each field (`time`, `addr`, `count`, …); empty when the sender sent none. */
  readonly types: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The `log_tail` event of `b` (for `logTailTopic(b.path)`). */
export function logTailEvent(b: LogBatch): Data {
  const strs = (xs: readonly string[]): Data => vector(xs.map((x) => string(x)));
  return makeEvent(LOG_TAIL_EVENT, [string(b.path), strs(b.fields), vector(b.rows.map(strs)), strs(b.types)]);
}

const strings = (d: Data | undefined): string[] | undefined =>
  d?.type === 'vector' && d.elements.every((e) => e.type === 'string')
    ? d.elements.map((e) => (e as { value: string }).value)
    : undefined;

/** The batch in a log-tail message, or undefined when it is not a well-formed `log_tail` event. */
export function logBatchOf(data: Data): LogBatch | undefined {
  if (!isZeekEvent(data)) return undefined;
  const ev = parseZeekMessage(data);
  if (ev.kind !== 'event' || ev.name !== LOG_TAIL_EVENT) return undefined;
  const [path, fields, rows, types] = ev.args;
  const f = strings(fields);
  if (path?.type !== 'string' || !f || rows?.type !== 'vector') return undefined;
  const out: string[][] = [];
  for (const r of rows.elements) {
    const cells = strings(r);
    if (cells) out.push(cells);
  }
  const t = strings(types);
  return { path: path.value, fields: f, types: t && t.length === f.length ? t : [], rows: out };
}
