/** isobroker/node — Node.js adapters: WebSocket listener, SQLite store backend, file log writer. */
export { DEFAULT_LISTEN_HOST, DEFAULT_MAX_PAYLOAD, DEFAULT_WS_PING_INTERVAL_MS, listen } from './listener.js';
export type { ListenOptions, Listener } from './listener.js';
export { DEFAULT_SQLITE_OPTIONS, openSqliteBackend } from './sqlite-backend.js';
export type { SqliteBackendOptions, SqliteFailureMode, SqliteJournalMode, SqliteSynchronous } from './sqlite-backend.js';
