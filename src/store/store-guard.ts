/**
 * Store permissions (`read` ⊂ `write` ⊂ `master`) on the store's internal topics, as pure checks
 * an endpoint applies to what a non-trusted principal publishes or subscribes under `<$>/store/`.
 *
 * What each store message needs (PROTOCOL.md §9; every store query is answered from a clone's
 * local copy, so the only reads on the wire are the resync messages):
 * - on `<$>/store/<name>/master` (clone → master): `Attach`, `ChunkAck`, `DeltaAck` need `read`;
 *   `Command` (every mutation: put, put_unique, erase, clear, increment, decrement, append,
 *   insert_into, remove_from, push, pop, and expiry changes, which travel with them) needs `write`;
 * - on `<$>/store/<name>/updates` and `<$>/store/<name>/clone/<id>` (master → clones): `Update`,
 *   `Heartbeat`, `Ack`, the snapshot and delta messages, `SyncFailed` and `Resend` need `master`;
 * - a message of the wrong direction for its topic, one that does not decode as a store message,
 *   and a topic under `<$>/store/` that is no store topic are refused.
 *
 * Subscriptions: `…/updates` and `…/clone/<id>` (a whole clone id, so no prefix of several clones'
 * topics) need `read`; `…/master` needs `master` — receiving commands is acting as the master, and
 * the subscription is what `createMaster` elsewhere sees as "a master exists", so a principal
 * without `master` can neither serve a store nor win the first-master race for its name. Broader
 * prefixes (`<$>/store/`, `<$>/store/<name>/`) are refused.
 *
 * A store name may contain `/` (Zeek's `zeek/known/hosts`), so a topic can read as several stores'
 * topics (`<$>/store/a/clone/b/master`: the master topic of `a/clone/b`, or a clone topic of `a`).
 * Clone ids are endpoint ids (UUIDs, no `/`): a clone→master message with any other clone id is
 * refused, so no master is ever steered into publishing on a topic of another store, and only the
 * readings with such ids count — which leaves at most one reading, and every reading must pass.
 *
 * Limit (byte-prefix routing): a subscription to `<$>/store/a/updates` also matches the topics of
 * stores whose names begin with `a/updates` (`<$>/store/a/updates/x/master`). The subscription
 * check cannot see those; `storeDeliveryGuard` can, per delivered topic, where the endpoint checks
 * deliveries of internal topics.
 */
import type { AuthError, Principal, StorePermission } from '../auth/types.js';
import { AuthError as AuthErrorClass } from '../auth/types.js';
import { decodeValue } from '../codec/native/values.js';
import { isEndpointId } from '../util/ids.js';
import { INTERNAL_TOPIC_PREFIX } from '../topic/internal.js';
import {
  StoreMsg,
  cloneTopic,
  decodeStoreMessage,
  masterTopic,
  updatesTopic,
  type StoreMessage,
} from './store-protocol.js';

/** The prefix of every store topic; `installStoreGuard` registers the guard for it. */
export const STORE_TOPIC_PREFIX = `${INTERNAL_TOPIC_PREFIX}store/`;

/** The readings of `topic` the guards consider: clone topics only with an endpoint id. */
function guardedReadings(topic: string): StoreTopic[] {
  return parseStoreTopic(topic).filter((t) => t.kind !== 'clone' || isEndpointId(t.cloneId!));
}

/** Which of a store's topics a topic is. */
export type StoreTopicKind = 'master' | 'updates' | 'clone';

/** One reading of a topic as a store's topic. */
export interface StoreTopic {
  readonly name: string;
  readonly kind: StoreTopicKind;
  /** The clone id, for `clone` topics. */
  readonly cloneId?: string;
}

/**
 * Every way `topic` reads as a store topic (`<$>/store/<name>/master|updates|clone/<id>`), empty
 * when it is none. Several when the store name itself contains `/master`, `/updates` or `/clone/`.
 */
export function parseStoreTopic(topic: string): StoreTopic[] {
  if (!topic.startsWith(STORE_TOPIC_PREFIX)) return [];
  const rest = topic.slice(STORE_TOPIC_PREFIX.length);
  const out: StoreTopic[] = [];
  for (const kind of ['master', 'updates'] as const) {
    const suffix = `/${kind}`;
    if (rest.length > suffix.length && rest.endsWith(suffix)) out.push({ name: rest.slice(0, -suffix.length), kind });
  }
  const mark = '/clone/';
  for (let i = rest.indexOf(mark); i !== -1; i = rest.indexOf(mark, i + 1)) {
    const cloneId = rest.slice(i + mark.length);
    if (i > 0 && cloneId !== '') out.push({ name: rest.slice(0, i), kind: 'clone', cloneId });
  }
  return out;
}

const RANK: Readonly<Record<StorePermission, number>> = { read: 1, write: 2, master: 3 };

/** Whether `principal` holds at least `need` on store `name` (a trusted principal holds everything). */
export function hasStorePermission(principal: Principal, name: string, need: StorePermission): boolean {
  if (principal.method === 'trusted') return true;
  let has: StorePermission | undefined;
  try {
    has = principal.storeAccess(name);
  } catch {
    return false; // a broken grant grants nothing
  }
  return has !== undefined && RANK[has] !== undefined && RANK[has] >= RANK[need];
}

/** What the guard makes of one publish: the permission it needs on which stores, or why it is refused outright. */
export type StorePublishClass =
  | {
      readonly kind: 'needs';
      readonly need: StorePermission;
      /** Every store the topic may belong to: the principal needs `need` on each. */
      readonly names: readonly string[];
      /** The message, for text (`Command`, `Attach`, …). */
      readonly what: string;
    }
  | { readonly kind: 'refused'; readonly reason: string };

const KIND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(StoreMsg).map(([k, v]) => [v, k]),
);

/** The permission a store message needs on a topic of `kind`, or undefined when it does not belong there. */
export function storeMessageNeed(topicKind: StoreTopicKind, msg: StoreMessage): StorePermission | undefined {
  switch (msg.kind) {
    case StoreMsg.Attach:
    case StoreMsg.ChunkAck:
    case StoreMsg.DeltaAck:
      return topicKind === 'master' ? 'read' : undefined;
    case StoreMsg.Command:
      return topicKind === 'master' ? 'write' : undefined;
    case StoreMsg.Update:
    case StoreMsg.Heartbeat:
      return topicKind === 'updates' ? 'master' : undefined;
    case StoreMsg.Ack:
    case StoreMsg.SnapshotBegin:
    case StoreMsg.SnapshotChunk:
    case StoreMsg.SnapshotEnd:
    case StoreMsg.DeltaEnd:
    case StoreMsg.SyncFailed:
    case StoreMsg.Resend:
      return topicKind === 'clone' ? 'master' : undefined;
    default:
      return undefined;
  }
}

/** A mutation's name for messages (`put`, `erase`, …), from its op number. */
function describe(msg: StoreMessage): string {
  const kind = KIND_NAMES[msg.kind] ?? `kind ${msg.kind}`;
  return msg.kind === StoreMsg.Command ? `a write (${kind} op ${msg.op})` : kind;
}

/**
 * Classifies a publish of `valueBytes` on `topic` (under `<$>/store/`): which permission on which
 * stores it needs, or why it is refused whatever the principal holds. Decodes the value with the
 * store layer's own decoders; never throws.
 */
export function classifyStorePublish(topic: string, valueBytes: Uint8Array): StorePublishClass {
  const readings = guardedReadings(topic);
  if (readings.length === 0) return { kind: 'refused', reason: `${topic} is not a store topic` };
  let msg: StoreMessage;
  try {
    msg = decodeStoreMessage(decodeValue(valueBytes));
  } catch {
    // The decoder's text is structural, but nothing of a refused message goes into an error.
    return { kind: 'refused', reason: `the message on ${topic} is not a valid store message` };
  }
  if ('cloneId' in msg && !isEndpointId(msg.cloneId)) {
    return { kind: 'refused', reason: `${describe(msg)} on ${topic} names a clone id that is not an endpoint id` };
  }
  let need: StorePermission | undefined;
  for (const r of readings) {
    const n = storeMessageNeed(r.kind, msg);
    if (n === undefined) {
      return { kind: 'refused', reason: `${describe(msg)} does not belong on ${topic}` };
    }
    if (need === undefined || RANK[n] > RANK[need]) need = n;
  }
  return { kind: 'needs', need: need!, names: [...new Set(readings.map((r) => r.name))], what: describe(msg) };
}

/** Checks a classified publish against a principal: an error naming the store and the permission, or undefined. */
export function checkStorePublish(c: StorePublishClass, principal: Principal): AuthError | undefined {
  if (principal.method === 'trusted') return undefined;
  if (c.kind === 'refused') return new AuthErrorClass('forbidden', c.reason);
  for (const name of c.names) {
    if (!hasStorePermission(principal, name, c.need)) {
      return new AuthErrorClass('forbidden', `store '${name}': ${c.what} needs ${c.need} permission`);
    }
  }
  return undefined;
}

/**
 * The publish guard for `<$>/store/` (a `TopicGuard`): refuses what `principal` may not send on a
 * store topic, with `forbidden` and a message naming the store and the permission it lacks.
 */
export function storeGuard(topic: string, valueBytes: Uint8Array, principal: Principal): AuthError | undefined {
  if (principal.method === 'trusted') return undefined;
  return checkStorePublish(classifyStorePublish(topic, valueBytes), principal);
}

/** The permission a subscription to one reading of a store topic needs. */
function subscribeNeed(t: StoreTopic): StorePermission {
  return t.kind === 'master' ? 'master' : 'read';
}

/**
 * The subscribe check for `<$>/store/`: a whole updates topic or a whole clone topic (the clone id
 * an endpoint id) needs `read`, a master topic needs `master`; any other prefix under
 * `<$>/store/` is refused.
 */
export function storeSubscribeGuard(prefix: string, principal: Principal): AuthError | undefined {
  if (principal.method === 'trusted') return undefined;
  const readings = guardedReadings(prefix);
  if (readings.length === 0) {
    return new AuthErrorClass(
      'forbidden',
      `subscription ${prefix} is no whole store topic (<$>/store/NAME/updates, …/clone/ID or …/master)`,
    );
  }
  for (const t of readings) {
    const need = subscribeNeed(t);
    if (!hasStorePermission(principal, t.name, need)) {
      const role = t.kind === 'master' ? 'to serve as its master' : `to follow it (${t.kind})`;
      return new AuthErrorClass('forbidden', `store '${t.name}': subscribing ${role} needs ${need} permission`);
    }
  }
  return undefined;
}

/**
 * A per-delivery check for topics under `<$>/store/` (for endpoints that filter deliveries of
 * internal topics): `principal` may receive `topic` only with the permission a subscription to
 * exactly that topic needs. Closes the byte-prefix gap described in the module comment.
 */
export function storeDeliveryGuard(topic: string, principal: Principal): AuthError | undefined {
  if (principal.method === 'trusted') return undefined;
  const readings = guardedReadings(topic);
  if (readings.length === 0) return new AuthErrorClass('forbidden', `${topic} is not a store topic`);
  for (const t of readings) {
    const need = subscribeNeed(t);
    if (!hasStorePermission(principal, t.name, need)) {
      return new AuthErrorClass('forbidden', `store '${t.name}': receiving ${t.kind} traffic needs ${need} permission`);
    }
  }
  return undefined;
}

/** Whether `text` names `topic` as a whole (not as the start of a longer topic). */
function mentionsTopic(text: string, topic: string): boolean {
  for (let i = text.indexOf(topic); i !== -1; i = text.indexOf(topic, i + 1)) {
    const next = text[i + topic.length];
    if (next === undefined || !/[^\s'"`),;]/.test(next)) return true;
  }
  return false;
}

/**
 * Reads a hub's refusal notice (the context of a `forbidden` error event) as a refusal of store
 * `name`'s traffic: the permission it says is missing — from this guard's texts (`store 'NAME': …
 * needs P permission`), or `read` when the notice names one of the store's topics (an endpoint
 * without a store guard refuses all of them) — else undefined.
 */
export function storeRefusal(context: string, name: string, cloneId?: string): StorePermission | undefined {
  if (context.includes(`store '${name}': `)) {
    const need = /needs (read|write|master) permission/.exec(context)?.[1] as StorePermission | undefined;
    return need ?? 'read';
  }
  const topics = [masterTopic(name), updatesTopic(name), ...(cloneId === undefined ? [] : [cloneTopic(name, cloneId)])];
  return topics.some((t) => mentionsTopic(context, t)) ? 'read' : undefined;
}
