/**
 * The NATS backbone of the hub and of cluster nodes: the `--backbone*` flags and the layout's
 * `backbone` key, checked before anything starts (a bad URL is a usage error, exit 2), and the
 * connection itself — `connectNats` then `attachBackbone`. A NATS system that cannot be reached
 * does not stop the program: it says so once on stderr and keeps trying in the background; the
 * backbone is attached as soon as a server answers. Stopping closes the NATS connection after the
 * endpoint said bye on the backbone.
 */
import type { Endpoint } from '../../src/index.js';
import { attachBackbone, connectNats, type NatsClient } from '../../src/node/index.js';
import type { BackboneLink } from '../../src/endpoint/backbone-link.js';
import type { PresenceNode } from '../../src/backbone/control.js';
import { MAX_NAMESPACE_TOKEN_LENGTH } from '../../src/backbone/subjects.js';
import { UsageError, expected } from './args.js';

/** The separators a topic may be split on into NATS subject tokens. */
export type BackboneSeparator = '/' | '.';

/** A backbone as the flags or the layout give it. */
export interface BackboneConfig {
  /** NATS server URLs (`nats://host:port`), tried in order. */
  readonly servers: readonly string[];
  /** The cluster namespace in every subject. @default `isobroker` */
  readonly namespace?: string;
  /** The topic separator. @default '/' */
  readonly separator?: BackboneSeparator;
}

const URL_WHAT = 'NATS server URLs, comma-separated (nats://host:port,nats://host:port)';

/**
 * Whether `text` is one NATS server URL: `nats://`, a host, an optional port 1–65535, nothing after.
 * (nats.js ignores a URL's scheme — TLS is its `tls` option — so `tls://` is refused, not misread.)
 */
function isNatsUrl(text: string): boolean {
  const m = /^(nats):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(text);
  if (!m) return false;
  return m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535);
}

/** `nats://a:4222,nats://b:4222` as a list; a usage error naming `flag` when an entry is not a NATS URL. */
export function parseBackboneServers(value: string, flag = '--backbone'): string[] {
  const list = value.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((s) => !isNatsUrl(s))) expected(flag, URL_WHAT, value);
  return list;
}

/** A namespace: 1 to 255 characters without whitespace (escaped into one subject token). */
export function checkBackboneNamespace(value: string, flag: string): void {
  if (value === '' || value.length > MAX_NAMESPACE_TOKEN_LENGTH || /\s/.test(value))
    expected(flag, `a namespace (1 to ${MAX_NAMESPACE_TOKEN_LENGTH} characters, no spaces)`, value);
}

/** The `--backbone`, `--backbone-namespace` and `--backbone-separator` option specs (hub and cluster). */
export const BACKBONE_OPTIONS = {
  backbone: {
    type: 'string',
    arg: 'URLS',
    help: 'join the NATS backbone through these servers (nats://host:port, comma-separated): reach every hub and node attached to the same NATS system and namespace without peering; an unreachable NATS system is retried in the background',
    check: (value: string, flag: string): void => void parseBackboneServers(value, flag),
  },
  'backbone-namespace': {
    type: 'string',
    arg: 'NS',
    defaultText: 'isobroker',
    help: 'the cluster namespace on the backbone (endpoints in other namespaces are apart)',
    check: checkBackboneNamespace,
  },
  'backbone-separator': {
    type: 'string',
    arg: '/|.',
    default: '/',
    help: 'the topic separator mapped to NATS subject tokens',
    check: (value: string, flag: string): void => {
      if (value !== '/' && value !== '.') expected(flag, '/ or .', value);
    },
  },
} as const;

/** The flags' backbone, or undefined without `--backbone`; namespace and separator need it. */
export function backboneFromFlags(v: {
  readonly backbone: string | undefined;
  readonly 'backbone-namespace': string | undefined;
  readonly 'backbone-separator': string;
}): BackboneConfig | undefined {
  if (v.backbone === undefined) {
    if (v['backbone-namespace'] !== undefined) throw new UsageError('--backbone-namespace needs --backbone');
    if (v['backbone-separator'] !== '/') throw new UsageError('--backbone-separator needs --backbone');
    return undefined;
  }
  return {
    servers: parseBackboneServers(v.backbone),
    ...(v['backbone-namespace'] !== undefined ? { namespace: v['backbone-namespace'] } : {}),
    separator: v['backbone-separator'] as BackboneSeparator,
  };
}

/**
 * The `backbone` key of a layout file (`{ "servers": ["nats://…"], "namespace"?, "separator"? }`),
 * undefined when absent; throws a UsageError naming the problem.
 */
export function backboneFromLayout(json: unknown): BackboneConfig | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const b = (json as Record<string, unknown>).backbone;
  if (b === undefined) return undefined;
  const fail = (what: string): never => {
    throw new UsageError(`invalid cluster layout: backbone: ${what}`);
  };
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    fail('expected an object {"servers": ["nats://host:port", …], "namespace"?, "separator"?}');
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'servers' && k !== 'namespace' && k !== 'separator')
      fail(`unknown key ${JSON.stringify(k)} (keys: servers, namespace, separator)`);
  const servers = o.servers;
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== 'string' || !isNatsUrl(s)))
    fail(`servers: expected a non-empty array of NATS server URLs (nats://host:port), got ${JSON.stringify(servers)}`);
  const ns = o.namespace;
  if (
    ns !== undefined &&
    (typeof ns !== 'string' || ns === '' || ns.length > MAX_NAMESPACE_TOKEN_LENGTH || /\s/.test(ns))
  )
    fail(`namespace: expected 1 to ${MAX_NAMESPACE_TOKEN_LENGTH} characters without spaces, got ${JSON.stringify(ns)}`);
  const sep = o.separator;
  if (sep !== undefined && sep !== '/' && sep !== '.')
    fail(`separator: expected "/" or ".", got ${JSON.stringify(sep)}`);
  return {
    servers: servers as string[],
    ...(ns !== undefined ? { namespace: ns as string } : {}),
    ...(sep !== undefined ? { separator: sep as BackboneSeparator } : {}),
  };
}

/** A layout's backbone with the flags' one taking its place when given. */
export function withBackbone<T extends object>(layout: T, backbone: BackboneConfig | undefined): T {
  return backbone === undefined ? layout : { ...layout, backbone };
}

/** One line describing a backbone, for ready lines: `backbone nats://a,nats://b (namespace ns)`. */
export function describeBackbone(b: BackboneConfig): string {
  const extra = [
    ...(b.namespace !== undefined ? [`namespace ${b.namespace}`] : []),
    ...(b.separator === '.' ? ['separator .'] : []),
  ];
  return `backbone ${b.servers.join(',')}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

/** Wait between two attempts to reach a NATS system that did not answer, ms. */
export const BACKBONE_RETRY_MS = 1000;

/** What `startBackbone` returns. */
export interface RunningBackbone {
  /** Resolves once the first connection attempt answered or failed (the caller's ready line may wait for it). */
  readonly firstAttempt: Promise<void>;
  /** Resolves with the link once attached; never when `close` comes first; rejects when attaching cannot work (no `nats` package, the endpoint refuses). */
  readonly attached: Promise<BackboneLink>;
  /** The link, once attached. */
  link(): BackboneLink | undefined;
  /** The NATS server connected to, once connected. */
  server(): string | undefined;
  /** Stops trying; detaches the backbone (a bye) and closes the NATS connection. */
  close(): Promise<void>;
}

/** Options of `startBackbone`. */
export interface StartBackboneOptions {
  /** The NATS connection's name (servers' monitoring). */
  readonly name: string;
  /** The cluster nodes the endpoint hosts (a cluster node: itself). */
  readonly nodes?: readonly PresenceNode[];
  /** Status lines (state changes). */
  readonly log: (line: string) => void;
  /** Warnings, printed even when quiet (an unreachable NATS system, once). */
  readonly warn: (line: string) => void;
}

const sleep = (ms: number, cancel: { wake?: () => void }): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    cancel.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Connects `endpoint` to the backbone `config`: `connectNats` (no echo, endless reconnects) and
 * `attachBackbone`. When no server answers, says so once through `warn` and tries again every
 * `BACKBONE_RETRY_MS` until it connects or `close` is called. A missing `nats` package rejects
 * `firstAttempt` (nothing else would fix it).
 */
export function startBackbone(endpoint: Endpoint, config: BackboneConfig, o: StartBackboneOptions): RunningBackbone {
  let nc: NatsClient | undefined;
  let link: BackboneLink | undefined;
  let stopped = false;
  const cancel: { wake?: () => void } = {};
  let firstDone: () => void = () => undefined;
  let firstFail: (e: unknown) => void = () => undefined;
  const firstAttempt = new Promise<void>((ok, fail) => {
    firstDone = ok;
    firstFail = fail;
  });
  let attachedOk: (l: BackboneLink) => void = () => undefined;
  let attachedFail: (e: unknown) => void = () => undefined;
  const attached = new Promise<BackboneLink>((ok, fail) => {
    attachedOk = ok;
    attachedFail = fail;
  });
  attached.catch(() => undefined);
  const attach = (conn: NatsClient): void => {
    nc = conn;
    link = attachBackbone(endpoint, conn, {
      ...(config.namespace !== undefined ? { namespace: config.namespace } : {}),
      ...(config.separator !== undefined ? { separator: config.separator } : {}),
      ...(o.nodes ? { nodes: o.nodes } : {}),
    });
    const say = (state: string): void =>
      o.log(`backbone ${state}${state === 'connected' ? ` to ${conn.getServer()}` : ''}`);
    // The first state may be told while attaching, before anyone listens.
    if (link.state !== 'connecting') say(link.state);
    link.on('state', say);
    link.presence.on('endpointUp', (ev) => o.log(`backbone: endpoint ${ev.name} (${ev.id}) up`));
    link.presence.on('endpointDown', (ev) => o.log(`backbone: endpoint ${ev.name} (${ev.id}) down (${ev.reason})`));
    attachedOk(link);
  };
  const loop = async (): Promise<void> => {
    let warned = false;
    for (let attempt = 1; !stopped; attempt++) {
      let conn: NatsClient;
      try {
        conn = await connectNats(config.servers, { name: o.name });
      } catch (e) {
        if ((e as { code?: string }).code === 'missing_dependency') {
          firstFail(e);
          attachedFail(e);
          return;
        }
        if (!warned) {
          warned = true;
          o.warn(
            `backbone: cannot reach ${config.servers.join(',')} (${messageOf(e)}); running without the backbone and retrying every ${BACKBONE_RETRY_MS / 1000} s`,
          );
        }
        firstDone();
        await sleep(BACKBONE_RETRY_MS, cancel);
        continue;
      }
      if (stopped || endpoint.isClosed) {
        await conn.close().catch(() => undefined);
        return;
      }
      try {
        attach(conn);
      } catch (e) {
        // Not a NATS problem (the endpoint has a backbone already, bad options): retrying cannot help.
        await conn.close().catch(() => undefined);
        o.warn(`backbone: cannot attach: ${messageOf(e)}`);
        firstFail(e);
        attachedFail(e);
        return;
      }
      if (warned) o.warn(`backbone: connected to ${conn.getServer()} after ${attempt} attempts`);
      firstDone();
      return;
    }
  };
  void loop();
  return {
    firstAttempt,
    attached,
    link: () => link,
    server: () => (nc && !nc.isClosed() ? nc.getServer() : undefined),
    async close() {
      stopped = true;
      cancel.wake?.();
      await endpoint.detachBackbone().catch(() => undefined);
      const conn = nc;
      if (conn && !conn.isClosed()) {
        // What the bye and the last batches need is flushed; a NATS system that is gone cannot hold us.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          conn.drain().catch(() => undefined),
          new Promise((r) => {
            timer = setTimeout(r, 2000);
          }),
        ]);
        clearTimeout(timer);
        if (!conn.isClosed()) await conn.close().catch(() => undefined);
      }
      // An attempt still in flight closes the connection it gets (see the loop).
    },
  };
}
