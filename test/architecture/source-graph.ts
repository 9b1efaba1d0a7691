/**
 * Reads the module graph of `src/` with the TypeScript parser: every import/export/`import()`/
 * `require()` specifier, whether it is type-only, and identifiers that name platform globals.
 * Used by the architecture tests; the helpers take source text so the tests can prove they fire.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SRC = join(REPO, 'src');

export interface ImportRef {
  readonly specifier: string;
  /** `import type …` / `export type … from` (erased at compile time). */
  readonly typeOnly: boolean;
  readonly line: number;
}

export interface GlobalRef {
  readonly name: string;
  readonly line: number;
}

/** All `.ts` files under `dir`, as paths relative to the repository (forward slashes). */
export function listSources(dir: string = SRC): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(toRepoPath(p));
    }
  };
  walk(dir);
  return out.sort();
}

export function toRepoPath(abs: string): string {
  return relative(REPO, abs).split(sep).join('/');
}

export function readSource(repoPath: string): string {
  return readFileSync(join(REPO, repoPath), 'utf8');
}

function parse(text: string): ts.SourceFile {
  return ts.createSourceFile('x.ts', text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

/** Every module specifier the text refers to. */
export function importsOf(text: string): ImportRef[] {
  const sf = parse(text);
  const out: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (c.name === undefined &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(sf, node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, line: lineOf(sf, node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) out.push({ specifier: e.text, typeOnly: node.isTypeOnly, line: lineOf(sf, node) });
    } else if (ts.isCallExpression(node)) {
      const [arg] = node.arguments;
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isImport || isRequire) && arg && ts.isStringLiteralLike(arg)) {
        out.push({ specifier: arg.text, typeOnly: false, line: lineOf(sf, node) });
      }
    } else if (ts.isImportTypeNode(node)) {
      const a = node.argument;
      if (ts.isLiteralTypeNode(a) && ts.isStringLiteral(a.literal)) {
        out.push({ specifier: a.literal.text, typeOnly: true, line: lineOf(sf, node) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/**
 * Identifiers in `names` used as values (not as property names, object keys, or declarations of
 * the same name), plus `globalThis.<name>` accesses. Comments and strings are ignored.
 */
export function globalsUsed(text: string, names: ReadonlySet<string>): GlobalRef[] {
  const sf = parse(text);
  const out: GlobalRef[] = [];
  // Not scope-aware: a name the file declares itself anywhere (a parameter `process`, a function
  // `location`) is taken to be that declaration everywhere in the file.
  const declared = new Set<string>();
  const collect = (node: ts.Node): void => {
    const name = (node as { name?: ts.Node }).name;
    if (
      name !== undefined &&
      ts.isIdentifier(name) &&
      (ts.isVariableDeclaration(node) ||
        ts.isParameter(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isBindingElement(node) ||
        ts.isImportSpecifier(node) ||
        ts.isImportClause(node) ||
        ts.isNamespaceImport(node))
    ) {
      declared.add(name.text);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && names.has(node.text) && !declared.has(node.text)) {
      const p = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(p) && p.name === node) ||
        (ts.isPropertyAssignment(p) && p.name === node) ||
        (ts.isPropertySignature(p) && p.name === node) ||
        (ts.isPropertyDeclaration(p) && p.name === node) ||
        (ts.isMethodDeclaration(p) && p.name === node) ||
        (ts.isMethodSignature(p) && p.name === node) ||
        (ts.isParameter(p) && p.name === node) ||
        (ts.isVariableDeclaration(p) && p.name === node) ||
        (ts.isBindingElement(p) && (p.name === node || p.propertyName === node)) ||
        ts.isImportSpecifier(p) ||
        ts.isExportSpecifier(p) ||
        ts.isQualifiedName(p) ||
        (ts.isGetAccessor(p) && p.name === node) ||
        (ts.isSetAccessor(p) && p.name === node);
      if (!isPropertyName) out.push({ name: node.text, line: lineOf(sf, node) });
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'globalThis' &&
      names.has(node.name.text)
    ) {
      out.push({ name: `globalThis.${node.name.text}`, line: lineOf(sf, node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const BUILTINS: ReadonlySet<string> = new Set(builtinModules.filter((m) => !m.startsWith('_')));

/** True for `node:*` and Node's built-in modules by bare name (`fs`, `fs/promises`, `crypto`, …). */
export function isNodeBuiltin(specifier: string): boolean {
  if (specifier.startsWith('node:')) return true;
  return BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]!);
}

/**
 * Resolves a relative specifier of `fromFile` (repo path) to a repo path: `./x.js` → `x.ts`.
 * Bare specifiers return undefined.
 */
export function resolveRelative(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const abs = resolve(join(REPO, dirname(fromFile)), specifier);
  const withTs = abs.endsWith('.js') ? `${abs.slice(0, -3)}.ts` : abs.endsWith('.ts') ? abs : `${abs}.ts`;
  return toRepoPath(withTs);
}

/** Strongly connected components with more than one module (or a self-import): the cycles. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}
