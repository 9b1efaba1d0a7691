/**
 * Registers the store permission checks (`store-guard.ts`) with an endpoint for `<$>/store/`, so
 * that what non-trusted connections publish and subscribe there is checked against their
 * principal's store permissions. `createMaster` calls it (a hub hosting masters enforces it); a hub
 * that only routes store traffic calls it itself when auth is on.
 */
import type { AuthError, Principal, TopicGuard } from '../auth/types.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { STORE_TOPIC_PREFIX, storeGuard, storeSubscribeGuard } from './store-guard.js';

/** The endpoint's guard hook (`Endpoint.addTopicGuard`), seen structurally. */
interface GuardHost {
  addTopicGuard(
    prefix: string,
    guard: { publish: TopicGuard; subscribe?(prefix: string, principal: Principal): AuthError | undefined },
  ): () => void;
}

const installed = new WeakSet<object>();

/**
 * Guards `<$>/store/` on `endpoint` with the store permissions (once per endpoint; later calls do
 * nothing). Returns false when the endpoint has no guard hook — then non-trusted connections get
 * no store traffic at all only if the endpoint fails closed on its own.
 */
export function installStoreGuard(endpoint: Endpoint): boolean {
  if (installed.has(endpoint)) return true;
  const host = endpoint as unknown as Partial<GuardHost>;
  if (typeof host.addTopicGuard !== 'function') return false;
  host.addTopicGuard(STORE_TOPIC_PREFIX, { publish: storeGuard, subscribe: storeSubscribeGuard });
  installed.add(endpoint);
  return true;
}
