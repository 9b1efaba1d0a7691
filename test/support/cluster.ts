/** In-process clusters for tests: real endpoints and listeners on 127.0.0.1, one ClusterNode each. */
import { createServer } from 'node:net';
import { ClusterNode, Endpoint, parseLayout, type ClusterLayout, type Role } from 'isobroker';
import { listen, type Listener } from 'isobroker/node';
import { until } from './endpoints.js';

/** Free TCP ports on 127.0.0.1 (asked from the kernel, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((ok) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export async function layoutOf(
  nodes: readonly [string, Role][],
  extra: Record<string, unknown> = {},
): Promise<ClusterLayout> {
  const ports = await freePorts(nodes.length);
  return parseLayout({
    nodes: nodes.map(([name, role], i) => ({ name, role, host: '127.0.0.1', port: ports[i] })),
    ...extra,
  });
}

export interface TestCluster {
  readonly layout: ClusterLayout;
  readonly nodes: Map<string, ClusterNode>;
  node(name: string): ClusterNode;
  close(): Promise<void>;
}

/** Starts the named nodes of `layout` in this process (all of them by default). */
export async function startCluster(
  layout: ClusterLayout,
  names = layout.nodes.map((n) => n.name),
): Promise<TestCluster> {
  const nodes = new Map<string, ClusterNode>();
  const listeners: Listener[] = [];
  for (const name of names) {
    const spec = layout.nodes.find((n) => n.name === name)!;
    const ep = new Endpoint({ name, role: spec.role, retry: 100, maxRetry: 500 });
    const node = new ClusterNode(ep, layout, name);
    node.start();
    listeners.push(await listen(ep, { host: spec.host, port: spec.port }));
    nodes.set(name, node);
  }
  return {
    layout,
    nodes,
    node: (name) => nodes.get(name)!,
    close: async () => {
      for (const n of nodes.values()) {
        n.close();
        await n.endpoint.close();
      }
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}

/** Waits until every started node sees every other started node it peers with as up. */
export async function allUp(c: TestCluster, ms = 10_000): Promise<void> {
  const { connectionsOf } = await import('isobroker');
  await until(
    () =>
      [...c.nodes.values()].every((n) =>
        connectionsOf(c.layout, n.name)
          .filter((t) => c.nodes.has(t.name))
          .every((t) => n.isUp(t.name) && c.node(t.name).isUp(n.name)),
      ),
    ms,
    'all nodes up',
  );
}
