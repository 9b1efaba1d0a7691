/**
 * Rate limiting of audit events, so that a misbehaving connection cannot flood the audit log: at
 * most `limit` events per (connection key, kind) in any `intervalMs` window (a sliding window: the
 * times of the last `limit` recorded events are kept). Left-out events are counted and the count
 * travels with the next recorded event of that key and kind (`AuditEvent.suppressed`), or is
 * handed back by `forget` when the connection closes.
 *
 * Memory is bounded: state is dropped by `forget(key)` (call it when a connection closes), and at
 * most `maxKeys` keys are tracked; events of further keys share one overflow state per kind (so a
 * flood of new connections is limited as one), until `forget` makes room.
 */
import { ConfigError } from '../errors.js';
import { checkOptionsObject, fnOption, intOption } from '../util/options.js';
import type { AuditEvent, AuditKind } from './types.js';

/** Options of {@link AuditLimiter}. */
export interface AuditLimiterOptions {
  /**
   * Events recorded per key and kind within any `intervalMs` window.
   * @default 10
   */
  readonly limit?: number;
  /**
   * The window, ms.
   * @default 10_000
   */
  readonly intervalMs?: number;
  /**
   * Most keys tracked separately; beyond it, new keys share one overflow state.
   * @default 10_000
   */
  readonly maxKeys?: number;
  /** Monotonic clock in milliseconds (e.g. `() => performance.now()`). */
  readonly now: () => number;
}

/** The default {@link AuditLimiterOptions} (without the clock). */
export const DEFAULT_AUDIT_LIMITS = Object.freeze({ limit: 10, intervalMs: 10_000, maxKeys: 10_000 });

/** Events of one kind still unreported when a key is forgotten. */
export interface SuppressedCount {
  readonly kind: AuditKind;
  readonly suppressed: number;
}

/** The last `limit` recorded times of one key and kind (a ring), and the left-out count. */
class Window {
  readonly times: Float64Array;
  /** Index of the oldest time once full; the next free slot before. */
  next = 0;
  count = 0;
  suppressed = 0;
  constructor(limit: number) {
    this.times = new Float64Array(limit);
  }
}

type KindWindows = Map<AuditKind, Window>;

/** Per (key, kind) audit rate limit; see the module comment. */
export class AuditLimiter {
  readonly limit: number;
  readonly intervalMs: number;
  readonly maxKeys: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KindWindows>();
  readonly #overflow: KindWindows = new Map();
  #suppressedTotal = 0;

  constructor(options: AuditLimiterOptions) {
    checkOptionsObject('AuditLimiter options', options);
    this.limit = intOption('limit', options?.limit, DEFAULT_AUDIT_LIMITS.limit, 1, 10_000);
    this.intervalMs = intOption('intervalMs', options?.intervalMs, DEFAULT_AUDIT_LIMITS.intervalMs, 1);
    this.maxKeys = intOption('maxKeys', options?.maxKeys, DEFAULT_AUDIT_LIMITS.maxKeys, 1);
    const now = fnOption('now', options?.now);
    if (now === undefined) throw new ConfigError('now', 'required (a monotonic clock in milliseconds)');
    this.#now = now;
  }

  /** Keys tracked separately now (at most `maxKeys`). */
  get keys(): number {
    return this.#keys.size;
  }

  /** Events left out since this limiter was made. */
  get suppressedTotal(): number {
    return this.#suppressedTotal;
  }

  /**
   * Records one event of `kind` on `key`: undefined when it is to be left out, otherwise the
   * number of events of this key and kind left out since the last recorded one (often 0).
   */
  admit(key: string, kind: AuditKind): number | undefined {
    let kinds = this.#keys.get(key);
    if (kinds === undefined) {
      if (this.#keys.size < this.maxKeys) {
        kinds = new Map();
        this.#keys.set(key, kinds);
      } else kinds = this.#overflow;
    }
    let w = kinds.get(kind);
    if (w === undefined) {
      w = new Window(this.limit);
      kinds.set(kind, w);
    }
    const t = this.#now();
    if (w.count === this.limit) {
      // Full: the oldest of the last `limit` recorded events must have left the window.
      if (t - w.times[w.next]! < this.intervalMs) {
        w.suppressed++;
        this.#suppressedTotal++;
        return undefined;
      }
    } else w.count++;
    w.times[w.next] = t;
    w.next = (w.next + 1) % this.limit;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    return suppressed;
  }

  /**
   * `event` as it should be recorded on `key` (with `suppressed` set when earlier ones of its kind
   * were left out), or undefined when it is to be left out.
   */
  filter(key: string, event: AuditEvent): AuditEvent | undefined {
    const suppressed = this.admit(key, event.kind);
    if (suppressed === undefined) return undefined;
    return suppressed > 0 ? { ...event, suppressed } : event;
  }

  /**
   * Drops the state of `key` (its connection closed) and returns the counts of its events left
   * out and not yet reported, per kind (empty when none, or when the key was not tracked).
   */
  forget(key: string): SuppressedCount[] {
    const kinds = this.#keys.get(key);
    if (kinds === undefined) return [];
    this.#keys.delete(key);
    const out: SuppressedCount[] = [];
    for (const [kind, w] of kinds) if (w.suppressed > 0) out.push({ kind, suppressed: w.suppressed });
    return out;
  }
}
