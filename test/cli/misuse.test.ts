/**
 * The `isobroker` command as people expect a CLI to behave, as real child processes of the built
 * bin: --help and --version, one-line usage errors with exit code 2 before anything starts, fatal
 * errors that exit and free their port, and a pipe that never drops lines silently.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, string, toText, type Message } from 'isobroker';
import { killAll, spawnCli, startHub, type Cli } from '../support/processes.js';
import { until } from '../support/endpoints.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const endpoints: Endpoint[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function endpoint(name: string): Endpoint {
  const ep = new Endpoint({ name, retry: 100, maxRetry: 500 });
  endpoints.push(ep);
  return ep;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-cli-'));
  dirs.push(d);
  return d;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', () => ok()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

/** Resolves true when `port` can be bound (and frees it again). */
async function canBind(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Runs the CLI to its exit; the exit must come within `ms`. */
async function run(
  args: readonly string[],
  ms = 10_000,
): Promise<{ code: number | null; stdout: string[]; stderr: string[]; cli: Cli }> {
  const cli = spawnCli(args);
  cli.proc.stdin.end();
  const code = await Promise.race([cli.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  if (code === 'timeout')
    throw new Error(`isobroker ${args.join(' ')} still runs after ${ms} ms; stderr:\n${cli.stderr.join('\n')}`);
  // Let the last chunks of output arrive.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: cli.stdout, stderr: cli.stderr.filter((l) => l !== ''), cli };
}

const FLAGS: Record<string, string[]> = {
  hub: ['--listen', '--peer', '--name', '--master', '--allow-origin', '--quiet'],
  pipe: ['--peer', '--topic', '--publish', '--subscribe', '--retry', '--timeout'],
  cluster: ['--layout', '--dir', '--demo', '--http', '--format'],
  node: ['--layout', '--name', '--dir', '--demo', '--seed', '--format'],
};

describe('isobroker --help and --version', () => {
  it('prints the overview with --help, -h and `help` (exit 0) and on stderr without a command (exit 2)', async () => {
    for (const args of [['--help'], ['-h']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      const out = r.stdout.join('\n');
      for (const cmd of Object.keys(FLAGS)) expect(out).toContain(`  ${cmd} `);
      expect(out).toMatch(/exit codes: 0 ok, 1 .*2 usage error.*3 pipe/);
    }
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toEqual([]);
    expect(none.stderr.join('\n')).toContain('usage: isobroker <command>');
  });

  it.each(Object.keys(FLAGS))(
    '%s --help lists every flag with its default and exits 0 without starting anything',
    async (cmd) => {
      for (const args of cmd === 'pipe'
        ? [
            [cmd, '-h'],
            ['help', cmd],
          ]
        : [[cmd, '--help']]) {
        const r = await run(args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.stderr).toEqual([]);
        const out = r.stdout.join('\n');
        expect(out).toContain(`usage: isobroker ${cmd} `);
        for (const flag of FLAGS[cmd]!) {
          const row = r.stdout.find((l) => new RegExp(`^\\s+(-\\w, )?${flag}\\b`).test(l));
          expect(row, `${cmd} --help row for ${flag}`).toBeDefined();
          expect(row).toMatch(/\((default: .+|required|repeatable; default: .+)\)$/);
        }
      }
    },
  );

  it('shows the defaults that apply', async () => {
    const hub = (await run(['hub', '--help'])).stdout.join('\n');
    expect(hub).toMatch(/--listen HOST:PORT .*\(default: 127\.0\.0\.1:9999\)/);
    const cluster = (await run(['cluster', '--help'])).stdout.join('\n');
    expect(cluster).toMatch(/--format tsv\|json .*\(default: tsv\)/);
    expect(cluster).toMatch(/--http HOST:PORT .*\(default: 127\.0\.0\.1:8080\)/);
  });

  it('--help wins over other options, even bad ones', async () => {
    const r = await run(['hub', '--listen', 'nonsense', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout[0]).toMatch(/^usage: isobroker hub /);
  });

  it('--version and -V print the version from package.json, at top level and after a command', async () => {
    for (const args of [['--version'], ['-V'], ['pipe', '--version']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toEqual([`isobroker ${VERSION}`]);
    }
  });
});

describe('isobroker usage errors: exit 2, one line naming the flag, nothing started', () => {
  it.each([
    [['hub', '--bogus'], /^isobroker hub: unknown option --bogus \(options: --listen, --peer, .*\)$/],
    [['pipe', '-x'], /^isobroker pipe: unknown option -x /],
    [['cluster', '--formats', 'tsv'], /^isobroker cluster: unknown option --formats /],
    [['frobnicate'], /^isobroker: unknown command "frobnicate" \(commands: hub, pipe, cluster, node/],
    [['--bogus'], /^isobroker: unknown option --bogus/],
    [['hub', 'extra'], /^isobroker hub: unexpected argument "extra"$/],
    [['hub', '--listen', 'x'], /^isobroker hub: --listen: expected HOST:PORT.*, got "x"$/],
    [
      ['hub', '--listen', '127.0.0.1:70000'],
      /^isobroker hub: --listen: expected HOST:PORT with a port from 0 to 65535, got "127\.0\.0\.1:70000"$/,
    ],
    [['hub', '--listen'], /^isobroker hub: --listen: expected HOST:PORT, got nothing$/],
    [['hub', '--listen', '--quiet'], /^isobroker hub: --listen: expected HOST:PORT, got nothing$/],
    [['hub', '--peer', 'notaurl'], /^isobroker hub: --peer: expected a ws:\/\/ or wss:\/\/ URL, got "notaurl"$/],
    [
      ['hub', '--peer', 'http://127.0.0.1:9999'],
      /^isobroker hub: --peer: expected a ws:\/\/ or wss:\/\/ URL, got "http:/,
    ],
    [['hub', '--peer', 'ws://127.0.0.1:0'], /^isobroker hub: --peer: expected .*port from 1 to 65535/],
    [['hub', '--master', 'a:b'], /^isobroker hub: --master: expected NAME or NAME:sqlite:PATH, got "a:b"$/],
    [['hub', '--master', 's', '--master', 's'], /^isobroker hub: --master: store "s" given twice$/],
    [['hub', '--quiet=yes'], /^isobroker hub: --quiet takes no value, got "yes"$/],
    [['pipe', '--topic', 't', '--publish'], /^isobroker pipe: --peer: required \(URL\)$/],
    [['pipe', '--peer', 'ws://127.0.0.1:1', '--publish'], /^isobroker pipe: --topic: required \(TOPIC\)$/],
    [
      ['pipe', '--peer', 'ws://127.0.0.1:1', '--topic', 't'],
      /^isobroker pipe: exactly one of --publish and --subscribe is required$/,
    ],
    [
      ['pipe', '--peer', 'ws://127.0.0.1:1', '--topic', 't', '--publish', '--subscribe'],
      /^isobroker pipe: exactly one of/,
    ],
    [
      ['pipe', '--peer', 'ws://127.0.0.1:1', '--topic', 't', '--publish', '--timeout', 'soon'],
      /^isobroker pipe: --timeout: expected a number from 0\.1 to 3600, got "soon"$/,
    ],
    [['cluster', '--format', 'xml'], /^isobroker cluster: --format: expected tsv or json, got "xml"$/],
    [['cluster', '--http', 'localhost'], /^isobroker cluster: --http: expected HOST:PORT.*, got "localhost"$/],
    [
      ['cluster', '--layout', '/nonexistent/layout.json'],
      /^isobroker cluster: --layout: cannot read "\/nonexistent\/layout\.json": ENOENT$/,
    ],
    [['node', '--name', 'x'], /^isobroker node: --layout: required \(FILE\)$/],
    [
      ['node', '--layout', 'l.json', '--name', 'x', '--format', 'xml'],
      /^isobroker node: --format: expected tsv or json, got "xml"$/,
    ],
  ])('%j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(message);
  });

  it('hub --peer notaurl exits 2 before listening: its port is free afterwards', async () => {
    const port = await freePort();
    const r = await run(['hub', '--listen', `127.0.0.1:${port}`, '--peer', 'notaurl']);
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual(['isobroker hub: --peer: expected a ws:// or wss:// URL, got "notaurl"']);
    expect(r.stdout).toEqual([]);
    expect(await canBind(port)).toBe(true);
  });

  it('cluster --format xml exits 2 before starting anything: no directory, no node, no port', async () => {
    const dir = tempDir();
    const [nodePort, httpPort] = [await freePort(), await freePort()];
    const layout = join(dir, 'layout.json');
    writeFileSync(
      layout,
      JSON.stringify({ nodes: [{ name: 'manager', role: 'manager', host: '127.0.0.1', port: nodePort }] }),
    );
    const clusterDir = join(dir, 'c');
    const r = await run(
      ['cluster', '--layout', layout, '--dir', clusterDir, '--http', `127.0.0.1:${httpPort}`, '--format', 'xml'],
      5000,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual(['isobroker cluster: --format: expected tsv or json, got "xml"']);
    expect(r.stdout).toEqual([]);
    expect(existsSync(clusterDir)).toBe(false);
    expect(await canBind(nodePort)).toBe(true);
    expect(await canBind(httpPort)).toBe(true);
  });

  it('cluster rejects an invalid layout with exit 2 before starting anything', async () => {
    const dir = tempDir();
    const layout = join(dir, 'layout.json');
    writeFileSync(layout, JSON.stringify({ nodes: [{ name: 'w', role: 'wizard', host: '127.0.0.1', port: 1 }] }));
    const r = await run(['cluster', '--layout', layout, '--dir', join(dir, 'c')], 5000);
    expect(r.code).toBe(2);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^isobroker cluster: --layout: ".*layout\.json" is not a valid layout: /);
    expect(existsSync(join(dir, 'c'))).toBe(false);
  });
});

describe('isobroker fatal errors: exit 1, one line, the port released', () => {
  it('hub whose master store cannot open exits 1 naming the store, and its port is free', async () => {
    const port = await freePort();
    const r = await run([
      'hub',
      '--listen',
      `127.0.0.1:${port}`,
      '--master',
      'hosts:sqlite:/nonexistent-dir/hosts.sqlite',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^isobroker hub: --master hosts: .*\/nonexistent-dir\/hosts\.sqlite/);
    expect(await canBind(port)).toBe(true);
  });

  it('hub whose port is taken exits 1 with one line instead of running without a listener', async () => {
    const taken = createServer();
    await new Promise<void>((ok) => taken.listen(0, '127.0.0.1', () => ok()));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = await run(['hub', '--listen', `127.0.0.1:${port}`, '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toEqual([`isobroker hub: cannot listen on 127.0.0.1:${port}: the address is in use`]);
    } finally {
      await new Promise<void>((ok) => taken.close(() => ok()));
    }
  });
});

describe('isobroker pipe never drops lines silently', () => {
  it('exits 3 with one line when its peer cannot be reached (publish and subscribe)', async () => {
    const port = await freePort();
    for (const mode of ['--publish', '--subscribe']) {
      const r = await run(['pipe', '--peer', `ws://127.0.0.1:${port}`, '--topic', 't', mode]);
      expect(r.code, mode).toBe(3);
      expect(r.stderr).toEqual([
        `isobroker pipe: cannot reach ws://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
      ]);
    }
  });

  it('with --retry keeps trying, says so on stderr, and delivers once the hub is up', async () => {
    const port = await freePort();
    const pipe = spawnCli(['pipe', '--peer', `ws://127.0.0.1:${port}`, '--topic', 'retry/x', '--publish', '--retry']);
    pipe.proc.stdin.end('one\ntwo\n');
    await until(() => pipe.stderr.some((l) => /cannot reach .*; retrying$/.test(l)), 10_000, 'a retry message');
    expect(pipe.proc.exitCode).toBeNull();

    const hub = await startHub(['--quiet'], `127.0.0.1:${port}`);
    const sub = endpoint('sub');
    const got: Message[] = [];
    sub.subscribe('retry/', (m) => got.push(m));
    await sub.peer(hub.url);
    const probe = endpoint('probe');
    await probe.peer(hub.url);
    await probe.whenRoutable('retry/x', { timeoutMs: 10_000 });

    expect(await pipe.exited).toBe(0);
    expect(pipe.stderr).toContain(`isobroker pipe: connected to ws://127.0.0.1:${port}`);
    await until(() => got.length === 2, 5000, 'both lines');
    expect(got.map((m) => toText(m.data))).toEqual(['one', 'two']);
  });

  it('publish waits at EOF until every line is delivered, then exits 0', async () => {
    const hub = await startHub(['--quiet']);
    const sub = endpoint('sub');
    let got = 0;
    let last = '';
    sub.subscribe('bulk/', (m) => {
      got++;
      last = toText(m.data);
    });
    await sub.peer(hub.url);
    const probe = endpoint('probe');
    await probe.peer(hub.url);
    await probe.whenRoutable('bulk/x', { timeoutMs: 10_000 });

    const n = 20_000;
    const pipe = spawnCli(['pipe', '--peer', hub.url, '--topic', 'bulk/x', '--publish']);
    pipe.proc.stdin.end(`${Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n')}\n`);
    expect(await pipe.exited).toBe(0);
    expect(pipe.stderr).toEqual([]);
    await until(() => got === n, 10_000, `${n} lines`);
    expect(last).toBe(`line ${n}`);
  });

  it('publish exits 3 when the hub goes away mid-stream, counting the lines not delivered', async () => {
    const hub = await startHub();
    const sub = endpoint('sub');
    const got: string[] = [];
    sub.subscribe('gone/', (m) => got.push(toText(m.data)));
    await sub.peer(hub.url);
    const probe = endpoint('probe');
    await probe.peer(hub.url);
    await probe.whenRoutable('gone/x', { timeoutMs: 10_000 });

    const pipe = spawnCli(['pipe', '--peer', hub.url, '--topic', 'gone/x', '--publish']);
    await until(() => hub.cli.stderr.some((l) => /peer_added.* pipe-/.test(l)), 10_000, 'the pipe peered');
    pipe.proc.stdin.write('a\nb\n');
    await until(() => got.length === 2, 10_000, 'the first two lines');
    // Give the pipe time to have its first lines confirmed, then freeze the hub: what follows
    // reaches its socket but never the hub, and dies with it.
    await new Promise((r) => setTimeout(r, 300));
    hub.cli.proc.kill('SIGSTOP');
    pipe.proc.stdin.write('c\nd\ne\n');
    await new Promise((r) => setTimeout(r, 300));
    hub.cli.proc.kill('SIGKILL');

    expect(await Promise.race([pipe.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).toBe(3);
    const line = pipe.stderr.find((l) => l.includes('lost the connection'));
    expect(line, pipe.stderr.join('\n')).toBeDefined();
    const m = /: (\d+) of 5 lines read not delivered/.exec(line!);
    expect(m, line).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(3);
    expect(got).toEqual(['a', 'b']);
  });

  it('subscribe exits 3 when the hub goes away', async () => {
    const hub = await startHub(['--quiet']);
    const pipe = spawnCli(['pipe', '--peer', hub.url, '--topic', 's/', '--subscribe']);
    const pub = endpoint('pub');
    await pub.peer(hub.url);
    await pub.whenRoutable('s/x', { timeoutMs: 10_000 });
    pub.publish('s/x', string('hi'));
    await pipe.line(/"data":"hi"/);
    await hub.cli.kill('SIGKILL');
    expect(await Promise.race([pipe.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).toBe(3);
    expect(pipe.stderr).toContain(`isobroker pipe: lost the connection to ${hub.url}`);
  });
});
