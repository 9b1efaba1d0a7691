/**
 * The subject mapping against a plain byte-prefix oracle: for random filters × topics on an
 * alphabet full of separators, wildcards and escapes, each endpoint gets exactly one copy of every
 * topic its filter wants and none of the others, no two topics share a subject, and every
 * subject is valid. Delivery follows NATS: one copy per subscription matching a published
 * subject (the topic's own, plus the extension subjects the publisher's index names).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidSubject, subjectMatches } from '../../src/backbone/subject-match.js';
import {
  DEFAULT_NAMESPACE,
  filterWants,
  PartialPrefixIndex,
  planSubscriptions,
  type SubjectOptions,
  type TopicSeparator,
  topicSubject,
} from '../../src/backbone/subjects.js';

/** Separators, wildcards, the escape character, a space, `$`, a 2-byte character, `<` and letters. */
const UNITS = ['/', '.', '*', '>', '_', ' ', '$', 'é', '<', 'a', 'b', 'Z'];
const text = (maxLength: number) => fc.string({ unit: fc.constantFrom(...UNITS), maxLength });
/** A quarter of the topics internal (`<$>/…`). */
const topicArb = fc.tuple(fc.nat(3), text(10)).map(([k, s]) => (k === 0 ? `<$>/${s}` : s));

const ENDPOINTS = 4;
const BASE = 10;
/** Every endpoint's filter: up to 4 prefixes, each a random cut of a base topic (so they match often). */
const caseArb = fc.record({
  base: fc.array(topicArb, { minLength: BASE, maxLength: BASE }),
  filters: fc.array(fc.array(fc.tuple(fc.nat(BASE - 1), fc.nat(15)), { minLength: 1, maxLength: 4 }), {
    minLength: ENDPOINTS,
    maxLength: ENDPOINTS,
  }),
  extra: fc.array(topicArb, { minLength: 16, maxLength: 16 }),
  suffixes: fc.array(text(3), { minLength: 3, maxLength: 3 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

const encoder = new TextEncoder();
const bytesCache = new Map<string, Uint8Array>();
function bytes(s: string): Uint8Array {
  let b = bytesCache.get(s);
  if (b === undefined) {
    if (bytesCache.size > 100_000) bytesCache.clear();
    bytesCache.set(s, (b = encoder.encode(s)));
  }
  return b;
}

function bytePrefix(p: string, topic: string): boolean {
  const a = bytes(p);
  const b = bytes(topic);
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const INTERNAL = '<$>/';
/** The oracle: some prefix is a byte prefix of the topic; internal topics only by internal prefixes. */
function wants(filter: readonly string[], topic: string): boolean {
  const internal = bytePrefix(INTERNAL, topic);
  return filter.some((p) => bytePrefix(p, topic) && (!internal || bytePrefix(INTERNAL, p)));
}

/** A published subject: non-empty tokens of `[A-Za-z0-9_-]`, so no wildcard, no space. */
const PUBLISHED = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A subscription: the same, with an optional final `>`. */
const SUBSCRIBED = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.>)?$/;

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Inverts topicSubject (no code under test): proves that distinct topics have distinct subjects. */
function topicOf(subject: string, o: SubjectOptions): string {
  const [ib, ns, kind, ...toks] = subject.split('.');
  if (ib !== 'ib' || ns !== DEFAULT_NAMESPACE || (kind !== 't' && kind !== 'i'))
    throw new Error(`bad root: ${subject}`);
  const segments = toks.map((t) => {
    if (t === '_') return '';
    const out: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '_') {
        out.push(Number.parseInt(t.slice(i + 1, i + 3), 16));
        i += 2;
      } else out.push(t.charCodeAt(i));
    }
    return decoder.decode(new Uint8Array(out));
  });
  return (kind === 'i' ? INTERNAL : '') + segments.join(o.separator);
}

interface Counts {
  pairs: number;
  wanted: number;
  wantedInternal: number;
  viaExtension: number;
  wasted: number;
}

/** The filters and topics of one case: prefixes cut from base topics, and topics around them. */
function expand(c: Case, sep: TopicSeparator): { filters: string[][]; topics: string[] } {
  const filters = c.filters.map((f) => f.map(([i, cut]) => c.base[i]!.slice(0, cut)));
  const topics = new Set<string>([...c.base, ...c.extra]);
  for (const f of filters) {
    for (const p of f) {
      for (const s of ['', sep, 'a', `${sep}b`, 'é', ...c.suffixes]) topics.add(p + s);
    }
  }
  return { filters, topics: [...topics] };
}

/** Runs one case and checks every (filter, topic) pair; returns nothing, throws on a failure. */
function check(c: Case, o: SubjectOptions, seen: Map<string, string>, n: Counts): void {
  const { filters, topics } = expand(c, o.separator);
  const plans = filters.map((f) => planSubscriptions(f, o));
  const index = new PartialPrefixIndex();
  for (const [e, plan] of plans.entries()) {
    for (const p of plan.patterns) {
      if (!SUBSCRIBED.test(p) || !isValidSubject(p, true)) throw new Error(`invalid pattern ${p}`);
    }
    if (o.superset && plan.partials.length > 0) throw new Error('superset mode announced partials');
    index.set(`e${e}`, plan.partials);
  }
  for (const topic of topics) {
    const subject = topicSubject(topic, o);
    if (subject === undefined) throw new Error(`no subject for ${JSON.stringify(topic)}`);
    if (!PUBLISHED.test(subject) || !isValidSubject(subject, false)) throw new Error(`invalid subject ${subject}`);
    const before = seen.get(subject);
    if (before !== undefined && before !== topic) {
      throw new Error(`collision: ${JSON.stringify(before)} and ${JSON.stringify(topic)} → ${subject}`);
    }
    seen.set(subject, topic);
    if (topicOf(subject, o) !== topic) throw new Error(`${subject} does not decode to ${JSON.stringify(topic)}`);
    const extensions = index.extensionSubjects(topic, o);
    if (new Set(extensions).size !== extensions.length) throw new Error(`repeated extension subject: ${extensions}`);
    for (const x of extensions) {
      if (!PUBLISHED.test(x) || !isValidSubject(x, false)) throw new Error(`invalid extension subject ${x}`);
    }
    for (let e = 0; e < plans.length; e++) {
      const patterns = plans[e]!.patterns;
      let copies = 0;
      let viaExtension = 0;
      for (const p of patterns) {
        if (subjectMatches(p, subject)) copies++;
        for (const x of extensions) if (subjectMatches(p, x)) viaExtension++;
      }
      copies += viaExtension;
      const want = wants(filters[e]!, topic);
      n.pairs++;
      if (want) {
        n.wanted++;
        if (topic.startsWith(INTERNAL)) n.wantedInternal++;
      }
      n.viaExtension += viaExtension;
      const where = `filter ${JSON.stringify(filters[e])}, topic ${JSON.stringify(topic)}, patterns ${JSON.stringify(patterns)}, extensions ${JSON.stringify(extensions)}`;
      if (o.superset) {
        // A superset, once; the receiver's filter is exact.
        if (copies > 1) throw new Error(`${copies} copies: ${where}`);
        if (want && copies !== 1) throw new Error(`lost: ${where}`);
        if (filterWants(filters[e]!, topic) !== want) throw new Error(`receiver filter wrong: ${where}`);
        if (copies === 1 && !want) n.wasted++;
      } else if (copies !== (want ? 1 : 0)) {
        throw new Error(`${copies} copies, oracle wants ${want ? 1 : 0}: ${where}`);
      }
    }
  }
}

/** Runs enough cases for at least 100,000 pairs; returns the counts. */
function run(o: SubjectOptions, numRuns: number): Counts {
  const n: Counts = { pairs: 0, wanted: 0, wantedInternal: 0, viaExtension: 0, wasted: 0 };
  const seen = new Map<string, string>();
  fc.assert(
    fc.property(caseArb, (c) => check(c, o, seen, n)),
    { numRuns },
  );
  return n;
}

describe.each(['/', '.'] as const)('subject mapping with separator %j', (separator) => {
  const o: SubjectOptions = { namespace: DEFAULT_NAMESPACE, separator };

  it('delivers exactly the oracle: 1 copy per wanting filter, 0 otherwise, no collision, valid subjects', () => {
    const n = run(o, 450);
    expect(n.pairs).toBeGreaterThanOrEqual(100_000);
    // The generator is not degenerate: many pairs match, internal ones and via extension subjects too.
    expect(n.wanted).toBeGreaterThan(n.pairs / 10);
    expect(n.wantedInternal).toBeGreaterThan(n.wanted / 20);
    expect(n.viaExtension).toBeGreaterThan(n.wanted / 50);
  });

  it('superset mode: every wanted topic once, nothing twice, and the receiver filter drops exactly the rest', () => {
    const n = run({ ...o, superset: true }, 120);
    expect(n.pairs).toBeGreaterThanOrEqual(25_000);
    expect(n.viaExtension).toBe(0);
    expect(n.wasted).toBeGreaterThan(0);
  });
});
