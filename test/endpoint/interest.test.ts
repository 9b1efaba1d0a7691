/** The interest table's coarsened union, kept up to date as keys come and go, is the scan's. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InterestTable,
  LEAF_FILTER_SEGMENTS,
  coarsenSegments,
  normalizeInterest,
} from '../../src/endpoint/interest.js';

const segment = fc.constantFrom('a', 'b', 'stats', 'store', 'kv', 'clone', 'x1', 'x2', '<$>');
const prefix = fc
  .array(segment, { minLength: 1, maxLength: 7 })
  .chain((segs) => fc.boolean().map((slash) => segs.join('/') + (slash ? '/' : '')));
const op = fc.record({ key: fc.integer({ min: 0, max: 5 }), filter: fc.option(fc.array(prefix, { maxLength: 4 })) });

describe('InterestTable.coarseUnion', () => {
  it('equals coarsenSegments(union()) after any sequence of sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const t = new InterestTable<number>(LEAF_FILTER_SEGMENTS);
        for (const o of ops) {
          if (o.filter === null) t.delete(o.key);
          else t.set(o.key, normalizeInterest(o.filter));
          expect(t.coarseUnion()).toEqual(coarsenSegments(t.union(), LEAF_FILTER_SEGMENTS));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('folds per-client topics into one prefix, and forgets it when the last client goes', () => {
    const t = new InterestTable<number>(LEAF_FILTER_SEGMENTS);
    t.set(1, ['<$>/store/kv/clone/one', 'stats/']);
    t.set(2, ['<$>/store/kv/clone/two']);
    expect(t.coarseUnion()).toEqual(['stats/', '<$>/store/kv/clone/']);
    t.delete(1);
    expect(t.coarseUnion()).toEqual(['<$>/store/kv/clone/']);
    t.delete(2);
    expect(t.coarseUnion()).toEqual([]);
    expect(() => new InterestTable<number>().coarseUnion()).toThrow('keeps no coarsened union');
  });
});
