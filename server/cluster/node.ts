/**
 * `isobroker node`: one cluster node of a layout (the launcher starts one per node). It listens on
 * its address, peers by Broker's rules, runs the hello handshake, writes logs when it is a logger,
 * hosts the manager's stores, publishes its stats for the dashboard, and with `--demo` generates
 * traffic.
 *
 * A node that cannot start (a store that cannot open, its port in use, a bad layout) closes what
 * it opened and exits 1 with the reason on stderr, before printing its ready line. Started by the
 * launcher (with an IPC channel), it stops when that channel closes: a launcher that dies, even
 * by SIGKILL, leaves no node behind holding its port.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BackedTable,
  ClusterNode,
  Endpoint,
  LogRouter,
  createClone,
  createMaster,
  loggersOf,
  nodeByName,
  parseLayout,
  type ClusterLayout,
  type StoreClone,
  type StoreMaster,
  IsobrokerError,
  type StoreBackend,
} from '../../src/index.js';
import {
  createFileLogWriter,
  createMetrics,
  listen,
  openSqliteBackend,
  serveMetrics,
  type Metrics,
  type MetricsServer,
} from '../../src/node/index.js';
import { FatalError, UsageError, parse, parseHostPort, untilSignal } from '../cli/args.js';
import { startDemo } from './demo.js';
import { PolicyFileError, openHubSecurity, policyErrorLines, type HubSecurity } from '../cli/hub-auth.js';
import { tailingWriter } from '../dashboard/log-tail.js';
import { startNodeStatus } from '../dashboard/node-status.js';
import {
  backboneFromLayout,
  describeBackbone,
  startBackbone,
  type BackboneConfig,
  type RunningBackbone,
} from '../cli/backbone.js';

export { STATS_EVENT, STATS_INTERVAL_MS, statsTopic } from '../dashboard/shapes.js';
/** A node whose launcher is gone stops within this (ms), even if a clean stop hangs. */
export const ORPHAN_EXIT_MS = 3000;

/**
 * Resolves when the launcher that started this node is gone (its IPC channel closed); never when
 * the node runs without one (started by hand). The channel does not keep the process alive.
 */
function untilLauncherGone(): Promise<string> {
  if (!process.channel) return new Promise(() => undefined);
  process.channel.unref();
  return new Promise((resolve) => {
    process.once('disconnect', () => {
      // Whatever happens next, the node does not outlive its launcher by more than ORPHAN_EXIT_MS.
      setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
      resolve('launcher gone');
    });
  });
}

/**
 * The manager's SQLite store at `path`, or undefined (a memory store) when better-sqlite3, an
 * optional peer dependency, is not installed.
 */
function sqliteStore(path: string, log: (line: string) => void): StoreBackend | undefined {
  try {
    return openSqliteBackend({ path, journalMode: 'WAL', synchronous: 'NORMAL' });
  } catch (e) {
    if (!(e instanceof IsobrokerError && e.code === 'missing_dependency')) throw e;
    log(`${e.message}; ${path} is kept in memory instead`);
    return undefined;
  }
}

/** How long a node waits for the launcher to answer a token request, ms. */
export const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

/** The IPC message a node sends to ask the launcher for a fresh token. */
export interface TokenRequest {
  readonly type: 'isobroker:token-request';
  readonly id: number;
}
/** The launcher's answer: a token, or why there is none (never logged). */
export interface TokenReply {
  readonly type: 'isobroker:token';
  readonly id: number;
  readonly token?: string;
  readonly error?: string;
}

/**
 * Where this node's token comes from: `--token-file` (read again at every request, so that an
 * operator can replace it) or the launcher over the IPC channel (`--token-from-launcher`).
 */
function nodeTokenSource(file: string | undefined, fromLauncher: boolean): (() => Promise<string>) | undefined {
  if (file !== undefined) {
    return async () => {
      const token = (await readFile(file, 'utf8')).trim();
      if (token === '') throw new Error(`--token-file ${file} is empty`);
      return token;
    };
  }
  if (!fromLauncher || !process.send) return undefined;
  let next = 0;
  const waiting = new Map<number, { ok: (t: string) => void; fail: (e: Error) => void }>();
  process.on('message', (m: TokenReply) => {
    if (m?.type !== 'isobroker:token') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (typeof m.token === 'string') w?.ok(m.token);
    else w?.fail(new Error(`the launcher gave no token: ${m.error ?? 'no reason'}`));
  });
  return () =>
    new Promise<string>((ok, fail) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        fail(new Error('the launcher did not answer a token request'));
      }, TOKEN_REQUEST_TIMEOUT_MS);
      timer.unref();
      waiting.set(id, {
        ok: (t) => {
          clearTimeout(timer);
          ok(t);
        },
        fail: (e) => {
          clearTimeout(timer);
          fail(e);
        },
      });
      const req: TokenRequest = { type: 'isobroker:token-request', id };
      process.send!(req, undefined, undefined, (err) => {
        if (!err) return;
        clearTimeout(timer);
        waiting.delete(id);
        fail(new Error('the launcher is gone'));
      });
    });
}

/** Reads a layout file: the layout, and its `backbone` key when it has one. */
export function readLayout(file: string): ClusterLayout & { readonly backbone?: BackboneConfig } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read layout ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const backbone = backboneFromLayout(json);
  return { ...parseLayout(json), ...(backbone ? { backbone } : {}) };
}

export async function runNode(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    layout: { type: 'string' },
    name: { type: 'string' },
    dir: { type: 'string', default: '.cluster' },
    demo: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    format: { type: 'string', default: 'tsv' },
    policy: { type: 'string' },
    'token-file': { type: 'string' },
    'token-from-launcher': { type: 'boolean', default: false },
    // Browser origins besides the node's own that may open WebSockets (the launcher's dashboard).
    'allow-origin': { type: 'string', multiple: true },
    // Serve GET /metrics on this HOST:PORT instead of the node's own port.
    metrics: { type: 'string' },
  });
  if (!v.layout || !v.name) throw new UsageError('node needs --layout FILE and --name NAME');
  if (v.format !== 'tsv' && v.format !== 'json')
    throw new UsageError(`--format must be tsv or json, got '${v.format}'`);
  const layout = readLayout(v.layout);
  const spec = nodeByName(layout, v.name);
  const dir = v.dir!;
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${spec.name}: ${line}\n`);

  const launcherGone = untilLauncherGone();
  // With a policy, this node authenticates whoever connects to it, and presents its own token
  // (from the launcher, or a file) to the nodes it dials.
  let security: HubSecurity;
  try {
    security = await openHubSecurity({ policy: v.policy }, log, log);
  } catch (err) {
    if (err instanceof PolicyFileError) throw new FatalError(policyErrorLines(err, v.policy!).join('\n'));
    throw err;
  }
  const getToken = nodeTokenSource(v['token-file'], v['token-from-launcher'] === true);
  if (v.policy !== undefined && getToken === undefined)
    log(
      `warning: --policy without a token for this node (--token-file, or --token-from-launcher under isobroker cluster): the nodes it dials will not accept it as ${spec.name}`,
    );
  const ep = new Endpoint({ name: spec.name, role: spec.role });
  ep.on('error', (e) => log(`error ${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}`));
  // With a backbone, the node joins it before the cluster node starts: membership then follows
  // backbone presence (no peerings). A NATS system that cannot be reached is said once and
  // retried; the node is ready once attached.
  let backbone: RunningBackbone | undefined;
  if (layout.backbone) {
    backbone = startBackbone(ep, layout.backbone, {
      name: `isobroker node ${spec.name}`,
      nodes: [{ name: spec.name, role: spec.role, id: ep.id }],
      log,
      warn: log,
    });
    const stopped = untilSignal();
    let why: string | undefined;
    try {
      why = await Promise.race([backbone.attached.then(() => undefined), launcherGone, stopped]);
    } catch (err) {
      why = `cannot join the backbone: ${err instanceof Error ? err.message : String(err)}`;
      await backbone.close();
      await ep.close();
      await security.close();
      throw new FatalError(`node ${spec.name} ${why}`);
    } finally {
      stopped.cancel();
    }
    if (why !== undefined) {
      log(`${why}: stopping before the backbone answered`);
      await backbone.close();
      await ep.close();
      await security.close();
      return why === 'launcher gone' ? 1 : 0;
    }
  }
  const node = new ClusterNode(ep, layout, spec.name, getToken ? { getToken } : undefined);
  node.on('nodeUp', ({ name }) => log(`node up: ${name}`));
  node.on('nodeDown', ({ name }) => log(`node down: ${name}`));
  node.on('duplicate', ({ name, id }) => log(`error: a second node calls itself '${name}' (${id})`));
  node.start();

  const isLogger = loggersOf(layout).some((n) => n.name === spec.name);
  let writer: ReturnType<typeof createFileLogWriter> | undefined;
  if (isLogger) {
    // One logger writes DIR/logs/<path>.log; several write a directory each.
    const logDir = loggersOf(layout).length > 1 ? join(dir, 'logs', spec.name) : join(dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    writer = createFileLogWriter({
      dir: logDir,
      format: v.format,
      onError: (e: Error) => log(`log writer: ${e.message}`),
    });
  }
  const router = new LogRouter(node, {
    ...(writer ? { writer: tailingWriter(writer, ep) } : {}),
    onError: (e) => log(`logging: ${e.message}`),
  });

  const masters: StoreMaster[] = [];
  const clones: StoreClone[] = [];
  const tables: BackedTable[] = [];
  let metrics: Metrics | undefined;
  let metricsServer: MetricsServer | undefined;
  const closeAll = async (): Promise<void> => {
    router.close();
    node.close();
    for (const t of tables) t.close();
    for (const c of clones) c.close();
    for (const m of masters) m.close();
    await writer?.close().catch(() => undefined);
    metrics?.close();
    await metricsServer?.close();
    // A bye on the backbone, then the NATS connection closes.
    await backbone?.close();
    await ep.close();
    await security.close();
  };
  let listener: Awaited<ReturnType<typeof listen>>;
  try {
    listener = await startServices();
  } catch (err) {
    // Not started: close what is open and exit 1 with the reason (the launcher shows it).
    await closeAll().catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new FatalError(`node ${spec.name} cannot start: ${reason}`);
  }

  async function startServices(): Promise<Awaited<ReturnType<typeof listen>>> {
    if (spec.role === 'manager') {
      mkdirSync(join(dir, 'stores'), { recursive: true });
      const servicesBackend = sqliteStore(join(dir, 'stores', 'known_services.sqlite'), log);
      tables.push(
        await BackedTable.open(ep, 'known_services', {
          master: true,
          ...(servicesBackend ? { backend: servicesBackend } : {}),
        }),
      );
      const hostsBackend = sqliteStore(join(dir, 'stores', 'known_hosts.sqlite'), log);
      masters.push(
        await createMaster(ep, 'known_hosts', {
          ...(hostsBackend ? { backend: hostsBackend } : {}),
          onError: (e) => log(`store known_hosts: ${e.message}`),
        }),
      );
    } else if (spec.role === 'worker') {
      clones.push(await createClone(ep, 'known_hosts'));
      tables.push(await BackedTable.open(ep, 'known_services'));
    }
    // Prometheus metrics (GET /metrics): on the node's own port, or on --metrics.
    const authenticate = security.listen.auth?.authenticate;
    const m = createMetrics({
      endpoint: ep,
      stores: [...masters, ...clones, ...tables.map((t) => t.store)],
      logRouter: router,
      cluster: node,
      ...(authenticate ? { auth: { authenticate } } : {}),
    });
    metrics = m;
    const l = await listen(ep, {
      host: spec.host,
      port: spec.port,
      allowedOrigins: v['allow-origin'] ?? [],
      ...(v.metrics === undefined ? { http: m.handler } : {}),
      ...security.listen,
    });
    m.observeListener(l.server);
    security.attach(ep, l);
    if (v.metrics !== undefined)
      metricsServer = await serveMetrics(m.handler, {
        ...parseHostPort(v.metrics, '--metrics'),
        authenticated: authenticate !== undefined,
      });
    return l;
  }

  // Stats for the dashboard: counters, peers, busiest topics and connections, twice a second.
  const stopStatus = startNodeStatus(ep, spec.name, spec.role, router);
  const demo = v.demo
    ? startDemo({ node, router, knownHosts: clones[0], services: tables[0], seed: Number(v.seed) })
    : undefined;

  const bb = layout.backbone ? `; ${describeBackbone(layout.backbone)}: connected to ${backbone?.server() ?? '?'}` : '';
  process.stdout.write(`isobroker node ${spec.name} (${spec.role}) ready: ${listener.url}${bb}\n`);
  const signal = untilSignal();
  const sig = await Promise.race([signal, launcherGone]);
  signal.cancel();
  log(`${sig}: stopping`);
  stopStatus();
  demo?.stop();
  await closeAll();
  await listener.close();
  return sig === 'launcher gone' ? 1 : 0;
}
