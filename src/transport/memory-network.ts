/**
 * An in-memory network for tests and simulations: endpoints "listen" on names, and a connector
 * dials `ws://name…` URLs by creating a memory transport pair. Links can be cut to simulate
 * failures.
 */
import { IsobrokerError } from '../errors.js';
import { memoryPair, type MemoryPairOptions } from './memory-transport.js';
import type { Connector, Transport } from './transport.js';

/** Whatever accepts connections: an Endpoint fits. */
export interface Acceptor {
  accept(transport: Transport, protocol: 'native' | 'json'): void;
}

/** An in-memory network of named hosts: endpoints peer by `ws://<host>` URLs without sockets (tests, demos). */
export class MemoryNetwork {
  private readonly hosts = new Map<string, Acceptor>();
  private readonly links = new Set<Transport>();

  constructor(private readonly pairOptions: MemoryPairOptions = {}) {}

  /** Makes `acceptor` reachable as `ws://<name>`. */
  listen(name: string, acceptor: Acceptor): string {
    this.hosts.set(name, acceptor);
    return `ws://${name}`;
  }

  unlisten(name: string): void {
    this.hosts.delete(name);
  }

  /** A connector that reaches the acceptors of this network. */
  readonly connector: Connector = async (url: string) => {
    const m = /^wss?:\/\/([^/]+)(\/[^?#]*)?/.exec(url);
    const host = m ? this.hosts.get(m[1]!) : undefined;
    if (!m || !host) throw new IsobrokerError('peer_unavailable', `no memory host for ${url}`);
    const [client, server] = memoryPair({ ...this.pairOptions, remoteA: url, remoteB: `memory-client:${m[1]}` });
    this.links.add(client);
    this.links.add(server);
    host.accept(server, m[2] === '/v1/messages/json' ? 'json' : 'native');
    return client;
  };

  /** Closes every connection made so far (a network outage). */
  cutAll(): void {
    for (const t of this.links) t.close(1006, 'link cut');
    this.links.clear();
  }
}
