/** Argument checks shared by the store backends, so every backend rejects the same misuse alike. */
import { ValueError } from '../errors.js';

/** Checks a scan page size: a positive integer. */
export function checkScanLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValueError(`scan limit must be a positive integer, got ${String(limit)}`);
  }
}

/** Rejects what a promise-returning transaction body gives back: its later changes would escape the transaction. */
export function checkSynchronous(result: unknown): void {
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new ValueError('a store transaction function must be synchronous (it returned a promise)');
  }
}
