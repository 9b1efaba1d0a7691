/**
 * Control messages (presence on the backbone): round trips, the wire form, every limit and shape
 * rule refused with a `DecodeError` that names its field, and forward compatibility (unknown
 * kinds and versions decode to `undefined`, unknown fields are ignored).
 */
import { describe, expect, it } from 'vitest';
import { CONTROL_LIMITS, decodeControl, encodeControl, type ControlMessage } from '../../src/backbone/control.js';
import { DecodeError, ValueError } from '../../src/errors.js';
import { newEndpointId } from '../../src/util/ids.js';

const ID = '0b2f5d1e-8c4a-4f3b-9a6d-1e2f3a4b5c6d';
const NODE_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

const base: ControlMessage = {
  kind: 'heartbeat',
  id: ID,
  name: 'hub-1',
  seq: 7,
  nodes: [{ name: 'worker-1', role: 'worker', id: NODE_ID }],
  partials: ['zeek/cluster/work', 'é/x'],
  stores: [{ name: 'users', epoch: 3 }],
  interval: 500,
};

const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
const wire = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  v: 1,
  k: 'heartbeat',
  id: ID,
  n: 'hub-1',
  s: 7,
  i: 500,
  nd: [['worker-1', 'worker', NODE_ID]],
  p: ['zeek/cluster/work'],
  st: [['users', 3]],
  ...over,
});

function decodeError(bytes: Uint8Array): DecodeError {
  try {
    decodeControl(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return err as DecodeError;
  }
  throw new Error('decoded without an error');
}

describe('control messages', () => {
  it('round-trips every kind', () => {
    for (const kind of ['hello', 'heartbeat', 'bye'] as const) {
      const m = { ...base, kind };
      expect(decodeControl(encodeControl(m))).toEqual(m);
    }
    const empty: ControlMessage = { ...base, name: '', nodes: [], partials: [], stores: [], seq: 0, interval: 0 };
    expect(decodeControl(encodeControl(empty))).toEqual(empty);
  });

  it('writes compact JSON with short keys', () => {
    const text = new TextDecoder().decode(encodeControl(base));
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
    expect(JSON.parse(text)).toEqual({
      v: 1,
      k: 'heartbeat',
      id: ID,
      n: 'hub-1',
      s: 7,
      i: 500,
      nd: [['worker-1', 'worker', NODE_ID]],
      p: ['zeek/cluster/work', 'é/x'],
      st: [['users', 3]],
    });
  });

  it('decodes unknown kinds and versions to undefined, and ignores unknown fields', () => {
    expect(decodeControl(enc(wire({ k: 'gossip' })))).toBeUndefined();
    // An unknown kind may carry a different shape: only v and k are looked at.
    expect(decodeControl(enc({ v: 1, k: 'lease', whatever: [1, 2] }))).toBeUndefined();
    expect(decodeControl(enc({ v: 2, anything: true }))).toBeUndefined();
    expect(decodeControl(enc(wire({ future: { a: 1 } })))).toEqual(decodeControl(enc(wire())));
  });

  it('accepts ids made by newEndpointId and exactly the limits', () => {
    const ids = Array.from({ length: 3 }, newEndpointId);
    const m: ControlMessage = {
      ...base,
      id: ids[0]!,
      name: 'n'.repeat(CONTROL_LIMITS.maxNameLength),
      nodes: Array.from({ length: 3 }, (_, i) => ({ name: `w-${i}`, role: 'worker', id: ids[i]! })),
      partials: ['é'.repeat(CONTROL_LIMITS.maxPartialBytes / 2)],
      seq: Number.MAX_SAFE_INTEGER,
    };
    expect(decodeControl(encodeControl(m))).toEqual(m);
    const many = enc(wire({ nd: Array.from({ length: CONTROL_LIMITS.maxNodes }, (_, i) => [`${i}`, 'w', NODE_ID]) }));
    expect(decodeControl(many)?.nodes).toHaveLength(CONTROL_LIMITS.maxNodes);
  });

  it('refuses what breaks a limit with control_too_large and the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ n: 'x'.repeat(257) }, 'n:'],
      [{ nd: Array.from({ length: 1025 }, (_, i) => [`${i}`, 'w', NODE_ID]) }, 'nd:'],
      [{ p: Array.from({ length: 1025 }, (_, i) => `${i}`) }, 'p:'],
      [{ p: ['a', 'é'.repeat(2049)] }, 'p[1]:'],
      [{ st: Array.from({ length: 4097 }, (_, i) => [`${i}`, 0]) }, 'st:'],
      [{ nd: [['w', 'r'.repeat(257), NODE_ID]] }, 'nd[0][1]:'],
    ];
    for (const [over, field] of cases) {
      const e = decodeError(enc(wire(over)));
      expect(e.code, field).toBe('control_too_large');
      expect(e.message).toContain(field);
    }
    const big = new Uint8Array(CONTROL_LIMITS.maxBytes + 1).fill(0x20);
    expect(decodeError(big).code).toBe('control_too_large');
  });

  it('refuses bad shapes with control_invalid and the field', () => {
    const cases: [unknown, string][] = [
      [wire({ id: ID.toUpperCase() }), 'id:'],
      [wire({ id: 'not-a-uuid' }), 'id:'],
      [wire({ s: -1 }), 's:'],
      [wire({ s: 1.5 }), 's:'],
      [wire({ s: 2 ** 53 }), 's:'],
      [wire({ s: '7' }), 's:'],
      [wire({ i: null }), 'i:'],
      [wire({ v: 'one' }), 'v:'],
      [wire({ k: 3 }), 'k:'],
      [wire({ n: 5 }), 'n:'],
      [wire({ nd: {} }), 'nd:'],
      [wire({ nd: [['w', 'worker']] }), 'nd[0]:'],
      [wire({ nd: [['', 'worker', NODE_ID]] }), 'nd[0][0]:'],
      [wire({ nd: [['w', 'worker', 'x']] }), 'nd[0][2]:'],
      [
        wire({
          nd: [
            ['w', 'worker', NODE_ID],
            ['w', 'proxy', ID],
          ],
        }),
        'nd[1]:',
      ],
      [wire({ p: [1] }), 'p[0]:'],
      [wire({ p: ['a', 'a'] }), 'p[1]:'],
      [wire({ st: [['s', -3]] }), 'st[0][1]:'],
      [
        wire({
          st: [
            ['s', 1],
            ['s', 2],
          ],
        }),
        'st[1]:',
      ],
      [wire({ st: [{ name: 's', epoch: 1 }] }), 'st[0]:'],
      [wire({ nd: undefined }), 'nd:'],
      [[1, 2], '(root):'],
      ['"text"', '(root):'],
    ];
    for (const [value, field] of cases) {
      const e = decodeError(enc(value));
      expect(e.code, field).toBe('control_invalid');
      expect(e.message).toContain(field);
    }
    // Lone surrogates (escaped in JSON), invalid UTF-8, broken JSON.
    const lone = new TextEncoder().encode(JSON.stringify(wire()).replace('"hub-1"', '"hub\\ud800"'));
    expect(decodeError(lone).message).toContain('n:');
    expect(decodeError(new Uint8Array([0x7b, 0xff, 0x7d])).code).toBe('control_invalid');
    expect(decodeError(new TextEncoder().encode('{"v":1,')).code).toBe('control_invalid');
    expect(decodeError(new Uint8Array()).code).toBe('control_invalid');
  });

  it('carries an optional interest filter (f), checked like the partials', () => {
    const m: ControlMessage = { ...base, filter: ['', 'zeek/', 'é'] };
    expect(decodeControl(encodeControl(m))).toEqual(m);
    expect(decodeControl(enc(wire()))).not.toHaveProperty('filter');
    expect(decodeError(enc(wire({ f: ['a', 'a'] }))).message).toContain('f[1]:');
    expect(decodeError(enc(wire({ f: 'zeek/' }))).message).toContain('f:');
    expect(decodeError(enc(wire({ f: Array.from({ length: 1025 }, (_, i) => `${i}`) }))).code).toBe(
      'control_too_large',
    );
  });

  it('refuses to encode what receivers would refuse', () => {
    const bad: ControlMessage[] = [
      { ...base, id: 'nope' },
      { ...base, partials: Array.from({ length: 1025 }, (_, i) => `${i}`) },
      { ...base, kind: 'gossip' as ControlMessage['kind'] },
      { ...base, seq: -1 },
    ];
    for (const m of bad) expect(() => encodeControl(m)).toThrow(ValueError);
  });
});
