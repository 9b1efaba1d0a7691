/**
 * The endpoint's own subscribers: a trie of their prefixes, the per-topic cache of who gets what,
 * and delivery — decoding a received value at most once, whatever the number of subscribers.
 */
import type { Data } from '../data/types.js';
import { decodeValue } from '../codec/native/messages.js';
import { isInternalTopic } from '../topic/internal.js';
import { TopicTrie, type TrieHandle } from '../topic/topic-trie.js';
import { ACCEPTED_VALUE_LIMITS } from './links.js';

/** A message delivered to a subscriber. */
export interface Message {
  readonly topic: string;
  readonly data: Data;
}

/** Receives the messages of a subscription. What it throws is reported as a `handler_failed` error event. */
export type MessageHandler = (msg: Message) => void;

interface LocalSub {
  readonly handler: MessageHandler;
  /** Subscribed to internal topics (`<$>/…`) explicitly; others never see them. */
  readonly internal: boolean;
}

/** Handles of one subscription's prefixes in the trie, for `remove`. */
export type LocalHandles = readonly TrieHandle<unknown>[];

/** Local subscriptions: add, remove, and deliver to the matching handlers. */
export class LocalSubscriptions {
  private readonly trie = new TopicTrie<LocalSub>();
  /** topic → matching local subscriptions; cleared whenever subscriptions change. */
  private readonly cache = new Map<string, readonly LocalSub[]>();
  /**
   * The topic asked last and its answer: a stream repeats one topic (the decoder hands out the
   * same string object for it), so most lookups end in one comparison. Forgotten with the cache.
   */
  private lastTopic: string | undefined;
  private lastSubs: readonly LocalSub[] = [];

  /** Adds `handler` under each of the normalised `prefixes`. */
  add(prefixes: readonly string[], handler: MessageHandler): LocalHandles {
    const sub: LocalSub = { handler, internal: prefixes.length > 0 && prefixes.every(isInternalTopic) };
    const handles = prefixes.map((p) => this.trie.add(p, sub));
    this.forget();
    return handles;
  }

  /** Removes what `add` returned. */
  remove(handles: LocalHandles): void {
    for (const h of handles) this.trie.remove(h as TrieHandle<LocalSub>);
    this.forget();
  }

  /** Drops every cached answer (subscriptions changed). */
  private forget(): void {
    this.cache.clear();
    this.lastTopic = undefined;
    this.lastSubs = [];
  }

  /**
   * Calls the handlers subscribed to `topic` with `data`, or with `bytes` decoded once; returns the
   * decoded value if it had to decode it. A handler that throws is passed to `failed`.
   */
  deliver(
    topic: string,
    data: Data | undefined,
    bytes: Uint8Array | undefined,
    failed: (topic: string, err: unknown) => void,
  ): Data | undefined {
    const subs = topic === this.lastTopic ? this.lastSubs : this.matching(topic);
    let value = data;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      const v = (value ??= decodeValue(bytes!, ACCEPTED_VALUE_LIMITS));
      try {
        sub.handler({ topic, data: v });
      } catch (err) {
        failed(topic, err);
      }
    }
    return value;
  }

  /** Local subscriptions that get `topic`, each once (cached per topic); remembered as the last. */
  private matching(topic: string): readonly LocalSub[] {
    let subs = this.cache.get(topic);
    if (subs === undefined) {
      const internal = isInternalTopic(topic);
      const out: LocalSub[] = [];
      this.trie.forEachMatch(topic, (sub) => {
        if ((!internal || sub.internal) && !out.includes(sub)) out.push(sub);
      });
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(topic, out);
      subs = out;
    }
    this.lastTopic = topic;
    this.lastSubs = subs;
    return subs;
  }
}
