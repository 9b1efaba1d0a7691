/**
 * `isobroker node`: one cluster node of a layout (the launcher starts one per node). It listens on
 * its address, peers by Broker's rules, runs the hello handshake, writes logs when it is a logger,
 * hosts the manager's stores, publishes its stats for the dashboard, and with `--demo` generates
 * traffic.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BackedTable,
  ClusterNode,
  Endpoint,
  LogRouter,
  count,
  createClone,
  createMaster,
  loggersOf,
  makeEvent,
  nodeByName,
  parseLayout,
  string,
  vector,
  type ClusterLayout,
  type StoreClone,
  type StoreMaster,
  IsobrokerError,
  type StoreBackend,
} from '../src/index.js';
import { createFileLogWriter, listen, openSqliteBackend } from '../src/node/index.js';
import { UsageError, parse, untilSignal } from './args.js';
import { startDemo } from './demo.js';
import { tailingWriter } from './log-tail.js';

export const STATS_INTERVAL_MS = 500;
export const statsTopic = (name: string): string => `isobroker/stats/${name}`;
export const STATS_EVENT = 'isobroker::node_stats';

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

export function readLayout(file: string): ClusterLayout {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read layout ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseLayout(json);
}

export async function runNode(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    layout: { type: 'string' },
    name: { type: 'string' },
    dir: { type: 'string', default: '.cluster' },
    demo: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    format: { type: 'string', default: 'tsv' },
  });
  if (!v.layout || !v.name) throw new UsageError('node needs --layout FILE and --name NAME');
  if (v.format !== 'tsv' && v.format !== 'json')
    throw new UsageError(`--format must be tsv or json, got '${v.format}'`);
  const layout = readLayout(v.layout);
  const spec = nodeByName(layout, v.name);
  const dir = v.dir!;
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${spec.name}: ${line}\n`);

  const ep = new Endpoint({ name: spec.name, role: spec.role });
  ep.on('error', (e) => log(`error ${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}`));
  const node = new ClusterNode(ep, layout, spec.name);
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

  const listener = await listen(ep, { host: spec.host, port: spec.port });

  // Stats for the dashboard: counters and current peers, twice a second.
  const stats = setInterval(() => {
    const peers = ep
      .peers()
      .filter((p) => p.status === 'connected' && p.name)
      .map((p) => string(p.name!));
    const s = ep.stats();
    ep.publish(
      statsTopic(spec.name),
      makeEvent(STATS_EVENT, [
        string(spec.name),
        string(spec.role),
        string(ep.id),
        vector(peers),
        count(s.published),
        count(s.received),
      ]),
    );
  }, STATS_INTERVAL_MS);
  const demo = v.demo
    ? startDemo({ node, router, knownHosts: clones[0], services: tables[0], seed: Number(v.seed) })
    : undefined;

  process.stdout.write(`isobroker node ${spec.name} (${spec.role}) ready: ${listener.url}\n`);
  const sig = await untilSignal();
  log(`${sig}: stopping`);
  clearInterval(stats);
  demo?.stop();
  router.close();
  node.close();
  for (const t of tables) t.close();
  for (const c of clones) c.close();
  for (const m of masters) m.close();
  await writer?.close();
  await ep.close();
  await listener.close();
  return 0;
}
