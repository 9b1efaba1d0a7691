/**
 * Cluster layouts: which nodes exist, their roles and addresses, and who connects to whom by
 * Broker's rules — every node connects to all loggers and to the manager, each worker also to
 * every proxy, loggers only accept.
 */
import { ValueError } from '../errors.js';

/** The roles of a Zeek cluster node. */
export const ROLES = ['manager', 'logger', 'proxy', 'worker'] as const;
/** A cluster node's role. */
export type Role = (typeof ROLES)[number];

/** One node of a cluster layout. */
export interface NodeSpec {
  readonly name: string;
  readonly role: Role;
  readonly host: string;
  readonly port: number;
}

/** A cluster layout: its nodes (as Zeek's cluster-layout.zeek). */
export interface ClusterLayout {
  readonly nodes: readonly NodeSpec[];
  /** The manager is also the (only) logger, as Zeek's `Cluster::manager_is_logger`. @default true exactly when the layout has no logger */
  readonly managerIsLogger: boolean;
}

/** The default layout of `isobroker cluster`: manager, logger, two proxies, two workers. */
export function defaultLayout(host = '127.0.0.1', basePort = 27760): ClusterLayout {
  const names: [string, Role][] = [
    ['manager', 'manager'],
    ['logger-1', 'logger'],
    ['proxy-1', 'proxy'],
    ['proxy-2', 'proxy'],
    ['worker-1', 'worker'],
    ['worker-2', 'worker'],
  ];
  return { nodes: names.map(([name, role], i) => ({ name, role, host, port: basePort + i })), managerIsLogger: false };
}

function fail(where: string, what: string): never {
  throw new ValueError(`invalid cluster layout: ${where}: ${what}`);
}

/**
 * Validates a layout given as parsed JSON: `{ "nodes": [{ "name", "role", "host", "port" }…],
 * "managerIsLogger"?: boolean }`. Errors name the problem (unknown role, two managers, a
 * duplicate name or address, a bad port) before any node starts.
 */
export function parseLayout(json: unknown): ClusterLayout {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    fail('top level', 'expected an object with "nodes"');
  const o = json as Record<string, unknown>;
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) fail('nodes', 'expected a non-empty array');
  const milGiven = o.managerIsLogger;
  if (milGiven !== undefined && typeof milGiven !== 'boolean') fail('managerIsLogger', 'expected true or false');
  const names = new Set<string>();
  const addrs = new Map<string, string>();
  const nodes = o.nodes.map((n: unknown, i: number): NodeSpec => {
    const where = `nodes[${i}]`;
    if (typeof n !== 'object' || n === null) fail(where, 'expected an object');
    const x = n as Record<string, unknown>;
    if (typeof x.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(x.name))
      fail(where, `name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(x.name)}`);
    if (typeof x.role !== 'string' || !(ROLES as readonly string[]).includes(x.role)) {
      fail(`${where} (${x.name})`, `unknown role ${JSON.stringify(x.role)}; roles are ${ROLES.join(', ')}`);
    }
    const host = x.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') fail(`${where} (${x.name})`, 'host must be a non-empty string');
    if (typeof x.port !== 'number' || !Number.isInteger(x.port) || x.port < 1 || x.port > 65535) {
      fail(`${where} (${x.name})`, `port must be an integer 1..65535, got ${JSON.stringify(x.port)}`);
    }
    if (names.has(x.name)) fail(where, `duplicate node name '${x.name}'`);
    names.add(x.name);
    const addr = `${host}:${x.port}`;
    const clash = addrs.get(addr);
    if (clash) fail(where, `nodes '${clash}' and '${x.name}' both use ${addr}`);
    addrs.set(addr, x.name);
    return { name: x.name, role: x.role as Role, host, port: x.port };
  });
  const managers = nodes.filter((n) => n.role === 'manager');
  if (managers.length !== 1)
    fail('nodes', managers.length === 0 ? 'no manager' : `two managers: ${managers.map((m) => m.name).join(', ')}`);
  const hasLoggers = nodes.some((n) => n.role === 'logger');
  // As zeekctl sets it up: without loggers the manager is the logger.
  const mil = milGiven ?? !hasLoggers;
  if (mil && hasLoggers) fail('managerIsLogger', 'set, but the layout also has loggers');
  return { nodes, managerIsLogger: mil };
}

/** The node called `name`, or an error naming it. */
export function nodeByName(layout: ClusterLayout, name: string): NodeSpec {
  const n = layout.nodes.find((x) => x.name === name);
  if (!n)
    throw new ValueError(`no node '${name}' in the layout (nodes: ${layout.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/** The nodes that act as loggers: the loggers, or the manager when it is the logger. */
export function loggersOf(layout: ClusterLayout): NodeSpec[] {
  return layout.managerIsLogger
    ? layout.nodes.filter((n) => n.role === 'manager')
    : layout.nodes.filter((n) => n.role === 'logger');
}

/** The nodes `name` dials: the manager and all loggers; workers also every proxy; loggers none. */
export function connectionsOf(layout: ClusterLayout, name: string): NodeSpec[] {
  const self = nodeByName(layout, name);
  if (self.role === 'logger') return [];
  const targets = layout.nodes.filter((n) => {
    if (n.name === name) return false;
    if (n.role === 'logger') return true;
    if (n.role === 'manager') return true;
    return self.role === 'worker' && n.role === 'proxy';
  });
  return targets;
}
