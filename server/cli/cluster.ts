/**
 * `isobroker cluster`: starts every node of a layout on this machine as a child process (like
 * zeekctl deploy), prints status lines as nodes come up, restarts a node that crashes, serves the
 * dashboard and `/cluster.json` over HTTP on 127.0.0.1, and stops everything cleanly on Ctrl-C.
 *
 * Supervision: a node that exits after coming up restarts after `RESTART_DELAY_MS`; one that exits
 * without coming up (a store that cannot open, a port in use, …) is `failed`: the launcher prints
 * its reason once (again only when the reason changes) and retries with a doubling delay capped at
 * `MAX_RESTART_DELAY_MS` — never a hot loop, and the rest of the cluster keeps running. Each
 * node's state and last error are in `/cluster.json` for the dashboard. Every node is started
 * with an IPC channel to the launcher; when the launcher dies, however it dies, the channel
 * closes and the nodes stop on their own (no orphan keeps its port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLayout, nodeUrl, parseLayout, type ClusterLayout, type NodeSpec } from '../../src/index.js';
import {
  EXIT,
  FatalError,
  UsageError,
  checkHostPort,
  checkNonEmpty,
  checkOneOf,
  defineCommand,
  parseHostPort,
  parseOrMeta,
  readOptionFile,
  untilSignal,
} from './args.js';

import {
  BACKBONE_OPTIONS,
  backboneFromFlags,
  backboneFromLayout,
  describeBackbone,
  withBackbone,
  type BackboneConfig,
} from './backbone.js';
import { PolicyFileError, demoClusterAuth, policyClusterAuth, type ClusterAuth } from '../cluster/auth.js';
import { startDashboardServer, type NodeStatus } from '../dashboard/server.js';
import type { TokenReply, TokenRequest } from '../cluster/node.js';

type ClusterValues = NonNullable<ReturnType<typeof parseOrMeta<typeof CLUSTER_COMMAND.options>>>;

const BIN = fileURLToPath(new URL('../../../bin/isobroker.js', import.meta.url));
/** Delay before restarting a node that exited after coming up, and the first retry of a failed one. */
export const RESTART_DELAY_MS = 1000;
/** The longest delay between two starts of a node that keeps failing. */
export const MAX_RESTART_DELAY_MS = 30_000;

/** Delay before the next start of a node that exited `failedStarts` times in a row without coming up. */
export function restartDelay(failedStarts: number): number {
  if (failedStarts <= 0) return RESTART_DELAY_MS;
  return Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** Math.min(failedStarts - 1, 20));
}

export const CLUSTER_COMMAND = defineCommand({
  name: 'cluster',
  synopsis:
    '[--layout FILE] [--dir DIR] [--demo] [--http HOST:PORT] [--format tsv|json] [--policy FILE --key-file FILE [--kid KID]] [--backbone URLS [--backbone-namespace NS] [--backbone-separator /|.]]',
  description: `
Starts every node of a layout on this machine as a child process (like zeekctl deploy), prints a
status line as each comes up, restarts a node that crashes, serves the dashboard, and stops
everything on SIGINT/SIGTERM. Every option and the layout are checked before anything starts.
A node that exits without coming up is shown as failed (its reason printed once) and retried with
a doubling delay up to ${MAX_RESTART_DELAY_MS / 1000} s. Nodes stop on their own if the launcher dies.

Auth: with --policy every node enforces that policy, and the launcher mints each node a token
(its role, node claim = its name) and the dashboard page short-lived ones (role dashboard),
signing with --key-file. --demo without --policy runs with auth on too: a fresh secret and a
demo policy are made at start in a private temporary directory, removed when the launcher stops.

Backbone: --backbone (or the layout's "backbone": {"servers": [...], "namespace"}) makes every
node join the NATS backbone instead of peering: nodes are up while backbone presence lists them.`,
  options: {
    layout: {
      type: 'string',
      arg: 'FILE',
      defaultText: 'manager, logger-1, proxy-1/2, worker-1/2 on 127.0.0.1:27760–27765',
      help: 'layout JSON {"nodes":[{"name","role","host","port"}…]}',
      check: (file, flag) => void loadLayout(file, flag),
    },
    dir: {
      type: 'string',
      arg: 'DIR',
      default: '.cluster',
      help: 'directory for logs/ and stores/',
      check: checkNonEmpty,
    },
    demo: { type: 'boolean', help: 'generate demo traffic' },
    http: {
      type: 'string',
      arg: 'HOST:PORT',
      default: '127.0.0.1:8080',
      help: 'address of the dashboard',
      check: checkHostPort,
    },
    format: {
      type: 'string',
      arg: 'tsv|json',
      default: 'tsv',
      help: 'log file format',
      check: checkOneOf('tsv', 'json'),
    },
    policy: {
      type: 'string',
      arg: 'FILE',
      defaultText: 'none; with --demo a generated demo policy',
      help: 'the policy file every node enforces (see isobroker hub --help); needs --key-file',
      check: checkNonEmpty,
    },
    'key-file': {
      type: 'string',
      arg: 'FILE',
      help: "the key the launcher signs the nodes' and the dashboard's tokens with (as for isobroker token)",
      check: checkNonEmpty,
    },
    'allow-origin': {
      type: 'string',
      arg: 'ORIGIN',
      multiple: true,
      defaultText: "the dashboard's own origin",
      help: 'another browser Origin whose pages may connect to the nodes, e.g. http://localhost:5173 for npm run dev',
      check: checkNonEmpty,
    },
    kid: {
      type: 'string',
      arg: 'KID',
      defaultText: "the key file's kid",
      help: 'the policy key id of --key-file',
      check: checkNonEmpty,
    },
    ...BACKBONE_OPTIONS,
  },
  validate: (v) => {
    if (v.policy !== undefined && v['key-file'] === undefined)
      throw new UsageError("--policy needs --key-file (the launcher mints the nodes' tokens)");
    if (v.policy === undefined && v['key-file'] !== undefined) throw new UsageError('--key-file needs --policy');
    if (v.kid !== undefined && v['key-file'] === undefined) throw new UsageError('--kid needs --key-file');
    backboneFromFlags(v);
  },
});

/** The origins of the dashboard's pages at `host:port` (for a loopback address also `localhost`). */
export function dashboardOrigins(host: string, port: number): string[] {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  if (h === '[::1]') return [`http://[::1]:${port}`, `http://localhost:${port}`];
  if (h === '127.0.0.1' || h === 'localhost') return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  return [`http://${h}:${port}`];
}

/** Reads and checks a layout file (its `backbone` key too); every problem is a usage error naming the flag. */
export function loadLayout(file: string, flag = '--layout'): ClusterLayout & { readonly backbone?: BackboneConfig } {
  const text = readOptionFile(file, flag);
  try {
    const json: unknown = JSON.parse(text);
    const backbone = backboneFromLayout(json);
    return { ...parseLayout(json), ...(backbone ? { backbone } : {}) };
  } catch (err) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(file)} is not a valid layout: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Fails with a message naming the node when one of the layout's addresses is taken. */
export async function checkPortsFree(layout: ClusterLayout): Promise<void> {
  for (const n of layout.nodes) {
    await new Promise<void>((ok, fail) => {
      const srv = createNetServer();
      srv.once('error', (err: NodeJS.ErrnoException) =>
        fail(
          new FatalError(
            `node '${n.name}' cannot listen on ${n.host}:${n.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
          ),
        ),
      );
      srv.listen(n.port, n.host, () => srv.close(() => ok()));
    });
  }
}

interface Child {
  readonly spec: NodeSpec;
  proc?: ChildProcess;
  state: NodeStatus['state'];
  restarts: number;
  /** Exits in a row without coming up. */
  failedStarts: number;
  /** The node's last line on stderr (why it exited, usually). */
  lastError?: string;
  /** The reason last printed for a failed start (printed again only when it changes). */
  reported?: string;
  nextStartAt?: number;
  /** When it last printed its ready line (ms since the epoch). */
  upSince?: number;
  timer?: ReturnType<typeof setTimeout>;
}

export async function runCluster(argv: readonly string[]): Promise<number> {
  // Everything is checked before anything starts: no node, no directory, no port.
  const v = parseOrMeta(CLUSTER_COMMAND, argv);
  if (!v) return EXIT.ok;
  // --backbone takes the place of the layout's backbone key.
  const layout = withBackbone<ClusterLayout & { readonly backbone?: BackboneConfig }>(
    v.layout ? loadLayout(v.layout) : defaultLayout(),
    backboneFromFlags(v),
  );
  if (!layout.nodes.some((n) => n.role === 'manager')) throw new UsageError('--layout: the layout has no manager node');
  const dir = resolve(v.dir);
  const { host: httpHost, port: httpPort } = parseHostPort(v.http, '--http');
  await checkPortsFree(layout);

  const say = (line: string): void => void process.stdout.write(`[cluster] ${line}\n`);
  const warn = (line: string): void => void process.stderr.write(`isobroker cluster: ${line}\n`);
  // The policy is checked before anything starts; the demo makes its own (auth on by default).
  let auth: ClusterAuth | undefined;
  try {
    auth =
      v.policy !== undefined
        ? await policyClusterAuth(v.policy, v['key-file']!, v.kid, layout, warn)
        : v.demo
          ? await demoClusterAuth()
          : undefined;
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    warn(`--policy ${v.policy}: invalid policy (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):`);
    for (const e of err.errors) warn(`  ${e}`);
    return EXIT.failure;
  }
  try {
    return await supervise(v, layout, dir, httpHost, httpPort, auth, say);
  } finally {
    auth?.dispose();
  }
}

async function supervise(
  v: ClusterValues,
  layout: ClusterLayout & { readonly backbone?: BackboneConfig },
  dir: string,
  httpHost: string,
  httpPort: number,
  auth: ClusterAuth | undefined,
  say: (line: string) => void,
): Promise<number> {
  const manager = layout.nodes.find((n) => n.role === 'manager')!;
  const children: Child[] = layout.nodes.map((spec) => ({ spec, state: 'starting', restarts: 0, failedStarts: 0 }));
  const status = (): NodeStatus[] =>
    children.map((c) => ({
      name: c.spec.name,
      state: c.state,
      ...(c.proc?.pid !== undefined ? { pid: c.proc.pid } : {}),
      restarts: c.restarts,
      failedStarts: c.failedStarts,
      ...(c.lastError !== undefined ? { lastError: c.lastError } : {}),
      ...(c.nextStartAt !== undefined ? { nextStartAt: c.nextStartAt } : {}),
      ...(c.state === 'up' && c.upSince !== undefined ? { upSince: c.upSince } : {}),
    }));
  let dashboard: Awaited<ReturnType<typeof startDashboardServer>>;
  try {
    dashboard = await startDashboardServer({
      host: httpHost,
      port: httpPort,
      cluster: { layout, peer: nodeUrl(manager), stores: ['known_hosts'], logPaths: ['conn'] },
      status,
      ...(auth ? { token: () => auth.mintDashboard() } : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FatalError(
      `--http ${v.http}: cannot listen: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`,
    );
  }
  const layoutFile = join(dir, 'layout.json');
  try {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'stores'), { recursive: true });
    writeFileSync(layoutFile, JSON.stringify(layout, null, 2));
  } catch (err) {
    await dashboard.close();
    throw new FatalError(`--dir ${v.dir}: ${(err as Error).message}`);
  }

  let stopping = false;
  const start = (c: Child): void => {
    c.timer = undefined;
    c.nextStartAt = undefined;
    if (c.state !== 'failed') c.state = 'starting';
    const args = [BIN, 'node', '--layout', layoutFile, '--name', c.spec.name, '--dir', dir, '--format', v.format];
    if (v.demo) args.push('--demo', '--seed', String(children.indexOf(c) + 1));
    if (auth) args.push('--policy', auth.policyFile, '--token-from-launcher');
    // The dashboard is served from its own port: a different origin, which the nodes must allow.
    for (const o of [...dashboardOrigins(httpHost, dashboard.port), ...v['allow-origin']])
      args.push('--allow-origin', o);
    const outFile = join(dir, 'logs', `${c.spec.name}.out`);
    const out = createWriteStream(outFile, { flags: 'a' });
    out.on('error', () => undefined);
    // The IPC channel is the node's lifeline: when the launcher dies it closes, and the node stops.
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    c.proc = proc;
    proc.on('error', (err) => {
      c.lastError = `cannot start: ${err.message}`;
    });
    // The node asks for its token over the IPC channel, at its first dial and before it expires.
    proc.on('message', (m: TokenRequest) => {
      if (m?.type !== 'isobroker:token-request' || !auth || typeof m.id !== 'number') return;
      auth
        .mintNode(c.spec)
        .then(
          (token): TokenReply => ({ type: 'isobroker:token', id: m.id, token }),
          (err: unknown): TokenReply => ({
            type: 'isobroker:token',
            id: m.id,
            error: err instanceof Error ? err.message : 'failed',
          }),
        )
        .then((reply) => {
          if (proc.connected) proc.send(reply, (err) => void err);
        });
    });
    proc.stderr!.pipe(out);
    let errBuf = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      errBuf = (errBuf + chunk.toString()).slice(-4096);
      const lines = errBuf.split('\n').filter((l) => l.trim() !== '');
      if (lines.length) c.lastError = lines[lines.length - 1]!.trim();
    });
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      if (c.state === 'up') return;
      buf = (buf + chunk.toString()).slice(-4096);
      if (buf.includes(' ready: ')) {
        const recovered = c.failedStarts > 0;
        c.state = 'up';
        c.upSince = Date.now();
        c.failedStarts = 0;
        c.reported = undefined;
        say(
          `${c.spec.name} (${c.spec.role}) up at ${nodeUrl(c.spec)}, pid ${proc.pid}${recovered ? ' (recovered)' : ''}`,
        );
        if (children.every((x) => x.state === 'up')) say(`all ${children.length} nodes up; dashboard ${dashboard.url}`);
      }
    });
    proc.on('exit', (code, signal) => {
      const wasUp = c.state === 'up';
      c.proc = undefined;
      c.upSince = undefined;
      out.end();
      if (stopping) {
        c.state = 'stopped';
        return;
      }
      c.restarts++;
      const why = `${signal ?? `code ${code}`}${c.lastError ? `: ${c.lastError}` : ''}`;
      if (wasUp) {
        c.state = 'restarting';
        c.failedStarts = 0;
        c.nextStartAt = Date.now() + RESTART_DELAY_MS;
        say(`${c.spec.name} exited (${why}); restarting in ${RESTART_DELAY_MS / 1000} s (see ${outFile})`);
      } else {
        c.failedStarts++;
        c.state = 'failed';
        const delay = restartDelay(c.failedStarts);
        c.nextStartAt = Date.now() + delay;
        // The reason once; a node failing the same way again is not news (the dashboard shows it).
        const reason = c.lastError ?? `code ${code}`;
        if (reason !== c.reported) {
          c.reported = reason;
          say(
            `${c.spec.name} failed to start (${why}); retrying with backoff up to ${MAX_RESTART_DELAY_MS / 1000} s (see ${outFile})`,
          );
        }
      }
      c.timer = setTimeout(() => {
        if (!stopping) start(c);
      }, c.nextStartAt - Date.now());
    });
  };

  say(
    `starting ${children.length} nodes in ${dir}${existsSync(join(dir, 'stores', 'known_hosts.sqlite')) ? ' (stores from a previous run)' : ''}`,
  );
  if (auth)
    say(
      auth.generated
        ? 'auth on: a fresh demo secret and policy (removed at exit); every node and the dashboard hold tokens'
        : `auth on: policy ${v.policy}; every node and the dashboard hold tokens`,
    );
  if (layout.backbone) say(`nodes join the ${describeBackbone(layout.backbone)} (no peerings between them)`);
  for (const c of children) start(c);
  say(`dashboard ${dashboard.url}`);

  const sig = await untilSignal();
  stopping = true;
  say(`${sig}: stopping all nodes`);
  for (const c of children) if (c.timer !== undefined) clearTimeout(c.timer);
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          const p = c.proc;
          c.state = 'stopped';
          if (!p || p.exitCode !== null) return done();
          const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
          p.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          p.kill('SIGTERM');
        }),
    ),
  );
  await dashboard.close();
  say('stopped');
  return EXIT.ok;
}
