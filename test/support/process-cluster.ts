/** Clusters of real `isobroker node` child processes for tests: a layout in a temporary folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterLayout } from 'isobroker';
import { layoutOf } from './cluster.js';
import { spawnCli, type Cli } from './processes.js';

/** A layout written to `layoutFile` in `dir`; `start(name)` runs that node as a child process. */
export interface ProcessClusterEnv {
  readonly layout: ClusterLayout;
  readonly dir: string;
  readonly layoutFile: string;
  /** Starts node `name` (`isobroker node`) and resolves once it prints its ready line. */
  start(name: string): Promise<Cli>;
}

/** Makes the layout on free ports in a new temporary folder, removed by `cleanup`. */
export async function processClusterEnv(
  nodes: Parameters<typeof layoutOf>[0],
  cleanup: (() => unknown)[],
): Promise<ProcessClusterEnv> {
  const layout = await layoutOf(nodes);
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-cluster-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const layoutFile = join(dir, 'layout.json');
  writeFileSync(layoutFile, JSON.stringify(layout));
  return {
    layout,
    dir,
    layoutFile,
    async start(name) {
      const cli = spawnCli(['node', '--layout', layoutFile, '--name', name, '--dir', dir]);
      await cli.line(/ready: ws:\/\//);
      return cli;
    },
  };
}
