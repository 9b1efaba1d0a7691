/**
 * Broker topics on NATS subjects, with Broker's exact byte-prefix semantics.
 *
 * Topics are byte strings matched by prefix; NATS subjects are `.`-separated tokens matched by
 * `*` (one token) and `>` (one or more, last). The mapping:
 *
 * - **Subject of a topic.** An external topic goes under `ib.<ns>.t`, an internal one (`<$>/…`,
 *   see `topic/internal.ts`) drops its `<$>/` and goes under `ib.<ns>.i`. The rest is split on the
 *   separator (`/`, or `.` for Zeek-8-style dotted topics) and each segment becomes one token:
 *   the bytes of its UTF-8 encoding in `[A-Za-z0-9-]` are kept, every other byte becomes `_XX`
 *   (uppercase hex), and the empty segment becomes `_`. `a/b` → `ib.isobroker.t.a.b`,
 *   `zeek/x y/` → `ib.isobroker.t.zeek.x_20y._`, `<$>/store/é` → `ib.isobroker.i.store._C3_A9`.
 *   The escaping is injective (a kept byte is never `_`; `_` alone is no `_XX`), so distinct
 *   topics have distinct subjects. A lone UTF-16 surrogate is encoded as its 3 WTF-8 bytes, so
 *   even ill-formed strings stay apart.
 * - **A prefix ending on the separator** (`zeek/cluster/`), or the namespace root (`""` for
 *   external topics, `<$>/` for internal ones), is one subscription `…>`: `ib.ns.t.zeek.cluster.>`,
 *   `ib.ns.t.>`, `ib.ns.i.>`. `""` never reaches internal topics: they live under `i`.
 * - **A prefix ending inside a segment** (`zeek/cluster/manager`) is three subscriptions: the
 *   topic equal to the prefix (`ib.ns.t.zeek.cluster.manager`), the topics continuing after a
 *   separator (`ib.ns.t.zeek.cluster.manager.>`), and the literal *extension subject*
 *   `ib.ns.x.zeek.cluster.manager` (`xi` for internal prefixes). The prefix is announced
 *   (presence carries `SubscriptionPlan.partials`); a publisher whose topic strictly extends an
 *   announced prefix inside its last segment (`zeek/cluster/manager-1`: starts with it, is
 *   longer, and the next character is not the separator) publishes the message also to that
 *   prefix's extension subject ({@link PartialPrefixIndex}). This is rare: Zeek's own topics end
 *   their prefixes on `/`, so no extra traffic flows for them.
 * - **Exactly one copy.** In a normalised filter no prefix covers another, so a topic matches at
 *   most one prefix, and of that prefix's subscriptions exactly one subject matches: the topic's
 *   own subject (equal, or continuing after a separator) or the extension subject (strictly
 *   extending inside the segment). {@link planSubscriptions} normalises its input itself.
 * - **Superset mode** (`superset: true`): a prefix ending inside a segment subscribes its
 *   segments up to the last complete one plus `>` (`zeek/cluster/manager` → `ib.ns.t.zeek.cluster.>`)
 *   and announces nothing; the receiver drops what its filter does not want ({@link filterWants}).
 *   Subscriptions another one covers are left out, so each message still arrives once.
 * - **Length.** A subject longer than {@link MAX_SUBJECT_LENGTH} is never published
 *   ({@link topicSubject} gives `undefined`; the backbone counts it as `tooLong`). A subscription
 *   longer than the limit could only match such subjects (the literal part of a pattern is never
 *   longer than what it matches), so it is left out rather than replaced by a shorter superset:
 *   leaving it out loses nothing the backbone would carry, and pulls in no foreign traffic.
 * - **Control** (presence): `ib.<ns>.ctl`.
 */
import { ConfigError } from '../errors.js';
import { normalizeFilter } from '../topic/filter.js';
import { INTERNAL_TOPIC_PREFIX, isInternalTopic } from '../topic/internal.js';
import { TopicTrie, type TrieHandle } from '../topic/topic-trie.js';

/** What separates a topic's segments: `/` (Broker, Zeek up to 7), or `.` (Zeek 8's dotted topics). */
export type TopicSeparator = '/' | '.';

/** How topics map to subjects: the cluster namespace, the separator, exact or superset prefixes. */
export interface SubjectOptions {
  /** The cluster's namespace, escaped into one token (`ib.<ns>.…`). */
  readonly namespace: string;
  readonly separator: TopicSeparator;
  /** Prefixes ending inside a segment subscribe a token superset; the receiver filters. */
  readonly superset?: boolean;
}

/** The namespace when none is configured. */
export const DEFAULT_NAMESPACE = 'isobroker';

/**
 * Longest subject published or subscribed (bytes; subjects are ASCII). NATS's default
 * `max_control_line` is 4096 bytes, and a `PUB`/`SUB` line carries more than the subject.
 */
export const MAX_SUBJECT_LENGTH = 4096 - 64;

/** Longest escaped namespace token {@link subjectOptions} accepts. */
export const MAX_NAMESPACE_TOKEN_LENGTH = 255;

const HEX = '0123456789ABCDEF';

/** True for the code units kept as they are in a token: `[A-Za-z0-9-]`. */
function isKept(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** `_XX` for one byte. */
function esc(b: number): string {
  return `_${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** The token of `s.slice(from, to)` (one segment). */
function token(s: string, from: number, to: number): string {
  if (from === to) return '_';
  let i = from;
  while (i < to && isKept(s.charCodeAt(i))) i++;
  if (i === to) return from === 0 && to === s.length ? s : s.slice(from, to);
  let out = s.slice(from, i);
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (isKept(c)) out += s[i];
    else if (c < 0x80) out += esc(c);
    else if (c < 0x800) out += esc(0xc0 | (c >> 6)) + esc(0x80 | (c & 0x3f));
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00);
      out +=
        esc(0xf0 | (cp >> 18)) +
        esc(0x80 | ((cp >> 12) & 0x3f)) +
        esc(0x80 | ((cp >> 6) & 0x3f)) +
        esc(0x80 | (cp & 0x3f));
      i++;
    } else {
      // Three bytes: the rest of the BMP, and (WTF-8) a lone surrogate.
      out += esc(0xe0 | (c >> 12)) + esc(0x80 | ((c >> 6) & 0x3f)) + esc(0x80 | (c & 0x3f));
    }
  }
  return out;
}

/** One segment as one subject token (see the file's header): `é` → `_C3_A9`, `""` → `_`. */
export function escapeToken(segment: string): string {
  return token(segment, 0, segment.length);
}

/** The tokens of `s.slice(from, to)` split on `sep`, joined by `.`. */
function tokens(s: string, from: number, to: number, sep: number): string {
  let out = '';
  let start = from;
  for (let i = from; i < to; i++) {
    if (s.charCodeAt(i) === sep) {
      out += `${token(s, start, i)}.`;
      start = i + 1;
    }
  }
  return out + token(s, start, to);
}

/** The subject roots of one namespace. */
interface Roots {
  readonly namespace: string;
  /** `ib.<ns>.t`, `ib.<ns>.i`, `ib.<ns>.x`, `ib.<ns>.xi`, `ib.<ns>.ctl`. */
  readonly t: string;
  readonly i: string;
  readonly x: string;
  readonly xi: string;
  readonly ctl: string;
}

/** The roots of the namespace asked last (an endpoint uses one namespace). */
let lastRoots: Roots | undefined;

function roots(namespace: string): Roots {
  if (lastRoots?.namespace === namespace) return lastRoots;
  const base = `ib.${escapeToken(namespace)}`;
  lastRoots = { namespace, t: `${base}.t`, i: `${base}.i`, x: `${base}.x`, xi: `${base}.xi`, ctl: `${base}.ctl` };
  return lastRoots;
}

/**
 * Completes and checks subject options: namespace {@link DEFAULT_NAMESPACE} and separator `/`
 * unless given. Throws `ConfigError` for a separator other than `/` or `.`, a namespace that is
 * no string, or one whose token is longer than {@link MAX_NAMESPACE_TOKEN_LENGTH}.
 */
export function subjectOptions(opts: {
  readonly namespace?: string | undefined;
  readonly separator?: TopicSeparator | undefined;
  readonly superset?: boolean | undefined;
}): SubjectOptions {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const separator = opts.separator ?? '/';
  if (typeof namespace !== 'string') throw new ConfigError('namespace', `must be a string, got ${typeof namespace}`);
  const ns = escapeToken(namespace);
  if (ns.length > MAX_NAMESPACE_TOKEN_LENGTH) {
    throw new ConfigError('namespace', `escaped to ${ns.length} bytes, at most ${MAX_NAMESPACE_TOKEN_LENGTH} allowed`);
  }
  if (separator !== '/' && separator !== '.') {
    throw new ConfigError('separator', `must be '/' or '.', got ${JSON.stringify(separator)}`);
  }
  const superset = opts.superset ?? false;
  if (typeof superset !== 'boolean') throw new ConfigError('superset', `must be a boolean, got ${typeof superset}`);
  return { namespace, separator, superset };
}

/**
 * The subject `topic` is published on (see the file's header), or `undefined` when it would be
 * longer than {@link MAX_SUBJECT_LENGTH} (such a topic is not carried).
 */
export function topicSubject(topic: string, o: SubjectOptions): string | undefined {
  const r = roots(o.namespace);
  const internal = isInternalTopic(topic);
  const root = internal ? r.i : r.t;
  const from = internal ? INTERNAL_TOPIC_PREFIX.length : 0;
  // Every code unit gives at least one character: refuse long topics before building anything.
  if (root.length + 1 + topic.length - from > MAX_SUBJECT_LENGTH) return undefined;
  const subject = `${root}.${tokens(topic, from, topic.length, o.separator.charCodeAt(0))}`;
  return subject.length > MAX_SUBJECT_LENGTH ? undefined : subject;
}

/** The subject of presence and other control messages: `ib.<ns>.ctl`. */
export function controlSubject(o: SubjectOptions): string {
  return roots(o.namespace).ctl;
}

/**
 * True when `prefix` ends inside a segment: not `""`, not `<$>/`, not ending on the separator.
 * Only such prefixes have an extension subject.
 */
export function isPartialPrefix(prefix: string, separator: TopicSeparator): boolean {
  const from = isInternalTopic(prefix) ? INTERNAL_TOPIC_PREFIX.length : 0;
  return prefix.length > from && prefix.charCodeAt(prefix.length - 1) !== separator.charCodeAt(0);
}

/**
 * The extension subject of a prefix ending inside a segment (`ib.<ns>.x.<tokens>`, `xi` for an
 * internal prefix); `undefined` when the prefix is not partial ({@link isPartialPrefix}) or the
 * subject would be too long.
 */
export function extensionSubject(prefix: string, o: SubjectOptions): string | undefined {
  if (!isPartialPrefix(prefix, o.separator)) return undefined;
  const r = roots(o.namespace);
  const internal = isInternalTopic(prefix);
  const root = internal ? r.xi : r.x;
  const from = internal ? INTERNAL_TOPIC_PREFIX.length : 0;
  if (root.length + 1 + prefix.length - from > MAX_SUBJECT_LENGTH) return undefined;
  const subject = `${root}.${tokens(prefix, from, prefix.length, o.separator.charCodeAt(0))}`;
  return subject.length > MAX_SUBJECT_LENGTH ? undefined : subject;
}

/** What one normalised filter subscribes to on NATS. */
export interface SubscriptionPlan {
  /** NATS subjects incl. wildcards and extension subjects, deduplicated, sorted. */
  readonly patterns: readonly string[];
  /**
   * The prefixes that end inside a segment (to announce), in normalised order (external ones,
   * then internal ones, each sorted by UTF-8 bytes). Empty in superset mode.
   */
  readonly partials: readonly string[];
}

/**
 * The NATS subscriptions of a filter (see the file's header). The filter is normalised here
 * (internal prefixes apart, as `normalizeInterest` does), so any list of prefixes will do.
 * Subscriptions longer than {@link MAX_SUBJECT_LENGTH} are left out: they could only match
 * subjects that are never published. Prefixes whose subscriptions are all left out are not
 * announced either.
 */
export function planSubscriptions(filter: readonly string[], o: SubjectOptions): SubscriptionPlan {
  const ext: string[] = [];
  const int: string[] = [];
  for (const p of filter) (isInternalTopic(p) ? int : ext).push(p);
  const r = roots(o.namespace);
  const sep = o.separator.charCodeAt(0);
  const patterns = new Set<string>();
  const partials: string[] = [];
  const add = (s: string): boolean => {
    if (s.length > MAX_SUBJECT_LENGTH) return false;
    patterns.add(s);
    return true;
  };
  for (const p of [...normalizeFilter(ext), ...normalizeFilter(int)]) {
    const internal = isInternalTopic(p);
    const root = internal ? r.i : r.t;
    const from = internal ? INTERNAL_TOPIC_PREFIX.length : 0;
    const n = p.length;
    if (n === from) {
      add(`${root}.>`);
      continue;
    }
    // Long prefixes are refused before their tokens are built (see topicSubject).
    if (root.length + 1 + n - from > MAX_SUBJECT_LENGTH) continue;
    if (p.charCodeAt(n - 1) === sep) {
      add(`${root}.${tokens(p, from, n - 1, sep)}.>`);
      continue;
    }
    if (o.superset) {
      const last = p.lastIndexOf(o.separator);
      add(last < from ? `${root}.>` : `${root}.${tokens(p, from, last, sep)}.>`);
      continue;
    }
    const toks = tokens(p, from, n, sep);
    add(`${root}.${toks}`);
    add(`${root}.${toks}.>`);
    if (add(`${internal ? r.xi : r.x}.${toks}`)) partials.push(p);
  }
  const out = [...patterns];
  return { patterns: (o.superset ? uncovered(out) : out).sort(), partials };
}

/**
 * The patterns no `….>` among them covers (itself aside). Only superset mode needs it: in a
 * normalised filter no prefix covers another, so exact subscriptions never overlap.
 */
function uncovered(patterns: string[]): string[] {
  const stems = new Set<string>();
  for (const p of patterns) if (p.endsWith('.>')) stems.add(p.slice(0, -1));
  if (stems.size === 0) return patterns;
  return patterns.filter((p) => {
    for (let i = p.indexOf('.'); i >= 0 && i < p.length - 2; i = p.indexOf('.', i + 1)) {
      if (stems.has(p.slice(0, i + 1))) return false;
    }
    return true;
  });
}

/**
 * Receiver side in superset mode: true when some prefix of `filter` wants `topic` (byte prefix;
 * internal topics only by internal prefixes, so `""` never wants them).
 */
export function filterWants(filter: readonly string[], topic: string): boolean {
  const internal = isInternalTopic(topic);
  for (const p of filter) if (topic.startsWith(p) && (!internal || isInternalTopic(p))) return true;
  return false;
}

/** The shared answer of {@link PartialPrefixIndex.extensionSubjects} when there is none. */
const NO_SUBJECTS: string[] = Object.freeze([]) as unknown as string[];

/** One announced partial prefix, shared by every endpoint that announced it. */
interface PartialEntry {
  readonly prefix: string;
  /** Endpoints that announced it. */
  count: number;
  handle: TrieHandle<PartialEntry> | undefined;
  /** The extension subject for `key` (namespace and separator), computed when first needed. */
  key: string | undefined;
  subject: string | undefined;
}

/** Publisher side: announced partial prefixes of every remote endpoint (a trie). */
export class PartialPrefixIndex {
  readonly #byEndpoint = new Map<string, readonly string[]>();
  readonly #entries = new Map<string, PartialEntry>();
  /** External and internal prefixes apart: internal topics extend only internal prefixes. */
  readonly #external = new TopicTrie<PartialEntry>();
  readonly #internal = new TopicTrie<PartialEntry>();

  /** Replaces the partial prefixes `endpointId` announced (an empty list forgets it). */
  set(endpointId: string, partials: readonly string[]): void {
    const next = [...new Set(partials)];
    const old = this.#byEndpoint.get(endpointId);
    for (const p of next) this.#ref(p);
    if (old) for (const p of old) this.#unref(p);
    if (next.length === 0) this.#byEndpoint.delete(endpointId);
    else this.#byEndpoint.set(endpointId, next);
  }

  /** Forgets what `endpointId` announced. */
  delete(endpointId: string): void {
    const old = this.#byEndpoint.get(endpointId);
    if (!old) return;
    this.#byEndpoint.delete(endpointId);
    for (const p of old) this.#unref(p);
  }

  #ref(prefix: string): void {
    const e = this.#entries.get(prefix);
    if (e) {
      e.count++;
      return;
    }
    const entry: PartialEntry = { prefix, count: 1, handle: undefined, key: undefined, subject: undefined };
    entry.handle = (isInternalTopic(prefix) ? this.#internal : this.#external).add(prefix, entry);
    this.#entries.set(prefix, entry);
  }

  #unref(prefix: string): void {
    const e = this.#entries.get(prefix);
    if (!e || --e.count > 0) return;
    this.#entries.delete(prefix);
    if (e.handle) (isInternalTopic(prefix) ? this.#internal : this.#external).remove(e.handle);
  }

  /**
   * Extension subjects a topic must also be published to (prefixes it strictly extends inside a
   * segment: it starts with the prefix, is longer, and the next character is not the separator),
   * each once. Meant for topics {@link topicSubject} accepts. The answer is shared when empty
   * (the common case, without allocating): treat it as read-only.
   */
  extensionSubjects(topic: string, o: SubjectOptions): string[] {
    if (this.#entries.size === 0) return NO_SUBJECTS;
    const trie = isInternalTopic(topic) ? this.#internal : this.#external;
    if (trie.size === 0) return NO_SUBJECTS;
    const sep = o.separator.charCodeAt(0);
    let out: string[] | undefined;
    trie.forEachMatch(topic, (e) => {
      const n = e.prefix.length;
      if (n >= topic.length || topic.charCodeAt(n) === sep) return;
      const key = `${o.separator}${o.namespace}`;
      if (e.key !== key) {
        e.key = key;
        e.subject = extensionSubject(e.prefix, o);
      }
      if (e.subject !== undefined) (out ??= []).push(e.subject);
    });
    return out ?? NO_SUBJECTS;
  }

  /** Distinct partial prefixes held, over all endpoints. */
  get size(): number {
    return this.#entries.size;
  }

  /** Endpoints with at least one announced partial prefix. */
  get endpoints(): number {
    return this.#byEndpoint.size;
  }
}
