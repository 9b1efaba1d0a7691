/**
 * The keys and values of the data-store benchmark, shared by the section and its helper
 * processes so every side generates the same bytes: key `i` is the string `k` + `i` in ten digits,
 * its value a string of exactly {@link VALUE_BYTES} ASCII bytes that names `i` and a tag (the tag
 * changes when a value is overwritten).
 */
import { string, type Data } from '../../src/index.js';
import { encodeValue } from '../../src/internal.js';

/** Payload bytes of every value (its native encoding adds a 2-byte string header). */
export const VALUE_BYTES = 100;
/** Keys per master transaction / raw insert transaction, and per awaited batch of puts. */
export const BATCH = 1000;
/** The store every helper process uses. */
export const STORE_NAME = 'bench/store';
/** The value tag of a freshly filled store. */
export const FILL_TAG = 'v';

/** The text of key `i` (fixed length, so keys sort in index order). */
export function keyText(i: number): string {
  return `k${String(i).padStart(10, '0')}`;
}

/** The text of the value of key `i` under `tag`: exactly {@link VALUE_BYTES} characters. */
export function valueText(i: number, tag: string = FILL_TAG): string {
  const head = `${tag}${i}:`;
  return head + 'x'.repeat(VALUE_BYTES - head.length);
}

export function keyData(i: number): Data {
  return string(keyText(i));
}

export function valueData(i: number, tag: string = FILL_TAG): Data {
  return string(valueText(i, tag));
}

/** Encoded key + value bytes of entry `i` (native encoding, as the SQLite backend stores them). */
export function entryBytes(i: number, tag: string = FILL_TAG): number {
  return encodeValue(keyData(i)).length + encodeValue(valueData(i, tag)).length;
}

/** Keys changed by a "1% change": every `every`-th key of `n`. */
export function changedKeys(n: number, every: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i += every) out.push(i);
  return out;
}
