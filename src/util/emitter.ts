/**
 * The one event emitter of isobroker. Listeners are contained: a listener that throws never
 * breaks the emitter's owner, never crashes the process and never leaves a caller's promise
 * unsettled. Its error is handed to `onListenerError`, which owners route to their `error`
 * channel (an error thrown by an `error` listener itself is dropped, so a broken error listener
 * cannot loop).
 */

/** A map from event name to the payload its listeners receive (an interface works). */
export type EventMap = object;

/** Stops listening. Calling it twice is harmless. */
export type Unsubscribe = () => void;

/** Where a listener's failure goes: the event it was handling and what it threw. */
export type ListenerErrorHandler = (event: string, error: unknown) => void;

/**
 * Listeners by event name. Owners keep one privately, expose `on`/`once`, and pass a handler
 * that turns a listener's failure into an `error` event.
 */
export class Emitter<E extends EventMap> {
  private readonly sets = new Map<keyof E, Set<(payload: never) => void>>();

  /** @param onListenerError receives what a listener threw; by default the failure is dropped. */
  constructor(private readonly onListenerError?: ListenerErrorHandler) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, fn: (payload: E[K]) => void): Unsubscribe {
    let set = this.sets.get(event);
    if (!set) this.sets.set(event, (set = new Set()));
    set.add(fn as (payload: never) => void);
    return () => {
      set.delete(fn as (payload: never) => void);
    };
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, fn: (payload: E[K]) => void): Unsubscribe {
    const off = this.on(event, (payload) => {
      off();
      fn(payload);
    });
    return off;
  }

  /** Whether any listener is registered for `event`. */
  has(event: keyof E): boolean {
    return (this.sets.get(event)?.size ?? 0) > 0;
  }

  /**
   * Calls every listener of `event` in registration order; a throwing listener does not stop the
   * rest. What a listener throws goes to `onListenerError`, except from `error` listeners (dropped).
   */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.sets.get(event);
    if (!set || set.size === 0) return;
    for (const fn of [...set]) {
      try {
        (fn as (p: E[K]) => void)(payload);
      } catch (err) {
        if (this.onListenerError && event !== 'error') {
          try {
            this.onListenerError(String(event), err);
          } catch {
            // The failure handler itself failed: nothing safe is left to tell.
          }
        }
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.sets.clear();
  }
}
