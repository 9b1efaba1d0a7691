/** Where the benchmarks find the repository, from source (`bench/`) or compiled (`dist/bench/`). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above this file whose package.json names this package. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'isobroker')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the isobroker package root');
    dir = up;
  }
}
