/**
 * Broker JSON v1 WebSocket messages: the handshake (a JSON array of topic prefixes), data
 * messages, and the server's ack and error messages.
 *
 * Broker's and Zeek's servers do not check the `type` field of a client's data message, so any
 * object that is not an ack or an error decodes as a data message when it has a topic and a value.
 */
import { DecodeError } from '../../errors.js';
import { JsonObject, type JsonNode } from './json-node.js';
import { parseJson, resolveJsonLimits, type JsonLimits } from './json-parse.js';
import { decodeDataMessageFast } from './fast.js';
import { decodeJsonData, describeNode } from './decode.js';
import { hasLoneSurrogate } from './scalars.js';
import type { JsonV1Message } from './types.js';

/** Context of the error a server sends when the handshake is not an array. */
export const HANDSHAKE_NOT_AN_ARRAY = 'subscriptions not an array';
/** Context of the error a server sends when a handshake element is not a string. */
export const HANDSHAKE_NOT_A_STRING = 'individual subscription not a string';

function field(root: JsonObject, key: string): string {
  const v = root.get(key);
  if (typeof v !== 'string') throw new DecodeError(`${key}: expected a string, got ${describeNode(v)}`);
  return v;
}

/**
 * Decodes one message. `ack` and `error` are recognised by their `type`; anything else is a data
 * message (its `type` is not checked, as in Broker) and needs a non-empty `topic` and a value.
 * Throws `DecodeError` (code `deserialization_failed`) naming the JSON path and the problem.
 *
 * A data message in the usual shape is decoded in one pass straight from the text
 * (`fast.ts`); anything else goes through `parseJson` and `decodeJsonData`, with the same
 * result.
 */
export function decodeJsonMessage(text: string, limits?: JsonLimits): JsonV1Message {
  const resolved = resolveJsonLimits(limits);
  if (typeof text === 'string' && text.length <= resolved.maxTextLength) {
    const fast = decodeDataMessageFast(text, resolved);
    if (fast !== undefined) return fast;
  }
  const root: JsonNode = parseJson(text, resolved);
  if (!(root instanceof JsonObject)) {
    throw new DecodeError(`${ROOT_NOT_AN_OBJECT}, got ${describeNode(root)}`);
  }
  const type = root.get('type');
  if (type === 'ack') return { type: 'ack', endpoint: field(root, 'endpoint'), version: field(root, 'version') };
  if (type === 'error') return { type: 'error', code: field(root, 'code'), context: field(root, 'context') };
  const topic = root.get('topic');
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new DecodeError(`topic: expected a non-empty string, got ${describeNode(topic)}`);
  }
  if (hasLoneSurrogate(topic)) throw new DecodeError('topic: holds a lone UTF-16 surrogate (not valid Unicode)');
  return { type: 'data-message', topic, data: decodeJsonData(root, resolved.maxDataDepth) };
}

/** Broker's phrases for the three classes of bad input (the start of an error's context). */
export const INPUT_MALFORMED_JSON = 'contained malformed JSON';
export const INPUT_NOT_AN_OBJECT = 'expected a JSON object';
export const INPUT_INVALID_DATA = 'contained invalid data';

/**
 * The context of the error a server sends for its client's input number `n` that failed to
 * decode: Broker's phrase for the class of failure (`input #N contained malformed JSON`,
 * `input #N expected a JSON object`, `input #N contained invalid data`), then ` -> ` and our detail,
 * so clients that match Broker's text keep working.
 */
export function inputErrorContext(n: number, err: DecodeError): string {
  const m = err.message;
  const phrase = m.startsWith('invalid JSON:')
    ? INPUT_MALFORMED_JSON
    : m.startsWith(ROOT_NOT_AN_OBJECT)
      ? INPUT_NOT_AN_OBJECT
      : INPUT_INVALID_DATA;
  return `input #${n} ${phrase} -> ${m}`;
}

const ROOT_NOT_AN_OBJECT = '(root): expected a JSON object';

/**
 * Decodes a client's first message, the array of topic prefixes (`[]` publish-only, `[""]`
 * everything). Duplicates are kept. Throws `DecodeError` whose message is exactly the context a
 * server sends back: `subscriptions not an array` (also for text that is not JSON, with the parse
 * error as `cause`) or `individual subscription not a string`.
 */
export function decodeJsonHandshake(text: string, limits?: JsonLimits): string[] {
  let root: JsonNode;
  try {
    root = parseJson(text, limits);
  } catch (e) {
    throw new DecodeError(HANDSHAKE_NOT_AN_ARRAY, { cause: e });
  }
  if (!Array.isArray(root)) throw new DecodeError(HANDSHAKE_NOT_AN_ARRAY);
  const topics: string[] = [];
  for (const t of root as readonly JsonNode[]) {
    if (typeof t !== 'string') throw new DecodeError(HANDSHAKE_NOT_A_STRING);
    topics.push(t);
  }
  return topics;
}
