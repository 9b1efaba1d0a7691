import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ValueError,
  address,
  count,
  enumValue,
  integer,
  isZeekEvent,
  makeBatch,
  makeEvent,
  makeLogWrite,
  none,
  parseZeekMessage,
  real,
  set,
  string,
  table,
  timestamp,
  vector,
  type Data,
} from 'isobroker';
import { DEFAULT_MAX_BATCH_DEPTH } from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';

function msg(type: Data | number, content: Data | Data[], version: Data = count(1)): Data {
  return vector([
    version,
    typeof type === 'number' ? count(type) : type,
    Array.isArray(content) ? vector(content) : content,
  ]);
}

const ts = timestamp(1_681_827_194_000_000_000n);
const tsEntry = vector([count(1), ts]);

describe('parseZeekMessage: valid layouts', () => {
  it('decodes an event without metadata (2 fields)', () => {
    const ev = parseZeekMessage(msg(1, [string('event_1'), vector([integer(42), string('test')])]));
    expect(ev).toEqual({ kind: 'event', name: 'event_1', args: [integer(42), string('test')], metadata: [] });
    expect('networkTime' in ev).toBe(false);
  });

  it('decodes an event with an empty metadata vector (Zeek 8) like one without', () => {
    const ev = parseZeekMessage(msg(1, [string('hello'), vector([count(3)]), vector([])]));
    expect(ev).toEqual({ kind: 'event', name: 'hello', args: [count(3)], metadata: [] });
  });

  it('decodes the network timestamp and keeps every metadata entry in order', () => {
    const meta = vector([
      vector([count(2), string('reserved for Zeek, unregistered: kept, as Zeek ignores it')]),
      tsEntry,
      vector([count(200), enumValue('hello')]),
      vector([count(1), timestamp(7n)]),
      vector([count(0), none()]),
    ]);
    const ev = parseZeekMessage(msg(1, [string(''), vector([]), meta]));
    expect(ev).toEqual({
      kind: 'event',
      name: '',
      args: [],
      metadata: [
        [2n, string('reserved for Zeek, unregistered: kept, as Zeek ignores it')],
        [1n, ts],
        [200n, enumValue('hello')],
        [1n, timestamp(7n)],
        [0n, none()],
      ],
      networkTime: ts, // the first key-1 entry, as Broker's Event::ts()
    });
  });

  it('decodes log-create, log-write and identifier-update', () => {
    const info = vector([string('conn'), real(0), real(3600), real(0), table([]), string('')]);
    expect(
      parseZeekMessage(msg(2, [enumValue('Conn::LOG'), enumValue('Log::WRITER_ASCII'), info, vector([])])),
    ).toEqual({
      kind: 'log-create',
      streamId: 'Conn::LOG',
      writerId: 'Log::WRITER_ASCII',
      writerInfo: info,
      fields: vector([]),
    });
    // Broker checks neither writer info nor fields; Zeek's logging layer does.
    expect(parseZeekMessage(msg(2, [enumValue('a'), enumValue('b'), none(), count(1)]))).toMatchObject({
      writerInfo: none(),
      fields: count(1),
    });
    expect(
      parseZeekMessage(
        msg(3, [enumValue('Conn::LOG'), enumValue('Log::WRITER_ASCII'), string('conn'), string('\u0001')]),
      ),
    ).toEqual({
      kind: 'log-write',
      streamId: 'Conn::LOG',
      writerId: 'Log::WRITER_ASCII',
      path: 'conn',
      serialData: '\u0001',
    });
    expect(parseZeekMessage(msg(4, [string('Site::local_nets'), set([address('10.0.0.1')])]))).toEqual({
      kind: 'identifier-update',
      name: 'Site::local_nets',
      value: set([address('10.0.0.1')]),
    });
  });

  it('decodes batches, empty and nested', () => {
    const ev = makeEvent('ping', ['x']);
    expect(parseZeekMessage(msg(5, []))).toEqual({ kind: 'batch', messages: [] });
    expect(parseZeekMessage(msg(5, [ev, msg(5, [ev])]))).toEqual({
      kind: 'batch',
      messages: [
        { kind: 'event', name: 'ping', args: [string('x')], metadata: [] },
        { kind: 'batch', messages: [{ kind: 'event', name: 'ping', args: [string('x')], metadata: [] }] },
      ],
    });
  });

  it(`accepts batches nested ${DEFAULT_MAX_BATCH_DEPTH} deep, not deeper; the depth is an option`, () => {
    const nest = (depth: number): Data => {
      let d: Data = makeEvent('e');
      for (let i = 0; i < depth; i++) d = msg(5, [d]);
      return d;
    };
    expect(() => parseZeekMessage(nest(DEFAULT_MAX_BATCH_DEPTH))).not.toThrow();
    expect(() => parseZeekMessage(nest(DEFAULT_MAX_BATCH_DEPTH + 1))).toThrow(
      new DecodeError(
        `invalid Zeek message: ${'batch[0]: '.repeat(DEFAULT_MAX_BATCH_DEPTH)}batch nested deeper than 4`,
      ),
    );
    expect(() => parseZeekMessage(nest(1), { maxBatchDepth: 0 })).toThrow(/batch nested deeper than 0/);
    expect(() => parseZeekMessage(nest(0), { maxBatchDepth: 0 })).not.toThrow();
    expect(() => parseZeekMessage(nest(10), { maxBatchDepth: 10 })).not.toThrow();
    // A deep stack of batches cannot be used to exhaust the stack.
    expect(() => parseZeekMessage(nest(100_000))).toThrow(/nested deeper than 4/);
    expect(() => parseZeekMessage(nest(0), { maxBatchDepth: -1 })).toThrow(ValueError);
    expect(() => parseZeekMessage(nest(0), { maxBatchDepth: 1.5 })).toThrow(ValueError);
  });
});

describe('parseZeekMessage: rejections name what is wrong', () => {
  const ev2 = [string('e'), vector([])];
  const lw = [enumValue('Conn::LOG'), enumValue('Log::WRITER_ASCII'), string('conn'), string('')];
  const cases: [string, Data, RegExp][] = [
    ['not a vector', string('e'), /: not a vector \(got string\)$/],
    ['a set, not a vector', set([count(1)]), /not a vector \(got set\)/],
    ['two outer fields', vector([count(1), count(1)]), /expected 3 fields \[version, type, content\], got 2/],
    ['four outer fields', vector([count(1), count(1), vector(ev2), none()]), /expected 3 fields.*got 4/],
    ['version as integer', msg(1, ev2, integer(1)), /version is not a count \(got integer\)/],
    ['version 2', msg(1, ev2, count(2)), /unsupported version 2 \(expected 1\)/],
    ['version 0', msg(1, ev2, count(0)), /unsupported version 0/],
    ['type as integer', msg(integer(1), ev2), /message type is not a count \(got integer\)/],
    ['type 0 (Broker: invalid)', msg(0, ev2), /unknown message type 0 \(expected 1-5\)/],
    ['type 6', msg(6, ev2), /unknown message type 6/],
    ['content not a vector', msg(1, string('e')), /content is not a vector \(got string\)/],
    ['event with one field', msg(1, [string('e')]), /event has 1 fields, expected 2 or 3/],
    ['event with four fields', msg(1, [...ev2, vector([]), vector([])]), /event has 4 fields/],
    ['event name not a string', msg(1, [enumValue('e'), vector([])]), /event name is not a string \(got enum-value\)/],
    ['event args not a vector', msg(1, [string('e'), set([])]), /event args are not a vector \(got set\)/],
    ['metadata not a vector', msg(1, [...ev2, table([])]), /event metadata is not a vector \(got table\)/],
    [
      'metadata entry not a vector',
      msg(1, [...ev2, vector([count(1)])]),
      /event metadata\[0\] is not a vector \(got count\)/,
    ],
    [
      'metadata entry of 1',
      msg(1, [...ev2, vector([vector([count(200)])])]),
      /metadata\[0\] has 1 elements, expected 2/,
    ],
    [
      'metadata entry of 3',
      msg(1, [...ev2, vector([tsEntry, vector([count(200), none(), none()])])]),
      /metadata\[1\] has 3 elements, expected 2/,
    ],
    [
      'metadata key not a count',
      msg(1, [...ev2, vector([vector([integer(1), ts])])]),
      /metadata\[0\] key is not a count \(got integer\)/,
    ],
    [
      'network timestamp as a real (Zeek time)',
      msg(1, [...ev2, vector([vector([count(1), real(1.5)])])]),
      /metadata\[0\]: network timestamp \(key 1\) is not a timestamp \(got real\)/,
    ],
    [
      'a second key-1 entry not a timestamp',
      msg(1, [...ev2, vector([tsEntry, vector([count(1), string('x')])])]),
      /metadata\[1\]: network timestamp.*got string/,
    ],
    ['log-create of 3', msg(2, [enumValue('a'), enumValue('b'), none()]), /log-create has 3 fields, expected 4/],
    [
      'log-create stream as string',
      msg(2, [string('a'), enumValue('b'), none(), none()]),
      /log-create stream id is not an enum-value \(got string\)/,
    ],
    [
      'log-create writer as string',
      msg(2, [enumValue('a'), string('b'), none(), none()]),
      /log-create writer id is not an enum-value/,
    ],
    ['log-write of 5', msg(3, [...lw, none()]), /log-write has 5 fields, expected 4/],
    ['log-write stream as string', msg(3, [string('x'), ...lw.slice(1)]), /log-write stream id is not an enum-value/],
    [
      'log-write writer as count',
      msg(3, [lw[0]!, count(1), ...lw.slice(2)]),
      /log-write writer id is not an enum-value \(got count\)/,
    ],
    [
      'log-write path not a string',
      msg(3, [...lw.slice(0, 2), none(), lw[3]!]),
      /log-write path is not a string \(got none\)/,
    ],
    [
      'log-write serial data as vector',
      msg(3, [...lw.slice(0, 3), vector([])]),
      /log-write serial data is not a string \(got vector\)/,
    ],
    ['identifier-update of 1', msg(4, [string('x')]), /identifier-update has 1 fields, expected 2/],
    ['identifier-update of 3', msg(4, [string('x'), none(), none()]), /identifier-update has 3 fields/],
    ['identifier name not a string', msg(4, [enumValue('x'), none()]), /identifier-update name is not a string/],
    ['batch with a bad item', msg(5, [makeEvent('e'), msg(1, [string('e')])]), /: batch\[1\]: event has 1 fields/],
    ['batch holding a plain value', msg(5, [count(1)]), /: batch\[0\]: not a vector \(got count\)/],
    [
      'batch nested bad item',
      msg(5, [msg(5, [makeEvent('e'), msg(9, [])])]),
      /batch\[0\]: batch\[1\]: unknown message type 9/,
    ],
  ];

  for (const [what, input, pattern] of cases) {
    it(what, () => {
      let caught: unknown;
      try {
        parseZeekMessage(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(DecodeError);
      expect((caught as DecodeError).code).toBe('deserialization_failed');
      expect((caught as Error).message).toMatch(/^invalid Zeek message: /);
      expect((caught as Error).message).toMatch(pattern);
      expect(isZeekEvent(input)).toBe(false);
    });
  }
});

describe('isZeekEvent', () => {
  it('is true for valid events with 2 or 3 fields only', () => {
    expect(isZeekEvent(makeEvent('e'))).toBe(true);
    expect(isZeekEvent(makeEvent('e', [], { networkTime: ts }))).toBe(true);
    expect(isZeekEvent(msg(1, [string('e'), vector([]), vector([])]))).toBe(true);
    expect(isZeekEvent(makeBatch([makeEvent('e')]))).toBe(false);
    expect(isZeekEvent(makeLogWrite({ streamId: 'a', writerId: 'b', path: 'p', serialData: '' }))).toBe(false);
    expect(isZeekEvent(msg(1, [string('e'), vector([]), vector([vector([count(1), real(0)])])]))).toBe(false);
    expect(isZeekEvent(none())).toBe(false);
  });
});

describe('parseZeekMessage on arbitrary input', () => {
  // Values shaped like messages, so that the checks past the outer layout are reached too.
  const contentArb = fc.array(dataArb({ depth: 2 }), { maxLength: 4 });
  const messageLikeArb: fc.Arbitrary<Data> = fc.oneof(
    dataArb({ depth: 3 }),
    fc.tuple(fc.integer({ min: 0, max: 7 }), contentArb).map(([type, content]) => msg(type, content)),
    fc
      .tuple(
        fc.array(dataArb({ depth: 2 }), { maxLength: 3 }),
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 3n }), dataArb({ depth: 1 })), { maxLength: 3 }),
      )
      .map(([args, meta]) => msg(1, [string('e'), vector(args), vector(meta.map(([k, v]) => vector([count(k), v])))])),
  );

  it('only ever throws DecodeError, and isZeekEvent agrees with it', () => {
    fc.assert(
      fc.property(messageLikeArb, (d) => {
        let kind: string | undefined;
        try {
          kind = parseZeekMessage(d).kind;
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
        expect(isZeekEvent(d)).toBe(kind === 'event');
      }),
      { numRuns: 2000 },
    );
  });
});
