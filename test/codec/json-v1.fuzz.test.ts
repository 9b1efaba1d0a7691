/**
 * Fuzzing the Broker JSON v1 decoders with well over 100,000 random and mutated inputs: valid
 * encodings (generated values and the shared vectors) with chars flipped, inserted, deleted and
 * duplicated, truncated, retagged, nested very deep, given huge numbers, or plain garbage.
 *
 * Asserted for every input:
 * - only `DecodeError` ever escapes `decodeJsonMessage`, `decodeJsonHandshake`, `parseJson` and
 *   `decodeJsonData`;
 * - `decodeJsonMessage` (with its fast path) gives exactly what the general path gives (public
 *   `parseJson` + `decodeJsonData`, rebuilt below): the same message or the same error;
 * - whatever decodes re-encodes without error, and one round later the encoding is stable;
 * and the decoder still decodes a valid message correctly along the way and at the end.
 *
 * Reproducible: the seed is fixed unless `FUZZ_SEED` is set, and a failure reports it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, count, equals, string, timestamp, vector } from 'isobroker';
import {
  JsonObject,
  decodeJsonData,
  decodeJsonHandshake,
  decodeJsonMessage,
  encodeJsonMessage,
  parseJson,
  type JsonLimits,
  type JsonV1Message,
} from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';
import { readJsonFixture } from '../support/fixtures.js';

const DEFAULT_SEED = 0x15ab20c5;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED;
const ITERATIONS = 100_000;
/**
 * The fuzz test's timeout, proportional to its work: 2.5 ms an input, about 25 times what one takes
 * on an idle two-core machine (~0.1 ms), so a loaded CI machine (seen 8 times slower) stays far
 * from it.
 */
const TIMEOUT_MS = ITERATIONS * 2.5;

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAGS = [
  'none',
  'boolean',
  'count',
  'integer',
  'real',
  'string',
  'address',
  'subnet',
  'port',
  'timestamp',
  'timespan',
  'enum-value',
  'set',
  'table',
  'vector',
  'money',
];
const CHARS: readonly string[] =
  '{}[],:"\\ \n\t0123456789.-+eEtrufalsn@/\u0000\u000b\u001f\u007fé\u2028😀\ud800\udc00xZT?%'.split('');
const SNIPPETS = [
  '{"@data-type":"vector","data":[',
  ']}',
  '{"@data-type":"count","data":1}',
  '"__proto__"',
  '"constructor":1,',
  '18446744073709551616',
  '-9223372036854775809',
  '1e999',
  '1.0',
  '-0',
  '\\u',
  '\\ud800',
  '\\v',
  '"key":',
  '"value":',
  '"data":',
  '"@data-type":',
  '"topic":"/x",',
  '"type":"ack",',
  '"type":"error",',
  'null',
  '  ',
  '9'.repeat(400),
  '"2014-07-09T10:16:44.000+02:00"',
  '"1.5s"',
  '"1d"',
  '"fe80::1%eth0"',
  '"10.0.0.0/33"',
  '"65536/tcp"',
];

/**
 * The general path, from public parts only: what decodeJsonMessage must return for a data
 * message. Anything that is not one (ack, error, bad root or topic) is `NOT_DATA`: then
 * decodeJsonMessage must not return a data message.
 */
const NOT_DATA = { type: 'ack', endpoint: 'not', version: 'data' } as const;
function general(text: string, limits: JsonLimits | undefined): JsonV1Message {
  const root = parseJson(text, limits);
  if (!(root instanceof JsonObject)) return NOT_DATA;
  const type = root.get('type');
  if (type === 'ack' || type === 'error') return NOT_DATA;
  const topic = root.get('topic');
  if (typeof topic !== 'string' || topic.length === 0 || /\p{Cs}/u.test(topic)) return NOT_DATA;
  return { type: 'data-message', topic, data: decodeJsonData(root) };
}

type Outcome = { ok: JsonV1Message } | { error: string };

function outcome(run: () => JsonV1Message): Outcome {
  try {
    return { ok: run() };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`non-DecodeError escaped: ${String(e)}`, { cause: e });
    return { error: e.message };
  }
}

function sameMessage(a: JsonV1Message, b: JsonV1Message): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'data-message' && b.type === 'data-message') return a.topic === b.topic && equals(a.data, b.data);
  return JSON.stringify(a) === JSON.stringify(b);
}

const VALID = encodeJsonMessage({
  type: 'data-message',
  topic: 'zeek/event/ping',
  data: vector([
    count(1),
    count(1),
    vector([string('ping'), vector([string('hi'), timestamp(1404901004_000_000_000n)])]),
  ]),
});

function checkStillWorks(): void {
  const m = decodeJsonMessage(VALID);
  if (m.type !== 'data-message' || encodeJsonMessage(m) !== VALID) throw new Error('decoder broken after fuzz input');
}

function corpus(): string[] {
  const vectors = readJsonFixture<{ vectors: { json: string }[] }>('vectors/broker-json-v1.json').vectors.map(
    (v) => v.json,
  );
  const values = fc.sample(dataArb({ nonFinite: false }), { seed: SEED, numRuns: 300 });
  const topics = fc.sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), {
    seed: SEED + 1,
    numRuns: 300,
  });
  const messages = values.map((data, i) => encodeJsonMessage({ type: 'data-message', topic: topics[i]!, data }));
  return [...vectors, ...messages, '["/a", "/b"]', '[]', '{"type":"ack","endpoint":"e","version":"v"}'];
}

function mutate(base: string, rnd: () => number): string {
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  let s = base;
  const rounds = int(5); // 0: the valid base itself
  for (let r = 0; r < rounds; r++) {
    const at = int(s.length + 1);
    switch (int(12)) {
      case 0: // flip a char
        s = s.slice(0, at) + pick(CHARS) + s.slice(at + 1);
        break;
      case 1: // insert a char
        s = s.slice(0, at) + pick(CHARS) + s.slice(at);
        break;
      case 2: // delete a range
        s = s.slice(0, at) + s.slice(at + 1 + int(8));
        break;
      case 3: // truncate
        s = s.slice(0, at);
        break;
      case 4: // insert a snippet
        s = s.slice(0, at) + pick(SNIPPETS) + s.slice(at);
        break;
      case 5: {
        // duplicate a range somewhere else
        const from = int(s.length);
        const piece = s.slice(from, from + 1 + int(40));
        s = s.slice(0, at) + piece + s.slice(at);
        break;
      }
      case 6: // retag a value
        s = s.replace(/"@data-type": ?"[a-z-]+"/, () => `"@data-type":"${pick(TAGS)}"`);
        break;
      case 7: // retag every value of one type
        s = s.split(`"${pick(TAGS)}"`).join(`"${pick(TAGS)}"`);
        break;
      case 8: // huge numbers
        s = s.replace(/-?[0-9]+(\.[0-9]+)?/, () =>
          pick(['9'.repeat(1 + int(3000)), `1e${int(400)}`, '-0.0', `0.${'1'.repeat(500)}`]),
        );
        break;
      case 9: // python-style spacing
        s = s.replace(/([,:])"/g, '$1 "');
        break;
      case 10: // change a string literal's content
        s = s.replace(/"([^"\\]*)"/, () =>
          JSON.stringify(
            pick(['', '\u0000', '\\', 'a'.repeat(int(100)), '2014-07-09T10:16:44', '80', '::1', '1.2.3.4/8']),
          ),
        );
        break;
      default: // swap two halves
        s = s.slice(at) + s.slice(0, at);
    }
  }
  return s;
}

function deepNesting(rnd: () => number): string {
  const depth = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 100 : 100_000));
  const open = rnd() < 0.5 ? '{"@data-type":"vector","data":[' : '[';
  const close = open === '[' ? ']' : ']}';
  return `{"topic":"/t","@data-type":"vector","data":[${open.repeat(depth)}${close.repeat(rnd() < 0.8 ? depth : depth >> 1)}]}`;
}

function garbage(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 60);
  for (let i = 0; i < n; i++) s += CHARS[Math.floor(rnd() * CHARS.length)]!;
  return s;
}

/** Checks one input; true when it decoded as a data message. */
function checkMessage(input: string, limits: JsonLimits | undefined): boolean {
  const fast = outcome(() => decodeJsonMessage(input, limits));
  const slow = outcome(() => general(input, limits));
  if ('ok' in slow && slow.ok === NOT_DATA) {
    if ('ok' in fast && fast.ok.type === 'data-message')
      throw new Error('decoded a data message the general path refuses');
    return false;
  }
  if ('error' in fast || 'error' in slow) {
    if (!('error' in fast && 'error' in slow)) {
      throw new Error(
        `paths disagree: ${'error' in fast ? fast.error : 'ok'} | ${'error' in slow ? slow.error : 'ok'}`,
      );
    }
    if (fast.error !== slow.error) throw new Error(`paths fail differently: ${fast.error} | ${slow.error}`);
    return false;
  }
  if (!sameMessage(fast.ok, slow.ok)) throw new Error('paths decode differently');
  // Whatever decodes can be encoded; one round later the encoding is stable.
  const once = encodeJsonMessage(fast.ok);
  const again = outcome(() => decodeJsonMessage(once));
  if ('ok' in again) {
    if (encodeJsonMessage(again.ok) !== once) throw new Error('re-encoding is not stable');
  } else if (!/duplicate (set element|table key)/.test(again.error)) {
    throw new Error(`own encoding rejected: ${again.error}`);
  }
  return true;
}

describe('Broker JSON v1 decoder fuzz', () => {
  it(`${ITERATIONS} random and mutated inputs: only DecodeError, fast path = general path`, {
    timeout: TIMEOUT_MS,
  }, () => {
    const rnd = prng(SEED);
    const bases = corpus();
    let accepted = 0;
    let input = '';
    let i = 0;
    try {
      for (; i < ITERATIONS; i++) {
        const kind = rnd();
        input =
          kind < 0.002
            ? deepNesting(rnd)
            : kind < 0.05
              ? garbage(rnd)
              : mutate(bases[Math.floor(rnd() * bases.length)]!, rnd);

        // One input in ten under small random limits, which both paths must apply alike.
        const limits: JsonLimits | undefined =
          rnd() < 0.1
            ? {
                maxDepth: Math.floor(rnd() * 12),
                maxStringLength: Math.floor(rnd() * 40),
                maxArrayLength: Math.floor(rnd() * 6),
                maxObjectKeys: Math.floor(rnd() * 6),
                maxTextLength: Math.floor(rnd() * 2000),
              }
            : undefined;
        if (checkMessage(input, limits)) accepted++;
        outcome(() => {
          decodeJsonHandshake(input);
          return { type: 'ack', endpoint: '', version: '' };
        });
        if ((i & 1023) === 0) checkStillWorks();
      }
      checkStillWorks();
    } catch (e) {
      const msg = `JSON v1 fuzz failed with FUZZ_SEED=${SEED} at iteration ${i}: ${(e as Error).message}\ninput: ${JSON.stringify(input.slice(0, 400))}`;
      console.error(msg);
      throw new Error(msg, { cause: e });
    }
    // Mutations must leave a fair share valid, or the fast-path comparison proves little.
    expect(accepted).toBeGreaterThan(ITERATIONS / 20);
  });
});
