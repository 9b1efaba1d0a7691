/**
 * A bounds-checked MessagePack input cursor with the primitive forms the native protocol uses.
 * Every length is checked against the limits and the bytes remaining before anything is
 * allocated; every failure is a `DecodeError` naming the byte offset and what was wrong.
 */
import { DecodeError } from '../../errors.js';
import type { NativeLimits } from '../native/limits.js';
import { StringCache } from './string-cache.js';

const scratchBuffer = new ArrayBuffer(8);
const scratch = new DataView(scratchBuffer);
const scratchBytes = new Uint8Array(scratchBuffer);

function loadScratch(b: Uint8Array, p: number): void {
  for (let i = 0; i < 8; i++) scratchBytes[i] = b[p + i]!;
}

/** float64 big-endian at `p` (caller checked bounds). */
export function readFloat64(b: Uint8Array, p: number): number {
  loadScratch(b, p);
  return scratch.getFloat64(0);
}

/** int64 big-endian at `p` (caller checked bounds). */
export function readInt64(b: Uint8Array, p: number): bigint {
  const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >> 0;
  const lo = readUint32(b, p + 4);
  // Fits a safe integer: one BigInt conversion instead of two and a shift.
  if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  loadScratch(b, p);
  return scratch.getBigInt64(0);
}

/** uint64 big-endian at `p` (caller checked bounds). */
export function readUint64(b: Uint8Array, p: number): bigint {
  const hi = readUint32(b, p);
  const lo = readUint32(b, p + 4);
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  loadScratch(b, p);
  return scratch.getBigUint64(0);
}

export function readUint32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

export function readUint16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

/**
 * Passes DecodeErrors through and turns a stack overflow (input nested deeper than the stack
 * allows, possible only with a raised `maxDepth`) into one; anything else is a bug and rethrown.
 */
export function asDecodeError(e: unknown, at: number): unknown {
  if (e instanceof RangeError && !(e instanceof DecodeError)) {
    return new DecodeError(`at byte ${at}: input nested too deeply for the call stack`, { cause: e });
  }
  return e;
}

/** A readable name of the MessagePack form starting with byte `c`. */
export function formName(c: number): string {
  if (c < 0x80) return 'positive fixint';
  if (c < 0x90) return 'fixmap';
  if (c < 0xa0) return 'fixarray';
  if (c < 0xc0) return 'fixstr';
  if (c >= 0xe0) return 'negative fixint';
  return FORM_NAMES[c - 0xc0]!;
}

const FORM_NAMES = [
  'nil',
  'never-used byte 0xc1',
  'false',
  'true',
  'bin8',
  'bin16',
  'bin32',
  'ext8',
  'ext16',
  'ext32',
  'float32',
  'float64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'int8',
  'int16',
  'int32',
  'int64',
  'fixext1',
  'fixext2',
  'fixext4',
  'fixext8',
  'fixext16',
  'str8',
  'str16',
  'str32',
  'array16',
  'array32',
  'map16',
  'map32',
] as const;

/**
 * Short strings read by `MsgpackReader.string` (topics, names, prefixes): a stream of messages
 * repeats the same few, which are then decoded and hashed once instead of once per message.
 */
const strings = new StringCache();

/** `binExact` results up to this many bytes (endpoint ids) are shared while they repeat. */
const SHARED_BIN_MAX_BYTES = 32;
const SHARED_BIN_SLOTS = 16;
/** A direct-mapped cache of recent `binExact` results, by their bytes. */
const sharedBins: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SHARED_BIN_SLOTS).fill(undefined);

/**
 * `b[start..start+n)` as a Uint8Array of its own: the one returned before for the same bytes when
 * it is still cached (ids repeat: every message of a stream names the same origin), else a copy.
 */
function sharedBin(b: Uint8Array, start: number, n: number): Uint8Array {
  if (n === 0 || n > SHARED_BIN_MAX_BYTES) return b.slice(start, start + n);
  const slot = (b[start]! ^ (b[start + n - 1]! << 1) ^ n) & (SHARED_BIN_SLOTS - 1);
  const cached = sharedBins[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached[i] === b[start + i]) i++;
    if (i === n) return cached;
  }
  const copy = b.slice(start, start + n);
  sharedBins[slot] = copy;
  return copy;
}

export class MsgpackReader {
  b: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;
  limits: Readonly<Required<NativeLimits>>;

  constructor(limits: Readonly<Required<NativeLimits>>) {
    this.limits = limits;
  }

  /** Points the reader at new input. */
  reset(bytes: Uint8Array, limits: Readonly<Required<NativeLimits>>): void {
    this.b = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.limits = limits;
  }

  /** Throws a DecodeError naming the byte offset. */
  fail(at: number, what: string, code?: string): never {
    throw new DecodeError(`at byte ${at}: ${what}`, code === undefined ? undefined : { code });
  }

  /** Fails unless `n` bytes remain after `p`. */
  need(p: number, n: number, what: string): void {
    if (n > this.end - p) {
      this.fail(p, `${what} needs ${n} bytes but only ${Math.max(0, this.end - p)} remain`);
    }
  }

  /** The byte at the cursor; fails at the end of input. */
  peek(what: string): number {
    if (this.pos >= this.end) this.fail(this.pos, `input ends where ${what} was expected`);
    return this.b[this.pos]!;
  }

  /**
   * Reads an array header and checks that every element can still fit (each takes a byte at
   * least). `limited` also applies `maxArrayLength`; frames and messages have their own limits.
   */
  arrayHeader(what: string, limited = true): number {
    const at = this.pos;
    const c = this.peek(what);
    let n: number;
    if (c >= 0x90 && c <= 0x9f) {
      n = c & 0x0f;
      this.pos = at + 1;
    } else if (c === 0xdc) {
      this.need(at, 3, 'array16 header');
      n = readUint16(this.b, at + 1);
      this.pos = at + 3;
    } else if (c === 0xdd) {
      this.need(at, 5, 'array32 header');
      n = readUint32(this.b, at + 1);
      this.pos = at + 5;
    } else {
      return this.fail(at, `${what} must be an array, got ${formName(c)}`);
    }
    if (limited) this.checkArrayLength(at, n);
    else this.checkFits(at, n);
    return n;
  }

  checkArrayLength(at: number, n: number): void {
    if (n > this.limits.maxArrayLength) {
      this.fail(at, `array of ${n} elements exceeds the limit of ${this.limits.maxArrayLength}`);
    }
    this.checkFits(at, n);
  }

  /** Fails unless `n` elements of at least one byte each fit in what remains. */
  checkFits(at: number, n: number): void {
    if (n > this.end - this.pos) {
      this.fail(at, `array of ${n} elements cannot fit in the ${this.end - this.pos} bytes remaining`);
    }
  }

  /** Reads a str header and returns the payload length; the cursor is left at the payload. */
  strHeader(what: string): number {
    const at = this.pos;
    const c = this.peek(what);
    let n: number;
    if (c >= 0xa0 && c <= 0xbf) {
      n = c & 0x1f;
      this.pos = at + 1;
    } else if (c === 0xd9) {
      this.need(at, 2, 'str8 header');
      n = this.b[at + 1]!;
      this.pos = at + 2;
    } else if (c === 0xda) {
      this.need(at, 3, 'str16 header');
      n = readUint16(this.b, at + 1);
      this.pos = at + 3;
    } else if (c === 0xdb) {
      this.need(at, 5, 'str32 header');
      n = readUint32(this.b, at + 1);
      this.pos = at + 5;
    } else {
      return this.fail(at, `${what} must be a string, got ${formName(c)}`);
    }
    this.checkStringLength(at, n);
    return n;
  }

  checkStringLength(at: number, n: number): void {
    if (n > this.limits.maxStringBytes) {
      this.fail(at, `string of ${n} bytes exceeds the limit of ${this.limits.maxStringBytes}`);
    }
    // The message is built only on failure (this runs for every string read).
    if (n > this.end - this.pos) this.need(this.pos, n, `string of ${n} bytes`);
  }

  /**
   * Reads a str as text; rejects invalid UTF-8. Short strings come from a cache keyed by their
   * bytes, so a repeated one (a topic) is the same string object each time.
   */
  string(what: string): string {
    const at = this.pos;
    const n = this.strHeader(what);
    const s = strings.decode(this.b, this.pos, n);
    if (s === undefined) return this.fail(at, `${what} is not valid UTF-8`);
    this.pos += n;
    return s;
  }

  /** Reads nil (→ undefined) or a str. */
  optionalString(what: string): string | undefined {
    if (this.peek(what) === 0xc0) {
      this.pos++;
      return undefined;
    }
    return this.string(what);
  }

  /** Reads an unsigned integer up to 2^53−1 as a number. */
  uint(what: string): number {
    const at = this.pos;
    const b = this.b;
    const c = this.peek(what);
    if (c < 0x80) {
      this.pos = at + 1;
      return c;
    }
    switch (c) {
      case 0xcc:
        this.need(at, 2, 'uint8');
        this.pos = at + 2;
        return b[at + 1]!;
      case 0xcd:
        this.need(at, 3, 'uint16');
        this.pos = at + 3;
        return readUint16(b, at + 1);
      case 0xce:
        this.need(at, 5, 'uint32');
        this.pos = at + 5;
        return readUint32(b, at + 1);
      case 0xcf: {
        this.need(at, 9, 'uint64');
        const hi = readUint32(b, at + 1);
        if (hi >= 0x200000) this.fail(at, `${what} is above 2^53-1`);
        this.pos = at + 9;
        return hi * 0x100000000 + readUint32(b, at + 5);
      }
    }
    return this.fail(at, `${what} must be an unsigned integer, got ${formName(c)}`);
  }

  /**
   * Reads the header of an ext whose lead byte `c` (fixext or ext8/16/32) is at `at`: returns the
   * data length, leaves the cursor at the data (the type byte is just before it) and checks that
   * the data fits.
   */
  ext(at: number, c: number): number {
    let n: number;
    let hdr = 1;
    if (c >= 0xd4 && c <= 0xd8) {
      n = 1 << (c - 0xd4);
    } else if (c === 0xc7) {
      this.need(at, 2, 'ext8 header');
      n = this.b[at + 1]!;
      hdr = 2;
    } else if (c === 0xc8) {
      this.need(at, 3, 'ext16 header');
      n = readUint16(this.b, at + 1);
      hdr = 3;
    } else {
      this.need(at, 5, 'ext32 header');
      n = readUint32(this.b, at + 1);
      hdr = 5;
    }
    // Header, type byte, data.
    if (hdr + 1 + n > this.end - at) this.need(at, hdr + 1 + n, `${formName(c)} with ${n} data bytes`);
    this.pos = at + hdr + 1;
    return n;
  }

  /**
   * Reads a bin of exactly `len` bytes and returns them in a Uint8Array of their own, which must
   * never be written to: short ones (ids) are shared by every read of the same bytes while they
   * stay cached.
   */
  binExact(what: string, len: number): Uint8Array {
    const at = this.pos;
    const c = this.peek(what);
    let n: number;
    let hdr: number;
    if (c === 0xc4) {
      this.need(at, 2, 'bin8 header');
      n = this.b[at + 1]!;
      hdr = 2;
    } else if (c === 0xc5) {
      this.need(at, 3, 'bin16 header');
      n = readUint16(this.b, at + 1);
      hdr = 3;
    } else if (c === 0xc6) {
      this.need(at, 5, 'bin32 header');
      n = readUint32(this.b, at + 1);
      hdr = 5;
    } else {
      return this.fail(at, `${what} must be a bin, got ${formName(c)}`);
    }
    if (n !== len) this.fail(at, `${what} must be ${len} bytes, got ${n}`);
    this.need(at + hdr, n, what);
    this.pos = at + hdr + n;
    return sharedBin(this.b, at + hdr, n);
  }
}
