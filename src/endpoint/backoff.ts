/**
 * Reconnect delays: the first retry after `base` (Broker's default 1 s), then doubling up to
 * `max`, each with ±20 % jitter so that many clients of a restarted hub do not return in lockstep.
 */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.max(0, Math.round(raw * (0.8 + 0.4 * random())));
}
