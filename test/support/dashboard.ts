/**
 * The live dashboard under test: its Vite build (installed where the launcher serves it), the
 * cluster launcher (`isobroker cluster`) as a child process with its status lines, and the page's
 * console, recorded so that a test can prove it stayed free of errors.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { Page } from 'playwright-core';
import { nodeUrl, type ClusterLayout, type Role } from 'isobroker';
import { layoutOf } from './cluster.js';
import { spawnCli, type Cli } from './processes.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Where the launcher's HTTP server finds the page (`server/dashboard/server.ts`). */
export const DASHBOARD_DIST = join(REPO, 'web-demo', 'dist');

/** Older builds' assets are removed after this long (ms). */
const STALE_ASSET_MS = 10 * 60_000;

/** `[data-testid="…"]`. */
export const tid = (id: string): string => `[data-testid="${id}"]`;

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

/**
 * Builds the page with the repo's `vite.config.ts` into a temporary directory, then installs it
 * into `web-demo/dist` file by file with atomic renames, `index.html` last. The launcher serves
 * `web-demo/dist` only, and a launcher already serving it (another test run in this checkout,
 * `npm start`) must never see a missing or half-written file: so no `emptyOutDir` there. Asset
 * names carry a content hash, so an unchanged page rewrites identical files; assets of other
 * builds are removed once they are ten minutes old.
 */
export async function buildDashboard(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'isobroker-web-'));
  try {
    await build({
      configFile: join(REPO, 'vite.config.ts'),
      root: join(REPO, 'web-demo'),
      logLevel: 'warn',
      build: { outDir: out, emptyOutDir: true },
    });
    const files = filesUnder(out).sort(
      (a, b) => Number(a === 'index.html') - Number(b === 'index.html') || a.localeCompare(b),
    );
    for (const f of files) {
      const dest = join(DASHBOARD_DIST, f);
      mkdirSync(dirname(dest), { recursive: true });
      const part = `${dest}.${process.pid}.part`;
      copyFileSync(join(out, f), part);
      renameSync(part, dest);
    }
    // Assets of older builds go once no page can still be loading them.
    const current = new Set(files);
    for (const f of filesUnder(DASHBOARD_DIST)) {
      const path = join(DASHBOARD_DIST, f);
      if (!current.has(f) && f.startsWith(`assets${sep}`) && Date.now() - statSync(path).mtimeMs > STALE_ASSET_MS)
        rmSync(path, { force: true });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** One `[cluster] <name> (<role>) up at <url>, pid <pid>` line of the launcher. */
export interface NodeUp {
  readonly name: string;
  readonly role: string;
  readonly url: string;
  readonly pid: number;
}

export interface Launcher {
  readonly cli: Cli;
  readonly layout: ClusterLayout;
  /** The launcher's `--dir` (logs, stores), removed by `stop`. */
  readonly dir: string;
  /** The dashboard, `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** The manager's native URL, where the page peers. */
  readonly managerUrl: string;
  /** Every start of `name` the launcher reported so far, oldest first. */
  ups(name: string): NodeUp[];
  /** The pid of the latest start of `name`. */
  pid(name: string): number;
  /** Waits for the `n`-th start of `name` (1 is the first). */
  waitUp(name: string, n: number, ms?: number): Promise<NodeUp>;
  /** Stops the launcher with SIGTERM (it stops its nodes) and removes its directory. */
  stop(): Promise<void>;
}

const UP_LINE = /^\[cluster\] (\S+) \((\w+)\) up at (\S+), pid (\d+)(?: \(recovered\))?$/;
const ALL_UP_LINE = /^\[cluster\] all \d+ nodes up; dashboard (http:\/\/\S+)$/;
const POLL_MS = 20;

const DASHBOARD_LINE = /^\[cluster\] dashboard (http:\/\/\S+)$/;

export interface LauncherOptions {
  /** How long to wait (ms). @default 30 000 */
  readonly ms?: number;
  /**
   * Resolve once every node is up (`all`), or as soon as the dashboard serves (`dashboard`: for a
   * cluster with a node that cannot start). @default 'all'
   */
  readonly until?: 'all' | 'dashboard';
  /** Called with the launcher's `--dir` before it starts (to plant a broken store, say). */
  readonly prepare?: (clusterDir: string) => void;
}

/**
 * Starts `isobroker cluster --demo` on a layout of free ports on 127.0.0.1 (never the default
 * 27760+ of a cluster someone runs by hand) and resolves once every node is up (or, with
 * `until: 'dashboard'`, once the dashboard serves).
 */
export async function startLauncher(
  nodes: readonly (readonly [string, Role])[],
  opts: number | LauncherOptions = {},
): Promise<Launcher> {
  const { ms = 30_000, until = 'all', prepare } = typeof opts === 'number' ? { ms: opts } : opts;
  const layout = await layoutOf(nodes.map(([n, r]) => [n, r] as [string, Role]));
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-dashboard-'));
  const layoutFile = join(dir, 'layout-in.json');
  writeFileSync(layoutFile, JSON.stringify(layout));
  prepare?.(join(dir, 'cluster'));
  const cli = spawnCli([
    'cluster',
    '--layout',
    layoutFile,
    '--dir',
    join(dir, 'cluster'),
    '--demo',
    '--http',
    '127.0.0.1:0',
  ]);

  const ups = (name: string): NodeUp[] =>
    cli.stdout.flatMap((line) => {
      const m = UP_LINE.exec(line);
      return m && m[1] === name ? [{ name: m[1], role: m[2]!, url: m[3]!, pid: Number(m[4]) }] : [];
    });
  const latestPids = (): number[] =>
    layout.nodes.flatMap((n) =>
      ups(n.name)
        .slice(-1)
        .map((u) => u.pid),
    );

  let url: string;
  try {
    const line = until === 'all' ? ALL_UP_LINE : DASHBOARD_LINE;
    url = line.exec(await cli.line(line, ms))![1]!;
  } catch (err) {
    await stopProcesses(cli, latestPids());
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const manager = layout.nodes.find((n) => n.role === 'manager')!;
  return {
    cli,
    layout,
    dir,
    url,
    managerUrl: nodeUrl(manager),
    ups,
    pid(name) {
      const last = ups(name).at(-1);
      if (!last) throw new Error(`the launcher reported no start of ${name}`);
      return last.pid;
    },
    async waitUp(name, n, wait = 15_000) {
      const start = Date.now();
      for (;;) {
        const hit = ups(name)[n - 1];
        if (hit) return hit;
        if (cli.proc.exitCode !== null || Date.now() - start > wait) {
          throw new Error(`no start #${n} of ${name} after ${wait} ms; launcher stdout:\n${cli.stdout.join('\n')}`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
    async stop() {
      await stopProcesses(cli, latestPids());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGTERM to the launcher, which stops its nodes (SIGTERM, SIGKILL after 5 s). Node pids get a
 * SIGCONT first, in case a test left one paused (a stopped process cannot handle SIGTERM). Only
 * when the launcher does not exit in time are it and its nodes killed outright, so that no node
 * outlives the test.
 */
async function stopProcesses(cli: Cli, nodePids: readonly number[]): Promise<void> {
  for (const pid of nodePids) if (alive(pid)) process.kill(pid, 'SIGCONT');
  const exited = await Promise.race([
    cli.kill('SIGTERM').then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 10_000)),
  ]);
  if (exited) return;
  await cli.kill('SIGKILL');
  for (const pid of nodePids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** `WebSocket connection to 'ws://…' failed: …`, which Chromium itself logs for a refused socket. */
export const WEBSOCKET_FAILED = /^WebSocket connection to '[^']+' failed/;

export interface ConsoleRecord {
  /** Errors logged or thrown by the page, except the allowed ones. */
  errors(): string[];
  /** How many `WebSocket … failed` lines were allowed so far. */
  readonly allowedFailures: number;
  /**
   * Runs `fn` while the test deliberately cuts the page off its peer: Chromium then logs a
   * `WebSocket connection … failed` console error for every refused reconnect attempt, which no
   * page code can suppress. Only those lines, and only meanwhile, are not counted as errors.
   */
  whileCut<T>(fn: () => Promise<T>): Promise<T>;
}

/** Records the page's console errors and uncaught exceptions from now on. */
export function recordConsole(page: Page): ConsoleRecord {
  const errors: string[] = [];
  let cut = false;
  let allowed = 0;
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (cut && WEBSOCKET_FAILED.test(m.text())) allowed++;
    else errors.push(m.text());
  });
  return {
    errors: () => [...errors],
    get allowedFailures() {
      return allowed;
    },
    async whileCut(fn) {
      cut = true;
      try {
        return await fn();
      } finally {
        cut = false;
      }
    },
  };
}
