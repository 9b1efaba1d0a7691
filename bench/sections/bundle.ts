/**
 * Bundle section: what the `"."` entry costs a browser application. A tiny consumer that peers,
 * subscribes and publishes an event is bundled with esbuild (minified ESM for the browser, tree
 * shaken) and its minified and gzipped sizes are reported, with the inputs that weigh most; the
 * same consumer with the Broker JSON v1 plug-in (`isobroker/json-v1`) shows what the add-on costs.
 */
import { gzipSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { formatBytes, type Table } from '../lib/markdown.js';
import type { BenchSection, SectionContext, SectionReport } from '../lib/section.js';
import { packageRoot } from '../lib/package-root.js';

/** Goal: the consumer bundle below this many KiB gzipped. */
export const GZIP_GOAL_KIB = 20;
const GZIP_LEVEL = 9;
const TOP_INPUTS = 10;

/** Gzipped browser bundles of comparable client libraries, as published elsewhere (not measured here). */
const QUOTED_KIB: readonly (readonly [string, number])[] = [
  ['socket.io-client', 12.8],
  ['centrifuge', 23.1],
  ['yjs stack', 27.2],
  ['nats core', 42.1],
  ['mqtt', 103.9],
];

/** The consumer: everything a browser app needs to talk to a hub (native protocol only). */
const CONSUMER = `import { Endpoint, makeEvent, count, string } from 'isobroker';

const ep = new Endpoint({ role: 'browser' });
ep.on('status', (s) => console.log(s.code, s.message));
ep.subscribe('demo/chat', (msg) => console.log(msg.topic, msg.data));
await ep.peer('ws://127.0.0.1:9999');
ep.publish('demo/chat/hello', makeEvent('hello', [count(1), string('hi')]));
`;

/** The same consumer talking to a Zeek: it adds the JSON v1 plug-in. */
const JSON_V1_CONSUMER = `import { Endpoint, makeEvent, count, string } from 'isobroker';
import { jsonV1 } from 'isobroker/json-v1';

const ep = new Endpoint({ role: 'browser', protocols: [jsonV1] });
ep.on('status', (s) => console.log(s.code, s.message));
ep.subscribe('demo/chat', (msg) => console.log(msg.topic, msg.data));
await ep.peer('ws://127.0.0.1:9999/v1/messages/json');
ep.publish('demo/chat/hello', makeEvent('hello', [count(1), string('hi')]));
`;

/** Inputs that belong to Broker JSON v1 (none may be in the native-only bundle). */
const JSON_V1_INPUT = /^src\/(codec|endpoint)\/json-v1\//;

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** Bytes in the output per input file, and per directory, largest first. */
function contributors(meta: Metafile, root: string): { files: [string, number][]; dirs: [string, number][] } {
  const output = Object.values(meta.outputs)[0];
  if (output === undefined) throw new Error('esbuild wrote no output');
  const files: [string, number][] = Object.entries(output.inputs)
    .map(([path, i]): [string, number] => [path.startsWith('/') ? relative(root, path) : path, i.bytesInOutput])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const dirs = new Map<string, number>();
  for (const [path, n] of files) {
    const d = path.startsWith('node_modules/')
      ? path.split('/').slice(0, 2).join('/')
      : path.includes('/')
        ? dirname(path)
        : `${path} (the app)`;
    dirs.set(d, (dirs.get(d) ?? 0) + n);
  }
  return { files, dirs: [...dirs.entries()].sort((a, b) => b[1] - a[1]) };
}

/** One consumer bundled as the bench measures it. */
interface ConsumerBundle {
  readonly minified: number;
  readonly gzipped: number;
  readonly meta: Metafile;
}

async function bundle(root: string, contents: string): Promise<ConsumerBundle> {
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: 'consumer.js', loader: 'js' },
    alias: { isobroker: join(root, 'src', 'index.ts'), 'isobroker/json-v1': join(root, 'src', 'json-v1.ts') },
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(root, 'dist', 'bundle-bench', 'consumer.js'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const out = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (out === undefined) throw new Error('esbuild produced no JavaScript');
  return {
    minified: out.contents.length,
    gzipped: gzipSync(out.contents, { level: GZIP_LEVEL }).length,
    meta: result.metafile,
  };
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const root = packageRoot();
  ctx.log('bundle: esbuild, minified ESM for the browser (native only, then with isobroker/json-v1)');
  const native = await bundle(root, CONSUMER);
  const withJson = await bundle(root, JSON_V1_CONSUMER);
  const { minified, gzipped } = native;
  const { files, dirs } = contributors(native.meta, root);
  const gzipKib = gzipped / 1024;
  const jsonInNative = files.filter(([path]) => JSON_V1_INPUT.test(path)).reduce((n, [, b]) => n + b, 0);
  const jsonFiles = contributors(withJson.meta, root).files.filter(([path]) => JSON_V1_INPUT.test(path));
  const jsonBytes = jsonFiles.reduce((n, [, b]) => n + b, 0);

  const sizes: Table = {
    title:
      'The consumer bundle (`Endpoint` + WebSocket client + codecs), with and without JSON v1, and quoted sizes of other clients',
    headers: ['bundle', 'minified', 'gzip -9', 'source'],
    rows: [
      ['isobroker `"."` (this consumer, native only)', kib(minified), kib(gzipped), 'measured here'],
      [
        'the same + `isobroker/json-v1` (peers with a Zeek)',
        kib(withJson.minified),
        kib(withJson.gzipped),
        'measured here',
      ],
      [
        'the JSON v1 add-on alone (difference)',
        kib(withJson.minified - minified),
        kib(withJson.gzipped - gzipped),
        'measured here',
      ],
      ...QUOTED_KIB.map(([name, k]) => [name, '—', `${k.toFixed(1)} KiB`, 'quoted, not measured here']),
    ],
  };
  const top: Table = {
    title: `Largest inputs (bytes in the minified output, esbuild metafile; ${files.length} inputs in all)`,
    headers: ['input', 'bytes in output', 'share'],
    rows: files
      .slice(0, TOP_INPUTS)
      .map(([path, n]) => [path, formatBytes(n), `${((n / minified) * 100).toFixed(1)}%`]),
  };
  const byDir: Table = {
    title: 'By directory',
    headers: ['directory', 'bytes in output', 'share'],
    rows: dirs.map(([d, n]) => [d, formatBytes(n), `${((n / minified) * 100).toFixed(1)}%`]),
  };
  return {
    tables: [sizes, top, byDir],
    goals: [
      {
        goal: `native-only consumer bundle < ${GZIP_GOAL_KIB} KiB gzipped`,
        measured: `${gzipKib.toFixed(1)} KiB`,
        met: gzipKib < GZIP_GOAL_KIB,
      },
    ],
    notes: [
      `The consumer, bundled with esbuild ${'`'}bundle, minify, format: 'esm', platform: 'browser', target: 'es2022'${'`'} ` +
        `(\`isobroker\` aliased to \`src/index.ts\`; \`isomorphic-ws\` resolves to the browser's own WebSocket):\n\n` +
        '```js\n' +
        CONSUMER +
        '```',
      `Broker JSON v1 is a plug-in (\`import { jsonV1 } from 'isobroker/json-v1'\`, \`new Endpoint({ protocols: [jsonV1] })\`): ` +
        `the native-only consumer links ${formatBytes(jsonInNative)} of it; with the plug-in, its ${jsonFiles.length} inputs ` +
        `(\`src/codec/json-v1/\`, \`src/endpoint/json-v1/\`) are ${formatBytes(jsonBytes)} of the minified output ` +
        `(${((jsonBytes / withJson.minified) * 100).toFixed(1)}%). The JSON v1 consumer:\n\n` +
        '```js\n' +
        JSON_V1_CONSUMER +
        '```',
      'Gzip is `node:zlib` at level 9 of the minified output. "Bytes in output" counts minified bytes before ' +
        "compression, so shares are indicative of what gzip sees. The other libraries' figures are quoted from their " +
        'published bundle sizes, not measured in this run.',
    ],
  };
}

/** The `bundle` section. */
export const bundleSection: BenchSection = {
  id: 'bundle',
  title: 'Browser bundle size',
  about:
    'Minified and gzipped size of the `"."` entry as a browser application gets it: a consumer importing ' +
    '`Endpoint`, `makeEvent`, `count` and `string` that peers, subscribes and publishes, bundled and tree-shaken by ' +
    'esbuild, with the inputs that contribute most.',
  run,
};
