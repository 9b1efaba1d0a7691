import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  count,
  equals,
  makeEvent,
  makeZeekMessage,
  parseZeekMessage,
  string,
  timestamp,
  vector,
  type Data,
  type MetadataEntry,
  type ZeekMessage,
} from 'isobroker';
import { dataArb } from '../support/arbitraries.js';

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const metadataEntryArb: fc.Arbitrary<MetadataEntry> = fc.oneof(
  int64.map((ns): MetadataEntry => [1n, timestamp(ns)]),
  fc
    .tuple(
      uint64.filter((k) => k !== 1n),
      dataArb({ depth: 1 }),
    )
    .map(([k, v]): MetadataEntry => [k, v]),
);

const eventArb: fc.Arbitrary<ZeekMessage> = fc
  .record({
    name: fc.string({ unit: 'grapheme', maxLength: 12 }),
    args: fc.array(dataArb({ depth: 2 }), { maxLength: 4 }),
    metadata: fc.array(metadataEntryArb, { maxLength: 3 }),
  })
  .map(({ name, args, metadata }): ZeekMessage => {
    const first = metadata.find(([k]) => k === 1n);
    return first === undefined
      ? { kind: 'event', name, args, metadata }
      : { kind: 'event', name, args, metadata, networkTime: first[1] as ReturnType<typeof timestamp> };
  });

const enumName = fc.stringMatching(/^[A-Za-z_]{1,8}::[A-Z_]{1,8}$/);

const leafArb: fc.Arbitrary<ZeekMessage> = fc.oneof(
  eventArb,
  fc
    .record({
      streamId: enumName,
      writerId: enumName,
      writerInfo: dataArb({ depth: 2 }),
      fields: dataArb({ depth: 2 }),
    })
    .map((r): ZeekMessage => ({ kind: 'log-create', ...r })),
  fc
    .record({
      streamId: enumName,
      writerId: enumName,
      path: fc.string({ maxLength: 10 }),
      serialData: fc.string({ maxLength: 20 }),
    })
    .map((r): ZeekMessage => ({ kind: 'log-write', ...r })),
  fc
    .record({ name: fc.string({ maxLength: 10 }), value: dataArb({ depth: 2 }) })
    .map((r): ZeekMessage => ({ kind: 'identifier-update', ...r })),
);

/** Messages with batches nested at most `depth` deep. */
function messageArb(depth: number): fc.Arbitrary<ZeekMessage> {
  if (depth === 0) return leafArb;
  return fc.oneof(
    { weight: 3, arbitrary: leafArb },
    {
      weight: 1,
      arbitrary: fc
        .array(messageArb(depth - 1), { maxLength: 3 })
        .map((messages): ZeekMessage => ({ kind: 'batch', messages })),
    },
  );
}

describe('Zeek message round trips', () => {
  it('parseZeekMessage(makeZeekMessage(m)) gives m back', () => {
    fc.assert(
      fc.property(messageArb(4), (m) => {
        expect(parseZeekMessage(makeZeekMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('makeZeekMessage(parseZeekMessage(d)) gives the same Broker value back', () => {
    fc.assert(
      fc.property(messageArb(4), (m) => {
        const d: Data = makeZeekMessage(m);
        const again = makeZeekMessage(parseZeekMessage(d));
        expect(equals(again, d)).toBe(true);
        expect(again).toEqual(d);
      }),
      { numRuns: 500 },
    );
  });

  it('makeEvent round trips its arguments, timestamp and user metadata', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 10 }),
        fc.array(dataArb({ depth: 2 }), { maxLength: 4 }),
        fc.option(int64, { nil: undefined }),
        fc.array(fc.tuple(fc.bigInt({ min: 200n, max: (1n << 64n) - 1n }), dataArb({ depth: 1 })), { maxLength: 3 }),
        (name, args, tsNs, user) => {
          const networkTime = tsNs === undefined ? undefined : timestamp(tsNs);
          const ev = parseZeekMessage(makeEvent(name, args, { networkTime, metadata: user }));
          const metadata: MetadataEntry[] = [...(networkTime ? [[1n, networkTime] as const] : []), ...user];
          expect(ev).toEqual(
            networkTime === undefined
              ? { kind: 'event', name, args, metadata }
              : { kind: 'event', name, args, metadata, networkTime },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an empty metadata vector (Zeek 8) re-encodes as no metadata vector: the two mean the same', () => {
    const zeek8 = vector([count(1), count(1), vector([string('hello'), vector([count(3)]), vector([])])]);
    const re = makeZeekMessage(parseZeekMessage(zeek8));
    expect(re).toEqual(vector([count(1), count(1), vector([string('hello'), vector([count(3)])])]));
    expect(parseZeekMessage(re)).toEqual(parseZeekMessage(zeek8));
  });
});
