/** isobroker/node — Node.js adapters: WebSocket listener, TLS peerings, SQLite store backend, file log writer. */
export {
  DEFAULT_LISTEN_HOST,
  DEFAULT_MAX_CLIENT_PAYLOAD,
  DEFAULT_MAX_JSON_PAYLOAD,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_WS_PING_INTERVAL_MS,
  listen,
  listenWarnings,
} from './listener/listener.js';
export { BROKER_ANONYMOUS_TLS, peer, resolveTlsOptions, tlsConnector, tlsWebSocket } from './tls.js';
export type { NodePeerOptions, TlsOptions } from './tls.js';
export type { ListenAuthOptions, ListenOptions, Listener } from './listener/listener.js';
export type { ConnectionLimits } from './listener/connection-limits.js';
export type { TlsCertificates, TlsServingOptions } from './listener/tls-server.js';
export { ISOBROKER_SUBPROTOCOL } from '../endpoint/token-source.js';

// --- authentication: tokens, API keys, the policy file, audit log
export { createAuthenticator } from './auth/authenticator.js';
export type { Authenticator, AuthenticatorOptions, PolicySource } from './auth/authenticator.js';
export { PolicyFileError, PolicyHolder, loadPolicyFile } from './auth/policy-file.js';
export type { LoadedPolicy, PolicyHolderOptions, PolicyReloadResult } from './auth/policy-file.js';
export { openAuditLog } from './auth/audit-log.js';
export type { AuditLog, AuditLogOptions } from './auth/audit-log.js';
export { verifyToken } from './auth/jwt.js';
export type { JWTPayload, TokenKey, TokenPolicy } from './auth/jwt.js';
export { generateApiKey, hashApiKey } from './auth/api-keys.js';
// Principals from verified claims, for hubs that verify credentials their own way.
export {
  TRUSTED_PRINCIPAL,
  anonymousPrincipal,
  principalFromClaims,
  principalFromRoles,
  revalidatePrincipal,
} from '../auth/principal.js';
export type { RolePrincipalSpec } from '../auth/principal.js';
export { DEFAULT_SQLITE_OPTIONS, openSqliteBackend } from './sqlite/backend.js';
export type {
  SqliteBackendOptions,
  SqliteFailureMode,
  SqliteJournalMode,
  SqliteSynchronous,
} from './sqlite/backend.js';
export type { SqliteDatabase, SqliteStatement } from './sqlite/database.js';
export {
  DEFAULT_FILE_LOG_WRITER_OPTIONS,
  DEFAULT_ON_LOG_WRITER_ERROR,
  createFileLogWriter,
} from './file-log-writer.js';
export type { FileLogWriter, FileLogWriterOptions } from './file-log-writer.js';

// --- metrics: Prometheus text on GET /metrics (prom-client), read at scrape time
export { createMetrics } from './metrics/metrics.js';
export type { Metrics, MetricsOptions } from './metrics/metrics.js';
export { METRICS_PATH, METRICS_ROLE, defaultMetricsAllow, metricsHandler } from './metrics/http-handler.js';
export type { MetricsAuthOptions, MetricsHandler } from './metrics/http-handler.js';
export { serveMetrics } from './metrics/metrics-server.js';
export type { MetricsServer, MetricsServerOptions } from './metrics/metrics-server.js';
export type { MeteredStore } from './metrics/store-metrics.js';
export type { MetricsLinkKind } from './metrics/endpoint-metrics.js';

// --- the NATS backbone: nats.js (optional peer dependency `nats`) loaded on first use
export { connectNats } from './backbone/connect.js';
export type { ConnectNatsOptions } from './backbone/connect.js';
export { natsLeaseKv } from './backbone/nats-lease-kv.js';
export type { NatsLeaseKvOptions } from './backbone/nats-lease-kv.js';
export type { NatsClient, NatsJetStreamConnection } from './backbone/load-nats.js';
export { attachBackbone } from './backbone/attach.js';
export type { AttachBackboneOptions } from './backbone/attach.js';
