/**
 * Presence on an injected clock (SimClock, virtual time): endpoints up on a first hello or
 * heartbeat, down after the timeout without a heartbeat or at once on bye; replays ignored and
 * restarts detected; Zeek's node rules (a name with a new id downs the old id first), retired
 * ids ignored instead of flapping; partial and store changes; the bound on tracked endpoints.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeControl, type ControlMessage, type PresenceNode } from '../../src/backbone/control.js';
import { PresenceTracker, type PresenceEvents } from '../../src/backbone/presence.js';
import { SimClock } from '../support/sim-network.js';

const SELF = '00000000-0000-4000-8000-000000000000';
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function msg(
  kind: ControlMessage['kind'],
  from: number,
  seq: number,
  over: Partial<ControlMessage> = {},
): ControlMessage {
  return { kind, id: id(from), name: `ep-${from}`, seq, nodes: [], partials: [], stores: [], interval: 500, ...over };
}
const node = (name: string, n: number, role = 'worker'): PresenceNode => ({ name, role, id: id(n) });

/** A tracker with every event recorded as a compact line. */
function setup(opts: { timeout?: number; maxEndpoints?: number } = {}) {
  const clock = new SimClock(0);
  const tracker = new PresenceTracker(SELF, clock, opts);
  const log: string[] = [];
  const short = (s: string): string => String(Number.parseInt(s.slice(-12), 16));
  const rec: { [K in keyof PresenceEvents]: (e: PresenceEvents[K]) => string } = {
    endpointUp: (e) => `up ${short(e.id)}`,
    endpointDown: (e) => `down ${short(e.id)} ${e.reason}`,
    helloSeen: (e) => `hello ${short(e.id)}`,
    changed: (e) => `changed ${short(e.id)} [${e.partials.join(',')}] [${e.stores.map((s) => `${s.name}@${s.epoch}`)}]`,
    nodeUp: (e) => `nodeUp ${e.name} ${short(e.id)} @${short(e.endpoint)}`,
    nodeDown: (e) => `nodeDown ${e.name} ${short(e.id)} ${e.reason}`,
    duplicate: (e) => `duplicate ${e.name} ${short(e.id)} held by ${short(e.existingId)}`,
  };
  for (const k of Object.keys(rec) as (keyof PresenceEvents)[]) {
    tracker.on(k, (e) => log.push((rec[k] as (e: unknown) => string)(e)));
  }
  const take = (): string[] => log.splice(0);
  /** Heartbeats from `from` every 500 ms for `ms` of virtual time, seqs from `seq`. */
  const beat = async (from: number, seq: number, ms: number, over: Partial<ControlMessage> = {}): Promise<number> => {
    let s = seq;
    for (let t = 0; t < ms; t += 500) {
      tracker.receive(msg('heartbeat', from, s++, over));
      await clock.run(500);
    }
    return s;
  };
  return { clock, tracker, take, beat };
}

describe('PresenceTracker', () => {
  it('an endpoint is up on its first heartbeat and stays up while heartbeats come', async () => {
    const { tracker, take, beat } = setup();
    expect(tracker.isPresent(id(1))).toBe(false);
    await beat(1, 1, 10_000);
    expect(take()).toEqual(['up 1']);
    expect(tracker.isPresent(id(1))).toBe(true);
    expect(tracker.endpoint(id(1))).toMatchObject({ name: 'ep-1', seq: 20, interval: 500 });
    expect(tracker.stats()).toMatchObject({ endpoints: 1, timeouts: 0, received: 20 });
  });

  it('goes down after the timeout without a heartbeat, not before', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 1, { nodes: [node('worker-1', 11)] }));
    expect(take()).toEqual(['up 1', 'nodeUp worker-1 11 @1']);
    await clock.run(1999);
    expect(tracker.isPresent(id(1))).toBe(true);
    expect(take()).toEqual([]);
    await clock.run(1);
    expect(tracker.isPresent(id(1))).toBe(false);
    expect(take()).toEqual(['nodeDown worker-1 11 endpoint_down', 'down 1 timeout']);
    expect(tracker.nodes()).toEqual([]);
    expect(tracker.stats().timeouts).toBe(1);
    // It comes back with its next heartbeat.
    tracker.receive(msg('heartbeat', 1, 2, { nodes: [node('worker-1', 11)] }));
    expect(take()).toEqual(['up 1', 'nodeUp worker-1 11 @1']);
  });

  it('times out each endpoint on its own last heartbeat, with a custom timeout', async () => {
    const { clock, tracker, take } = setup({ timeout: 1000 });
    tracker.receive(msg('heartbeat', 1, 1));
    await clock.run(400);
    tracker.receive(msg('heartbeat', 2, 1));
    await clock.run(400);
    tracker.receive(msg('heartbeat', 1, 2)); // 1 now due at 1800, 2 at 1400
    take();
    await clock.run(599);
    expect(take()).toEqual([]);
    await clock.run(1);
    expect(take()).toEqual(['down 2 timeout']);
    await clock.run(399);
    expect(take()).toEqual([]);
    await clock.run(1);
    expect(take()).toEqual(['down 1 timeout']);
  });

  it('goes down at once on bye; a late heartbeat from before the bye does not bring it back', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('hello', 1, 1, { nodes: [node('proxy-1', 11, 'proxy')] }));
    tracker.receive(msg('heartbeat', 1, 2, { nodes: [node('proxy-1', 11, 'proxy')] }));
    tracker.receive(msg('bye', 1, 3));
    expect(take()).toEqual([
      'up 1',
      'hello 1',
      'nodeUp proxy-1 11 @1',
      'nodeDown proxy-1 11 endpoint_down',
      'down 1 bye',
    ]);
    tracker.receive(msg('heartbeat', 1, 2));
    expect(tracker.isPresent(id(1))).toBe(false);
    expect(tracker.stats().replays).toBe(1);
    // A bye from an endpoint never seen changes nothing.
    tracker.receive(msg('bye', 9, 1));
    expect(take()).toEqual([]);
    // A hello after the bye is a restart: up again, whatever its seq.
    tracker.receive(msg('hello', 1, 1));
    expect(take()).toEqual(['up 1', 'hello 1']);
    await clock.run(5000);
    expect(take()).toEqual(['down 1 timeout']);
  });

  it('ignores replays: a seq not above the last accepted one refreshes nothing', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 10, { partials: ['a/b'] }));
    await clock.run(1500);
    tracker.receive(msg('heartbeat', 1, 10, { partials: ['x'] }));
    tracker.receive(msg('heartbeat', 1, 3, { partials: ['y'] }));
    tracker.receive(msg('hello', 1, 10));
    expect(tracker.stats().replays).toBe(3);
    expect(tracker.endpoint(id(1))?.partials).toEqual(['a/b']);
    await clock.run(500); // 2000 after the last accepted message
    expect(take()).toEqual(['up 1', 'changed 1 [a/b] []', 'down 1 timeout']);
  });

  it('a hello with a lower seq is a restart: the old incarnation goes down, the new comes up', () => {
    const { tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 50, { nodes: [node('worker-1', 11), node('worker-2', 12)], partials: ['p'] }));
    take();
    tracker.receive(msg('hello', 1, 1, { nodes: [node('worker-1', 21)] }));
    expect(take()).toEqual([
      'nodeDown worker-1 11 endpoint_down',
      'nodeDown worker-2 12 endpoint_down',
      'down 1 restart',
      'up 1',
      'hello 1',
      'nodeUp worker-1 21 @1',
    ]);
    expect(tracker.endpoint(id(1))?.seq).toBe(1);
    // Its heartbeats continue from there.
    tracker.receive(msg('heartbeat', 1, 2, { nodes: [node('worker-1', 21)] }));
    expect(take()).toEqual([]);
    expect(tracker.stats().replays).toBe(0);
  });

  it('a restarted sender whose hello was lost comes back after the old record times out', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 100));
    take();
    let seq = 1;
    for (let i = 0; i < 3; i++) {
      await clock.run(500);
      tracker.receive(msg('heartbeat', 1, seq++));
    }
    expect(take()).toEqual([]);
    expect(tracker.stats().replays).toBe(3);
    await clock.run(500);
    expect(take()).toEqual(['down 1 timeout']);
    tracker.receive(msg('heartbeat', 1, seq++));
    expect(take()).toEqual(['up 1']);
  });

  it('answers every accepted hello (helloSeen), also from an endpoint already up', () => {
    const { tracker, take } = setup();
    tracker.receive(msg('hello', 1, 1));
    tracker.receive(msg('heartbeat', 1, 2));
    tracker.receive(msg('hello', 1, 3)); // a reconnect: same incarnation, higher seq
    expect(take()).toEqual(['up 1', 'hello 1', 'hello 1']);
  });

  it('ignores its own messages', () => {
    const { tracker, take } = setup();
    tracker.receive({ ...msg('hello', 1, 1), id: SELF });
    expect(take()).toEqual([]);
    expect(tracker.stats()).toMatchObject({ endpoints: 0, fromSelf: 1 });
  });

  it('reports partial and store changes', () => {
    const { tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 1));
    tracker.receive(msg('heartbeat', 1, 2, { partials: ['zeek/cluster/work'] }));
    tracker.receive(msg('heartbeat', 1, 3, { partials: ['zeek/cluster/work'] }));
    tracker.receive(msg('heartbeat', 1, 4, { partials: ['zeek/cluster/work'], stores: [{ name: 's', epoch: 1 }] }));
    tracker.receive(msg('heartbeat', 1, 5, { partials: ['zeek/cluster/work'], stores: [{ name: 's', epoch: 2 }] }));
    tracker.receive(msg('heartbeat', 1, 6));
    expect(take()).toEqual([
      'up 1',
      'changed 1 [zeek/cluster/work] []',
      'changed 1 [zeek/cluster/work] [s@1]',
      'changed 1 [zeek/cluster/work] [s@2]',
      'changed 1 [] []',
    ]);
  });

  it('a node name seen with a new id while the old id is up: nodeDown(old) then nodeUp(new)', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 1, { nodes: [node('worker-1', 11)] }));
    // worker-1 crashed and restarted on another endpoint before its old endpoint timed out.
    tracker.receive(msg('hello', 2, 1, { nodes: [node('worker-1', 21)] }));
    expect(take()).toEqual([
      'up 1',
      'nodeUp worker-1 11 @1',
      'up 2',
      'hello 2',
      'nodeDown worker-1 11 replaced',
      'nodeUp worker-1 21 @2',
    ]);
    // The old endpoint keeps listing the retired id (two processes, one name): ignored once
    // reported, no flapping.
    tracker.receive(msg('heartbeat', 1, 2, { nodes: [node('worker-1', 11)] }));
    tracker.receive(msg('heartbeat', 1, 3, { nodes: [node('worker-1', 11)] }));
    expect(take()).toEqual(['duplicate worker-1 11 held by 21']);
    expect(tracker.node('worker-1')).toEqual({ name: 'worker-1', role: 'worker', id: id(21), endpoint: id(2) });
    expect(tracker.stats().duplicates).toBe(2);
    // The old endpoint going down does not down the new holder of the name.
    tracker.receive(msg('heartbeat', 2, 2, { nodes: [node('worker-1', 21)] }));
    await clock.run(1000);
    tracker.receive(msg('heartbeat', 2, 3, { nodes: [node('worker-1', 21)] }));
    await clock.run(1000);
    expect(take()).toEqual(['down 1 timeout']);
    expect(tracker.node('worker-1')?.id).toBe(id(21));
  });

  it('a node no longer listed goes down; listed again it comes up', () => {
    const { tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 1, { nodes: [node('a', 11), node('b', 12)] }));
    tracker.receive(msg('heartbeat', 1, 2, { nodes: [node('b', 12)] }));
    tracker.receive(msg('heartbeat', 1, 3, { nodes: [node('b', 12), node('a', 11)] }));
    expect(take()).toEqual(['up 1', 'nodeUp a 11 @1', 'nodeUp b 12 @1', 'nodeDown a 11 unlisted', 'nodeUp a 11 @1']);
    expect(
      tracker
        .nodes()
        .map((n) => n.name)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('tracks at most maxEndpoints endpoints; the rest are counted and ignored', async () => {
    const { clock, tracker, take } = setup({ maxEndpoints: 3 });
    for (let i = 1; i <= 5; i++) tracker.receive(msg('heartbeat', i, 1, { nodes: [node(`w${i}`, 10 + i)] }));
    expect(tracker.stats()).toMatchObject({ endpoints: 3, nodes: 3, overCapacity: 2 });
    expect(tracker.isPresent(id(4))).toBe(false);
    take();
    // Room again once one goes: the next message from a new id is taken.
    tracker.receive(msg('bye', 1, 2));
    tracker.receive(msg('heartbeat', 4, 2));
    expect(take()).toEqual(['nodeDown w1 11 endpoint_down', 'down 1 bye', 'up 4']);
    await clock.run(2000);
    expect(tracker.stats().endpoints).toBe(0);
  });

  it('tracks 10,000 endpoints by default with one timer', async () => {
    const { clock, tracker } = setup();
    for (let i = 1; i <= 10_001; i++) tracker.receive(msg('heartbeat', i, 1));
    expect(tracker.stats()).toMatchObject({ endpoints: 10_000, overCapacity: 1 });
    const fired = clock.fired;
    await clock.run(2000);
    expect(clock.fired - fired).toBe(1);
    expect(tracker.stats()).toMatchObject({ endpoints: 0, timeouts: 10_000 });
  });

  it('receivePayload decodes, counts bad and unknown payloads, and never throws', () => {
    const { tracker, take } = setup();
    tracker.receivePayload(encodeControl(msg('hello', 1, 1)));
    tracker.receivePayload(new Uint8Array([1, 2, 3]));
    tracker.receivePayload(new TextEncoder().encode('{"v":1,"k":"gossip"}'));
    expect(take()).toEqual(['up 1', 'hello 1']);
    expect(tracker.stats()).toMatchObject({ invalid: 1, unknown: 1, received: 1 });
  });

  it('close downs everything, disarms its timer and takes nothing more', async () => {
    const { clock, tracker, take } = setup();
    tracker.receive(msg('heartbeat', 1, 1, { nodes: [node('w', 11)] }));
    take();
    const fired = clock.fired;
    tracker.close();
    expect(take()).toEqual(['nodeDown w 11 endpoint_down', 'down 1 closed']);
    tracker.receive(msg('heartbeat', 2, 1));
    await clock.run(5000);
    expect(clock.fired).toBe(fired);
    expect(tracker.stats().endpoints).toBe(0);
  });

  it('a throwing listener is contained and counted', () => {
    const { tracker, take } = setup();
    tracker.on('endpointUp', () => {
      throw new Error('listener bug');
    });
    tracker.receive(msg('heartbeat', 1, 1, { nodes: [node('w', 11)] }));
    expect(take()).toEqual(['up 1', 'nodeUp w 11 @1']);
    expect(tracker.stats().listenerErrors).toBe(1);
  });
});

/** Synchronous manual timers for the property test (nothing fires until `advance`). */
class ManualTimers {
  t = 0;
  private pending: { at: number; fn: () => void; cancelled: boolean }[] = [];
  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const h = { at: this.t + ms, fn, cancelled: false };
    this.pending.push(h);
    return h;
  };
  readonly clearTimeout = (h: unknown): void => {
    (h as { cancelled: boolean }).cancelled = true;
  };
  get armed(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      const next = this.pending.reduce<(typeof this.pending)[number] | undefined>(
        (a, p) => (p.at <= end && (a === undefined || p.at < a.at) ? p : a),
        undefined,
      );
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.t = end;
  }
}

describe('PresenceTracker invariants (property)', () => {
  const op = fc.oneof(
    fc.record({
      t: fc.constant('msg' as const),
      kind: fc.constantFrom('hello', 'heartbeat', 'heartbeat', 'heartbeat', 'bye' as const),
      from: fc.integer({ min: 1, max: 5 }),
      seqStep: fc.integer({ min: -3, max: 3 }),
      nodes: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 6 })), {
        maxLength: 3,
        selector: ([n]) => n,
      }),
      partials: fc.subarray(['a', 'b/c']),
    }),
    fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1500 }) }),
  );

  it('events alternate, state matches them, nothing outlives the timeout', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const timers = new ManualTimers();
        const tracker = new PresenceTracker(SELF, timers, { timeout: 2000, maxEndpoints: 3 });
        const epUp = new Map<string, boolean>();
        const nodeUp = new Map<string, string>(); // name → id, from the events
        const fail = (what: string): never => {
          throw new Error(what);
        };
        tracker.on('endpointUp', (e) => (epUp.get(e.id) ? fail(`up twice ${e.id}`) : epUp.set(e.id, true)));
        tracker.on('endpointDown', (e) => (epUp.get(e.id) ? epUp.set(e.id, false) : fail(`down while down ${e.id}`)));
        tracker.on('nodeUp', (n) =>
          nodeUp.has(n.name) ? fail(`nodeUp while up ${n.name}`) : nodeUp.set(n.name, n.id),
        );
        tracker.on('nodeDown', (n) =>
          nodeUp.get(n.name) === n.id ? nodeUp.delete(n.name) : fail(`nodeDown ${n.name}`),
        );
        const seqs = new Map<number, number>();
        const lastAccepted = new Map<string, number>();
        for (const o of ops) {
          if (o.t === 'advance') timers.advance(o.ms);
          else {
            const seq = Math.max(0, (seqs.get(o.from) ?? 0) + o.seqStep);
            seqs.set(o.from, seq);
            tracker.receive(
              msg(o.kind, o.from, seq, {
                nodes: o.nodes.map(([n, i]) => node(`n${n}`, i)),
                partials: o.partials,
              }),
            );
          }
          expect(tracker.stats().listenerErrors).toBe(0);
          const eps = tracker.endpoints();
          expect(eps.length).toBeLessThanOrEqual(3);
          expect(new Set(eps.map((e) => e.id))).toEqual(new Set([...epUp].filter(([, up]) => up).map(([id]) => id)));
          for (const e of eps) {
            expect(timers.now() - e.lastSeen).toBeLessThan(2000);
            if (lastAccepted.has(e.id) && lastAccepted.get(e.id)! > e.lastSeen) fail('lastSeen went back');
            lastAccepted.set(e.id, e.lastSeen);
          }
          const nodes = tracker.nodes();
          expect(new Map(nodes.map((n) => [n.name, n.id]))).toEqual(nodeUp);
          for (const n of nodes) {
            const host = tracker.endpoint(n.endpoint);
            expect(host?.nodes.some((x) => x.name === n.name && x.id === n.id)).toBe(true);
          }
          expect(timers.armed).toBe(eps.length > 0 ? 1 : 0);
        }
        timers.advance(2000);
        expect(tracker.endpoints()).toEqual([]);
        expect(nodeUp.size).toBe(0);
        expect(timers.armed).toBe(0);
      }),
      { seed: SEED, numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });
});
