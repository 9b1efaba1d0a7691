/**
 * Child process of the `auth` benchmark: an isobroker hub (`new Endpoint({ role: 'hub' })` +
 * `listen` on 127.0.0.1, a free port) in one of three set-ups, chosen by `--mode`:
 *
 * - `plain`: `ws://`, no authentication (as the `pubsub` section's hub);
 * - `auth`: `ws://` with `auth.authenticate` from `createAuthenticator` over the policy in
 *   `<dir>/policy.json` (checked with `parsePolicy`, held by a `PolicyHolder`);
 * - `tls`: `wss://` with `<dir>/tls.crt` and `<dir>/tls.key`, no authentication.
 *
 * Answers `stats` on stdin (send-buffer overflows, peers; see `./rpc.ts`) and `profile-start` /
 * `profile-stop {path}` (a V8 CPU profile of a stretch of work). Prints `ready <url>`
 * once it listens; exits when stdin closes or on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy } from '../../src/auth/policy.js';
import { Endpoint } from '../../src/index.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { PolicyHolder } from '../../src/node/auth/policy-file.js';
import { listen, type ListenOptions } from '../../src/node/index.js';
import { startCpuProfile, stopCpuProfile } from './profiler.js';
import { serveRpc } from './rpc.js';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? undefined : process.argv[i + 1];
  if (v === undefined) throw new Error(`auth-hub-server: ${name} is required`);
  return v;
}

const mode = arg('--mode');
const dir = arg('--dir');
const base: ListenOptions = { host: '127.0.0.1', port: 0 };
let options: ListenOptions;
if (mode === 'plain') options = base;
else if (mode === 'tls') {
  options = { ...base, tls: { cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')) } };
} else if (mode === 'auth') {
  const parsed = parsePolicy(JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')));
  if (parsed.policy === undefined) throw new Error(`invalid policy:\n${parsed.errors.join('\n')}`);
  const { authenticate } = createAuthenticator(new PolicyHolder(parsed.policy));
  // The per-IP rate of new connections (500/s by default with auth) is lifted: every client of
  // the benchmark comes from 127.0.0.1, and the connect benchmark measures the cost of
  // verifying tokens, not that limit.
  options = { ...base, auth: { authenticate }, limits: { newConnectionsPerIpPerSecond: 0 } };
} else throw new Error(`auth-hub-server: unknown --mode ${JSON.stringify(mode)}`);

const hub = new Endpoint({ role: 'hub', name: `bench-hub-${mode}` });
const listener = await listen(hub, options);

function stats(): { overflows: number; peers: number } {
  let overflows = 0;
  const peers = hub.peers();
  for (const p of peers) overflows += p.stats?.overflows ?? 0;
  return { overflows, peers: peers.length };
}

async function shutdown(): Promise<void> {
  await hub.close();
  await listener.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    stats,
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write(`ready ${listener.url}\n`);
