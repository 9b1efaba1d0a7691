/**
 * Local delivery remembers the last topic's subscribers (a stream repeats one topic, handed out as
 * one string object by the decoder): a subscription added or removed between two messages of the
 * same topic must be honoured at once, and every delivery must reach exactly the subscriptions a
 * fresh match would find.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeValue } from '../../src/codec/native/values.js';
import { string } from '../../src/data/constructors.js';
import { LocalSubscriptions, type LocalHandles } from '../../src/endpoint/local-subscriptions.js';

const noFailure = (topic: string, err: unknown): void => {
  throw new Error(`handler of ${topic} failed: ${String(err)}`);
};

describe('LocalSubscriptions', () => {
  it('honours a subscriber added or removed between two messages of the same topic', () => {
    const subs = new LocalSubscriptions();
    const topic = 'bench/pubsub/data';
    const bytes = encodeValue(string('v'));
    const got: string[] = [];
    const a = subs.add(['bench/'], () => got.push('a'));
    subs.deliver(topic, undefined, bytes, noFailure);
    expect(got).toEqual(['a']);
    const b = subs.add(['bench/pubsub'], () => got.push('b'));
    subs.deliver(topic, undefined, bytes, noFailure);
    expect(got).toEqual(['a', 'a', 'b']);
    subs.remove(a);
    subs.deliver(topic, undefined, bytes, noFailure);
    expect(got).toEqual(['a', 'a', 'b', 'b']);
    subs.remove(b);
    expect(subs.deliver(topic, undefined, bytes, noFailure)).toBeUndefined();
    expect(got).toEqual(['a', 'a', 'b', 'b']);
  });

  it('delivers a topic equal to the last one but another string object the same way', () => {
    const subs = new LocalSubscriptions();
    const got: string[] = [];
    subs.add(['x/'], (m) => got.push(m.topic));
    const bytes = encodeValue(string('v'));
    subs.deliver('x/yz', undefined, bytes, noFailure);
    subs.deliver(['x', 'yz'].join('/'), undefined, bytes, noFailure);
    subs.deliver('x/', undefined, bytes, noFailure);
    subs.deliver('y/', undefined, bytes, noFailure);
    expect(got).toEqual(['x/yz', 'x/yz', 'x/']);
  });

  it('a handler that unsubscribes itself and subscribes another during a delivery', () => {
    const subs = new LocalSubscriptions();
    const bytes = encodeValue(string('v'));
    const got: string[] = [];
    let first: LocalHandles = [];
    first = subs.add(['t'], () => {
      got.push('first');
      subs.remove(first);
      subs.add(['t'], () => got.push('second'));
    });
    subs.deliver('t', undefined, bytes, noFailure);
    subs.deliver('t', undefined, bytes, noFailure);
    expect(got).toEqual(['first', 'second']);
  });

  it('matches a fresh computation over any sequence of adds, removes and deliveries', () => {
    const prefixes = ['a', 'a/', 'a/b', 'b', '<$>/', '<$>/s', ''];
    const topics = ['a', 'a/b', 'a/b/c', 'b', 'bc', '<$>/s/x', 'c'];
    type Op =
      | { op: 'add'; prefixes: string[] }
      | { op: 'remove'; index: number }
      | { op: 'deliver'; topic: number; copy: boolean };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('add' as const), prefixes: fc.subarray(prefixes, { minLength: 1 }) }),
      fc.record({ op: fc.constant('remove' as const), index: fc.nat(20) }),
      fc.record({ op: fc.constant('deliver' as const), topic: fc.nat(topics.length - 1), copy: fc.boolean() }),
      fc.record({ op: fc.constant('deliver' as const), topic: fc.constant(1), copy: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const subs = new LocalSubscriptions();
        const bytes = encodeValue(string('v'));
        const live: { id: number; prefixes: string[]; handles: LocalHandles }[] = [];
        let next = 0;
        let got: number[] = [];
        for (const o of ops) {
          if (o.op === 'add') {
            const id = next++;
            live.push({ id, prefixes: o.prefixes, handles: subs.add(o.prefixes, () => got.push(id)) });
          } else if (o.op === 'remove') {
            if (live.length === 0) continue;
            const [s] = live.splice(o.index % live.length, 1);
            subs.remove(s!.handles);
          } else {
            const base = topics[o.topic]!;
            const topic = o.copy ? [...base].join('') : base;
            got = [];
            subs.deliver(topic, undefined, bytes, noFailure);
            const internal = topic.startsWith('<$>/');
            const want = live
              .filter((s) => s.prefixes.some((p) => topic.startsWith(p)))
              .filter((s) => !internal || s.prefixes.every((p) => p.startsWith('<$>/')))
              .map((s) => s.id);
            expect([...got].sort((x, y) => x - y)).toEqual(want);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
