/**
 * Codec section: encode + decode round trip of a typical Zeek event with the native MessagePack
 * codec and the Broker JSON v1 codec, against `JSON.parse(JSON.stringify(…))` of the same event
 * as an untyped plain object; and the hand-written MessagePack codec against the general-purpose
 * `@msgpack/msgpack` library on the same event (time and browser bundle size).
 */
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { build } from 'esbuild';
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
import { formatBytes, formatNs, formatOps, formatRatio, type Table } from '../lib/markdown.js';
import {
  decodeToPlainWithMsgpackLib,
  decodeWithMsgpackLib,
  encodePlainWithMsgpackLib,
  encodeWithMsgpackLib,
  toPlain,
} from '../lib/msgpack-broker.js';
import {
  goalAtMost,
  type BenchSection,
  type SectionChart,
  type SectionContext,
  type SectionReport,
} from '../lib/section.js';
import { barChartSvg, groupedBarChartSvg } from '../lib/svg-chart.js';
import { compareInterleaved, medianRatio, taskTiming, type BenchTask } from '../lib/timing.js';
import { packageRoot } from '../lib/package-root.js';

const TOPIC = 'zeek/event/conn';
const LIB_VERSION = libVersion();
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

/** The installed `@msgpack/msgpack` version, for the report. */
function libVersion(): string {
  try {
    const pkg = join(packageRoot(), 'node_modules', '@msgpack', 'msgpack', 'package.json');
    return String((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version);
  } catch {
    return '(unknown version)';
  }
}

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

/** `@msgpack/msgpack` writing and reading the native bytes of the same Broker event. */
function libRoundTrip(): Data {
  return decodeWithMsgpackLib(encodeWithMsgpackLib(EVENT));
}

/** The event already mapped to the library's tree: its share of the time without the mapping. */
const EVENT_TREE = toPlain(EVENT);

function libCoreRoundTrip(): unknown {
  return decodeToPlainWithMsgpackLib(encodePlainWithMsgpackLib(EVENT_TREE));
}

// Reused instances: the library documents them as faster than `encode`/`decode`.
const plainEncoder = new Encoder();
const plainDecoder = new Decoder();

/** `@msgpack/msgpack` on the untyped plain object (the JSON baseline's input). */
function libPlainRoundTrip(): unknown {
  return plainDecoder.decode(plainEncoder.encode(PLAIN));
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
  if (!equals(libRoundTrip(), EVENT)) throw new Error('@msgpack/msgpack round trip changed the event');
  const ours = encodeValue(EVENT);
  const lib = encodeWithMsgpackLib(EVENT);
  if (ours.length !== lib.length || ours.some((b, i) => b !== lib[i]))
    throw new Error('@msgpack/msgpack did not write the native bytes of the event');
  if (JSON.stringify(libPlainRoundTrip()) !== JSON.stringify(PLAIN))
    throw new Error('@msgpack/msgpack changed the plain object');
}

/** JavaScript source that builds `v` as an object literal (no constructors, so none get bundled). */
function dataLiteral(v: Data): string {
  return JSON.stringify(v, (_, x: unknown) => {
    if (typeof x === 'bigint') return `@@${x}n@@`;
    if (x instanceof Uint8Array) return `@@new Uint8Array([${x.join(',')}])@@`;
    return x;
  }).replace(/"@@(.*?)@@"/g, '$1');
}

/** The tiny consumers whose browser bundles are compared: each encodes and decodes the event once. */
function bundleConsumers(root: string): { name: string; label: string; source: string }[] {
  const ev = dataLiteral(EVENT);
  const src = (p: string): string => JSON.stringify(join(root, p));
  return [
    {
      name: 'native',
      label: 'ours: encodeValue + decodeValue (src/codec/native/values.ts)',
      source: `import { decodeValue, encodeValue } from ${src('src/codec/native/values.ts')};
const bytes = encodeValue(${ev});
console.log(decodeValue(bytes));
`,
    },
    {
      name: 'msgpack-lib',
      label: '@msgpack/msgpack Encoder + Decoder, with the Broker mapping (bench/lib/msgpack-broker.ts)',
      source: `import { decodeWithMsgpackLib, encodeWithMsgpackLib } from ${src('bench/lib/msgpack-broker.ts')};
const bytes = encodeWithMsgpackLib(${ev});
console.log(decodeWithMsgpackLib(bytes));
`,
    },
    {
      name: 'msgpack-lib plain',
      label: '@msgpack/msgpack encode + decode of the plain object',
      source: `import { decode, encode } from '@msgpack/msgpack';
const bytes = encode(${JSON.stringify(PLAIN)});
console.log(decode(bytes));
`,
    },
  ];
}

/** Minified and gzipped size of each consumer, bundled like the `bundle` section's. */
async function bundleSizes(root: string): Promise<Map<string, { label: string; minified: number; gzipped: number }>> {
  const out = new Map<string, { label: string; minified: number; gzipped: number }>();
  for (const c of bundleConsumers(root)) {
    const result = await build({
      stdin: { contents: c.source, resolveDir: root, sourcefile: 'consumer.js', loader: 'js' },
      bundle: true,
      minify: true,
      treeShaking: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const js = result.outputFiles[0];
    if (js === undefined) throw new Error(`esbuild produced nothing for ${c.name}`);
    out.set(c.name, {
      label: c.label,
      minified: js.contents.length,
      gzipped: gzipSync(js.contents, { level: 9 }).length,
    });
  }
  return out;
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

  ctx.log('codec: round trips (7 variants, interleaved)');
  const tasks: BenchTask[] = [
    { name: 'baseline', run: baselineRoundTrip },
    { name: 'native', run: nativeRoundTrip },
    { name: 'native frame', run: frameRoundTrip },
    { name: 'json-v1', run: jsonRoundTrip },
    { name: 'msgpack-lib', run: libRoundTrip },
    { name: 'msgpack-lib plain', run: libPlainRoundTrip },
    { name: 'msgpack-lib core', run: libCoreRoundTrip },
  ];
  const rt = compareInterleaved(tasks, ctx.timing);

  ctx.log('codec: encode and decode apart (12 variants, interleaved)');
  const nativeEncoded = encodeValue(EVENT);
  const plainEncoded = plainEncoder.encode(PLAIN);
  const split = compareInterleaved(
    [
      { name: 'baseline stringify', run: () => JSON.stringify(PLAIN) },
      { name: 'baseline parse', run: () => JSON.parse(baselineText) },
      { name: 'native encode', run: () => encodeValue(EVENT) },
      { name: 'native decode', run: () => decodeValue(nativeEncoded) },
      { name: 'json-v1 encode', run: () => encodeJsonMessage(JSON_MESSAGE) },
      { name: 'json-v1 decode', run: () => decodeJsonMessage(jsonText) },
      { name: 'msgpack-lib encode', run: () => encodeWithMsgpackLib(EVENT) },
      { name: 'msgpack-lib decode', run: () => decodeWithMsgpackLib(nativeEncoded) },
      { name: 'msgpack-lib plain encode', run: () => plainEncoder.encode(PLAIN) },
      { name: 'msgpack-lib plain decode', run: () => plainDecoder.decode(plainEncoded) },
      { name: 'msgpack-lib core encode', run: () => encodePlainWithMsgpackLib(EVENT_TREE) },
      { name: 'msgpack-lib core decode', run: () => decodeToPlainWithMsgpackLib(nativeEncoded) },
    ],
    ctx.timing,
  );

  ctx.log('codec: browser bundles of ours and of @msgpack/msgpack (esbuild)');
  const bundles = await bundleSizes(packageRoot());

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

  const libRows: [name: string, label: string, bytes: number, does: string][] = [
    [
      'native',
      'ours: encodeValue / decodeValue',
      nativeBytes,
      'Broker types (ext types, set marker, 64-bit ints as bigint); decode checks limits, UTF-8, set order',
    ],
    [
      'msgpack-lib',
      '@msgpack/msgpack, same bytes',
      encodeWithMsgpackLib(EVENT).length,
      'the same bytes via a Data ↔ ExtData mapping; decode checks nothing beyond MessagePack',
    ],
    [
      'msgpack-lib core',
      '@msgpack/msgpack, same bytes, library alone',
      nativeBytes,
      'the row above without the Data ↔ tree mapping: encodes a prepared tree, decodes to ExtData and numbers',
    ],
    [
      'msgpack-lib plain',
      '@msgpack/msgpack, plain object',
      plainEncoded.length,
      'untyped object: strings for address and port, a float for the time, no set',
    ],
  ];
  const vsOurs = (name: string, op: 'encode' | 'decode'): string =>
    name === 'native' ? '1×' : formatRatio(medianRatio(split, `${name} ${op}`, `native ${op}`));
  const libTable: Table = {
    title:
      'Our MessagePack codec against `@msgpack/msgpack` on the same event (time per operation, interleaved; × ours: median of per-round time ratios, above 1 is slower than ours)',
    headers: [
      'codec',
      'encode',
      '× ours',
      'decode',
      '× ours',
      'round trip',
      '× ours',
      'bytes',
      'bundle (gzip)',
      'what it does',
    ],
    rows: libRows.map(([name, label, bytes, does]) => [
      label,
      formatNs(taskTiming(split, `${name} encode`).medianNs),
      vsOurs(name, 'encode'),
      formatNs(taskTiming(split, `${name} decode`).medianNs),
      vsOurs(name, 'decode'),
      formatNs(taskTiming(rt, name).medianNs),
      name === 'native' ? '1×' : formatRatio(medianRatio(rt, name, 'native')),
      formatBytes(bytes),
      bundles.has(name) ? formatBytes(bundles.get(name)!.gzipped) : '—',
      does,
    ]),
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  };
  const bundleTable: Table = {
    title: 'Browser bundles of a consumer that encodes and decodes the event once (esbuild, minified ESM, tree-shaken)',
    headers: ['consumer', 'minified', 'gzip -9'],
    rows: [...bundles.values()].map((b) => [b.label, formatBytes(b.minified), formatBytes(b.gzipped)]),
  };
  const splitTitle = 'Encode and decode apart (time per operation; ratio against JSON.stringify / JSON.parse)';
  const charts: SectionChart[] = [
    {
      file: 'msgpack-time',
      title: 'Encode and decode time per event: ours against @msgpack/msgpack',
      after: libTable.title,
      svg: groupedBarChartSvg({
        title: 'Encode and decode of one Zeek event: time per operation (less is better)',
        axis: 'time per operation',
        groups: [...libRows.map((r) => r[1]), 'JSON.stringify / JSON.parse, plain object'],
        series: [
          {
            name: 'encode',
            values: [...libRows.map((r) => taskTiming(split, `${r[0]} encode`).medianNs), bs.medianNs],
          },
          {
            name: 'decode',
            values: [...libRows.map((r) => taskTiming(split, `${r[0]} decode`).medianNs), bp.medianNs],
          },
        ],
        format: formatNs,
      }),
    },
    {
      file: 'bundle',
      title: 'Gzipped browser bundle of a consumer that encodes and decodes one event',
      after: libTable.title,
      svg: barChartSvg({
        title: 'Browser bundle of a consumer that encodes + decodes one event, gzip -9 (less is better)',
        axis: 'bundle size, gzipped',
        bars: [...bundles.entries()].map(([name, b]) => ({
          label: libRows.find((r) => r[0] === name)![1],
          value: b.gzipped,
          highlight: name === 'native',
        })),
        format: formatBytes,
        tickUnit: 1024,
      }),
    },
    {
      file: 'round-trip',
      title: 'Round trip time per codec',
      after: 'Round trip (encode + decode) of one event',
      svg: barChartSvg({
        title: 'Round trip (encode + decode) of one Zeek event: time (less is better)',
        axis: 'time per round trip',
        bars: [
          { label: 'JSON.parse(JSON.stringify(plain object))', value: taskTiming(rt, 'baseline').medianNs },
          { label: 'native MessagePack (ours)', value: taskTiming(rt, 'native').medianNs, highlight: true },
          {
            label: 'native frame (ours, whole message)',
            value: taskTiming(rt, 'native frame').medianNs,
            highlight: true,
          },
          { label: 'Broker JSON v1 (ours)', value: taskTiming(rt, 'json-v1').medianNs, highlight: true },
          { label: '@msgpack/msgpack, same bytes', value: taskTiming(rt, 'msgpack-lib').medianNs },
          { label: '@msgpack/msgpack, plain object', value: taskTiming(rt, 'msgpack-lib plain').medianNs },
        ],
        format: formatNs,
      }),
    },
  ];

  return {
    charts,
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
          row(
            'msgpack-lib',
            '@msgpack/msgpack writing the native bytes (bench/lib/msgpack-broker.ts)',
            encodeWithMsgpackLib(EVENT).length,
            formatRatio(medianRatio(rt, 'msgpack-lib', 'baseline')),
            'info',
          ),
          row(
            'msgpack-lib plain',
            '@msgpack/msgpack on the plain object',
            plainEncoded.length,
            formatRatio(medianRatio(rt, 'msgpack-lib plain', 'baseline')),
            'info',
          ),
        ],
      },
      {
        title: splitTitle,
        headers: ['codec', 'encode', '× stringify', 'decode', '× parse', 'note'],
        rows: [
          ['baseline', formatNs(bs.medianNs), '1×', formatNs(bp.medianNs), '1×', 'untyped plain object'],
          pair('native', 'value only', 'baseline'),
          pair('json-v1', 'data message with topic', 'baseline'),
          pair('msgpack-lib', 'the native bytes, via @msgpack/msgpack', 'baseline'),
          pair('msgpack-lib plain', 'untyped plain object', 'baseline'),
        ],
      },
      libTable,
      bundleTable,
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
      'Why our own MessagePack codec: **ours** (`encodeValue`/`decodeValue`) maps Broker values straight to and ' +
        'from bytes: typed scalars as MessagePack ext types (address, port, timestamp, …), sets and tables as ' +
        'arrays led by a marker, counts and integers as 64-bit values (`bigint`), written into a reused buffer; its ' +
        'decoder checks every length and the nesting depth against limits before allocating, that strings are valid ' +
        'UTF-8 and that sets are sorted and free of duplicates (remote input). **`@msgpack/msgpack`, same bytes** is ' +
        'version ' +
        LIB_VERSION +
        ' with one reused `Encoder` and `Decoder` (`useBigInt64: true`) and a mapping from `Data` to a tree of arrays, ' +
        'numbers, bigints and `ExtData` and back (`bench/lib/msgpack-broker.ts`); it writes byte for byte what ours ' +
        'writes (checked before timing) and decodes to an equal `Data`, but checks nothing beyond MessagePack itself ' +
        '(no limits, no set order), so ours does more on decode. **`@msgpack/msgpack`, plain object** encodes the ' +
        "JSON baseline's untyped object (strings for the address and the port, a float for the timestamp, an array " +
        'for the set) — less than ours does: no Broker types, no 64-bit integers, and a receiver cannot tell a ' +
        'string from an address. The bundles are esbuild builds (`bundle, minify, format: esm, platform: browser, ' +
        'target: es2022`) of a consumer that builds the event as an object literal and logs the decoded value; ' +
        'gzip is `node:zlib` level 9.',
      `Bundle sizes side by side: ours ${formatBytes(bundles.get('native')!.gzipped)} gzipped, ` +
        `\`@msgpack/msgpack\` with the Broker mapping ${formatBytes(bundles.get('msgpack-lib')!.gzipped)} ` +
        `(${formatRatio(bundles.get('native')!.gzipped / bundles.get('msgpack-lib')!.gzipped)} ours ÷ it), ` +
        `plain ${formatBytes(bundles.get('msgpack-lib plain')!.gzipped)}; ours includes its decode-side checks ` +
        '(limits, UTF-8 validation, set and table order).',
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
    'carrying Broker types compared with not carrying them at all — and our hand-written MessagePack codec ' +
    'against the general-purpose `@msgpack/msgpack` library on the same event: time and browser bundle size.',
  run,
};
