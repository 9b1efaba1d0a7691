/**
 * A growable MessagePack output buffer with the primitive forms the native protocol uses.
 *
 * The writer encodes straight into a shared slab and hands out views of it, so a finished
 * encoding costs no copy and no allocation of its own (V8 allocates every typed array over 64
 * bytes off-heap, which costs more than encoding a typical event). Outputs never overlap; a slab
 * stays alive while any view of it does, as Node's Buffer pool does. Encoding never calls user
 * code, so one writer per module is safe to reuse.
 */

/** Size of a fresh slab; an encoding larger than this grows into a buffer of its own. */
const SLAB_BYTES = 16 * 1024;
/** Strings up to this many UTF-16 units are encoded by hand; longer ones by `encodeInto`. */
const JS_UTF8_MAX_UNITS = 200;
/** Room left after a large encoding when it grows, so the few bytes that follow it need no second grow. */
const GROW_SLACK_BYTES = 1024;

const textEncoder = new TextEncoder();

/**
 * Node's native UTF-8 length (`Buffer.byteLength`: a lone surrogate counts 3 bytes, as the
 * U+FFFD `encodeInto` writes for it); absent in browsers.
 */
const nativeUtf8Length = (globalThis as { Buffer?: { byteLength(s: string, encoding: 'utf8'): number } }).Buffer
  ?.byteLength;
const NON_ASCII = /[^\0-\x7f]/;

/**
 * Bytes to reserve for the UTF-8 of `s`: exact for long strings (measured natively, or known
 * when all ASCII), so a large string is encoded into a buffer of its size instead of 3× it;
 * 3 bytes per unit for short ones (encoded by hand, the bound is cheaper than measuring).
 */
function utf8Reserve(s: string): number {
  const units = s.length;
  if (units <= JS_UTF8_MAX_UNITS) return units * 3;
  if (nativeUtf8Length !== undefined) return nativeUtf8Length(s, 'utf8');
  return NON_ASCII.test(s) ? units * 3 : units;
}

/** Header size of a str of `len` bytes: fixstr, str8, str16 or str32. */
function strHeaderSize(len: number): number {
  return len < 32 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

export class MsgpackWriter {
  /** The whole current slab; the encoding in progress is `buf[start..pos)`. */
  buf: Uint8Array;
  view: DataView;
  start = 0;
  pos = 0;

  constructor() {
    this.buf = new Uint8Array(SLAB_BYTES);
    this.view = new DataView(this.buf.buffer);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Moves the encoding in progress to a fresh slab (or a larger buffer of its own). */
  private grow(n: number): void {
    const used = this.pos - this.start;
    // Doubling what is used keeps many small writes amortised; a large write (a long string, raw
    // bytes) gets what it needs and a little more, so a 1 MiB string allocates ~1 MiB, not 4.
    const size = used + n <= SLAB_BYTES / 2 ? SLAB_BYTES : Math.max(SLAB_BYTES, used * 2, used + n + GROW_SLACK_BYTES);
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = 0;
    this.pos = used;
  }

  /** Returns the encoding in progress (a view into the slab) and starts the next one after it. */
  finish(): Uint8Array {
    if (this.buf.length > SLAB_BYTES) {
      // An oversized encoding: hand out the large buffer when the encoding fills most of it,
      // else copy it out exactly; either way the next encoding starts in a fresh slab.
      const used = this.pos - this.start;
      const out =
        used * 4 >= this.buf.length * 3
          ? new Uint8Array(this.buf.buffer, this.start, used)
          : this.buf.slice(this.start, this.pos);
      this.buf = new Uint8Array(SLAB_BYTES);
      this.view = new DataView(this.buf.buffer);
      this.start = this.pos = 0;
      return out;
    }
    const out = new Uint8Array(this.buf.buffer, this.start, this.pos - this.start);
    this.start = this.pos;
    return out;
  }

  /** `n` bytes of unspecified content for the caller to fill completely (no encoding in progress). */
  alloc(n: number): Uint8Array {
    if (n > SLAB_BYTES / 4) return new Uint8Array(n);
    this.ensure(n);
    this.pos += n;
    return this.finish();
  }

  /** Abandons the encoding in progress (after a failed encode). */
  reset(): void {
    this.pos = this.start;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  nil(): void {
    this.byte(0xc0);
  }

  bool(v: boolean): void {
    this.byte(v ? 0xc3 : 0xc2);
  }

  /** An unsigned integer 0 ≤ n ≤ 2^53−1 in its smallest form. */
  uint(n: number): void {
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    if (n < 0x80) {
      b[p++] = n;
    } else if (n < 0x100) {
      b[p++] = 0xcc;
      b[p++] = n;
    } else if (n < 0x10000) {
      b[p++] = 0xcd;
      b[p++] = n >>> 8;
      b[p++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[p++] = 0xce;
      this.view.setUint32(p, n);
      p += 4;
    } else {
      b[p++] = 0xcf;
      this.view.setUint32(p, Math.floor(n / 0x100000000));
      this.view.setUint32(p + 4, n >>> 0);
      p += 8;
    }
    this.pos = p;
  }

  /** An unsigned integer 0 ≤ v ≤ 2^64−1 in its smallest form. */
  uintBig(v: bigint): void {
    if (v < 0x100000000n) {
      this.uint(Number(v));
      return;
    }
    this.ensure(9);
    this.buf[this.pos] = 0xcf;
    this.view.setBigUint64(this.pos + 1, v);
    this.pos += 9;
  }

  /** float64, always (never float32). */
  float64(v: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  arrayHeader(n: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    if (n < 16) {
      b[p] = 0x90 | n;
      this.pos = p + 1;
    } else if (n < 0x10000) {
      b[p] = 0xdc;
      b[p + 1] = n >>> 8;
      b[p + 2] = n & 0xff;
      this.pos = p + 3;
    } else {
      b[p] = 0xdd;
      this.view.setUint32(p + 1, n);
      this.pos = p + 5;
    }
  }

  /** An ext header for `len` data bytes of `type`: fixext when the length allows, else ext8/16/32. */
  extHeader(type: number, len: number): void {
    this.ensure(6);
    const b = this.buf;
    let p = this.pos;
    switch (len) {
      case 1:
        b[p++] = 0xd4;
        break;
      case 2:
        b[p++] = 0xd5;
        break;
      case 4:
        b[p++] = 0xd6;
        break;
      case 8:
        b[p++] = 0xd7;
        break;
      case 16:
        b[p++] = 0xd8;
        break;
      default:
        if (len < 0x100) {
          b[p++] = 0xc7;
          b[p++] = len;
        } else if (len < 0x10000) {
          b[p++] = 0xc8;
          b[p++] = len >>> 8;
          b[p++] = len & 0xff;
        } else {
          b[p++] = 0xc9;
          this.view.setUint32(p, len);
          p += 4;
        }
    }
    b[p++] = type;
    this.pos = p;
  }

  /** A fixext8 of `type` holding a signed 64-bit big-endian integer. */
  extInt64(type: number, v: bigint): void {
    this.ensure(10);
    this.buf[this.pos] = 0xd7;
    this.buf[this.pos + 1] = type;
    this.view.setBigInt64(this.pos + 2, v);
    this.pos += 10;
  }

  /** A bin of exactly these bytes. */
  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(5 + n);
    const b = this.buf;
    if (n < 0x100) {
      b[this.pos++] = 0xc4;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = 0xc5;
      b[this.pos++] = n >>> 8;
      b[this.pos++] = n & 0xff;
    } else {
      b[this.pos++] = 0xc6;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
    this.raw(bytes);
  }

  /** Bytes copied verbatim. */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    if (n <= 16) {
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < n; i++) b[p + i] = bytes[i]!;
    } else {
      this.buf.set(bytes, this.pos);
    }
    this.pos += n;
  }

  /** Bytes `[start, end)` of `bytes` copied verbatim (no view of them is made). */
  rawRange(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const b = this.buf;
    const p = this.pos;
    if (n <= 32) for (let i = 0; i < n; i++) b[p + i] = bytes[start + i]!;
    else b.set(bytes.subarray(start, end), p);
    this.pos += n;
  }

  /** A str in UTF-8 (lone surrogates become U+FFFD, as `TextEncoder` does). */
  str(s: string): void {
    const units = s.length;
    if (units < 32) {
      // ASCII fast path: one unit is one byte, so the fixstr header is known up front.
      this.ensure(1 + units);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < units; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === units) {
        b[start] = 0xa0 | units;
        this.pos = p;
        return;
      }
    }
    this.strGeneral(s);
  }

  /** A str header followed by UTF-8 bytes produced by `writeUtf8` (raw payload, no header). */
  private strGeneral(s: string): void {
    const maxBytes = utf8Reserve(s);
    const hdr = strHeaderSize(maxBytes);
    this.ensure(hdr + maxBytes);
    const start = this.pos;
    const payload = start + hdr;
    const len =
      s.length <= JS_UTF8_MAX_UNITS
        ? writeUtf8(s, this.buf, payload) - payload
        : textEncoder.encodeInto(s, this.buf.subarray(payload)).written;
    const actualHdr = strHeaderSize(len);
    if (actualHdr !== hdr) this.buf.copyWithin(start + actualHdr, payload, payload + len);
    const b = this.buf;
    switch (actualHdr) {
      case 1:
        b[start] = 0xa0 | len;
        break;
      case 2:
        b[start] = 0xd9;
        b[start + 1] = len;
        break;
      case 3:
        b[start] = 0xda;
        b[start + 1] = len >>> 8;
        b[start + 2] = len & 0xff;
        break;
      default:
        b[start] = 0xdb;
        this.view.setUint32(start + 1, len);
    }
    this.pos = start + actualHdr + len;
  }

  /** An ext of `type` holding the UTF-8 bytes of `s`. */
  extStr(type: number, s: string): void {
    const maxBytes = utf8Reserve(s);
    this.ensure(6 + maxBytes);
    // Encode into the space after the largest header, then write the header and move the payload.
    const start = this.pos;
    const payload = start + 6;
    const len =
      s.length <= JS_UTF8_MAX_UNITS
        ? writeUtf8(s, this.buf, payload) - payload
        : textEncoder.encodeInto(s, this.buf.subarray(payload)).written;
    this.extHeader(type, len);
    this.buf.copyWithin(this.pos, payload, payload + len);
    this.pos += len;
  }
}

/** Writes `s` as UTF-8 at `p`; returns the end offset. The caller ensured 3 bytes per unit. */
function writeUtf8(s: string, b: Uint8Array, p: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}
