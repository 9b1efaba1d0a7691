/**
 * Memory measurement: heap retained by a structure, measured around forced garbage collections
 * (`global.gc`, available under `node --expose-gc`, which `npm run bench` uses).
 */

/** True when `global.gc` is available, i.e. heap deltas are measured after a full collection. */
export function gcAvailable(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** Runs a full collection when `global.gc` is available (twice, to settle weak references). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  gc();
  gc();
}

/** `process.memoryUsage()` after a collection, in bytes. */
export interface MemorySnapshot {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Collects garbage (when possible) and reads `process.memoryUsage()`. */
export function memorySnapshot(): MemorySnapshot {
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** A value built by {@link retainedHeap} and the heap it keeps alive. */
export interface Retained<T> {
  readonly value: T;
  /** Growth of `heapUsed + external` while `value` is alive, in bytes. */
  readonly bytes: number;
  /** False when `global.gc` was missing: then `bytes` includes uncollected garbage. */
  readonly exact: boolean;
}

/**
 * Heap retained by what `build` returns: `heapUsed + external` after a collection, minus the same
 * before. Inputs `build` closes over are not counted (they exist before it runs).
 */
export function retainedHeap<T>(build: () => T): Retained<T> {
  const before = memorySnapshot();
  const value = build();
  const after = memorySnapshot();
  return {
    value,
    bytes: after.heapUsed + after.external - (before.heapUsed + before.external),
    exact: gcAvailable(),
  };
}
