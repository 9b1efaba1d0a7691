/**
 * The `"."` entry (and `"./browser"`) bundle for the browser with esbuild: nothing may need a Node
 * built-in, and Node-only packages must not be pulled in.
 */
import { build, type BuildResult, type Metafile } from 'esbuild';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './source-graph.js';

interface Bundle {
  readonly text: string;
  readonly inputs: readonly string[];
  readonly externals: readonly string[];
}

async function bundleForBrowser(entry: { readonly file: string } | { readonly contents: string }): Promise<Bundle> {
  const result: BuildResult & { metafile: Metafile } = await build({
    ...('file' in entry
      ? { entryPoints: [join(REPO, entry.file)] }
      : { stdin: { contents: entry.contents, resolveDir: REPO, loader: 'ts' as const } }),
    absWorkingDir: REPO,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const text = result.outputFiles?.map((f) => f.text).join('\n') ?? '';
  const outputs = Object.values(result.metafile.outputs);
  return {
    text,
    inputs: Object.keys(result.metafile.inputs),
    externals: outputs.flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)),
  };
}

/** Problems that make a browser bundle unusable. */
function bundleProblems(b: Bundle): string[] {
  const problems: string[] = [];
  for (const m of b.text.matchAll(/(?:require\(|from\s*|import\(?\s*)["'](node:[^"']+)["']/g)) {
    problems.push(`bundle refers to ${m[1]}`);
  }
  for (const e of b.externals) problems.push(`bundle leaves an external import: ${e}`);
  for (const i of b.inputs) {
    if (/node_modules\/(ws|better-sqlite3|bindings|file-uri-to-path)\//.test(i))
      problems.push(`bundle includes Node-only ${i}`);
  }
  return problems;
}

async function bundleError(contents: string): Promise<string> {
  try {
    await bundleForBrowser({ contents });
  } catch (e) {
    return String((e as Error).message);
  }
  return '';
}

describe('browser bundles', () => {
  it('the check rejects code that needs Node', async () => {
    expect(await bundleError("import { readFileSync } from 'node:fs'; console.log(readFileSync);")).toMatch(/node:fs/);
    expect(await bundleError("import { createHash } from 'crypto'; console.log(createHash);")).toMatch(/crypto/);
    expect(
      bundleProblems({
        text: 'import { x } from "node:fs";\nconst y = require("node:net");',
        inputs: [],
        externals: [],
      }),
    ).toHaveLength(2);
    expect(bundleProblems({ text: '', inputs: ['node_modules/ws/index.js'], externals: ['node:fs'] })).toHaveLength(2);
  });

  it('bundles "." (src/index.ts) without Node built-ins', async () => {
    const b = await bundleForBrowser({ file: 'src/index.ts' });
    expect(b.inputs).toContain('src/data/constructors.ts');
    expect(b.text.length).toBeGreaterThan(1000);
    expect(b.text).not.toMatch(/require\(["']node:|from\s*["']node:/);
    expect(bundleProblems(b)).toEqual([]);
  });

  it('bundles "./browser" (src/browser/index.ts) without Node built-ins', async () => {
    const b = await bundleForBrowser({ file: 'src/browser/index.ts' });
    expect(bundleProblems(b)).toEqual([]);
  });
});
