import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vite.config.js';

/**
 * `npm run test:unit`: the fast daily subset of the suite (under a minute on two cores). The same
 * config as `npm test` minus the slow kinds of test, which only the whole suite (`npm test`) runs:
 * real browsers, real child processes and packaging, fuzzing and long simulations.
 */
export const SLOW_TESTS = [
  'test/e2e/**', // end-to-end in real Chromium
  'test/cli/**', // the command line as child processes
  'test/package/**', // npm pack and a fresh install
  '**/*.process.test.ts', // clusters and stores as real processes, killed and restarted
  '**/*.fuzz.test.ts', // fuzzing (json-v1.fuzz alone takes ~45 s)
  '**/*.sim.test.ts', // long randomised network simulations
  'test/store/large-values.test.ts', // clones hundreds of MiB-sized values (~15 s)
];

/**
 * What makes a test file need a module graph and globals of its own: mocking or re-importing
 * modules, or installing globals. Such files run isolated, as in `npm test`; the others share one
 * module graph per worker (`isolate: false`), which saves importing the SDK again for every file —
 * most of this target's time. `npm test` still runs every file isolated.
 */
export const NEEDS_ISOLATION = /\bvi\.(?:mock|doMock|unmock|resetModules|stubGlobal)\(|['"]fake-indexeddb\/auto['"]/;

const root = fileURLToPath(new URL('.', import.meta.url));

/** Every test file (relative to the repository), split by {@link NEEDS_ISOLATION}. */
export function testFilesByIsolation(): { isolated: string[]; shared: string[] } {
  const files = readdirSync(`${root}test`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f.replaceAll('\\', '/')}`)
    .sort();
  const isolated = files.filter((f) => NEEDS_ISOLATION.test(readFileSync(`${root}${f}`, 'utf8')));
  return { isolated, shared: files.filter((f) => !isolated.includes(f)) };
}

const { isolated, shared } = testFilesByIsolation();
const exclude = [...configDefaults.exclude, ...SLOW_TESTS];

// Each project keeps the base `include` (a project's own `include` would be added to it, not
// replace it), so each one excludes the other's files.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: { name: 'unit', exclude: [...exclude, ...isolated], isolate: false },
        },
        {
          extends: true,
          test: { name: 'unit-isolated', exclude: [...exclude, ...shared] },
        },
      ],
    },
  }),
);
