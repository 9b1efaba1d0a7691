/**
 * The package ships what it advertises. `npm pack` of this working tree (in a copy, so that its
 * `prepack`/`prepare` builds never rewrite the `dist/` or `web-demo/dist` other tests are using),
 * installed into a fresh consumer project as a user would install it, without better-sqlite3:
 *
 * - the tarball holds the LICENSE, the built dashboard, no benchmark code, no dangling source maps;
 * - `npx isobroker --version` prints the package's version;
 * - the published declarations pass a strict `tsc` (no skipLibCheck) of a consumer importing all
 *   three entry points, and of the README quick start;
 * - the README quick start runs against the installed package and prints what it claims;
 * - the SQLite backend says which package to install;
 * - `npx isobroker cluster --demo` serves the dashboard, and stops with all of its processes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../support/cluster.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const MINUTES = 60_000;

let work: string;
let consumer: string;
let tarball: string;
/** Paths inside the tarball, without the leading `package/`. */
let entries: string[];

/** Runs a command; on failure the error carries its stdout and stderr. */
async function sh(cmd: string, args: readonly string[], cwd: string, timeout = 3 * MINUTES): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, {
      cwd,
      timeout,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  }
}

/** The README's quick start block (as test/readme.test.ts extracts it) and the lines it claims to print. */
function quickstart(): { code: string; claimed: string[] } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const m = /<!-- quickstart[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README has no quickstart block');
  const code = m[1]!;
  const claimed = [...code.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((c) => c[1]!.trimEnd());
  return { code, claimed };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'isobroker-pack-'));
  // The working tree as git sees it (tracked and untracked, minus ignored files), with the repo's
  // node_modules linked in for the build tools.
  const tree = join(work, 'tree');
  const listed = await sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], REPO);
  for (const f of listed.split('\0').filter(Boolean)) {
    if (f === 'node_modules' || !existsSync(join(REPO, f))) continue; // a linked node_modules; deleted files
    mkdirSync(dirname(join(tree, f)), { recursive: true });
    cpSync(join(REPO, f), join(tree, f));
  }
  symlinkSync(join(REPO, 'node_modules'), join(tree, 'node_modules'), 'dir');

  const packed = await sh('npm', ['pack', '--silent', '--pack-destination', work], tree);
  tarball = join(work, packed.trim().split('\n').at(-1)!);
  entries = (await sh('tar', ['-tzf', tarball], work))
    .split('\n')
    .filter(Boolean)
    .map((p) => p.replace(/^package\//, ''));

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const t0 = Date.now();
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], consumer, 4 * MINUTES);
  // Figures for whoever reads the test log.
  console.log(
    `packed ${posix.basename(tarball)}: ${statSync(tarball).size} bytes, ${entries.length} files; installed in a consumer in ${Date.now() - t0} ms`,
  );
}, 8 * MINUTES);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the LICENSE, the built dashboard and the compiled entry points, and no benchmark code', () => {
    expect(entries).toContain('LICENSE');
    expect(readFileSync(join(consumer, 'node_modules', 'isobroker', 'LICENSE'), 'utf8')).toMatch(
      /BSD 3-Clause[\s\S]*the isobroker authors/,
    );
    expect(entries).toContain('web-demo/dist/index.html');
    expect(entries.filter((p) => p.startsWith('web-demo/dist/assets/') && p.endsWith('.js')).length).toBeGreaterThan(0);
    for (const entry of [
      'dist/src/index.js',
      'dist/src/node/index.d.ts',
      'dist/src/browser/index.js',
      'dist/src/json-v1.js',
      'dist/src/backbone.js',
      'dist/server/cli/cli.js',
      'bin/isobroker.js',
    ]) {
      expect(entries).toContain(entry);
    }
    expect(entries.filter((p) => p.startsWith('dist/bench') || p.startsWith('bench/'))).toEqual([]);
    expect(entries.filter((p) => p.startsWith('test/') || p.startsWith('dist/test'))).toEqual([]);
  });

  it('has no source map, or map reference, whose target it does not ship', () => {
    const shipped = new Set(entries);
    const dangling: string[] = [];
    for (const p of entries) {
      const text = (): string => readFileSync(join(consumer, 'node_modules', 'isobroker', p), 'utf8');
      if (p.endsWith('.map')) {
        const map = JSON.parse(text()) as { sources?: string[]; sourceRoot?: string };
        for (const s of map.sources ?? []) {
          const target = posix.normalize(posix.join(posix.dirname(p), map.sourceRoot ?? '', s));
          if (!shipped.has(target)) dangling.push(`${p} → ${target}`);
        }
      } else if (/\.(m?js|d\.ts)$/.test(p)) {
        for (const m of text().matchAll(/^\/\/# sourceMappingURL=(?!data:)(\S+)$/gm)) {
          const target = posix.normalize(posix.join(posix.dirname(p), m[1]!));
          if (!shipped.has(target)) dangling.push(`${p} → ${target}`);
        }
      }
    }
    expect(dangling).toEqual([]);
  });
});

describe('installed in a consumer without better-sqlite3', () => {
  it('did not install better-sqlite3 or anything that builds it', () => {
    const installed = readdirSync(join(consumer, 'node_modules'));
    expect(installed).toContain('isobroker');
    expect(installed).not.toContain('better-sqlite3');
    expect(installed).not.toContain('prebuild-install');
    expect(installed).not.toContain('bindings');
  });

  it(
    'npx isobroker --version prints the package version',
    async () => {
      const out = await sh('npx', ['--no', '--', 'isobroker', '--version'], consumer, MINUTES);
      // `isobroker 0.1.0` (or the bare version): the version is the package.json one.
      expect(out.trim()).toMatch(new RegExp(`^(?:isobroker )?${PKG.version.replace(/\./g, '\\.')}$`));
    },
    2 * MINUTES,
  );

  it(
    'type-checks strictly, without skipLibCheck, importing all three entry points and the README quick start',
    async () => {
      writeFileSync(
        join(consumer, 'consumer.ts'),
        [
          "import { Endpoint, IsobrokerError, count, makeEvent, string, type Data } from 'isobroker';",
          "import { listen, openSqliteBackend, type Listener, type SqliteBackendOptions } from 'isobroker/node';",
          "import { createIndexedDbPersistence, reconnectOnOnline } from 'isobroker/browser';",
          '',
          "const ep = new Endpoint({ name: 'consumer' });",
          "const value: Data = makeEvent('e', [string('x'), count(1)]);",
          "ep.publish('t/', value);",
          'export const opts: SqliteBackendOptions = { path: ":memory:", journalMode: "WAL" };',
          'export const started: Promise<Listener> = listen(ep);',
          'export const refs = [openSqliteBackend, createIndexedDbPersistence, reconnectOnOnline, IsobrokerError] as const;',
          '',
        ].join('\n'),
      );
      writeFileSync(join(consumer, 'quickstart.mts'), quickstart().code);
      writeFileSync(
        join(consumer, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            target: 'ES2022',
            lib: ['ES2022', 'DOM'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            noUncheckedIndexedAccess: true,
            // @types/node from the repo; nothing else of the repo's is visible to the consumer.
            typeRoots: [join(REPO, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['consumer.ts', 'quickstart.mts'],
        }),
      );
      // A consumer that installed better-sqlite3 (to use the SQLite backend) but not its @types: a
      // declaration naming better-sqlite3's types fails there with TS7016, while a missing package
      // would pass unnoticed. So the check runs with an untyped stand-in, removed afterwards.
      const stub = join(consumer, 'node_modules', 'better-sqlite3');
      mkdirSync(stub);
      writeFileSync(
        join(stub, 'package.json'),
        JSON.stringify({ name: 'better-sqlite3', version: '12.0.0', main: 'index.js' }),
      );
      writeFileSync(join(stub, 'index.js'), 'module.exports = {};\n');
      try {
        await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer, 2 * MINUTES);
      } finally {
        rmSync(stub, { recursive: true, force: true });
      }
    },
    3 * MINUTES,
  );

  it(
    'runs the README quick start and prints what it claims',
    async () => {
      const { code, claimed } = quickstart();
      expect(claimed.length).toBeGreaterThan(0);
      const js = ts.transpileModule(code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(join(consumer, 'quickstart.mjs'), js);
      const out = await sh(process.execPath, ['quickstart.mjs'], consumer, MINUTES);
      expect(out.trimEnd().split('\n')).toEqual(claimed);
    },
    2 * MINUTES,
  );

  it(
    'the SQLite backend names the package to install',
    async () => {
      writeFileSync(
        join(consumer, 'sqlite.mjs'),
        [
          "import { IsobrokerError } from 'isobroker';",
          "import { openSqliteBackend } from 'isobroker/node';",
          'try {',
          "  openSqliteBackend({ path: 'x.sqlite' });",
          "  console.log('opened');",
          '} catch (e) {',
          '  console.log(JSON.stringify({ isobroker: e instanceof IsobrokerError, code: e.code, message: e.message }));',
          '}',
        ].join('\n'),
      );
      const out = JSON.parse(await sh(process.execPath, ['sqlite.mjs'], consumer, MINUTES)) as unknown;
      expect(out).toEqual({
        isobroker: true,
        code: 'missing_dependency',
        message: 'better-sqlite3 is not installed: npm install better-sqlite3@12 to use the SQLite backend',
      });
      expect(existsSync(join(consumer, 'x.sqlite'))).toBe(false);
    },
    2 * MINUTES,
  );

  it(
    'npx isobroker cluster --demo serves the dashboard and stops with all its processes',
    async () => {
      const ports = await freePorts(3);
      const layout = join(work, 'layout.json');
      writeFileSync(
        layout,
        JSON.stringify({
          nodes: [
            { name: 'manager', role: 'manager', host: '127.0.0.1', port: ports[0] },
            { name: 'logger-1', role: 'logger', host: '127.0.0.1', port: ports[1] },
            { name: 'worker-1', role: 'worker', host: '127.0.0.1', port: ports[2] },
          ],
        }),
      );
      const dir = join(work, 'cluster');
      // Its own process group, so that the whole tree (npx, the launcher, its nodes) can be signalled.
      const proc: ChildProcess = spawn(
        'npx',
        ['--no', '--', 'isobroker', 'cluster', '--demo', '--layout', layout, '--dir', dir, '--http', '127.0.0.1:0'],
        {
          cwd: consumer,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      proc.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      const group = proc.pid!;
      const groupAlive = (): boolean => {
        try {
          process.kill(-group, 0);
          return true;
        } catch {
          return false;
        }
      };
      const waitFor = async (cond: () => boolean, ms: number, what: string): Promise<void> => {
        const start = Date.now();
        while (!cond()) {
          if (Date.now() - start > ms)
            throw new Error(`${what} after ${ms} ms; stdout:\n${stdout}\nstderr:\n${stderr}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      try {
        await waitFor(
          () => /all 3 nodes up; dashboard http:\/\/\S+/.test(stdout),
          MINUTES,
          'the nodes did not all come up',
        );
        const url = /dashboard (http:\/\/\S+)/.exec(stdout)![1]!;
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        const html = await page.text();
        expect(html).toMatch(/<!doctype html>/i);
        // Every script and stylesheet the page names is served too.
        const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
        expect(assets.length).toBeGreaterThan(0);
        for (const a of assets) expect((await fetch(new URL(a, url))).status, a).toBe(200);
        expect((await fetch(new URL('/cluster.json', url))).status).toBe(200);
        // Without better-sqlite3 the manager keeps its stores in memory, and says so.
        expect(readFileSync(join(dir, 'logs', 'manager.out'), 'utf8')).toContain('better-sqlite3 is not installed');
      } finally {
        if (groupAlive()) process.kill(-group, 'SIGTERM');
        // Never throw from `finally` (it would hide the test's own failure): record, then assert after.
        let stopError: unknown;
        try {
          await waitFor(() => !groupAlive(), 20_000, 'the cluster did not stop on SIGTERM');
        } catch (e) {
          stopError = e;
          if (groupAlive()) process.kill(-group, 'SIGKILL');
        }
        expect(stopError).toBeUndefined();
      }
      expect(stdout).toMatch(/\[cluster\] stopped/);
    },
    3 * MINUTES,
  );
});
