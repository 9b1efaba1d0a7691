/** The clock and timers a state machine needs, injected so tests can drive time. */

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = globalThis.setTimeout(fn, ms) as unknown;
    // Do not keep a Node.js process alive just for a keepalive or retry timer.
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimeout: (h) => globalThis.clearTimeout(h as Parameters<typeof globalThis.clearTimeout>[0]),
};
