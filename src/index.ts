/**
 * isobroker — the isomorphic core: Broker data model, codecs, Zeek message layouts, topics,
 * endpoints and the WebSocket client. Runs unchanged in Node.js and browsers.
 */

// --- errors
export {
  ClosedError,
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
  timestamp,
  timespanFromSeconds,
  timestampFromSeconds,
  vector,
} from './data/constructors.js';
export type { TimespanParts } from './data/constructors.js';
export { compare, equals } from './data/order.js';
export { addressToString, formatAddress, isIPv4, parseAddress } from './data/address.js';
export {
  formatEpochSeconds,
  formatRealFixed,
  formatTimespan,
  formatTimestampMs,
  toBrokerString,
  toText,
} from './data/text.js';
export { DEFAULT_TO_JS_OPTIONS, dataToJs, toBigInt, toDate, toNumber } from './data/to-js.js';
export type { JsValue, ToJsOptions } from './data/to-js.js';
export { DataMap, DataSet, dataKey } from './data/data-map.js';
export { DATA_TYPES, MAX_COUNT, MAX_INTEGER, MIN_INTEGER, PORT_PROTOCOLS } from './data/types.js';
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

// --- codec: Broker JSON v1
export { JsonNumber, JsonObject } from './codec/json-node.js';
export type { JsonNode } from './codec/json-node.js';
export { DEFAULT_JSON_LIMITS, parseJson } from './codec/json-parse.js';
export type { JsonLimits } from './codec/json-parse.js';
export { decodeJsonData } from './codec/json-v1-decode.js';
export { DEFAULT_JSON_ENCODE_OPTIONS, encodeJsonData, encodeJsonMessage } from './codec/json-v1-encode.js';
export type { JsonEncodeOptions } from './codec/json-v1-encode.js';
export {
  HANDSHAKE_NOT_A_STRING,
  HANDSHAKE_NOT_AN_ARRAY,
  decodeJsonHandshake,
  decodeJsonMessage,
} from './codec/json-v1-message.js';
export type {
  JsonV1AckMessage,
  JsonV1DataMessage,
  JsonV1ErrorMessage,
  JsonV1Message,
} from './codec/json-v1-types.js';

// --- codec: native MessagePack
export {
  ENDPOINT_ID_BYTES,
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  RESERVED_MESSAGE_KINDS,
} from './codec/native-kinds.js';
export type {
  AnnounceMessage,
  ByeMessage,
  DataMessage,
  DataMessageInput,
  ErrorMessage,
  HelloMessage,
  NativeMessage,
  NativeMessageInput,
  PingMessage,
  PongMessage,
} from './codec/native-kinds.js';
export { encodeDataMessage, encodeMessage } from './codec/native-messages.js';
export { decodeFrame, encodeFrame } from './codec/native-frame.js';
export { decodeValue, encodeValue } from './codec/native-values.js';
export { ContainerMarker, NativeExt } from './codec/native-format.js';
export { DEFAULT_NATIVE_LIMITS } from './codec/native-limits.js';
export type { NativeLimits } from './codec/native-limits.js';

// --- message layouts
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
export {
  DEFAULT_MAX_BATCH_DEPTH,
  METADATA_NETWORK_TIMESTAMP,
  METADATA_USER_START,
  ZEEK_MESSAGE_TYPES,
  ZEEK_PROTOCOL_VERSION,
} from './message/types.js';
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

// --- topics
export { filterMatches, normalizeFilter } from './topic/filter.js';
export { TopicTrie } from './topic/topic-trie.js';
export type { TrieHandle } from './topic/topic-trie.js';

// --- transports
export { CloseCode } from './transport/transport.js';
export type { Connector, Frame, Transport, TransportHandlers } from './transport/transport.js';
export { memoryPair } from './transport/memory-transport.js';
export type { MemoryPairOptions } from './transport/memory-transport.js';
export { MemoryNetwork } from './transport/memory-network.js';
export type { Acceptor } from './transport/memory-network.js';
export { websocketConnector, wrapWebSocket } from './transport/websocket-transport.js';
export type { WebSocketConstructor, WebSocketLike } from './transport/websocket-transport.js';

// --- endpoint
export { Endpoint } from './endpoint/endpoint.js';
export type { EndpointEvents, Message, MessageHandler, PeerInfo, PeerOptions, Subscription } from './endpoint/endpoint.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_RETRY_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_RETRY_MS,
  DEFAULT_TTL,
  ISOBROKER_VERSION,
} from './endpoint/endpoint-options.js';
export type { EndpointOptions } from './endpoint/endpoint-options.js';
export { DEFAULT_SEND_BUFFER_SIZE, OVERFLOW_POLICIES } from './endpoint/send-queue.js';
export type { OverflowPolicy, SendQueueStats } from './endpoint/send-queue.js';
export { JSON_PATH, NATIVE_PATH } from './endpoint/peering.js';
export type { PeerProtocol, PeeringState } from './endpoint/peering.js';
export { ERROR_TEXT, STATUS_TEXT } from './endpoint/status.js';
export type { ErrorCode, ErrorEvent, PeerRef, StatusCode, StatusEvent } from './endpoint/status.js';
export type { Timers } from './endpoint/timers.js';
export { idFromBytes, idToBytes, isEndpointId, newEndpointId } from './endpoint/endpoint-id.js';
export { MAX_FILTER_PREFIXES, MAX_NEIGHBORS } from './endpoint/limits.js';

// --- stores: backends
export { createMemoryBackend } from './store/memory-backend.js';
export type { ScanPage, StoreBackend, StoreEntry } from './store/backend.js';

// --- stores: persistence
export { createMemoryPersistence } from './store/memory-persistence.js';
export type { CloneCheckpoint, ClonePersistence, PersistChange, PersistedClone } from './store/persistence.js';

// --- stores
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
export { StoreOp } from './store/operations.js';
export { INTERNAL_TOPIC_PREFIX, isInternalTopic } from './topic/internal.js';

// --- cluster
export { BackedTable, backedTableStoreName } from './cluster/backed-table.js';
export type { BackedTableOptions } from './cluster/backed-table.js';

// --- cluster: pools
export { fnv1a32, hrwSelect, hrwSite, hrwWeight } from './cluster/hash.js';
export type { HrwKey } from './cluster/hash.js';
export {
  DEFAULT_POOL_REGISTRY_OPTIONS,
  LOGGER_POOL_SPEC,
  PROXY_POOL_SPEC,
  Pool,
  PoolRegistry,
  WORKER_POOL_SPEC,
  distributePools,
  hrwTopic,
  rrTopic,
} from './cluster/pools.js';
export type { PoolLayoutNode, PoolNode, PoolRegistryNode, PoolRegistryOptions, PoolSpec } from './cluster/pools.js';
export {
  LOGGER_POOL_TOPIC,
  LOGGER_TOPIC,
  MANAGER_TOPIC,
  NODEID_TOPIC_PREFIX,
  NODE_TOPIC_PREFIX,
  PROXY_POOL_TOPIC,
  PROXY_TOPIC,
  ROLE_TOPICS,
  WORKER_POOL_TOPIC,
  WORKER_TOPIC,
  nodeTopic,
  nodeidTopic,
  roleTopic,
} from './cluster/topics.js';
export { ClusterNode, HELLO_EVENT, nodeUrl } from './cluster/cluster-node.js';
export type { ClusterEvents, ClusterNodeOptions, NodeState } from './cluster/cluster-node.js';
export { ROLES, connectionsOf, defaultLayout, loggersOf, nodeByName, parseLayout } from './cluster/layout.js';
export type { ClusterLayout, NodeSpec, Role } from './cluster/layout.js';
export {
  DEFAULT_LOG_ROUTER_OPTIONS,
  LOG_ACK_EVENT,
  LOG_BATCH_EVENT,
  LogRouter,
  fallbackLogTopic,
  logAckTopic,
  logTopic,
} from './cluster/log-router.js';
export type { LogRouterOptions } from './cluster/log-router.js';

// --- cluster: logging
export { LOG_SCALAR_TYPES, LOG_TYPE_DATA, parseLogColumnType } from './cluster/log-types.js';
export type { LogColumn, LogColumnSpec, LogColumnType, LogScalarType, LogStream, LogStreamSpec } from './cluster/log-types.js';
export { defaultLogPath, defineLogStream } from './cluster/log-stream.js';
export { checkRecord, fromRecord, toColumnData, toRecord } from './cluster/log-record.js';
export { CONN_LOG, KNOWN_HOSTS_LOG } from './cluster/log-zeek-streams.js';
export {
  DEFAULT_JSON_FORMAT_OPTIONS,
  DEFAULT_TSV_FORMAT_OPTIONS,
  createJsonFormat,
  createTsvFormat,
  formatLogValue,
  resolveLogFormat,
} from './cluster/log-format.js';
export type { JsonFormatOptions, LogFormat, TsvFormatOptions } from './cluster/log-format.js';
export {
  formatJsonDouble,
  formatLogStamp,
  formatTsvDouble,
  formatTsvTime,
  formatZeekAddress,
} from './cluster/log-text.js';
export type { LogTimeZone } from './cluster/log-text.js';
export { escapeTsvText, formatJsonString, formatTsvString, unescapeTsv } from './cluster/log-escape.js';
export { parseZeekTsv, parseZeekTsvValue, zeekCut, zeekTsvRecords } from './cluster/log-tsv-parse.js';
export type { ZeekTsvHeader, ZeekTsvLog, ZeekTsvMarkers } from './cluster/log-tsv-parse.js';
export {
  DEFAULT_LOG_WRITER_OPTIONS,
  createMemoryLogWriter,
  zeekRotatedName,
  zeekctlArchiveName,
} from './cluster/log-writer.js';
export type { LogWriter, LogWriterOptions, MemoryLogWriter, RotationInfo } from './cluster/log-writer.js';
