/**
 * Text ↔ 16-byte conversion for IPv4 and IPv6 addresses, and prefix masking.
 *
 * Parsing is strict, like inet_pton: IPv4 needs four decimal octets without leading zeros; IPv6
 * takes 1–4 hex digits per group, at most one `::`, and an optional dotted IPv4 tail; zone ids
 * (`fe80::1%eth0`) and surrounding spaces are rejected. IPv4 is stored v4-mapped
 * (`::ffff:a.b.c.d`), as Broker does.
 *
 * Formatting follows Broker (which prints through CAF): a v4-mapped address prints dotted
 * (`1.2.3.4`); otherwise hex groups in lower case without leading zeros, the longest run of two or
 * more zero groups compressed to `::` (the first run wins a tie). Unlike glibc's inet_ntop, Broker
 * never prints an IPv4-compatible address in mixed form: `::1.2.3.4` prints as `::102:304`.
 */

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

/** True when the 16 bytes hold a v4-mapped IPv4 address. */
export function isV4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (bytes[i] !== V4_MAPPED_PREFIX[i]) return false;
  return true;
}

/** True when an address or subnet value is IPv4 (stored v4-mapped). */
export function isIPv4(v: { readonly bytes: Uint8Array }): boolean {
  return isV4(v.bytes);
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Writes the four octets of a dotted IPv4 address at `offset`; false when `text` is not one. */
function parseV4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!OCTET.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[offset + i] = n;
  }
  return true;
}

function parseGroups(text: string, into: number[]): boolean {
  if (text.length === 0) return true;
  for (const g of text.split(':')) {
    if (!HEX_GROUP.test(g)) return false;
    into.push(parseInt(g, 16));
  }
  return true;
}

function parseV6Into(text: string, out: Uint8Array): boolean {
  // A dotted IPv4 tail may only follow the last ':' and stands for the last two groups.
  let body = text;
  let groupsWanted = 8;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    if (!parseV4Into(text.slice(lastColon + 1), out, 12)) return false;
    // Keep the ':' of a '::' that ends right before the IPv4 part.
    body = text.slice(0, text[lastColon - 1] === ':' ? lastColon + 1 : lastColon);
    groupsWanted = 6;
  }
  const head: number[] = [];
  const tail: number[] = [];
  const dbl = body.indexOf('::');
  if (dbl < 0) {
    if (!parseGroups(body, head) || head.length !== groupsWanted) return false;
  } else {
    if (body.indexOf('::', dbl + 1) >= 0) return false;
    if (!parseGroups(body.slice(0, dbl), head) || !parseGroups(body.slice(dbl + 2), tail)) return false;
    // '::' stands for at least one zero group.
    if (head.length + tail.length > groupsWanted - 1) return false;
  }
  const words = [...head, ...new Array<number>(groupsWanted - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < groupsWanted; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  return true;
}

/**
 * Parses an IPv4 or IPv6 address into 16 bytes (IPv4 v4-mapped), or returns undefined when the
 * text is not an address.
 */
export function parseAddress(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (text.includes(':')) return parseV6Into(text, out) ? out : undefined;
  out.set(V4_MAPPED_PREFIX);
  return parseV4Into(text, out, 12) ? out : undefined;
}

/** Formats 16 address bytes as Broker prints them (see the module comment). */
export function formatAddress(bytes: Uint8Array): string {
  if (isV4(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // Longest run of at least two zero words; the first one wins a tie.
  let bestBase = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestBase < 0) return hex(words);
  return `${hex(words.slice(0, bestBase))}::${hex(words.slice(bestBase + bestLen))}`;
}

/** Formats an address value (or a subnet's network) as Broker prints it. */
export function addressToString(v: { readonly bytes: Uint8Array }): string {
  return formatAddress(v.bytes);
}

/** Keeps the top `bits` (0–128, in IPv6 terms) of 16 address bytes; returns a new array. */
export function maskAddress(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}
