/**
 * Zeek message layouts on top of Broker data (the facts below were checked against zeek/broker's
 * `libbroker/broker/zeek.hh` and zeek/zeek's Broker manager and cluster serializer).
 *
 * Every Zeek message is a vector `[count 1, count type, content]` where `content` is a vector:
 *
 * | type | kind                | content                                                   |
 * |------|---------------------|-----------------------------------------------------------|
 * | 1    | `event`             | `[string name, vector args]` or `[name, args, metadata]`  |
 * | 2    | `log-create`        | `[enum stream, enum writer, writer info, fields]`         |
 * | 3    | `log-write`         | `[enum stream, enum writer, string path, string serial]`  |
 * | 4    | `identifier-update` | `[string name, value]`                                    |
 * | 5    | `batch`             | `[message, message, …]`                                   |
 *
 * Event metadata is a vector of `[count key, value]` pairs. Key 1 is the network timestamp and
 * must be a timestamp; keys 1–199 are reserved for Zeek and keys from 200 on are free for users.
 * Zeek 6–7 attach the network timestamp by default, Zeek 8 does not and may send an empty
 * metadata vector. A receiving Zeek ignores entries whose key it has no registration for
 * (today every key but 1), so such entries are kept here rather than rejected.
 */
import type { Data, TimestampData } from '../data/types.js';

/** The `version` field of every Zeek message. */
export const ZEEK_PROTOCOL_VERSION = 1;

/** Numbered table of Zeek message types (the second field of a Zeek message). */
export const ZEEK_MESSAGE_TYPES = {
  event: 1,
  'log-create': 2,
  'log-write': 3,
  'identifier-update': 4,
  batch: 5,
} as const;

/** The kind of a Zeek message: event, log create/write, identifier update, batch. */
export type ZeekMessageKind = keyof typeof ZEEK_MESSAGE_TYPES;

/** Metadata key of the network timestamp (Zeek's `EventMetadata::NETWORK_TIMESTAMP`). */
export const METADATA_NETWORK_TIMESTAMP = 1n;

/** First metadata key free for users; keys 1–199 are reserved for Zeek. */
export const METADATA_USER_START = 200n;

/** One event metadata entry: `[key, value]`, in wire order. */
export type MetadataEntry = readonly [key: bigint, value: Data];

/** A Zeek event: a handler name and its arguments, plus optional metadata. */
export interface ZeekEvent {
  readonly kind: 'event';
  readonly name: string;
  readonly args: readonly Data[];
  /**
   * Every metadata entry in wire order, the network timestamp (key 1) included. Empty when the
   * event carried no metadata vector or an empty one (Zeek treats both alike).
   */
  readonly metadata: readonly MetadataEntry[];
  /** The value of the first metadata entry with key 1, when there is one. */
  readonly networkTime?: TimestampData;
}

/**
 * A Zeek log-create message: announces a remote log writer. `writerInfo` and `fields` are kept as
 * Broker sent them (Zeek's layouts: info `[path, rotation base, rotation interval, network time,
 * config table, post-processor]`, fields a vector of `[name, secondary, type, subtype, optional]`).
 */
export interface ZeekLogCreate {
  readonly kind: 'log-create';
  /** Log stream id, an enum name such as `Conn::LOG`. */
  readonly streamId: string;
  /** Log writer id, an enum name such as `Log::WRITER_ASCII`. */
  readonly writerId: string;
  readonly writerInfo: Data;
  readonly fields: Data;
}

/** A Zeek log-write message: one log record in Zeek's binary serialization, opaque here. */
export interface ZeekLogWrite {
  readonly kind: 'log-write';
  readonly streamId: string;
  readonly writerId: string;
  /** The log path, e.g. `conn`. */
  readonly path: string;
  readonly serialData: string;
}

/** A Zeek identifier update: a new value for a global script identifier. */
export interface ZeekIdentifierUpdate {
  readonly kind: 'identifier-update';
  readonly name: string;
  readonly value: Data;
}

/** A batch of Zeek messages, delivered as if each had been sent on its own. */
export interface ZeekBatch {
  readonly kind: 'batch';
  readonly messages: readonly ZeekMessage[];
}

/** Any decoded Zeek message, discriminated by `kind`. */
export type ZeekMessage = ZeekEvent | ZeekLogCreate | ZeekLogWrite | ZeekIdentifierUpdate | ZeekBatch;

/** Deepest batch nesting accepted by default (a batch inside a batch is depth 2). */
export const DEFAULT_MAX_BATCH_DEPTH = 4;

/** Options of `parseZeekMessage`. */
export interface ParseZeekMessageOptions {
  /**
   * Deepest batch nesting accepted; a top-level batch is depth 1. Zeek itself never nests
   * batches, Broker accepts any depth.
   * @default DEFAULT_MAX_BATCH_DEPTH (4)
   */
  readonly maxBatchDepth?: number;
}
