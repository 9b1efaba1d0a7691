/**
 * Browsers know when the network comes back (`online`); waiting out a long backoff then would
 * leave a dashboard dark for no reason. This redials every waiting peering at once.
 */
import type { Endpoint } from '../endpoint/endpoint.js';

/** The part of `window` used here (an EventTarget that fires `online`). */
export interface OnlineTarget {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

/** Reconnects `endpoint`'s peerings promptly on `online`; returns a function that stops it. */
export function reconnectOnOnline(
  endpoint: Pick<Endpoint, 'reconnectNow'>,
  target: OnlineTarget = globalThis as unknown as OnlineTarget,
): () => void {
  const onOnline = (): void => endpoint.reconnectNow();
  target.addEventListener('online', onOnline);
  return () => target.removeEventListener('online', onOnline);
}
