import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ValueError,
  count,
  enumValue,
  equals,
  integer,
  makeBatch,
  makeEvent,
  makeIdentifierUpdate,
  makeLogCreate,
  makeLogWrite,
  makeZeekMessage,
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

/** `[count 1, count type, [content…]]` built by hand with the constructors. */
function msg(type: number, content: Data[]): Data {
  return vector([count(1), count(type), vector(content)]);
}

function expectData(actual: Data, expected: Data): void {
  expect(equals(actual, expected), `\n${JSON.stringify(actual, big)}\n!=\n${JSON.stringify(expected, big)}`).toBe(true);
  expect(actual).toEqual(expected);
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

describe('makeEvent', () => {
  it('builds [1, 1, [name, args]] without metadata', () => {
    expectData(
      makeEvent('event_1', [integer(42), string('test')]),
      msg(1, [string('event_1'), vector([integer(42), string('test')])]),
    );
    expectData(makeEvent('no_args'), msg(1, [string('no_args'), vector([])]));
  });

  it('converts plain JavaScript arguments with from()', () => {
    const when = new Date(Date.UTC(2024, 0, 14, 15, 46, 13, 137));
    expectData(
      makeEvent('e', ['s', 7, 1.5, 2n ** 64n - 1n, true, null, [1, 'x'], when, count(3)]),
      msg(1, [
        string('e'),
        vector([
          string('s'),
          integer(7),
          real(1.5),
          count(2n ** 64n - 1n),
          { type: 'boolean', value: true },
          none(),
          vector([integer(1), string('x')]),
          timestamp(1705247173137n * 1_000_000n),
          count(3),
        ]),
      ]),
    );
  });

  it('puts the network timestamp under metadata key 1, from a timestamp or a Date', () => {
    // Zeek's own serializer test: Supervisor::node_status("TEST", 42) at network time 0.
    const expected = msg(1, [
      string('Supervisor::node_status'),
      vector([string('TEST'), count(42)]),
      vector([vector([count(1), timestamp(0n)])]),
    ]);
    expectData(makeEvent('Supervisor::node_status', ['TEST', count(42)], { networkTime: timestamp(0n) }), expected);
    expectData(makeEvent('Supervisor::node_status', ['TEST', count(42)], { networkTime: new Date(0) }), expected);
  });

  it('appends user metadata (keys >= 200) after the timestamp, in the given order', () => {
    const ev = makeEvent('e', [], {
      networkTime: timestamp(5n),
      metadata: new Map<bigint | number, unknown>([
        [10001000, 'latency'],
        [200n, count(1)],
      ]),
    });
    expectData(
      ev,
      msg(1, [
        string('e'),
        vector([]),
        vector([
          vector([count(1), timestamp(5n)]),
          vector([count(10001000), string('latency')]),
          vector([count(200), count(1)]),
        ]),
      ]),
    );
    // Repeated keys are allowed: Zeek keeps every entry (EventMetadata::current returns a vector).
    const twice = makeEvent('e', [], {
      metadata: [
        [300, 1],
        [300, 2],
      ],
    });
    expect(parseZeekMessage(twice)).toMatchObject({
      metadata: [
        [300n, integer(1)],
        [300n, integer(2)],
      ],
    });
  });

  it('omits the metadata vector when there is nothing to put in it', () => {
    const ev = makeEvent('e', [], { metadata: [] });
    expect(ev.elements[2]).toEqual(vector([string('e'), vector([])]));
  });

  it('refuses metadata keys reserved for Zeek, negative keys, bad timestamps and names', () => {
    for (const key of [0, 1, 2, 199, 199n]) {
      expect(() => makeEvent('e', [], { metadata: [[key, 1]] })).toThrow(/reserved for Zeek/);
    }
    expect(() => makeEvent('e', [], { metadata: [[-1, 1]] })).toThrow(ValueError);
    expect(() => makeEvent('e', [], { metadata: [[1.5, 1]] })).toThrow(ValueError);
    expect(() => makeEvent('e', [], { networkTime: integer(1) as never })).toThrow(/networkTime/);
    expect(() => makeEvent('e', [], { networkTime: new Date(NaN) })).toThrow(ValueError);
    expect(() => makeEvent(5 as never)).toThrow(/event name must be a string/);
    // The first user key (200) is accepted and carried as metadata.
    expect(parseZeekMessage(makeEvent('e', [], { metadata: [[200, 1]] }))).toMatchObject({
      metadata: [[200n, integer(1)]],
    });
  });
});

describe('log and identifier builders', () => {
  const writerInfo = vector([string('conn'), real(0), real(3600), real(1.5), table([]), string('')]);
  const fields = vector([vector([string('ts'), none(), count(21), count(0), { type: 'boolean', value: false }])]);

  it('builds log-create [stream, writer, info, fields] from names or enum values', () => {
    const expected = msg(2, [enumValue('Conn::LOG'), enumValue('Log::WRITER_ASCII'), writerInfo, fields]);
    expectData(makeLogCreate({ streamId: 'Conn::LOG', writerId: 'Log::WRITER_ASCII', writerInfo, fields }), expected);
    expectData(
      makeLogCreate({ streamId: enumValue('Conn::LOG'), writerId: enumValue('Log::WRITER_ASCII'), writerInfo, fields }),
      expected,
    );
    expect(() => makeLogCreate({ streamId: 3 as never, writerId: 'w', writerInfo, fields })).toThrow(/streamId/);
    expect(() => makeLogCreate({ streamId: 's', writerId: 'w', writerInfo: 'x' as never, fields })).toThrow(
      /writerInfo/,
    );
  });

  it('builds log-write [stream, writer, path, serial data]', () => {
    expectData(
      makeLogWrite({ streamId: 'Conn::LOG', writerId: 'Log::WRITER_ASCII', path: 'conn', serialData: '\u0000\u0001' }),
      msg(3, [enumValue('Conn::LOG'), enumValue('Log::WRITER_ASCII'), string('conn'), string('\u0000\u0001')]),
    );
    expect(() => makeLogWrite({ streamId: 's', writerId: 'w', path: 1 as never, serialData: '' })).toThrow(/path/);
  });

  it('builds identifier-update [name, value]', () => {
    expectData(makeIdentifierUpdate('Site::local_nets', set([])), msg(4, [string('Site::local_nets'), set([])]));
    expectData(makeIdentifierUpdate('x', 3), msg(4, [string('x'), integer(3)]));
    expect(() => makeIdentifierUpdate(1 as never, 1)).toThrow(/identifier name/);
  });
});

describe('makeBatch', () => {
  const ev = makeEvent('ping', ['a']);
  const lw = makeLogWrite({ streamId: 'Conn::LOG', writerId: 'Log::WRITER_ASCII', path: 'conn', serialData: 'x' });

  it('wraps vectors and decoded messages as [1, 5, [messages…]]', () => {
    expectData(makeBatch([ev, lw]), msg(5, [ev, lw]));
    expectData(makeBatch([parseZeekMessage(ev), lw]), msg(5, [ev, lw]));
    expectData(makeBatch([]), msg(5, []));
    expectData(makeBatch([makeBatch([ev])]), msg(5, [msg(5, [ev])]));
  });

  it('refuses an invalid item, naming it, with the decode error as cause', () => {
    let caught: unknown;
    try {
      makeBatch([ev, msg(1, [count(1), vector([])])]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValueError);
    expect((caught as Error).message).toMatch(/batch\[1\]: event name is not a string/);
    expect((caught as Error).cause).toBeInstanceOf(DecodeError);
  });

  it('refuses nesting deeper than the default depth', () => {
    let nested = makeBatch([ev]);
    for (let depth = 2; depth <= 4; depth++) nested = makeBatch([nested]);
    expect(() => makeBatch([nested])).toThrow(/nested deeper than 4/);
  });
});

describe('makeZeekMessage', () => {
  it('writes networkTime as a leading key-1 entry unless metadata already has one', () => {
    const ts = timestamp(42n);
    expectData(
      makeZeekMessage({ kind: 'event', name: 'e', args: [], metadata: [[200n, count(1)]], networkTime: ts }),
      msg(1, [string('e'), vector([]), vector([vector([count(1), ts]), vector([count(200), count(1)])])]),
    );
    expectData(
      makeZeekMessage({
        kind: 'event',
        name: 'e',
        args: [],
        metadata: [
          [200n, count(1)],
          [1n, ts],
        ],
        networkTime: ts,
      }),
      msg(1, [string('e'), vector([]), vector([vector([count(200), count(1)]), vector([count(1), ts])])]),
    );
  });

  it('keeps keys reserved for Zeek, which makeEvent refuses', () => {
    const m = makeZeekMessage({ kind: 'event', name: 'e', args: [], metadata: [[7n, string('zeek')]] });
    expect(parseZeekMessage(m)).toEqual({ kind: 'event', name: 'e', args: [], metadata: [[7n, string('zeek')]] });
  });

  it('refuses what the decoder would refuse', () => {
    expect(() => makeZeekMessage({ kind: 'event', name: 'e', args: [], metadata: [[1n, real(1)]] })).toThrow(
      /must be a timestamp/,
    );
    expect(() =>
      makeZeekMessage({ kind: 'event', name: 'e', args: [], metadata: [], networkTime: real(1) as never }),
    ).toThrow(/networkTime must be a timestamp/);
    expect(() => makeZeekMessage({ kind: 'event', name: 'e', args: [], metadata: [[-1n, none()]] })).toThrow(
      ValueError,
    );
    expect(() => makeZeekMessage({ kind: 'nope' } as never)).toThrow(/unknown Zeek message kind/);
  });
});
