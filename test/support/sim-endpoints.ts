/**
 * Endpoints on virtual time: every endpoint gets the SimClock as its `timers` and dials through a
 * calm SimNetwork (no faults), so a test waits for conditions and lets time pass without sleeping
 * on the real clock. Seeded: one seed gives the same ids, latencies and order every run.
 */
import { Endpoint, type EndpointOptions } from 'isobroker';
import { Rng, SimClock, SimNetwork } from './sim-network.js';

export interface SimNet {
  readonly clock: SimClock;
  readonly sim: SimNetwork;
  readonly eps: Endpoint[];
  url(i: number): string;
  /** Runs virtual time until `cond` holds; fails after `ms` of virtual time. */
  until(cond: () => boolean, ms?: number, what?: string): Promise<void>;
  /** Lets `ms` of virtual time pass (timers fire, frames arrive). */
  run(ms: number): Promise<void>;
  /** Resolves `p` by running virtual time (at most `ms` of it). */
  settle<T>(p: Promise<T>, ms?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

/** A version-4 UUID from the seeded generator. */
function uuid(rng: Rng): string {
  const b = rng.fill(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `n` endpoints on one simulated network, each listening as `ep<i>`. */
export function simEndpoints(n: number, opts: EndpointOptions = {}, seed = 1): SimNet {
  const clock = new SimClock();
  const rng = new Rng(seed);
  const sim = new SimNetwork(clock, rng.fork());
  const eps: Endpoint[] = [];
  for (let i = 0; i < n; i++) {
    const name = `ep${i}`;
    const ep = new Endpoint({
      id: uuid(rng),
      name,
      connector: sim.connectorFor(name),
      timers: clock,
      retry: 20,
      maxRetry: 200,
      linkKind: 'router',
      ...opts,
    });
    sim.listen(name, ep);
    eps.push(ep);
  }
  const until = async (cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> => {
    if (!(await clock.runUntil(cond, ms, 1)))
      throw new Error(`timed out after ${ms} ms of virtual time waiting for ${what}`);
    if (clock.errors.length > 0) throw clock.errors[0];
  };
  const settle = async <T>(p: Promise<T>, ms = 5000, what = 'promise'): Promise<T> => {
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    watched.catch(() => undefined);
    await until(() => done, ms, what);
    return watched;
  };
  return {
    clock,
    sim,
    eps,
    url: (i) => `ws://ep${i}`,
    until,
    run: (ms) => clock.run(ms),
    settle,
    close: async () => {
      await settle(Promise.all(eps.map((e) => e.close())), 10_000, 'endpoints to close');
    },
  };
}
