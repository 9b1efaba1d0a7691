/**
 * The per-connection limit on store commands awaiting their acknowledgement
 * (`PrincipalLimits.storeCommandsInFlight`), kept by a hub for each non-trusted connection (the
 * store guard's per-connection state, `installStoreGuard`).
 *
 * A `Command` the connection publishes on `<$>/store/<name>/master` counts from when it passes the
 * store permission checks until the master's `Ack` for its (clone id, request id) is delivered to
 * the connection on `<$>/store/<name>/clone/<cloneId>`. A command sent again with an id still
 * counted (a clone resends unanswered commands) passes without counting twice. Over the limit a
 * command is refused with `limit_exceeded`, in a text that names the store, the clone and the
 * request id (`storeCommandRefusal` reads it back on the client, so that write fails).
 *
 * Memory: at most `limit` ids per connection. An id whose ack never comes (the master went away and
 * the clone gave up on the write) is released once it is STORE_COMMAND_STALE_MS old and the
 * connection is at the limit, so a lost ack does not block a connection for good.
 */
import { AuthError, type Principal } from '../auth/types.js';
import { decodeValue } from '../codec/native/values.js';
import type { ConnectionTopicGuard } from '../endpoint/topic-guards.js';
import { StoreMsg, cloneTopic, decodeStoreMessage, type StoreMessage } from './store-protocol.js';
import { parseStoreTopic } from './store-guard.js';

/** A counted command older than this (ms) is released when the connection is at its limit. */
export const STORE_COMMAND_STALE_MS = 300_000;

/** Decodes a store message, or undefined when the bytes are none. */
function decode(valueBytes: Uint8Array): StoreMessage | undefined {
  try {
    return decodeStoreMessage(decodeValue(valueBytes));
  } catch {
    return undefined;
  }
}

/** The text of a refused command; `storeCommandRefusal` parses it. */
function refusalText(name: string, cloneId: string, reqId: number, limit: number): string {
  return `store '${name}': write ${reqId} of clone ${cloneId} refused: more than ${limit} store commands in flight`;
}

/**
 * Reads a hub's `limit_exceeded` notice as the refusal of one of clone `cloneId`'s writes to store
 * `name`: its request id, or undefined when the notice is about something else.
 */
export function storeCommandRefusal(context: string, name: string, cloneId: string): number | undefined {
  const mark = `store '${name}': write `;
  const at = context.indexOf(mark);
  if (at === -1) return undefined;
  const m = /^(\d+) of clone (\S+) refused: more than \d+ store commands in flight/.exec(
    context.slice(at + mark.length),
  );
  return m && m[2] === cloneId ? Number(m[1]) : undefined;
}

/** One connection's store commands awaiting their ack (a `ConnectionTopicGuard` for `<$>/store/`). */
export class StoreCommandsInFlight implements ConnectionTopicGuard {
  /** Counted commands by `<clone topic>\n<request id>`, oldest first, with the time each was counted. */
  private readonly ids = new Map<string, number>();

  /** Counts a `Command` (the store guard passed it); refuses it with `limit_exceeded` over the limit. */
  publish(topic: string, valueBytes: Uint8Array, principal: Principal, now: number): AuthError | undefined {
    const msg = decode(valueBytes);
    if (msg?.kind !== StoreMsg.Command) return undefined;
    const reading = parseStoreTopic(topic).find((t) => t.kind === 'master');
    if (!reading) return undefined; // the store guard refuses a command anywhere else
    const key = `${cloneTopic(reading.name, msg.cloneId)}\n${msg.reqId}`;
    if (this.ids.has(key)) return undefined; // sent again: counted once
    const limit = principal.limits.storeCommandsInFlight;
    if (this.ids.size >= limit) this.releaseStale(now);
    if (this.ids.size >= limit) {
      return new AuthError('limit_exceeded', refusalText(reading.name, msg.cloneId, msg.reqId, limit));
    }
    this.ids.set(key, now);
    return undefined;
  }

  /** An `Ack` delivered on a clone topic releases the command it answers. */
  delivered(topic: string, valueBytes: Uint8Array): void {
    // Only acks matter: an encoded Ack starts with a 6-element array and kind 2 (skips snapshot chunks unread).
    if (this.ids.size === 0 || valueBytes[0] !== 0x96 || valueBytes[1] !== StoreMsg.Ack) return;
    const msg = decode(valueBytes);
    if (msg?.kind === StoreMsg.Ack) this.ids.delete(`${topic}\n${msg.reqId}`);
  }

  /** Commands counted now. */
  get size(): number {
    return this.ids.size;
  }

  /** Releases counted commands older than STORE_COMMAND_STALE_MS (the oldest come first). */
  private releaseStale(now: number): void {
    for (const [key, at] of this.ids) {
      if (now - at < STORE_COMMAND_STALE_MS) return;
      this.ids.delete(key);
    }
  }
}
