/**
 * `isobroker/node` without nats.js installed: the entry loads (nothing imports `nats` at module
 * load), and loading nats.js on first use turns "not installed" into `missing_dependency`.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadNats } from '../../src/node/backbone/load-nats.js';

vi.mock('nats', () => {
  throw new Error('nats is not installed (mocked)');
});

/** An importer that fails the way Node does for a missing package. */
const missing = (specifier: string) => {
  const e = new Error(`Cannot find package '${specifier}' imported from /app/x.js`) as Error & { code: string };
  e.code = 'ERR_MODULE_NOT_FOUND';
  return Promise.reject(e);
};

describe('isobroker/node without the nats package', () => {
  it('the entry loads; only connecting needs nats', async () => {
    await expect(import('nats')).rejects.toThrow(); // the mock is in force
    const node = await import('isobroker/node');
    expect(typeof node.listen).toBe('function');
    expect(typeof node.connectNats).toBe('function');
    await expect(node.connectNats('nats://127.0.0.1:4222')).rejects.toThrow();
  });

  it('a missing package is missing_dependency naming what to install; other failures pass through', async () => {
    await expect(loadNats(missing)).rejects.toMatchObject({
      code: 'missing_dependency',
      message: expect.stringContaining('npm install nats@2'),
    });
    // A module missing inside an installed nats is a broken install, not a missing dependency.
    await expect(loadNats(() => missing('nkeys.js'))).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
    const broken = new Error('boom');
    await expect(loadNats(() => Promise.reject(broken))).rejects.toBe(broken);
  });
});
