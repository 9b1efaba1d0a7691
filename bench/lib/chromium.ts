/**
 * Real Chromium for browser benchmarks: the one that scripts/find-chromium.mjs finds, driven by
 * playwright-core (never a downloaded browser); esbuild bundles of the page entries in
 * `bench/browser/` (which import the SDK by relative path); and a small HTTP server on 127.0.0.1
 * that serves a page.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type * as ChromiumLookup from '../../scripts/find-chromium.mjs';

/**
 * scripts/find-chromium.mjs, the repository's one Chromium lookup (`npm test` and the browser tests
 * use it too). It is plain Node ESM outside the bench build, so it is imported at run time from
 * where it is: the same file whether this module runs compiled (`dist/bench/lib/`) or from source.
 */
const lookup: typeof ChromiumLookup = await import(
  new URL(
    import.meta.url.endsWith('.js') ? '../../../scripts/find-chromium.mjs' : '../../scripts/find-chromium.mjs',
    import.meta.url,
  ).href
);

let lookupError: string | undefined;
function lookUp(): string | undefined {
  try {
    return lookup.findChromium();
  } catch (e) {
    lookupError = (e as Error).message; // CHROMIUM_PATH names no executable
    return undefined;
  }
}
const found = lookUp();

/** The Chromium binary that the lookup finds (`CHROMIUM_PATH` overrides it); '' when there is none. */
export const CHROMIUM_PATH: string = found ?? '';
/** Flags for a quiet headless Chromium in a container. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Why Chromium cannot run here, or undefined when it can. */
export function chromiumUnavailable(): string | undefined {
  return found === undefined ? (lookupError ?? lookup.CHROMIUM_MISSING) : undefined;
}

/** {@link CHROMIUM_PATH}, or an error saying why there is none (never playwright's own browser). */
function executablePath(): string {
  if (found === undefined) throw new Error(chromiumUnavailable());
  return found;
}

/** Launches headless Chromium with {@link CHROMIUM_ARGS}. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: executablePath(), headless: true, args: [...CHROMIUM_ARGS] });
}

/**
 * Launches headless Chromium with a profile in `userDataDir`, so IndexedDB and other storage live
 * on disk as in a user's browser (a plain `browser.newContext()` is incognito: storage in memory).
 * Closing the returned context ends the browser.
 */
export async function launchChromiumWithProfile(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: executablePath(),
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}

/**
 * The TypeScript source of a page entry, `bench/browser/<name>.ts`, found from this compiled file
 * (`dist/bench/lib/`) or from the source tree.
 */
export function pageSource(name: string): string {
  for (const rel of [`../../../bench/browser/${name}.ts`, `../browser/${name}.ts`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find the page source bench/browser/${name}.ts`);
}

/** Bundles a page entry for the browser (ESM, ES2022, minified as an application would ship it). */
export async function bundlePage(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

/** An HTTP server on 127.0.0.1 that serves one page: `/` loads `/page.js` as a module. */
export interface PageServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `js` as `/page.js` under a minimal HTML page titled `title`, on a free port of 127.0.0.1. */
export function servePage(js: string, title: string): Promise<PageServer> {
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><script type="module" src="/page.js"></script><body></body>`;
  const server: Server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/' || req.url === '/index.html')
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else if (req.url === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
