/** Principals with store permissions, and a hub whose clients connect as them, for the store-permission tests. */
import { FULL_ACCESS } from '../../src/auth/prefix-acl.js';
import type { Principal, StorePermission } from '../../src/auth/types.js';
import { Endpoint, MemoryNetwork } from 'isobroker';
import type { Transport } from '../../src/transport/transport.js';

/** A token-authenticated principal holding `stores` (name → permission) and every ordinary topic. */
export function storePrincipal(sub: string, stores: Record<string, StorePermission>): Principal {
  return {
    sub,
    roles: ['test'],
    node: null,
    router: false,
    publish: FULL_ACCESS,
    subscribe: FULL_ACCESS,
    storeAccess: (name) => (Object.hasOwn(stores, name) ? stores[name] : undefined),
    limits: { publishRate: 0, publishBurst: 1000, maxSubscriptions: 1024, storeCommandsInFlight: 1024 },
    strict: false,
    expiresAt: undefined,
    issuedAt: undefined,
    credentialId: undefined,
    method: 'token',
  };
}

/** A hub on a memory network whose clients each connect with their own principal. */
export interface AuthHub {
  readonly net: MemoryNetwork;
  readonly hub: Endpoint;
  /** A leaf client of the hub, accepted as `principal` (`hub.accept(t, 'native', { conn, principal })`). */
  client(principal: Principal): Promise<Endpoint>;
  /** A trusted endpoint peered with the hub (no principal: a cluster node or in-process). */
  trusted(name: string, linkKind: 'leaf' | 'router'): Promise<Endpoint>;
  close(): Promise<void>;
}

/** Starts a hub listening as `hub` on a new memory network. */
export function authHub(): AuthHub {
  const net = new MemoryNetwork();
  const eps: Endpoint[] = [];
  const hub = new Endpoint({ name: 'hub', connector: net.connector, linkKind: 'router' });
  eps.push(hub);
  net.listen('hub', hub);
  const dial = async (name: string, linkKind: 'leaf' | 'router', url: string): Promise<Endpoint> => {
    const ep = new Endpoint({ name, connector: net.connector, linkKind, retry: 20, maxRetry: 200 });
    eps.push(ep);
    await ep.peer(url);
    return ep;
  };
  return {
    net,
    hub,
    client: (principal) => {
      const host = `hub-${principal.sub}`;
      net.listen(host, {
        accept: (t: Transport, protocol: 'native' | 'json') =>
          hub.accept(t, protocol, {
            conn: { ip: '127.0.0.1', remote: `memory:${principal.sub}`, protocol },
            principal,
          }),
      });
      return dial(principal.sub, 'leaf', `ws://${host}`);
    },
    trusted: (name, linkKind) => dial(name, linkKind, 'ws://hub'),
    close: async () => {
      await Promise.all(eps.map((e) => e.close()));
    },
  };
}
