/**
 * Guards of internal topics (`endpoint.addTopicGuard`, e.g. the store permissions on
 * `<$>/store/`): what a non-trusted principal publishes, subscribes to and receives under an
 * internal prefix is decided by the guards registered for it; internal topics without a guard are
 * closed to non-trusted principals.
 */
import { AuthError, type Principal, type TopicGuard } from '../auth/types.js';
import type { Unsubscribe } from '../util/emitter.js';

/**
 * A guard registered for internal topics under a prefix (`endpoint.addTopicGuard`): `publish`
 * checks each message a non-trusted principal sends there; `subscribe` (optional) decides whether
 * such a principal may subscribe to a prefix under it (absent: refused).
 */
export interface TopicGuardRegistration {
  readonly publish: TopicGuard;
  subscribe?(prefix: string, principal: Principal): AuthError | undefined;
  /**
   * Checks each delivery of a topic under the prefix to a connection that subscribed there
   * through this guard (a subscription prefix also covers longer topics); absent: not checked.
   */
  deliver?(topic: string, principal: Principal): AuthError | undefined;
  /**
   * Per-connection state of the guard (e.g. a count of store commands awaiting their answer):
   * made for a non-trusted connection the first time it publishes under the prefix.
   */
  connection?(): ConnectionTopicGuard;
}

/** The per-connection part of a guard (`TopicGuardRegistration.connection`). */
export interface ConnectionTopicGuard {
  /** Checks a message of this connection after every guard's `publish` passed; may refuse it (e.g. a limit). */
  publish?(topic: string, valueBytes: Uint8Array, principal: Principal, now: number): AuthError | undefined;
  /** A message under the prefix passed the delivery checks to this connection. */
  delivered?(topic: string, valueBytes: Uint8Array): void;
}

/** One connection's guard states, by registration (kept by the connection, bounded by the guards registered). */
export type ConnectionGuardStates = Map<TopicGuardRegistration, ConnectionTopicGuard>;

/** The guards of one endpoint. */
export class TopicGuards {
  private readonly guards: { prefix: string; reg: TopicGuardRegistration }[] = [];

  /** Registers a guard for internal topics under `prefix`. */
  add(prefix: string, reg: TopicGuardRegistration): Unsubscribe {
    const entry = { prefix, reg };
    this.guards.push(entry);
    return () => {
      const i = this.guards.indexOf(entry);
      if (i >= 0) this.guards.splice(i, 1);
    };
  }

  /**
   * A non-trusted principal's message on an internal topic: every matching guard must pass; none →
   * refused. With `conn` (the connection's guard states and the time), the guards' per-connection
   * checks run afterwards.
   */
  checkPublish(
    topic: string,
    valueBytes: Uint8Array,
    p: Principal,
    conn?: { states: ConnectionGuardStates; now: number },
  ): AuthError | undefined {
    const err = this.checkTopic(topic, p, (reg) => reg.publish(topic, valueBytes, p));
    if (err || !conn) return err;
    for (const { prefix, reg } of this.guards) {
      if (!reg.connection || !topic.startsWith(prefix)) continue;
      let state = conn.states.get(reg);
      if (!state) conn.states.set(reg, (state = reg.connection()));
      const refused = state.publish?.(topic, valueBytes, p, conn.now);
      if (refused) return refused;
    }
    return undefined;
  }

  /**
   * A delivery of an internal topic to a non-trusted principal: every matching guard's `deliver`
   * check must pass (no guard matching: refused). When it passes and `valueBytes` and `states` are
   * given, the connection's guard states are told of the delivery.
   */
  checkDelivery(
    topic: string,
    p: Principal,
    valueBytes?: Uint8Array,
    states?: ConnectionGuardStates,
  ): AuthError | undefined {
    const err = this.checkTopic(topic, p, (reg) => reg.deliver?.(topic, p));
    if (err || valueBytes === undefined || !states || states.size === 0) return err;
    for (const { prefix, reg } of this.guards) {
      if (topic.startsWith(prefix)) states.get(reg)?.delivered?.(topic, valueBytes);
    }
    return undefined;
  }

  /** A non-trusted principal's subscription to an internal prefix: some guard must allow it. */
  checkSubscribe(prefix: string, p: Principal): AuthError | undefined {
    let err: AuthError | undefined;
    for (const { prefix: g, reg } of this.guards) {
      if (!prefix.startsWith(g) || !reg.subscribe) continue;
      err = reg.subscribe(prefix, p);
      if (!err) return undefined;
    }
    return err ?? new AuthError('forbidden', `internal prefix '${prefix}' is not open to ${p.sub}`);
  }

  /** True when some guard checks deliveries of topics under `prefix`. */
  checksDeliveries(prefix: string): boolean {
    return this.guards.some(
      ({ prefix: g, reg }) => reg.deliver !== undefined && (prefix.startsWith(g) || g.startsWith(prefix)),
    );
  }

  /** `check` of every guard whose prefix covers `topic` must pass; a topic no guard covers is refused. */
  private checkTopic(
    topic: string,
    p: Principal,
    check: (reg: TopicGuardRegistration) => AuthError | undefined,
  ): AuthError | undefined {
    let guarded = false;
    for (const { prefix, reg } of this.guards) {
      if (!topic.startsWith(prefix)) continue;
      guarded = true;
      const err = check(reg);
      if (err) return err;
    }
    return guarded ? undefined : new AuthError('forbidden', `internal topic '${topic}' is not open to ${p.sub}`);
  }
}
