/** The README's quick start is executable documentation: extract it and run it. */
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

it('runs the README quick start as written', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const m = /<!-- quickstart[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  expect(m, 'README has a quickstart block').not.toBeNull();
  const file = fileURLToPath(new URL('./readme-quickstart.generated.ts', import.meta.url));
  writeFileSync(file, m![1]!);
  const logs: unknown[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args) => void logs.push(args));
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    spy.mockRestore();
    rmSync(file, { force: true });
  }
  expect(logs).toHaveLength(1);
  expect(logs[0]).toEqual([
    {
      topic: 'zeek/events/conn',
      data: expect.objectContaining({ type: 'vector' }),
    },
  ]);
});
