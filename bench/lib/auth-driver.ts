/**
 * Child process of the `auth` benchmark that runs the clients of one hub and answers the
 * benchmark's commands on stdin (see `./rpc.ts`): `setup {url, subscribers, keyPath?, caPath?}`,
 * `round RoundSpec` (the `pubsub` section's load), `teardown`, and
 * `connects {url, n, concurrency, keyPath?, caPath?}` → `ConnectResult`, and
 * `probe-auth {url, keyPath}` (throws unless the hub refuses a token-less connection and drops a
 * message published under a deny).
 *
 * Exits when stdin closes or on SIGTERM, closing its clients.
 */
import { PubSubLoad, type RoundSpec } from '../sections/pubsub-load.js';
import type { PubSubClients } from '../sections/pubsub-clients.js';
import { openAuthHubClients, probeAuth, runConnects, type ConnectSpec, type DialSpec } from './auth-clients.js';
import { serveRpc } from './rpc.js';

const READY_TIMEOUT_MS = 10_000;

let clients: PubSubClients | undefined;
let load: PubSubLoad | undefined;

async function setup(args: unknown): Promise<{ subscribers: number }> {
  const a = args as DialSpec & { subscribers: number };
  await teardown();
  const l = new PubSubLoad(a.subscribers);
  clients = await openAuthHubClients(a, a.subscribers, l.deliver);
  l.attach(clients);
  load = l;
  await l.ready(READY_TIMEOUT_MS);
  return { subscribers: a.subscribers };
}

async function round(args: unknown): Promise<unknown> {
  if (load === undefined || clients === undefined) throw new Error('round before setup');
  const result = await load.round(args as RoundSpec);
  return { ...result, clientDrops: clients.clientDrops() };
}

async function teardown(): Promise<void> {
  const c = clients;
  clients = undefined;
  load = undefined;
  if (c !== undefined) await c.close();
}

process.once('SIGTERM', () => {
  void teardown().finally(() => process.exit(0));
});

serveRpc(
  {
    setup,
    round,
    teardown,
    connects: (args) => runConnects(args as ConnectSpec),
    'probe-auth': (args) => probeAuth(args as DialSpec),
  },
  teardown,
);
