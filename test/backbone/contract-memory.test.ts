/** The backbone contract on the in-memory NATS (one "server", a host per connection), exact and superset mode. */
import { MemoryNats, type MemoryNatsConnection } from '../../src/backbone/memory-nats.js';
import { type BackboneWorld, backboneContract } from './contract.js';

async function memoryWorld(n: number): Promise<BackboneWorld> {
  const nats = new MemoryNats({ seed: 1 });
  const connections: MemoryNatsConnection[] = [];
  for (let i = 0; i < n; i++) connections.push(nats.connect({ name: `c${i}`, noEcho: true, host: `h${i}` }));
  return {
    connections,
    disconnect: (i) => nats.disconnect(connections[i]!),
    reconnect: (i) => nats.reconnect(connections[i]!),
    close: () => nats.close(),
  };
}

backboneContract('memory NATS', memoryWorld);
backboneContract('memory NATS', memoryWorld, { superset: true });
