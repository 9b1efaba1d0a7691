/**
 * The pub/sub benchmark's message: 100 ASCII bytes carrying a sequence number and the publish
 * time, the rest padding. Every system carries the same text (as a Broker string for the hub, as
 * bytes for the others), and subscribers read the two numbers back without allocating.
 */

/** Size of one payload in bytes. */
export const PAYLOAD_BYTES = 100;

const SEQ_DIGITS = 12;
const TIME_DIGITS = 15;
const TIME_AT = SEQ_DIGITS + 1;
const PAD = ` ${'x'.repeat(PAYLOAD_BYTES - SEQ_DIGITS - TIME_DIGITS - 2)}`;

/** Microseconds on the monotonic clock shared by publisher and subscribers of one process. */
export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

/** The payload text for message `seq` published at `sentUs`: `SEQ TIME xxx…`, 100 characters. */
export function payloadText(seq: number, sentUs: number): string {
  return `${String(seq).padStart(SEQ_DIGITS, '0')} ${String(sentUs).padStart(TIME_DIGITS, '0')}${PAD}`;
}

/** What a subscriber read from a payload (one object reused for every parse). */
export interface ParsedPayload {
  seq: number;
  sentUs: number;
}

/** Reads sequence number and publish time from a payload string into `out`; false when malformed. */
export function parseText(s: string, out: ParsedPayload): boolean {
  if (s.length !== PAYLOAD_BYTES) return false;
  let seq = 0;
  for (let i = 0; i < SEQ_DIGITS; i++) seq = seq * 10 + (s.charCodeAt(i) - 48);
  let t = 0;
  for (let i = TIME_AT; i < TIME_AT + TIME_DIGITS; i++) t = t * 10 + (s.charCodeAt(i) - 48);
  out.seq = seq;
  out.sentUs = t;
  return true;
}

/** Reads a payload starting at `offset` of `b` into `out`; false when it does not fit. */
export function parseBytes(b: Uint8Array, offset: number, out: ParsedPayload): boolean {
  if (b.length - offset < PAYLOAD_BYTES) return false;
  let seq = 0;
  for (let i = 0; i < SEQ_DIGITS; i++) seq = seq * 10 + (b[offset + i]! - 48);
  let t = 0;
  for (let i = TIME_AT; i < TIME_AT + TIME_DIGITS; i++) t = t * 10 + (b[offset + i]! - 48);
  out.seq = seq;
  out.sentUs = t;
  return true;
}
