/**
 * The Broker JSON v1 clients connected to an endpoint's listener, by subscription: who gets a
 * message, encoded to JSON once for all of them. A client never gets its own messages back, and
 * internal topics (`<$>/…`) never reach clients.
 */
import type { Data } from '../../data/types.js';
import { decodeValue } from '../../codec/native/values.js';
import { encodeJsonMessage } from '../../codec/json-v1/encode.js';
import { normalizeFilter } from '../../topic/filter.js';
import { isInternalTopic } from '../../topic/internal.js';
import { TopicTrie, type TrieHandle } from '../../topic/topic-trie.js';
import type { JsonServerSession } from './server-session.js';
import { ACCEPTED_VALUE_LIMITS } from '../links.js';
import type { Session } from '../sessions.js';

/** The JSON v1 clients of our listener past their handshake, indexed by their prefixes. */
export class JsonClients {
  private readonly trie = new TopicTrie<JsonServerSession>();
  private readonly clients = new Map<JsonServerSession, readonly TrieHandle<JsonServerSession>[]>();

  get size(): number {
    return this.clients.size;
  }

  sessions(): IterableIterator<JsonServerSession> {
    return this.clients.keys();
  }

  /** Registers a client's (normalised) subscriptions; returns them. */
  add(s: JsonServerSession, filter: readonly string[]): string[] {
    const list = normalizeFilter(filter);
    this.clients.set(
      s,
      list.map((p) => this.trie.add(p, s)),
    );
    return list;
  }

  /** Forgets a client; returns the prefixes it had subscribed to (empty when unknown). */
  remove(s: JsonServerSession): string[] {
    const handles = this.clients.get(s);
    if (!handles) return [];
    this.clients.delete(s);
    for (const h of handles) this.trie.remove(h);
    return handles.map((h) => h.prefix);
  }

  /** Sends a message to every subscribed client except `exclude` (value as data or native bytes). */
  deliver(topic: string, data: Data | undefined, bytes: Uint8Array | undefined, exclude: Session | undefined): void {
    if (this.clients.size === 0 || isInternalTopic(topic)) return;
    let text: string | undefined;
    // A client's filter is normalised, so at most one of its prefixes matches: no duplicates.
    this.trie.forEachMatch(topic, (client) => {
      if (client === exclude || (client.access?.filtered && !client.access.mayReceive(topic))) return;
      if (text === undefined) {
        try {
          text = encodeJsonMessage({
            type: 'data-message',
            topic,
            data: data ?? decodeValue(bytes!, ACCEPTED_VALUE_LIMITS),
          });
        } catch {
          text = ''; // NaN/Infinity cannot be written in JSON v1
        }
      }
      if (text) client.sendData(text);
    });
  }
}
