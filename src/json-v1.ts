/**
 * isobroker/json-v1 — Broker's JSON v1 WebSocket protocol (Zeek's `Broker::listen_websocket`,
 * `Cluster::listen_websocket`) as a plug-in of `Endpoint`. An application that peers with a Zeek
 * registers it:
 *
 * ```ts
 * import { Endpoint } from 'isobroker';
 * import { jsonV1 } from 'isobroker/json-v1';
 * const ep = new Endpoint({ protocols: [jsonV1] });
 * await ep.peer('ws://zeek:27759/v1/messages/json');
 * ```
 *
 * An application that only talks to isobroker hubs (native protocol) never imports this entry and
 * bundles none of JSON v1. The Node listener (`listen` from `isobroker/node`) registers it on the
 * endpoint it serves, so hubs keep serving JSON v1 clients at `/v1/messages/json`.
 */
export { jsonV1 } from './endpoint/json-v1/plugin.js';
export { JSON_PATH } from './endpoint/peering.js';
export {
  BROKER_JSON_CLIENT_BUFFER_SIZE,
  DEFAULT_CLIENT_MAX_MESSAGE_SIZE,
  DEFAULT_CLIENT_MAX_STRING_SIZE,
} from './endpoint/links.js';
export type { ProtocolPlugin } from './endpoint/protocol.js';
