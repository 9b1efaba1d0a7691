/**
 * Cluster pools as Zeek builds and uses them (scripts/base/frameworks/cluster/pools.zeek), so a
 * TS node sends a key to the same node a Zeek node would:
 *
 * - Node membership is decided once, after every pool is registered (Zeek's `zeek_init`
 *   handler at priority −5): pools sorted by topic; per role the eligible nodes sorted by name
 *   (the manager appended to the loggers when it is the logger); exclusive pools take the first
 *   `maxNodes` eligible nodes and remove them; shared pools then take `min(maxNodes, eligible)`
 *   nodes each from a rotating per-role cursor.
 * - A member's HRW site id is `fnv1a32(name + ".0")`, or `.1`, `.2`, … while it collides with
 *   a site id already in that pool (`init_pool_node`).
 * - The local node starts alive in its own pools (so round-robin may pick it) and is never in
 *   their HRW sets; other members join the HRW set when marked alive (`Cluster::node_up`) and
 *   leave it when marked dead (`Cluster::node_down`).
 */
import { compareStrings } from '../data/order.js';
import { ConfigError, ValueError } from '../errors.js';
import { checkOptionsObject } from '../util/options.js';
import { fnv1a32, hrwSelect, type HrwKey } from './hash.js';
import type { Role } from './layout.js';
import { LOGGER_POOL_TOPIC, PROXY_POOL_TOPIC, WORKER_POOL_TOPIC, nodeTopic } from './topics.js';

/** A pool specification (Zeek's `Cluster::PoolSpec`). */
export interface PoolSpec {
  /** A topic that reaches every node of the pool. */
  readonly topic: string;
  /** The role of the pool's nodes: `worker`, `proxy` or `logger`. */
  readonly nodeType: Role;
  /** At most this many nodes belong to the pool; every eligible node when unset. */
  readonly maxNodes?: number;
  /** Whether the pool's `maxNodes` nodes belong to no shared pool (needs `maxNodes`). @default false */
  readonly exclusive?: boolean;
}

/** `Cluster::proxy_pool_spec`: every proxy. */
export const PROXY_POOL_SPEC: PoolSpec = Object.freeze({ topic: PROXY_POOL_TOPIC, nodeType: 'proxy' });
/** `Cluster::worker_pool_spec`: every worker. */
export const WORKER_POOL_SPEC: PoolSpec = Object.freeze({ topic: WORKER_POOL_TOPIC, nodeType: 'worker' });
/** `Cluster::logger_pool_spec`: every logger (and the manager when it is the logger). */
export const LOGGER_POOL_SPEC: PoolSpec = Object.freeze({ topic: LOGGER_POOL_TOPIC, nodeType: 'logger' });

/** A member of a pool (Zeek's `Cluster::PoolNode`), as a snapshot. */
export interface PoolNode {
  /** The node's name, e.g. `proxy-1`. */
  readonly name: string;
  /** `name.<n>`, the string whose `fnv1a32` is the site id (`.0` unless ids collided). */
  readonly alias: string;
  /** The node's HRW site id in this pool. */
  readonly siteId: number;
  /** `nodeTopic(name)`. */
  readonly topic: string;
  /** Whether the node may receive work. */
  readonly alive: boolean;
}

interface Member {
  readonly name: string;
  readonly alias: string;
  readonly siteId: number;
  readonly topic: string;
  alive: boolean;
}

const POOL_ROLES: readonly Role[] = ['worker', 'proxy', 'logger'];

function checkSpec(spec: PoolSpec): void {
  if (!POOL_ROLES.includes(spec.nodeType)) {
    throw new ValueError(`invalid pool node type: ${spec.nodeType} (worker, proxy or logger)`);
  }
  const max = spec.maxNodes;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) {
    throw new ValueError(`PoolSpec maxNodes must be a non-negative integer, got ${max}`);
  }
  if (spec.exclusive === true && max === undefined) {
    throw new ValueError("PoolSpec 'maxNodes' must be set when using the 'exclusive' flag");
  }
}

/** A pool of cluster nodes (Zeek's `Cluster::Pool`) with its HRW set and round-robin cursors. */
export class Pool {
  /** The specification the pool was made from. */
  readonly spec: PoolSpec;
  /** The name of the node this pool lives on (`''` when none). */
  readonly localNode: string;
  readonly #byName = new Map<string, Member>();
  readonly #list: Member[] = [];
  readonly #sites = new Map<number, Member>();
  readonly #rrSeq = new Map<string, number>();
  #aliveCount = 0;

  constructor(spec: PoolSpec, localNode = '') {
    checkSpec(spec);
    this.spec = Object.freeze({ ...spec });
    this.localNode = localNode;
  }

  /** The members in their fixed order (the order round-robin walks). */
  get nodes(): readonly PoolNode[] {
    return this.#list.map((m) => ({ ...m }));
  }

  /** How many members are alive (the local node counts). */
  get aliveCount(): number {
    return this.#aliveCount;
  }

  /** Names of the members HRW currently chooses among (alive, never the local node). */
  get hrwNodes(): readonly string[] {
    return [...this.#sites.values()].map((m) => m.name);
  }

  /** Whether `name` is a member. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /**
   * Adds a member (Zeek's `init_pool_node`): site id `fnv1a32(name + ".<n>")` with the smallest
   * `n` that collides with no member's id; alive at once only when it is the local node.
   * `false` when `name` is already a member.
   */
  addNode(name: string): boolean {
    if (this.#byName.has(name)) return false;
    const used = new Set(this.#list.map((m) => m.siteId));
    let n = 0;
    let alias = `${name}.${n}`;
    let siteId = fnv1a32(alias);
    while (used.has(siteId)) {
      n++;
      alias = `${name}.${n}`;
      siteId = fnv1a32(alias);
    }
    const member: Member = { name, alias, siteId, topic: nodeTopic(name), alive: name === this.localNode };
    this.#byName.set(name, member);
    this.#list.push(member);
    if (member.alive) this.#aliveCount++;
    return true;
  }

  /**
   * Marks a member alive (Zeek's `mark_pool_node_alive`): it becomes eligible for round-robin and,
   * unless it is the local node, joins the HRW set. `false` when `name` is not a member.
   */
  markAlive(name: string): boolean {
    const m = this.#byName.get(name);
    if (!m) return false;
    if (!m.alive) {
      m.alive = true;
      this.#aliveCount++;
    }
    if (name !== this.localNode && !this.#sites.has(m.siteId)) this.#sites.set(m.siteId, m);
    return true;
  }

  /**
   * Marks a member dead (Zeek's `mark_pool_node_dead`): round-robin skips it and it leaves the
   * HRW set, so its keys go to their next-highest weight. `false` when `name` is not a member.
   */
  markDead(name: string): boolean {
    const m = this.#byName.get(name);
    if (!m) return false;
    if (m.alive) {
      m.alive = false;
      this.#aliveCount--;
    }
    if (this.#sites.get(m.siteId) === m) this.#sites.delete(m.siteId);
    return true;
  }

  /** See `hrwTopic`. */
  hrwTopic(key: HrwKey): string {
    if (this.#sites.size === 0) return '';
    const id = hrwSelect(fnv1a32(key), this.#sites.keys());
    return id === undefined ? '' : (this.#sites.get(id)?.topic ?? '');
  }

  /** See `rrTopic`. */
  rrTopic(key = ''): string {
    const n = this.#list.length;
    let next = this.#rrSeq.get(key) ?? 0;
    this.#rrSeq.set(key, next);
    if (next >= n) return '';
    const start = next;
    let topic = '';
    for (;;) {
      const m = this.#list[next]!;
      next = next + 1 === n ? 0 : next + 1;
      if (m.alive) {
        topic = m.topic;
        break;
      }
      if (next === start) break;
    }
    this.#rrSeq.set(key, next);
    return topic;
  }
}

/**
 * Zeek's `Cluster::hrw_topic`: the node topic of the member with the highest HRW weight for
 * `key` among the pool's HRW set (alive members other than the local node), or `''` when that
 * set is empty.
 */
export function hrwTopic(pool: Pool, key: HrwKey): string {
  return pool.hrwTopic(key);
}

/**
 * Zeek's `Cluster::rr_topic`: the node topic of the next alive member in the pool's order for
 * this `key` (each key has its own cursor, starting at the first member), or `''` when none is
 * alive. Each distinct key keeps a cursor for the pool's lifetime, as in Zeek.
 */
export function rrTopic(pool: Pool, key = ''): string {
  return pool.rrTopic(key);
}

/** A node of the cluster layout, as the pool distribution sees it. */
export interface PoolLayoutNode {
  readonly name: string;
  readonly role: Role;
}

/**
 * The members of each pool, in the order Zeek initialises them (pools.zeek, `zeek_init` at
 * priority −5). Returns one name list per spec, in the order of `specs`. Throws a `ValueError`
 * where Zeek stops with `Reporter::fatal`.
 */
export function distributePools(
  specs: readonly PoolSpec[],
  nodes: readonly PoolLayoutNode[],
  managerIsLogger: boolean,
): string[][] {
  // `sort(registered_pools, pool_sorter)`: by topic, bytewise (strcmp). Zeek's sort is not
  // stable; pools with equal topics keep their registration order here.
  const order = specs.map((_, i) => i);
  order.sort((a, b) => compareStrings(specs[a]!.topic, specs[b]!.topic) || a - b);

  // `nodes_with_type`: each role's nodes sorted by name; the first manager (by name) is appended
  // to the loggers when it is the logger.
  const byName = (role: Role): string[] =>
    nodes
      .filter((n) => n.role === role)
      .map((n) => n.name)
      .sort(compareStrings);
  const eligible = new Map<Role, string[]>(POOL_ROLES.map((r) => [r, byName(r)]));
  const manager = byName('manager')[0];
  if (managerIsLogger && manager !== undefined) eligible.get('logger')!.push(manager);

  const excluded = new Map<Role, number>(POOL_ROLES.map((r) => [r, 0]));
  for (const i of order) {
    const spec = specs[i]!;
    checkSpec(spec);
    if (spec.exclusive === true) excluded.set(spec.nodeType, excluded.get(spec.nodeType)! + spec.maxNodes!);
  }
  for (const role of POOL_ROLES) {
    const need = excluded.get(role)!;
    if (need > eligible.get(role)!.length) {
      throw new ValueError(`not enough ${role} nodes to satisfy pool exclusivity requirements: need ${need} nodes`);
    }
  }

  const members: string[][] = specs.map(() => []);
  // Exclusive pools take the first `maxNodes` eligible nodes, which then leave the eligible list.
  for (const i of order) {
    const spec = specs[i]!;
    if (spec.exclusive !== true) continue;
    const list = eligible.get(spec.nodeType)!;
    members[i] = list.slice(0, spec.maxNodes);
    eligible.set(spec.nodeType, list.slice(spec.maxNodes));
  }
  // Shared pools take min(maxNodes, eligible) nodes each from a rotating per-role cursor.
  const cursor = new Map<Role, number>(POOL_ROLES.map((r) => [r, 0]));
  for (const i of order) {
    const spec = specs[i]!;
    if (spec.exclusive === true) continue;
    const list = eligible.get(spec.nodeType)!;
    const count = spec.maxNodes !== undefined && spec.maxNodes < list.length ? spec.maxNodes : list.length;
    let next = cursor.get(spec.nodeType)!;
    const names: string[] = [];
    for (let k = 0; k < count; k++) {
      names.push(list[next]!);
      next = next + 1 === list.length ? 0 : next + 1;
    }
    cursor.set(spec.nodeType, next);
    members[i] = names;
  }
  return members;
}

/** Options of a `PoolRegistry`. */
export interface PoolRegistryOptions {
  /**
   * The name of the node the registry runs on (`Cluster::node`); it is alive in its own pools
   * from the start and never in their HRW sets. `''` for a process that is no cluster node.
   * @default ''
   */
  readonly localNode?: string;
  /**
   * Whether the manager also acts as the logger (`Cluster::manager_is_logger`), which puts it in
   * the logger pool. `'auto'`: exactly when the layout has no logger, as zeekctl and Zeek's
   * supervisor configure it.
   * @default 'auto'
   */
  readonly managerIsLogger?: boolean | 'auto';
}

/** Defaults of `PoolRegistryOptions`. */
export const DEFAULT_POOL_REGISTRY_OPTIONS: Required<PoolRegistryOptions> = Object.freeze({
  localNode: '',
  managerIsLogger: 'auto',
});

/** Resolves `PoolRegistryOptions` once; throws a `ConfigError` naming an invalid option. */
function resolvePoolRegistryOptions(o: PoolRegistryOptions | undefined): Required<PoolRegistryOptions> {
  checkOptionsObject('options', o);
  const localNode = o?.localNode ?? DEFAULT_POOL_REGISTRY_OPTIONS.localNode;
  if (typeof localNode !== 'string')
    throw new ConfigError('localNode', `expected a node name or '', got ${typeof localNode}`);
  const managerIsLogger = o?.managerIsLogger ?? DEFAULT_POOL_REGISTRY_OPTIONS.managerIsLogger;
  if (managerIsLogger !== 'auto' && typeof managerIsLogger !== 'boolean') {
    throw new ConfigError('managerIsLogger', `expected true, false or "auto", got ${JSON.stringify(managerIsLogger)}`);
  }
  return { localNode, managerIsLogger };
}

/** A cluster node known to a `PoolRegistry`. */
export interface PoolRegistryNode {
  readonly name: string;
  readonly role: Role;
  /** Whether the node is up (the local node always is). */
  readonly alive: boolean;
  /** The endpoint id given when it was marked alive, if any. */
  readonly id: string | undefined;
}

interface NodeEntry {
  readonly role: Role;
  alive: boolean;
  id: string | undefined;
}

/**
 * The pools of one cluster node: the standard worker, proxy and logger pools plus any registered
 * ones. Add the layout's nodes and register pools, then `distribute()` once (membership is fixed
 * from then on, as in Zeek); `markAlive` / `markDead` follow `Cluster::node_up` / `node_down`.
 */
export class PoolRegistry {
  /** `Cluster::worker_pool`. */
  readonly workerPool: Pool;
  /** `Cluster::proxy_pool`. */
  readonly proxyPool: Pool;
  /** `Cluster::logger_pool`. */
  readonly loggerPool: Pool;
  readonly #options: Required<PoolRegistryOptions>;
  readonly #pools: Pool[] = [];
  readonly #nodes = new Map<string, NodeEntry>();
  #distributed = false;

  constructor(options: PoolRegistryOptions = {}) {
    this.#options = resolvePoolRegistryOptions(options);
    // Registered in Zeek's order (pools.zeek `zeek_init`); distribution sorts them by topic.
    this.workerPool = this.registerPool(WORKER_POOL_SPEC);
    this.proxyPool = this.registerPool(PROXY_POOL_SPEC);
    this.loggerPool = this.registerPool(LOGGER_POOL_SPEC);
  }

  /** The name of the local node (`''` when none). */
  get localNode(): string {
    return this.#options.localNode;
  }

  /** Every registered pool (sorted by topic once distributed). */
  get pools(): readonly Pool[] {
    return [...this.#pools];
  }

  /** Whether `distribute()` has run. */
  get distributed(): boolean {
    return this.#distributed;
  }

  /** Registers a pool (`Cluster::register_pool`); it gets members at `distribute()`. */
  registerPool(spec: PoolSpec): Pool {
    if (this.#distributed) throw new ValueError(`pool ${spec.topic} registered after the pools were distributed`);
    const pool = new Pool(spec, this.#options.localNode);
    this.#pools.push(pool);
    return pool;
  }

  /** Adds a node of the cluster layout. */
  addNode(name: string, role: Role): void {
    if (this.#distributed) throw new ValueError(`node ${name} added after the pools were distributed`);
    if (this.#nodes.has(name)) throw new ValueError(`duplicate cluster node name ${name}`);
    this.#nodes.set(name, { role, alive: name === this.#options.localNode, id: undefined });
  }

  /** The node named `name`, if it was added. */
  node(name: string): PoolRegistryNode | undefined {
    const e = this.#nodes.get(name);
    return e && { name, role: e.role, alive: e.alive, id: e.id };
  }

  /**
   * Gives every pool its members, as Zeek does once all pools are registered (see
   * `distributePools`); nodes already marked alive join their pools' HRW sets. Runs once.
   */
  distribute(): void {
    if (this.#distributed) throw new ValueError('the pools were already distributed');
    const layout = [...this.#nodes].map(([name, e]) => ({ name, role: e.role }));
    const mil = this.#options.managerIsLogger;
    const managerIsLogger = mil === 'auto' ? !layout.some((n) => n.role === 'logger') : mil;
    const members = distributePools(
      this.#pools.map((p) => p.spec),
      layout,
      managerIsLogger,
    );
    const order = this.#pools.map((_, i) => i);
    order.sort((a, b) => compareStrings(this.#pools[a]!.spec.topic, this.#pools[b]!.spec.topic) || a - b);
    const sorted = order.map((i) => this.#pools[i]!);
    order.forEach((i) => {
      const pool = this.#pools[i]!;
      for (const name of members[i]!) {
        pool.addNode(name);
        if (this.#nodes.get(name)!.alive && name !== this.#options.localNode) pool.markAlive(name);
      }
    });
    this.#pools.splice(0, this.#pools.length, ...sorted);
    this.#distributed = true;
  }

  /**
   * `Cluster::node_up`: the node joins the HRW set of every pool it belongs to and is eligible
   * for round-robin again. Before `distribute()` the state is remembered. `false` for a name
   * that was never added.
   */
  markAlive(name: string, id?: string): boolean {
    const e = this.#nodes.get(name);
    if (!e) return false;
    e.alive = true;
    if (id !== undefined) e.id = id;
    for (const pool of this.#pools) pool.markAlive(name);
    return true;
  }

  /**
   * `Cluster::node_down`: the node leaves every pool's HRW set at once (its keys move to their
   * next-highest weight) and round-robin skips it. `false` for a name that was never added.
   */
  markDead(name: string): boolean {
    const e = this.#nodes.get(name);
    if (!e) return false;
    e.alive = false;
    e.id = undefined;
    for (const pool of this.#pools) pool.markDead(name);
    return true;
  }
}
