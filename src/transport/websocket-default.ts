/**
 * The default WebSocket constructor: isomorphic-ws resolves to `ws` in Node.js and to the
 * browser's own WebSocket in bundles for the web (its package `browser` field).
 */
import WebSocketImpl from 'isomorphic-ws';
import type { WebSocketConstructor } from './websocket-transport.js';

export const DefaultWebSocket = WebSocketImpl as unknown as WebSocketConstructor;
