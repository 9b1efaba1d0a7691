/**
 * The backbone contract (test/backbone/contract.ts) on a real three-server nats-server cluster:
 * connection i is pinned to server i mod 3 (its first server, no randomising), so traffic crosses
 * the cluster's routes; exact and superset mode. Each connection goes through a TCP proxy of its own, which cuts it off
 * its server (the client sees `disconnect`, reconnects on its own once the proxy lets it back).
 */
import { afterAll, beforeAll } from 'vitest';
import { connectNats, type NatsClient } from '../../src/node/index.js';
import { type BackboneWorld, backboneContract } from '../backbone/contract.js';
import {
  describeNats,
  type NatsCluster,
  type NatsProxy,
  natsProxy,
  startNatsCluster,
} from '../support/nats-cluster.js';

describeNats('NatsBackbone on a three-server NATS cluster', () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  /** `n` connections, connection i through a proxy of its own to server i mod 3. */
  async function natsWorld(n: number): Promise<BackboneWorld> {
    const proxies: NatsProxy[] = [];
    const connections: NatsClient[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const proxy = await natsProxy(cluster.urls[i % cluster.urls.length]!);
        proxies.push(proxy);
        connections.push(
          await connectNats(proxy.url, {
            name: `contract-${i}`,
            reconnectTimeWait: 100,
            extra: { ignoreClusterUpdates: true, noRandomize: true },
          }),
        );
      }
    } catch (e) {
      await Promise.all(connections.map((c) => c.close()));
      await Promise.all(proxies.map((p) => p.close()));
      throw e;
    }
    return {
      connections,
      disconnect: (i) => proxies[i]!.cut(),
      reconnect: (i) => proxies[i]!.restore(),
      async close() {
        await Promise.all(connections.map((c) => c.close()));
        await Promise.all(proxies.map((p) => p.close()));
      },
    };
  }

  const name = 'real NATS cluster (3 servers, each connection pinned to a different one)';
  backboneContract(name, natsWorld);
  backboneContract(name, natsWorld, { superset: true });
});
