/** Helpers for endpoint tests: memory networks of endpoints, waiting for messages and events. */
import { Endpoint, MemoryNetwork, type EndpointOptions, type Message } from 'isobroker';

export interface Net {
  readonly net: MemoryNetwork;
  readonly eps: Endpoint[];
  url(i: number): string;
  close(): Promise<void>;
}

/** `n` endpoints on one memory network, each listening as `ep<i>`. */
export function memoryEndpoints(n: number, opts: EndpointOptions = {}): Net {
  const net = new MemoryNetwork();
  const eps: Endpoint[] = [];
  for (let i = 0; i < n; i++) {
    // Topology tests: every endpoint is a router unless told otherwise.
    const ep = new Endpoint({
      name: `ep${i}`,
      connector: net.connector,
      retry: 20,
      maxRetry: 200,
      linkKind: 'router',
      ...opts,
    });
    net.listen(`ep${i}`, ep);
    eps.push(ep);
  }
  return {
    net,
    eps,
    url: (i) => `ws://ep${i}`,
    close: async () => {
      await Promise.all(eps.map((e) => e.close()));
    },
  };
}

/** Collects messages received by a subscription. */
export function collect(ep: Endpoint, prefix: string): Message[] {
  const got: Message[] = [];
  ep.subscribe(prefix, (m) => got.push(m));
  return got;
}

/** Polls until `cond` holds or fails after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets pending timers and microtasks run for `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
