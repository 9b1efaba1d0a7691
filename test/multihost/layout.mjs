/**
 * The multi-host scenario's cluster layout and addresses, shared by the host program, the
 * scenario driver and the test: host `hi` (i = 1…N) has address 10.213.0.(10+i) on the private
 * test subnet and runs `proxy-i` and `worker-i`; h1 also runs the `manager`, every other host a
 * `logger-i`. Plain JS (no build).
 */

/** The private test subnet (inside the script's own network namespace only). */
export const SUBNET_PREFIX = '10.213.0.';
export const SUBNET_BITS = 24;

/** The NATS client and route ports on every host. */
export const NATS_PORT = 4222;
export const ROUTE_PORT = 6222;
/** The port of each host's `isobroker hub` (native and JSON v1 WebSocket). */
export const HUB_PORT = 27800;

/** The keys whose HRW choice the workers report. */
export const HRW_KEYS = Array.from({ length: 64 }, (_, i) => `k-${i}`);

/** `h1`…`hN`. */
export function hostNames(n) {
  return Array.from({ length: n }, (_, i) => `h${i + 1}`);
}

/** The address of host `hi`. */
export function hostAddress(host) {
  return `${SUBNET_PREFIX}${10 + Number(host.slice(1))}`;
}

/** The host a node runs on. */
export function hostOf(node) {
  return node === 'manager' ? 'h1' : `h${node.slice(node.lastIndexOf('-') + 1)}`;
}

/** The cluster layout for `n` hosts (as `parseLayout` takes it; ports are never dialled). */
export function layoutFor(n) {
  const nodes = [{ name: 'manager', role: 'manager', host: hostAddress('h1'), port: 27760 }];
  for (const h of hostNames(n)) {
    const i = Number(h.slice(1));
    nodes.push({ name: `proxy-${i}`, role: 'proxy', host: hostAddress(h), port: 27760 + 2 * i });
    nodes.push({ name: `worker-${i}`, role: 'worker', host: hostAddress(h), port: 27761 + 2 * i });
    if (i > 1) nodes.push({ name: `logger-${i}`, role: 'logger', host: hostAddress(h), port: 27700 + i });
  }
  return { nodes, managerIsLogger: false };
}

/** The names of the nodes that run on `host`. */
export function nodesOn(layout, host) {
  return layout.nodes.filter((n) => hostOf(n.name) === host).map((n) => n.name);
}
