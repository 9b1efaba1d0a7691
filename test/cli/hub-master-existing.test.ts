/**
 * `isobroker hub --master NAME:sqlite:PATH[:existing]`: a master whose SQLite file is missing or
 * empty says on the ready line that it created a new empty store; with `:existing` the hub
 * refuses to start (exit 1, one line) unless the file holds a store. Real child processes of the
 * built bin (`npm run build` first).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, spawnCli } from '../support/processes.js';

const dirs: string[] = [];
afterEach(async () => {
  await killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-master-'));
  dirs.push(d);
  return d;
}

/** Runs the hub to its exit (it must exit within `ms`). */
async function runToExit(args: readonly string[], ms = 10_000) {
  const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', ...args]);
  cli.proc.stdin.end();
  const code = await Promise.race([cli.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  if (code === 'timeout') throw new Error(`hub ${args.join(' ')} still runs; stderr:\n${cli.stderr.join('\n')}`);
  await new Promise((r) => setImmediate(r));
  return { code, stdout: cli.stdout, stderr: cli.stderr.filter((l) => l !== '') };
}

/** Starts the hub, returns its ready line, and stops it (SIGTERM, exit 0). */
async function readyLine(args: readonly string[]): Promise<string> {
  const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', '--quiet', ...args]);
  const line = await cli.line(/ready: native ws:\/\//, 10_000);
  expect(await cli.kill('SIGTERM')).toBe(0);
  return line;
}

describe('hub --master NAME:sqlite:PATH[:existing]', () => {
  it(':existing with a missing file exits 1 with one line and creates nothing', async () => {
    const path = join(tempDir(), 'kv.sqlite');
    const r = await runToExit(['--master', `kv:sqlite:${path}:existing`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(
      /^isobroker hub: --master kv: no existing store in .*kv\.sqlite \(the file is missing or empty/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it(':existing with an empty file exits 1 with one line', async () => {
    const path = join(tempDir(), 'kv.sqlite');
    writeFileSync(path, '');
    const r = await runToExit(['--master', `kv:sqlite:${path}:existing`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/no existing store in .*kv\.sqlite/);
  });

  it('a missing file: the ready line says a new empty store was created; then :existing starts on it', async () => {
    const path = join(tempDir(), 'kv.sqlite');
    const first = await readyLine(['--master', `kv:sqlite:${path}`]);
    expect(first).toMatch(
      /, masters kv; created kv \(new empty store in .*kv\.sqlite: the file was missing or empty\); metrics http:\/\/127\.0\.0\.1:\d+\/metrics$/,
    );
    expect(existsSync(path)).toBe(true);
    const again = await readyLine(['--master', `kv:sqlite:${path}:existing`]);
    expect(again).toMatch(/, masters kv; metrics http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const plain = await readyLine(['--master', `kv:sqlite:${path}`]);
    expect(plain).not.toMatch(/new empty store/);
  });
});
