/** isobroker/node — Node.js adapters: WebSocket listener, SQLite store backend, file log writer. */
export {};
