/**
 * The README's quick start is executable documentation: extract it, run it, and check that what it
 * prints is what its comments say. Each `console.log(…); // text` line of the block claims that the
 * call prints `text`; the block must print exactly those lines, in that order.
 */
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { expect, it, vi } from 'vitest';

it('runs the README quick start as written', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const m = /<!-- quickstart[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  expect(m, 'README has a quickstart block').not.toBeNull();
  const file = fileURLToPath(new URL('./readme-quickstart.generated.ts', import.meta.url));
  const block = m![1]!;
  const claimed = [...block.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((c) => c[1]!.trimEnd());
  expect(claimed.length, 'the quick start shows what it prints').toBeGreaterThan(0);
  writeFileSync(file, block);
  const logs: string[] = [];
  // Printed as Node prints it (util.format is what console.log uses), without colours.
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(format(...args)));
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    spy.mockRestore();
    rmSync(file, { force: true });
  }
  expect(logs).toEqual(claimed);
  // Decoded values, never an object dump such as `[Object]`.
  for (const line of logs) expect(line).not.toMatch(/\[Object\]|\{ type:/);
});
