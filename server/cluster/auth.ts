/**
 * Authentication for the cluster launcher: the policy every node enforces, and the tokens the
 * launcher mints — one per node (its role, `node` claim = its name) and short-lived ones for the
 * dashboard page.
 *
 * `--demo` without `--policy` runs with auth on as well: a fresh HS256 secret is made in memory
 * at start and written, with the demo policy (`demoPolicy`), into a private temporary directory
 * (0700, files 0600) that is removed when the launcher stops — or, should the launcher be killed
 * by SIGKILL, by the next demo launcher (the directory's name holds the launcher's pid). With `--policy FILE` the operator's
 * policy is used and `--key-file` (with `--kid`) is the signing key the launcher mints with.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClusterLayout, NodeSpec } from '../../src/index.js';
import { loadPolicyFile, PolicyFileError } from '../../src/node/auth/policy-file.js';
import { FatalError, readOptionFile } from '../cli/args.js';
import { mintToken, parseSigningKey, type SigningKey } from '../cli/token.js';

/** Lifetime of a node's token, s (renewed through the launcher before it expires). */
export const NODE_TOKEN_TTL_SECONDS = 3600;
/** Lifetime of the dashboard page's token, s (the page asks `/token` again before it expires). */
export const DASHBOARD_TOKEN_TTL_SECONDS = 900;
/** The role and subject of the dashboard page's tokens. */
export const DASHBOARD_ROLE = 'dashboard';
/**
 * What the dashboard reads: the demo's events, and its stats and log tails inside the reserved
 * `isobroker/` (a role that reads there lists its prefixes; `""` would cover all of `isobroker/`).
 */
export const DASHBOARD_SUBSCRIBE = ['demo/', 'isobroker/stats/', 'isobroker/logtail/'] as const;
/**
 * Where the dashboard's publish form may publish in the demo: under `demo/` (the form's default
 * topic is `demo/browser`), not among the cluster's own topics.
 */
export const DASHBOARD_PUBLISH = ['demo/'] as const;

/** The launcher's auth: the policy file the nodes get, and token minting. */
export interface ClusterAuth {
  /** Absolute path of the policy file passed to every node (`--policy`). */
  readonly policyFile: string;
  /** Whether the policy was generated for the demo (then in a temporary directory). */
  readonly generated: boolean;
  /** A token for node `spec` (role = its role, node claim = its name). */
  mintNode(spec: NodeSpec): Promise<string>;
  /** A short-lived token for the dashboard page. */
  mintDashboard(): Promise<{ token: string; expiresAt: number }>;
  /** Removes the generated secret and policy (nothing for an operator's policy). */
  dispose(): void;
}

/**
 * The demo policy: node roles (`manager`, `logger`, `proxy`, `worker`, and `hub` for hubs that
 * join) may use every topic, the reserved ones included, and host any store; `dashboard` may
 * read what the dashboard shows (`demo/`, and the stats and log tails inside `isobroker/`),
 * publish its form's events under `demo/` and read (clone) the `known_hosts` store — the page
 * writes no store. There is no anonymous role: a client without a token is refused
 * (`unauthenticated`), as under an operator's policy.
 */
export function demoPolicy(kid: string, secret: string): Record<string, unknown> {
  const node = {
    publish: { allow: [''] },
    subscribe: { allow: [''] },
    stores: { '*': 'master' },
  };
  return {
    version: 1,
    keys: [{ kid, alg: 'HS256', secret }],
    roles: {
      manager: node,
      logger: node,
      proxy: node,
      worker: node,
      hub: node,
      [DASHBOARD_ROLE]: {
        publish: { allow: [...DASHBOARD_PUBLISH] },
        subscribe: { allow: [...DASHBOARD_SUBSCRIBE] },
        stores: { known_hosts: 'read' },
        maxTokenLifetimeSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
      },
    },
  };
}

function minter(key: SigningKey, kid: string | undefined): Pick<ClusterAuth, 'mintNode' | 'mintDashboard'> {
  const k = kid !== undefined ? { kid } : {};
  return {
    mintNode: (spec) =>
      mintToken({ key, ...k, sub: spec.name, roles: [spec.role], node: spec.name, ttlSeconds: NODE_TOKEN_TTL_SECONDS }),
    async mintDashboard() {
      const nowMs = Date.now();
      const token = await mintToken({
        key,
        ...k,
        sub: DASHBOARD_ROLE,
        roles: [DASHBOARD_ROLE],
        ttlSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
        nowMs,
      });
      return { token, expiresAt: Math.floor(nowMs / 1000) * 1000 + DASHBOARD_TOKEN_TTL_SECONDS * 1000 };
    },
  };
}

/** Prefix of the demo's temporary directories: `isobroker-demo-auth-<launcher pid>-XXXXXX`. */
export const DEMO_AUTH_DIR_PREFIX = 'isobroker-demo-auth-';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes demo secrets left behind by launchers that could not clean up (killed by SIGKILL):
 * this user's directories whose launcher pid is gone.
 */
export function removeStaleDemoAuthDirs(dir = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^isobroker-demo-auth-(\d+)-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      if (statSync(path).uid === process.getuid?.()) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** Generates the demo's secret and policy in a private temporary directory. */
export async function demoClusterAuth(): Promise<ClusterAuth> {
  removeStaleDemoAuthDirs();
  const dir = mkdtempSync(join(tmpdir(), `${DEMO_AUTH_DIR_PREFIX}${process.pid}-`));
  try {
    const secret = randomBytes(32).toString('base64url');
    const kid = `demo-${randomBytes(4).toString('hex')}`;
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, `${JSON.stringify(demoPolicy(kid, secret), null, 2)}\n`, { mode: 0o600 });
    const key = await parseSigningKey(secret, 'HS256');
    return {
      policyFile,
      generated: true,
      ...minter(key, kid),
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The operator's policy (checked now: an invalid one stops the launcher with every error) and
 * signing key. `layout`'s roles should be roles of the policy; the dashboard's is `dashboard`.
 */
export async function policyClusterAuth(
  policy: string,
  keyFile: string,
  kid: string | undefined,
  layout: ClusterLayout,
  warn: (line: string) => void,
): Promise<ClusterAuth> {
  const policyFile = resolve(policy);
  // Throws a PolicyFileError listing every problem.
  const loaded = await loadPolicyFile(policyFile);
  for (const w of loaded.warnings) warn(`policy warning: ${w}`);
  for (const role of [...new Set([...layout.nodes.map((n) => n.role), DASHBOARD_ROLE])]) {
    if (!loaded.policy.roles.has(role))
      warn(
        `policy warning: the policy defines no role ${JSON.stringify(role)} (${role === DASHBOARD_ROLE ? 'the dashboard' : 'nodes of that role'} will be refused)`,
      );
  }
  const key = await parseSigningKey(readOptionFile(keyFile, '--key-file'));
  if (kid === undefined && key.kid === undefined)
    throw new FatalError('--kid: required: the key file names no kid (the policy key id to sign with)');
  return { policyFile, generated: false, ...minter(key, kid), dispose: () => undefined };
}

export { PolicyFileError };
