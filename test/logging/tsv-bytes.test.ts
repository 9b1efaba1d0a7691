/**
 * The TSV fast path (`writeRecords`, straight into bytes) against the string path (`record`, the
 * one the Zeek baselines check): on random streams, records and options both write the same bytes,
 * and a malformed record fails both the same way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  address,
  boolean,
  count,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  string,
  subnet,
  timespan,
  timestamp,
  vector,
} from '../../src/data/constructors.js';
import type { Data } from '../../src/data/types.js';
import { ValueError } from '../../src/errors.js';
import { LogBytes } from '../../src/logging/bytes.js';
import { createTsvFormat, type TsvFormatOptions } from '../../src/logging/format.js';
import { defineLogStream } from '../../src/logging/stream.js';
import { putFixed6 } from '../../src/logging/tsv-bytes.js';
import { LOG_SCALAR_TYPES, type LogColumnType, type LogScalarType, type LogStream } from '../../src/logging/types.js';
import { formatBatch } from '../../src/logging/writer.js';
import { formatRealFixed } from '../../src/data/text.js';

const utf8 = new TextEncoder();

/** Text that exercises every escape: markers, separators, backslashes, controls, bad and good UTF-8. */
const tricky = fc
  .array(fc.constantFrom('a', 'Z', '-', '(', ')', 'empty', '\\', 'x', '#', ',', ';', '|', '\t', '\n', '\0', '\x7f'), {
    maxLength: 8,
  })
  .map((cs) => cs.join(''));
const text = fc
  .oneof(
    tricky,
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom('', '-', '(empty)', '#x', '\\x41', 'é', '\ue000', '\ufff0', '🚀', '\u0085'),
  )
  .filter((s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s));
const ns = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -(10n ** 12n), max: 9n * 10n ** 18n }),
  // Ties of %.6f: j / 128 seconds.
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((j) => (BigInt(j) * 1_000_000_000n) / 128n),
  fc.constantFrom(0n, -1n, 1n, 999n, 500n, 1_764_000_000_123_456_789n),
);
const double = fc.oneof(
  fc.double(),
  fc.integer({ min: -(2 ** 50), max: 2 ** 50 }).map((k) => k / 1e6),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e-7, 1e308),
);
const bytes16 = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.constantFrom(new Uint8Array(16), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0])),
);

function scalar(type: LogScalarType): fc.Arbitrary<Data> {
  switch (type) {
    case 'bool':
      return fc.boolean().map(boolean);
    case 'count':
      return fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 54n })).map(count);
    case 'int':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(integer);
    case 'double':
      return double.map(real);
    case 'time':
      return ns.map((v) => timestamp(v));
    case 'interval':
      return ns.map((v) => timespan(v));
    case 'string':
      return text.map(string);
    case 'enum':
      return text.filter((s) => s !== '').map(enumValue);
    case 'addr':
      return bytes16.map((b) => address(b));
    case 'subnet':
      return fc.tuple(bytes16, fc.integer({ min: 0, max: 128 })).map(([b, len]) => {
        const a = address(b);
        return subnet(
          a,
          a.bytes[10] === 0xff && a.bytes[11] === 0xff && a.bytes.slice(0, 10).every((x) => x === 0) ? len % 33 : len,
        );
      });
    case 'port':
      return fc
        .tuple(fc.integer({ min: 0, max: 65535 }), fc.constantFrom('tcp', 'udp', 'icmp', 'unknown' as const))
        .map(([n, p]) => port(n, p));
  }
}

const columnType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...LOG_SCALAR_TYPES) },
  { weight: 1, arbitrary: fc.constantFrom(...LOG_SCALAR_TYPES).map((t) => `set[${t}]` as LogColumnType) },
  { weight: 1, arbitrary: fc.constantFrom(...LOG_SCALAR_TYPES).map((t) => `vector[${t}]` as LogColumnType) },
);

const streamArb: fc.Arbitrary<LogStream> = fc
  .array(fc.tuple(columnType, fc.boolean()), { minLength: 1, maxLength: 8 })
  .map((cols) =>
    defineLogStream({
      id: 'Test::LOG',
      columns: cols.map(([type, optional], i) => ({ name: `c${i}`, type, optional })),
    }),
  );

function value(type: LogColumnType): fc.Arbitrary<Data> {
  const m = /^(set|vector)\[(\w+)\]$/.exec(type);
  if (m === null) return fc.option(scalar(type as LogScalarType), { nil: none(), freq: 5 });
  const element = scalar(m[2] as LogScalarType);
  if (m[1] === 'set') return fc.option(fc.array(element, { maxLength: 4 }).map(set), { nil: none(), freq: 5 });
  return fc.option(fc.array(fc.option(element, { nil: none(), freq: 6 }), { maxLength: 4 }).map(vector), {
    nil: none(),
    freq: 5,
  });
}

const records = (s: LogStream): fc.Arbitrary<Data[]> =>
  fc.array(
    fc.tuple(...s.columns.map((c) => value(c.type))).map((vs) => vector(vs)),
    { minLength: 1, maxLength: 5 },
  );

const optionsArb: fc.Arbitrary<TsvFormatOptions> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record({
      separator: fc.constantFrom('\t', '|', ' ', '::', 'é'),
      setSeparator: fc.constantFrom(',', ';', '\t', '||', '🚀'),
      emptyField: fc.constantFrom('(empty)', 'EMPTY', '', 'é'),
      unsetField: fc.constantFrom('-', 'NULL', '#', '', '-é'),
      metaPrefix: fc.constantFrom('#', 'a', '-', 'C', '##'),
    }),
  },
);

function slow(options: TsvFormatOptions, stream: LogStream, recs: readonly Data[]): Uint8Array {
  return utf8.encode(formatBatch(createTsvFormat(options), stream, recs));
}

function fast(options: TsvFormatOptions, stream: LogStream, recs: readonly Data[], out = new LogBytes(16)): Uint8Array {
  createTsvFormat(options).writeRecords!(stream, recs, out);
  return out.bytes().slice();
}

describe('TSV fast path', () => {
  it('writes the bytes of the string path on random streams, records and options', () => {
    fc.assert(
      fc.property(
        streamArb.chain((s) => fc.tuple(fc.constant(s), records(s), optionsArb)),
        ([stream, recs, options]) => {
          expect(fast(options, stream, recs)).toEqual(slow(options, stream, recs));
        },
      ),
      { numRuns: 3000 },
    );
  }, 120_000);

  it('appends after what the buffer holds, growing it', () => {
    const stream = defineLogStream({ id: 'A::LOG', columns: [{ name: 's', type: 'string' }] });
    const out = new LogBytes(16);
    out.ascii('head\n');
    const long = 'x'.repeat(100);
    createTsvFormat().writeRecords!(stream, [vector([string(long)]), vector([string('#1')])], out);
    expect(new TextDecoder().decode(out.bytes())).toBe(`head\n${long}\n\\x231\n`);
  });

  it('fails a malformed record as the string path does and leaves the buffer as it was', () => {
    fc.assert(
      fc.property(
        streamArb.chain((s) => fc.tuple(fc.constant(s), records(s), fc.nat(), fc.constantFrom(...LOG_SCALAR_TYPES))),
        ([stream, recs, at, wrongType]) => {
          const i = at % stream.columns.length;
          const elements = [...(recs[0] as { elements: readonly Data[] }).elements];
          // A value of another Broker type than the column's (its scalar type or its container).
          const other = stream.columns[i]!.type === wrongType ? (wrongType === 'bool' ? 'count' : 'bool') : wrongType;
          elements[i] = fc.sample(scalar(other as LogScalarType), { numRuns: 1, seed: at })[0]!;
          const bad = [...recs, vector(elements)];
          if (stream.columns[i]!.container !== undefined && elements[i]!.type === 'none') return;
          let slowError: unknown;
          try {
            slow({}, stream, bad);
          } catch (e) {
            slowError = e;
          }
          const out = new LogBytes(16);
          out.ascii('kept');
          expect(() => fast({}, stream, bad, out)).toThrow(ValueError);
          expect(slowError).toBeInstanceOf(ValueError);
          expect(() => fast({}, stream, bad, out)).toThrow((slowError as Error).message);
          expect(new TextDecoder().decode(out.bytes())).toBe('kept');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects what is not a vector of the right length', () => {
    const stream = defineLogStream({ id: 'A::LOG', columns: [{ name: 's', type: 'string' }] });
    const out = new LogBytes();
    expect(() => createTsvFormat().writeRecords!(stream, [string('x')], out)).toThrow(ValueError);
    expect(() => createTsvFormat().writeRecords!(stream, [vector([])], out)).toThrow(ValueError);
    expect(out.length).toBe(0);
  });

  it('writes %.6f as C does, ties to even included', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer({ min: -(2 ** 52), max: 2 ** 52 }).map((j) => j / 128),
          fc.integer().map((k) => k / 1e6 + 0.0000005),
        ),
        (d) => {
          const out = new LogBytes(16);
          putFixed6(d, out);
          expect(new TextDecoder().decode(out.bytes())).toBe(formatRealFixed(d));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
