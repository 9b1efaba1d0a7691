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
  timestampFromSeconds,
  vector,
} from './data/constructors.js';
export { compare, equals } from './data/order.js';
export { formatAddress, parseAddress } from './data/address.js';
export { formatTimespan, formatTimestampMs, toText } from './data/text.js';
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

// --- codec: native MessagePack

// --- message layouts

// --- topics
