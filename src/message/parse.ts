/**
 * Validating decoder of Zeek messages (layouts in `types.ts`). A message Broker would treat as
 * invalid is rejected with a `DecodeError` naming what is wrong. Two deliberate differences from
 * Broker: field counts must be exact (Broker only checks a minimum and ignores trailing fields,
 * which no sender produces and which would not survive a round trip), and batches may nest only
 * `maxBatchDepth` deep (Broker recurses without a limit).
 */
import { DecodeError, ValueError } from '../errors.js';
import type { CountData, Data, StringData, TimestampData, VectorData } from '../data/types.js';
import {
  DEFAULT_MAX_BATCH_DEPTH,
  METADATA_NETWORK_TIMESTAMP,
  ZEEK_MESSAGE_TYPES,
  ZEEK_PROTOCOL_VERSION,
  type MetadataEntry,
  type ParseZeekMessageOptions,
  type ZeekEvent,
  type ZeekMessage,
} from './types.js';

const VERSION = BigInt(ZEEK_PROTOCOL_VERSION);
const EVENT = BigInt(ZEEK_MESSAGE_TYPES.event);
const LOG_CREATE = BigInt(ZEEK_MESSAGE_TYPES['log-create']);
const LOG_WRITE = BigInt(ZEEK_MESSAGE_TYPES['log-write']);
const IDENTIFIER_UPDATE = BigInt(ZEEK_MESSAGE_TYPES['identifier-update']);
const BATCH = BigInt(ZEEK_MESSAGE_TYPES.batch);

/**
 * Decodes a Broker value as a Zeek message.
 * @throws DecodeError when the layout is not a valid Zeek message.
 */
export function parseZeekMessage(d: Data, opts: ParseZeekMessageOptions = {}): ZeekMessage {
  const maxDepth = opts.maxBatchDepth ?? DEFAULT_MAX_BATCH_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    throw new ValueError(`maxBatchDepth must be a non-negative integer, got ${maxDepth}`);
  }
  return parseAt(d, '', 0, maxDepth);
}

/** True when `d` is a valid Zeek event message (not a batch holding one). Never throws. */
export function isZeekEvent(d: Data): boolean {
  const content = contentOf(d, EVENT);
  return content !== undefined && eventProblem(content) === undefined;
}

/** The content fields when `d` has a valid outer layout with message type `type`. */
function contentOf(d: Data, type: bigint): readonly Data[] | undefined {
  if (d.type !== 'vector' || d.elements.length !== 3) return undefined;
  const [version, tag, content] = d.elements as [Data, Data, Data];
  if (version.type !== 'count' || version.value !== VERSION) return undefined;
  if (tag.type !== 'count' || tag.value !== type || content.type !== 'vector') return undefined;
  return content.elements;
}

function fail(path: string, what: string): never {
  throw new DecodeError(`invalid Zeek message: ${path}${what}`);
}

function parseAt(d: Data, path: string, depth: number, maxDepth: number): ZeekMessage {
  if (d.type !== 'vector') fail(path, `not a vector (got ${d.type})`);
  const outer = d.elements;
  if (outer.length !== 3) {
    fail(path, `expected 3 fields [version, type, content], got ${outer.length}`);
  }
  const [version, tag, content] = outer as [Data, Data, Data];
  if (version.type !== 'count') fail(path, `version is not a count (got ${version.type})`);
  if (version.value !== VERSION) {
    fail(path, `unsupported version ${version.value} (expected ${ZEEK_PROTOCOL_VERSION})`);
  }
  if (tag.type !== 'count') fail(path, `message type is not a count (got ${tag.type})`);
  if (content.type !== 'vector') fail(path, `content is not a vector (got ${content.type})`);
  const f = content.elements;
  switch (tag.value) {
    case EVENT:
      return parseEvent(f, path);
    case LOG_CREATE:
      expectFields(f, 4, path, 'log-create', '[stream id, writer id, writer info, fields]');
      return {
        kind: 'log-create',
        streamId: enumName(f[0]!, path, 'log-create stream id'),
        writerId: enumName(f[1]!, path, 'log-create writer id'),
        writerInfo: f[2]!,
        fields: f[3]!,
      };
    case LOG_WRITE:
      expectFields(f, 4, path, 'log-write', '[stream id, writer id, path, serial data]');
      return {
        kind: 'log-write',
        streamId: enumName(f[0]!, path, 'log-write stream id'),
        writerId: enumName(f[1]!, path, 'log-write writer id'),
        path: stringValue(f[2]!, path, 'log-write path'),
        serialData: stringValue(f[3]!, path, 'log-write serial data'),
      };
    case IDENTIFIER_UPDATE:
      expectFields(f, 2, path, 'identifier-update', '[name, value]');
      return { kind: 'identifier-update', name: stringValue(f[0]!, path, 'identifier-update name'), value: f[1]! };
    case BATCH: {
      if (depth + 1 > maxDepth) fail(path, `batch nested deeper than ${maxDepth}`);
      const messages = f.map((item, i) => parseAt(item, `${path}batch[${i}]: `, depth + 1, maxDepth));
      return { kind: 'batch', messages };
    }
    default:
      return fail(path, `unknown message type ${tag.value} (expected 1-5)`);
  }
}

function expectFields(f: readonly Data[], n: number, path: string, kind: string, layout: string): void {
  if (f.length !== n) fail(path, `${kind} has ${f.length} fields, expected ${n} ${layout}`);
}

function enumName(d: Data, path: string, what: string): string {
  if (d.type !== 'enum-value') fail(path, `${what} is not an enum-value (got ${d.type})`);
  return d.name;
}

function stringValue(d: Data, path: string, what: string): string {
  if (d.type !== 'string') fail(path, `${what} is not a string (got ${d.type})`);
  return d.value;
}

function parseEvent(f: readonly Data[], path: string): ZeekEvent {
  const problem = eventProblem(f);
  if (problem !== undefined) fail(path, problem);
  const name = (f[0] as StringData).value;
  const args = (f[1] as VectorData).elements;
  const meta = f[2] as VectorData | undefined;
  if (meta === undefined || meta.elements.length === 0) return { kind: 'event', name, args, metadata: [] };
  let networkTime: TimestampData | undefined;
  const metadata = meta.elements.map((entry): MetadataEntry => {
    const [key, value] = (entry as VectorData).elements as [Data, Data];
    const k = (key as CountData).value;
    if (k === METADATA_NETWORK_TIMESTAMP && networkTime === undefined) networkTime = value as TimestampData;
    return [k, value];
  });
  return networkTime === undefined
    ? { kind: 'event', name, args, metadata }
    : { kind: 'event', name, args, metadata, networkTime };
}

/** What is wrong with event content fields, or `undefined` when they are valid. */
function eventProblem(f: readonly Data[]): string | undefined {
  if (f.length !== 2 && f.length !== 3) {
    return `event has ${f.length} fields, expected 2 or 3 [name, args, metadata?]`;
  }
  const [name, args, meta] = f as [Data, Data, Data | undefined];
  if (name.type !== 'string') return `event name is not a string (got ${name.type})`;
  if (args.type !== 'vector') return `event args are not a vector (got ${args.type})`;
  if (meta === undefined) return undefined;
  if (meta.type !== 'vector') return `event metadata is not a vector (got ${meta.type})`;
  const entries = meta.elements;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.type !== 'vector') return `event metadata[${i}] is not a vector (got ${entry.type})`;
    if (entry.elements.length !== 2) {
      return `event metadata[${i}] has ${entry.elements.length} elements, expected 2 [key, value]`;
    }
    const [key, value] = entry.elements as [Data, Data];
    if (key.type !== 'count') return `event metadata[${i}] key is not a count (got ${key.type})`;
    if (key.value === METADATA_NETWORK_TIMESTAMP && value.type !== 'timestamp') {
      return `event metadata[${i}]: network timestamp (key 1) is not a timestamp (got ${value.type})`;
    }
  }
  return undefined;
}
