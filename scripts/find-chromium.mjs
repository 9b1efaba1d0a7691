#!/usr/bin/env node
/**
 * Finds the Chromium that the browser tests and benchmarks drive (through playwright-core, never a
 * downloaded browser). The repository's one lookup: `npm test` runs this file first, and
 * test/support/browser.ts and bench/lib/chromium.ts import `findChromium` from it, so all of them
 * agree on the same executable.
 *
 * Order: `CHROMIUM_PATH` (must then be an executable: a wrong value is an error, not a fallback),
 * the usual install locations, then those names on `PATH`.
 *
 * Run as a script (`node scripts/find-chromium.mjs`): prints the path found. When there is none it
 * installs Debian's `chromium` if it can (root with apt-get), or else exits 1 at once with a
 * one-line instruction — browser tests are never silently skipped.
 *
 * Plain Node ESM without dependencies: it runs before anything is built.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Chromium is usually installed, most likely first. */
export const CHROMIUM_LOCATIONS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
  '/snap/bin/chromium',
];

/** The executable names looked up on `PATH` after the fixed locations. */
export const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** What to do when there is no Chromium, in one line. */
export const CHROMIUM_MISSING =
  'No Chromium found for the browser tests: install it (Debian/Ubuntu: sudo apt-get install chromium) ' +
  'or set CHROMIUM_PATH to a Chromium or Chrome executable.';

/** Whether `path` is an executable regular file (symlinks followed). */
export function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Like `which name`: the first executable `name` in the folders of `pathVar`. */
export function which(name, pathVar = process.env.PATH ?? '', exists = isExecutable) {
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (exists(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The Chromium executable to use, or undefined when there is none. Throws when `CHROMIUM_PATH` is
 * set but names no executable, so a typo cannot silently pick another browser.
 * `options` exist for tests: `env` (default `process.env`), `locations`, `names`, `exists`.
 */
export function findChromium(options = {}) {
  const env = options.env ?? process.env;
  const exists = options.exists ?? isExecutable;
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!exists(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  for (const path of options.locations ?? CHROMIUM_LOCATIONS) if (exists(path)) return path;
  for (const name of options.names ?? CHROMIUM_NAMES) {
    const path = which(name, env.PATH ?? '', exists);
    if (path !== undefined) return path;
  }
  return undefined;
}

/** Whether this process can install Debian's chromium itself: root, with apt-get on PATH. */
export function canInstallWithApt() {
  return typeof process.getuid === 'function' && process.getuid() === 0 && which('apt-get') !== undefined;
}

function installWithApt() {
  console.error("find-chromium: no Chromium found; installing Debian's chromium with apt-get");
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

function main() {
  let found;
  try {
    found = findChromium();
  } catch (e) {
    console.error(`find-chromium: ${e.message}`);
    return 1;
  }
  if (found === undefined && canInstallWithApt()) {
    if (!installWithApt()) {
      console.error(`find-chromium: apt-get install chromium failed. ${CHROMIUM_MISSING}`);
      return 1;
    }
    found = findChromium();
  }
  if (found === undefined) {
    console.error(`find-chromium: ${CHROMIUM_MISSING}`);
    return 1;
  }
  console.log(`find-chromium: ${found}`);
  return 0;
}

function isMain() {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isMain()) {
  process.exitCode = main();
}
