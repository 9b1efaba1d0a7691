/**
 * Registers the store permission checks (`store-guard.ts`) with an endpoint for `<$>/store/`, so
 * that what non-trusted connections publish and subscribe there is checked against their
 * principal's store permissions. `createMaster` calls it (a hub hosting masters enforces it); a hub
 * that only routes store traffic calls it itself when auth is on.
 */
import type { Endpoint } from '../endpoint/endpoint.js';
import { StoreCommandsInFlight } from './store-commands-in-flight.js';
import { STORE_TOPIC_PREFIX, storeDeliveryGuard, storeGuard, storeSubscribeGuard } from './store-guard.js';

const installed = new WeakSet<Endpoint>();

/**
 * Guards `<$>/store/` on `endpoint` with the store permissions: publishes through `storeGuard`,
 * subscriptions through `storeSubscribeGuard`, and — where the endpoint checks deliveries of
 * internal topics (`deliver`) — deliveries through `storeDeliveryGuard`; each connection's store
 * commands awaiting their ack are limited (`StoreCommandsInFlight`). Once per endpoint; later calls
 * do nothing.
 */
export function installStoreGuard(endpoint: Endpoint): void {
  if (installed.has(endpoint)) return;
  installed.add(endpoint);
  const registration = {
    publish: storeGuard,
    subscribe: storeSubscribeGuard,
    deliver: storeDeliveryGuard,
    connection: () => new StoreCommandsInFlight(),
  };
  endpoint.addTopicGuard(STORE_TOPIC_PREFIX, registration);
}
