/**
 * Text ↔ 16-byte conversion for IPv4 and IPv6 addresses, matching inet_pton/inet_ntop as Broker
 * uses them. IPv4 is stored v4-mapped (`::ffff:a.b.c.d`) and printed in dotted form.
 */

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

/** True when the 16 bytes hold a v4-mapped IPv4 address. */
export function isV4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (bytes[i] !== V4_MAPPED_PREFIX[i]) return false;
  return true;
}

function parseV4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return false;
    if (p.length > 1 && p[0] === '0') return false;
    const n = Number(p);
    if (n > 255) return false;
    out[offset + i] = n;
  }
  return true;
}

function parseV6Into(text: string, out: Uint8Array): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    if (text.indexOf('::', dbl + 1) >= 0) return false;
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const groups = (s: string): string[] => (s.length === 0 ? [] : s.split(':'));
  const hg = groups(head);
  const tg = groups(tail);
  const words: number[] = [];
  const all = [...hg, ...tg];
  let v4Tail: string | undefined;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    v4Tail = last;
    if (tg.length > 0) tg.pop();
    else hg.pop();
  }
  const needed = v4Tail === undefined ? 8 : 6;
  const given = hg.length + tg.length;
  if (dbl >= 0 ? given > needed - 1 : given !== needed) return false;
  const parseGroup = (g: string): number | undefined =>
    /^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : undefined;
  for (const g of hg) {
    const w = parseGroup(g);
    if (w === undefined) return false;
    words.push(w);
  }
  const zeros = needed - given;
  for (let i = 0; i < zeros; i++) words.push(0);
  for (const g of tg) {
    const w = parseGroup(g);
    if (w === undefined) return false;
    words.push(w);
  }
  for (let i = 0; i < needed; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  if (v4Tail !== undefined) return parseV4Into(v4Tail, out, 12);
  return true;
}

/**
 * Parses an IPv4 or IPv6 address into 16 bytes, or returns undefined when the text is not one.
 * Zone ids (`fe80::1%eth0`) are rejected, as Broker does.
 */
export function parseAddress(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (text.includes(':')) return parseV6Into(text, out) ? out : undefined;
  for (let i = 0; i < 12; i++) out[i] = V4_MAPPED_PREFIX[i]!;
  return parseV4Into(text, out, 12) ? out : undefined;
}

function formatV4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Formats 16 address bytes like inet_ntop (IPv4 dotted for v4-mapped addresses). */
export function formatAddress(bytes: Uint8Array): string {
  if (isV4(bytes)) return formatV4(bytes, 12);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // Longest run of zero words, at least two long (first one wins a tie).
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i > 0) out += ':';
    // IPv4-compatible (::a.b.c.d), like inet_ntop.
    if (i === 6 && bestBase === 0 && bestLen === 6) {
      out += formatV4(bytes, 12);
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Masks `bytes` (16) to a prefix of `bits` in v6 terms; returns a new array. */
export function maskAddress(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = keep === 8 ? bytes[i]! : bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}
