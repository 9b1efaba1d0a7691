import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueError, count, equals, port, set, string, vector } from 'isobroker';
import {
  DEFAULT_NATIVE_LIMITS,
  ENDPOINT_ID_BYTES,
  MessageKind,
  NATIVE_PROTOCOL_VERSION,
  RESERVED_MESSAGE_KINDS,
  decodeFrame,
  decodeValue,
  encodeDataMessage,
  encodeFrame,
  encodeMessage,
  encodeValue,
  type DataMessage,
  type NativeMessage,
} from '../../src/internal.js';
import { dataArb } from '../support/arbitraries.js';
import {
  concat,
  decodeGeneric,
  expectDecodeError,
  expectSameMessage,
  hex,
  messageArb,
  toHex,
} from './native-support.js';

const ID = Uint8Array.from({ length: 16 }, (_, i) => i);
const ID_HEX = 'c4 10 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f';

const one = (m: Uint8Array): NativeMessage => {
  const msgs = decodeFrame(encodeFrame([m]));
  expect(msgs).toHaveLength(1);
  return msgs[0]!;
};

describe('native message table', () => {
  it('numbers the kinds and reserves ranges', () => {
    expect(MessageKind).toEqual({
      Hello: 1,
      Announce: 2,
      Data: 3,
      Error: 4,
      Ping: 5,
      Pong: 6,
      Bye: 7,
      Welcome: 8,
      Reauth: 9,
      Narrowed: 10,
    });
    expect(NATIVE_PROTOCOL_VERSION).toBe(3);
    expect(ENDPOINT_ID_BYTES).toBe(16);
    expect(RESERVED_MESSAGE_KINDS).toEqual({ store: { first: 16, last: 31 }, logging: { first: 32, last: 47 } });
  });
});

describe('native messages: exact bytes and round trips', () => {
  it('Hello', () => {
    const m = encodeMessage({ kind: MessageKind.Hello, version: 1, id: ID, name: 'w1', role: 'worker' });
    expect(toHex(m)).toBe(`96 01 01 ${ID_HEX} a2 77 31 a6 77 6f 72 6b 65 72 c0`);
    expect(one(m)).toEqual({ kind: 1, version: 1, id: ID, name: 'w1', role: 'worker', credential: null });
    const withCredential = {
      kind: MessageKind.Hello,
      version: 1,
      id: ID,
      name: 'w1',
      role: 'worker',
      credential: 'tok',
    } as const;
    expect(toHex(encodeMessage(withCredential))).toMatch(/ a3 74 6f 6b$/);
    expect(one(encodeMessage(withCredential))).toEqual(withCredential);
    expect(toHex(encodeMessage({ ...withCredential, credential: null }))).toBe(toHex(m));
  });

  it('Hello of version 2 carries the link kind as a seventh field; a 6-field Hello still decodes', () => {
    const m = encodeMessage({ kind: MessageKind.Hello, version: 2, id: ID, name: 'w1', role: 'worker', link: 'leaf' });
    expect(toHex(m)).toBe(`97 01 02 ${ID_HEX} a2 77 31 a6 77 6f 72 6b 65 72 c0 a4 6c 65 61 66`);
    expect(one(m)).toEqual({ kind: 1, version: 2, id: ID, name: 'w1', role: 'worker', credential: null, link: 'leaf' });
    expect(() => decodeFrame(hex(`91 98 01 02 ${ID_HEX} a2 77 31 a6 77 6f 72 6b 65 72 c0 a4 6c 65 61 66 c0`))).toThrow(
      /Hello message must have 7 elements, got 8/,
    );
  });

  it('Announce', () => {
    const other = new Uint8Array(16).fill(0xaa);
    const msg = {
      kind: MessageKind.Announce,
      origin: ID,
      version: 300,
      name: 'm',
      filter: ['a/', ''],
      neighbors: [other],
    } as const;
    const m = encodeMessage(msg);
    expect(toHex(m)).toBe(`96 02 ${ID_HEX} cd 01 2c a1 6d 92 a2 61 2f a0 91 c4 10 ${'aa '.repeat(16).trim()}`);
    expectSameMessage(one(m), msg);
  });

  it('Data, from a value and from value bytes', () => {
    const value = vector([count(1), string('x')]);
    const fromValue = encodeDataMessage('t/a', ID, 5, 16, value);
    const fromBytes = encodeDataMessage('t/a', ID, 5, 16, encodeValue(value));
    expect(toHex(fromValue)).toBe(`96 03 a3 74 2f 61 ${ID_HEX} 05 10 92 01 a1 78`);
    expect(toHex(fromBytes)).toBe(toHex(fromValue));
    expect(toHex(encodeMessage({ kind: MessageKind.Data, topic: 't/a', origin: ID, seq: 5, ttl: 16, value }))).toBe(
      toHex(fromValue),
    );
    const frame = encodeFrame([fromValue]);
    const d = decodeFrame(frame)[0] as DataMessage;
    expect(d).toMatchObject({ kind: MessageKind.Data, topic: 't/a', seq: 5, ttl: 16 });
    expect(d.origin).toEqual(ID);
    // The value stays encoded: a view into the frame, decoded on demand.
    expect(d.valueBytes.buffer).toBe(frame.buffer);
    expect(toHex(d.valueBytes)).toBe('92 01 a1 78');
    expect(equals(decodeValue(d.valueBytes), value)).toBe(true);
    // ... and forwards unchanged, re-encoded from the decoded message.
    expect(toHex(encodeMessage(d))).toBe(toHex(fromValue));
    expect(toHex(encodeDataMessage(d.topic, d.origin, d.seq, d.ttl - 1, d.valueBytes))).toBe(
      toHex(fromValue).replace(`${ID_HEX} 05 10`, `${ID_HEX} 05 0f`),
    );
  });

  it('Error, Ping, Pong, Bye', () => {
    expect(toHex(encodeMessage({ kind: MessageKind.Error, code: 'c', context: 'x' }))).toBe('93 04 a1 63 a1 78');
    expect(toHex(encodeMessage({ kind: MessageKind.Ping, nonce: 7 }))).toBe('92 05 07');
    expect(toHex(encodeMessage({ kind: MessageKind.Pong, nonce: 2 ** 40 }))).toBe('92 06 cf 00 00 01 00 00 00 00 00');
    expect(toHex(encodeMessage({ kind: MessageKind.Bye, code: 'c', context: '' }))).toBe('93 07 a1 63 a0');
    for (const m of [
      { kind: MessageKind.Error, code: 'unknown_message', context: 'kind 99' },
      { kind: MessageKind.Ping, nonce: Number.MAX_SAFE_INTEGER },
      { kind: MessageKind.Pong, nonce: 0 },
      { kind: MessageKind.Bye, code: 'shutdown', context: 'bye' },
    ] as const) {
      expect(one(encodeMessage(m))).toEqual(m);
    }
  });

  it('rejects bad input to the encoder', () => {
    expect(() => encodeMessage({ kind: MessageKind.Ping, nonce: -1 })).toThrow(ValueError);
    expect(() => encodeMessage({ kind: MessageKind.Ping, nonce: 1.5 })).toThrow(ValueError);
    expect(() => encodeMessage({ kind: MessageKind.Pong, nonce: 2 ** 53 })).toThrow(ValueError);
    expect(() => encodeDataMessage('t', new Uint8Array(15), 1, 1, count(1))).toThrow(ValueError);
    expect(() => encodeMessage({ kind: 99 } as unknown as NativeMessage)).toThrow(ValueError);
    // A failed encode leaves nothing behind.
    expect(toHex(encodeMessage({ kind: MessageKind.Ping, nonce: 1 }))).toBe('92 05 01');
  });
});

describe('native frames', () => {
  it('splices one encoded message into many frames', () => {
    const shared = encodeDataMessage('zeek/event', ID, 1, 8, port(80, 'tcp'));
    const ping = encodeMessage({ kind: MessageKind.Ping, nonce: 1 });
    const f1 = encodeFrame([shared]);
    const f2 = encodeFrame([ping, shared, shared]);
    expect(toHex(f1)).toBe(`91 ${toHex(shared)}`);
    expect(toHex(f2)).toBe(`93 ${toHex(ping)} ${toHex(shared)} ${toHex(shared)}`);
    const m2 = decodeFrame(f2);
    expect(m2.map((m) => m.kind)).toEqual([5, 3, 3]);
    expect(decodeValue((m2[2] as DataMessage).valueBytes)).toEqual(port(80, 'tcp'));
    expect(decodeFrame(f1)).toHaveLength(1);
  });

  it('uses array16 and array32 frame headers', () => {
    const ping = encodeMessage({ kind: MessageKind.Ping, nonce: 1 });
    expect(toHex(encodeFrame([]))).toBe('90');
    expect(decodeFrame(encodeFrame([]))).toEqual([]);
    const sixteen = encodeFrame(Array(16).fill(ping));
    expect(toHex(sixteen.subarray(0, 3))).toBe('dc 00 10');
    expect(decodeFrame(sixteen)).toHaveLength(16);
    const many = encodeFrame(Array(70_000).fill(ping));
    expect(toHex(many.subarray(0, 5))).toBe('dd 00 01 11 70');
    expect(decodeFrame(many, { maxMessagesPerFrame: 70_000 })).toHaveLength(70_000);
    expectDecodeError(() => decodeFrame(many), ['frame of 70000 messages exceeds the limit of 65536']);
  });

  it('round-trips random message lists (property)', () => {
    fc.assert(
      fc.property(fc.array(messageArb(encodeValue), { maxLength: 20 }), (msgs) => {
        const frame = encodeFrame(msgs.map(encodeMessage));
        const back = decodeFrame(frame);
        expect(back).toHaveLength(msgs.length);
        back.forEach((m, i) => {
          expectSameMessage(m, msgs[i]!);
        });
        decodeGeneric(frame); // standard MessagePack throughout
      }),
      { numRuns: 500 },
    );
  });

  it('every value inside a frame parses generically (property)', () => {
    fc.assert(
      fc.property(dataArb(), (v) => {
        const frame = encodeFrame([encodeDataMessage('t', ID, 1, 1, v)]);
        const generic = decodeGeneric(frame) as unknown[][];
        expect(generic[0]![0]).toBe(MessageKind.Data);
        expect(generic[0]).toHaveLength(6);
      }),
      { numRuns: 500 },
    );
  });
});

describe('native frames: rejections', () => {
  const ping = toHex(encodeMessage({ kind: MessageKind.Ping, nonce: 1 }));
  const frame = (...msgs: string[]): Uint8Array => hex(`${(0x90 + msgs.length).toString(16)} ${msgs.join(' ')}`);

  it.each<[string, string, readonly (string | RegExp)[]]>([
    ['empty input', '', ['at byte 0', 'input ends where the frame was expected']],
    ['frame not an array', 'c0', ['the frame must be an array, got nil']],
    ['truncated frame', `92 ${ping}`, ['at byte 4', 'input ends where a message was expected']],
    ['trailing bytes', `91 ${ping} c0`, ['at byte 4', '1 trailing bytes after the last message']],
    ['message not an array', '91 05', ['a message must be an array, got positive fixint']],
    ['empty message', '91 90', ['empty message']],
    ['kind not a uint', '91 91 a1 61', ['the message kind must be an unsigned integer, got fixstr']],
    ['negative kind', '91 91 ff', ['negative fixint']],
    ['huge kind', '91 91 cf ff ff ff ff ff ff ff ff', ['above 2^53-1']],
    ['Ping without nonce', '91 91 05', ['Ping message must have 2 elements, got 1']],
    ['Ping with extra field', '91 93 05 01 01', ['Ping message must have 2 elements, got 3']],
    ['Ping nonce a string', '91 92 05 a1 61', ['nonce must be an unsigned integer']],
    [
      'Data topic a number',
      `91 96 03 01 ${ID_HEX} 01 01 c0`,
      ['at byte 3', 'Data topic must be a string, got positive fixint'],
    ],
    [
      'Data origin of 15 bytes',
      '91 96 03 a1 74 c4 0f 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 01 c0',
      ['Data origin must be 16 bytes, got 15'],
    ],
    ['Data origin a string', `91 96 03 a1 74 a1 61 01 01 c0`, ['Data origin must be a bin, got fixstr']],
    [
      'Data seq negative',
      `91 96 03 a1 74 ${ID_HEX} ff 01 c0`,
      ['Data seq must be an unsigned integer, got negative fixint'],
    ],
    ['Data value garbage', `91 96 03 a1 74 ${ID_HEX} 01 01 c1`, ['never-used byte 0xc1']],
    ['Data value unsorted set', `91 96 03 a1 74 ${ID_HEX} 01 01 93 d4 08 00 02 01`, ['set element 1 is not greater']],
    ['Data value truncated', `91 96 03 a1 74 ${ID_HEX} 01 01 92 01`, ['cannot fit']],
    ['Data value missing', `91 96 03 a1 74 ${ID_HEX} 01 01`, ['input ends where a value was expected']],
    ['Hello credential a number', `91 96 01 01 ${ID_HEX} a1 6e a1 72 05`, ['Hello credential must be a string']],
    [
      'Announce filter not an array',
      `91 96 02 ${ID_HEX} 01 a1 6e a1 61 90`,
      ['Announce filter must be an array, got fixstr'],
    ],
    [
      'Announce neighbor wrong size',
      `91 96 02 ${ID_HEX} 01 a1 6e 90 91 c4 01 00`,
      ['Announce neighbor must be 16 bytes, got 1'],
    ],
    ['Error code invalid UTF-8', '91 93 04 a1 ff a0', ['code is not valid UTF-8']],
  ])('%s', (_name, bytes, fragments) => {
    expectDecodeError(() => decodeFrame(hex(bytes)), fragments);
  });

  it('Welcome, Reauth and Narrowed: exact bytes and round trips', () => {
    const w = { kind: MessageKind.Welcome, sub: 'ann', roles: ['a', 'b'], expiresAt: 300 } as const;
    expect(toHex(encodeMessage(w))).toBe('94 08 a3 61 6e 6e 92 a1 61 a1 62 cd 01 2c');
    expect(one(encodeMessage(w))).toEqual(w);
    const r = { kind: MessageKind.Reauth, credential: 'tok' } as const;
    expect(toHex(encodeMessage(r))).toBe('92 09 a3 74 6f 6b');
    expect(one(encodeMessage(r))).toEqual(r);
    const n = { kind: MessageKind.Narrowed, requested: [''], effective: ['a/'] } as const;
    expect(toHex(encodeMessage(n))).toBe('93 0a 91 a0 91 a2 61 2f');
    expect(one(encodeMessage(n))).toEqual(n);
    expectDecodeError(() => decodeFrame(hex('91 93 08 a1 61')), ['Welcome message must have 4 elements, got 3']);
    expectDecodeError(() => decodeFrame(hex('91 92 09 c0')), ['Reauth credential']);
  });

  it('answers unknown kinds with code unknown_message', () => {
    for (const kind of [0, 11, 15, 16, 31, 32, 47, 48, 200, 70_000]) {
      const k = toHex(encodeMessage({ kind: MessageKind.Ping, nonce: kind })).slice(6);
      const err = expectDecodeError(
        () => decodeFrame(frame(ping, `92 ${k} c0`)),
        [`unknown message kind ${kind}`],
        'unknown_message',
      );
      expect(err.message).toContain('at byte 5');
    }
  });

  it('enforces the frame limits', () => {
    const f = frame(ping, ping);
    expectDecodeError(
      () => decodeFrame(f, { maxFrameBytes: f.length - 1 }),
      [`frame of ${f.length} bytes exceeds the limit`],
    );
    expect(decodeFrame(f, { maxFrameBytes: f.length })).toHaveLength(2);
    expectDecodeError(() => decodeFrame(f, { maxMessagesPerFrame: 1 }), ['frame of 2 messages exceeds the limit of 1']);
    expect(DEFAULT_NATIVE_LIMITS.maxFrameBytes).toBe(16 * 1024 * 1024);
    expect(DEFAULT_NATIVE_LIMITS.maxDepth).toBe(64);
    // Header claiming 2^32 - 1 messages: rejected before anything is allocated.
    expectDecodeError(
      () => decodeFrame(hex(`dd ff ff ff ff ${ping}`)),
      ['array of 4294967295 elements cannot fit in the 3 bytes'],
    );
    expectDecodeError(() => decodeFrame(hex(`dd 00 00 ff ff ${ping}`)), ['cannot fit']);
    const deep = encodeDataMessage('t', ID, 1, 1, vector([vector([vector([count(1)])])]));
    expect(decodeFrame(encodeFrame([deep]), { maxDepth: 3 })).toHaveLength(1);
    expectDecodeError(() => decodeFrame(encodeFrame([deep]), { maxDepth: 2 }), ['nested deeper than the limit of 2']);
    const tooDeep = concat(
      hex('91'),
      encodeDataMessage('t', ID, 1, 1, new Uint8Array(0)),
      new Uint8Array(1_000_000).fill(0x91),
      hex('c0'),
    );
    expectDecodeError(() => decodeFrame(tooDeep, { maxDepth: 2_000_000 }), ['nested too deeply for the call stack']);
    const long = encodeDataMessage('a-long-topic', ID, 1, 1, count(1));
    expectDecodeError(
      () => decodeFrame(encodeFrame([long]), { maxStringBytes: 4 }),
      ['string of 12 bytes exceeds the limit of 4'],
    );
    const wide = encodeDataMessage('t', ID, 1, 1, set([count(1), count(2), count(3)]));
    expectDecodeError(
      () => decodeFrame(encodeFrame([wide]), { maxArrayLength: 3 }),
      ['array of 4 elements exceeds the limit of 3'],
    );
  });

  it('rejects a whole frame for one bad message, then decodes the next frame', () => {
    const good = encodeMessage({ kind: MessageKind.Ping, nonce: 9 });
    expectDecodeError(() => decodeFrame(concat(hex('92'), good, hex('91'))), ['at byte 4', 'cannot fit']);
    expect(decodeFrame(encodeFrame([good]))).toEqual([{ kind: MessageKind.Ping, nonce: 9 }]);
  });
});
