/**
 * Fuzzing the control-message decoder (remote input on the backbone's control subject): random
 * bytes, random JSON values, and valid messages mutated at the byte, text and value level never
 * make `decodeControl` throw anything but a `DecodeError`; what it accepts re-encodes to an
 * equal message. The seed is printed (FUZZ_SEED=… replays a run).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeControl, encodeControl, type ControlMessage } from '../../src/backbone/control.js';
import { DecodeError } from '../../src/errors.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

const hex = (n: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: n, maxLength: n }).map((a) => a.join(''));
const uuidArb = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join('-'));
const nameArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const countArb = fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER));

const messageArb: fc.Arbitrary<ControlMessage> = fc.record({
  kind: fc.constantFrom('hello', 'heartbeat', 'bye' as const),
  id: uuidArb,
  name: fc.string({ unit: 'grapheme', maxLength: 12 }),
  seq: countArb,
  nodes: fc.uniqueArray(fc.record({ name: nameArb, role: nameArb, id: uuidArb }), {
    maxLength: 4,
    selector: (n) => n.name,
  }),
  partials: fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 20 }), { maxLength: 4 }),
  stores: fc.uniqueArray(fc.record({ name: nameArb, epoch: countArb }), { maxLength: 4, selector: (s) => s.name }),
  interval: countArb,
  filter: fc.option(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 20 }), { maxLength: 4 }), {
    nil: undefined,
  }),
});

/** Decodes; fails the property on anything thrown that is not a DecodeError. */
function safeDecode(bytes: Uint8Array): ControlMessage | undefined | 'refused' {
  try {
    return decodeControl(bytes);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw new Error(`threw ${String(err)}`, { cause: err });
    expect(typeof err.code).toBe('string');
    return 'refused';
  }
}

function checkAccepted(r: ControlMessage | undefined | 'refused'): void {
  if (r === undefined || r === 'refused') return;
  expect(decodeControl(encodeControl(r))).toEqual(r);
}

// Byte-level mutations of a valid encoding.
const byteMutation = fc.oneof(
  fc.record({ t: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
);
type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never;

function mutateBytes(b: Uint8Array, muts: readonly ByteMutation[]): Uint8Array {
  let out = Uint8Array.from(b);
  for (const m of muts) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.t === 'flip') out[at] = m.byte;
    else if (m.t === 'cut') out = out.slice(0, at);
    else out = Uint8Array.from([...out.slice(0, at), ...m.bytes, ...out.slice(at)]);
  }
  return out;
}

// Value-level mutations of the wire object: replace a field or an element with any JSON value.
const anyJson = fc.jsonValue({ maxDepth: 3 });
const WIRE_KEYS = ['v', 'k', 'id', 'n', 's', 'i', 'nd', 'p', 'st', 'f'] as const;

describe('control decoder fuzz', () => {
  console.log(`control fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays)`);

  it('random bytes only ever raise DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        checkAccepted(safeDecode(b));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('random JSON values only ever raise DecodeError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        checkAccepted(safeDecode(new TextEncoder().encode(JSON.stringify(v))));
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it('deeply nested and huge inputs only ever raise DecodeError', () => {
    const deep = new TextEncoder().encode(`${'['.repeat(30000)}${']'.repeat(30000)}`);
    expect(safeDecode(deep)).toBe('refused');
    const deepObj = new TextEncoder().encode(`{"v":1,"k":"hello","p":${'['.repeat(20000)}${']'.repeat(20000)}}`);
    expect(safeDecode(deepObj)).toBe('refused');
  });

  it('valid messages round-trip; byte-mutated ones only ever raise DecodeError', () => {
    fc.assert(
      fc.property(messageArb, fc.array(byteMutation, { minLength: 1, maxLength: 4 }), (m, muts) => {
        const bytes = encodeControl(m);
        expect(decodeControl(bytes)).toEqual(m);
        checkAccepted(safeDecode(mutateBytes(bytes, muts)));
      }),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });

  it('value-mutated messages only ever raise DecodeError', () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.constantFrom(...WIRE_KEYS),
        anyJson,
        fc.nat(),
        fc.boolean(),
        (m, key, value, at, inner) => {
          const wire = JSON.parse(new TextDecoder().decode(encodeControl(m))) as Record<string, unknown>;
          const field = wire[key];
          if (inner && Array.isArray(field) && field.length > 0) {
            const i = at % field.length;
            const el = field[i];
            if (Array.isArray(el) && el.length > 0) el[at % el.length] = value;
            else field[i] = value;
          } else wire[key] = value;
          checkAccepted(safeDecode(new TextEncoder().encode(JSON.stringify(wire))));
        },
      ),
      { seed: SEED + 3, numRuns: RUNS },
    );
  });
});
