/**
 * Zeek's own test baselines for FNV-1a and HRW: every vector of test/fixtures/vectors/hrw.json,
 * plus the remaining lines of the baselines it was taken from (zeek/zeek testing/btest/Baseline/…).
 */
import { describe, expect, it } from 'vitest';
import { PoolRegistry, boolean, count, fnv1a32, hrwTopic, nodeTopic, real, rrTopic, type HrwKey } from 'isobroker';
import { hrwSite } from '../../src/internal.js';
import { readJsonFixture } from '../support/fixtures.js';

type VectorKey = string | { count: number } | { double: number } | { bool: boolean };

interface HrwVectors {
  fnv1a32: [VectorKey, string][];
  hrw_sites_by_id: {
    sites: Record<string, string>;
    expect: [VectorKey, string][];
    after_removing_site_0: [VectorKey, string][];
  };
  proxy_pool: {
    nodes: string[];
    site_id: string;
    expect: [VectorKey, string][];
    proxy_1_down: string;
    none_alive: string;
  };
  round_robin: { nodes: string[]; key: string; expect_sequence: string[] };
}

const vectors = readJsonFixture<HrwVectors>('vectors/hrw.json');

/** A vector key as the Zeek value it stands for. */
function key(k: VectorKey): HrwKey {
  if (typeof k === 'string') return k;
  if ('count' in k) return count(k.count);
  if ('double' in k) return real(k.double);
  return boolean(k.bool);
}

const show = (k: VectorKey): string => JSON.stringify(k);

describe('hrw.json: fnv1a32', () => {
  it('has the sections this suite knows', () => {
    expect(Object.keys(vectors).sort()).toEqual(['about', 'fnv1a32', 'hrw_sites_by_id', 'proxy_pool', 'round_robin']);
  });

  it.each(vectors.fnv1a32.map(([k, h]) => [show(k), k, h] as const))('fnv1a32(%s)', (_, k, hex) => {
    expect(fnv1a32(key(k))).toBe(Number.parseInt(hex, 16));
  });

  it('plain JS keys map to the same Zeek values: bigint → count, boolean → bool, number → double', () => {
    expect(fnv1a32(123n)).toBe(0xc5b442fd);
    expect(fnv1a32(123)).toBe(0x15d2016f);
    expect(fnv1a32(true)).toBe(0x6c1151a5);
    expect(fnv1a32(false)).toBe(0x0eaff284);
  });

  // testing/btest/Baseline/bifs.fnv1a_hash/out: the lines hrw.json does not repeat.
  it('matches the rest of the bifs.fnv1a_hash baseline', () => {
    expect(fnv1a32('a very very long input sort of')).toBe(0xd14bf21b);
    expect(fnv1a32('123')).toBe(0x7238631b);
    expect(fnv1a32('T')).toBe(0xd10c0b43);
    expect(fnv1a32(new Uint8Array([0x66, 0x6f, 0x6f, 0x62, 0x61, 0x72]))).toBe(0xbf9cf968);
    expect(fnv1a32(new Uint8Array([1, 2, 3, 4]))).toBe(0x5734a87d);
  });
});

describe('hrw.json: hrw_sites_by_id (HashHRW::get_site)', () => {
  const { sites, expect: expected, after_removing_site_0 } = vectors.hrw_sites_by_id;
  const ids = (without: number[] = []): number[] =>
    Object.keys(sites)
      .map(Number)
      .filter((id) => !without.includes(id));
  const name = (id: number | undefined): string | undefined => (id === undefined ? undefined : sites[String(id)]);

  it.each(expected.map(([k, n]) => [show(k), k, n] as const))('get_site(%s)', (_, k, site) => {
    expect(name(hrwSite(key(k), ids()))).toBe(site);
  });

  it.each(after_removing_site_0.map(([k, n]) => [show(k), k, n] as const))(
    'after removing site 0: get_site(%s)',
    (_, k, site) => {
      expect(name(hrwSite(key(k), ids([0])))).toBe(site);
    },
  );

  // testing/btest/Baseline/scripts.base.utils.hash_hrw/output: ids 0..4 with charlie (2) removed,
  // then alice (0) removed, then added back. Count keys are Zeek counts.
  it('matches the whole scripts.base.utils.hash_hrw baseline', () => {
    const keys: HrwKey[] = ['one', 'two', 'three', 'four', 'four', 'five', 'six', count(1), count(2), count(3)];
    const all = { 0: 'alice', 1: 'bob', 3: 'dave', 4: 'eve' } as Record<number, string>;
    const run = (idList: number[]): (string | undefined)[] => keys.map((k) => all[hrwSite(k, idList) ?? -1]);
    const before = ['alice', 'dave', 'bob', 'bob', 'bob', 'dave', 'dave', 'bob', 'alice', 'bob'];
    expect(run([0, 1, 3, 4])).toEqual(before);
    expect(run([1, 3, 4])).toEqual(['bob', 'dave', 'bob', 'bob', 'bob', 'dave', 'dave', 'bob', 'eve', 'bob']);
    expect(run([1, 3, 4, 0])).toEqual(before);
  });

  it('an empty site set has no site', () => {
    expect(hrwSite('one', [])).toBeUndefined();
  });
});

/**
 * The layout of Zeek's topic_distribution btest (testing/btest/Files/broker/cluster-layout.zeek
 * with BROKER_MANAGER_PORT, BROKER_PROXY1_PORT, BROKER_PROXY2_PORT), seen from the manager.
 */
function managerView(): PoolRegistry {
  const reg = new PoolRegistry({ localNode: 'manager', managerIsLogger: true });
  reg.addNode('manager', 'manager');
  for (const p of vectors.proxy_pool.nodes) reg.addNode(p, 'proxy');
  reg.distribute();
  for (const p of vectors.proxy_pool.nodes) reg.markAlive(p);
  return reg;
}

describe('hrw.json: proxy_pool', () => {
  it('site ids are fnv1a32(name + ".0")', () => {
    expect(vectors.proxy_pool.site_id).toBe("fnv1a32(name + '.0')");
    const pool = managerView().proxyPool;
    expect(pool.nodes.map((n) => [n.name, n.alias, n.siteId])).toEqual([
      ['proxy-1', 'proxy-1.0', 0xa214084f],
      ['proxy-2', 'proxy-2.0', 0x6587c75e],
    ]);
  });

  it.each(vectors.proxy_pool.expect.map(([k, n]) => [show(k), k, n] as const))(
    'hrw_topic(proxy_pool, %s)',
    (_, k, node) => {
      expect(hrwTopic(managerView().proxyPool, key(k))).toBe(nodeTopic(node));
    },
  );

  it('proxy_1_down: every key goes to proxy-2', () => {
    expect(vectors.proxy_pool.proxy_1_down).toBe('every key goes to proxy-2');
    const reg = managerView();
    reg.markDead('proxy-1');
    for (const [k] of vectors.proxy_pool.expect) expect(hrwTopic(reg.proxyPool, key(k))).toBe(nodeTopic('proxy-2'));
  });

  it('none_alive: the hrw topic is the empty string', () => {
    const reg = managerView();
    for (const p of vectors.proxy_pool.nodes) reg.markDead(p);
    for (const [k] of vectors.proxy_pool.expect) expect(hrwTopic(reg.proxyPool, key(k))).toBe('');
  });

  // testing/btest/Baseline/scripts.base.frameworks.cluster.topic_distribution/manager..stdout:
  // print_stuff() with both proxies up, after proxy-1 went down, after both went down. The
  // round-robin cursor of key "test" carries over between the three rounds.
  it('reproduces the whole topic_distribution transcript', () => {
    const reg = managerView();
    const pool = reg.proxyPool;
    const keys = [0, 1, 2, 3, 13, 37, 42, 101].map((n) => count(n));
    const printStuff = (): string[] => [
      ...keys.map((k) => hrwTopic(pool, k)),
      ...keys.map(() => rrTopic(pool, 'test')),
      ...keys.map((k) => hrwTopic(pool, k)),
    ];
    const [p1, p2] = [nodeTopic('proxy-1'), nodeTopic('proxy-2')];
    const hrw1 = [p2, p1, p2, p2, p1, p1, p1, p1];
    expect(printStuff()).toEqual([...hrw1, p1, p2, p1, p2, p1, p2, p1, p2, ...hrw1]);
    reg.markDead('proxy-1');
    expect(printStuff()).toEqual(Array<string>(24).fill(p2));
    reg.markDead('proxy-2');
    expect(printStuff()).toEqual(Array<string>(24).fill(''));
  });
});

describe('hrw.json: round_robin', () => {
  it('key "test" alternates from the first node', () => {
    const pool = managerView().proxyPool;
    const { key: rrKey, expect_sequence } = vectors.round_robin;
    expect(expect_sequence.map(() => rrTopic(pool, rrKey))).toEqual(expect_sequence.map((n) => nodeTopic(n)));
  });
});

// testing/btest/cluster/generic/publish-hrw.zeek with Files/zeromq/cluster-layout-no-logger.zeek:
// the manager sends keys cat(0)..cat(9) (strings) to the worker pool; the worker baselines show
// worker-1 got 1, 3, 4, 6, 8, 9 and worker-2 got 0, 2, 5, 7.
describe('cluster.generic.publish-hrw baseline', () => {
  it('string keys "0".."9" land where Zeek sent them', () => {
    const reg = new PoolRegistry({ localNode: 'manager', managerIsLogger: true });
    reg.addNode('manager', 'manager');
    reg.addNode('proxy', 'proxy');
    reg.addNode('worker-1', 'worker');
    reg.addNode('worker-2', 'worker');
    reg.distribute();
    reg.markAlive('worker-1');
    reg.markAlive('worker-2');
    const got = Array.from({ length: 10 }, (_, i) => hrwTopic(reg.workerPool, String(i)));
    const w = (n: number): string => nodeTopic(`worker-${n}`);
    expect(got).toEqual([w(2), w(1), w(2), w(1), w(1), w(2), w(1), w(2), w(1), w(1)]);
  });
});
