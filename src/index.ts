/**
 * isobroker — the public API: endpoints, Broker data, Zeek events and logs, data stores, cluster
 * nodes, pools and layouts, errors, and the pure parts of authorization (principals, byte-prefix
 * ACLs, the policy model, audit events). Runs unchanged in Node.js and browsers; verifying
 * credentials (JWT, API keys), policy files and audit logs are in `isobroker/node`.
 *
 * This entry holds what an application uses; every name here is documented where it is declared
 * and kept stable. Wire-format internals (codecs, frames, message kinds, sessions, the topic trie,
 * log text formatting) live in `src/internal.ts`, which is not part of the package's exports.
 *
 * Failures reach an application through one channel: calls that return a promise reject with an
 * `IsobrokerError`, synchronous calls throw one, and failures that belong to no call (a peer that
 * cannot be reached, a listener that threw) are `error` events of the component's `on('error')`.
 *
 * Broker JSON v1 (peering with a Zeek) is a plug-in in `isobroker/json-v1`, so that an application
 * that only talks to isobroker hubs does not bundle it.
 */

// --- errors
export {
  ClosedError,
  ConfigError,
  DecodeError,
  IsobrokerError,
  ProtocolError,
  STORE_ERROR_CODES,
  StoreError,
  TimeoutError,
  ValueError,
} from './errors.js';
export type { StoreErrorCode } from './errors.js';

// --- data model
export {
  address,
  boolean,
  count,
  enumValue,
  from,
  integer,
  isData,
  none,
  now,
  port,
  real,
  set,
  string,
  subnet,
  table,
  timespan,
  timespanFromSeconds,
  timestamp,
  timestampFromSeconds,
  vector,
} from './data/constructors.js';
export type { TimespanParts } from './data/constructors.js';
export { compare, equals } from './data/order.js';
export { formatAddress, parseAddress } from './data/address.js';
export { toBrokerString, toText } from './data/text.js';
export { DEFAULT_TO_JS_OPTIONS, dataToJs, toBigInt, toDate, toNumber } from './data/to-js.js';
export type { JsValue, ToJsOptions } from './data/to-js.js';
export { DataMap, DataSet } from './data/data-map.js';
export type {
  AddressData,
  BooleanData,
  CountData,
  Data,
  DataType,
  EnumData,
  IntegerData,
  NoneData,
  PortData,
  PortProtocol,
  RealData,
  SetData,
  StringData,
  SubnetData,
  TableData,
  TimespanData,
  TimestampData,
  VectorData,
} from './data/types.js';

// --- Zeek messages
export {
  makeBatch,
  makeEvent,
  makeIdentifierUpdate,
  makeLogCreate,
  makeLogWrite,
  makeZeekMessage,
} from './message/builders.js';
export type { EventOptions, LogCreateFields, LogWriteFields } from './message/builders.js';
export { isZeekEvent, parseZeekMessage } from './message/parse.js';
export type {
  MetadataEntry,
  ParseZeekMessageOptions,
  ZeekBatch,
  ZeekEvent,
  ZeekIdentifierUpdate,
  ZeekLogCreate,
  ZeekLogWrite,
  ZeekMessage,
  ZeekMessageKind,
} from './message/types.js';

// --- transports (the seam an endpoint dials through)
export { MemoryNetwork } from './transport/memory-network.js';
export { websocketConnector } from './transport/websocket-transport.js';
export type { Connector, DialOptions, Frame, Transport, TransportHandlers } from './transport/transport.js';
export { bearerProtocols } from './endpoint/token-source.js';
export type { WebSocketConstructor, WebSocketLike } from './transport/websocket-transport.js';

// --- endpoint
export { Endpoint } from './endpoint/endpoint.js';
export type { EndpointEvents, Subscription } from './endpoint/endpoint.js';
export type { PeerInfo } from './endpoint/sessions.js';
export type { Message, MessageHandler } from './endpoint/local-subscriptions.js';
export type { TopicGuardRegistration } from './endpoint/topic-guards.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_RETRY_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_RETRY_MS,
  DEFAULT_TTL,
  DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS,
  ISOBROKER_VERSION,
} from './endpoint/endpoint-options.js';
export type { EndpointOptions, PeerOptions, WhenRoutableOptions } from './endpoint/endpoint-options.js';
export { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES } from './util/send-queue.js';
export type { OverflowPolicy, SendQueueStats } from './util/send-queue.js';
export { DEFAULT_LINKS, DEFAULT_TRUSTED_MAX_MESSAGE_SIZE, DEFAULT_TRUSTED_MAX_STRING_SIZE } from './endpoint/links.js';
export type { JsonServerLinkOptions, LinkOptions, LinksOptions } from './endpoint/links.js';
export { NATIVE_PATH } from './endpoint/peering.js';
// Broker JSON v1 is a plug-in in `isobroker/json-v1` (`jsonV1`, `JSON_PATH`, its client limits).
export type { ProtocolPlugin } from './endpoint/protocol.js';
export type { PeerProtocol, PeeringState } from './endpoint/peering.js';
export type { ErrorCode, ErrorEvent, PeerRef, StatusCode, StatusEvent } from './endpoint/status.js';
export type { Timers } from './util/timers.js';
export { isEndpointId, newEndpointId } from './util/ids.js';
export type { ListenerErrorHandler, Unsubscribe } from './util/emitter.js';

// --- data stores
export { createMemoryBackend } from './store/memory-backend.js';
export type { ScanPage, StoreBackend, StoreEntry } from './store/backend.js';
export { createMemoryPersistence } from './store/memory-persistence.js';
export type { CloneCheckpoint, ClonePersistence, PersistChange, PersistedClone } from './store/persistence.js';
export {
  DEFAULT_CLONE_OPTIONS,
  DEFAULT_MASTER_OPTIONS,
  StoreClone,
  StoreMaster,
  createClone,
  createMaster,
} from './store/stores.js';
export type { CloneOptions, Expiry, MasterOptions, WriteOptions } from './store/stores.js';
export type { CloneStatus } from './store/clone.js';
export type { StoreChangeEvent } from './store/store-events.js';
export { installStoreGuard } from './store/install-store-guard.js';

// --- authorization (credentials are verified by isobroker/node)
export { AUTH_ERROR_CODES, AuthCloseCode, AuthError } from './auth/types.js';
export type {
  AcceptAuth,
  AuditEvent,
  AuditKind,
  AuditSink,
  AuthErrorCode,
  AuthMethod,
  Authenticate,
  ConnectionInfo,
  Credential,
  Grant,
  PrefixAcl,
  Principal,
  PrincipalLimits,
  Revalidate,
  StorePermission,
  SubscriptionDecision,
  TopicGuard,
} from './auth/types.js';
export { compileAcl } from './auth/prefix-acl.js';
export { parsePolicy } from './auth/policy.js';
export type { ApiKeyEntry, Policy, PolicyParseResult, Revocations, RoleDef } from './auth/policy-model.js';

// --- cluster: layouts, nodes, topics
export { ROLES, connectionsOf, defaultLayout, loggersOf, nodeByName, parseLayout } from './cluster/layout.js';
export type { ClusterLayout, NodeSpec, Role } from './cluster/layout.js';
export { ClusterNode, DEFAULT_CLUSTER_NODE_OPTIONS, HELLO_EVENT, nodeUrl } from './cluster/cluster-node.js';
export type { ClusterEvents, ClusterNodeOptions, NodeState } from './cluster/cluster-node.js';
export { ROLE_TOPICS, nodeTopic, nodeidTopic, roleTopic } from './cluster/topics.js';

// --- cluster: pools
export { fnv1a32 } from './cluster/hash.js';
export type { HrwKey } from './cluster/hash.js';
export {
  DEFAULT_POOL_REGISTRY_OPTIONS,
  LOGGER_POOL_SPEC,
  PROXY_POOL_SPEC,
  Pool,
  PoolRegistry,
  WORKER_POOL_SPEC,
  hrwTopic,
  rrTopic,
} from './cluster/pools.js';
export type { PoolNode, PoolRegistryNode, PoolRegistryOptions, PoolSpec } from './cluster/pools.js';

// --- cluster: Broker-backed tables
export { BackedTable, DEFAULT_BACKED_TABLE_OPTIONS, backedTableStoreName } from './cluster/backed-table.js';
export type { BackedTableEvents, BackedTableOptions } from './cluster/backed-table.js';

// --- cluster: logging
export { DEFAULT_LOG_ROUTER_OPTIONS, LogRouter } from './logging/router.js';
export type { LogRouterEvents, LogRouterOptions, LogRouterStats } from './logging/router.js';
export { defineLogStream } from './logging/stream.js';
export type {
  LogColumn,
  LogColumnSpec,
  LogColumnType,
  LogScalarType,
  LogStream,
  LogStreamSpec,
} from './logging/types.js';
export { fromRecord, toRecord } from './logging/record.js';
export { CONN_LOG, KNOWN_HOSTS_LOG } from './logging/zeek-streams.js';
export {
  DEFAULT_JSON_FORMAT_OPTIONS,
  DEFAULT_TSV_FORMAT_OPTIONS,
  createJsonFormat,
  createTsvFormat,
} from './logging/format.js';
export type { JsonFormatOptions, LogFormat, TsvFormatOptions } from './logging/format.js';
export type { LogTimeZone } from './logging/text.js';
export { DEFAULT_LOG_WRITER_OPTIONS, createMemoryLogWriter } from './logging/writer.js';
export type {
  LogBatchKey,
  LogWriter,
  LogWriterOptions,
  MemoryLogWriter,
  RotationInfo,
} from './logging/writer.js';
export { parseZeekTsv, zeekCut } from './logging/tsv-parse.js';
export type { ZeekTsvHeader, ZeekTsvLog } from './logging/tsv-parse.js';
