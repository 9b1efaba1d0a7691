/**
 * A store's entries in memory, compactly: every key and value as its native encoding (the key in
 * canonical form, see `canonical-key.ts`), packed into 1 MiB byte pages, found through an
 * open-addressing hash table of record numbers. No object per entry: a million entries of a
 * 12-byte key and a 102-byte value take about 140 B each (the bytes themselves, an 8-byte record
 * header, 8 bytes of record position and ~8 of hash table), against ~400 B as Broker value objects
 * in a `DataMap`. Keys and values are decoded on read, so `get` and iteration build fresh `Data`.
 *
 * Keys equal under Broker's `equals` are one entry (their canonical encodings are identical); a
 * key reads back in canonical form (−0 as 0, one NaN). A record keeps its number while it lives,
 * so an iteration meets every key present throughout exactly once, whatever changes meanwhile; a
 * removed record's number is reused by a later insert, so iteration follows insertion order only
 * until keys are removed. Bytes freed by removals and by values that outgrew their record are
 * reclaimed by compacting the pages once they outweigh the live bytes.
 */
import { decodeValue, encodeValue } from '../codec/native/values.js';
import type { NativeLimits } from '../codec/native/limits.js';
import type { Data } from '../data/types.js';
import { canonicalKey } from './canonical-key.js';

const PAGE_BYTES = 1 << 20;
/** A record larger than this gets a page of its own (freed with it). */
const LARGE_RECORD_BYTES = PAGE_BYTES >> 2;
/** Record header: key length and value length, 4 bytes each (little-endian). */
const HEADER_BYTES = 8;
/** Compact once freed bytes exceed both the live bytes and this. */
const COMPACT_MIN_DEAD_BYTES = 4 * PAGE_BYTES;
const MIN_TABLE = 1024;
const MIN_RECORDS = 256;
const EMPTY_SLOT = 0;
const TOMBSTONE = -1;
const NO_PAGE = -1;

/** Everything held here was encoded by this process: decode it without the wire's size limits. */
const HELD_LIMITS: NativeLimits = Object.freeze({
  maxFrameBytes: Number.MAX_SAFE_INTEGER,
  maxDepth: 1000,
  maxStringBytes: Number.MAX_SAFE_INTEGER,
  maxArrayLength: Number.MAX_SAFE_INTEGER,
});

/** What `set` returns for a key that was present when the old value was not asked for. */
export const PRESENT: unique symbol = Symbol('present');

/** FNV-1a over the bytes, then a final mix: FNV's low bits alone cluster keys that differ only late. */
function hashBytes(b: Uint8Array, from: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[from + i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Copies `n` bytes (a loop: `set` costs more than it saves for a short run). */
function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  if (n > 64) dst.set(src.subarray(from, from + n), at);
  else for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

function readU32(p: Uint8Array, at: number): number {
  return (p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24)) >>> 0;
}

function writeU32(p: Uint8Array, at: number, v: number): void {
  p[at] = v & 0xff;
  p[at + 1] = (v >>> 8) & 0xff;
  p[at + 2] = (v >>> 16) & 0xff;
  p[at + 3] = v >>> 24;
}

function sameBytes(a: Uint8Array, b: Uint8Array, from: number, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[from + i]) return false;
  return true;
}

const NO_PAGE_BYTES = new Uint8Array(0);

/** Entries keyed by Broker values, held as encoded bytes (see the module comment). */
export class CompactEntries {
  #pages: Uint8Array[] = [];
  /** The page records are appended to, and how much of it is used. */
  #current = -1;
  #fill = 0;
  /** Per record number: its page (NO_PAGE when free) and offset; a free number links to the next free one. */
  #pageOf = new Int32Array(MIN_RECORDS);
  #offOf = new Int32Array(MIN_RECORDS);
  /** Record numbers ever used (the high-water mark) and the head of the free list. */
  #records = 0;
  #free = -1;
  #live = 0;
  #liveBytes = 0;
  #deadBytes = 0;
  /** Hash table: record number + 1, EMPTY_SLOT or TOMBSTONE; its occupied slots, tombstones included. */
  #table = new Int32Array(MIN_TABLE);
  #occupied = 0;

  get size(): number {
    return this.#live;
  }

  get(key: Data): Data | undefined {
    const kb = encodeValue(canonicalKey(key));
    const slot = this.#find(kb, hashBytes(kb, 0, kb.length));
    return slot < 0 ? undefined : this.#value(this.#table[slot]! - 1);
  }

  has(key: Data): boolean {
    const kb = encodeValue(canonicalKey(key));
    return this.#find(kb, hashBytes(kb, 0, kb.length)) >= 0;
  }

  /** The record number of the key the last `set` wrote. */
  lastId = -1;

  /**
   * Sets `key` to `value`; returns undefined when the key is new, else its old value (when
   * `wantOld`) or {@link PRESENT}. The record number is in `lastId` afterwards.
   */
  set(key: Data, value: Data, wantOld = false): Data | typeof PRESENT | undefined {
    const kb = encodeValue(canonicalKey(key));
    const vb = encodeValue(value);
    const h = hashBytes(kb, 0, kb.length);
    const slot = this.#find(kb, h);
    if (slot >= 0) {
      const id = this.#table[slot]! - 1;
      const old = wantOld ? this.#value(id) : PRESENT;
      this.lastId = id;
      this.#replace(id, kb.length, vb);
      return old;
    }
    const id = this.#newRecord(kb, vb);
    this.#insertSlot(h, id);
    this.lastId = id;
    return undefined;
  }

  /** Removes `key`; returns its value (when `wantOld`), {@link PRESENT}, or undefined when it was absent. */
  delete(key: Data, wantOld = false): Data | typeof PRESENT | undefined {
    const kb = encodeValue(canonicalKey(key));
    const slot = this.#find(kb, hashBytes(kb, 0, kb.length));
    if (slot < 0) return undefined;
    const id = this.#table[slot]! - 1;
    const old = wantOld ? this.#value(id) : PRESENT;
    this.#table[slot] = TOMBSTONE;
    this.#release(id);
    this.#maybeCompact();
    return old;
  }

  /** Removes record `id` (a number `set` returned or `ids` yielded); returns its key and value. */
  deleteRecord(id: number): [Data, Data] {
    const entry: [Data, Data] = [this.#key(id), this.#value(id)];
    const p = this.#pages[this.#pageOf[id]!]!;
    const o = this.#offOf[id]!;
    const klen = readU32(p, o);
    const slot = this.#find(
      p.subarray(o + HEADER_BYTES, o + HEADER_BYTES + klen),
      hashBytes(p, o + HEADER_BYTES, klen),
    );
    this.#table[slot] = TOMBSTONE;
    this.#release(id);
    this.#maybeCompact();
    return entry;
  }

  clear(): void {
    this.#pages = [];
    this.#current = -1;
    this.#fill = 0;
    this.#pageOf = new Int32Array(MIN_RECORDS);
    this.#offOf = new Int32Array(MIN_RECORDS);
    this.#records = 0;
    this.#free = -1;
    this.#live = 0;
    this.#liveBytes = 0;
    this.#deadBytes = 0;
    this.#table = new Int32Array(MIN_TABLE);
    this.#occupied = 0;
  }

  /** The live record numbers, in record order (records present throughout are met once). */
  *ids(): IterableIterator<number> {
    for (let id = 0; id < this.#records; id++) if (this.#pageOf[id] !== NO_PAGE) yield id;
  }

  /** Keys, decoded. */
  *keys(): IterableIterator<Data> {
    for (const id of this.ids()) yield this.#key(id);
  }

  /** Entries, decoded. */
  *entries(): IterableIterator<[Data, Data]> {
    for (const id of this.ids()) yield [this.#key(id), this.#value(id)];
  }

  /** Bytes held in pages (live and freed), for tests and diagnostics. */
  get pageBytes(): number {
    let n = 0;
    for (const p of this.#pages) n += p.length;
    return n;
  }

  // ---- records

  #key(id: number): Data {
    const p = this.#pages[this.#pageOf[id]!]!;
    const o = this.#offOf[id]!;
    return decodeValue(p.subarray(o + HEADER_BYTES, o + HEADER_BYTES + readU32(p, o)), HELD_LIMITS);
  }

  #value(id: number): Data {
    const p = this.#pages[this.#pageOf[id]!]!;
    const o = this.#offOf[id]!;
    const from = o + HEADER_BYTES + readU32(p, o);
    return decodeValue(p.subarray(from, from + readU32(p, o + 4)), HELD_LIMITS);
  }

  #newRecord(kb: Uint8Array, vb: Uint8Array): number {
    let id = this.#free;
    if (id >= 0) this.#free = this.#offOf[id]!;
    else {
      id = this.#records++;
      if (id === this.#pageOf.length) this.#growRecords();
    }
    this.#write(id, kb, 0, kb.length, vb);
    this.#live++;
    return id;
  }

  /** Writes record `id` (key bytes `kb[kFrom..kFrom+klen)`, value `vb`) at a fresh place. */
  #write(id: number, kb: Uint8Array, kFrom: number, klen: number, vb: Uint8Array): void {
    const n = HEADER_BYTES + klen + vb.length;
    this.#alloc(n);
    const page = this.#allocPage;
    const off = this.#allocOff;
    const p = this.#pages[page]!;
    writeU32(p, off, klen);
    writeU32(p, off + 4, vb.length);
    copyBytes(p, off + HEADER_BYTES, kb, kFrom, klen);
    copyBytes(p, off + HEADER_BYTES + klen, vb, 0, vb.length);
    this.#pageOf[id] = page;
    this.#offOf[id] = off;
    this.#liveBytes += n;
  }

  /** A new value for record `id`: in place when it fits, else the record moves (its number stays). */
  #replace(id: number, klen: number, vb: Uint8Array): void {
    const page = this.#pageOf[id]!;
    const p = this.#pages[page]!;
    const o = this.#offOf[id]!;
    const vlen = readU32(p, o + 4);
    if (vb.length <= vlen) {
      writeU32(p, o + 4, vb.length);
      copyBytes(p, o + HEADER_BYTES + klen, vb, 0, vb.length);
      this.#liveBytes -= vlen - vb.length;
      this.#deadBytes += vlen - vb.length;
      this.#maybeCompact();
      return;
    }
    // The key bytes move with it: copy them out before the old place can be freed.
    const kb = p.slice(o + HEADER_BYTES, o + HEADER_BYTES + klen);
    this.#drop(id);
    this.#write(id, kb, 0, klen, vb);
    this.#maybeCompact();
  }

  /** Frees record `id`'s bytes (its page too when it had one of its own). */
  #drop(id: number): void {
    const page = this.#pageOf[id]!;
    const p = this.#pages[page]!;
    const o = this.#offOf[id]!;
    const n = HEADER_BYTES + readU32(p, o) + readU32(p, o + 4);
    this.#liveBytes -= n;
    if (page !== this.#current && p.length === n && o === 0 && n > LARGE_RECORD_BYTES) {
      this.#pages[page] = NO_PAGE_BYTES; // a large record's own page
    } else this.#deadBytes += n;
  }

  #release(id: number): void {
    this.#drop(id);
    this.#pageOf[id] = NO_PAGE;
    this.#offOf[id] = this.#free;
    this.#free = id;
    this.#live--;
  }

  /** Where the last `#alloc` made room. */
  #allocPage = 0;
  #allocOff = 0;

  /** Room for `n` bytes (in `#allocPage` at `#allocOff`): at the end of the current page, a new page, or a page of its own. */
  #alloc(n: number): void {
    if (n > LARGE_RECORD_BYTES) {
      this.#pages.push(new Uint8Array(n));
      this.#allocPage = this.#pages.length - 1;
      this.#allocOff = 0;
      return;
    }
    if (this.#current < 0 || this.#fill + n > PAGE_BYTES) {
      if (this.#current >= 0) this.#deadBytes += PAGE_BYTES - this.#fill; // the unused tail
      this.#pages.push(new Uint8Array(PAGE_BYTES));
      this.#current = this.#pages.length - 1;
      this.#fill = 0;
    }
    this.#allocPage = this.#current;
    this.#allocOff = this.#fill;
    this.#fill += n;
  }

  #growRecords(): void {
    const size = this.#pageOf.length * 2;
    const pageOf = new Int32Array(size);
    pageOf.set(this.#pageOf);
    const offOf = new Int32Array(size);
    offOf.set(this.#offOf);
    this.#pageOf = pageOf;
    this.#offOf = offOf;
  }

  /** Copies every live record into fresh pages once freed bytes outweigh live ones. */
  #maybeCompact(): void {
    if (this.#deadBytes < COMPACT_MIN_DEAD_BYTES || this.#deadBytes < this.#liveBytes) return;
    const old = this.#pages;
    this.#pages = [];
    this.#current = -1;
    this.#fill = 0;
    this.#liveBytes = 0;
    this.#deadBytes = 0;
    for (let id = 0; id < this.#records; id++) {
      const page = this.#pageOf[id]!;
      if (page === NO_PAGE) continue;
      const p = old[page]!;
      const o = this.#offOf[id]!;
      const klen = readU32(p, o);
      const vlen = readU32(p, o + 4);
      const from = o + HEADER_BYTES + klen;
      this.#write(id, p, o + HEADER_BYTES, klen, p.subarray(from, from + vlen));
    }
  }

  // ---- hash table

  /** The slot holding key bytes `kb` (hash `h`), or −1. */
  #find(kb: Uint8Array, h: number): number {
    const t = this.#table;
    const mask = t.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = t[i]!;
      if (s === EMPTY_SLOT) return -1;
      if (s === TOMBSTONE) continue;
      const id = s - 1;
      const p = this.#pages[this.#pageOf[id]!]!;
      const o = this.#offOf[id]!;
      if (sameBytes(kb, p, o + HEADER_BYTES, readU32(p, o))) return i;
    }
  }

  #insertSlot(h: number, id: number): void {
    // At most three quarters occupied (tombstones count): else rebuild, at twice the live entries or more.
    if ((this.#occupied + 1) * 4 > this.#table.length * 3) this.#rehash();
    const t = this.#table;
    const mask = t.length - 1;
    let i = h & mask;
    while (t[i]! > 0) i = (i + 1) & mask;
    if (t[i] === EMPTY_SLOT) this.#occupied++;
    t[i] = id + 1;
  }

  #rehash(): void {
    let size = MIN_TABLE;
    while (size < (this.#live + 1) * 2) size *= 2;
    const t = new Int32Array(size);
    const mask = size - 1;
    for (let id = 0; id < this.#records; id++) {
      const page = this.#pageOf[id]!;
      if (page === NO_PAGE) continue;
      const p = this.#pages[page]!;
      const o = this.#offOf[id]!;
      let i = hashBytes(p, o + HEADER_BYTES, readU32(p, o)) & mask;
      while (t[i] !== EMPTY_SLOT) i = (i + 1) & mask;
      t[i] = id + 1;
    }
    this.#table = t;
    this.#occupied = this.#live;
  }
}
