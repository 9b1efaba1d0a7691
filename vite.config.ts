import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/**
 * One config for the demo page (Vite) and the test suite (Vitest). The public package specifiers
 * resolve to the sources, so tests and the demo import exactly what users import.
 */
export default defineConfig({
  root: 'web-demo',
  resolve: {
    alias: [
      { find: /^isobroker$/, replacement: here('./src/index.ts') },
      { find: /^isobroker\/node$/, replacement: here('./src/node/index.ts') },
      { find: /^isobroker\/browser$/, replacement: here('./src/browser/index.ts') },
      { find: /^isobroker\/json-v1$/, replacement: here('./src/json-v1.ts') },
      { find: /^isobroker\/backbone$/, replacement: here('./src/backbone.ts') },
    ],
  },
  build: { outDir: here('./web-demo/dist'), emptyOutDir: true },
  // `npm run dev`: the page asks the running cluster launcher for /cluster.json (layout, manager URL).
  // It then connects to the manager from this dev server's origin, which the nodes refuse unless
  // the cluster was started with `--allow-origin http://localhost:5173` (see the README).
  // Its token comes from the launcher's /token as well (the dev server is on this machine).
  server: {
    proxy: {
      '/cluster.json': process.env.ISOBROKER_LAUNCHER_URL ?? 'http://127.0.0.1:8080',
      '/token': process.env.ISOBROKER_LAUNCHER_URL ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    root: here('.'),
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
