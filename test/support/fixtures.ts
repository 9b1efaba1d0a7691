/**
 * Test fixtures kept in the repository (`test/fixtures/`), so a fresh clone has everything its
 * tests read. See `test/fixtures/vectors/README.md` for where each vector file comes from.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The absolute path of a file under `test/fixtures/`, e.g. `fixturePath('vectors/hrw.json')`. */
export function fixturePath(relative: string): string {
  return fileURLToPath(new URL(`../fixtures/${relative}`, import.meta.url));
}

/** Reads and parses a JSON file under `test/fixtures/`. */
export function readJsonFixture<T>(relative: string): T {
  return JSON.parse(readFileSync(fixturePath(relative), 'utf8')) as T;
}
