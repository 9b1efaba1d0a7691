/**
 * isobroker internals — wire formats, codecs, sessions, the topic trie and log text helpers, for
 * this repository's own tests, benchmarks, CLI and dashboard server.
 *
 * NOT part of the public API: this module is not listed in package.json `exports`, carries no
 * stability guarantee and may change in any release. Applications import `isobroker`,
 * `isobroker/node` and `isobroker/browser` only.
 */

export { addressToString, isIPv4 } from './data/address.js';
export { formatEpochSeconds, formatRealFixed, formatTimespan, formatTimestampMs } from './data/text.js';
export { dataKey } from './data/data-map.js';
export { DATA_TYPES, MAX_COUNT, MAX_INTEGER, MIN_INTEGER, PORT_PROTOCOLS } from './data/types.js';
export { JsonNumber, JsonObject } from './codec/json-v1/json-node.js';
export type { JsonNode } from './codec/json-v1/json-node.js';
export { DEFAULT_JSON_LIMITS, parseJson } from './codec/json-v1/json-parse.js';
export type { JsonLimits } from './codec/json-v1/json-parse.js';
export { decodeJsonData } from './codec/json-v1/decode.js';
export { DEFAULT_JSON_ENCODE_OPTIONS, encodeJsonData, encodeJsonMessage } from './codec/json-v1/encode.js';
export type { JsonEncodeOptions } from './codec/json-v1/encode.js';
export {
  HANDSHAKE_NOT_A_STRING,
  HANDSHAKE_NOT_AN_ARRAY,
  decodeJsonHandshake,
  decodeJsonMessage,
} from './codec/json-v1/message.js';
export type { JsonV1AckMessage, JsonV1DataMessage, JsonV1ErrorMessage, JsonV1Message } from './codec/json-v1/types.js';
export {
  ENDPOINT_ID_BYTES,
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  RESERVED_MESSAGE_KINDS,
} from './codec/native/kinds.js';
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
} from './codec/native/kinds.js';
export { encodeDataMessage, encodeMessage } from './codec/native/messages.js';
export { decodeFrame, encodeFrame } from './codec/native/frame.js';
export { decodeValue, encodeValue } from './codec/native/values.js';
export { ContainerMarker, NativeExt } from './codec/native/format.js';
export { DEFAULT_NATIVE_LIMITS } from './codec/native/limits.js';
export type { NativeLimits } from './codec/native/limits.js';
export {
  DEFAULT_MAX_BATCH_DEPTH,
  METADATA_NETWORK_TIMESTAMP,
  METADATA_USER_START,
  ZEEK_MESSAGE_TYPES,
  ZEEK_PROTOCOL_VERSION,
} from './message/types.js';
export { filterMatches, normalizeFilter } from './topic/filter.js';
export { TopicTrie } from './topic/topic-trie.js';
export type { TrieHandle } from './topic/topic-trie.js';
export { CloseCode } from './transport/transport.js';
export { memoryPair } from './transport/memory-transport.js';
export type { MemoryPairOptions } from './transport/memory-transport.js';
export type { Acceptor } from './transport/memory-network.js';
export { wrapWebSocket } from './transport/websocket-transport.js';
export { ERROR_TEXT, STATUS_TEXT } from './endpoint/status.js';
export { idFromBytes, idToBytes } from './util/ids.js';
export { MAX_FILTER_PREFIXES, MAX_NEIGHBORS } from './endpoint/limits.js';
export { StoreOp } from './store/operations.js';
export { INTERNAL_TOPIC_PREFIX, isInternalTopic } from './topic/internal.js';
export { hrwSelect, hrwSite, hrwWeight } from './cluster/hash.js';
export { distributePools } from './cluster/pools.js';
export type { PoolLayoutNode } from './cluster/pools.js';
export {
  LOGGER_POOL_TOPIC,
  LOGGER_TOPIC,
  MANAGER_TOPIC,
  NODEID_TOPIC_PREFIX,
  NODE_TOPIC_PREFIX,
  PROXY_POOL_TOPIC,
  PROXY_TOPIC,
  WORKER_POOL_TOPIC,
  WORKER_TOPIC,
} from './cluster/topics.js';
export { LOG_ACK_EVENT, LOG_BATCH_EVENT, fallbackLogTopic, logAckTopic, logTopic } from './logging/router.js';
export { LOG_SCALAR_TYPES, LOG_TYPE_DATA, parseLogColumnType } from './logging/types.js';
export { defaultLogPath } from './logging/stream.js';
export { checkRecord, toColumnData } from './logging/record.js';
export { formatLogValue, resolveLogFormat } from './logging/format.js';
export {
  formatJsonDouble,
  formatLogStamp,
  formatTsvDouble,
  formatTsvTime,
  formatZeekAddress,
} from './logging/text.js';
export { escapeTsvText, formatJsonString, formatTsvString, unescapeTsv } from './logging/escape.js';
export { parseZeekTsvValue, zeekTsvRecords } from './logging/tsv-parse.js';
export type { ZeekTsvMarkers } from './logging/tsv-parse.js';
export { zeekRotatedName, zeekctlArchiveName } from './logging/writer.js';
export { AUDIT_KINDS, STORE_PERMISSIONS } from './auth/types.js';
export { DEFAULT_LIMITS, LOCAL_ONLY_PREFIXES, NODE_ONLY_PREFIXES, RESERVED_PREFIXES } from './auth/policy-model.js';
export { FULL_ACCESS, NO_ACCESS } from './auth/prefix-acl.js';
export { TokenBucket } from './auth/token-bucket.js';
export type { TokenBucketOptions } from './auth/token-bucket.js';
export { AuditLimiter } from './auth/audit-limiter.js';
export type { AuditLimiterOptions } from './auth/audit-limiter.js';
export { STORE_TOPIC_PREFIX } from './store/store-guard.js';
