import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  controlSubject,
  DEFAULT_NAMESPACE,
  escapeToken,
  extensionSubject,
  filterWants,
  isPartialPrefix,
  MAX_SUBJECT_LENGTH,
  PartialPrefixIndex,
  planSubscriptions,
  type SubjectOptions,
  subjectOptions,
  topicSubject,
} from '../../src/backbone/subjects.js';
import { subjectMatches } from '../../src/backbone/subject-match.js';

const SLASH: SubjectOptions = { namespace: DEFAULT_NAMESPACE, separator: '/' };
const DOT: SubjectOptions = { namespace: DEFAULT_NAMESPACE, separator: '.' };
const SUPERSET: SubjectOptions = { ...SLASH, superset: true };

/**
 * Copies of a message on `topic` each filter's endpoint receives, as NATS would deliver them: one
 * per subscription matching the topic's subject or one of its extension subjects.
 */
function copies(filters: readonly (readonly string[])[], topic: string, o: SubjectOptions): number[] {
  const index = new PartialPrefixIndex();
  const plans = filters.map((f) => planSubscriptions(f, o));
  for (const [i, p] of plans.entries()) index.set(`e${i}`, p.partials);
  const subject = topicSubject(topic, o);
  if (subject === undefined) return plans.map(() => 0);
  const published = [subject, ...index.extensionSubjects(topic, o)];
  return plans.map((p) => published.reduce((n, s) => n + p.patterns.filter((pat) => subjectMatches(pat, s)).length, 0));
}

describe('escapeToken', () => {
  it('keeps [A-Za-z0-9-] and escapes every other UTF-8 byte as _XX', () => {
    expect(escapeToken('abc-XYZ-09')).toBe('abc-XYZ-09');
    expect(escapeToken('a b')).toBe('a_20b');
    expect(escapeToken('_')).toBe('_5F');
    expect(escapeToken('.*>$/')).toBe('_2E_2A_3E_24_2F');
    expect(escapeToken('é')).toBe('_C3_A9');
    expect(escapeToken('€')).toBe('_E2_82_AC');
    expect(escapeToken('\u{1F600}')).toBe('_F0_9F_98_80');
  });

  it('gives _ for the empty segment, distinct from every escaped byte', () => {
    expect(escapeToken('')).toBe('_');
    expect(escapeToken('_')).not.toBe('_');
  });

  it('encodes lone surrogates apart (WTF-8), so ill-formed strings do not collide', () => {
    expect(escapeToken('\uD800')).toBe('_ED_A0_80');
    expect(escapeToken('\uDC00\uD800')).toBe('_ED_B0_80_ED_A0_80');
    expect(escapeToken('\uD800')).not.toBe(escapeToken('\uFFFD'));
  });
});

describe('topicSubject', () => {
  it('maps Zeek topics to one token per segment under ib.<ns>.t', () => {
    expect(topicSubject('zeek/cluster/manager', SLASH)).toBe('ib.isobroker.t.zeek.cluster.manager');
    expect(topicSubject('zeek/cluster/node/worker-1/', SLASH)).toBe('ib.isobroker.t.zeek.cluster.node.worker-1._');
    expect(topicSubject('zeek/event/my event', SLASH)).toBe('ib.isobroker.t.zeek.event.my_20event');
  });

  it('gives empty segments the token _', () => {
    expect(topicSubject('', SLASH)).toBe('ib.isobroker.t._');
    expect(topicSubject('/', SLASH)).toBe('ib.isobroker.t._._');
    expect(topicSubject('a//b/', SLASH)).toBe('ib.isobroker.t.a._.b._');
  });

  it('splits Zeek-8-style dotted topics on . with that separator, and escapes / in them', () => {
    expect(topicSubject('zeek.cluster.node.manager', DOT)).toBe('ib.isobroker.t.zeek.cluster.node.manager');
    expect(topicSubject('zeek.cluster.', DOT)).toBe('ib.isobroker.t.zeek.cluster._');
    expect(topicSubject('a/b.c', DOT)).toBe('ib.isobroker.t.a_2Fb.c');
    expect(topicSubject('zeek.cluster', SLASH)).toBe('ib.isobroker.t.zeek_2Ecluster');
  });

  it('escapes é and other non-ASCII bytes', () => {
    expect(topicSubject('café/é', SLASH)).toBe('ib.isobroker.t.caf_C3_A9._C3_A9');
  });

  it('puts internal topics under ib.<ns>.i without their <$>/', () => {
    expect(topicSubject('<$>/store/users/clone/x', SLASH)).toBe('ib.isobroker.i.store.users.clone.x');
    expect(topicSubject('<$>/', SLASH)).toBe('ib.isobroker.i._');
    expect(topicSubject('<$>/a.b', DOT)).toBe('ib.isobroker.i.a.b');
    // Not internal: no "<$>/" at the start.
    expect(topicSubject('<$>', SLASH)).toBe('ib.isobroker.t._3C_24_3E');
    expect(topicSubject('<$>.x', DOT)).toBe('ib.isobroker.t._3C_24_3E.x');
    expect(topicSubject('x/<$>/', SLASH)).toBe('ib.isobroker.t.x._3C_24_3E._');
  });

  it('escapes the namespace into one token', () => {
    expect(topicSubject('a', { namespace: 'my cluster.1', separator: '/' })).toBe('ib.my_20cluster_2E1.t.a');
    expect(topicSubject('a', { namespace: '', separator: '/' })).toBe('ib._.t.a');
    expect(controlSubject(SLASH)).toBe('ib.isobroker.ctl');
    expect(controlSubject({ namespace: 'prod', separator: '.' })).toBe('ib.prod.ctl');
  });

  it('refuses subjects longer than MAX_SUBJECT_LENGTH, counting escaped bytes', () => {
    const root = 'ib.isobroker.t.';
    const fits = 'a'.repeat(MAX_SUBJECT_LENGTH - root.length);
    expect(topicSubject(fits, SLASH)).toHaveLength(MAX_SUBJECT_LENGTH);
    expect(topicSubject(`${fits}b`, SLASH)).toBeUndefined();
    expect(topicSubject(`${fits.slice(1)}/`, SLASH)).toBeUndefined(); // "/" adds ".", "" adds "_"
    // 700 characters, but 4200 bytes escaped.
    expect(topicSubject('é'.repeat(700), SLASH)).toBeUndefined();
    expect(topicSubject('x'.repeat(1_000_000), SLASH)).toBeUndefined();
  });
});

describe('subjectOptions', () => {
  it('fills in the defaults and checks what it is given', () => {
    expect(subjectOptions({})).toEqual({ namespace: 'isobroker', separator: '/', superset: false });
    expect(subjectOptions({ namespace: 'prod', separator: '.', superset: true })).toEqual({
      namespace: 'prod',
      separator: '.',
      superset: true,
    });
    expect(() => subjectOptions({ separator: '-' as never })).toThrow(ConfigError);
    expect(() => subjectOptions({ namespace: 'é'.repeat(100) })).toThrow(ConfigError);
    expect(() => subjectOptions({ namespace: 1 as never })).toThrow(ConfigError);
  });
});

describe('planSubscriptions', () => {
  it('subscribes a prefix ending inside a segment exactly, plus its extension subject', () => {
    expect(planSubscriptions(['zeek/cluster/manager'], SLASH)).toEqual({
      patterns: [
        'ib.isobroker.t.zeek.cluster.manager',
        'ib.isobroker.t.zeek.cluster.manager.>',
        'ib.isobroker.x.zeek.cluster.manager',
      ],
      partials: ['zeek/cluster/manager'],
    });
  });

  it('subscribes a prefix ending on the separator with one >', () => {
    expect(planSubscriptions(['zeek/cluster/'], SLASH)).toEqual({
      patterns: ['ib.isobroker.t.zeek.cluster.>'],
      partials: [],
    });
    expect(planSubscriptions(['a//'], SLASH).patterns).toEqual(['ib.isobroker.t.a._.>']);
    expect(planSubscriptions(['/'], SLASH).patterns).toEqual(['ib.isobroker.t._.>']);
  });

  it('subscribes "" to the external root only, and <$>/ to the internal root', () => {
    expect(planSubscriptions([''], SLASH)).toEqual({ patterns: ['ib.isobroker.t.>'], partials: [] });
    expect(planSubscriptions(['<$>/'], SLASH)).toEqual({ patterns: ['ib.isobroker.i.>'], partials: [] });
    expect(planSubscriptions(['', '<$>/store/'], SLASH).patterns).toEqual([
      'ib.isobroker.i.store.>',
      'ib.isobroker.t.>',
    ]);
  });

  it('maps internal partial prefixes to i and xi', () => {
    expect(planSubscriptions(['<$>/store/us'], SLASH)).toEqual({
      patterns: ['ib.isobroker.i.store.us', 'ib.isobroker.i.store.us.>', 'ib.isobroker.xi.store.us'],
      partials: ['<$>/store/us'],
    });
    // "<$" is an external prefix: it never reaches internal topics.
    expect(planSubscriptions(['<$'], SLASH).patterns).toEqual([
      'ib.isobroker.t._3C_24',
      'ib.isobroker.t._3C_24.>',
      'ib.isobroker.x._3C_24',
    ]);
  });

  it('normalises the filter itself (internal prefixes apart)', () => {
    expect(planSubscriptions(['a/b', 'a/', 'a/b/c', 'a/'], SLASH).patterns).toEqual(['ib.isobroker.t.a.>']);
    expect(planSubscriptions(['x', 'xy', 'x/'], SLASH).partials).toEqual(['x']);
  });

  it('uses the configured separator: dotted prefixes', () => {
    expect(planSubscriptions(['zeek.cluster.node.'], DOT).patterns).toEqual(['ib.isobroker.t.zeek.cluster.node.>']);
    expect(planSubscriptions(['zeek.cluster.node.man'], DOT)).toEqual({
      patterns: [
        'ib.isobroker.t.zeek.cluster.node.man',
        'ib.isobroker.t.zeek.cluster.node.man.>',
        'ib.isobroker.x.zeek.cluster.node.man',
      ],
      partials: ['zeek.cluster.node.man'],
    });
    // With '.' as separator a trailing '/' is inside a segment.
    expect(planSubscriptions(['zeek/cluster/'], DOT).partials).toEqual(['zeek/cluster/']);
  });

  it('in superset mode subscribes complete segments + > and drops what another pattern covers', () => {
    expect(planSubscriptions(['zeek/cluster/manager'], SUPERSET)).toEqual({
      patterns: ['ib.isobroker.t.zeek.cluster.>'],
      partials: [],
    });
    expect(
      planSubscriptions(['zeek/cluster/manager', 'zeek/cluster/node/x/', 'zeek/cluster/nod', 'other'], SUPERSET),
    ).toEqual({ patterns: ['ib.isobroker.t.>'], partials: [] });
    expect(planSubscriptions(['zeek/cluster/manager', 'zeek/cluster/node/x/', 'b/'], SUPERSET).patterns).toEqual([
      'ib.isobroker.t.b.>',
      'ib.isobroker.t.zeek.cluster.>',
    ]);
    expect(planSubscriptions(['<$>/sto', 'a/b'], SUPERSET).patterns).toEqual([
      'ib.isobroker.i.>',
      'ib.isobroker.t.a.>',
    ]);
  });

  it('leaves out subscriptions longer than the limit: they could match only subjects never published', () => {
    const long = 'a'.repeat(MAX_SUBJECT_LENGTH);
    expect(planSubscriptions([`${long}/`, long, `<$>/${long}`], SLASH)).toEqual({ patterns: [], partials: [] });
    expect(planSubscriptions([long, 'b/'], SUPERSET).patterns).toEqual(['ib.isobroker.t.b.>']);
    // A partial prefix whose own subject is exactly at the limit: the topic equal to it is
    // carried, its continuations are not.
    const edge = 'a'.repeat(MAX_SUBJECT_LENGTH - 'ib.isobroker.t.'.length);
    expect(planSubscriptions([edge], SLASH)).toEqual({
      patterns: [`ib.isobroker.t.${edge}`, `ib.isobroker.x.${edge}`],
      partials: [edge],
    });
    expect(copies([[edge]], edge, SLASH)).toEqual([1]);
    expect(topicSubject(`${edge}b`, SLASH)).toBeUndefined();
    // Internal: xi is one longer than i, so the extension subject no longer fits and is not announced.
    const iedge = 'a'.repeat(MAX_SUBJECT_LENGTH - 'ib.isobroker.i.'.length);
    expect(planSubscriptions([`<$>/${iedge}`], SLASH)).toEqual({ patterns: [`ib.isobroker.i.${iedge}`], partials: [] });
    expect(copies([[`<$>/${iedge}`]], `<$>/${iedge}`, SLASH)).toEqual([1]);
  });
});

describe('extension subjects and partial prefixes', () => {
  it('knows which prefixes end inside a segment', () => {
    expect(isPartialPrefix('zeek/cluster/manager', '/')).toBe(true);
    expect(isPartialPrefix('zeek/cluster/', '/')).toBe(false);
    expect(isPartialPrefix('zeek/cluster/', '.')).toBe(true);
    expect(isPartialPrefix('', '/')).toBe(false);
    expect(isPartialPrefix('<$>/', '.')).toBe(false);
    expect(isPartialPrefix('<$>/s', '/')).toBe(true);
    expect(isPartialPrefix('<$>', '/')).toBe(true);
    expect(extensionSubject('zeek/cluster/manager', SLASH)).toBe('ib.isobroker.x.zeek.cluster.manager');
    expect(extensionSubject('<$>/store/é', SLASH)).toBe('ib.isobroker.xi.store._C3_A9');
    expect(extensionSubject('zeek/', SLASH)).toBeUndefined();
  });
});

describe('PartialPrefixIndex', () => {
  it('gives one shared empty answer while empty', () => {
    const index = new PartialPrefixIndex();
    const a = index.extensionSubjects('zeek/cluster/manager-1', SLASH);
    expect(a).toEqual([]);
    expect(index.extensionSubjects('other', SLASH)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(index.size).toBe(0);
  });

  it('names the extension subjects of the prefixes a topic strictly extends inside a segment', () => {
    const index = new PartialPrefixIndex();
    index.set('e1', ['zeek/cluster/manager']);
    const ext = 'ib.isobroker.x.zeek.cluster.manager';
    expect(index.extensionSubjects('zeek/cluster/manager-1', SLASH)).toEqual([ext]);
    expect(index.extensionSubjects('zeek/cluster/managerX/y', SLASH)).toEqual([ext]);
    expect(index.extensionSubjects('zeek/cluster/manager', SLASH)).toEqual([]);
    expect(index.extensionSubjects('zeek/cluster/manager/', SLASH)).toEqual([]);
    expect(index.extensionSubjects('zeek/cluster/manage', SLASH)).toEqual([]);
    expect(index.extensionSubjects('zeek/cluster/other', SLASH)).toEqual([]);
    index.set('e2', ['zeek/c', 'zeek/cluster/manager']);
    expect(index.extensionSubjects('zeek/cluster/manager-1', SLASH)).toEqual(['ib.isobroker.x.zeek.c', ext]);
    expect(index.size).toBe(2);
    expect(index.endpoints).toBe(2);
    index.delete('e1');
    expect(index.extensionSubjects('zeek/cluster/manager-1', SLASH)).toEqual(['ib.isobroker.x.zeek.c', ext]);
    index.set('e2', ['zeek/c']);
    expect(index.extensionSubjects('zeek/cluster/manager-1', SLASH)).toEqual(['ib.isobroker.x.zeek.c']);
    index.set('e2', []);
    expect(index.size).toBe(0);
    expect(index.endpoints).toBe(0);
    expect(index.extensionSubjects('zeek/cluster/manager-1', SLASH)).toEqual([]);
  });

  it('keeps internal and external prefixes apart', () => {
    const index = new PartialPrefixIndex();
    index.set('e', ['<$>/sto', '<$', '']);
    expect(index.extensionSubjects('<$>/store', SLASH)).toEqual(['ib.isobroker.xi.sto']);
    expect(index.extensionSubjects('<$>x', SLASH)).toEqual(['ib.isobroker.x._3C_24']);
    // "" is no partial prefix: nothing to extend.
    expect(index.extensionSubjects('abc', SLASH)).toEqual([]);
  });

  it('follows the separator: dotted topics', () => {
    const index = new PartialPrefixIndex();
    index.set('e', ['zeek.cluster.man']);
    expect(index.extensionSubjects('zeek.cluster.manager', DOT)).toEqual(['ib.isobroker.x.zeek.cluster.man']);
    expect(index.extensionSubjects('zeek.cluster.man/x', DOT)).toEqual(['ib.isobroker.x.zeek.cluster.man']);
    expect(index.extensionSubjects('zeek.cluster.man.x', DOT)).toEqual([]);
  });
});

describe('delivery (NATS semantics): one copy per matching filter', () => {
  it('zeek/cluster/manager gets itself, its continuations and its extensions, once each', () => {
    const filters = [['zeek/cluster/manager'], ['zeek/cluster/'], ['zeek/cluster/manager-1', 'x'], [''], ['<$>/']];
    expect(copies(filters, 'zeek/cluster/manager', SLASH)).toEqual([1, 1, 0, 1, 0]);
    expect(copies(filters, 'zeek/cluster/manager/x', SLASH)).toEqual([1, 1, 0, 1, 0]);
    expect(copies(filters, 'zeek/cluster/manager-1', SLASH)).toEqual([1, 1, 1, 1, 0]);
    expect(copies(filters, 'zeek/cluster/manager-10/', SLASH)).toEqual([1, 1, 1, 1, 0]);
    expect(copies(filters, 'zeek/cluster/manage', SLASH)).toEqual([0, 1, 0, 1, 0]);
    expect(copies(filters, 'zeek/cluster', SLASH)).toEqual([0, 0, 0, 1, 0]);
    expect(copies(filters, 'zeek/clusterx/', SLASH)).toEqual([0, 0, 0, 1, 0]);
  });

  it('internal topics reach internal prefixes only; "" never gets them', () => {
    const filters = [[''], ['<$>/'], ['<$>/store/us'], ['<$'], ['', '<$>/store/']];
    expect(copies(filters, '<$>/store/users', SLASH)).toEqual([0, 1, 1, 0, 1]);
    expect(copies(filters, '<$>/store/us', SLASH)).toEqual([0, 1, 1, 0, 1]);
    expect(copies(filters, '<$>/store/u', SLASH)).toEqual([0, 1, 0, 0, 1]);
    expect(copies(filters, '<$>x', SLASH)).toEqual([1, 0, 0, 1, 1]);
  });

  it('Zeek-8 dotted topics with the . separator', () => {
    const filters = [['zeek.cluster.node.'], ['zeek.cluster.node.work'], ['zeek.cluster']];
    expect(copies(filters, 'zeek.cluster.node.worker-1', DOT)).toEqual([1, 1, 1]);
    expect(copies(filters, 'zeek.cluster.node.work', DOT)).toEqual([1, 1, 1]);
    expect(copies(filters, 'zeek.cluster.node.wor', DOT)).toEqual([1, 0, 1]);
    expect(copies(filters, 'zeek.clusters', DOT)).toEqual([0, 0, 1]);
    expect(copies(filters, 'zeek.cluster', DOT)).toEqual([0, 0, 1]);
  });

  it('empty segments and é', () => {
    const filters = [['a//'], ['a/'], ['a/é'], ['a/e']];
    expect(copies(filters, 'a//b', SLASH)).toEqual([1, 1, 0, 0]);
    expect(copies(filters, 'a/', SLASH)).toEqual([0, 1, 0, 0]);
    expect(copies(filters, 'a/éé', SLASH)).toEqual([0, 1, 1, 0]);
    expect(copies(filters, 'a/é', SLASH)).toEqual([0, 1, 1, 0]);
    expect(copies(filters, 'a/e', SLASH)).toEqual([0, 1, 0, 1]);
  });

  it('superset mode delivers a superset once; filterWants drops the rest at the receiver', () => {
    const filters = [['zeek/cluster/manager', 'zeek/cluster/node/x/'], ['zeek/cluster/']];
    expect(copies(filters, 'zeek/cluster/worker-1', SUPERSET)).toEqual([1, 1]);
    expect(copies(filters, 'zeek/cluster/node/x/y', SUPERSET)).toEqual([1, 1]);
    expect(copies(filters, 'zeek/other', SUPERSET)).toEqual([0, 0]);
    expect(filterWants(filters[0]!, 'zeek/cluster/worker-1')).toBe(false);
    expect(filterWants(filters[0]!, 'zeek/cluster/manager-1')).toBe(true);
    expect(filterWants([''], '<$>/store/x')).toBe(false);
    expect(filterWants(['', '<$>/'], '<$>/store/x')).toBe(true);
    expect(filterWants(['<$'], '<$>/store/x')).toBe(false);
  });
});
