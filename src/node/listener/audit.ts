/**
 * The listener's audit events (origin/host rejected, auth failed, limit exceeded), rate-limited
 * per kind and client IP so that a flood yields a few records, not one per attempt.
 */
import type { AuditEvent, AuditSink } from '../../auth/types.js';

/** At most one event per kind and IP in this many ms. */
export const LISTENER_AUDIT_INTERVAL_MS = 1000;

/** A sink that drops repeats of a kind from one IP within `LISTENER_AUDIT_INTERVAL_MS`. */
export function throttledAudit(sink: AuditSink | undefined, now: () => number = Date.now): AuditSink {
  const last = new Map<string, number>();
  return (ev) => {
    if (sink === undefined) return;
    const key = `${ev.kind} ${ev.ip ?? ''}`;
    const t = now();
    const prev = last.get(key);
    if (prev !== undefined && t - prev < LISTENER_AUDIT_INTERVAL_MS) return;
    if (last.size >= 10000) last.clear();
    last.set(key, t);
    sink(ev);
  };
}

/** An audit event of the listener, stamped now. */
export function listenerEvent(kind: AuditEvent['kind'], fields: Omit<AuditEvent, 'kind' | 'time'>): AuditEvent {
  return { kind, time: Date.now(), ...fields };
}
