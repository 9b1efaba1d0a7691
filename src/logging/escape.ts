/**
 * Zeek's escaping of strings in its ASCII writer (with `LogAscii::enable_utf_8`, the default since
 * Zeek 6) and JSON writer (`JSON::STRING_ESCAPE_POLICY_HEX`, the default), from `ODesc::AddBytes`,
 * `util::escape_utf8` and `util::get_escaped_string`:
 *
 * - TSV: a backslash becomes `\\`; each byte of the separator (and, inside a set or vector, of the
 *   set separator) becomes `\xHH`. The stretches between those are written as UTF-8 unless one of
 *   them holds a "bad" character — a control character (tab and newline included), DEL, a C1
 *   control, a private-use character (U+E000–U+F8FF) or U+FFF0–U+FFFF — in which case every byte
 *   of that stretch outside printable ASCII becomes `\xHH` (lower-case hex).
 * - JSON: the same "bad" test over the whole string, except that `\b \f \n \r \t` pass (JSON
 *   escapes them); with a bad character present every other byte outside printable ASCII becomes
 *   `\xHH`. Then JSON's own escaping.
 */
import { ValueError } from '../errors.js';

const HEX = '0123456789abcdef';
const encoder = new TextEncoder();

/** `\xHH` of one byte. */
export function hexEscape(byte: number): string {
  return `\\x${HEX[byte >> 4]}${HEX[byte & 15]}`;
}

/** Whether Zeek's `escape_utf8` takes code point `cp` as a bad character. */
function isBad(cp: number, allowPrintableControls: boolean): boolean {
  if (cp < 0x20) return !(allowPrintableControls && (cp === 8 || cp === 9 || cp === 10 || cp === 12 || cp === 13));
  return cp === 0x7f || (cp >= 0x80 && cp <= 0x9f) || (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xfff0 && cp <= 0xffff);
}

function hasBad(s: string, allowPrintableControls: boolean): boolean {
  for (let i = 0; i < s.length; i++) if (isBad(s.charCodeAt(i), allowPrintableControls)) return true;
  return false;
}

/** Every character outside printable ASCII (but for `keep`) as the `\xHH` of its UTF-8 bytes. */
function hexAll(s: string, keep: (c: number) => boolean): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x20 && c < 0x7f) || keep(c)) out += ch;
    else for (const b of encoder.encode(ch)) out += hexEscape(b);
  }
  return out;
}

const noControls = (): boolean => false;

/** One stretch between escape points, as `escape_utf8` with both control flags writes it. */
function tsvStretch(s: string): string {
  return hasBad(s, false) ? hexAll(s, noControls) : s;
}

/** Printable ASCII without backslashes or separators: written as it is (the common case). */
function isPlain(s: string, sequences: readonly string[]): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
  }
  for (const q of sequences) if (q !== '' && s.includes(q)) return false;
  return true;
}

/**
 * Escapes the text of a TSV field (not yet checked against the unset/empty markers):
 * `sequences` are the separators that must not appear raw.
 */
export function escapeTsvText(s: string, sequences: readonly string[]): string {
  if (isPlain(s, sequences)) return s;
  let out = '';
  let from = 0;
  let i = 0;
  while (i < s.length) {
    let len = 0;
    if (s.charCodeAt(i) === 0x5c) len = 1;
    else {
      for (const q of sequences) {
        if (q !== '' && s.startsWith(q, i)) {
          len = q.length;
          break;
        }
      }
    }
    if (len === 0) {
      i++;
      continue;
    }
    out += tsvStretch(s.slice(from, i));
    const hit = s.slice(i, i + len);
    if (len === 1 && hit === '\\') out += '\\\\';
    else for (const b of encoder.encode(hit)) out += hexEscape(b);
    i += len;
    from = i;
  }
  return out + tsvStretch(s.slice(from));
}

/**
 * A string (or enum name) field of a TSV log: `empty` for `""`; a value equal to the unset or
 * empty marker gets its first character as `\xHH` (`-` → `\x2d`, `(empty)` → `\x28empty)`);
 * otherwise `escapeTsvText`.
 */
export function formatTsvString(s: string, sequences: readonly string[], unset: string, empty: string): string {
  if (s === '') return empty;
  if (s === unset || s === empty) {
    const first = String.fromCodePoint(s.codePointAt(0)!);
    let head = '';
    for (const b of encoder.encode(first)) head += hexEscape(b);
    return head + escapeTsvText(s.slice(first.length), sequences);
  }
  return escapeTsvText(s, sequences);
}

const printableControl = (c: number): boolean => c === 8 || c === 9 || c === 10 || c === 12 || c === 13;

/** A string (or enum name) as a JSON string literal, as Zeek's JSON writer writes it. */
export function formatJsonString(s: string): string {
  return JSON.stringify(hasBad(s, true) ? hexAll(s, printableControl) : s);
}

/**
 * A value of the TSV header (`#set_separator`, `#path`, …): `get_escaped_string(s, false)`, each
 * byte that is whitespace or not printable ASCII as `\xHH` (the tab separator prints `\x09`).
 */
export function escapeTsvHeader(s: string): string {
  let out = '';
  for (const b of encoder.encode(s)) out += b > 0x20 && b < 0x7f ? String.fromCharCode(b) : hexEscape(b);
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Undoes TSV escaping: `\xHH` → that byte, `\\` → `\` (unless `backslashes` is false, as in header
 * values), then UTF-8 decoding. Throws `ValueError` when the bytes are not UTF-8 (a field from
 * another writer: Zeek strings may hold any bytes).
 */
export function unescapeTsv(s: string, backslashes = true): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && s.charCodeAt(i + 1) === 0x78) {
      const hi = hexValue(s.charCodeAt(i + 2));
      const lo = hexValue(s.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        bytes.push((hi << 4) | lo);
        i += 4;
        continue;
      }
    }
    if (backslashes && c === 0x5c && s.charCodeAt(i + 1) === 0x5c) {
      bytes.push(0x5c);
      i += 2;
      continue;
    }
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of encoder.encode(ch)) bytes.push(b);
    i += ch.length;
  }
  try {
    return decoder.decode(Uint8Array.from(bytes));
  } catch (e) {
    throw new ValueError(`'${s}' unescapes to bytes that are not UTF-8`, { cause: e });
  }
}
