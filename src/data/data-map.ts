/**
 * Hash map and set keyed by Broker values with Broker's equality (`equals`): two keys are the same
 * entry exactly when `compare` returns 0. Lookups are O(key size) through `dataKey`, an injective
 * string form; iteration is in insertion order, `sorted()` gives Broker's order.
 */
import { compare } from './order.js';
import { TYPE_INDEX, type Data } from './types.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function keyInto(v: Data, out: string[]): void {
  out.push(String.fromCharCode(65 + TYPE_INDEX[v.type]));
  switch (v.type) {
    case 'none':
      return;
    case 'boolean':
      out.push(v.value ? '1' : '0');
      return;
    case 'count':
    case 'integer':
      out.push(`${v.value};`);
      return;
    case 'real':
      // String() is injective on numbers apart from -0 → "0", which matches equals (−0 = 0).
      out.push(`${String(v.value)};`);
      return;
    case 'string':
      out.push(`${v.value.length}:`, v.value);
      return;
    case 'enum-value':
      out.push(`${v.name.length}:`, v.name);
      return;
    case 'address':
    case 'subnet':
      for (let i = 0; i < 16; i++) out.push(HEX[v.bytes[i]!]!);
      if (v.type === 'subnet') out.push(`${v.length};`);
      return;
    case 'port':
      out.push(`${v.number}/${v.protocol};`);
      return;
    case 'timestamp':
    case 'timespan':
      out.push(`${v.ns};`);
      return;
    case 'set':
    case 'vector':
      out.push(`${v.elements.length}:`);
      for (const e of v.elements) keyInto(e, out);
      return;
    case 'table':
      out.push(`${v.entries.length}:`);
      for (const [k, x] of v.entries) {
        keyInto(k, out);
        keyInto(x, out);
      }
      return;
  }
}

/**
 * A string that is equal for two values exactly when `equals` holds for them (prefix-free, so
 * container keys are the concatenation of their elements' keys). Not a wire format.
 */
export function dataKey(v: Data): string {
  const out: string[] = [];
  keyInto(v, out);
  return out.join('');
}

/** A `Map` whose keys are Broker values compared by value. */
export class DataMap<V> implements Iterable<[Data, V]> {
  readonly #entries = new Map<string, [Data, V]>();

  constructor(entries: Iterable<readonly [Data, V]> = []) {
    for (const [k, v] of entries) this.set(k, v);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: Data): V | undefined {
    return this.#entries.get(dataKey(key))?.[1];
  }

  has(key: Data): boolean {
    return this.#entries.has(dataKey(key));
  }

  /** Sets `key` to `value`; an existing equal key keeps its first-inserted form and position. */
  set(key: Data, value: V): this {
    const k = dataKey(key);
    const e = this.#entries.get(k);
    if (e) e[1] = value;
    else this.#entries.set(k, [key, value]);
    return this;
  }

  delete(key: Data): boolean {
    return this.#entries.delete(dataKey(key));
  }

  clear(): void {
    this.#entries.clear();
  }

  *keys(): IterableIterator<Data> {
    for (const [k] of this.#entries.values()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.#entries.values()) yield v;
  }

  /** Entries in insertion order. */
  *entries(): IterableIterator<[Data, V]> {
    for (const [k, v] of this.#entries.values()) yield [k, v];
  }

  [Symbol.iterator](): IterableIterator<[Data, V]> {
    return this.entries();
  }

  /** Entries sorted by key in Broker's total order (what `table()` would hold). */
  sorted(): [Data, V][] {
    return [...this.entries()].sort((a, b) => compare(a[0], b[0]));
  }
}

/** A `Set` of Broker values compared by value. */
export class DataSet implements Iterable<Data> {
  readonly #map = new DataMap<true>();

  constructor(values: Iterable<Data> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.#map.size;
  }

  has(v: Data): boolean {
    return this.#map.has(v);
  }

  add(v: Data): this {
    this.#map.set(v, true);
    return this;
  }

  delete(v: Data): boolean {
    return this.#map.delete(v);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Values in insertion order. */
  values(): IterableIterator<Data> {
    return this.#map.keys();
  }

  [Symbol.iterator](): IterableIterator<Data> {
    return this.#map.keys();
  }

  /** Values sorted in Broker's total order (what `set()` would hold). */
  sorted(): Data[] {
    return [...this.#map.keys()].sort(compare);
  }
}
