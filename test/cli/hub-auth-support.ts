/**
 * Helpers of the hub/cluster auth CLI tests: a private folder with a secret (made by
 * `isobroker token --new-secret`), policy files and tokens minted by `isobroker token`. Everything
 * through the real command line. (Certificates: test/support/certs.ts.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { Endpoint } from 'isobroker';
import { killAll } from '../support/processes.js';

/** The compiled command line, `bin/isobroker.js` (`npm run build` first). */
export const BIN = fileURLToPath(new URL('../../bin/isobroker.js', import.meta.url));

/** What a CLI hub test file shares between its tests. */
export interface CliTest {
  /** Run after each test, last added first (folders to remove, listeners to close). */
  readonly cleanup: (() => unknown)[];
  /** A client endpoint of this process whose error codes are recorded; closed after the test. */
  client(name: string): { ep: Endpoint; codes: string[] };
}

/**
 * Call once at the top of a CLI hub test file: after each test, closes the endpoints `client`
 * made, kills the `spawnCli` children, then runs `cleanup` (last added first).
 */
export function cliTest(): CliTest {
  const cleanup: (() => unknown)[] = [];
  const endpoints: Endpoint[] = [];
  afterEach(async () => {
    await Promise.all(endpoints.splice(0).map((e) => e.close()));
    await killAll();
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  return {
    cleanup,
    client(name) {
      const ep = new Endpoint({ name });
      endpoints.push(ep);
      const codes: string[] = [];
      ep.on('error', (e) => codes.push(e.code));
      return { ep, codes };
    },
  };
}

/** A new private temporary folder `isobroker-<prefix>-…`; `cleanup` gets its removal. */
export function tempDir(cleanup: (() => unknown)[], prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `isobroker-${prefix}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `isobroker ARGS…` to completion; returns its stdout (throws on a non-zero exit). */
export function isobroker(args: readonly string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

/** A folder with `secret.txt` (an HS256 secret, key id `k1`); `cleanup` gets its removal. */
export interface AuthDir {
  readonly dir: string;
  readonly secretFile: string;
  /** Writes `policy` (roles and more; `version` and the `k1` key are added) to `name`, atomically. */
  writePolicy(policy: Record<string, unknown>, name?: string): string;
  /** A token minted by `isobroker token` with key `k1`. */
  token(sub: string, roles: readonly string[], extra?: readonly string[]): string;
}

/** Makes an `AuthDir` in a new temporary folder. */
export function authDir(cleanup: (() => unknown)[]): AuthDir {
  const dir = tempDir(cleanup, 'hub-auth');
  const secretFile = join(dir, 'secret.txt');
  writeFileSync(secretFile, isobroker(['token', '--new-secret']), { mode: 0o600 });
  return {
    dir,
    secretFile,
    writePolicy(policy, name = 'policy.json') {
      const file = join(dir, name);
      const body = { version: 1, keys: [{ kid: 'k1', alg: 'HS256', secretFile: 'secret.txt' }], ...policy };
      // Written whole, then renamed into place: the hub watching the file never reads half of it.
      writeFileSync(`${file}.part`, JSON.stringify(body, null, 2));
      renameSync(`${file}.part`, file);
      return file;
    },
    token(sub, roles, extra = []) {
      return isobroker([
        'token',
        '--key-file',
        secretFile,
        '--kid',
        'k1',
        '--sub',
        sub,
        ...roles.flatMap((r) => ['--role', r]),
        ...extra,
      ]).trim();
    },
  };
}

/** Waits until `cond()` holds (polling), or fails after `ms` saying `what`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
