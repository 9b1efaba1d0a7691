/** API keys (src/node/auth/api-keys.ts): format, hashing, and lookup against policy entries. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_HASH_PATTERN,
  API_KEY_PATTERN,
  findApiKey,
  generateApiKey,
  hashApiKey,
  isApiKeyShaped,
} from '../../../src/node/auth/api-keys.js';

describe('API keys', () => {
  it('are isbk_ and 43 base64url characters holding 256 random bits, all different', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateApiKey();
      expect(k).toMatch(API_KEY_PATTERN);
      expect(Buffer.from(k.slice(5), 'base64url')).toHaveLength(32);
      keys.add(k);
    }
    expect(keys.size).toBe(200);
  });

  it('hash as sha256:<hex> of the whole key', () => {
    const k = generateApiKey();
    const h = hashApiKey(k);
    expect(h).toMatch(API_KEY_HASH_PATTERN);
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(h).toBe(`sha256:${createHash('sha256').update(k).digest('hex')}`);
    expect(h).not.toContain(k.slice(5));
  });

  it('are found by their hash; wrong, malformed and removed keys are not', () => {
    const [k1, k2, k3] = [generateApiKey(), generateApiKey(), generateApiKey()];
    const entries = [
      { id: 'bad-entry', hash: 'sha256:zz' },
      { id: 'one', hash: hashApiKey(k1) },
      { id: 'two', hash: hashApiKey(k2).toUpperCase().replace('SHA256', 'sha256') },
      { id: 'three', hash: hashApiKey(k3) },
    ];
    expect(findApiKey(entries, k1)?.id).toBe('one');
    expect(findApiKey(entries, k3)?.id).toBe('three');
    // Upper-case hex matches too (the policy file may spell it either way).
    expect(findApiKey(entries, k2)?.id).toBe('two');
    expect(findApiKey(entries, generateApiKey())).toBeUndefined();
    // One character off, truncated, extended, without the prefix, or the hash itself.
    const off = k1.slice(0, -1) + (k1.endsWith('A') ? 'B' : 'A');
    for (const wrong of [off, k1.slice(0, -1), `${k1}A`, k1.slice(5), hashApiKey(k1), '', 'isbk_']) {
      expect(findApiKey(entries, wrong)).toBeUndefined();
    }
    // Removed from the policy (a revocation by key removal): no longer found.
    expect(
      findApiKey(
        entries.filter((e) => e.id !== 'one'),
        k1,
      ),
    ).toBeUndefined();
    expect(isApiKeyShaped(k1)).toBe(true);
    expect(isApiKeyShaped(`${k1} `)).toBe(false);
  });
});
