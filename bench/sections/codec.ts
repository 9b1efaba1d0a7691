/**
 * Codec section: encode + decode round trip of a typical Zeek event with the native MessagePack
 * codec and the Broker JSON v1 codec, against `JSON.parse(JSON.stringify(…))` of the same event
 * as an untyped plain object.
 */
import { address, count, equals, makeEvent, port, set, string, timestamp, type Data } from 'isobroker';
import {
  MessageKind,
  decodeFrame,
  decodeJsonMessage,
  decodeValue,
  encodeFrame,
  encodeJsonMessage,
  encodeMessage,
  encodeValue,
  type JsonV1DataMessage,
} from '../../src/internal.js';
import { formatBytes, formatNs, formatOps, formatRatio } from '../lib/markdown.js';
import { goalAtMost, type BenchSection, type SectionContext, type SectionReport } from '../lib/section.js';
import { compareInterleaved, medianRatio, taskTiming, type BenchTask } from '../lib/timing.js';

const TOPIC = 'zeek/event/conn';
const ORIGIN = new Uint8Array(16).fill(7);
const NATIVE_GOAL = 1.5;
const JSON_GOAL = 4;

const EVENT: Data = makeEvent('conn_seen', [
  address('10.1.2.3'),
  port(443, 'tcp'),
  count(12345),
  string('example.com'),
  timestamp(1_700_000_000_123_000_000n),
  set([string('a'), string('b'), string('c')]),
]);

/** The same event as an application would carry it without Broker's types. */
const PLAIN = {
  name: 'conn_seen',
  args: ['10.1.2.3', '443/tcp', 12345, 'example.com', 1700000000.123, ['a', 'b', 'c']],
};

const utf8 = new TextEncoder();

function nativeRoundTrip(): Data {
  return decodeValue(encodeValue(EVENT));
}

function frameRoundTrip(): Data {
  const frame = encodeFrame([
    encodeMessage({ kind: MessageKind.Data, topic: TOPIC, origin: ORIGIN, seq: 1, ttl: 16, value: EVENT }),
  ]);
  const msg = decodeFrame(frame)[0];
  if (msg?.kind !== MessageKind.Data) throw new Error('frame did not decode to a Data message');
  return decodeValue(msg.valueBytes);
}

const JSON_MESSAGE: JsonV1DataMessage = { type: 'data-message', topic: TOPIC, data: EVENT };

function jsonRoundTrip(): Data {
  const m = decodeJsonMessage(encodeJsonMessage(JSON_MESSAGE));
  if (m.type !== 'data-message') throw new Error(`JSON v1 decoded to a ${m.type} message`);
  return m.data;
}

function baselineRoundTrip(): unknown {
  return JSON.parse(JSON.stringify(PLAIN));
}

/** Every codec must give the event back before its speed means anything. */
function checkRoundTrips(): void {
  for (const [name, fn] of [
    ['native', nativeRoundTrip],
    ['native frame', frameRoundTrip],
    ['JSON v1', jsonRoundTrip],
  ] as const) {
    if (!equals(fn(), EVENT)) throw new Error(`${name} round trip changed the event`);
  }
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  checkRoundTrips();
  const nativeBytes = encodeValue(EVENT).length;
  const frameBytes = encodeFrame([
    encodeMessage({ kind: MessageKind.Data, topic: TOPIC, origin: ORIGIN, seq: 1, ttl: 16, value: EVENT }),
  ]).length;
  const jsonText = encodeJsonMessage(JSON_MESSAGE);
  const jsonBytes = utf8.encode(jsonText).length;
  const baselineText = JSON.stringify(PLAIN);
  const baselineBytes = utf8.encode(baselineText).length;

  ctx.log('codec: round trips (4 variants, interleaved)');
  const tasks: BenchTask[] = [
    { name: 'baseline', run: baselineRoundTrip },
    { name: 'native', run: nativeRoundTrip },
    { name: 'native frame', run: frameRoundTrip },
    { name: 'json-v1', run: jsonRoundTrip },
  ];
  const rt = compareInterleaved(tasks, ctx.timing);

  ctx.log('codec: encode and decode apart (6 variants, interleaved)');
  const nativeEncoded = encodeValue(EVENT);
  const split = compareInterleaved(
    [
      { name: 'baseline stringify', run: () => JSON.stringify(PLAIN) },
      { name: 'baseline parse', run: () => JSON.parse(baselineText) },
      { name: 'native encode', run: () => encodeValue(EVENT) },
      { name: 'native decode', run: () => decodeValue(nativeEncoded) },
      { name: 'json-v1 encode', run: () => encodeJsonMessage(JSON_MESSAGE) },
      { name: 'json-v1 decode', run: () => decodeJsonMessage(jsonText) },
    ],
    ctx.timing,
  );

  const nativeRatio = medianRatio(rt, 'native', 'baseline');
  const frameRatio = medianRatio(rt, 'native frame', 'baseline');
  const jsonRatio = medianRatio(rt, 'json-v1', 'baseline');
  const row = (name: string, label: string, bytes: number, ratio: string, goal: string): string[] => {
    const t = taskTiming(rt, name);
    return [
      label,
      formatOps(t.opsPerSec),
      formatNs(t.medianNs),
      `${Math.round(t.spread * 100)}%`,
      formatBytes(bytes),
      ratio,
      goal,
    ];
  };
  const pair = (a: string, b: string, base: string): string[] => {
    const ta = taskTiming(split, `${a} encode`);
    const tb = taskTiming(split, `${a} decode`);
    return [
      a,
      formatNs(ta.medianNs),
      formatRatio(medianRatio(split, `${a} encode`, `${base} stringify`)),
      formatNs(tb.medianNs),
      formatRatio(medianRatio(split, `${a} decode`, `${base} parse`)),
      b,
    ];
  };
  const bs = taskTiming(split, 'baseline stringify');
  const bp = taskTiming(split, 'baseline parse');

  return {
    tables: [
      {
        title: 'Round trip (encode + decode) of one event',
        headers: ['codec', 'round trips', 'time', 'spread', 'bytes', '× baseline time', 'goal'],
        rows: [
          row('baseline', 'baseline: JSON.parse(JSON.stringify(plain object))', baselineBytes, '1×', '—'),
          row(
            'native',
            'native MessagePack (encodeValue/decodeValue)',
            nativeBytes,
            formatRatio(nativeRatio),
            `≤ ${NATIVE_GOAL}×`,
          ),
          row(
            'json-v1',
            'Broker JSON v1 data message (encode/decodeJsonMessage)',
            jsonBytes,
            formatRatio(jsonRatio),
            `≤ ${JSON_GOAL}×`,
          ),
          row(
            'native frame',
            'native frame: Data message, encodeMessage/encodeFrame/decodeFrame/decodeValue',
            frameBytes,
            formatRatio(frameRatio),
            'info',
          ),
        ],
      },
      {
        title: 'Encode and decode apart (time per operation; ratio against JSON.stringify / JSON.parse)',
        headers: ['codec', 'encode', '× stringify', 'decode', '× parse', 'note'],
        rows: [
          ['baseline', formatNs(bs.medianNs), '1×', formatNs(bp.medianNs), '1×', 'untyped plain object'],
          pair('native', 'value only', 'baseline'),
          pair('json-v1', 'data message with topic', 'baseline'),
        ],
      },
    ],
    goals: [
      goalAtMost(`native round trip ≤ ${NATIVE_GOAL}× the baseline's time`, nativeRatio, NATIVE_GOAL),
      goalAtMost(`JSON v1 round trip ≤ ${JSON_GOAL}× the baseline's time`, jsonRatio, JSON_GOAL),
    ],
    notes: [
      "The event: `makeEvent('conn_seen', [address('10.1.2.3'), port(443, 'tcp'), count(12345), " +
        "string('example.com'), timestamp(1700000000123000000n), set([string('a'), string('b'), string('c')])])`; " +
        `the baseline object: \`${baselineText}\`. The JSON v1 row is a whole data message (topic \`${TOPIC}\` ` +
        'included), the native row the value alone; the native frame row adds topic, origin, sequence number ' +
        'and TTL. Spread is (max − min) / median over the rounds.',
    ],
  };
}

/** The `codec` section. */
export const codecSection: BenchSection = {
  id: 'codec',
  title: 'Codecs: round trip of a Zeek event',
  about:
    'Encode + decode of one typical Zeek event (`conn_seen` with an address, port, count, string, ' +
    'timestamp and set) with the native MessagePack codec and the Broker JSON v1 codec, against ' +
    '`JSON.parse(JSON.stringify(…))` of the same event as an untyped plain object — the cost of ' +
    'carrying Broker types compared with not carrying them at all.',
  run,
};
