/**
 * The `"."` entry (and `"./browser"`, `"./json-v1"`) bundle for the browser with esbuild: nothing
 * may need a Node built-in, Node-only packages must not be pulled in, and a consumer that never
 * registers the JSON v1 plug-in bundles none of it.
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

  it('a native-only consumer of "." bundles no JSON v1 code; one that imports isobroker/json-v1 does', async () => {
    const consumer = (json: boolean): string =>
      [
        "import { Endpoint, makeEvent, count } from './src/index.ts';",
        json ? "import { jsonV1 } from './src/json-v1.ts';" : '',
        `const ep = new Endpoint({ role: 'browser'${json ? ', protocols: [jsonV1]' : ''} });`,
        "ep.subscribe('demo', (m) => console.log(m.topic));",
        `await ep.peer('ws://127.0.0.1:9999${json ? '/v1/messages/json' : ''}');`,
        "ep.publish('demo/x', makeEvent('hello', [count(1)]));",
      ].join('\n');
    const jsonInputs = (b: Bundle): string[] => b.inputs.filter((i) => /^src\/(codec|endpoint)\/json-v1\//.test(i));
    const native = await bundleForBrowser({ contents: consumer(false) });
    expect(native.inputs).toContain('src/endpoint/endpoint.ts');
    expect(jsonInputs(native)).toEqual([]);
    // Nor any backbone code: that comes with isobroker/backbone only.
    expect(native.inputs.filter((i) => /^src\/backbone\/|backbone-link/.test(i))).toEqual([]);
    const withJson = await bundleForBrowser({ contents: consumer(true) });
    expect(jsonInputs(withJson)).toEqual(
      expect.arrayContaining(['src/endpoint/json-v1/plugin.ts', 'src/codec/json-v1/encode.ts']),
    );
    expect(bundleProblems(withJson)).toEqual([]);
  });

  it('bundles "./backbone" (src/backbone.ts) without Node built-ins', async () => {
    expect(bundleProblems(await bundleForBrowser({ file: 'src/backbone.ts' }))).toEqual([]);
  });

  it('bundles "./json-v1" (src/json-v1.ts) without Node built-ins', async () => {
    expect(bundleProblems(await bundleForBrowser({ file: 'src/json-v1.ts' }))).toEqual([]);
  });

  it('bundles "./browser" (src/browser/index.ts) without Node built-ins', async () => {
    const b = await bundleForBrowser({ file: 'src/browser/index.ts' });
    expect(bundleProblems(b)).toEqual([]);
  });
});
