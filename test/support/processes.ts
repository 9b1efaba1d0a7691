/** Child processes of the real `isobroker` command (the compiled bin), killed after each test. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/isobroker.js', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();

export interface Cli {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: readonly string[]): Cli {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: 'pipe' });
  running.add(proc);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const split = (sink: string[]) => {
    let buf = '';
    return (chunk: Buffer) => {
      buf += chunk.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      sink.push(...parts);
    };
  };
  proc.stdout.on('data', split(stdout));
  proc.stderr.on('data', split(stderr));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    stdout,
    stderr,
    exited,
    async line(re, ms = 15_000) {
      const start = Date.now();
      for (;;) {
        const hit = stdout.find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (proc.exitCode !== null || Date.now() - start > ms) {
          throw new Error(
            `no stdout line matching ${re} (exit ${proc.exitCode}); stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Starts `isobroker hub` and resolves with its native URL once it printed its ready line. */
export async function startHub(
  extra: readonly string[] = [],
  listen = '127.0.0.1:0',
): Promise<{ cli: Cli; url: string; port: number }> {
  const cli = spawnCli(['hub', '--listen', listen, ...extra]);
  const ready = await cli.line(/ready: native ws:\/\//);
  const url = /native (ws:\/\/\S+),/.exec(ready)![1]!;
  return { cli, url, port: Number(/:(\d+)$/.exec(url)![1]) };
}

export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map((p) => {
      p.kill('SIGKILL');
      return new Promise((r) => p.once('exit', r));
    }),
  );
}
