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

export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [...configDefaults.exclude, ...SLOW_TESTS],
    },
  }),
);
