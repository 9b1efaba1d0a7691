/**
 * Real Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), and esbuild bundles of test pages that import the public entries.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
export const PAGE_HTML = '<!doctype html><meta charset="utf-8"><title>isobroker test</title><script type="module" src="/page.js"></script><body></body>';
