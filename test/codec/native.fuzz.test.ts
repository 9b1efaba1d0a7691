/**
 * Fuzzing the native decoders with random and mutated frames and values: bit flips, overwritten,
 * inserted and deleted bytes, truncation, crossover, huge length headers and deep nesting. Only
 * `DecodeError` may escape; whatever decodes must re-encode to the same thing; the allocation-free
 * frame validator must accept exactly the values `decodeValue` accepts; and a valid frame still
 * decodes correctly afterwards.
 *
 * Seeded: `FUZZ_SEED=<n> npx vitest run test/codec/native.fuzz.test.ts` replays a failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, toText, type Data } from 'isobroker';
import {
  MessageKind,
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
import { concat, expectSameMessage, hex, messageArb, sameData, toHex } from './native-support.js';

const DEFAULT_SEED = 0x15b0c3e7;
const SEED = process.env.FUZZ_SEED === undefined ? DEFAULT_SEED : Number(process.env.FUZZ_SEED);
if (!Number.isSafeInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);
const FRAME_CASES = 100_000;
const VALUE_CASES = 60_000;
const UTF8_CASES = 25_000;
/**
 * Per-test timeouts, proportional to each test's cases: 2 ms a case, about 25 times what one takes
 * on an idle two-core machine (~0.08 ms), so a loaded CI machine (seen 8 times slower) stays far
 * from them.
 */
const MS_PER_CASE = 2;
const ORIGIN = new Uint8Array(16).fill(0x42);
/** A one-message frame up to a Data message's value: append value bytes to complete it. */
const FRAME_HEAD = concat(hex('91'), encodeDataMessage('t', ORIGIN, 1, 1, new Uint8Array(0)));

/** mulberry32: small, fast, good enough for fuzzing. */
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

const INTERESTING = [
  0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc4, 0xc7, 0xc9, 0xca, 0xcb, 0xcc, 0xcf,
  0xd0, 0xd4, 0xd6, 0xd7, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xe0, 0xff, 0x08, 0x07, 0x03, 0x05,
];
const HUGE_HEADERS = [
  'dd ff ff ff ff',
  'dd 7f ff ff ff',
  'dc ff ff',
  'db ff ff ff ff',
  'da ff ff',
  'c9 ff ff ff ff 07',
  'c9 00 01 00 00 05',
  'c6 ff ff ff ff',
  'c8 ff ff 03',
  'df ff ff ff ff',
  'd9 ff',
].map(hex);

class Mutator {
  constructor(readonly rand: () => number) {}

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.rand() < 0.5 ? this.pick(INTERESTING) : this.int(256);
    return out;
  }

  /** Applies 1–3 random mutations; returns the bytes and what was done. */
  mutate(input: Uint8Array, other: Uint8Array): [Uint8Array, string] {
    let b: Uint8Array = Uint8Array.from(input);
    const done: string[] = [];
    const rounds = 1 + this.int(3);
    for (let r = 0; r < rounds; r++) {
      const at = this.int(b.length + 1);
      switch (this.int(9)) {
        case 0: {
          if (b.length === 0) break;
          const i = this.int(b.length);
          b[i]! ^= 1 << this.int(8);
          done.push(`flip@${i}`);
          break;
        }
        case 1: {
          if (b.length === 0) break;
          const i = this.int(b.length);
          b[i] = this.rand() < 0.7 ? this.pick(INTERESTING) : this.int(256);
          done.push(`set@${i}`);
          break;
        }
        case 2:
          b = b.slice(0, this.int(b.length + 1));
          done.push(`truncate@${b.length}`);
          break;
        case 3:
          b = concat(b.subarray(0, at), this.bytes(1 + this.int(8)), b.subarray(at));
          done.push(`insert@${at}`);
          break;
        case 4: {
          const len = 1 + this.int(8);
          b = concat(b.subarray(0, at), b.subarray(at + len));
          done.push(`delete@${at}+${len}`);
          break;
        }
        case 5:
          b = concat(b.subarray(0, at), this.pick(HUGE_HEADERS), b.subarray(at));
          done.push(`huge-header@${at}`);
          break;
        case 6: {
          const cut = this.int(other.length + 1);
          b = concat(b.subarray(0, at), other.subarray(cut));
          done.push(`crossover@${at}`);
          break;
        }
        case 7: {
          const from = this.int(b.length + 1);
          const chunk = b.slice(from, from + 1 + this.int(16));
          b = concat(b.subarray(0, at), chunk, b.subarray(at));
          done.push(`duplicate@${at}`);
          break;
        }
        default: {
          // Overwrite a length byte of a header with something large.
          if (b.length === 0) break;
          const i = this.int(b.length);
          b[i] = this.pick([0xff, 0x7f, 0x80, 0x10, 0x20]);
          done.push(`length@${i}`);
        }
      }
    }
    return [b, done.join(',')];
  }

  /** Deeply nested containers (arrays, sets, tables), sometimes cut short. */
  nesting(): Uint8Array {
    const depth = this.pick([10, 63, 64, 65, 100, 1000, 20_000]);
    const open = [hex('91'), hex('92 d4 08 00'), hex('93 d4 08 01 c0'), hex('dc 00 01')];
    const parts: Uint8Array[] = [];
    for (let i = 0; i < depth; i++) parts.push(this.pick(open));
    parts.push(hex('c0'));
    const v = concat(...parts);
    return this.rand() < 0.3 ? v.subarray(0, this.int(v.length)) : v;
  }
}

function fail(kind: string, i: number, what: string, input: Uint8Array, cause: unknown): never {
  throw new Error(
    `FUZZ_SEED=${SEED} ${kind} case ${i} (${what}): ${cause instanceof Error ? cause.message : String(cause)}\n` +
      `input: ${toHex(input.subarray(0, 512))}${input.length > 512 ? ' …' : ''}`,
    { cause },
  );
}

/** Decodes a frame; only DecodeError may escape. What decodes must re-encode identically. */
function checkFrame(i: number, what: string, bytes: Uint8Array): boolean {
  let msgs: NativeMessage[];
  try {
    msgs = decodeFrame(bytes);
  } catch (e) {
    if (e instanceof DecodeError) return false;
    return fail('frame', i, what, bytes, e);
  }
  try {
    for (const m of msgs) {
      if (m.kind === MessageKind.Data) decodeValue(m.valueBytes); // validated ⇒ decodes
    }
    const again = decodeFrame(encodeFrame(msgs.map((m) => encodeMessage(m))));
    expect(again).toHaveLength(msgs.length);
    again.forEach((m, k) => {
      expectSameMessage(m, msgs[k]!);
    });
  } catch (e) {
    return fail('frame', i, what, bytes, e);
  }
  return true;
}

/**
 * Decodes a value both ways: directly, and wrapped in a Data message (the allocation-free
 * validator). Both must agree, only DecodeError may escape, and a decoded value round-trips.
 */
function checkValue(i: number, what: string, bytes: Uint8Array): boolean {
  let value: Data | undefined;
  try {
    value = decodeValue(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) fail('value', i, what, bytes, e);
  }
  const frame = concat(FRAME_HEAD, bytes);
  let validated: boolean;
  try {
    decodeFrame(frame);
    validated = true;
  } catch (e) {
    if (!(e instanceof DecodeError)) fail('value-in-frame', i, what, bytes, e);
    validated = false;
  }
  if (validated !== (value !== undefined)) {
    fail(
      'value',
      i,
      what,
      bytes,
      new Error(`validator ${validated ? 'accepted' : 'rejected'} what decodeValue ${value ? 'accepted' : 'rejected'}`),
    );
  }
  if (value !== undefined) {
    const back = decodeValue(encodeValue(value));
    if (!sameData(back, value))
      fail('value', i, what, bytes, new Error(`${toText(value)} re-encoded as ${toText(back)}`));
  }
  return value !== undefined;
}

describe(`native decoder fuzz (FUZZ_SEED=${SEED})`, () => {
  const frames = fc
    .sample(fc.array(messageArb(encodeValue), { minLength: 1, maxLength: 6 }), { seed: SEED, numRuns: 300 })
    .map((msgs) => ({ msgs, bytes: encodeFrame(msgs.map((m) => encodeMessage(m))) }));
  const values = fc.sample(dataArb({ depth: 4 }), { seed: SEED + 1, numRuns: 400 }).map((v) => encodeValue(v));
  const reference = frames[0]!;

  function referenceStillDecodes(): void {
    const back = decodeFrame(reference.bytes);
    expect(back).toHaveLength(reference.msgs.length);
    back.forEach((m, k) => {
      expectSameMessage(m, reference.msgs[k]!);
    });
  }

  it(`survives ${FRAME_CASES} mutated, random and nested frames`, { timeout: FRAME_CASES * MS_PER_CASE }, () => {
    const m = new Mutator(prng(SEED));
    let accepted = 0;
    for (let i = 0; i < FRAME_CASES; i++) {
      const roll = m.rand();
      let bytes: Uint8Array;
      let what: string;
      if (roll < 0.8) {
        const [b, w] = m.mutate(m.pick(frames).bytes, m.pick(frames).bytes);
        [bytes, what] = [b, `mutated frame: ${w}`];
      } else if (roll < 0.9) {
        bytes = concat(hex(m.pick(['91', '92', '9f', 'dc 00 02', ''])), m.bytes(m.int(64)));
        what = 'random bytes';
      } else {
        bytes = concat(FRAME_HEAD, m.nesting());
        what = 'deep nesting';
      }
      if (checkFrame(i, what, bytes)) accepted++;
      if (i % 10_000 === 0) referenceStillDecodes();
    }
    referenceStillDecodes();
    // The mutations are mild enough that some frames stay valid (otherwise nothing was tested).
    expect(accepted).toBeGreaterThan(FRAME_CASES / 100);
  });

  it(`agrees with the frame validator on ${VALUE_CASES} mutated values`, { timeout: VALUE_CASES * MS_PER_CASE }, () => {
    const m = new Mutator(prng(SEED ^ 0x5eed));
    let accepted = 0;
    for (let i = 0; i < VALUE_CASES; i++) {
      const roll = m.rand();
      let bytes: Uint8Array;
      let what: string;
      if (roll < 0.9) {
        const [b, w] = m.mutate(m.pick(values), m.pick(values));
        [bytes, what] = [b, `mutated value: ${w}`];
      } else {
        bytes = m.nesting();
        what = 'deep nesting';
      }
      if (checkValue(i, what, bytes)) accepted++;
    }
    referenceStillDecodes();
    expect(accepted).toBeGreaterThan(VALUE_CASES / 100);
  });

  it('agrees with the frame validator on UTF-8 validity of strings and enum names', {
    timeout: UTF8_CASES * MS_PER_CASE,
  }, () => {
    // Edge bytes of UTF-8: ASCII, continuation ranges, overlong and surrogate leads, > U+10FFFF.
    const edges = [
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
      0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff,
    ];
    const m = new Mutator(prng(SEED ^ 0x07f8));
    let accepted = 0;
    for (let i = 0; i < UTF8_CASES; i++) {
      const len = m.int(24);
      const payload = new Uint8Array(len);
      for (let k = 0; k < len; k++) payload[k] = m.rand() < 0.25 ? 0x61 : m.pick(edges);
      const asString = concat(hex(`d9 ${len.toString(16).padStart(2, '0')}`), payload);
      const asEnum = concat(hex(`c7 ${len.toString(16).padStart(2, '0')} 07`), payload);
      if (checkValue(i, 'utf-8 string', asString)) accepted++;
      checkValue(i, 'utf-8 enum', asEnum);
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  it('decodes the corpus it mutates', () => {
    for (const f of frames) {
      const back = decodeFrame(f.bytes);
      back.forEach((m, k) => {
        expectSameMessage(m, f.msgs[k]!);
      });
      for (const m of back) if (m.kind === MessageKind.Data) decodeValue((m as DataMessage).valueBytes);
    }
    for (const v of values) expect(toHex(encodeValue(decodeValue(v)))).toBe(toHex(v));
  });
});
