/**
 * Builders of Zeek messages as Broker vectors (layouts in `types.ts`). The `make*` builders are
 * for users and enforce Zeek's conventions (user metadata keys from 200 on); `makeZeekMessage`
 * is the exact inverse of `parseZeekMessage`, for relays that re-encode what they decoded.
 */
import { ValueError } from '../errors.js';
import { count, enumValue, from, string, timestamp, vector } from '../data/constructors.js';
import type { Data, EnumData, TimestampData, VectorData } from '../data/types.js';
import { parseZeekMessage } from './parse.js';
import {
  METADATA_NETWORK_TIMESTAMP,
  METADATA_USER_START,
  ZEEK_MESSAGE_TYPES,
  ZEEK_PROTOCOL_VERSION,
  type MetadataEntry,
  type ZeekLogCreate,
  type ZeekLogWrite,
  type ZeekMessage,
  type ZeekMessageKind,
} from './types.js';

const VERSION = count(ZEEK_PROTOCOL_VERSION);
const TYPE_TAGS: Readonly<Record<ZeekMessageKind, Data>> = {
  event: count(ZEEK_MESSAGE_TYPES.event),
  'log-create': count(ZEEK_MESSAGE_TYPES['log-create']),
  'log-write': count(ZEEK_MESSAGE_TYPES['log-write']),
  'identifier-update': count(ZEEK_MESSAGE_TYPES['identifier-update']),
  batch: count(ZEEK_MESSAGE_TYPES.batch),
};

function message(kind: ZeekMessageKind, content: readonly Data[]): VectorData {
  return { type: 'vector', elements: [VERSION, TYPE_TAGS[kind], vector(content)] };
}

/** Options of `makeEvent`. */
export interface EventOptions {
  /**
   * Network timestamp, sent as metadata key 1 (Zeek 6–7 attach one by default, Zeek 8 only when
   * `EventMetadata::add_network_timestamp` is set).
   * @default undefined — no timestamp
   */
  readonly networkTime?: TimestampData | Date;
  /**
   * User metadata as `[key, value]` pairs (a `Map` works), keys from 200 on (1–199 are reserved
   * for Zeek); values pass through `from()`. Sent after the network timestamp, in this order.
   * @default [] — none
   */
  readonly metadata?: Iterable<readonly [number | bigint, unknown]>;
}

/**
 * A Zeek event `name(args…)`. Arguments are Broker values or plain JavaScript values converted by
 * `from()` (a safe-integer number becomes an `integer`: pass `count(n)` where Zeek expects a
 * count). A metadata vector is added only when there is a timestamp or user metadata.
 */
export function makeEvent(name: string, args: Iterable<unknown> = [], opts: EventOptions = {}): VectorData {
  if (typeof name !== 'string') throw new ValueError(`event name must be a string, got ${typeof name}`);
  const meta: Data[] = [];
  const ts = opts.networkTime;
  if (ts !== undefined) {
    const value = ts instanceof Date ? timestamp(ts) : ts;
    if (value?.type !== 'timestamp') throw new ValueError('networkTime must be a timestamp or a Date');
    meta.push(vector([count(METADATA_NETWORK_TIMESTAMP), value]));
  }
  for (const [key, value] of opts.metadata ?? []) {
    const k = count(key);
    if (k.value < METADATA_USER_START) {
      throw new ValueError(
        `event metadata key ${k.value} is reserved for Zeek (user keys start at ${METADATA_USER_START}; ` +
          'use networkTime for key 1)',
      );
    }
    meta.push(vector([k, from(value)]));
  }
  const content: Data[] = [string(name), vector([...args].map(from))];
  if (meta.length > 0) content.push(vector(meta));
  return message('event', content);
}

function enumOf(what: string, v: string | EnumData): EnumData {
  if (typeof v === 'string') return enumValue(v);
  if (v?.type === 'enum-value') return v;
  throw new ValueError(`${what} must be an enum name or enum-value`);
}

function dataOf(what: string, v: Data): Data {
  if (typeof v !== 'object' || v === null || typeof v.type !== 'string') {
    throw new ValueError(`${what} must be a Broker value`);
  }
  return v;
}

function stringOf(what: string, v: string): Data {
  if (typeof v !== 'string') throw new ValueError(`${what} must be a string, got ${typeof v}`);
  return string(v);
}

/** Fields of a log-create message; ids as enum names (`Conn::LOG`) or enum-values. */
export type LogCreateFields = Omit<ZeekLogCreate, 'kind' | 'streamId' | 'writerId'> & {
  readonly streamId: string | EnumData;
  readonly writerId: string | EnumData;
};

/** A Zeek log-create message (announces a log writer to the receiving logger). */
export function makeLogCreate(m: LogCreateFields): VectorData {
  return message('log-create', [
    enumOf('log-create streamId', m.streamId),
    enumOf('log-create writerId', m.writerId),
    dataOf('log-create writerInfo', m.writerInfo),
    dataOf('log-create fields', m.fields),
  ]);
}

/** Fields of a log-write message; ids as enum names (`Conn::LOG`) or enum-values. */
export type LogWriteFields = Omit<ZeekLogWrite, 'kind' | 'streamId' | 'writerId'> & {
  readonly streamId: string | EnumData;
  readonly writerId: string | EnumData;
};

/** A Zeek log-write message (one record, `serialData` in Zeek's binary serialization). */
export function makeLogWrite(m: LogWriteFields): VectorData {
  return message('log-write', [
    enumOf('log-write streamId', m.streamId),
    enumOf('log-write writerId', m.writerId),
    stringOf('log-write path', m.path),
    stringOf('log-write serialData', m.serialData),
  ]);
}

/** A Zeek identifier update: sets global `name` to `value` (plain values pass through `from()`). */
export function makeIdentifierUpdate(name: string, value: unknown): VectorData {
  return message('identifier-update', [stringOf('identifier name', name), from(value)]);
}

/**
 * A batch of Zeek messages, given as Broker vectors or as decoded messages. Every item must be a
 * valid Zeek message and the whole batch must respect the default batch depth, because a
 * receiver drops a batch with any invalid item.
 * @throws ValueError when an item is not a valid Zeek message.
 */
export function makeBatch(messages: Iterable<Data | ZeekMessage>): VectorData {
  const items = [...messages].map((m) => (typeof m === 'object' && m !== null && 'kind' in m ? makeZeekMessage(m) : m));
  const batch = message('batch', items);
  try {
    parseZeekMessage(batch);
  } catch (err) {
    throw new ValueError(`cannot batch: ${(err as Error).message}`, { cause: err });
  }
  return batch;
}

/**
 * The Broker vector of a decoded (or hand-made) message: the inverse of `parseZeekMessage`, so
 * metadata keys reserved for Zeek pass through. An event's `networkTime` is written as a leading
 * key-1 entry unless `metadata` already holds one.
 */
export function makeZeekMessage(m: ZeekMessage): VectorData {
  switch (m.kind) {
    case 'event':
      return message('event', eventContent(m.name, m.args, m.metadata, m.networkTime));
    case 'log-create':
      return makeLogCreate(m);
    case 'log-write':
      return makeLogWrite(m);
    case 'identifier-update':
      return message('identifier-update', [stringOf('identifier name', m.name), dataOf('identifier value', m.value)]);
    case 'batch':
      return message('batch', m.messages.map(makeZeekMessage));
    default:
      throw new ValueError(`unknown Zeek message kind '${String((m as { kind?: unknown }).kind)}'`);
  }
}

function eventContent(
  name: string,
  args: readonly Data[],
  metadata: readonly MetadataEntry[],
  networkTime: TimestampData | undefined,
): Data[] {
  const meta: Data[] = [];
  const hasTs = metadata.some(([k]) => k === METADATA_NETWORK_TIMESTAMP);
  if (networkTime !== undefined && networkTime?.type !== 'timestamp') {
    throw new ValueError('event networkTime must be a timestamp');
  }
  if (networkTime !== undefined && !hasTs) meta.push(vector([count(METADATA_NETWORK_TIMESTAMP), networkTime]));
  for (const [key, value] of metadata) {
    if (key === METADATA_NETWORK_TIMESTAMP && value.type !== 'timestamp') {
      throw new ValueError(`event network timestamp (metadata key 1) must be a timestamp, got ${value.type}`);
    }
    meta.push(vector([count(key), dataOf('event metadata value', value)]));
  }
  const content: Data[] = [stringOf('event name', name), vector(args.map((a) => dataOf('event argument', a)))];
  if (meta.length > 0) content.push(vector(meta));
  return content;
}
