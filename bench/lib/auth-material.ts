/**
 * What the `auth` benchmark section prepares before it starts its hubs, in a private temporary
 * directory: an HS256 signing key (`key.json`, the key-file format `isobroker token` reads), the
 * hub's policy (`policy.json`: that key and one role with 10 allow and 2 deny prefixes for publish
 * and subscribe), and a self-signed certificate for 127.0.0.1 made with the `openssl` CLI
 * (`tls.crt`, `tls.key`). Nothing here is ever logged.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy } from '../../src/auth/policy.js';
import type { ProcessSet } from './processes.js';

/** The `kid` of the benchmark's signing key. */
export const AUTH_BENCH_KID = 'bench-k1';
/** The role every benchmark client's token carries. */
export const AUTH_BENCH_ROLE = 'bench';
/** The role's 10 allow prefixes (publish and subscribe). */
export const AUTH_BENCH_ALLOW: readonly string[] = Array.from({ length: 10 }, (_, i) => `bench/auth/a${i}/`);
/**
 * The role's 2 deny prefixes. The first lies inside the allow prefix of the published topic, so
 * the subscription is kept but filtered: every delivery is checked against the deny (the dearer
 * path of the ACL).
 */
export const AUTH_BENCH_DENY: readonly string[] = ['bench/auth/a3/secret/', 'bench/auth/a7/private/'];
/** The topic the publisher publishes to: inside `bench/auth/a3/`, under no deny. */
export const AUTH_BENCH_TOPIC = 'bench/auth/a3/data';
/** The prefix the subscribers subscribe to. */
export const AUTH_BENCH_SUBSCRIPTION = 'bench/auth/a3/';
/** A topic whose allow prefix (`bench/auth/a5/`) has no deny inside it: deliveries need no deny check. */
export const AUTH_BENCH_OPEN_TOPIC = 'bench/auth/a5/data';
/** The subscription that goes with `AUTH_BENCH_OPEN_TOPIC` (kept, not filtered). */
export const AUTH_BENCH_OPEN_SUBSCRIPTION = 'bench/auth/a5/';

/** Paths of the prepared material. */
export interface AuthMaterial {
  readonly dir: string;
  /** The hub's policy (JSON, holds the secret). */
  readonly policyPath: string;
  /** The signing key, `{"kid", "alg": "HS256", "secret"}`. */
  readonly keyPath: string;
  /** Self-signed certificate for 127.0.0.1 (PEM); clients trust it as their CA. */
  readonly certPath: string;
  /** Its private key (PEM). */
  readonly certKeyPath: string;
}

/** The benchmark's policy as JSON (what `policy.json` holds). */
export function authBenchPolicy(secret: string): Record<string, unknown> {
  const grant = { allow: [...AUTH_BENCH_ALLOW], deny: [...AUTH_BENCH_DENY] };
  return {
    version: 1,
    keys: [{ kid: AUTH_BENCH_KID, alg: 'HS256', secret }],
    roles: {
      [AUTH_BENCH_ROLE]: {
        publish: grant,
        subscribe: grant,
        // The default publish rate (10,000/s) would be the bottleneck: a limit this high never
        // bites, but the token bucket is still consulted for every message.
        limits: { publishRate: 1_000_000_000, publishBurst: 1_000_000_000 },
      },
    },
  };
}

/** Writes the key, the policy (checked with `parsePolicy`) and the certificate into a new temporary directory of `procs`. */
export function makeAuthMaterial(procs: ProcessSet): AuthMaterial {
  const dir = procs.tempDir('isobroker-bench-auth-');
  const secret = randomBytes(32).toString('base64url');
  const policy = authBenchPolicy(secret);
  const parsed = parsePolicy(policy);
  if (parsed.policy === undefined) throw new Error(`benchmark policy is invalid:\n${parsed.errors.join('\n')}`);
  const policyPath = join(dir, 'policy.json');
  const keyPath = join(dir, 'key.json');
  writeFileSync(policyPath, JSON.stringify(policy), { mode: 0o600 });
  writeFileSync(keyPath, JSON.stringify({ kid: AUTH_BENCH_KID, alg: 'HS256', secret }), { mode: 0o600 });
  const certPath = join(dir, 'tls.crt');
  const certKeyPath = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      certKeyPath,
      '-out',
      certPath,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
    ],
    { stdio: 'pipe' },
  );
  return { dir, policyPath, keyPath, certPath, certKeyPath };
}
