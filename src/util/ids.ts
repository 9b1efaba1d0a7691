/** Endpoint identities: RFC 4122 version-4 UUIDs, as text and as 16 bytes on the wire. */
import { ValueError } from '../errors.js';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** A new random endpoint id (a lowercase version-4 UUID). */
export function newEndpointId(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return idFromBytes(b);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `s` is a valid endpoint id (a lowercase UUID). */
export function isEndpointId(s: string): boolean {
  return UUID_RE.test(s);
}

export function idToBytes(id: string): Uint8Array {
  if (!UUID_RE.test(id)) throw new ValueError(`endpoint id '${id}' is not a lowercase UUID`);
  const hex = id.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function idFromBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[b[i]!];
  }
  return s;
}
