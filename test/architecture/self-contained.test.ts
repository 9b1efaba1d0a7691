/**
 * The repository is self-contained: a fresh clone has everything its sources, tests, configs,
 * scripts and the web demo read. No file may refer to a path outside the clone — a relative path
 * that climbs above the repository root, a sibling `../shared` folder, a developer's machine
 * (`/work/…`, home folders) — nor cite design documents that only exist beside the repository
 * (`DESIGN.md`, `CONVENTIONS.md`); the repository's own docs are README.md, ARCHITECTURE.md and
 * PROTOCOL.md.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './source-graph.js';

interface OutsideRef {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

/** Files that never count as the repository's own text. */
// The planted bad paths are assembled, so that this file itself holds none of them literally.
const UP_SHARED = ['..', 'shared'].join('/');
const WORK_SHARED = ['', 'work', 'shared'].join('/');
const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist', '.cluster', 'test-results', 'coverage']);
const BINARY = /\.(png|jpe?g|gif|ico|webp|woff2?|ttf|sqlite3?|db|gz|tgz|zip|wasm)$/i;

/** This file: its examples of bad references prove the check fires, so the scan passes it over. */
const SELF = 'test/architecture/self-contained.test.ts';

const PATTERNS: readonly { readonly re: RegExp; readonly why: string }[] = [
  { re: /(?:\.\.[/\\])+shared\b/, why: 'refers to a ../shared folder beside the repository' },
  { re: /(?<![\w.:/-])\/work\//, why: 'absolute path on a developer machine' },
  { re: /(?<![\w.:/-])\/(?:home|Users)\/[\w.-]+\//, why: 'absolute home-folder path' },
  { re: /(?<![\w.:/-])\/root\//, why: "absolute path in root's home folder" },
  { re: /[A-Za-z]:\\\\?Users\\/, why: 'absolute Windows home-folder path' },
  { re: /file:\/\/\/(?:work|home|root|Users)\//, why: 'file URL on a developer machine' },
  { re: /\b(?:DESIGN|CONVENTIONS)\.md\b/, why: 'cites a document that is not in the repository' },
];

/** Every reference in `text` (the contents of repository file `file`) that leaves the repository. */
function outsideRefs(file: string, text: string, root: string = REPO): OutsideRef[] {
  const found: OutsideRef[] = [];
  // Code under src/, server/ and bench/ also runs compiled, from dist/<same path>
  // (tsconfig.build.json), so its `new URL('../…', import.meta.url)` may count from either place.
  const dirs = [dirname(join(root, file))];
  if (/^(?:src|server|bench)\//.test(file)) dirs.push(dirname(join(root, 'dist', file)));
  const inside = (p: string): boolean => p === root || p.startsWith(root + sep);
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    const add = (why: string): void => {
      found.push({ file, line: i + 1, text: lineText.trim().slice(0, 160), why });
    };
    for (const { re, why } of PATTERNS) if (re.test(lineText)) add(why);
    // A relative path starting with `../` climbs from the file's folder: it must stay inside.
    for (const m of lineText.matchAll(/(?<![\w./\\-])((?:\.\.[/\\])+)/g)) {
      if (!dirs.some((d) => inside(resolve(d, m[1]!)))) {
        add(`relative path ${m[1]} climbs above the repository root`);
        break;
      }
    }
  });
  return found;
}

/** The repository's files: tracked and not-ignored untracked ones (git), else a walk of the tree. */
function repositoryFiles(root: string = REPO): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return [...new Set(out.split('\0').filter((f) => f !== ''))].sort();
  } catch {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) {
          if (!SKIP_DIRS.has(e.name) && relative(root, join(d, e.name)) !== join('web-demo', 'dist'))
            walk(join(d, e.name));
        } else if (e.isFile()) files.push(relative(root, join(d, e.name)).split(sep).join('/'));
      }
    };
    walk(root);
    return files.sort();
  }
}

function isText(abs: string): boolean {
  if (BINARY.test(abs)) return false;
  const head = readFileSync(abs).subarray(0, 8192);
  return !head.includes(0);
}

describe('the check itself fires', () => {
  const scan = (file: string, text: string): string[] => outsideRefs(file, text).map((r) => r.why);

  it('flags paths that leave the repository', () => {
    expect(scan('test/codec/x.test.ts', `new URL('../../${UP_SHARED}/vectors/a.json', import.meta.url)`)).not.toEqual(
      [],
    );
    expect(scan('test/codec/x.test.ts', `readFileSync('..' + '/shared/x.json')`)).toEqual([]); // not a path literal
    expect(scan('test/x.ts', `readFileSync('${UP_SHARED}/x.json')`)).toEqual([
      'refers to a ../shared folder beside the repository',
    ]);
    expect(scan('test/x.ts', ` * see ${WORK_SHARED}/vectors/hrw.json`)).toEqual([
      'absolute path on a developer machine',
    ]);
    expect(scan('src/x.ts', `const p = '/home/alice/isobroker/x';`)).toEqual(['absolute home-folder path']);
    expect(scan('src/x.ts', `const p = '/Users/bob/x';`)).toEqual(['absolute home-folder path']);
    expect(scan('src/x.ts', `const p = '/root/.cache/x';`)).toEqual(["absolute path in root's home folder"]);
    expect(scan('src/x.ts', `const u = 'file:///home/alice/x';`)).not.toEqual([]);
    expect(scan('src/x.ts', `// C:\\Users\\carol\\x`)).toEqual(['absolute Windows home-folder path']);
    expect(scan('test/a/b.ts', `import x from '../../../y.js';`)).toEqual([
      'relative path ../../../ climbs above the repository root',
    ]);
    expect(scan('src/a/b.ts', `import x from '../../../../y.js';`)).toEqual([
      'relative path ../../../../ climbs above the repository root',
    ]);
    expect(scan('server/x.ts', `new URL('../../../bin/x.js', import.meta.url)`)).toEqual([
      'relative path ../../../ climbs above the repository root',
    ]);
    expect(scan('package.json', `"test": "node ../x.js"`)).toEqual([
      'relative path ../ climbs above the repository root',
    ]);
  });

  it('flags citations of documents beside the repository', () => {
    expect(scan('src/x.ts', `// as in DESIGN.md §1`)).toEqual(['cites a document that is not in the repository']);
    expect(scan('test/x.ts', ` * (CONVENTIONS.md)`)).toEqual(['cites a document that is not in the repository']);
  });

  it('accepts paths inside the repository, system paths and URLs', () => {
    expect(scan('src/a/b.ts', `import x from '../../src/y.js';`)).toEqual([]);
    expect(scan('server/x.ts', `new URL('../../bin/isobroker.js', import.meta.url)`)).toEqual([]); // from dist/server/
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the scanned text is source code holding a template literal
    expect(scan('test/support/f.ts', 'new URL(`../fixtures/${name}`, import.meta.url)')).toEqual([]);
    expect(scan('test/support/browser.ts', `'/usr/bin/chromium', '/opt/google/chrome/chrome'`)).toEqual([]);
    expect(scan('src/x.ts', `fetch('https://example.org/work/home/root/')`)).toEqual([]);
    expect(scan('src/x.ts', `// ARCHITECTURE.md, Layers; PROTOCOL.md`)).toEqual([]);
    expect(scan('.ci/run', `cd "$(dirname "$0")/.."`)).toEqual([]);
  });
});

describe('the repository', () => {
  const files = repositoryFiles();

  it('has its files to check, including the test fixtures', () => {
    expect(files).toContain('package.json');
    expect(files).toContain(SELF);
    expect(files).toContain('test/fixtures/vectors/broker-json-v1.json');
    expect(files).toContain('test/fixtures/vectors/hrw.json');
    expect(files.some((f) => f.startsWith('src/'))).toBe(true);
    expect(files.some((f) => f.startsWith('web-demo/'))).toBe(true);
  });

  it('refers to nothing outside itself', () => {
    const refs: string[] = [];
    for (const file of files) {
      const abs = join(REPO, file);
      let isFile = false;
      try {
        isFile = statSync(abs).isFile(); // a file deleted in the working tree is still listed
      } catch {
        isFile = false;
      }
      if (file === SELF || !isFile || !isText(abs)) continue;
      for (const r of outsideRefs(file, readFileSync(abs, 'utf8')))
        refs.push(`${r.file}:${r.line}: ${r.why}: ${r.text}`);
    }
    expect(refs).toEqual([]);
  });
});
