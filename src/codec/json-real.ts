/**
 * Reals as C's `printf("%f")` prints them (Broker JSON v1's `real` form): the exact decimal value
 * of the double rounded to six decimals, half to even, never an exponent, and a `-` sign for every
 * negative value including `-0.0` (`-0.000000`).
 *
 * `Number#toFixed(6)` is exact below 1e21 but rounds a tie up, not to even, and switches to
 * exponent notation from 1e21 on; both cases go through the exact bigint expansion here.
 */
import { ValueError } from '../errors.js';

const SCALE = 1_000_000n;
const scratch = new DataView(new ArrayBuffer(8));

/** `%f` of a non-negative finite double by exact expansion (any magnitude). */
export function fixed6Exact(a: number): string {
  scratch.setFloat64(0, a);
  const hi = scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  let n: bigint;
  if (exp >= 0) n = (mant << BigInt(exp)) * SCALE;
  else {
    const num = mant * SCALE;
    const shift = BigInt(-exp);
    const q = num >> shift;
    const r = num - (q << shift);
    const half = 1n << (shift - 1n);
    n = r > half || (r === half && (q & 1n) === 1n) ? q + 1n : q;
  }
  const s = n.toString().padStart(7, '0');
  return `${s.slice(0, -6)}.${s.slice(-6)}`;
}

/**
 * Formats a finite double like C's `%f`. Throws `ValueError` for NaN and ±Infinity: Broker prints
 * them as `nan`/`inf`, which is not JSON and which Broker's own parser cannot read back.
 */
export function formatRealFixed6(x: number): string {
  if (x !== x || x === Infinity || x === -Infinity) {
    throw new ValueError(`real ${x} is not representable in Broker JSON v1 (only finite numbers are)`);
  }
  const neg = x < 0 || (x === 0 && 1 / x < 0);
  const a = neg ? -x : x;
  let s: string;
  if (a < 1e21) {
    // A tie at the seventh decimal happens exactly when a·128 is an odd integer.
    const t = a * 128;
    s = t % 2 === 1 ? fixed6Exact(a) : a.toFixed(6);
  } else s = fixed6Exact(a);
  return neg ? `-${s}` : s;
}
