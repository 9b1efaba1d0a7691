/** Principals with store permissions for the store-permission tests. */
import { FULL_ACCESS } from '../../src/auth/prefix-acl.js';
import type { Principal, StorePermission } from '../../src/auth/types.js';

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
