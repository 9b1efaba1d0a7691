/** isobroker/browser — browser adapters: prompt reconnects on `online`, IndexedDB clone persistence. */
export { reconnectOnOnline } from './online.js';
export type { OnlineTarget } from './online.js';
export {
  DEFAULT_ON_PERSISTENCE_ERROR,
  INDEXEDDB_NAME_PREFIX,
  INDEXEDDB_OBJECT_STORE,
  createIndexedDbPersistence,
} from './indexeddb-persistence.js';
export type { IndexedDbPersistenceOptions } from './indexeddb-persistence.js';
