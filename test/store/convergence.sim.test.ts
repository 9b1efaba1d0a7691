/**
 * Seeded convergence of data stores on a simulated faulty network (CONVENTIONS 10).
 *
 * Endpoints in a chain, a ring or a star peer over `SimNetwork`, or (`backbone`) attach to one
 * in-memory NATS on the same virtual clock, each its own host, with one or two routers behind a
 * member over `SimNetwork` (the member relays for them) and now and then two members peered
 * natively too; the backbone partitions hosts, isolates one, cuts a member's connection (its
 * publishes wait in the client's buffer) and loses messages at random. `lease` runs add a master
 * lease in an in-memory bucket that loses its quorum, or cuts the master off alone (with or
 * without its backbone connection): the master steps down and claims the lease again, and in
 * half of the runs a standby master elsewhere takes over; clones must never take a message of
 * an older fencing epoch, and the master holding the lease at the end is the one checked.
 *
 * A master sits on one of the endpoints and clones on others. Every clone and the master write
 * at random (every operation, with and without expiry, now and then a clear) while the network
 * delays, reorders between links, cuts, half-opens, partitions, isolates, drops and duplicates,
 * clones join late or restart on their persistence, and the master may restart (on its durable
 * backend, or on a fresh one). Then the faults stop and the network heals, and:
 * - every live clone reaches `in-sync` with exactly the master's contents;
 * - every write promise settled (resolved, or rejected with a StoreError);
 * - no increment was applied twice by one master incarnation, every resolved one was applied,
 *   none rejected as "not applied" was (each increment's amount is unique to its key, so the
 *   master's change feed tells which applied);
 * - each clone's writes were applied in the order it made them;
 * - a putUnique of a key nothing else touches resolves to true exactly when it inserted, and a
 *   write that cannot succeed never resolves;
 * - every change feed (master's and clones') adds up to its store's contents;
 * - on a backbone, every member sees every other again (presence), and with a lease, a master
 *   holds it and no clone applied a message of an older fencing epoch.
 *
 * Everything runs on virtual time from one seed: a failure prints the command that replays it.
 * `SIM_SEED=n` runs one seed; `SIM_SEEDS=200` or `SIM_SEEDS=1000-1199` runs many; `SIM_HARSH=3`
 * triples every fault rate and the length of the chaos; `SIM_TRACE=file` writes the full trace
 * of every store message of a run to `file` (`{run}` in it becomes the topology and seed, e.g.
 * `SIM_TRACE=/tmp/sim-{run}.log`); `SIM_SUMMARY=1` prints what happened in every run. The last
 * sections hold minimal reproductions of what the seeds found, one per bug.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  Endpoint,
  StoreError,
  compare,
  count,
  createClone,
  createMaster,
  createMemoryBackend,
  createMemoryPersistence,
  equals,
  integer,
  set,
  string,
  toText,
  vector,
  type CloneOptions,
  type ClonePersistence,
  type Data,
  type EndpointOptions,
  type MasterOptions,
  type StoreBackend,
  type StoreChangeEvent,
  type StoreClone,
  type StoreMaster,
} from 'isobroker';
import {
  MasterLease,
  MemoryLeaseKv,
  MemoryNats,
  NatsBackbone,
  linkBackbone,
  type MemoryNatsConnection,
} from 'isobroker/backbone';
import { decodeValue, idFromBytes } from '../../src/internal.js';
import type { StoreMessage } from '../../src/store/store-protocol.js';
import { Rng, SimClock, SimNetwork, type SimFaults } from '../support/sim-network.js';
import { simEndpoints } from '../support/sim-endpoints.js';

/**
 * `backbone`: most endpoints attach to one in-memory NATS (each its own host), one or two others
 * peer natively with a member (which relays for them); `lease`: the same, and the master holds a
 * lease in an in-memory lease bucket (fencing epochs) that becomes unavailable now and then.
 */
type Topology = 'chain' | 'ring' | 'star' | 'backbone' | 'lease';
const TOPOLOGIES: readonly Topology[] = ['chain', 'ring', 'star', 'backbone', 'lease'];
const FILE = 'test/store/convergence.sim.test.ts';
const STORE = 'kv';

/** `SIM_HARSH=k` multiplies every fault rate and the chaos phase by k (for long hunts). */
const HARSH = Number(process.env.SIM_HARSH ?? 1);
/**
 * A simulation's timeout: one seed takes 0.1–1.5 s on an idle two-core machine (more with
 * `SIM_HARSH`, whose longer chaos phase it scales with), so 60 s per run keeps a loaded CI machine
 * far from it.
 */
const SIM_TIMEOUT_MS = 60_000 * HARSH;

function seedsToRun(): number[] {
  if (process.env.SIM_SEED) return [Number(process.env.SIM_SEED)];
  const many = /^(\d+)(?:-(\d+))?$/.exec(process.env.SIM_SEEDS ?? '');
  if (many) {
    const [lo, hi] = many[2] === undefined ? [1, Number(many[1])] : [Number(many[1]), Number(many[2])];
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  return Array.from({ length: 10 }, (_, i) => i + 1);
}

// ---- scenarios

/** Faults of the in-memory NATS: rates per second of chaos, `dropRate` per delivered copy. */
interface BackboneFaults {
  /** Two groups of hosts cannot reach each other (messages lost silently, nobody told). */
  readonly partitionRate: number;
  readonly partitionMs: readonly [number, number];
  /** One host cut off every other. */
  readonly isolateRate: number;
  readonly isolateMs: readonly [number, number];
  /** A member's connection cut by its server: it buffers what it publishes, loses what comes to it. */
  readonly disconnectRate: number;
  readonly disconnectMs: readonly [number, number];
  readonly dropRate: number;
}

/** The master's lease and the faults of its bucket (rates per second of chaos). */
interface LeaseFaults {
  /** The bucket's and the lease's time to live, ms. */
  readonly ttl: number;
  /** The bucket loses its quorum (every client's operations fail). */
  readonly unavailableRate: number;
  readonly unavailableMs: readonly [number, number];
  /**
   * The master's client alone is cut off from the bucket; half of the time its backbone
   * connection (or its member's) is cut too, for as long or a little longer (a master's machine
   * off the network).
   */
  readonly isolateRate: number;
  readonly isolateMs: readonly [number, number];
}

interface BackboneScenario {
  /** ep0…ep{members-1} are on the backbone. */
  readonly members: number;
  /** ep{members+i} peers natively with member `behind[i]` only (not on the backbone: relayed). */
  readonly behind: readonly number[];
  /** ep0 and ep1 also peer natively (split horizon must keep every message on one path). */
  readonly memberLink: boolean;
  readonly faults: BackboneFaults;
  readonly lease?: LeaseFaults;
}

interface Scenario {
  readonly topology: Topology;
  readonly seed: number;
  readonly n: number;
  readonly edges: readonly (readonly [number, number])[];
  readonly masterAt: number;
  readonly cloneAt: readonly number[];
  readonly chaosMs: number;
  readonly faults: Partial<SimFaults>;
  readonly sendBufferSize: number;
  /** Bytes in flight on a link above which its outbox holds data back (and may overflow). */
  readonly highWaterMark: number;
  readonly changeLogSize: number;
  readonly mutationBufferInterval: number;
  /** Clones created during the chaos, `at` ms into it, on endpoint `ep`. */
  readonly lateClones: readonly { readonly at: number; readonly ep: number }[];
  /** A live clone (the `clone`-th, modulo) closes at `at` and comes back `downMs` later on its persistence. */
  readonly cloneRestarts: readonly { readonly at: number; readonly clone: number; readonly downMs: number }[];
  /** The master closes at `at` ms into the chaos and comes back `downMs` later (on a new backend: a new incarnation). */
  readonly masterRestart?: { readonly at: number; readonly downMs: number; readonly freshBackend: boolean };
  readonly backbone?: BackboneScenario;
  /**
   * Lease runs: a second master (on a fresh backend: a new incarnation) tries to claim the lease
   * from this endpoint every 200 ms from the start of the chaos, and serves once it holds it.
   */
  readonly standbyAt?: number;
}

function backboneScenario(rng: Rng, n: number, edges: [number, number][], lease: boolean): BackboneScenario {
  const members = n - rng.pick([0, 1, 1, 2]);
  const behind = Array.from({ length: n - members }, () => rng.int(0, members - 1));
  for (const [i, m] of behind.entries()) edges.push([members + i, m]);
  const memberLink = rng.chance(0.3);
  if (memberLink) edges.push([1, 0]);
  return {
    members,
    behind,
    memberLink,
    faults: {
      partitionRate: rng.pick([0.3, 0.6, 1.2]) * HARSH,
      partitionMs: [50, rng.pick([500, 1500, 3000])],
      isolateRate: rng.pick([0, 0.2, 0.5]) * HARSH,
      isolateMs: [100, rng.pick([1000, 3000])],
      disconnectRate: rng.pick([0.3, 0.6, 1.2]) * HARSH,
      disconnectMs: [10, rng.pick([300, 1500])],
      dropRate: Math.min(0.5, rng.pick([0, 0.01, 0.05]) * HARSH),
    },
    ...(lease
      ? {
          lease: {
            ttl: rng.pick([600, 1200, 3000]),
            unavailableRate: rng.pick([0.2, 0.5]) * HARSH,
            unavailableMs: [100, rng.pick([800, 2500])],
            isolateRate: rng.pick([0.2, 0.5]) * HARSH,
            isolateMs: [100, rng.pick([800, 2500])],
          },
        }
      : {}),
  };
}

function scenario(topology: Topology, seed: number): Scenario {
  const t = TOPOLOGIES.indexOf(topology);
  // (The first three topologies keep the seeds they always had.)
  const rng = new Rng(seed * 3 + (t < 3 ? t : 1000 * t));
  const n = rng.int(4, 6);
  const edges: [number, number][] = [];
  let backbone: BackboneScenario | undefined;
  if (topology === 'backbone' || topology === 'lease') backbone = backboneScenario(rng, n, edges, topology === 'lease');
  else if (topology === 'star') for (let i = 1; i < n; i++) edges.push([i, 0]);
  else {
    for (let i = 1; i < n; i++) edges.push([i, i - 1]);
    if (topology === 'ring') edges.push([0, n - 1]);
  }
  const masterAt = rng.int(0, n - 1);
  // Lease runs: half of them have a second master waiting on an endpoint without clones (a clone
  // cannot follow a master on its own endpoint), which takes over when the lease expires.
  const standbyAt = topology === 'lease' && rng.chance(0.5) ? (masterAt + rng.int(1, n - 1)) % n : undefined;
  const cloneEps = Array.from({ length: n }, (_, i) => i).filter((i) => i !== masterAt && i !== standbyAt);
  const cloneAt: number[] = [];
  for (let i = 0; i < n; i++)
    if (i !== masterAt && i !== standbyAt && (cloneAt.length < 2 || rng.chance(0.8))) cloneAt.push(i);
  if (rng.chance(0.3)) cloneAt.push(rng.pick(cloneAt)); // two clones on one endpoint
  return {
    topology,
    seed,
    n,
    edges,
    masterAt,
    cloneAt,
    chaosMs: rng.int(2000, 4000) * HARSH,
    faults: {
      latency: [1, rng.int(3, 15)],
      spikeRate: 0.5 * HARSH,
      spikeMs: [50, 400],
      spikeLatency: [20, 200],
      cutRate: rng.pick([0.1, 0.3, 0.6]) * HARSH,
      downMs: [0, 600],
      halfOpenRate: rng.pick([0, 0.1, 0.3]) * HARSH,
      isolateRate: rng.pick([0, 0.05, 0.15]) * HARSH,
      isolateMs: [300, 3000],
      stallRate: rng.pick([0, 0.1, 0.3]) * HARSH,
      stallMs: [50, 800],
      dropRate: Math.min(0.5, rng.pick([0, 0.01, 0.05]) * HARSH),
      dupRate: Math.min(1, rng.pick([0, 0.05, 0.2]) * HARSH),
    },
    sendBufferSize: rng.pick([16, 64, 8192]),
    highWaterMark: rng.pick([1024, 8192]),
    changeLogSize: rng.pick([20, 100, 100_000]),
    mutationBufferInterval: rng.pick([400, 1000, 2500]),
    // (A clone on the master's own endpoint is a case of its own, tested below.)
    lateClones: Array.from({ length: rng.pick([0, 0, 1, 2]) }, () => ({
      at: rng.int(100, 2000),
      ep: standbyAt === undefined ? (masterAt + rng.int(1, n - 1)) % n : rng.pick(cloneEps),
    })),
    cloneRestarts: Array.from({ length: rng.pick([0, 0, 1, 2]) }, () => ({
      at: rng.int(100, 2000),
      clone: rng.int(0, 9),
      downMs: rng.int(0, 500),
    })),
    ...(standbyAt === undefined && rng.chance(0.3)
      ? { masterRestart: { at: rng.int(200, 1500), downMs: rng.int(0, 400), freshBackend: rng.chance(0.3) } }
      : {}),
    ...(backbone ? { backbone } : {}),
    ...(standbyAt === undefined ? {} : { standbyAt }),
  };
}

const describeScenario = (s: Scenario): string =>
  `${s.topology} of ${s.n} endpoints, master on ep${s.masterAt}, clones on ${s.cloneAt.map((i) => `ep${i}`).join(', ')}; ` +
  `chaos ${s.chaosMs} ms; faults ${JSON.stringify(s.faults)}; sendBufferSize ${s.sendBufferSize}; highWaterMark ${s.highWaterMark}; changeLogSize ${s.changeLogSize}; ` +
  `mutationBufferInterval ${s.mutationBufferInterval}` +
  s.lateClones.map((l) => `; a clone joins on ep${l.ep} at +${l.at} ms`).join('') +
  s.cloneRestarts.map((r) => `; clone #${r.clone} (mod live) restarts at +${r.at} ms after ${r.downMs} ms`).join('') +
  (s.masterRestart
    ? `; master restarts at +${s.masterRestart.at} ms after ${s.masterRestart.downMs} ms${s.masterRestart.freshBackend ? ' with a fresh backend' : ''}`
    : '') +
  (s.backbone
    ? `; backbone members ep0…ep${s.backbone.members - 1}` +
      s.backbone.behind.map((m, i) => `, ep${s.backbone!.members + i} behind ep${m}`).join('') +
      (s.backbone.memberLink ? ', ep0 and ep1 also peered natively' : '') +
      `; backbone faults ${JSON.stringify(s.backbone.faults)}` +
      (s.backbone.lease ? `; lease ${JSON.stringify(s.backbone.lease)}` : '')
    : '') +
  (s.standbyAt === undefined ? '' : `; a standby master on ep${s.standbyAt}`);

// ---- writes

interface WriteRecord {
  readonly who: string;
  /** The writer's n-th write: for a clone, the request id of its command. */
  readonly n: number;
  readonly what: string;
  readonly at: number;
  state: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
  /** Increments of a counter key, with an amount unique to the key: identifiable on the master. */
  readonly counter?: { readonly key: string; readonly amount: number };
  /** A putUnique of a key nothing else touches: it inserts whenever it is applied. */
  readonly unique?: string;
  /** What the promise resolved to. */
  value?: unknown;
}

type Handle = StoreMaster | StoreClone;

interface SimClone {
  readonly name: string;
  /** The endpoint it lives on. */
  readonly at: number;
  readonly c: StoreClone;
  /** Its local copy, kept across a restart of the clone. */
  readonly persistence: ClonePersistence;
  /** Closed clones (restarted under a new name) are not checked for convergence. */
  live: boolean;
  /** Its change feed applied to a map: must add up to its contents. */
  readonly shadow: Map<string, [Data, Data]>;
}

function randomValue(rng: Rng): Data {
  switch (rng.int(0, 4)) {
    case 0:
      return count(rng.int(0, 9));
    case 1:
      return string(rng.pick(['a', 'b', 'cd', '']));
    case 2:
      return integer(rng.int(-3, 3));
    case 3:
      return set([count(rng.int(0, 3)), count(rng.int(0, 3))]);
    default:
      return vector([string('v'), count(rng.int(0, 2))]);
  }
}

/** Issues one random write of `h`; returns its description and promise. */
function randomWrite(rng: Rng, h: Handle): [string, Promise<unknown>] {
  const opts = rng.chance(0.12) ? { expiry: rng.int(50, 500) } : rng.chance(0.03) ? { expiry: 0 } : undefined;
  const ex = opts ? ` expiry ${opts.expiry}` : '';
  const r = rng.int(0, 99);
  if (r < 1) return ['clear', h.clear()];
  if (r < 16) {
    const k = rng.pick(['x0', 'x1', 'x2', 'n0', 's0', 'v0']);
    const v = randomValue(rng);
    return [`put ${k} ${toText(v)}${ex}`, h.put(k, v, opts)];
  }
  if (r < 22) {
    const k = rng.pick(['x0', 'x1', 'u0', 'u1']);
    const v = randomValue(rng);
    return [`putUnique ${k} ${toText(v)}${ex}`, h.putUnique(k, v, opts)];
  }
  if (r < 30) {
    const k = rng.pick(['x0', 'x1', 'x2', 'n0', 'n1', 's0', 's1', 't0', 'v0', 'v1', 'u0', 'u1']);
    return [`erase ${k}`, h.erase(k)];
  }
  if (r < 42) {
    const k = rng.pick(['n0', 'n1']);
    const amount = count(rng.int(1, 5));
    return rng.chance(0.7)
      ? [`increment ${k} ${toText(amount)}${ex}`, h.increment(k, amount, opts)]
      : [`decrement ${k} ${toText(amount)}`, h.decrement(k, amount)];
  }
  if (r < 54) {
    const k = rng.pick(['s0', 's1']);
    const e = string(rng.pick(['p', 'q', 'r', 's']));
    return [`insertInto ${k} ${toText(e)}${ex}`, h.insertInto(k, e, undefined, opts)];
  }
  if (r < 60) {
    const e = count(rng.int(0, 4));
    const v = randomValue(rng);
    return [`insertInto t0 ${toText(e)} -> ${toText(v)}${ex}`, h.insertInto('t0', e, v, opts)];
  }
  if (r < 68) {
    const k = rng.pick(['s0', 's1', 't0']);
    const e = k === 't0' ? count(rng.int(0, 4)) : string(rng.pick(['p', 'q', 'r', 's']));
    return [`removeFrom ${k} ${toText(e)}`, h.removeFrom(k, e)];
  }
  if (r < 80) {
    const k = rng.pick(['v0', 'v1']);
    const v = randomValue(rng);
    return [`push ${k} ${toText(v)}${ex}`, h.push(k, v, opts)];
  }
  if (r < 88) {
    const k = rng.pick(['v0', 'v1']);
    return [`pop ${k}`, h.pop(k)];
  }
  const k = rng.pick(['x0', 'x1', 'x2']);
  const t = string(rng.pick(['a', 'bc']));
  return [`append ${k} ${toText(t)}${ex}`, h.append(k, t, opts)];
}

/** A backend that outlives its master's `close()`, as a SQLite file outlives a restart. */
function durable(b: StoreBackend): StoreBackend {
  return {
    get: (k) => b.get(k),
    put: (e) => b.put(e),
    erase: (k) => b.erase(k),
    clear: () => b.clear(),
    size: () => b.size(),
    keys: () => b.keys(),
    scan: (c, l) => b.scan(c, l),
    expiring: () => b.expiring(),
    getMeta: (n) => b.getMeta(n),
    setMeta: (n, v) => b.setMeta(n, v),
    transaction: (fn) => b.transaction(fn),
    close: () => undefined,
  };
}

// ---- observation helpers

const byKey = (a: readonly [Data, Data], b: readonly [Data, Data]): number => compare(a[0], b[0]);

function masterEntries(m: StoreMaster): [Data, Data][] {
  const keys = m.keys();
  if (keys.type !== 'set') throw new Error('master keys() is not a set');
  return keys.elements.map((k) => [k, m.get(k)]);
}

/** Differences between two sorted entry lists, as readable lines (empty when equal). */
function diff(want: readonly (readonly [Data, Data])[], got: readonly (readonly [Data, Data])[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < want.length || j < got.length) {
    const c = i >= want.length ? 1 : j >= got.length ? -1 : compare(want[i]![0], got[j]![0]);
    if (c < 0) out.push(`missing ${toText(want[i]![0])} = ${toText(want[i++]![1])}`);
    else if (c > 0) out.push(`extra ${toText(got[j]![0])} = ${toText(got[j++]![1])}`);
    else {
      if (!equals(want[i]![1], got[j]![1]))
        out.push(`${toText(want[i]![0])}: master ${toText(want[i]![1])}, clone ${toText(got[j]![1])}`);
      i++;
      j++;
    }
  }
  return out;
}

/** Follows a change feed, applying it to a map of key text → [key, value]. */
function follow(
  m: Map<string, [Data, Data]>,
  on: (fn: (ev: StoreChangeEvent) => void) => () => void,
): Map<string, [Data, Data]> {
  on((ev) => {
    if (ev.type === 'clear') m.clear();
    else if (ev.type === 'insert' || ev.type === 'update') m.set(toText(ev.key), [ev.key, ev.newValue]);
    else m.delete(toText(ev.key));
  });
  return m;
}

function describeStoreMessage(names: Map<string, string>) {
  const who = (id: string): string => names.get(id) ?? id.slice(0, 8);
  return (topic: string, bytes: Uint8Array): string | undefined => {
    if (!topic.startsWith(`<$>/store/${STORE}/`)) return undefined;
    const to = /\/clone\/(.+)$/.exec(topic)?.[1];
    const dest = to === undefined ? (topic.endsWith('/master') ? ' to master' : ' to all') : ` to ${who(to)}`;
    const v = decodeValue(bytes);
    if (v.type !== 'vector') return `malformed store message on ${topic}`;
    const f = v.elements;
    const num = (i: number): string => {
      const d = f[i];
      return d?.type === 'count' ? String(d.value) : '?';
    };
    const str = (i: number): string => {
      const d = f[i];
      return d?.type === 'string' ? d.value : '-';
    };
    switch (num(0)) {
      case '1':
        return `Command ${who(str(1))} #${num(2)} (lowest ${num(3)}) op ${num(4)} key ${f[5] ? toText(f[5]) : '?'}`;
      case '2':
        return `Ack #${num(1)} seq ${num(2)}${f[4]?.type === 'string' ? ` error ${f[4].value}` : ''}${dest}`;
      case '3':
        return `Attach ${who(str(1))} at seq ${num(3)}`;
      case '4':
        return `Update seq ${num(2)} (+${f[3]?.type === 'vector' ? f[3].elements.length : '?'})${dest}`;
      case '5':
        return `SnapshotBegin seq ${num(2)}${dest}`;
      case '6':
        return `SnapshotChunk ${num(2)}${dest}`;
      case '7':
        return `SnapshotEnd seq ${num(2)} chunks ${num(3)}${dest}`;
      case '8':
        return `DeltaEnd seq ${num(2)}${dest}`;
      case '9':
        return undefined; // heartbeats: too many to trace
      case '10':
        return `ChunkAck ${who(str(1))} ${num(2)}`;
      case '12':
        return `Resend from ${num(1)}${dest}`;
      case '13':
        return `DeltaAck ${who(str(1))} seq ${num(2)} stream ${num(3)}`;
      default:
        return `store message kind ${num(0)}${dest}`;
    }
  };
}

// ---- one simulation

/** Ids, epochs and reconnect jitter come from the seed too, so that a seed replays exactly. */
function seedGlobals(rng: Rng): () => void {
  const spies = [
    vi.spyOn(Math, 'random').mockImplementation(() => rng.next()),
    vi
      .spyOn(globalThis.crypto, 'getRandomValues')
      .mockImplementation(((a: Uint8Array) => rng.fill(a)) as typeof crypto.getRandomValues),
  ];
  return () => {
    for (const s of spies) s.mockRestore();
  };
}

/** An endpoint on the simulated network, listening as `name`, with fast retries and keepalives. */
function simEndpoint(net: SimNetwork, name: string, rng: Rng, opts: EndpointOptions = {}): Endpoint {
  const id = rng.fill(new Uint8Array(16));
  id[6] = (id[6]! & 0x0f) | 0x40;
  id[8] = (id[8]! & 0x3f) | 0x80;
  const ep = new Endpoint({
    id: idFromBytes(id),
    name,
    connector: net.connectorFor(name),
    timers: net.clock,
    retry: 20,
    maxRetry: 250,
    pingInterval: 100,
    pingTimeout: 400,
    highWaterMark: 8 * 1024,
    // Rings and meshes of peers: routers (plain endpoints dial as leaves).
    linkKind: 'router',
    ...opts,
  });
  net.listen(name, ep);
  return ep;
}

/** The backbone's faults as they happened. */
interface BackboneChaosStats {
  partitions: number;
  isolations: number;
  disconnects: number;
  kvOutages: number;
  kvIsolations: number;
}

/**
 * Rolls the backbone's faults (and the lease bucket's) every 10 ms of virtual time from `rng`, and
 * ends them in `heal()`. Partitions and isolations end on their own; `MemoryNats` only heals all
 * at once, so the ones still due are applied again after each change.
 */
function backboneChaos(
  clock: SimClock,
  rng: Rng,
  nats: MemoryNats,
  conns: readonly MemoryNatsConnection[],
  f: BackboneFaults,
  note: (line: string) => void,
  lease?: {
    readonly kv: MemoryLeaseKv;
    readonly masterKv: MemoryLeaseKv;
    /** The backbone connection the master's traffic takes. */
    readonly masterConn: MemoryNatsConnection;
    readonly faults: LeaseFaults;
  },
): { readonly stats: BackboneChaosStats; heal(): void } {
  const stats: BackboneChaosStats = { partitions: 0, isolations: 0, disconnects: 0, kvOutages: 0, kvIsolations: 0 };
  const hosts = conns.map((c) => c.host);
  const cuts: { until: number; a: string[]; b: string[] | undefined }[] = [];
  let kvDownUntil = 0;
  let masterCutUntil = 0;
  const tick = 10;
  const per = tick / 1000;
  nats.dropRate(f.dropRate);
  let timer: unknown;
  const roll = (): void => {
    timer = clock.setTimeout(() => {
      const now = clock.now();
      let changed = false;
      for (let i = cuts.length - 1; i >= 0; i--) {
        if (now < cuts[i]!.until) continue;
        cuts.splice(i, 1);
        changed = true;
      }
      if (hosts.length >= 2 && rng.chance(f.partitionRate * per)) {
        const shuffled = [...hosts];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const k = rng.int(1, hosts.length - 1);
        const ms = rng.int(...f.partitionMs);
        cuts.push({ until: now + ms, a: shuffled.slice(0, k), b: shuffled.slice(k) });
        stats.partitions++;
        changed = true;
        note(`backbone: ${shuffled.slice(0, k).join(',')} | ${shuffled.slice(k).join(',')} for ${ms} ms`);
      }
      if (rng.chance(f.isolateRate * per)) {
        const h = rng.pick(hosts);
        const ms = rng.int(...f.isolateMs);
        cuts.push({ until: now + ms, a: [h], b: undefined });
        stats.isolations++;
        changed = true;
        note(`backbone: ${h} isolated for ${ms} ms`);
      }
      if (changed) {
        nats.heal();
        for (const c of cuts) {
          if (c.b) nats.partition(c.a, c.b);
          else nats.isolate(...c.a);
        }
      }
      if (rng.chance(f.disconnectRate * per)) {
        const c = rng.pick(conns);
        const ms = rng.int(...f.disconnectMs);
        if (c.isConnected()) {
          nats.disconnect(c, ms);
          stats.disconnects++;
          note(`backbone: ${c.name} disconnected for ${ms} ms`);
        }
      }
      if (lease) {
        const lf = lease.faults;
        if (kvDownUntil > 0 && now >= kvDownUntil) {
          kvDownUntil = 0;
          lease.kv.unavailable(false);
          note('lease bucket available');
        } else if (kvDownUntil === 0 && rng.chance(lf.unavailableRate * per)) {
          kvDownUntil = now + rng.int(...lf.unavailableMs);
          lease.kv.unavailable(true);
          stats.kvOutages++;
          note(`lease bucket unavailable for ${kvDownUntil - now} ms`);
        }
        if (masterCutUntil > 0 && now >= masterCutUntil) {
          masterCutUntil = 0;
          lease.masterKv.isolate(false);
          note("the master's lease client is back");
        } else if (masterCutUntil === 0 && rng.chance(lf.isolateRate * per)) {
          const ms = rng.int(...lf.isolateMs);
          masterCutUntil = now + ms;
          lease.masterKv.isolate(true);
          stats.kvIsolations++;
          note(`the master's lease client is cut off for ${ms} ms`);
          if (rng.chance(0.5) && lease.masterConn.isConnected()) {
            // Back on the backbone a little later than in the bucket: by then the clones may know
            // of the new epoch from their lease watches, and what it buffered is of the old one.
            const longer = ms + rng.int(0, 1000);
            nats.disconnect(lease.masterConn, longer);
            stats.disconnects++;
            note(`backbone: ${lease.masterConn.name} disconnected for ${longer} ms with it`);
          }
        }
      }
      roll();
    }, tick);
  };
  roll();
  return {
    stats,
    heal: () => {
      clock.clearTimeout(timer);
      cuts.length = 0;
      nats.heal();
      nats.dropRate(0);
      for (const c of conns) nats.reconnect(c);
      lease?.kv.unavailable(false);
      lease?.masterKv.isolate(false);
      note('backbone healed');
    },
  };
}

interface Outcome {
  readonly problems: string[];
  readonly report: string;
  /** Summarises the run; equal for two runs of one seed when the simulation is deterministic. */
  readonly fingerprint: string;
  /** What happened, in a line (`SIM_SUMMARY=1` prints it for every run). */
  readonly summary: string;
}

async function simulate(sc: Scenario): Promise<Outcome> {
  const root = new Rng(sc.seed * 7919 + TOPOLOGIES.indexOf(sc.topology));
  const idRng = root.fork();
  const netRng = root.fork();
  const writeRng = root.fork();
  const backboneRng = root.fork();
  const restoreGlobals = seedGlobals(idRng);
  const clock = new SimClock();
  const names = new Map<string, string>();
  const traceFile = process.env.SIM_TRACE;
  const net = new SimNetwork(clock, netRng, {
    describe: describeStoreMessage(names),
    ...(traceFile ? { traceDeliveries: true, traceSize: 1e7 } : {}),
  });
  const problems: string[] = [];
  const storeErrors: string[] = [];
  const t = (): number => clock.now() - clock.start;
  const eps: Endpoint[] = [];
  const clones: SimClone[] = [];
  const live = (): SimClone[] => clones.filter((x) => x.live);
  let master: StoreMaster | undefined;
  const writes: WriteRecord[] = [];
  const bb = sc.backbone;
  const nats = bb ? new MemoryNats({ timers: clock, seed: backboneRng.int(1, 2 ** 31) }) : undefined;
  const conns: MemoryNatsConnection[] = [];
  // The master's lease: a bucket on the virtual clock, the master's own client of it (cut off
  // alone now and then), and one client per clone (watching who holds it).
  const kv = bb?.lease ? new MemoryLeaseKv(clock, { ttl: bb.lease.ttl }) : undefined;
  const masterKv = kv?.client();
  let stepDowns = 0;
  let superseded = 0;
  let fencedOut = 0;
  /** Every master made (restarts, a standby taking over), for the lease holder and the cleanup. */
  const masters: StoreMaster[] = [];
  let finished = false;
  try {
    for (let i = 0; i < sc.n; i++) {
      eps.push(
        simEndpoint(net, `ep${i}`, idRng, { sendBufferSize: sc.sendBufferSize, highWaterMark: sc.highWaterMark }),
      );
    }
    if (nats && bb) {
      for (const ep of eps.slice(0, bb.members)) {
        const nc = nats.connect({ name: ep.name, noEcho: true, host: ep.name });
        conns.push(nc);
        linkBackbone(ep, new NatsBackbone(nc, { timers: clock }));
      }
    }
    for (const [a, b] of sc.edges) eps[a]!.peer(`ws://ep${b}`).catch(() => undefined);
    const meshed = await clock.runUntil(
      () =>
        bb
          ? eps.slice(0, bb.members).every((e) => e.backbone!.stats().endpoints === bb.members - 1) &&
            sc.edges.every(([a, b]) => eps[a]!.reachable().some((r) => r.name === `ep${b}`))
          : eps.every((e) => e.reachable().length === sc.n - 1),
      5000,
    );
    if (!meshed) throw new Error('the calm network did not connect');

    // The master; a restart makes a new one over the same backend (or, for a new incarnation, a new one).
    /** Each master's change feed applied to a map. */
    const shadows = new Map<StoreMaster, Map<string, [Data, Data]>>();
    // Counter key → the amounts the master applied, with the incarnation (epoch) that applied each.
    const applied = new Map<string, { amount: number; epoch: string }[]>();
    const inserted = new Set<string>(); // keys of unique putUniques the master inserted
    const createOnce = (backend: StoreBackend, at = sc.masterAt, leaseKv = masterKv): Promise<StoreMaster> =>
      createMaster(eps[at]!, STORE, {
        backend,
        timers: clock,
        heartbeatInterval: 100,
        expiryTick: 50,
        chunkSize: 3,
        chunkWindow: 2,
        changeLogSize: sc.changeLogSize,
        ...(leaseKv && bb?.lease ? { lease: { kv: leaseKv, ttl: bb.lease.ttl } } : {}),
        onError: (e) => {
          // Losing the lease to an unavailable bucket is what the lease runs are about (counted);
          // a release that fails for the same reason leaves the lease to expire (taken over anyway).
          if (masterKv && e.code === 'stale_data' && /stepped down/.test(e.message)) {
            stepDowns++;
            net.note(`master steps down: ${e.message}`);
          } else if (masterKv && e.code === 'backend_failure' && /releasing its lease/.test(e.message)) {
            net.note(e.message);
          } else if (sc.standbyAt !== undefined && e.code === 'master_exists' && /superseded/.test(e.message)) {
            // The other master took the lease while this one was down: it stays down.
            superseded++;
            net.note(`a master on ep${at} is superseded: ${e.message}`);
          } else storeErrors.push(`master on ep${at}: ${e.code} ${e.message}`);
        },
      });
    /** Creates the master; with a lease, tries again while the bucket cannot be reached. */
    const createRetrying = async (backend: StoreBackend): Promise<StoreMaster> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await createOnce(backend);
        } catch (err) {
          if (!masterKv || attempt >= 50 || !(err instanceof StoreError) || err.code !== 'backend_failure') throw err;
          net.note(`the master cannot claim its lease yet: ${err.message}`);
        }
        await clock.run(100);
      }
    };
    /** Follows a new master's change feed. */
    const observe = (mm: StoreMaster): StoreMaster => {
      masters.push(mm);
      const shadow = new Map<string, [Data, Data]>();
      for (const [k, v] of masterEntries(mm)) shadow.set(toText(k), [k, v]);
      shadows.set(
        mm,
        follow(shadow, (fn) => mm.onChange(fn)),
      );
      mm.onChange((ev) => {
        if (ev.type === 'insert' && ev.key.type === 'string' && ev.key.value.startsWith('uniq/'))
          inserted.add(ev.key.value);
        if (ev.type !== 'insert' && ev.type !== 'update') return;
        if (ev.key.type !== 'string' || !ev.key.value.startsWith('ctr/') || ev.newValue.type !== 'count') return;
        const before = ev.type === 'update' && ev.oldValue.type === 'count' ? ev.oldValue.value : 0n;
        const list = applied.get(ev.key.value) ?? [];
        list.push({ amount: Number(ev.newValue.value - before), epoch: mm.position.epoch });
        applied.set(ev.key.value, list);
      });
      return mm;
    };
    const startMaster = async (backend: StoreBackend): Promise<StoreMaster> => observe(await createRetrying(backend));
    /** The master that holds the lease (with leases), else the last one started. */
    const current = (): StoreMaster => masters.find((mm) => mm.leaseState?.held) ?? master!;
    const backend = durable(createMemoryBackend());
    master = await startMaster(backend);
    await Promise.all(Array.from({ length: 30 }, (_, i) => master!.put(`pre${i}`, set([count(i)]))));
    await master.put('doomed', string('not a number'));

    const addClone = async (name: string, at: number, persistence: ClonePersistence): Promise<SimClone> => {
      const c = await createClone(eps[at]!, STORE, {
        timers: clock,
        resyncInterval: 150,
        masterTimeout: 400,
        mutationBufferInterval: sc.mutationBufferInterval,
        staleInterval: 1e9,
        persistence,
        ...(kv ? { lease: { kv: kv.client() } } : {}),
        onError: (e) => storeErrors.push(`${name}: ${e.code} ${e.message}`),
      });
      names.set(c.cloneId, name);
      // Fencing: a message of a master older than one the clone has seen must be ignored.
      type Via = 'broadcast' | 'direct';
      const core = (c as unknown as { core: { onMessage(m: StoreMessage, via?: Via): void } }).core;
      const onMessage = core.onMessage.bind(core);
      core.onMessage = (msg, via) => {
        const before = c.fencing;
        const fence = (msg as { readonly fence?: number }).fence ?? 0;
        onMessage(msg, via);
        if (fence >= before.epoch) return;
        fencedOut++;
        if (c.fencing.ignored === before.ignored)
          problems.push(`${name} took a message of fencing epoch ${fence} after seeing epoch ${before.epoch}`);
      };
      c.onStatus((st) => net.note(`${name} is ${st} at seq ${c.position.seq}`));
      // A restarted clone shows what it persisted at once; its change feed continues from there.
      const fed = new Map<string, [Data, Data]>([...c.entries()].map(([k, v]) => [toText(k), [k, v]]));
      const x: SimClone = { name, at, c, persistence, live: true, shadow: follow(fed, (fn) => c.onChange(fn)) };
      clones.push(x);
      return x;
    };
    for (const [i, at] of sc.cloneAt.entries()) await addClone(`c${i}@ep${at}`, at, createMemoryPersistence());
    if (!(await clock.runUntil(() => clones.every((x) => x.c.status === 'in-sync'), 10_000))) {
      throw new Error(
        `the clones did not sync on the calm network: ${clones.map((x) => `${x.name} ${x.c.status}`).join(', ')}`,
      );
    }

    // ---- chaos: everybody writes while the network misbehaves
    let writing = true;
    const counters = new Map<string, number>();
    const writer = (
      who: string,
      handle: () => Handle,
      rng: Rng,
      isClone: boolean,
      alive: () => boolean = () => true,
    ): void => {
      let issued = 0;
      const next = (): void => {
        if (!writing || !alive()) return;
        const h = handle();
        let what: string;
        let p: Promise<unknown>;
        let counter: WriteRecord['counter'];
        let unique: string | undefined;
        if (isClone && rng.chance(0.03)) {
          // 'doomed' holds a string or (after a clear) nothing: decrementing it always fails.
          what = 'decrement doomed';
          p = h.decrement('doomed', count(1));
        } else if (isClone && rng.chance(0.05)) {
          unique = `uniq/${who}/${issued + 1}`;
          what = `putUnique ${unique}`;
          p = h.putUnique(unique, count(1));
        } else if (isClone && rng.chance(0.12)) {
          const key = `ctr/${who}`;
          const amount = (counters.get(key) ?? 0) + 1;
          counters.set(key, amount);
          counter = { key, amount };
          what = `increment ${key} ${amount}`;
          p = h.increment(key, count(amount));
        } else if (isClone && rng.chance(0.1)) {
          // Each clone appends its write numbers to a vector of its own: the master must apply
          // one clone's writes in the order they were made.
          what = `push order/${who} ${issued + 1}`;
          p = h.push(`order/${who}`, count(issued + 1));
        } else [what, p] = randomWrite(rng, h);
        const rec: WriteRecord = {
          who,
          n: ++issued,
          what,
          at: t(),
          state: 'pending',
          ...(counter ? { counter } : {}),
          ...(unique ? { unique } : {}),
        };
        writes.push(rec);
        if (traceFile) net.note(`${who} writes #${rec.n} '${what}'`);
        p.then(
          (value) => {
            rec.state = 'resolved';
            rec.value = value;
            if (traceFile) net.note(`${who} '${what}' resolved`);
          },
          (err: unknown) => {
            rec.state = 'rejected';
            rec.error = err;
            if (traceFile) net.note(`${who} '${what}' rejected: ${String(err)}`);
          },
        );
        clock.setTimeout(next, rng.int(5, 60));
      };
      clock.setTimeout(next, rng.int(0, 30));
    };
    const cloneWriter = (x: SimClone): void =>
      writer(
        x.name,
        () => x.c,
        writeRng.fork(),
        true,
        () => x.live,
      );
    writer('master', current, writeRng.fork(), false);
    for (const x of clones) cloneWriter(x);
    net.setFaults(sc.faults);
    const chaos =
      nats && bb
        ? backboneChaos(
            clock,
            backboneRng,
            nats,
            conns,
            bb.faults,
            (line) => net.note(line),
            kv && masterKv && bb.lease
              ? {
                  kv,
                  masterKv,
                  masterConn: conns[sc.masterAt < bb.members ? sc.masterAt : bb.behind[sc.masterAt - bb.members]!]!,
                  faults: bb.lease,
                }
              : undefined,
          )
        : undefined;
    const standbyAt = sc.standbyAt;
    if (standbyAt !== undefined && kv) {
      const standbyKv = kv.client();
      const attempt = (): void => {
        if (finished) return;
        createOnce(durable(createMemoryBackend()), standbyAt, standbyKv).then(
          (mm) => {
            master = observe(mm);
            net.note(`the master on ep${standbyAt} takes over with lease epoch ${mm.leaseState?.epoch}`);
          },
          (err: unknown) => {
            if (err instanceof StoreError && (err.code === 'master_exists' || err.code === 'backend_failure'))
              clock.setTimeout(attempt, 200);
            else storeErrors.push(`the master on ep${standbyAt} failed to start: ${String(err)}`);
          },
        );
      };
      clock.setTimeout(attempt, 200);
    }

    // Scripted events of the chaos phase, in time order.
    const events: { at: number; run: () => Promise<void> }[] = [];
    const restart = sc.masterRestart;
    if (restart) {
      events.push({
        at: restart.at,
        run: async () => {
          net.note(`master closes${restart.freshBackend ? ' (its data is lost)' : ''}`);
          master!.close();
          await clock.run(restart.downMs);
          master = await startMaster(restart.freshBackend ? durable(createMemoryBackend()) : backend);
          net.note(`master restarts at seq ${master.position.seq}`);
        },
      });
    }
    for (const [i, late] of sc.lateClones.entries()) {
      events.push({
        at: late.at,
        run: async () => cloneWriter(await addClone(`late${i}@ep${late.ep}`, late.ep, createMemoryPersistence())),
      });
    }
    for (const r of sc.cloneRestarts) {
      events.push({
        at: r.at,
        run: async () => {
          const old = live()[r.clone % live().length]!;
          net.note(`${old.name} closes`);
          old.live = false;
          old.c.close();
          await clock.run(r.downMs);
          cloneWriter(await addClone(`${old.name}'`, old.at, old.persistence));
        },
      });
    }
    events.sort((a, b) => a.at - b.at);
    const chaosStart = t();
    for (const e of events) {
      await clock.run(Math.max(0, chaosStart + e.at - t()));
      await e.run();
    }
    await clock.run(Math.max(0, chaosStart + sc.chaosMs - t()));

    // ---- calm: no more writes or faults; everything must converge
    writing = false;
    // Send-buffer overflows (drop_oldest) counted by the sessions still open, for the summary.
    const overflows = eps.reduce((n, e) => n + e.peers().reduce((k, p) => k + (p.stats?.overflows ?? 0), 0), 0);
    net.heal();
    chaos?.heal();
    const settledAt = t();
    /** Members that do not see every other member on the backbone (presence). */
    const unseen = (): string[] =>
      bb
        ? eps
            .slice(0, bb.members)
            .filter((e) => e.backbone!.stats().endpoints !== bb.members - 1)
            .map((e) => `${e.name} sees ${e.backbone!.stats().endpoints} of ${bb.members - 1}`)
        : [];
    const converged = (): boolean =>
      unseen().length === 0 &&
      writes.every((w) => w.state !== 'pending') &&
      current().leaseState?.held !== false &&
      live().every(
        (x) => x.c.status === 'in-sync' && diff(masterEntries(current()), [...x.c.entries()].sort(byKey)).length === 0,
      );
    const ok = await clock.runUntil(converged, 30_000, 50);
    await clock.run(1500); // every expiry is due by now: it must replicate too
    const m = current();
    const healedIn = ok
      ? `converged ${t() - 1500 - settledAt} ms after healing`
      : 'did not converge within 30 s after healing';

    // ---- checks
    const want = masterEntries(m);
    for (const x of live()) {
      if (x.c.status !== 'in-sync')
        problems.push(`${x.name} is ${x.c.status} at seq ${x.c.position.seq} (master at ${m.position.seq})`);
      const d = diff(want, [...x.c.entries()].sort(byKey));
      if (d.length > 0)
        problems.push(
          `${x.name} (${x.c.status}, seq ${x.c.position.seq}, master seq ${m.position.seq}) differs from the master: ${d.slice(0, 8).join('; ')}`,
        );
      const fed = diff([...x.c.entries()].sort(byKey), [...x.shadow.values()].sort(byKey));
      if (fed.length > 0)
        problems.push(`${x.name}'s change feed does not add up to its contents: ${fed.slice(0, 5).join('; ')}`);
    }
    for (const u of unseen()) problems.push(`after the heal, on the backbone, ${u} other members`);
    if (m.leaseState && !m.leaseState.held)
      problems.push(`the master does not hold its lease after the heal (epoch ${m.leaseState.epoch})`);
    const mfed = diff(want, [...shadows.get(m)!.values()].sort(byKey));
    if (mfed.length > 0)
      problems.push(`the master's change feed does not add up to its contents: ${mfed.slice(0, 5).join('; ')}`);
    const pending = writes.filter((w) => w.state === 'pending');
    if (pending.length > 0) {
      problems.push(
        `${pending.length} write(s) never settled, e.g. ${pending
          .slice(0, 5)
          .map((w) => `${w.who} #${w.n} '${w.what}' issued at t=${w.at}`)
          .join('; ')}`,
      );
    }
    for (const w of writes) {
      if (w.state === 'rejected' && !(w.error instanceof StoreError))
        problems.push(`${w.who} '${w.what}' rejected with a non-StoreError: ${String(w.error)}`);
    }
    // Exactly-once: each counter amount is unique to its key, so the master's feed tells which
    // increments applied, and how often. A master restarted on a fresh backend is a new
    // incarnation whose store starts empty: replaying a write to it is not a second application.
    for (const w of writes) {
      if (!w.counter) continue;
      const hits = (applied.get(w.counter.key) ?? []).filter((a) => a.amount === w.counter!.amount);
      const perEpoch = new Map<string, number>();
      for (const h of hits) perEpoch.set(h.epoch, (perEpoch.get(h.epoch) ?? 0) + 1);
      const most = Math.max(0, ...perEpoch.values());
      const err = w.error instanceof StoreError ? w.error : undefined;
      if (most > 1)
        problems.push(`${w.who} #${w.n} '${w.what}' (${w.state}) was applied ${most} times by one master incarnation`);
      if (w.state === 'resolved' && hits.length === 0)
        problems.push(`${w.who} #${w.n} '${w.what}' resolved but was never applied`);
      if (err && /not applied/.test(err.message) && hits.length > 0)
        problems.push(`${w.who} #${w.n} '${w.what}' was rejected as not applied, but applied (${err.message})`);
      if (err && err.code !== 'request_timeout' && err.code !== 'no_such_master')
        problems.push(`${w.who} #${w.n} '${w.what}' failed with ${err.code}: ${err.message}`);
    }
    for (const w of writes)
      if (w.what === 'decrement doomed' && w.state === 'resolved')
        problems.push(`${w.who} #${w.n} '${w.what}' resolved, but it cannot succeed`);
    // putUnique answers: a key nothing else touches is inserted exactly when the command applies.
    for (const w of writes) {
      if (!w.unique || w.state !== 'resolved') continue;
      if (w.value !== true || !inserted.has(w.unique)) {
        problems.push(
          `${w.who} #${w.n} '${w.what}' resolved to ${String(w.value)} but the master ${inserted.has(w.unique) ? 'did' : 'did not'} insert it`,
        );
      }
    }
    // Per-clone order: among the writes that resolved, the master applied each clone's in order.
    for (const x of clones) {
      const key = string(`order/${x.name}`);
      const v = m.exists(key) ? m.get(key) : undefined;
      if (v?.type !== 'vector') continue;
      const ok = new Set(writes.filter((w) => w.who === x.name && w.state === 'resolved').map((w) => w.n));
      const seen = v.elements.map((e) => (e.type === 'count' ? Number(e.value) : -1)).filter((n) => ok.has(n));
      if (seen.some((n, i) => i > 0 && n <= seen[i - 1]!))
        problems.push(`${x.name}'s writes were applied out of order: order/${x.name} = ${toText(v)}`);
    }
    for (const [key, list] of applied) {
      const issued = counters.get(key) ?? 0;
      for (const { amount } of list)
        if (amount < 1 || amount > issued) problems.push(`${key} changed by ${amount}, which no increment asked for`);
    }
    problems.push(...storeErrors.map((e) => `store error: ${e}`));
    problems.push(
      ...clock.errors.map((e) => `a timer threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    );

    const tally = (s: WriteRecord['state']): number => writes.filter((w) => w.state === s).length;
    const summary =
      `${writes.length} writes (${tally('resolved')} resolved, ${tally('rejected')} rejected, ${tally('pending')} pending); ` +
      `master seq ${m.position.seq}, ${want.length} keys; ${healedIn}; network ${JSON.stringify(net.stats)}; ${overflows} send-buffer overflows on the open sessions` +
      (nats && chaos ? `; backbone ${JSON.stringify(chaos.stats)}, nats ${JSON.stringify(nats.stats())}` : '') +
      (m.leaseState
        ? `; lease epoch ${m.leaseState.epoch} held on ep${eps.indexOf(m.endpoint)}, ${stepDowns} step-downs, ${superseded} superseded, ${fencedOut} messages of older epochs fenced out`
        : '');
    const report = [
      `store convergence failed: ${sc.topology}, seed ${sc.seed}`,
      `replay: ${HARSH === 1 ? '' : `SIM_HARSH=${HARSH} `}SIM_SEED=${sc.seed} npx vitest run ${FILE} -t "${sc.topology} seed ${sc.seed}"`,
      `scenario: ${describeScenario(sc)}`,
      `run: ${summary}`,
      'problems:',
      ...problems.map((p) => `  - ${p}`),
      'clones:',
      ...live().map((x) => `  ${x.name}: ${x.c.status}, seq ${x.c.position.seq}, ${x.c.size} keys`),
      `connections: ${net.connections().join(', ')}`,
      'trace (last lines):',
      ...net.traceTail(60).map((l) => `  ${l}`),
    ].join('\n');
    const fingerprint = `${summary}; timers ${clock.fired}; ${toText(m.keys())}`;
    if (traceFile)
      writeFileSync(
        traceFile.replace('{run}', `${sc.topology}-${sc.seed}`),
        [
          report,
          ...pending.map((w) => `PENDING ${w.who} #${w.n} '${w.what}'`),
          'full trace:',
          ...net.traceTail(Infinity),
        ].join('\n'),
      );
    return { problems, report, fingerprint, summary: `${describeScenario(sc)}\n  => ${summary}` };
  } finally {
    finished = true;
    for (const x of clones) x.c.close();
    for (const mm of masters) mm.close();
    for (const e of eps) void e.close();
    void nats?.close();
    restoreGlobals();
  }
}

// ---- the tests

describe('store convergence on a simulated faulty network', () => {
  for (const topology of TOPOLOGIES) {
    for (const seed of seedsToRun()) {
      it(`${topology} seed ${seed}`, { timeout: SIM_TIMEOUT_MS }, async () => {
        const sc = scenario(topology, seed);
        const out = await simulate(sc).catch((err: unknown) => {
          throw new Error(
            `${topology} seed ${seed} threw: ${err instanceof Error ? err.message : String(err)}\nscenario: ${describeScenario(sc)}`,
            { cause: err },
          );
        });
        if (process.env.SIM_SUMMARY) console.log(`${topology} seed ${seed}: ${out.summary}`);
        if (out.problems.length > 0) expect.fail(out.report);
      });
    }
  }

  for (const topology of ['ring', 'lease'] as const) {
    it(`replays a ${topology} seed exactly (same faults, same writes, same outcome)`, {
      timeout: 2 * SIM_TIMEOUT_MS,
    }, async () => {
      const a = await simulate(scenario(topology, 1));
      const b = await simulate(scenario(topology, 1));
      expect(b.fingerprint).toBe(a.fingerprint);
    });
  }
});

// ---- minimal reproductions of what the seeds found

/** A store message's kind and fields (undefined for other traffic). */
function storeFields(topic: string, bytes: Uint8Array): { kind: number; f: readonly Data[] } | undefined {
  if (!topic.startsWith(`<$>/store/${STORE}/`)) return undefined;
  const v = decodeValue(bytes);
  if (v.type !== 'vector' || v.elements[0]?.type !== 'count') return undefined;
  return { kind: Number(v.elements[0].value), f: v.elements };
}

const countField = (f: readonly Data[], i: number): number | undefined => {
  const d = f[i];
  return d?.type === 'count' ? Number(d.value) : undefined;
};

/** Drops the first store message that `match` accepts; `hit()` tells whether it happened. */
function dropOnce(net: SimNetwork, match: (kind: number, f: readonly Data[]) => boolean): { hit(): boolean } {
  let done = false;
  net.dropWhere((topic, bytes) => {
    const m = storeFields(topic, bytes);
    if (done || !m || !match(m.kind, m.f)) return false;
    return (done = true);
  });
  return { hit: () => done };
}

function outcome(p: Promise<unknown>): {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly value?: unknown;
  readonly error?: unknown;
} {
  const o: { state: 'pending' | 'resolved' | 'rejected'; value?: unknown; error?: unknown } = { state: 'pending' };
  p.then(
    (value) => {
      o.state = 'resolved';
      o.value = value;
    },
    (error: unknown) => {
      o.state = 'rejected';
      o.error = error;
    },
  );
  return o;
}

interface Duo {
  readonly clock: SimClock;
  readonly net: SimNetwork;
  readonly eps: readonly Endpoint[];
  readonly backend: StoreBackend;
  master: StoreMaster;
  readonly clone: StoreClone;
  startMaster(): Promise<StoreMaster>;
}

/**
 * Two endpoints (ep1 peers with ep0) with a fixed one-way latency: the master on ep0 holding
 * `keys` entries, a clone on ep1 (in sync unless `sync` is false). Runs `fn`, then cleans up.
 */
async function withDuo(
  o: { latency?: number; keys?: number; sync?: boolean; master?: MasterOptions; clone?: CloneOptions },
  fn: (d: Duo) => Promise<void>,
): Promise<void> {
  const rng = new Rng(42);
  const restore = seedGlobals(rng.fork());
  const clock = new SimClock();
  const names = new Map<string, string>();
  const net = new SimNetwork(clock, rng.fork(), { describe: describeStoreMessage(names), traceDeliveries: true });
  const latency = o.latency ?? 2;
  net.setFaults({ latency: [latency, latency] });
  const eps = [simEndpoint(net, 'ep0', rng), simEndpoint(net, 'ep1', rng)];
  const backend = durable(createMemoryBackend());
  const cleanup: (() => void)[] = [];
  try {
    eps[1]!.peer('ws://ep0').catch(() => undefined);
    expect(await clock.runUntil(() => eps[1]!.reachable().length === 1, 2000)).toBe(true);
    const startMaster = async (): Promise<StoreMaster> => {
      const m = await createMaster(eps[0]!, STORE, { backend, timers: clock, heartbeatInterval: 100, ...o.master });
      cleanup.push(() => m.close());
      return m;
    };
    const master = await startMaster();
    await Promise.all(Array.from({ length: o.keys ?? 3 }, (_, i) => master.put(`pre${i}`, count(i))));
    expect(await clock.runUntil(() => eps[1]!.hasRoute(`<$>/store/${STORE}/master`), 1000)).toBe(true);
    const clone = await createClone(eps[1]!, STORE, {
      timers: clock,
      resyncInterval: 150,
      masterTimeout: 400,
      ...o.clone,
    });
    cleanup.push(() => clone.close());
    names.set(clone.cloneId, 'clone');
    clone.onStatus((st) => net.note(`clone is ${st} at seq ${clone.position.seq}`));
    if (o.sync !== false) expect(await clock.runUntil(() => clone.status === 'in-sync', 3000)).toBe(true);
    await fn({ clock, net, eps, backend, master, clone, startMaster });
  } finally {
    for (const c of cleanup) c();
    for (const e of eps) void e.close();
    restore();
  }
}

const contents = (entries: Iterable<[Data, Data]>): string =>
  [...entries]
    .sort(byKey)
    .map(([k, v]) => `${toText(k)}=${toText(v)}`)
    .join(' ');

describe('minimised failures found by the seeds (each names the bug it pins down)', () => {
  it('a command lost in transit is applied when retransmitted, even after a later command arrived', async () => {
    // Bug: MasterCore.onCommand treats every reqId <= lastReq as a duplicate. Request 1 is lost,
    // request 2 arrives (lastReq = 2), the retransmitted request 1 is then ignored: never applied,
    // never answered, retransmitted by the in-sync clone forever; its promise never settles.
    await withDuo({}, async ({ clock, net, master, clone }) => {
      const lost = dropOnce(net, (kind, f) => kind === 1 && countField(f, 2) === 1);
      const first = outcome(clone.put('a', count(1)));
      await clock.run(5);
      const second = outcome(clone.put('b', count(2)));
      await clock.runUntil(() => first.state !== 'pending' && second.state !== 'pending', 5000);
      expect(lost.hit()).toBe(true);
      expect(second.state).toBe('resolved');
      expect(first.state).toBe('resolved');
      expect(master.exists('a')).toBe(true);
    });
  });

  it('a clone whose resync request goes unanswered does not stay in-sync while it falls behind', async () => {
    // Bug: at the end of a snapshot, drainBuffered() finds a gap and calls attach() (status is
    // 'syncing', so attach() does not mark it lost), then synced() sets 'in-sync' with attaching
    // still true. If that Attach (or its DeltaEnd) is lost, nothing retries (the tick only
    // re-attaches clones that are not in sync), every later Update is buffered and never applied,
    // and heartbeats are ignored: the clone reports in-sync while its data stays old for ever.
    await withDuo(
      {
        latency: 10,
        keys: 30,
        sync: false,
        master: { chunkSize: 3, chunkWindow: 1 },
        clone: { resyncInterval: 1000, masterTimeout: 1000 },
      },
      async ({ clock, net, master, clone }) => {
        const start = master.position.seq;
        let updateLost = false;
        let attachLost = false;
        net.dropWhere((topic, bytes) => {
          const m = storeFields(topic, bytes);
          if (!updateLost && m?.kind === 4 && countField(m.f, 2) === start + 2) return (updateLost = true);
          if (!attachLost && m?.kind === 3 && countField(m.f, 3) === start + 1) return (attachLost = true);
          return false;
        });
        await clock.run(60); // the snapshot is streaming
        expect(clone.status).toBe('syncing');
        for (const k of ['x1', 'x2', 'x3']) {
          await master.put(k, count(1));
          await clock.run(1);
        }
        await clock.runUntil(() => clone.status === 'in-sync', 3000);
        await master.put('x4', count(1));
        await clock.runUntil(
          () => clone.status === 'in-sync' && contents(clone.entries()) === contents(master.entries()),
          5000,
        );
        expect(updateLost && attachLost).toBe(true);
        expect(`${clone.status} at seq ${clone.position.seq}: ${contents(clone.entries())}`).toBe(
          `in-sync at seq ${master.position.seq}: ${contents(master.entries())}`,
        );
      },
    );
  });

  it('a snapshot that takes longer than resyncInterval completes', async () => {
    // Bug: CloneCore.tick() re-attaches every resyncInterval while the status is not 'in-sync',
    // and 'syncing' (a snapshot streaming) counts; attach() discards the snapshot in progress and
    // the master restarts the stream. A snapshot needing more than resyncInterval (here 10 chunks
    // at 40 ms per round trip against 150 ms; in production a large store against the 1 s default)
    // never completes, and the clone never syncs.
    await withDuo(
      { latency: 20, keys: 30, sync: false, master: { chunkSize: 3, chunkWindow: 1 }, clone: { resyncInterval: 150 } },
      async ({ clock, net, clone }) => {
        let begun = 0;
        net.watch((topic, bytes) => void (storeFields(topic, bytes)?.kind === 5 && begun++));
        const synced = await clock.runUntil(() => clone.status === 'in-sync', 5000);
        expect({ synced, snapshotsBegun: begun }).toEqual({ synced: true, snapshotsBegun: 1 });
      },
    );
  });

  it('a reconnect in the middle of a snapshot resumes cleanly: no chunk of the abandoned stream is applied', async () => {
    // Issue 16: snapshot messages carry the id of the Attach they answer. The link is cut while a
    // snapshot streams and the master keeps writing; the clone attaches again and must apply only
    // chunks of the stream that answers its latest Attach (its ChunkAcks name the stream of the
    // chunk applied), and end with exactly the master's contents.
    await withDuo(
      { latency: 20, keys: 30, sync: false, master: { chunkSize: 3, chunkWindow: 2 } },
      async ({ clock, net, master, clone }) => {
        const begun: number[] = [];
        const applied: { stream: number; latestBegun: number | undefined }[] = [];
        net.watch((topic, bytes, _from, to) => {
          const m = storeFields(topic, bytes);
          if (m?.kind === 5 && to === 'ep1') begun.push(countField(m.f, 3)!);
          if (m?.kind === 10) applied.push({ stream: countField(m.f, 3)!, latestBegun: begun.at(-1) });
        });
        expect(await clock.runUntil(() => applied.length >= 2, 2000)).toBe(true);
        net.cut('ep1', 'ep0', { downMs: 200 });
        for (let i = 0; i < 6; i++) {
          await master.put(`pre${i * 5}`, string(`changed during the cut ${i}`));
          await clock.run(30);
        }
        const synced = await clock.runUntil(
          () => clone.status === 'in-sync' && contents(clone.entries()) === contents(master.entries()),
          15_000,
        );
        expect(new Set(begun).size).toBeGreaterThanOrEqual(2);
        expect(applied.filter((a) => a.stream !== a.latestBegun)).toEqual([]);
        expect({ synced, clone: contents(clone.entries()) }).toEqual({
          synced: true,
          clone: contents(master.entries()),
        });
      },
    );
  });

  it('a snapshot whose end was lost is requested again', async () => {
    // Bug: CloneCore.tick() leaves a snapshot alone while `now - lastHeard < SNAPSHOT_STALL_MS`,
    // but lastHeard is refreshed by every message, heartbeats included. When the SnapshotEnd (or
    // the last chunks of the window, which the master then waits to see acknowledged) is lost,
    // the heartbeats keep the stalled snapshot "streaming" for ever: the clone stays 'syncing'.
    await withDuo({ keys: 10, sync: false, master: { chunkSize: 3 } }, async ({ clock, net, clone }) => {
      const lost = dropOnce(net, (kind) => kind === 7);
      const synced = await clock.runUntil(() => clone.status === 'in-sync', 15_000);
      expect(lost.hit()).toBe(true);
      expect({ synced, status: clone.status }).toEqual({ synced: true, status: 'in-sync' });
    });
  });

  it("a clone on the master's own endpoint syncs, or is refused", async () => {
    // Found by a late clone that landed on the master's endpoint: an endpoint never receives
    // its own publishes, so the clone's Attach never reaches the master next to it. The clone
    // stays 'stale' for ever and its writes fail with no_such_master, with no error anywhere.
    // Either work (deliver store traffic locally) or refuse createClone with a StoreError.
    await withDuo({}, async ({ clock, eps }) => {
      let local: StoreClone | undefined;
      let refused: unknown;
      try {
        local = await createClone(eps[0]!, STORE, { timers: clock, resyncInterval: 150 });
      } catch (err) {
        refused = err;
      }
      if (refused !== undefined) {
        expect(refused).toBeInstanceOf(StoreError);
        return;
      }
      try {
        expect(await clock.runUntil(() => local!.status === 'in-sync', 3000)).toBe(true);
      } finally {
        local!.close();
      }
    });
  });

  it('a peering comes back after its connection went half-open', async () => {
    // Bug: the dialler (ep1) learns of the reset and redials while ep0 still holds the old
    // session. Overlay.onHello refuses the new connection as redundant (both were dialled by ep1,
    // so the "smaller initiator id wins" rule keeps the old one), ep1's Peering goes to 'standby',
    // which only an established session of ep1 with ep0 closing would wake, and there is none.
    // When ep0's keepalive drops the dead session, nobody dials again: the link is gone for good.
    await withDuo({}, async ({ clock, net, eps, clone }) => {
      net.cut('ep1', 'ep0', { mode: 'half-open', told: 'ep1' });
      expect(await clock.runUntil(() => eps[1]!.reachable().length === 0, 1000)).toBe(true);
      const up = (): boolean =>
        eps[1]!.peers().every((p) => p.status === 'connected') &&
        eps[0]!.reachable().length === 1 &&
        eps[1]!.reachable().length === 1;
      const back = await clock.runUntil(up, 5000);
      expect({ back, ep1: eps[1]!.peers().map((p) => p.status) }).toEqual({ back: true, ep1: ['connected'] });
      const write = outcome(clone.put('after', count(1)));
      await clock.runUntil(() => write.state !== 'pending', 3000);
      expect(write.state).toBe('resolved');
    });
  });

  it('a write acknowledged before a snapshot resync settles without further traffic', async () => {
    // Bug: onSnapshotEnd() (same epoch) moves seq past acknowledged writes waiting for
    // read-your-writes but only onUpdate() releases them: in a quiet store they wait for ever.
    await withDuo({ master: { changeLogSize: 1 } }, async ({ clock, net, master, clone }) => {
      let dropping = true;
      net.dropWhere((topic, bytes) => dropping && storeFields(topic, bytes)?.kind === 4);
      const write = outcome(clone.put('k', count(1)));
      await clock.run(50); // acknowledged; its Update lost
      await master.put('y', count(1));
      await master.put('z', count(1)); // the change log no longer covers the clone: a snapshot
      dropping = false;
      await clock.runUntil(() => write.state !== 'pending', 3000);
      expect(write.state).toBe('resolved');
      expect(toText(clone.get('k'))).toBe('1');
    });
  });

  it('closing a clone settles the writes it had acknowledged but not yet seen applied', async () => {
    // Found by clone restarts: CloneCore.close() rejects the commands still pending, but writes
    // the master already acknowledged wait in `waiting` for their Update (read-your-writes).
    // Closing the clone before that Update arrives leaves their promises unsettled for ever,
    // although the outcome is known: the master applied them.
    await withDuo({}, async ({ clock, net, master, clone }) => {
      net.dropWhere((topic, bytes) => storeFields(topic, bytes)?.kind === 4);
      const write = outcome(clone.put('k', count(1)));
      await clock.run(50); // acknowledged; its Update lost
      expect(toText(master.get('k'))).toBe('1');
      clone.close();
      await clock.run(10);
      expect(write.state).not.toBe('pending');
    });
  });

  it('a retransmission that arrives while its command is still being applied gets the real answer', async () => {
    // Found by unique putUniques that did not resolve to true: MasterCore.onCommand answers a
    // command below `next` from the ack cache or, failing that, as if the master had restarted
    // since applying it (a bare success at the current seq; for put_unique a request_timeout).
    // A retransmission arriving in the same turn as its original — here a lost request 2 is
    // retransmitted together with requests 3 and 4 that waited behind it — finds no cached ack
    // yet (the batch commits in a microtask) and gets that made-up answer first: the put_unique
    // that inserted fails, the increment that failed with type_clash resolves as a success, and
    // both settle before the clone shows their effect.
    await withDuo({}, async ({ clock, net, master, clone }) => {
      const setup = outcome(clone.put('s', string('text')));
      await clock.runUntil(() => setup.state !== 'pending', 1000);
      const lost = dropOnce(net, (kind, f) => kind === 1 && countField(f, 2) === 2);
      const put = outcome(clone.put('a', count(1)));
      const unique = outcome(clone.putUnique('u', count(1)));
      const clash = outcome(clone.increment('s', count(1)));
      await clock.runUntil(() => [put, unique, clash].every((o) => o.state !== 'pending'), 3000);
      expect(lost.hit()).toBe(true);
      expect(toText(master.get('u'))).toBe('1');
      expect({
        put: put.state,
        unique: unique.state === 'resolved' ? unique.value : unique.state,
        clash: clash.state,
        code: (clash.error as StoreError | undefined)?.code,
      }).toEqual({
        put: 'resolved',
        unique: true,
        clash: 'rejected',
        code: 'type_clash',
      });
    });
  });

  it('a write that failed before a master restart is not reported as a success after it', async () => {
    // Found by 'decrement doomed' resolving in runs with a master restart: the master keeps only
    // each clone's progress across a restart, so a retransmitted command it had already applied
    // is answered with a made-up success (MasterCore.lostAnswer) — even when the command had
    // failed (here with type_clash, whose Ack was lost before the restart).
    await withDuo({}, async (d) => {
      const setup = outcome(d.clone.put('s', string('text')));
      await d.clock.runUntil(() => setup.state !== 'pending', 1000);
      const lost = dropOnce(d.net, (kind, f) => kind === 2 && countField(f, 1) === 2);
      const clash = outcome(d.clone.increment('s', count(1)));
      await d.clock.run(20);
      d.master.close();
      d.master = await d.startMaster();
      await d.clock.runUntil(() => clash.state !== 'pending', 3000);
      expect(lost.hit()).toBe(true);
      expect(toText(d.master.get('s'))).toBe('text');
      expect(clash.state).toBe('rejected');
    });
  });

  it('a master restarted on its durable backend does not apply a retransmitted command twice', async () => {
    // Bug: the (cloneId, reqId) records that make commands idempotent live only in the master's
    // memory. The master applies an increment, its Ack is lost, the master restarts on the same
    // backend (same epoch and seq, as a SQLite master does), the clone retransmits, and the new
    // master applies the increment a second time; the clone's promise resolves once.
    await withDuo({}, async (d) => {
      const lost = dropOnce(d.net, (kind) => kind === 2);
      const inc = outcome(d.clone.increment('c', count(1)));
      await d.clock.run(20);
      expect(toText(d.master.get('c'))).toBe('1');
      d.master.close();
      d.master = await d.startMaster();
      await d.clock.runUntil(() => inc.state !== 'pending', 3000);
      await d.clock.run(500);
      expect(lost.hit()).toBe(true);
      expect(inc.state).not.toBe('pending');
      expect(toText(d.master.get('c'))).toBe('1');
    });
  });
});

describe('minimised failures found by the backbone seeds (skipped until fixed: each names its owner)', () => {
  it('two backbone members also peered natively do not announce each other their own interest', async () => {
    // Found by backbone seeds with ep0 and ep1 also peered natively and a master restart: the
    // restarted master is refused with master_exists ("already exists in the network"). A member
    // announces to its native peers what the backbone wants (the union of the other members'
    // heartbeat filters), and that includes the native peer's own interest when the peer is a
    // member too: ep1, subscribed to nothing, announces ep0's `x/` back to ep0. So ep0 routes
    // x/ messages natively to ep1 as well, and createMaster on ep0 finds its own closed master's
    // topic in ep1's filter until ep1 hears of the change over the backbone (during a partition:
    // until it heals). Without the backbone, ep1 announces nothing and the restart works.
    // Owner: src/endpoint/overlay.ts / backbone-link.ts (split horizon for interest).
    const s = simEndpoints(2);
    const nats = new MemoryNats({ timers: s.clock });
    try {
      for (const ep of s.eps)
        linkBackbone(
          ep,
          new NatsBackbone(nats.connect({ name: ep.name, noEcho: true, host: ep.name }), { timers: s.clock }),
        );
      await s.until(() => s.eps.every((e) => e.backbone!.stats().endpoints === 1), 5000, 'presence');
      s.eps[1]!.peer(s.url(0)).catch(() => undefined);
      await s.until(() => s.eps[0]!.reachable().some((r) => r.name === 'ep1'), 5000, 'the native peering');
      s.eps[0]!.subscribe('x/', () => undefined);
      const first = await createMaster(s.eps[0]!, STORE, { timers: s.clock });
      await s.run(1000);
      expect(s.eps[0]!.reachable().find((r) => r.name === 'ep1')?.filter).not.toContain('x/');
      first.close();
      await s.run(1);
      const again = await createMaster(s.eps[0]!, STORE, { timers: s.clock });
      again.close();
    } finally {
      await s.close();
      await nats.close();
    }
  });

  it('a clone whose Attach was lost attaches again while the master keeps writing', async () => {
    // Found by backbone seed 115 (SIM_SEEDS=115): after the heal, presence of the master's member
    // timed out at the clone's member (its heartbeats had been lost in a partition), so the
    // clone lost its route to the master for a moment, went stale and attached, and that Attach
    // was lost. The master's broadcasts kept arriving, each one right after the clone's seq:
    // CloneCore.onMessage counts such an Update as progress of the delta it waits for (deltaNext,
    // deltaProgress; it even sends a DeltaAck for it), so tick() finds the delta "streaming" and
    // never sends the Attach again while the master writes (SNAPSHOT_STALL_MS, 10 s, after the
    // last write). The clone stays stale, its copy frozen (the broadcasts are buffered), for as
    // long as the master is busy. Owner: src/store/clone.ts.
    await withDuo({}, async ({ clock, net, master, clone }) => {
      let attachLost = false;
      let n = 0;
      const write = (): void => {
        if (n >= 60) return;
        void master.put(`w${n}`, count(n++));
        clock.setTimeout(write, 50);
      };
      net.dropWhere((topic, bytes) => {
        const m = storeFields(topic, bytes);
        if (!attachLost && m?.kind === 3) {
          // The clone's Attach is lost; from now on the master writes every 50 ms for 3 s.
          attachLost = true;
          clock.setTimeout(write, 0);
          return true;
        }
        return !attachLost && m?.kind === 9; // heartbeats lost until then: the clone goes stale
      });
      const synced = await clock.runUntil(() => attachLost && clone.status === 'in-sync', 2500);
      expect(attachLost).toBe(true);
      expect({ synced, status: clone.status }).toEqual({ synced: true, status: 'in-sync' });
    });
  });

  it('a master lease whose renewals failed is renewed before its deadline once the bucket is back', async () => {
    // Found by lease seed 53 of commit 0dd8531 (before the standby masters): the master's client
    // of the bucket was cut off over two renewal periods and back (the heal) 570 ms before its
    // deadline, yet the master stepped down at the deadline, after the clones had converged, and
    // they went stale. MasterLease.renew runs only every renewInterval (ttl/3): a failed renewal
    // is not tried again before the next period, so two failures in a row step the master down
    // although the bucket was reachable long enough to renew. Owner: src/store/master-lease.ts.
    const clock = new SimClock();
    const kv = new MemoryLeaseKv(clock, { ttl: 3000 });
    const mine = kv.client();
    const lease = new MasterLease({ kv: mine, store: STORE, endpointId: 'a', ttl: 3000, timers: clock });
    void lease.claim();
    await clock.run(1);
    expect(lease.state).toBe('held');
    mine.isolate(true);
    await clock.run(2050); // the renewals at 1000 and 2000 ms fail
    mine.isolate(false); // back 650 ms before the deadline (ttl less the margin: 2700 ms)
    await clock.run(1500);
    expect(lease.state).toBe('held');
    await lease.release();
  });
});
