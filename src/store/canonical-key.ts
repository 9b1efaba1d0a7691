/**
 * The one canonical form of a store key. The native encoding is canonical (sets and tables
 * sorted, integers in their smallest form, IPv4 addresses as 4 bytes) except for reals, whose
 * bits can differ while Broker's `equals` holds: −0 equals 0, and every NaN equals every NaN. A
 * key in canonical form has −0 made 0 and every NaN made the one canonical NaN, so keys Broker
 * calls equal encode to identical bytes — what the SQLite backend stores as its primary key, what
 * IndexedDB uses as a record key, and what the compact in-memory maps of clones hash.
 */
import type { Data } from '../data/types.js';

/** `key` with −0 made 0 and every NaN made the canonical NaN, at any depth; the same object when nothing changes. */
export function canonicalKey(key: Data): Data {
  switch (key.type) {
    case 'real':
      if (Number.isNaN(key.value)) return { type: 'real', value: Number.NaN };
      return Object.is(key.value, -0) ? { type: 'real', value: 0 } : key;
    case 'vector':
    case 'set': {
      const elements = canonicalList(key.elements);
      return elements === key.elements ? key : { type: key.type, elements };
    }
    case 'table': {
      const es = key.entries;
      let out: (readonly [Data, Data])[] | undefined;
      for (let i = 0; i < es.length; i++) {
        const e = es[i]!;
        const k = canonicalKey(e[0]);
        const x = canonicalKey(e[1]);
        const same = k === e[0] && x === e[1];
        if (out === undefined && !same) out = es.slice(0, i);
        out?.push(same ? e : [k, x]);
      }
      return out === undefined ? key : { type: 'table', entries: out };
    }
    default:
      return key;
  }
}

function canonicalList(xs: readonly Data[]): readonly Data[] {
  let out: Data[] | undefined;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const c = canonicalKey(x);
    if (out === undefined && c !== x) out = xs.slice(0, i);
    out?.push(c);
  }
  return out ?? xs;
}
