/**
 * Cluster pools: FNV-1a and HRW against a plain BigInt reference written here, pool membership as
 * Zeek's pools.zeek computes it, liveness, round-robin cursors, and the topic helpers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LOGGER_POOL_SPEC,
  PROXY_POOL_SPEC,
  Pool,
  PoolRegistry,
  ValueError,
  WORKER_POOL_SPEC,
  address,
  boolean,
  count,
  fnv1a32,
  hrwTopic,
  integer,
  nodeTopic,
  nodeidTopic,
  real,
  roleTopic,
  rrTopic,
  string,
  type HrwKey,
  type PoolSpec,
} from 'isobroker';
import { LOGGER_TOPIC, MANAGER_TOPIC, PROXY_TOPIC, WORKER_TOPIC, hrwSelect, hrwWeight } from '../../src/internal.js';

// ---- an independent reference: the bytes Zeek hashes, FNV-1a and the HRW weight in BigInt ----

const M32 = 1n << 32n;

function tagged(tag: number, fill: (v: DataView) => void): Uint8Array {
  const v = new DataView(new ArrayBuffer(12));
  v.setInt32(0, tag, true);
  fill(v);
  return new Uint8Array(v.buffer);
}

/** The bytes Zeek's fnv1a32 reads for a key (string: raw bytes; others: type tag + value). */
function refBytes(k: HrwKey): Uint8Array {
  if (typeof k === 'string') return new TextEncoder().encode(k);
  if (k instanceof Uint8Array) return k;
  if (typeof k === 'bigint') return tagged(3, (v) => v.setBigUint64(4, k, true));
  if (typeof k === 'boolean') return tagged(1, (v) => v.setBigInt64(4, k ? 1n : 0n, true));
  if (typeof k === 'number') return tagged(4, (v) => v.setFloat64(4, k, true));
  switch (k.type) {
    case 'string':
      return new TextEncoder().encode(k.value);
    case 'count':
      return tagged(3, (v) => v.setBigUint64(4, k.value, true));
    case 'integer':
      return tagged(2, (v) => v.setBigInt64(4, k.value, true));
    case 'real':
      return tagged(4, (v) => v.setFloat64(4, k.value, true));
    case 'boolean':
      return tagged(1, (v) => v.setBigInt64(4, k.value ? 1n : 0n, true));
    default:
      throw new Error(`no reference for ${k.type}`);
  }
}

function refFnv(k: HrwKey): bigint {
  let h = 2166136261n;
  for (const b of refBytes(k)) h = ((h ^ BigInt(b)) * 16777619n) % M32;
  return h;
}

function refWeight(digest: bigint, site: bigint): bigint {
  const A = 1103515245n;
  const B = 12345n;
  const d = digest & 0x7fffffffn;
  const inner = (A * site + B) % M32;
  return ((A * (inner ^ d) + B) % M32) % (1n << 31n);
}

/** Site ids as init_pool_node assigns them, for names added in this order. */
function refSites(names: readonly string[]): Map<string, bigint> {
  const ids = new Map<string, bigint>();
  for (const name of names) {
    const used = new Set(ids.values());
    let c = 0;
    while (used.has(refFnv(`${name}.${c}`))) c++;
    ids.set(name, refFnv(`${name}.${c}`));
  }
  return ids;
}

/** Candidates ordered by HRW preference for `key`: highest weight first, ties to the larger id. */
function refRanking(key: HrwKey, sites: Map<string, bigint>, candidates: readonly string[]): string[] {
  const d = refFnv(key);
  const scored = candidates.map((n) => ({ n, id: sites.get(n)!, w: refWeight(d, sites.get(n)!) }));
  scored.sort((a, b) => (a.w !== b.w ? (a.w > b.w ? -1 : 1) : a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
  return scored.map((s) => s.n);
}

// ---- generators ----

const keyArb: fc.Arbitrary<HrwKey> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ maxLength: 24 }),
  fc.uint8Array({ maxLength: 24 }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.boolean(),
  fc.double(),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => count(v)),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => integer(v)),
  fc.double().map((v) => real(v)),
  fc.boolean().map((v) => boolean(v)),
  fc.string({ maxLength: 24 }).map((v) => string(v)),
);
const namesArb = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { minLength: 1, maxLength: 8 });

// ---- hashing ----

describe('fnv1a32 and hrwWeight against the BigInt reference', () => {
  it('fnv1a32 equals the reference for random keys of every accepted form', () => {
    fc.assert(
      fc.property(keyArb, (k) => fnv1a32(k) === Number(refFnv(k))),
      { numRuns: 2000 },
    );
  });

  it('hrwWeight equals the reference for random digests and site ids', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(u32, u32, (d, s) => hrwWeight(d, s) === Number(refWeight(BigInt(d), BigInt(s)))),
      {
        numRuns: 5000,
      },
    );
    expect(hrwWeight(0xffffffff, 0xffffffff)).toBe(Number(refWeight(0xffffffffn, 0xffffffffn)));
  });

  it('hashes a string by its UTF-8 bytes, a lone surrogate as U+FFFD', () => {
    expect(fnv1a32('h\u00e9\u20ac\u{1f600}')).toBe(fnv1a32(new TextEncoder().encode('h\u00e9\u20ac\u{1f600}')));
    expect(fnv1a32('a\ud800b')).toBe(fnv1a32('a\ufffdb'));
    expect(fnv1a32('x')).toBe(fnv1a32(string('x')));
  });

  it('a JS number is a double, not a count', () => {
    expect(fnv1a32(5)).toBe(fnv1a32(real(5)));
    expect(fnv1a32(5)).not.toBe(fnv1a32(count(5)));
    expect(fnv1a32(5n)).toBe(fnv1a32(count(5)));
  });

  it('rejects keys it cannot hash the way Zeek does', () => {
    expect(() => fnv1a32(address('10.0.0.1'))).toThrow(ValueError);
    expect(() => fnv1a32(-1n)).toThrow(ValueError);
    expect(() => fnv1a32(1n << 64n)).toThrow(ValueError);
  });

  it('a weight tie goes to the larger site id', () => {
    // Build two sites whose 32-bit results differ only in bit 31, so their 31-bit weights tie.
    const A = 1103515245n;
    const B = 12345n;
    const inv = (a: bigint): bigint => {
      let [r0, r1, s0, s1] = [a, M32, 1n, 0n];
      while (r1 !== 0n) {
        const q = r0 / r1;
        [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
      }
      return ((s0 % M32) + M32) % M32;
    };
    const Ainv = inv(A);
    const siteFor = (w32: bigint, d: bigint): bigint => {
      const mixed = (((((w32 - B) % M32) + M32) % M32) * Ainv) % M32;
      const inner = mixed ^ d;
      return (((((inner - B) % M32) + M32) % M32) * Ainv) % M32;
    };
    const d = BigInt(fnv1a32('tie')) & 0x7fffffffn;
    const s1 = siteFor(0x12345678n, d);
    const s2 = siteFor(0x92345678n, d);
    expect(hrwWeight(Number(d), Number(s1))).toBe(0x12345678);
    expect(hrwWeight(Number(d), Number(s2))).toBe(0x12345678);
    // biome-ignore lint/complexity/useMathMinMax: site ids are bigints, which Math.max does not take
    const larger = Number(s1 > s2 ? s1 : s2);
    expect(hrwSelect(Number(d), [Number(s1), Number(s2)])).toBe(larger);
    expect(hrwSelect(Number(d), [Number(s2), Number(s1)])).toBe(larger);
  });
});

// ---- HRW over pools ----

function poolOf(names: readonly string[], local = '', alive: readonly string[] = names): Pool {
  const pool = new Pool(PROXY_POOL_SPEC, local);
  for (const n of names) pool.addNode(n);
  for (const n of alive) pool.markAlive(n);
  return pool;
}

describe('hrwTopic', () => {
  it('picks the reference winner among alive members other than the local node', () => {
    fc.assert(
      fc.property(
        namesArb,
        fc.nat(),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(keyArb, { maxLength: 20 }),
        (names, l, up, keys) => {
          const local = l % 2 === 0 ? names[l % names.length]! : '';
          const alive = names.filter((_, i) => up[i]);
          const pool = poolOf(names, local, alive);
          const sites = refSites(names);
          const candidates = alive.filter((n) => n !== local);
          for (const k of keys) {
            const best = refRanking(k, sites, candidates)[0];
            expect(hrwTopic(pool, k)).toBe(best === undefined ? '' : nodeTopic(best));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a dead node's keys move to their next-highest weight, the others stay, and return moves them back", () => {
    fc.assert(
      fc.property(
        namesArb.filter((n) => n.length >= 2),
        fc.nat(),
        fc.array(keyArb, { minLength: 1, maxLength: 40 }),
        (names, v, keys) => {
          const pool = poolOf(names);
          const sites = refSites(names);
          const victim = names[v % names.length]!;
          const before = keys.map((k) => hrwTopic(pool, k));
          pool.markDead(victim);
          keys.forEach((k, i) => {
            const ranking = refRanking(k, sites, names);
            if (before[i] === nodeTopic(victim)) {
              expect(ranking[0]).toBe(victim);
              expect(hrwTopic(pool, k)).toBe(nodeTopic(ranking[1]!));
            } else {
              expect(hrwTopic(pool, k)).toBe(before[i]);
            }
          });
          pool.markAlive(victim);
          expect(keys.map((k) => hrwTopic(pool, k))).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is the empty string when no member is alive, or only the local node', () => {
    expect(hrwTopic(poolOf(['p1', 'p2'], '', []), 'k')).toBe('');
    expect(hrwTopic(poolOf(['p1'], 'p1'), 'k')).toBe('');
    expect(hrwTopic(new Pool(PROXY_POOL_SPEC), 'k')).toBe('');
  });

  it('never puts the local node in its HRW set, while round-robin may pick it', () => {
    // Seen from proxy-1 (init_pool_node marks only Cluster::node alive; node_up adds the others).
    const reg = new PoolRegistry({ localNode: 'proxy-1' });
    for (const [n, r] of [
      ['manager', 'manager'],
      ['proxy-1', 'proxy'],
      ['proxy-2', 'proxy'],
    ] as const)
      reg.addNode(n, r);
    reg.distribute();
    const pool = reg.proxyPool;
    expect(pool.nodes.map((n) => [n.name, n.alive])).toEqual([
      ['proxy-1', true],
      ['proxy-2', false],
    ]);
    expect(pool.aliveCount).toBe(1);
    expect(hrwTopic(pool, count(1))).toBe('');
    expect([rrTopic(pool), rrTopic(pool)]).toEqual([nodeTopic('proxy-1'), nodeTopic('proxy-1')]);
    reg.markAlive('manager');
    reg.markAlive('proxy-2');
    reg.markAlive('proxy-1');
    expect(pool.hrwNodes).toEqual(['proxy-2']);
    for (const k of [0, 1, 2, 3, 13, 37, 42, 101]) expect(hrwTopic(pool, count(k))).toBe(nodeTopic('proxy-2'));
    // The cursor of key "" stayed at index 1 (proxy-2) while proxy-2 was down.
    expect([rrTopic(pool), rrTopic(pool), rrTopic(pool)]).toEqual(
      ['proxy-2', 'proxy-1', 'proxy-2'].map((n) => nodeTopic(n)),
    );
  });

  it('resolves site id collisions with the next alias, as init_pool_node does', () => {
    // Two names whose "<name>.0" hash alike (found by a birthday search over `n<i>`).
    const [first, second] = ['n512789', 'n749192'];
    expect(fnv1a32(`${first}.0`)).toBe(fnv1a32(`${second}.0`));
    expect(refFnv(`${first}.0`)).toBe(refFnv(`${second}.0`));
    const pool = poolOf([first, second]);
    expect(pool.nodes.map((n) => [n.alias, n.siteId])).toEqual([
      [`${first}.0`, fnv1a32(`${first}.0`)],
      [`${second}.1`, fnv1a32(`${second}.1`)],
    ]);
    expect(new Set(pool.hrwNodes)).toEqual(new Set([first, second]));
    const ranked = refRanking('k', refSites([first, second]), [first, second]);
    expect(hrwTopic(pool, 'k')).toBe(nodeTopic(ranked[0]!));
  });
});

// ---- round-robin ----

describe('rrTopic', () => {
  const t = (n: string): string => nodeTopic(n);

  it('keeps one cursor per key, starting at the first member', () => {
    const pool = poolOf(['p1', 'p2', 'p3']);
    expect([
      rrTopic(pool, 'a'),
      rrTopic(pool, 'a'),
      rrTopic(pool, 'b'),
      rrTopic(pool, 'a'),
      rrTopic(pool, 'a'),
    ]).toEqual([t('p1'), t('p2'), t('p1'), t('p3'), t('p1')]);
    expect([rrTopic(pool), rrTopic(pool, ''), rrTopic(pool, 'b')]).toEqual([t('p1'), t('p2'), t('p2')]);
  });

  it('skips dead members; with none alive returns "" and keeps the cursor', () => {
    const pool = poolOf(['p1', 'p2', 'p3']);
    pool.markDead('p2');
    expect([rrTopic(pool, 'k'), rrTopic(pool, 'k'), rrTopic(pool, 'k')]).toEqual([t('p1'), t('p3'), t('p1')]);
    // The cursor now points at p2 (index 1).
    pool.markDead('p1');
    pool.markDead('p3');
    expect([rrTopic(pool, 'k'), rrTopic(pool, 'k')]).toEqual(['', '']);
    pool.markAlive('p1');
    pool.markAlive('p2');
    expect([rrTopic(pool, 'k'), rrTopic(pool, 'k')]).toEqual([t('p2'), t('p1')]);
    expect(rrTopic(new Pool(PROXY_POOL_SPEC), 'k')).toBe('');
  });
});

// ---- membership: pools.zeek's zeek_init (priority -5) ----

function registry(
  nodes: Record<string, 'manager' | 'logger' | 'proxy' | 'worker'>,
  specs: PoolSpec[] = [],
  managerIsLogger?: boolean,
): {
  reg: PoolRegistry;
  pools: Pool[];
} {
  const reg = new PoolRegistry(managerIsLogger === undefined ? {} : { managerIsLogger });
  for (const [name, role] of Object.entries(nodes)) reg.addNode(name, role);
  const pools = specs.map((s) => reg.registerPool(s));
  reg.distribute();
  return { reg, pools };
}
const members = (p: Pool): string[] => p.nodes.map((n) => n.name);

describe('pool membership as pools.zeek assigns it', () => {
  it('the standard pools have Zeek’s specs', () => {
    expect(PROXY_POOL_SPEC).toEqual({ topic: 'zeek/cluster/pool/proxy', nodeType: 'proxy' });
    expect(WORKER_POOL_SPEC).toEqual({ topic: 'zeek/cluster/pool/worker', nodeType: 'worker' });
    expect(LOGGER_POOL_SPEC).toEqual({ topic: 'zeek/cluster/pool/logger', nodeType: 'logger' });
  });

  it('standard pools hold every node of their role, sorted by name (nodes_with_type)', () => {
    const { reg } = registry({
      'worker-3': 'worker',
      manager: 'manager',
      'proxy-2': 'proxy',
      'worker-1': 'worker',
      'logger-2': 'logger',
      'proxy-1': 'proxy',
      'worker-2': 'worker',
      'logger-1': 'logger',
    });
    expect(members(reg.workerPool)).toEqual(['worker-1', 'worker-2', 'worker-3']);
    expect(members(reg.proxyPool)).toEqual(['proxy-1', 'proxy-2']);
    expect(members(reg.loggerPool)).toEqual(['logger-1', 'logger-2']); // 'auto': loggers exist
    expect(reg.pools.map((p) => p.spec.topic)).toEqual([
      'zeek/cluster/pool/logger',
      'zeek/cluster/pool/proxy',
      'zeek/cluster/pool/worker',
    ]);
  });

  it('manager_is_logger appends the manager to the logger pool’s eligible nodes', () => {
    expect(members(registry({ manager: 'manager', 'proxy-1': 'proxy' }).reg.loggerPool)).toEqual(['manager']);
    expect(members(registry({ manager: 'manager', 'proxy-1': 'proxy' }, [], false).reg.loggerPool)).toEqual([]);
    expect(
      members(registry({ manager: 'manager', 'logger-2': 'logger', 'logger-1': 'logger' }, [], true).reg.loggerPool),
    ).toEqual(['logger-1', 'logger-2', 'manager']);
  });

  it('shared pools take nodes from a rotating cursor, in topic order', () => {
    // Sorted by topic: "a/two" (max 2) takes proxy-1, proxy-2; the cursor is then at proxy-3, so
    // the standard pool's list starts there: proxy-3, proxy-1, proxy-2.
    const proxies = { 'proxy-1': 'proxy', 'proxy-2': 'proxy', 'proxy-3': 'proxy' } as const;
    const { reg, pools } = registry(proxies, [{ topic: 'a/two', nodeType: 'proxy', maxNodes: 2 }]);
    expect(members(pools[0]!)).toEqual(['proxy-1', 'proxy-2']);
    expect(members(reg.proxyPool)).toEqual(['proxy-3', 'proxy-1', 'proxy-2']);
    for (const n of ['proxy-1', 'proxy-2', 'proxy-3']) reg.markAlive(n);
    expect(rrTopic(reg.proxyPool, 'k')).toBe(nodeTopic('proxy-3'));
    // Registration order does not matter, only topic order: "b/one" takes proxy-1, the standard
    // pool three nodes from proxy-2 on, and "zz/one" (after "zeek/…") proxy-2 again.
    const later = registry(proxies, [
      { topic: 'zz/one', nodeType: 'proxy', maxNodes: 1 },
      { topic: 'b/one', nodeType: 'proxy', maxNodes: 1 },
    ]);
    expect(later.pools.map(members)).toEqual([['proxy-2'], ['proxy-1']]);
    expect(members(later.reg.proxyPool)).toEqual(['proxy-2', 'proxy-3', 'proxy-1']);
  });

  it('topics sort bytewise (strcmp), not by UTF-16 code units', () => {
    // U+FF01 is EF BC 81 in UTF-8 and sorts before U+1F600 (F0 9F 98 80); in UTF-16 it is after.
    const { pools } = registry({ p1: 'proxy', p2: 'proxy' }, [
      { topic: '\u{1f600}/pool', nodeType: 'proxy', maxNodes: 1 },
      { topic: '\uff01/pool', nodeType: 'proxy', maxNodes: 1 },
    ]);
    expect(pools.map(members)).toEqual([['p2'], ['p1']]);
  });

  it('exclusive pools first take the first maxNodes eligible nodes, which shared pools then lack', () => {
    // Sorted: b/excl, c/shared, x/excl, zeek/cluster/pool/proxy. Exclusive pass: b/excl takes
    // p1, p2; x/excl takes p3. Shared pass over [p4]: c/shared (max 1) takes p4, the standard
    // pool takes p4 too.
    const { reg, pools } = registry({ p1: 'proxy', p2: 'proxy', p3: 'proxy', p4: 'proxy', w1: 'worker' }, [
      { topic: 'x/excl', nodeType: 'proxy', maxNodes: 1, exclusive: true },
      { topic: 'b/excl', nodeType: 'proxy', maxNodes: 2, exclusive: true },
      { topic: 'c/shared', nodeType: 'proxy', maxNodes: 1 },
    ]);
    expect(pools.map(members)).toEqual([['p3'], ['p1', 'p2'], ['p4']]);
    expect(members(reg.proxyPool)).toEqual(['p4']);
    expect(members(reg.workerPool)).toEqual(['w1']);
  });

  it('cursors are per role; maxNodes 0 gives an empty pool, a large maxNodes every node', () => {
    const { reg, pools } = registry({ p1: 'proxy', p2: 'proxy', w1: 'worker', w2: 'worker', w3: 'worker' }, [
      { topic: 'a/p', nodeType: 'proxy', maxNodes: 1 },
      { topic: 'a/w', nodeType: 'worker', maxNodes: 2 },
      { topic: 'a/none', nodeType: 'worker', maxNodes: 0 },
      { topic: 'b/w', nodeType: 'worker', maxNodes: 10 },
    ]);
    expect(pools.map(members)).toEqual([['p1'], ['w1', 'w2'], [], ['w3', 'w1', 'w2']]);
    expect(members(reg.proxyPool)).toEqual(['p2', 'p1']);
    expect(members(reg.workerPool)).toEqual(['w3', 'w1', 'w2']);
  });

  it('stops where Zeek stops with Reporter::fatal', () => {
    expect(() => new PoolRegistry().registerPool({ topic: 't', nodeType: 'proxy', exclusive: true })).toThrow(
      /max_?nodes/i,
    );
    expect(() => new PoolRegistry().registerPool({ topic: 't', nodeType: 'manager' })).toThrow(
      /invalid pool node type/,
    );
    expect(() => new PoolRegistry().registerPool({ topic: 't', nodeType: 'proxy', maxNodes: -1 })).toThrow(ValueError);
    expect(() =>
      registry({ p1: 'proxy' }, [
        { topic: 'a', nodeType: 'proxy', maxNodes: 1, exclusive: true },
        { topic: 'b', nodeType: 'proxy', maxNodes: 1, exclusive: true },
      ]),
    ).toThrow(/not enough proxy nodes .* need 2 nodes/);
  });

  it('membership is fixed once distributed; liveness given before is kept', () => {
    const reg = new PoolRegistry({ localNode: 'manager' });
    reg.addNode('manager', 'manager');
    reg.addNode('p1', 'proxy');
    reg.addNode('p2', 'proxy');
    expect(() => reg.addNode('p1', 'proxy')).toThrow(ValueError);
    expect(reg.markAlive('p2', 'endpoint-2')).toBe(true);
    expect(reg.markAlive('nobody')).toBe(false);
    reg.distribute();
    expect(reg.proxyPool.hrwNodes).toEqual(['p2']);
    expect(reg.node('p2')).toEqual({ name: 'p2', role: 'proxy', alive: true, id: 'endpoint-2' });
    expect(reg.node('manager')?.alive).toBe(true);
    expect(() => reg.distribute()).toThrow(ValueError);
    expect(() => reg.addNode('p3', 'proxy')).toThrow(ValueError);
    expect(() => reg.registerPool({ topic: 'late', nodeType: 'proxy' })).toThrow(ValueError);
    expect(reg.markDead('p2')).toBe(true);
    expect(reg.node('p2')).toEqual({ name: 'p2', role: 'proxy', alive: false, id: undefined });
    expect(reg.proxyPool.hrwNodes).toEqual([]);
  });

  it('a node down leaves every pool at once', () => {
    const { reg, pools } = registry({ p1: 'proxy', p2: 'proxy' }, [{ topic: 'a/extra', nodeType: 'proxy' }]);
    reg.markAlive('p1');
    reg.markAlive('p2');
    reg.markDead('p1');
    for (const pool of [reg.proxyPool, pools[0]!]) {
      expect(pool.hrwNodes).toEqual(['p2']);
      expect(pool.nodes.find((n) => n.name === 'p1')?.alive).toBe(false);
    }
  });
});

describe('cluster topics', () => {
  it('match Zeek’s names', () => {
    expect(nodeTopic('logger-1')).toBe('zeek/cluster/node/logger-1/');
    expect(nodeidTopic('abc')).toBe('zeek/cluster/nodeid/abc/');
    expect([MANAGER_TOPIC, LOGGER_TOPIC, PROXY_TOPIC, WORKER_TOPIC]).toEqual([
      'zeek/cluster/manager',
      'zeek/cluster/logger',
      'zeek/cluster/proxy',
      'zeek/cluster/worker',
    ]);
    expect(roleTopic('worker')).toBe(WORKER_TOPIC);
    expect(roleTopic('manager')).toBe(MANAGER_TOPIC);
  });
});
