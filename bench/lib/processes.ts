/**
 * Child processes for benchmarks that need servers: each child is spawned in its own process
 * group (so a child's own children — a broker started inside a network namespace — stop with it),
 * its output is read line by line, and a {@link ProcessSet} stops every child it started, on
 * success, on error, on Ctrl-C and when the benchmark process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** Options of {@link ProcessSet.spawn}. */
export interface SpawnOptions {
  /** Extra environment variables (the rest is inherited). @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory. @default the benchmark's */
  readonly cwd?: string;
}

/** How long {@link ChildHandle.stop} waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 3000;
/** How many trailing lines of stderr are kept for error messages. */
const STDERR_TAIL_LINES = 20;

type LineListener = (line: string) => void;

/** One running child. */
export class ChildHandle {
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the child exited. */
  readonly exited: Promise<number | string>;
  private readonly stdoutListeners = new Set<LineListener>();
  private readonly stderrListeners = new Set<LineListener>();
  private readonly stderrTail: string[] = [];
  private exitStatus: number | string | undefined;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    if (proc.pid === undefined) throw new Error(`${name}: could not be started`);
    this.pid = proc.pid;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitStatus = code ?? signal ?? 'unknown';
        resolve(this.exitStatus);
      });
      proc.once('error', (err) => {
        this.exitStatus ??= `error: ${err.message}`;
        resolve(this.exitStatus);
      });
    });
    readLines(proc.stdout, (line) => {
      for (const fn of this.stdoutListeners) fn(line);
    });
    readLines(proc.stderr, (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      for (const fn of this.stderrListeners) fn(line);
    });
  }

  /** True until the child exited. */
  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Calls `fn` for every stdout line; returns a function that stops it. */
  onStdout(fn: LineListener): () => void {
    this.stdoutListeners.add(fn);
    return () => this.stdoutListeners.delete(fn);
  }

  /** Calls `fn` for every stderr line; returns a function that stops it. */
  onStderr(fn: LineListener): () => void {
    this.stderrListeners.add(fn);
    return () => this.stderrListeners.delete(fn);
  }

  /** The last lines the child wrote to stderr, for error messages. */
  stderrText(): string {
    return this.stderrTail.join('\n');
  }

  /** Writes one line to the child's stdin (ignored once stdin is closed). */
  writeLine(line: string): void {
    const stdin = this.proc.stdin;
    if (stdin?.writable) stdin.write(`${line}\n`);
  }

  /**
   * Resolves with the first line (stdout, or stderr when `stream` says so) that matches `pattern`;
   * rejects when the child exits first or after `timeoutMs`.
   */
  waitForLine(pattern: RegExp, timeoutMs: number, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        off();
        return true;
      };
      const off = (stream === 'stdout' ? this.onStdout.bind(this) : this.onStderr.bind(this))((line) => {
        const m = pattern.exec(line);
        if (m !== null && settle()) resolve(m);
      });
      const timer = setTimeout(() => {
        if (settle())
          reject(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms\n${this.stderrText()}`));
      }, timeoutMs);
      void this.exited.then((status) => {
        if (settle())
          reject(new Error(`${this.name} exited (${status}) before printing ${pattern}\n${this.stderrText()}`));
      });
    });
  }

  /** Sends `signal` to the child's whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      /* already gone */
    }
  }

  /** SIGTERM to the process group, then SIGKILL after {@link STOP_GRACE_MS}; resolves once it exited. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    // The leader is gone; make sure nothing it started outlives it.
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* the group is empty */
    }
  }
}

function readLines(stream: NodeJS.ReadableStream | null, fn: LineListener): void {
  if (stream === null) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (buf !== '') fn(buf);
    buf = '';
  });
}

/**
 * The children and temporary directories of one benchmark section. `stopAll` ends every child and
 * removes every directory; until then, SIGINT or SIGTERM of the benchmark process does the same
 * before it exits, and a handler on `exit` kills whatever is left.
 */
export class ProcessSet {
  private readonly children = new Set<ChildHandle>();
  private readonly dirs = new Set<string>();
  private readonly onExit = (): void => {
    for (const c of this.children) c.signal('SIGKILL');
    this.removeDirs();
  };
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    void this.stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.on('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Starts `command args…` in a new process group, stdin/stdout/stderr piped. */
  spawn(name: string, command: string, args: readonly string[], opts: SpawnOptions = {}): ChildHandle {
    const proc = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const child = new ChildHandle(name, proc);
    this.children.add(child);
    void child.exited.then(() => this.children.delete(child));
    return child;
  }

  /** A new empty directory under the system's temporary directory, removed by {@link stopAll}. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  private removeDirs(): void {
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.dirs.clear();
  }

  /** Stops every child still running, removes the temporary directories and the process handlers. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
    this.removeDirs();
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Linux clock ticks per second for /proc times (`getconf CLK_TCK`, 100 on every common build). */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system, all threads) a process used so far, in milliseconds, from
 * `/proc/<pid>/stat`; undefined when it cannot be read.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
