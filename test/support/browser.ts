/**
 * Real Chromium for browser tests, driven by playwright-core (never a downloaded browser): the one
 * that scripts/find-chromium.mjs finds (`CHROMIUM_PATH`, else Debian's /usr/bin/chromium or another
 * usual location) — the same lookup `npm test` runs first. And esbuild bundles of test pages that
 * import the public entries.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_MISSING, findChromium } from '../../scripts/find-chromium.mjs';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/** Where Chromium is; a browser test file fails (never skips) when there is none. */
export const CHROMIUM_PATH: string = requireChromium();

function requireChromium(): string {
  const path = findChromium();
  if (path === undefined) throw new Error(`${CHROMIUM_MISSING} (or run \`node scripts/find-chromium.mjs\` as root)`);
  return path;
}
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** Bundles a page script for the browser, resolving the package's public specifiers to sources. */
export async function bundlePage(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: {
      isobroker: here('../../src/index.ts'),
      'isobroker/browser': here('../../src/browser/index.ts'),
    },
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

/** A minimal HTML page that loads `/page.js` as a module. */
export const PAGE_HTML =
  '<!doctype html><meta charset="utf-8"><title>isobroker test</title><script type="module" src="/page.js"></script><body></body>';
