/**
 * A real three-server NATS cluster for the backbone's tests: Debian's `nats-server` (2.9) on the
 * loopback aliases 127.0.0.11, .12 and .13 (Linux routes all of 127/8 to `lo`, no setup needed),
 * each with a client port and a cluster (routes) port, routes to the other two, JetStream on with
 * its store in a fresh temporary directory, a short ping interval, no monitoring, no auth.
 *
 * Started and stopped by PID; every wait is bounded. `describeNats` runs a suite only where
 * `nats-server` exists, and fails it (never skips it) on CI, which installs the server (`.ci/run`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect, type NatsConnection, type StreamInfo } from 'nats';
import { describe, it } from 'vitest';

/** The loopback addresses the three servers listen on. */
export const NATS_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'] as const;

/** Where `nats-server` is: on PATH, else Debian's /usr/sbin; undefined when absent. */
export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const file = join(dir, 'nats-server');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The `nats-server` binary, found once. */
export const NATS_SERVER = findNatsServer();

const MISSING = 'nats-server not found on PATH or in /usr/sbin (Debian: apt-get install nats-server)';

/**
 * `describe` for suites that need a real NATS cluster: skipped with a clear message when
 * `nats-server` is absent, except on CI (`CI` set), where its absence fails the suite.
 */
export function describeNats(name: string, fn: () => void): void {
  if (NATS_SERVER !== undefined) {
    describe(name, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs nats-server', () => {
        throw new Error(`${MISSING}; CI must install it (.ci/run)`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${MISSING}]`, fn);
  }
}

/** One server of the cluster. */
export interface NatsServerHandle {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `nats://host:port`, the client URL. */
  readonly url: string;
  /** The running process's PID (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends `signal` (default SIGKILL); for a terminating signal, resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again (same name, ports and store), once it is stopped; waits until it routes. */
  restart(): Promise<void>;
  /** The tail of its log (stderr), for failure messages. */
  log(): string;
}

/** A running three-server cluster. */
export interface NatsCluster {
  /** The client URLs, in server order. */
  readonly urls: readonly string[];
  readonly servers: readonly NatsServerHandle[];
  /** The temporary directory holding the configs and JetStream stores. */
  readonly dir: string;
  /** Stops every server by PID (SIGTERM, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

/** Options of `startNatsCluster`. */
export interface NatsClusterOptions {
  /** Client ping interval of the servers, seconds (default 1). */
  readonly pingInterval?: number;
  /** Unanswered pings before a server closes a connection (default 2). */
  readonly pingMax?: number;
  /** How long to wait for the cluster to form, ms (default 30 000). */
  readonly readyTimeout?: number;
}

/** Every process this module started, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) if (p.pid !== undefined && p.exitCode === null) p.kill('SIGKILL');
  });
}

/** A port that was free on `host` a moment ago (bound to port 0 there, then closed). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An error `until` does not retry. */
export class FatalError extends Error {}

/**
 * Retries `fn` every `every` ms until it resolves, for at most `ms`; rejects with the last error
 * (at once for a `FatalError`).
 */
export async function until<T>(what: string, ms: number, fn: () => Promise<T>, every = 200): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof FatalError) throw e;
      last = e;
    }
    if (Date.now() >= end) {
      throw new Error(`${what}: not within ${ms} ms (last error: ${(last as Error)?.message ?? last})`, {
        cause: last,
      });
    }
    await sleep(every);
  }
}

/** A stream's info (undefined: no such stream), asked again while JetStream does not answer. */
export function streamInfo(nc: NatsConnection, stream: string): Promise<StreamInfo | undefined> {
  return until(`info of stream ${stream}`, 20_000, async () => {
    const jsm = await nc.jetstreamManager({ timeout: 2000 });
    try {
      return await jsm.streams.info(stream);
    } catch (e) {
      if ((e as Error).message === 'stream not found') return undefined;
      throw e;
    }
  });
}

/** A connection to exactly one server (no reconnects, no cluster gossip), for probes. */
function probeConnect(url: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    maxReconnectAttempts: 0,
    ignoreClusterUpdates: true,
    timeout: 2000,
    name: 'nats-cluster probe',
  });
}

interface ServerSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly config: string;
}

class Server implements NatsServerHandle {
  proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly output: string[] = [];

  constructor(
    private readonly bin: string,
    readonly spec: ServerSpec,
  ) {}

  get name() {
    return this.spec.name;
  }
  get host() {
    return this.spec.host;
  }
  get port() {
    return this.spec.port;
  }
  get url() {
    return `nats://${this.spec.host}:${this.spec.port}`;
  }
  get pid() {
    return this.running ? this.proc?.pid : undefined;
  }
  get running() {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const proc = spawn(this.bin, ['-c', this.spec.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    live.add(proc);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      this.output.push(chunk);
      if (this.output.length > 50) this.output.shift();
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', () => {
        live.delete(proc);
        resolve();
      });
      proc.once('error', (e) => {
        this.output.push(`spawn error: ${e.message}`);
        live.delete(proc);
        resolve();
      });
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running || proc.pid === undefined) return;
    process.kill(proc.pid, signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT' || signal === 'SIGHUP' || signal === 'SIGUSR1') return;
    const done = await Promise.race([this.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!done) {
      process.kill(proc.pid, 'SIGKILL');
      await this.exited;
    }
  }

  /** Stops gracefully (SIGTERM, SIGKILL after 5 s; a stopped process is continued first). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running || proc.pid === undefined) return;
    process.kill(proc.pid, 'SIGCONT');
    process.kill(proc.pid, 'SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done && this.running) {
      process.kill(proc.pid, 'SIGKILL');
      await this.exited;
    }
  }

  async restart(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is running: kill it first`);
    this.start();
    await this.ready(30_000);
  }

  /** Waits until the server accepts clients and answers JetStream requests. */
  async ready(ms: number): Promise<void> {
    await until(`${this.name} (${this.url}) ready`, ms, async () => {
      if (!this.running) throw new FatalError(`${this.name} exited: ${this.log()}`);
      const nc = await probeConnect(this.url);
      try {
        await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo();
      } finally {
        await nc.close();
      }
    });
  }

  log(): string {
    return this.output.join('').split('\n').slice(-20).join('\n');
  }
}

/** Writes one server's config: client and cluster listeners, routes, JetStream, pings. */
function configText(
  s: { name: string; host: string; port: number; clusterPort: number; storeDir: string },
  routes: readonly string[],
  o: Required<Pick<NatsClusterOptions, 'pingInterval' | 'pingMax'>>,
): string {
  return [
    `server_name: "${s.name}"`,
    `listen: "${s.host}:${s.port}"`,
    `ping_interval: "${o.pingInterval}s"`,
    `ping_max: ${o.pingMax}`,
    'jetstream {',
    `  store_dir: "${s.storeDir}"`,
    '  max_memory_store: 64MB',
    '  max_file_store: 256MB',
    '}',
    'cluster {',
    '  name: "isobroker-test"',
    `  listen: "${s.host}:${s.clusterPort}"`,
    `  routes: [${routes.map((r) => `"${r}"`).join(', ')}]`,
    '}',
    '',
  ].join('\n');
}

/**
 * Starts the cluster and resolves once every server answers JetStream requests (a meta leader is
 * elected) and a message published on each server reaches a subscriber on each other one.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  // A port picked free may be taken by another process before the server binds it: then that
  // server exits at once, and the cluster starts again on other ports (a few times at most).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (!(e instanceof FatalError) || attempt >= 3) throw e;
    }
  }
}

async function startOnce(opts: NatsClusterOptions): Promise<NatsCluster> {
  const bin = NATS_SERVER;
  if (bin === undefined) throw new Error(MISSING);
  installExitHook();
  const o = { pingInterval: opts.pingInterval ?? 1, pingMax: opts.pingMax ?? 2 };
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-nats-'));
  const servers: Server[] = [];
  try {
    const ports = await Promise.all(
      NATS_HOSTS.map(async (host) => ({ host, port: await freePort(host), clusterPort: await freePort(host) })),
    );
    ports.forEach((p, i) => {
      const name = `n${i + 1}`;
      const storeDir = join(dir, name);
      const config = join(dir, `${name}.conf`);
      const routes = ports.filter((q) => q !== p).map((q) => `nats-route://${q.host}:${q.clusterPort}`);
      writeFileSync(config, configText({ name, ...p, storeDir }, routes, o));
      servers.push(new Server(bin, { name, host: p.host, port: p.port, clusterPort: p.clusterPort, config }));
    });
    for (const s of servers) s.start();
    const ms = opts.readyTimeout ?? 30_000;
    await Promise.all(servers.map((s) => s.ready(ms)));
    await meshFormed(servers, ms);
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    urls: servers.map((s) => s.url),
    servers,
    dir,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until a message published on each server reaches a subscriber on every other one. */
async function meshFormed(servers: readonly Server[], ms: number): Promise<void> {
  const conns = await Promise.all(servers.map((s) => probeConnect(s.url)));
  try {
    await until('cluster routes formed', ms, async () => {
      const subject = `_mesh.${Math.random().toString(36).slice(2)}`;
      const seen = new Set<string>();
      const subs = conns.map((nc, i) =>
        nc.subscribe(subject, { callback: (_e, m) => seen.add(`${i}<-${new TextDecoder().decode(m.data)}`) }),
      );
      await Promise.all(conns.map((nc) => nc.flush()));
      await sleep(50); // interest crosses the routes asynchronously
      for (const [i, nc] of conns.entries()) nc.publish(subject, new TextEncoder().encode(String(i)));
      await Promise.all(conns.map((nc) => nc.flush()));
      await sleep(100);
      for (const s of subs) s.unsubscribe();
      const want = conns.length * conns.length;
      if (seen.size !== want) throw new Error(`${seen.size} of ${want} deliveries across the routes`);
    });
  } finally {
    await Promise.all(conns.map((nc) => nc.close()));
  }
}

/** A TCP proxy in front of one server, to cut one client off (`cut`) and let it back (`restore`). */
export interface NatsProxy {
  /** `nats://127.0.0.1:port`: connect a client here (with `ignoreClusterUpdates`, so it stays). */
  readonly url: string;
  /** Drops every proxied connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 that forwards each connection to `target` (`nats://host:port`). */
export async function natsProxy(target: string): Promise<NatsProxy> {
  const { hostname, port } = new URL(target.replace(/^nats:/, 'http:'));
  const sockets = new Set<Socket>();
  let refusing = false;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: hostname, port: Number(port) });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const localPort = typeof addr === 'object' && addr ? addr.port : 0;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: `nats://127.0.0.1:${localPort}`,
    cut() {
      refusing = true;
      dropAll();
    },
    restore() {
      refusing = false;
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
