/**
 * A growing byte buffer that log formats write lines into: one buffer reused batch after batch,
 * so formatting a record allocates no string per field (see `createTsvFormat`'s `writeRecords`).
 */

const encoder = new TextEncoder();

/** Bytes appended at the end of a buffer that grows as needed; `bytes()` views what was written. */
export class LogBytes {
  /** The backing store; valid up to `length`. */
  buf: Uint8Array;
  /** Bytes written. */
  length = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends one byte. */
  byte(b: number): void {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = b;
  }

  /** Appends a string of code units below 0x80 (digits, ASCII text), one byte each. */
  ascii(s: string): void {
    const n = s.length;
    if (this.length + n > this.buf.length) this.reserve(n);
    const buf = this.buf;
    let at = this.length;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.length = at;
  }

  /** Appends a string as UTF-8 (lone surrogates as U+FFFD, as `TextEncoder` writes them). */
  utf8(s: string): void {
    this.reserve(s.length * 3);
    this.length += encoder.encodeInto(s, this.buf.subarray(this.length)).written;
  }

  /** Appends bytes. */
  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends a non-negative safe integer in decimal. */
  decimal(n: number): void {
    let digits = 1;
    for (let p = 10; p <= n && digits < 16; p *= 10) digits++;
    if (digits === 16) digits = String(n).length;
    if (this.length + digits > this.buf.length) this.reserve(digits);
    const buf = this.buf;
    const end = this.length + digits;
    let at = end;
    let x = n;
    while (at > this.length) {
      const q = Math.floor(x / 10);
      buf[--at] = 0x30 + (x - q * 10);
      x = q;
    }
    this.length = end;
  }

  /** A view of the bytes written (valid until the next append). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Forgets what was written, keeping the capacity. */
  clear(): void {
    this.length = 0;
  }
}
