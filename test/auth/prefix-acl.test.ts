/**
 * The byte-prefix ACL engine: examples from issue 11 and a property test against a naive
 * reference that follows the definitions literally, comparing UTF-8 bytes (not UTF-16 units).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueError } from '../../src/errors.js';
import { FULL_ACCESS, NO_ACCESS, compileAcl, isAclPrefix, unionGrants } from '../../src/auth/prefix-acl.js';
import type { Grant, SubscriptionDecision } from '../../src/auth/types.js';

const encoder = new TextEncoder();

/** Broker's rule: `prefix` covers `topic` when its UTF-8 bytes start the topic's bytes. */
function bytePrefix(prefix: string, topic: string): boolean {
  const p = encoder.encode(prefix);
  const t = encoder.encode(topic);
  return p.length <= t.length && p.every((b, i) => b === t[i]);
}

function naiveAllows(g: Grant, topic: string): boolean {
  let allowed = false;
  for (const a of g.allow) if (bytePrefix(a, topic)) allowed = true;
  for (const d of g.deny) if (bytePrefix(d, topic)) allowed = false;
  return allowed;
}

/** The decision exactly as issue 11 / the brief words it, with prefixes in a canonical order. */
function naiveNarrow(g: Grant, p: string): SubscriptionDecision {
  for (const d of g.deny) if (bytePrefix(d, p)) return { kind: 'refuse', reason: 'denied' };
  for (const a of g.allow) {
    if (bytePrefix(a, p)) {
      let filtered = false;
      for (const d of g.deny) if (bytePrefix(p, d)) filtered = true;
      return { kind: 'keep', prefixes: [p], filtered };
    }
  }
  const under: string[] = [];
  for (const a of g.allow) {
    if (!bytePrefix(p, a)) continue;
    let covered = false;
    for (const d of g.deny) if (bytePrefix(d, a)) covered = true;
    if (!covered && !under.includes(a)) under.push(a);
  }
  const normal: string[] = [];
  for (const a of under) {
    let redundant = false;
    for (const b of under) if (b !== a && bytePrefix(b, a)) redundant = true;
    if (!redundant) normal.push(a);
  }
  if (normal.length === 0) return { kind: 'refuse', reason: 'outside_grant' };
  let filtered = false;
  for (const d of g.deny) for (const q of normal) if (d !== q && bytePrefix(q, d)) filtered = true;
  return { kind: 'narrow', prefixes: canonical(normal), filtered };
}

function canonical(prefixes: readonly string[]): string[] {
  return [...prefixes].sort((a, b) => Buffer.compare(encoder.encode(a), encoder.encode(b)));
}

function canonicalDecision(d: SubscriptionDecision): SubscriptionDecision {
  return d.kind === 'refuse' ? d : { ...d, prefixes: canonical(d.prefixes) };
}

/**
 * Pieces of topics: separators, ASCII, 2-, 3- and 4-byte UTF-8 (the emoji pair shares its high
 * surrogate), and U+FF61, which sorts after surrogates in UTF-16 but before them in UTF-8.
 */
/** 100k cases take ~10 s alone; generous for a loaded 2-core machine running other test files. */
const PROPERTY_TIMEOUT_MS = 120_000;

const PIECES = ['/', 'a', 'b', 'é', '日', '😀', '😁', '\uff61'] as const;
const prefixArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 4 }).map((xs) => xs.join(''));
/** Longer prefixes, so that a list of 20+ stays mostly prefix-free (past the linear-scan size). */
const longPrefixArb = fc.array(fc.constantFrom(...PIECES), { minLength: 3, maxLength: 5 }).map((xs) => xs.join(''));
const grantArb = fc.record({
  allow: fc.array(prefixArb, { maxLength: 6 }),
  deny: fc.array(prefixArb, { maxLength: 3 }),
});
/** A topic or subscription: random, or an allow/deny prefix cut short or extended, to hit the edges. */
const caseArb = casesOf(grantArb);
/** Grants past the linear-scan size, so that the indexed lookup is checked too. */
const largeCaseArb = casesOf(
  fc.record({
    allow: fc.array(longPrefixArb, { minLength: 20, maxLength: 40 }),
    deny: fc.array(prefixArb, { maxLength: 3 }),
  }),
);

function casesOf(grants: fc.Arbitrary<Grant>): fc.Arbitrary<{ grant: Grant; topic: string }> {
  return grants.chain((grant) => {
    const known = [...grant.allow, ...grant.deny];
    const derived =
      known.length === 0
        ? prefixArb
        : fc
            .tuple(fc.constantFrom(...known), fc.nat(8), prefixArb, fc.boolean())
            .map(([base, cut, tail, shorten]) => (shorten ? [...base].slice(0, cut).join('') : base + tail));
    return fc.record({ grant: fc.constant(grant), topic: fc.oneof(prefixArb, derived) });
  });
}

describe('compileAcl: examples from issue 11', () => {
  it('grant zeek/logs/ does not cover zeek/logsecret; grant zeek/logs does (byte prefix)', () => {
    const acl = compileAcl({ allow: ['zeek/logs/'], deny: [] });
    expect(acl.allows('zeek/logs/conn')).toBe(true);
    expect(acl.allows('zeek/logs/')).toBe(true);
    expect(acl.allows('zeek/logsecret')).toBe(false);
    expect(acl.allows('zeek/logs')).toBe(false);
    expect(acl.narrow('zeek/logsecret')).toEqual({ kind: 'refuse', reason: 'outside_grant' });
    const loose = compileAcl({ allow: ['zeek/logs'], deny: [] });
    expect(loose.allows('zeek/logsecret')).toBe(true);
    expect(loose.narrow('zeek/logsecret')).toEqual({ kind: 'keep', prefixes: ['zeek/logsecret'], filtered: false });
  });

  it('a "" subscription is narrowed to the grant, a broader one to the part under it', () => {
    const acl = compileAcl({ allow: ['zeek/logs/', 'app/ui/', 'zeek/logs/conn/'], deny: [] });
    expect(acl.narrow('')).toEqual({ kind: 'narrow', prefixes: ['app/ui/', 'zeek/logs/'], filtered: false });
    expect(acl.narrow('zeek/')).toEqual({ kind: 'narrow', prefixes: ['zeek/logs/'], filtered: false });
    expect(acl.narrow('zeek/logs/conn')).toEqual({ kind: 'keep', prefixes: ['zeek/logs/conn'], filtered: false });
    expect(acl.narrow('other/')).toEqual({ kind: 'refuse', reason: 'outside_grant' });
  });

  it('a deny inside a grant marks subscriptions over it filtered and refuses those under it', () => {
    const acl = compileAcl({ allow: ['zeek/'], deny: ['zeek/secret/'] });
    expect(acl.allows('zeek/secret/x')).toBe(false);
    expect(acl.allows('zeek/secret')).toBe(true);
    expect(acl.allows('zeek/public/x')).toBe(true);
    expect(acl.narrow('zeek/')).toEqual({ kind: 'keep', prefixes: ['zeek/'], filtered: true });
    expect(acl.narrow('zeek/sec')).toEqual({ kind: 'keep', prefixes: ['zeek/sec'], filtered: true });
    expect(acl.narrow('')).toEqual({ kind: 'narrow', prefixes: ['zeek/'], filtered: true });
    expect(acl.narrow('zeek/public/')).toEqual({ kind: 'keep', prefixes: ['zeek/public/'], filtered: false });
    expect(acl.narrow('zeek/secret/')).toEqual({ kind: 'refuse', reason: 'denied' });
    expect(acl.narrow('zeek/secret/x')).toEqual({ kind: 'refuse', reason: 'denied' });
  });

  it('a deny beside the grant refuses as denied; an allow a deny covers grants nothing', () => {
    const acl = compileAcl({ allow: ['a/b/', 'c/'], deny: ['a/', 'x/'] });
    expect(acl.allows('a/b/c')).toBe(false);
    expect(acl.narrow('x/y')).toEqual({ kind: 'refuse', reason: 'denied' });
    expect(acl.narrow('')).toEqual({ kind: 'narrow', prefixes: ['c/'], filtered: false });
    const none = compileAcl({ allow: ['a/b/'], deny: ['a/'] });
    expect(none.narrow('')).toEqual({ kind: 'refuse', reason: 'outside_grant' });
  });

  it('multi-byte UTF-8 prefixes match whole characters', () => {
    const acl = compileAcl({ allow: ['日本/', '😀', 'é'], deny: ['日本/秘密'] });
    expect(acl.allows('日本/x')).toBe(true);
    expect(acl.allows('日本/秘密/x')).toBe(false);
    expect(acl.allows('日/')).toBe(false);
    expect(acl.allows('😀x')).toBe(true);
    expect(acl.allows('😁')).toBe(false); // same high surrogate, different character
    expect(acl.allows('e\u0301')).toBe(false); // decomposed é is other bytes
    expect(acl.narrow('')).toEqual({ kind: 'narrow', prefixes: ['é', '日本/', '😀'], filtered: true });
  });
});

describe('compileAcl: open, constants, union, bad input', () => {
  it('open iff allow has "" and deny is empty', () => {
    expect(compileAcl({ allow: ['', 'a/'], deny: [] }).open).toBe(true);
    expect(compileAcl({ allow: [''], deny: ['a/'] }).open).toBe(false);
    expect(compileAcl({ allow: ['a/'], deny: [] }).open).toBe(false);
    expect(FULL_ACCESS.open).toBe(true);
    expect(FULL_ACCESS.allows('')).toBe(true);
    expect(FULL_ACCESS.narrow('x')).toEqual({ kind: 'keep', prefixes: ['x'], filtered: false });
  });

  it('NO_ACCESS allows nothing and refuses every subscription', () => {
    expect(NO_ACCESS.open).toBe(false);
    expect(NO_ACCESS.allows('')).toBe(false);
    expect(NO_ACCESS.allows('zeek/logs/conn')).toBe(false);
    expect(NO_ACCESS.narrow('')).toEqual({ kind: 'refuse', reason: 'outside_grant' });
  });

  it('keeps a frozen copy of the grant', () => {
    const allow = ['a/'];
    const acl = compileAcl({ allow, deny: [] });
    allow.push('b/');
    expect(acl.grant).toEqual({ allow: ['a/'], deny: [] });
    expect(Object.isFrozen(acl.grant.allow)).toBe(true);
    expect(acl.allows('b/x')).toBe(false);
  });

  it('unionGrants joins allows and denies; a deny of one applies to all', () => {
    const g = unionGrants({ allow: ['a/', 'b/'], deny: [] }, { allow: ['b/', 'c/'], deny: ['a/x/'] });
    expect(g).toEqual({ allow: ['a/', 'b/', 'c/'], deny: ['a/x/'] });
    expect(compileAcl(g).allows('a/x/1')).toBe(false);
    expect(unionGrants()).toEqual({ allow: [], deny: [] });
  });

  it('refuses a lone surrogate (no UTF-8 bytes) and bad shapes with a ValueError', () => {
    expect(isAclPrefix('😀')).toBe(true);
    expect(isAclPrefix('\ud83d')).toBe(false);
    expect(isAclPrefix(7)).toBe(false);
    expect(() => compileAcl({ allow: ['\ud83d'], deny: [] })).toThrow(ValueError);
    expect(() => compileAcl({ allow: [], deny: ['a\ude00'] })).toThrow(/grant\.deny\[0\] is not well-formed/);
    expect(() => compileAcl({ allow: 'a/' } as unknown as Grant)).toThrow(/grant\.allow must be an array/);
    expect(() => compileAcl({ allow: [1], deny: [] } as unknown as Grant)).toThrow(
      /grant\.allow\[0\] must be a string/,
    );
    expect(() => compileAcl(null as unknown as Grant)).toThrow(ValueError);
  });
});

describe('compileAcl against a naive reference', () => {
  it(
    'allows() and narrow() agree with the definitions over 100k random cases',
    () => {
      fc.assert(
        fc.property(caseArb, ({ grant, topic }) => {
          const acl = compileAcl(grant);
          expect(acl.allows(topic)).toBe(naiveAllows(grant, topic));
          expect(canonicalDecision(acl.narrow(topic))).toEqual(naiveNarrow(grant, topic));
        }),
        { numRuns: 100_000 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('one compiled ACL asked about a sequence of topics (repeats included) answers each as the definition', () => {
    fc.assert(
      fc.property(grantArb, fc.array(prefixArb, { minLength: 1, maxLength: 8 }), (grant, topics) => {
        const acl = compileAcl(grant);
        for (const t of [...topics, ...[...topics].reverse(), topics[0]!, topics[0]!]) {
          expect(acl.allows(t)).toBe(naiveAllows(grant, t));
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('allows() and narrow() agree with the definitions for grants of 20 to 40 allow prefixes', () => {
    fc.assert(
      fc.property(largeCaseArb, ({ grant, topic }) => {
        const acl = compileAcl(grant);
        expect(acl.allows(topic)).toBe(naiveAllows(grant, topic));
        expect(canonicalDecision(acl.narrow(topic))).toEqual(naiveNarrow(grant, topic));
      }),
      { numRuns: 3_000 },
    );
  });

  it(
    'a narrowed subscription covers exactly the allowed topics under it',
    () => {
      fc.assert(
        fc.property(caseArb, prefixArb, ({ grant, topic: sub }, tail) => {
          const acl = compileAcl(grant);
          const d = acl.narrow(sub);
          const topic = sub + tail;
          const covered = d.kind !== 'refuse' && d.prefixes.some((q) => topic.startsWith(q));
          const filtered = d.kind !== 'refuse' && d.filtered;
          // Everything allowed under the subscription is delivered…
          if (acl.allows(topic)) expect(covered).toBe(true);
          // …and without a filter, everything delivered is allowed.
          if (covered && !filtered) expect(acl.allows(topic)).toBe(true);
        }),
        { numRuns: 20_000 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
