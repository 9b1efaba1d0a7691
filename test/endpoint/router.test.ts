/** Router: link-state route computation from announcements, updates, and removal of routes. */
import { describe, expect, it } from 'vitest';
import { Router, type Announcement, type RouteChanges } from '../../src/endpoint/router.js';

const ann = (origin: string, version: number, neighbors: string[], filter: string[] = []): Announcement => ({
  origin,
  version,
  name: `node-${origin}`,
  filter,
  neighbors,
});

const ids = (xs: readonly Announcement[]): string[] => xs.map((a) => a.origin).sort();
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/**
 * A router for `self` fed with a whole graph: `graph` maps each node to its neighbours, `filters`
 * each node to its subscriptions. Every announcement has version 1.
 */
function routerFor(self: string, graph: Record<string, string[]>, filters: Record<string, string[]> = {}): Router {
  const r = new Router(self);
  r.setSelf(ann(self, 1, graph[self] ?? [], filters[self] ?? []));
  for (const [id, nbs] of Object.entries(graph)) if (id !== self) r.apply(ann(id, 1, nbs, filters[id] ?? []));
  return r;
}

describe('Router route computation', () => {
  it('routes a topic to the neighbour on the shortest path toward each subscriber', () => {
    // A - B - C - D, and A - E; D subscribes to "x/", E to "x/y".
    const r = routerFor(
      'A',
      { A: ['B', 'E'], B: ['A', 'C'], C: ['B', 'D'], D: ['C'], E: ['A'] },
      { D: ['x/'], E: ['x/y'] },
    );
    expect(sorted(r.routes('x/y/z'))).toEqual(['B', 'E']);
    expect(r.routes('x/q')).toEqual(['B']);
    expect(r.routes('other')).toEqual([]);
    expect(r.nextHop('D')).toBe('B');
    expect(r.nextHop('C')).toBe('B');
    expect(r.nextHop('E')).toBe('E');
    expect(ids(r.reachableEndpoints())).toEqual(['B', 'C', 'D', 'E']);
  });

  it('lists each next hop once even when several subscribers lie behind it', () => {
    const r = routerFor('A', { A: ['B'], B: ['A', 'C', 'D'], C: ['B'], D: ['B'] }, { B: ['t'], C: ['t'], D: ['t/'] });
    expect(r.routes('t/1')).toEqual(['B']);
  });

  it('picks the shorter of two paths (ring of five: the far side splits both ways)', () => {
    const ring = { A: ['B', 'E'], B: ['A', 'C'], C: ['B', 'D'], D: ['C', 'E'], E: ['D', 'A'] };
    const r = routerFor('A', ring, { C: ['c'], D: ['d'] });
    expect(r.nextHop('C')).toBe('B');
    expect(r.nextHop('D')).toBe('E');
    expect(r.routes('c')).toEqual(['B']);
    expect(r.routes('d')).toEqual(['E']);
  });

  it('never routes to itself: its own subscriptions do not make a route', () => {
    const r = routerFor('A', { A: ['B'], B: ['A'] }, { A: ['mine/'], B: ['b/'] });
    expect(r.routes('mine/1')).toEqual([]);
    expect(r.routes('b/1')).toEqual(['B']);
    expect(ids(r.reachableEndpoints())).toEqual(['B']);
  });

  it('uses only confirmed links: a neighbour that does not list us back is not reachable', () => {
    const r = routerFor('A', { A: ['B', 'C'], B: ['A', 'C'], C: [] }, { B: ['b'], C: ['c'] });
    expect(r.isReachable('B')).toBe(true);
    expect(r.isReachable('C')).toBe(false);
    expect(r.routes('c')).toEqual([]);
    expect(r.nextHop('C')).toBe('C'); // a direct neighbour is still its own next hop for control traffic
  });

  it('keeps internal topics apart: a subscriber of "" never gets <$>/ topics', () => {
    const r = routerFor('A', { A: ['B', 'C'], B: ['A'], C: ['A'] }, { B: [''], C: ['<$>/store/'] });
    expect(r.routes('anything')).toEqual(['B']);
    expect(r.routes('<$>/store/kv')).toEqual(['C']);
  });
});

describe('Router updates', () => {
  it('reports endpoints discovered and lost, and ignores announcements that are not newer', () => {
    const r = new Router('A');
    let ch: RouteChanges | undefined = r.setSelf(ann('A', 1, ['B']));
    expect(ch).toEqual({ discovered: [], unreachable: [] });
    ch = r.apply(ann('B', 5, ['A', 'C'], ['b']));
    expect(ids(ch!.discovered)).toEqual(['B']);
    ch = r.apply(ann('C', 1, ['B'], ['c']));
    expect(ids(ch!.discovered)).toEqual(['C']);
    expect(r.routes('c')).toEqual(['B']);

    // Old news: same or lower version, or our own origin.
    expect(r.apply(ann('B', 5, ['A'], ['b']))).toBeUndefined();
    expect(r.apply(ann('B', 4, ['A'], ['b']))).toBeUndefined();
    expect(r.apply(ann('A', 99, []))).toBeUndefined();
    expect(r.isReachable('C')).toBe(true);
    expect(r.get('B')!.version).toBe(5);

    // B drops its link to C: C becomes unreachable and its routes disappear.
    ch = r.apply(ann('B', 6, ['A'], ['b']));
    expect(ids(ch!.unreachable)).toEqual(['C']);
    expect(ch!.discovered).toEqual([]);
    expect(r.isReachable('C')).toBe(false);
    expect(r.routes('c')).toEqual([]);
    expect(r.nextHop('C')).toBeUndefined();
    expect(r.routes('b')).toEqual(['B']);
  });

  it('follows a subscription change of a remote endpoint (new and withdrawn prefixes)', () => {
    const r = routerFor('A', { A: ['B'], B: ['A', 'C'], C: ['B'] }, { C: ['old/'] });
    expect(r.routes('old/1')).toEqual(['B']); // cached now
    r.apply(ann('C', 2, ['B'], ['new/']));
    expect(r.routes('old/1')).toEqual([]);
    expect(r.routes('new/1')).toEqual(['B']);
  });

  it('moves routes to the other way round a ring when a link breaks', () => {
    const ring = { A: ['B', 'D'], B: ['A', 'C'], C: ['B', 'D'], D: ['C', 'A'] };
    const r = routerFor('A', ring, { C: ['c'] });
    const first = r.nextHop('C');
    expect(['B', 'D']).toContain(first);
    expect(r.routes('c')).toEqual([first]);
    const other = first === 'B' ? 'D' : 'B';
    // The link first–C breaks: C announces without it.
    const ch = r.apply(ann('C', 2, [other], ['c']));
    expect(ch).toEqual({ discovered: [], unreachable: [] });
    expect(r.nextHop('C')).toBe(other);
    expect(r.routes('c')).toEqual([other]);
  });

  it('removes every route through a neighbour we disconnect from', () => {
    const r = routerFor('A', { A: ['B', 'E'], B: ['A', 'C'], C: ['B'], E: ['A'] }, { B: ['t'], C: ['t'], E: ['e'] });
    expect(r.routes('t')).toEqual(['B']);
    const ch = r.setSelf(ann('A', 2, ['E']));
    expect(ids(ch.unreachable)).toEqual(['B', 'C']);
    expect(r.routes('t')).toEqual([]);
    expect(r.routes('e')).toEqual(['E']);
    expect(r.nextHop('B')).toBeUndefined();
    expect(ids(r.reachableEndpoints())).toEqual(['E']);
    // Reconnecting restores them.
    const back = r.setSelf(ann('A', 3, ['E', 'B']));
    expect(ids(back.discovered)).toEqual(['B', 'C']);
    expect(r.routes('t')).toEqual(['B']);
  });

  it('all() returns every known announcement including its own', () => {
    const r = routerFor('A', { A: ['B'], B: ['A'] });
    expect(ids(r.all())).toEqual(['A', 'B']);
  });
});
