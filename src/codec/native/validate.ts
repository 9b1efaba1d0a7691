/**
 * Allocation-free validation of encoded Broker values, so a hub can forward a Data message's
 * value bytes without decoding them and still never forward garbage. `validateValue` accepts
 * exactly what `decodeValue` accepts (the fuzz test checks the two agree): well-formed
 * MessagePack of the value grammar, ext sizes, limits, UTF-8, and sets and table keys strictly
 * increasing in Broker's order — compared on the encoded bytes (`order.ts`).
 */
import { formName, type MsgpackReader } from '../msgpack/reader.js';
import { isValidUtf8 } from '../msgpack/utf8.js';
import { ContainerMarker, hostBitsZero, NativeExt, openContainer } from './format.js';
import { compareEncoded } from './order.js';

/** Checks an ext's type and data (at `p`, `len` bytes); enum names' UTF-8 is left to the caller. */
export function checkExt(r: MsgpackReader, at: number, type: number, p: number, len: number): void {
  const b = r.b;
  switch (type) {
    case NativeExt.Integer:
    case NativeExt.Timestamp:
    case NativeExt.Timespan:
      if (len === 8) return;
      break;
    case NativeExt.Address:
      if (len === 4 || len === 16) return;
      break;
    case NativeExt.Subnet: {
      const prefix = b[p]!;
      if (len === 5) {
        if (prefix > 32) r.fail(at, `IPv4 subnet length ${prefix} is above 32`);
        if (!hostBitsZero(b, p + 1, 4, prefix)) r.fail(at, 'subnet has host bits set');
        return;
      }
      if (len === 17) {
        if (prefix > 128) r.fail(at, `IPv6 subnet length ${prefix} is above 128`);
        if (!hostBitsZero(b, p + 1, 16, prefix)) r.fail(at, 'subnet has host bits set');
        return;
      }
      break;
    }
    case NativeExt.Port:
      if (len !== 3) break;
      if (b[p + 2]! > 3) r.fail(at, `port protocol ${b[p + 2]} is not 0-3`);
      return;
    case NativeExt.Enum:
      if (len > r.limits.maxStringBytes) {
        r.fail(at, `enum name of ${len} bytes exceeds the limit of ${r.limits.maxStringBytes}`);
      }
      return;
    case NativeExt.Marker:
      // biome-ignore lint/correctness/noVoidTypeReturn: fail() never returns; `return` ends the case
      return r.fail(at, 'a container marker may only be the first element of an array');
    default:
      // biome-ignore lint/correctness/noVoidTypeReturn: fail() never returns; `return` ends the case
      return r.fail(at, `unknown ext type ${type > 127 ? type - 256 : type}`);
  }
  r.fail(at, `ext type ${type} (${EXT_NAMES[type]}) cannot hold ${len} bytes`);
}

const EXT_NAMES: readonly string[] = ['', 'integer', 'address', 'subnet', 'port', 'timestamp', 'timespan'];

/** Why a well-formed MessagePack form is not part of the value grammar. */
export function notAValue(c: number): string {
  const name = formName(c);
  if (name === 'negative fixint' || name.startsWith('int')) return `${name} is not a Broker value (integer is ext 1)`;
  if (name === 'float32') return `${name} is not a Broker value (real is always float64)`;
  if (name.includes('map')) return `${name} is not a Broker value (maps are not used; a table is a marked array)`;
  return `${name} is not a Broker value`;
}

/** Validates one value at the cursor and moves past it. */
export function validateValue(r: MsgpackReader, depth: number): void {
  const b = r.b;
  const at = r.pos;
  if (at >= r.end) r.fail(at, 'input ends where a value was expected');
  const c = b[at]!;
  if (c < 0x80 || c === 0xc0 || c === 0xc2 || c === 0xc3) {
    r.pos = at + 1;
    return;
  }
  if (c >= 0xa0 && c <= 0xbf) {
    r.pos = at + 1;
    validateStringBody(r, at, c & 0x1f);
    return;
  }
  if (c >= 0x90 && c <= 0x9f) {
    r.pos = at + 1;
    validateArray(r, at, c & 0x0f, depth);
    return;
  }
  switch (c) {
    case 0xcb:
    case 0xcf:
      r.need(at, 9, formName(c));
      r.pos = at + 9;
      return;
    case 0xcc:
      r.need(at, 2, 'uint8');
      r.pos = at + 2;
      return;
    case 0xcd:
      r.need(at, 3, 'uint16');
      r.pos = at + 3;
      return;
    case 0xce:
      r.need(at, 5, 'uint32');
      r.pos = at + 5;
      return;
    case 0xd9:
    case 0xda:
    case 0xdb:
      validateStringBody(r, at, r.strHeader('a string'));
      return;
    case 0xdc:
    case 0xdd:
      validateArray(r, at, r.arrayHeader('a container'), depth);
      return;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      const len = r.ext(at, c);
      const p = r.pos;
      const type = b[p - 1]!;
      checkExt(r, at, type, p, len);
      if (type === NativeExt.Enum && !isValidUtf8(b, p, p + len)) r.fail(at, 'enum name is not valid UTF-8');
      r.pos = p + len;
      return;
    }
  }
  r.fail(at, notAValue(c));
}

function validateStringBody(r: MsgpackReader, at: number, n: number): void {
  r.checkStringLength(at, n);
  if (!isValidUtf8(r.b, r.pos, r.pos + n)) r.fail(at, 'string is not valid UTF-8');
  r.pos += n;
}

function validateArray(r: MsgpackReader, at: number, n: number, depth: number): void {
  const marker = openContainer(r, at, n, depth);
  const b = r.b;
  if (marker !== undefined) {
    if (marker === ContainerMarker.Set) {
      let prev = -1;
      for (let i = 1; i < n; i++) {
        const start = r.pos;
        validateValue(r, depth + 1);
        if (prev >= 0 && compareEncoded(b, prev, b, start) >= 0) {
          r.fail(
            start,
            `set element ${i - 1} is not greater than the one before (sets are sorted, without duplicates)`,
          );
        }
        prev = start;
      }
      return;
    }
    if (marker === ContainerMarker.Table) {
      if ((n - 1) % 2 !== 0) {
        r.fail(at, `table holds ${n - 1} elements after its marker; keys and values come in pairs`);
      }
      let prev = -1;
      for (let i = 1; i < n; i += 2) {
        const start = r.pos;
        validateValue(r, depth + 1);
        if (prev >= 0 && compareEncoded(b, prev, b, start) >= 0) {
          r.fail(start, `table key ${(i - 1) / 2} is not greater than the one before (keys are sorted and unique)`);
        }
        prev = start;
        validateValue(r, depth + 1);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) validateValue(r, depth + 1);
}
