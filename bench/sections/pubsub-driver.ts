/**
 * Child process of the pub/sub benchmark that runs the clients of one system (publisher and
 * subscribers) and answers the benchmark's commands on stdin (see `../lib/rpc.ts`):
 * `setup {system, url, subscribers}`, `round RoundSpec`, `teardown`, and `profile-start` /
 * `profile-stop {path}` for a V8 CPU profile of this process. Started with `--netns`
 * (inside `unshare -n`, a private network namespace) it can also start mosquitto there:
 * `start-mosquitto {dir}` → `{url, pid}` (its configuration goes into `dir`); mosquitto's WebSocket listener binds every interface, which
 * in a fresh namespace is only its own loopback.
 *
 * Exits when stdin closes or on SIGTERM, stopping its clients and its broker.
 */
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { serveRpc } from '../lib/rpc.js';
import { SYSTEMS, openClients, type PubSubClients, type SystemId } from './pubsub-clients.js';
import { PubSubLoad, type RoundSpec } from './pubsub-load.js';
import { startMosquittoHere, type Mosquitto } from './pubsub-mosquitto.js';

const READY_TIMEOUT_MS = 10_000;

interface SetupArgs {
  readonly system: SystemId;
  readonly url: string;
  readonly subscribers: number;
}

let clients: PubSubClients | undefined;
let load: PubSubLoad | undefined;
let mosquitto: Mosquitto | undefined;

async function setup(args: unknown): Promise<{ subscribers: number }> {
  const a = args as SetupArgs;
  if (!SYSTEMS.includes(a.system)) throw new Error(`unknown system '${String(a.system)}'`);
  await teardown();
  const l = new PubSubLoad(a.subscribers);
  clients = await openClients(a.system, a.url, a.subscribers, l.deliver);
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

async function startMosquitto(args: unknown): Promise<{ url: string; pid: number }> {
  if (!process.argv.includes('--netns'))
    throw new Error('mosquitto is only started inside a private network namespace (--netns)');
  if (mosquitto !== undefined) throw new Error('mosquitto already started');
  mosquitto = await startMosquittoHere((args as { dir: string }).dir, READY_TIMEOUT_MS);
  return { url: mosquitto.url, pid: mosquitto.pid };
}

async function shutdown(): Promise<void> {
  try {
    await teardown();
  } finally {
    mosquitto?.stop();
    mosquitto = undefined;
  }
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    setup,
    round,
    teardown,
    'start-mosquitto': startMosquitto,
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
