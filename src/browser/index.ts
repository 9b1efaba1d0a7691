/** isobroker/browser — browser adapters: prompt reconnects on `online`, IndexedDB clone persistence. */
export { reconnectOnOnline } from './online.js';
export type { OnlineTarget } from './online.js';
