/**
 * The public API stays curated: the `"."` entry holds what an application uses (within a budget of
 * runtime names), no wire-format internal leaks into a public entry, and every name `src/index.ts`
 * exports is documented where it is declared. Internals live in `src/internal.ts`.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as browserEntry from 'isobroker/browser';
import * as nodeEntry from 'isobroker/node';
import * as jsonV1Entry from 'isobroker/json-v1';
import * as backboneEntry from 'isobroker/backbone';
import * as root from 'isobroker';
import * as internal from '../../src/internal.js';

/** Most runtime names `isobroker` may export (it was 209 before the API was curated). */
const RUNTIME_NAME_BUDGET = 130;

/** Names of wire internals: codecs, frames, message kinds, JSON nodes, msgpack, sessions, the trie. */
const INTERNAL_NAME_PATTERNS: readonly RegExp[] = [
  /^encode.*Frame$/,
  /^decodeFrame$/,
  /^(en|de)code(Value|Message|DataMessage|JsonData|JsonMessage|JsonHandshake)$/,
  /^MessageKind$/,
  /^RESERVED_MESSAGE_KINDS$/,
  /^NATIVE_PROTOCOL_VERSION$/,
  /^Json\w*(Node|Number|Object)$/,
  /^JsonV1/,
  /^parseJson$/,
  /msgpack/i,
  /^(Container|Native)(Marker|Ext)$/,
  /Session$/,
  /^TopicTrie$/,
  /^(Trie|Handle)/,
  /^idFromBytes$|^idToBytes$/,
  /^HANDSHAKE_/,
];

const isInternalName = (name: string): boolean => INTERNAL_NAME_PATTERNS.some((p) => p.test(name));

/** Reads and parses a source file once. */
const parsed = new Map<string, ts.SourceFile>();
function sourceFile(path: string): ts.SourceFile {
  let f = parsed.get(path);
  if (!f) {
    const text = readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');
    parsed.set(path, (f = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true)));
  }
  return f;
}

const resolveFrom = (from: string, specifier: string): string =>
  posix.join(posix.dirname(from), specifier).replace(/\.js$/, '.ts');

/** The name a declaration statement declares, if any. */
function declaredName(st: ts.Statement): { name: string; node: ts.Node }[] {
  if (ts.isVariableStatement(st)) {
    return st.declarationList.declarations.flatMap((d) =>
      ts.isIdentifier(d.name) ? [{ name: d.name.text, node: st }] : [],
    );
  }
  if (
    (ts.isFunctionDeclaration(st) ||
      ts.isClassDeclaration(st) ||
      ts.isInterfaceDeclaration(st) ||
      ts.isTypeAliasDeclaration(st) ||
      ts.isEnumDeclaration(st)) &&
    st.name
  ) {
    return [{ name: st.name.text, node: st }];
  }
  return [];
}

/** The declarations of `name` in `path`, following `export { … } from` re-exports. */
function findDeclarations(path: string, name: string, depth = 0): { node: ts.Node; path: string }[] {
  const f = sourceFile(path);
  const found: { node: ts.Node; path: string }[] = [];
  for (const st of f.statements) {
    for (const d of declaredName(st)) if (d.name === name) found.push({ node: d.node, path });
    if (
      depth < 5 &&
      ts.isExportDeclaration(st) &&
      st.moduleSpecifier &&
      ts.isStringLiteral(st.moduleSpecifier) &&
      st.exportClause &&
      ts.isNamedExports(st.exportClause)
    ) {
      for (const el of st.exportClause.elements) {
        if (el.name.text === name)
          found.push(
            ...findDeclarations(
              resolveFrom(path, st.moduleSpecifier.text),
              (el.propertyName ?? el.name).text,
              depth + 1,
            ),
          );
      }
    }
  }
  return found;
}

/** Every name (values and types) an entry exports, with whether its declaration has a doc comment. */
function exportedDeclarations(entry = 'src/index.ts'): { name: string; documented: boolean; where: string }[] {
  const out: { name: string; documented: boolean; where: string }[] = [];
  for (const st of sourceFile(entry).statements) {
    if (!ts.isExportDeclaration(st) || !st.exportClause || !ts.isNamedExports(st.exportClause)) continue;
    if (!st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const target = resolveFrom(entry, st.moduleSpecifier.text);
    for (const el of st.exportClause.elements) {
      const decls = findDeclarations(target, (el.propertyName ?? el.name).text);
      out.push({
        name: el.name.text,
        documented: decls.length > 0 && decls.some((d) => hasDocComment(d.node)),
        where: decls[0]?.path ?? `${target} (declaration not found)`,
      });
    }
  }
  return out;
}

/** A `/** … *\/` comment right before the declaration (its statement, for a `const`). */
function hasDocComment(decl: ts.Node): boolean {
  let node: ts.Node = decl;
  if (ts.isVariableDeclaration(node)) node = node.parent.parent; // the VariableStatement
  const text = node.getSourceFile().getFullText();
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  return ranges.some((r) => r.kind === ts.SyntaxKind.MultiLineCommentTrivia && text.startsWith('/**', r.pos));
}

describe('the checks themselves fire', () => {
  it('recognises wire internals by name', () => {
    for (const n of [
      'encodeFrame',
      'decodeFrame',
      'MessageKind',
      'JsonObject',
      'JsonNumber',
      'encodeValue',
      'TopicTrie',
      'NativeSession',
    ]) {
      expect(isInternalName(n), n).toBe(true);
    }
    for (const n of [
      'Endpoint',
      'makeEvent',
      'dataToJs',
      'toText',
      'createMaster',
      'ClusterNode',
      'ConfigError',
      'JSON_PATH',
    ]) {
      expect(isInternalName(n), n).toBe(false);
    }
  });

  it('tells documented declarations from undocumented ones', () => {
    const src = ts.createSourceFile(
      'x.ts',
      '/** yes */\nexport const a = 1;\n// no\nexport const b = 2;\n/* no */ export function c() {}\n',
      ts.ScriptTarget.ES2022,
      true,
    );
    const [a, b, c] = src.statements;
    expect(hasDocComment(a!)).toBe(true);
    expect(hasDocComment(b!)).toBe(false);
    expect(hasDocComment(c!)).toBe(false);
  });

  it('finds declarations through re-exports', () => {
    expect(findDeclarations('src/index.ts', 'Endpoint').map((d) => d.path)).toEqual(['src/endpoint/endpoint.ts']);
    expect(exportedDeclarations().find((d) => d.name === 'Endpoint')?.documented).toBe(true);
  });
});

describe('the public API', () => {
  const rootNames = Object.keys(root);

  it(`"isobroker" exports at most ${RUNTIME_NAME_BUDGET} runtime names, with the essentials among them`, () => {
    expect(rootNames.length).toBeLessThanOrEqual(RUNTIME_NAME_BUDGET);
    for (const n of [
      'Endpoint',
      'makeEvent',
      'parseZeekMessage',
      'dataToJs',
      'toText',
      'createMaster',
      'createClone',
      'ClusterNode',
      'PoolRegistry',
      'LogRouter',
      'IsobrokerError',
      'ConfigError',
    ]) {
      expect(rootNames, n).toContain(n);
    }
  });

  it('no public entry exports wire internals', () => {
    const leaks = [
      ...rootNames.map((n) => `isobroker: ${n}`),
      ...Object.keys(nodeEntry).map((n) => `isobroker/node: ${n}`),
      ...Object.keys(browserEntry).map((n) => `isobroker/browser: ${n}`),
      ...Object.keys(jsonV1Entry).map((n) => `isobroker/json-v1: ${n}`),
      ...Object.keys(backboneEntry).map((n) => `isobroker/backbone: ${n}`),
    ].filter((e) => isInternalName(e.split(': ')[1]!));
    expect(leaks).toEqual([]);
  });

  it('the internal entry holds the internals and repeats no public name', () => {
    const names = Object.keys(internal);
    expect(names).toEqual(
      expect.arrayContaining(['encodeFrame', 'decodeFrame', 'MessageKind', 'JsonObject', 'encodeValue', 'TopicTrie']),
    );
    expect(names.filter((n) => rootNames.includes(n))).toEqual([]);
  });

  it('every name exported by src/index.ts has a doc comment at its declaration', () => {
    const decls = exportedDeclarations();
    expect(decls.length).toBeGreaterThan(rootNames.length); // types are checked too
    const undocumented = decls.filter((d) => !d.documented);
    expect(undocumented.map((d) => `${d.name} (${d.where})`)).toEqual([]);
  });

  it('"isobroker/json-v1" holds the plug-in and the JSON v1-only names, documented, and "isobroker" none of them', () => {
    expect(Object.keys(jsonV1Entry)).toEqual(expect.arrayContaining(['jsonV1', 'JSON_PATH']));
    expect(Object.keys(jsonV1Entry).filter((n) => rootNames.includes(n))).toEqual([]);
    const decls = exportedDeclarations('src/json-v1.ts');
    expect(decls.map((d) => d.name)).toContain('jsonV1');
    expect(decls.filter((d) => !d.documented).map((d) => `${d.name} (${d.where})`)).toEqual([]);
  });

  it('"isobroker/backbone" holds the backbone, documented, and "isobroker" none of it', () => {
    expect(Object.keys(backboneEntry)).toEqual(
      expect.arrayContaining(['NatsBackbone', 'linkBackbone', 'PresenceTracker', 'MemoryNats', 'MasterLease']),
    );
    expect(Object.keys(backboneEntry).filter((n) => rootNames.includes(n))).toEqual([]);
    const decls = exportedDeclarations('src/backbone.ts');
    expect(decls.map((d) => d.name)).toContain('NatsBackbone');
    expect(decls.filter((d) => !d.documented).map((d) => `${d.name} (${d.where})`)).toEqual([]);
  });
});
