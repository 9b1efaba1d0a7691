/**
 * The core (`src/` outside `src/node/` and `src/browser/`) does no I/O and runs in browsers: no
 * Node built-ins, no Node-only or browser-only packages, no DOM or Node globals; modules form no
 * cycles and layers import only downward (ARCHITECTURE.md, Layers).
 */
import { describe, expect, it } from 'vitest';
import {
  findCycles,
  globalsUsed,
  importsOf,
  isNodeBuiltin,
  listSources,
  readSource,
  resolveRelative,
} from './source-graph.js';

/** Layers in ARCHITECTURE.md, Layers, bottom first. */
type Layer =
  | 'errors'
  | 'util'
  | 'data'
  | 'topic'
  | 'message'
  | 'auth'
  | 'codec'
  | 'transport'
  | 'backbone'
  | 'endpoint'
  | 'store'
  | 'cluster'
  | 'logging'
  | 'entry'
  | 'node'
  | 'browser';

const CORE_LAYERS = [
  'errors',
  'util',
  'data',
  'topic',
  'message',
  'auth',
  'codec',
  'transport',
  'backbone',
  'endpoint',
  'store',
  'cluster',
  'logging',
] as const;

/** Every core layer below `layer` in CORE_LAYERS's order (the layers a top layer may import). */
function layersBelow(layer: (typeof CORE_LAYERS)[number]): Layer[] {
  return CORE_LAYERS.slice(0, CORE_LAYERS.indexOf(layer));
}

/**
 * Which layers each layer may import (its own layer is always allowed). `entry` is `src/index.ts`,
 * the `"."` export, `src/json-v1.ts`, the `"./json-v1"` export, and `src/internal.ts`, the repository's own entry for internals. Topic and message are siblings above data and do not import each other.
 */
const ALLOWED_IMPORTS: Readonly<Record<Layer, readonly Layer[]>> = {
  errors: [],
  util: ['errors'],
  data: ['errors', 'util'],
  topic: ['errors', 'util', 'data'],
  message: ['errors', 'util', 'data'],
  auth: ['errors', 'util', 'data', 'topic'],
  codec: ['errors', 'util', 'data', 'topic', 'message'],
  transport: ['errors', 'util', 'data', 'topic', 'message', 'codec'],
  // The message backbone (NATS) seam: subject mapping, presence, the NATS backbone over a
  // connection it is handed (types only), the in-memory NATS for tests.
  backbone: ['errors', 'util', 'data', 'topic', 'message', 'codec', 'transport'],
  endpoint: ['errors', 'util', 'data', 'topic', 'message', 'auth', 'codec', 'transport', 'backbone'],
  store: ['errors', 'util', 'data', 'topic', 'message', 'auth', 'codec', 'transport', 'backbone', 'endpoint'],
  cluster: layersBelow('cluster'),
  // Zeek logging: streams, records, formats and writers (pure), and the router that ships
  // log writes to the cluster's loggers (it reads the layout and node topics).
  logging: layersBelow('logging'),
  entry: [...CORE_LAYERS],
  node: [...CORE_LAYERS, 'entry'],
  browser: [...CORE_LAYERS, 'entry'],
};

/** The layer of a repo path, or undefined for a file the table does not place. */
function layerOf(path: string): Layer | undefined {
  if (path === 'src/errors.ts') return 'errors';
  if (['src/index.ts', 'src/internal.ts', 'src/json-v1.ts', 'src/backbone.ts'].includes(path)) return 'entry';
  const m = /^src\/([^/]+)\//.exec(path);
  const dir = m?.[1];
  return dir !== undefined && dir in ALLOWED_IMPORTS && dir !== 'entry' && dir !== 'errors'
    ? (dir as Layer)
    : undefined;
}

const isCore = (path: string): boolean => !/^src\/(node|browser)\//.test(path);

/** Packages the core may import, and where. Everything else bare is forbidden in the core. */
const CORE_PACKAGES: readonly { readonly name: string; readonly where: RegExp }[] = [
  // The default WebSocket constructor for the client; its "browser" field maps it to the global.
  { name: 'isomorphic-ws', where: /^src\/transport\/websocket-[^/]+\.ts$/ },
];

/** Named explicitly so the failure message says why. */
const FORBIDDEN_PACKAGES = ['ws', 'isomorphic-ws', 'better-sqlite3', 'idb-keyval'];

/** DOM globals (browser-only) and Node globals (Node-only) the core must not touch. */
const PLATFORM_GLOBALS: ReadonlySet<string> = new Set([
  'window',
  'document',
  'localStorage',
  'sessionStorage',
  'indexedDB',
  'navigator',
  'location',
  'process',
  'Buffer',
  'require',
  '__dirname',
  '__filename',
  'global',
  'setImmediate',
]);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Problems with one core file's imports and globals. */
function corePurityProblems(path: string, text: string): string[] {
  const problems: string[] = [];
  for (const imp of importsOf(text)) {
    const where = `${path}:${imp.line} imports '${imp.specifier}'`;
    if (imp.specifier.startsWith('.')) continue;
    if (isNodeBuiltin(imp.specifier)) {
      problems.push(`${where}: Node built-in in the core`);
      continue;
    }
    const name = packageName(imp.specifier);
    const allowed = CORE_PACKAGES.some((p) => p.name === name && p.where.test(path));
    if (allowed) continue;
    problems.push(
      FORBIDDEN_PACKAGES.includes(name)
        ? `${where}: platform package in the core${name === 'isomorphic-ws' ? ' (only src/transport/websocket-*.ts)' : ''}`
        : `${where}: package not allowed in the core (add it to CORE_PACKAGES if it runs everywhere)`,
    );
  }
  for (const g of globalsUsed(text, PLATFORM_GLOBALS)) {
    problems.push(`${path}:${g.line} uses the platform global '${g.name}'`);
  }
  return problems;
}

/** Problems with one file's relative imports against the layer table. */
function layerProblems(path: string, text: string): string[] {
  const from = layerOf(path);
  if (from === undefined) return [`${path}: not placed in a layer (extend layerOf / ALLOWED_IMPORTS)`];
  const problems: string[] = [];
  for (const imp of importsOf(text)) {
    const target = resolveRelative(path, imp.specifier);
    if (target === undefined) continue;
    if (!target.startsWith('src/')) {
      problems.push(`${path}:${imp.line} imports '${imp.specifier}' outside src/`);
      continue;
    }
    const to = layerOf(target);
    if (to === undefined) problems.push(`${path}:${imp.line} imports unplaced module ${target}`);
    else if (to !== from && !ALLOWED_IMPORTS[from].includes(to)) {
      problems.push(`${path}:${imp.line} (${from}) imports ${target} (${to}): layers import only downward`);
    }
  }
  return problems;
}

const sources = listSources();

/**
 * Type-only imports vanish at run time, but a cycle through them still ties two modules together
 * (CONVENTIONS 13: no cycles between modules); move the shared type to a module both import.
 */
const CYCLES_INCLUDE_TYPE_ONLY = true;

describe('the checks themselves fire', () => {
  it('flags Node built-ins, platform packages and globals', () => {
    const bad = [
      "import { readFile } from 'node:fs/promises';",
      "import path from 'path';",
      "import * as c from 'crypto';",
      "export { Server } from 'http';",
      "const net = require('net');",
      "const m = await import('fs');",
      "import WebSocket from 'ws';",
      "import type { WebSocket as W } from 'ws';",
      "import Database from 'better-sqlite3';",
      "import { get } from 'idb-keyval';",
      "import W2 from 'isomorphic-ws';",
      "import { decode } from '@msgpack/msgpack';",
      'const w = window.innerWidth;',
      'document.title = "x";',
      'localStorage.setItem("a", "b");',
      'const db = indexedDB.open("x");',
      'const ua = navigator.userAgent;',
      'const b = Buffer.from("x");',
      'const e = process.env;',
      'const d = globalThis.document;',
    ];
    for (const line of bad) expect(corePurityProblems('src/data/x.ts', line).length, line).toBeGreaterThan(0);
    expect(corePurityProblems('src/transport/websocket-default.ts', "import W from 'isomorphic-ws';")).toEqual([]);
    expect(corePurityProblems('src/transport/transport.ts', "import W from 'isomorphic-ws';")).toHaveLength(1);
  });

  it('ignores look-alikes in comments, strings and property names', () => {
    const fine = [
      "// import fs from 'fs'; window.document",
      "const s = 'window document navigator';",
      'const o = { document: 1, process: 2 }; o.document = o.process;',
      'interface I { readonly navigator: string; window(): void }',
      "import { compare } from '../data/order.js';",
      'function f(process: number): number { return process; }',
      'function location(): void {} location();',
    ];
    for (const line of fine) expect(corePurityProblems('src/data/x.ts', line), line).toEqual([]);
  });

  it('flags upward and sideways layer imports and unplaced files', () => {
    expect(layerProblems('src/data/x.ts', "import { E } from '../endpoint/endpoint.js';")).toHaveLength(1);
    expect(layerProblems('src/topic/x.ts', "import type { M } from '../message/types.js';")).toHaveLength(1);
    expect(layerProblems('src/endpoint/x.ts', "import { S } from '../store/store.js';")).toHaveLength(1);
    expect(layerProblems('src/codec/x.ts', "import { N } from '../node/index.js';")).toHaveLength(1);
    expect(layerProblems('src/node/x.ts', "import { B } from '../browser/index.js';")).toHaveLength(1);
    expect(layerProblems('src/cluster/x.ts', "import { E } from '../../test/x.js';")).toHaveLength(1);
    expect(layerProblems('src/misc/x.ts', '')).toHaveLength(1);
    expect(layerProblems('src/util/x.ts', "import { E } from '../endpoint/endpoint.js';")).toHaveLength(1);
    expect(layerProblems('src/endpoint/x.ts', "import { Emitter } from '../util/emitter.js';")).toEqual([]);
    expect(layerProblems('src/store/x.ts', "import { E } from '../endpoint/endpoint.js'; import './y.js';")).toEqual(
      [],
    );
    expect(layerProblems('src/node/x.ts', "import { count } from '../index.js';")).toEqual([]);
  });

  it('finds cycles', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['a']],
    ]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c'], ['d']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toEqual([]);
  });
});

describe('the source tree', () => {
  it('has sources to check', () => {
    expect(sources).toContain('src/index.ts');
    expect(sources.filter((p) => p.startsWith('src/data/')).length).toBeGreaterThan(3);
  });

  it('core modules import no Node built-ins or platform packages and use no platform globals', () => {
    const problems = sources.filter(isCore).flatMap((p) => corePurityProblems(p, readSource(p)));
    expect(problems).toEqual([]);
  });

  it('every module sits in a layer and imports only downward', () => {
    const problems = sources.flatMap((p) => layerProblems(p, readSource(p)));
    expect(problems).toEqual([]);
  });

  it('has no import cycles (type-only imports included)', () => {
    const graph = new Map<string, string[]>();
    const edges: { readonly from: string; readonly to: string; readonly text: string }[] = [];
    for (const p of sources) {
      const targets: string[] = [];
      for (const imp of importsOf(readSource(p))) {
        const t = resolveRelative(p, imp.specifier);
        if (t === undefined || (imp.typeOnly && !CYCLES_INCLUDE_TYPE_ONLY)) continue;
        targets.push(t);
        edges.push({ from: p, to: t, text: `${p}:${imp.line} -> ${t}${imp.typeOnly ? ' (type-only)' : ''}` });
      }
      graph.set(p, targets);
    }
    const described = findCycles(graph).map((cycle) => ({
      cycle,
      edges: edges.filter((e) => cycle.includes(e.from) && cycle.includes(e.to)).map((e) => e.text),
    }));
    expect(described).toEqual([]);
  });
});
