/**
 * Internal topics (`<$>/…`, e.g. data-store traffic, as in Broker) reach only subscribers of
 * internal prefixes: a subscriber of `""` never sees them, JSON v1 clients never get them and may
 * not publish to them.
 */
export const INTERNAL_TOPIC_PREFIX = '<$>/';

export function isInternalTopic(topic: string): boolean {
  return topic.startsWith(INTERNAL_TOPIC_PREFIX);
}
