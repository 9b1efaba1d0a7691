/**
 * Child process of the backbone benchmark: one isobroker hub (`new Endpoint({ role: 'hub' })` +
 * the Node listener on 127.0.0.1, a free port), joined either to the NATS backbone or to other
 * hubs by native peerings, on commands read from stdin (see `./rpc.ts`):
 *
 * - `attach {servers}`: `connectNats(servers, { noRandomize })` (the first URL is its home server)
 *   and `attachBackbone` in namespace `bench`, hosting one cluster node named after the hub;
 * - `reattach`: detaches, closes the NATS connection and attaches again (back to the home server);
 * - `peer {url}`: a native peering with another hub;
 * - `server`: the NATS server the connection uses now; `present`: the endpoint names presence
 *   sees up; `events`: presence events with their wall-clock time (`Date.now()`), oldest first;
 *   `stats`: the backbone link's statistics; `profile-start` / `profile-stop {path}`: a V8 CPU
 *   profile of this process over a stretch of work.
 *
 * Prints `ready <url>` once it listens; exits when stdin closes or on SIGTERM.
 */
import { Endpoint } from '../../src/index.js';
import { attachBackbone, connectNats, listen, type NatsClient } from '../../src/node/index.js';
import type { BackboneLink } from '../../src/endpoint/backbone-link.js';
import { startCpuProfile, stopCpuProfile } from './profiler.js';
import { serveRpc } from './rpc.js';

/** A presence event as this hub saw it. */
export interface HubPresenceEvent {
  readonly kind: 'endpointUp' | 'endpointDown' | 'nodeUp' | 'nodeDown';
  readonly name: string;
  /** `Date.now()` when the event fired here. */
  readonly at: number;
}

const name = process.argv[2] ?? 'bench-hub';
const hub = new Endpoint({ role: 'hub', name });
const listener = await listen(hub, { host: '127.0.0.1', port: 0 });

let servers: readonly string[] = [];
let nc: NatsClient | undefined;
let link: BackboneLink | undefined;
const events: HubPresenceEvent[] = [];

async function attach(): Promise<{ id: string }> {
  nc = await connectNats(servers, { name, extra: { noRandomize: true } });
  const l = attachBackbone(hub, nc, {
    namespace: 'bench',
    rttInterval: 0,
    nodes: [{ name, role: 'worker', id: hub.id }],
  });
  link = l;
  for (const kind of ['endpointUp', 'endpointDown', 'nodeUp', 'nodeDown'] as const) {
    l.presence.on(kind, (e: { name: string }) => {
      if (l === link) events.push({ kind, name: e.name, at: Date.now() });
    });
  }
  return { id: hub.id };
}

async function detach(): Promise<void> {
  const c = nc;
  link = undefined;
  nc = undefined;
  // endpoint.detachBackbone, not link.detach: only the former lets the endpoint attach again.
  await hub.detachBackbone();
  await c?.close().catch(() => {});
}

async function shutdown(): Promise<void> {
  await detach();
  await hub.close();
  await listener.close();
}

process.once('SIGTERM', () => {
  void shutdown().finally(() => process.exit(0));
});

serveRpc(
  {
    attach: (args) => {
      servers = (args as { servers: string[] }).servers;
      return attach();
    },
    reattach: async () => {
      await detach();
      return attach();
    },
    peer: async (args) => {
      await hub.peer((args as { url: string }).url);
    },
    server: () => nc?.getServer() ?? null,
    present: () => link?.presence.endpoints().map((e) => e.name) ?? [],
    events: () => events,
    stats: () => link?.stats() ?? null,
    'profile-start': () => startCpuProfile(),
    'profile-stop': (args) => stopCpuProfile((args as { path: string }).path),
  },
  shutdown,
);
process.stdout.write(`ready ${listener.url}\n`);
