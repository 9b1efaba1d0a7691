/**
 * The one Chromium lookup (scripts/find-chromium.mjs), shared by `npm test`'s first step and
 * test/support/browser.ts: its order, `CHROMIUM_PATH` errors, and the script's exit codes.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { findChromium, which } from '../../scripts/find-chromium.mjs';

const SCRIPT = fileURLToPath(new URL('../../scripts/find-chromium.mjs', import.meta.url));
const only =
  (...present: string[]) =>
  (p: string): boolean =>
    present.includes(p);

describe('findChromium', () => {
  it('prefers CHROMIUM_PATH, then the usual locations in order, then PATH', () => {
    const env = { PATH: '/a:/b' };
    expect(
      findChromium({ env: { ...env, CHROMIUM_PATH: '/x/chrome' }, exists: only('/x/chrome', '/usr/bin/chromium') }),
    ).toBe('/x/chrome');
    expect(findChromium({ env, exists: only('/usr/bin/google-chrome', '/snap/bin/chromium') })).toBe(
      '/usr/bin/google-chrome',
    );
    expect(findChromium({ env, exists: only('/snap/bin/chromium') })).toBe('/snap/bin/chromium');
    expect(findChromium({ env, exists: only('/b/chromium-browser', '/a/google-chrome') })).toBe('/b/chromium-browser');
    expect(findChromium({ env, exists: only('/b/google-chrome-stable') })).toBe('/b/google-chrome-stable');
    expect(findChromium({ env: { ...env, CHROMIUM_PATH: '' }, exists: only('/a/chromium') })).toBe('/a/chromium');
  });

  it('finds nothing when nothing is there', () => {
    expect(findChromium({ env: { PATH: '/a:/b' }, exists: only() })).toBeUndefined();
    expect(findChromium({ env: {}, exists: only('/a/chromium') })).toBeUndefined();
  });

  it('rejects a CHROMIUM_PATH that is not an executable instead of falling back', () => {
    expect(() =>
      findChromium({ env: { CHROMIUM_PATH: '/no/such/chrome' }, exists: only('/usr/bin/chromium') }),
    ).toThrow(/CHROMIUM_PATH=\/no\/such\/chrome/);
  });

  it('which() scans PATH for an executable', () => {
    expect(which('node', process.env.PATH)).toMatch(/node$/);
    expect(which('no-such-program-isobroker', process.env.PATH)).toBeUndefined();
    expect(which('sh', '/nowhere')).toBeUndefined();
  });
});

describe('the script and the browser tests agree', () => {
  // Any executable stands in for Chromium here, so this runs on a machine without one.
  const env = { ...process.env, CHROMIUM_PATH: process.execPath };

  it('the script prints the executable it found', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`find-chromium: ${process.execPath}\n`);
  });

  it('test/support/browser.ts launches what the same lookup finds', async () => {
    vi.stubEnv('CHROMIUM_PATH', process.execPath);
    vi.resetModules();
    try {
      const { CHROMIUM_PATH } = await import('../support/browser.js');
      expect(CHROMIUM_PATH).toBe(process.execPath);
      vi.stubEnv('CHROMIUM_PATH', '/no/such/chrome');
      vi.resetModules();
      await expect(import('../support/browser.js')).rejects.toThrow(/CHROMIUM_PATH=\/no\/such\/chrome/);
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('exits non-zero at once, with one line, for a CHROMIUM_PATH that is not there', () => {
    const r = spawnSync(process.execPath, [SCRIPT], {
      encoding: 'utf8',
      env: { ...env, CHROMIUM_PATH: '/no/such/chrome' },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'find-chromium: CHROMIUM_PATH=/no/such/chrome is not an executable file',
    ]);
  });
});
