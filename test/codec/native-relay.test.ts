/**
 * Relaying a received Data message (`encodeRelayedData`): the head (array header, kind, topic) is
 * copied as it arrived and only origin, seq and TTL are written anew — the result must be what
 * encoding the message again would give.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MessageKind,
  ReceivedData,
  decodeFrame,
  encodeDataMessage,
  encodeFrame,
  encodeMessage,
  encodeRelayedData,
  encodeValue,
  type DataMessage,
} from '../../src/codec/native/messages.js';
import { dataArb } from '../support/arbitraries.js';
import { concat, expectSameMessage, hex, toHex } from './native-support.js';

const idArb = fc.uint8Array({ minLength: 16, maxLength: 16 });
const uintArb = fc.oneof(fc.nat(200), fc.nat(70_000), fc.nat(2 ** 32 + 5), fc.maxSafeNat());
const topicArb = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 300 }));

describe('encodeRelayedData', () => {
  it('gives the bytes a re-encode gives, for any message, wherever it sits in its frame (property)', () => {
    fc.assert(
      fc.property(
        topicArb,
        idArb,
        uintArb,
        uintArb,
        dataArb({ depth: 2 }),
        idArb,
        uintArb,
        uintArb,
        fc.nat(3),
        (topic, origin, seq, ttl, value, origin2, seq2, ttl2, before) => {
          const valueBytes = encodeValue(value);
          const msg = encodeDataMessage(topic, origin, seq, ttl, valueBytes);
          const ping = encodeMessage({ kind: MessageKind.Ping, nonce: 7 });
          const frame = encodeFrame([...Array.from({ length: before }, () => ping), msg, ping]);
          const m = decodeFrame(frame)[before] as DataMessage;
          expect(m).toBeInstanceOf(ReceivedData);
          const relayed = encodeRelayedData(m, origin2, seq2, ttl2);
          expect(toHex(relayed)).toBe(toHex(encodeDataMessage(topic, origin2, seq2, ttl2, valueBytes)));
          // TTL alone (a router's relay): only the TTL differs from what arrived.
          expect(toHex(encodeRelayedData(m, m.origin, m.seq, ttl2))).toBe(
            toHex(encodeDataMessage(topic, origin, seq, ttl2, valueBytes)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a decoded message compares and copies like a plain one (the arrived bytes stay private)', () => {
    const origin = new Uint8Array(16).fill(3);
    const valueBytes = encodeValue({ type: 'string', value: 'hi' } as never);
    const m = decodeFrame(encodeFrame([encodeDataMessage('t', origin, 5, 9, valueBytes)]))[0]!;
    expect(Object.keys(m)).toEqual(['kind', 'topic', 'origin', 'seq', 'ttl', 'valueBytes']);
    expectSameMessage(m, { kind: MessageKind.Data, topic: 't', origin, seq: 5, ttl: 9, valueBytes });
  });

  it('keeps a peer’s longer (valid) head as it came and writes the new fields', () => {
    // array16 header, kind as uint8, topic "ab" as str8: valid, not the shortest forms.
    const origin = new Uint8Array(16).fill(1);
    const value = hex('c3');
    const head = hex('dc 00 06 cc 03 d9 02 61 62');
    const raw = concat(head, hex('c4 10'), origin, hex('cf 00 00 00 00 00 00 00 05'), hex('03'), value);
    const m = decodeFrame(concat(hex('91'), raw))[0] as DataMessage;
    const origin2 = new Uint8Array(16).fill(2);
    const relayed = encodeRelayedData(m, origin2, 6, 2);
    expect(toHex(relayed)).toBe(toHex(concat(head, hex('c4 10'), origin2, hex('06 02'), value)));
    const back = decodeFrame(encodeFrame([relayed]))[0]!;
    expectSameMessage(back, {
      kind: MessageKind.Data,
      topic: 'ab',
      origin: origin2,
      seq: 6,
      ttl: 2,
      valueBytes: value,
    });
  });

  it('encodes a message that did not come from decodeFrame', () => {
    const origin = new Uint8Array(16).fill(4);
    const valueBytes = hex('c2');
    const plain: DataMessage = { kind: MessageKind.Data, topic: 'x/y', origin, seq: 1, ttl: 3, valueBytes };
    expect(toHex(encodeRelayedData(plain, origin, 2, 2))).toBe(
      toHex(encodeDataMessage('x/y', origin, 2, 2, valueBytes)),
    );
  });

  it('refuses an invalid origin, seq or ttl and leaves the encoder usable', () => {
    const origin = new Uint8Array(16);
    const m = decodeFrame(encodeFrame([encodeDataMessage('t', origin, 1, 1, hex('c0'))]))[0] as DataMessage;
    expect(() => encodeRelayedData(m, new Uint8Array(3), 1, 1)).toThrow(/16 bytes/);
    expect(() => encodeRelayedData(m, origin, -1, 1)).toThrow(/seq/);
    expect(() => encodeRelayedData(m, origin, 1, 1.5)).toThrow(/ttl/);
    expect(toHex(encodeRelayedData(m, origin, 2, 1))).toBe(toHex(encodeDataMessage('t', origin, 2, 1, hex('c0'))));
  });
});
