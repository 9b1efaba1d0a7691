/**
 * Single-writer store masters across machines: a lease per store in a replicated key-value bucket
 * (`LeaseKv`: JetStream KV in production, `MemoryLeaseKv` in tests). A master claims the key
 * `store.<store name>` with `create`; the revision the bucket gives it is its **fencing epoch**,
 * stamped on everything it sends to clones, which ignore anything from a lower epoch. It renews
 * the lease every `renewInterval` with an `update` at the revision it last wrote, and steps down
 * at once when an update is refused (`wrong_revision`: someone else holds the key) or when no
 * renewal got through for `ttl` less a small margin (the bucket's TTL expires a dead master's
 * lease, so another master may claim it from then on). Clones find the master with `currentMaster` / `watchMaster`.
 *
 * Pure: the bucket and the clock are handed in.
 */
import type { LeaseEntry, LeaseKv } from '../backbone/types.js';
import { ClosedError, StoreError } from '../errors.js';
import { Emitter, type Unsubscribe } from '../util/emitter.js';
import { numberOption } from '../util/options.js';
import { systemTimers, type Timers } from '../util/timers.js';

/** Default lease time to live, ms: a master cut off from the bucket steps down after this long. */
export const DEFAULT_LEASE_TTL = 15_000;

/** Who holds a store's lease, as the bucket says. */
export interface LeaseHolder {
  /** The holder's endpoint id. */
  readonly endpointId: string;
  /** The holder's endpoint name (for people). */
  readonly name: string;
  /** When the holder claimed the lease (its clock, ms since the epoch). */
  readonly claimedAt: number;
  /** The holder's fencing epoch: the revision its claim got. */
  readonly epoch: number;
}

/** Options of a {@link MasterLease}. */
export interface MasterLeaseOptions {
  /** The lease bucket. */
  readonly kv: LeaseKv;
  /** The store the lease is for. */
  readonly store: string;
  /** The claiming endpoint's id (a lease held under the same id is taken over, not refused). */
  readonly endpointId: string;
  /** The claiming endpoint's name, shown to whoever finds the lease taken. @default the id */
  readonly name?: string;
  /** Lease time to live, ms (keep it at the bucket's TTL; JetStream elects a new stream leader in 4–10 s, so at least 15 s there). @default 15000 */
  readonly ttl?: number;
  /** Renewal period, ms (below `ttl`). @default ttl / 3 */
  readonly renewInterval?: number;
  readonly timers?: Timers;
}

/** Events of a {@link MasterLease}. */
export interface MasterLeaseEvents {
  /** The lease is held, with this fencing epoch. */
  readonly held: number;
  /** The lease was lost: the master must stop serving at once. `epoch`: the epoch it held. */
  readonly lost: { readonly epoch: number; readonly reason: StoreError };
  /** A renewal failed without losing the lease yet (the bucket is unavailable). */
  readonly renewFailed: StoreError;
}

/** Where a lease stands: not claimed yet, being claimed, held, lost (may be claimed again), or released for good. */
export type MasterLeaseState = 'idle' | 'claiming' | 'held' | 'lost' | 'released';

/** Largest lease value read (a larger one counts as unreadable). */
const MAX_VALUE_BYTES = 4096;

/** Bucket keys allow `[-/_=.a-zA-Z0-9]`; store names can hold anything: the rest is `=XX` per UTF-8 byte. */
export function leaseKey(store: string): string {
  if (store === '') return 'store.=';
  let out = 'store.';
  for (const b of new TextEncoder().encode(store)) {
    const c = String.fromCharCode(b);
    out += /[-_a-zA-Z0-9]/.test(c) ? c : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The holder an entry names, or undefined when the value is not a lease (then nobody can tell who holds it). */
export function parseHolder(entry: LeaseEntry): LeaseHolder | undefined {
  if (entry.value.length > MAX_VALUE_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(entry.value));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.endpointId !== 'string' || typeof o.name !== 'string') return undefined;
  if (typeof o.claimedAt !== 'number' || !Number.isFinite(o.claimedAt)) return undefined;
  // The claim's own revision is the epoch; renewals carry it in the value (their revision moves on).
  const epoch = o.epoch === undefined ? entry.revision : o.epoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) return undefined;
  return { endpointId: o.endpointId, name: o.name, claimedAt: o.claimedAt, epoch };
}

/** Who holds `store`'s lease now (undefined: nobody, or an unreadable value). */
export async function currentMaster(kv: LeaseKv, store: string): Promise<LeaseHolder | undefined> {
  const e = await kv.get(leaseKey(store));
  return e === undefined ? undefined : parseHolder(e);
}

/**
 * Calls `fn` whenever `store`'s master changes: another holder, or a new epoch (undefined: the
 * lease was released or expired). Renewals of the same claim are not reported.
 */
export function watchMaster(kv: LeaseKv, store: string, fn: (holder: LeaseHolder | undefined) => void): Unsubscribe {
  let last: LeaseHolder | undefined;
  let seen = false;
  return kv.watch(leaseKey(store), (entry) => {
    const h = entry === undefined ? undefined : parseHolder(entry);
    if (seen && h?.endpointId === last?.endpointId && h?.epoch === last?.epoch) return;
    seen = true;
    last = h;
    fn(h);
  });
}

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/** A failure of the bucket itself (not a refused precondition), as a store error. */
function unavailable(store: string, what: string, err: unknown): StoreError {
  const text = err instanceof Error ? err.message : String(err);
  return new StoreError('backend_failure', `lease of store '${store}': ${what} failed: ${text}`, { cause: err });
}

/**
 * The lease of one store master. `claim()` before serving; listen to `lost` (stop serving at
 * once); `release()` on a clean close. After `lost` the master may `claim()` again.
 */
export class MasterLease {
  readonly key: string;
  readonly ttl: number;
  readonly renewInterval: number;
  /** How long before the bucket could expire the lease the master steps down: ttl/10, at most 1 s. */
  readonly margin: number;
  private readonly kv: LeaseKv;
  private readonly timers: Timers;
  private readonly events = new Emitter<MasterLeaseEvents>();
  private st: MasterLeaseState = 'idle';
  private claimedAt = 0;
  private fence = 0;
  /** The revision of our last write: the next renewal must find it. */
  private revision = 0;
  private renewTimer: unknown;
  private deadlineTimer: unknown;
  private retryTimer: unknown;
  private inFlight: Promise<void> | undefined;
  private claiming: Promise<number> | undefined;

  constructor(private readonly opts: MasterLeaseOptions) {
    this.kv = opts.kv;
    this.key = leaseKey(opts.store);
    this.ttl = numberOption('lease.ttl', opts.ttl, DEFAULT_LEASE_TTL, 10, 3_600_000);
    this.renewInterval = numberOption('lease.renewInterval', opts.renewInterval, this.ttl / 3, 1, this.ttl);
    this.timers = opts.timers ?? systemTimers;
    this.margin = Math.min(this.ttl / 10, 1000);
  }

  /** Where the lease stands. */
  get state(): MasterLeaseState {
    return this.st;
  }

  /** The fencing epoch: of the lease held now, else of the last one held (0: never held). */
  get epoch(): number {
    return this.fence;
  }

  /** Whether the lease is held now. */
  get held(): boolean {
    return this.st === 'held';
  }

  /** Listens to `held`, `lost` and `renewFailed`. */
  on<K extends keyof MasterLeaseEvents>(event: K, fn: (payload: MasterLeaseEvents[K]) => void): Unsubscribe {
    return this.events.on(event, fn);
  }

  /**
   * Claims the lease; resolves to the fencing epoch. Rejects with `master_exists` when another
   * endpoint holds it, with `backend_failure` when the bucket cannot be reached, and with a
   * `ClosedError` once released. A lease this endpoint held before (its entry has not expired yet)
   * is taken over with a new epoch.
   */
  claim(): Promise<number> {
    if (this.st === 'released') return Promise.reject(new ClosedError(`lease of store '${this.opts.store}' released`));
    if (this.st === 'held') return Promise.resolve(this.fence);
    this.claiming ??= this.tryClaim().finally(() => {
      this.claiming = undefined;
    });
    return this.claiming;
  }

  private async tryClaim(): Promise<number> {
    const store = this.opts.store;
    const before = this.st;
    this.st = 'claiming';
    const claimedAt = this.timers.now();
    let claimed: { rev: number; sentAt: number } | undefined;
    try {
      // A few rounds: the entry may change between reading it and writing it (expired, released, renewed).
      for (let round = 0; round < 3 && claimed === undefined; round++) {
        claimed = await this.claimRound(claimedAt);
      }
    } catch (err) {
      if (this.st === 'claiming') this.st = before;
      throw err instanceof StoreError ? err : unavailable(store, 'claim', err);
    }
    if (claimed === undefined) {
      if (this.st === 'claiming') this.st = before;
      throw new StoreError('backend_failure', `lease of store '${store}': the entry kept changing while claiming it`);
    }
    const { rev, sentAt } = claimed;
    if ((this.st as MasterLeaseState) === 'released') {
      // Released while claiming: give it back.
      this.kv.delete(this.key, rev).catch(() => undefined);
      throw new ClosedError(`lease of store '${store}' released`);
    }
    this.st = 'held';
    this.fence = rev;
    this.revision = rev;
    this.claimedAt = claimedAt;
    this.armDeadline(sentAt);
    this.armRenew();
    this.events.emit('held', rev);
    return rev;
  }

  /** One attempt: create, or take over our own lease; undefined when the entry changed meanwhile (try again). */
  private async claimRound(claimedAt: number): Promise<{ rev: number; sentAt: number } | undefined> {
    const store = this.opts.store;
    const value = this.value(claimedAt, undefined);
    let sentAt = this.timers.now();
    try {
      return { rev: await this.kv.create(this.key, value), sentAt };
    } catch (err) {
      if (errorCode(err) !== 'wrong_revision') throw unavailable(store, 'claim', err);
    }
    let cur: LeaseEntry | undefined;
    try {
      cur = await this.kv.get(this.key);
    } catch (err) {
      throw unavailable(store, 'reading the lease', err);
    }
    if (cur === undefined) return undefined; // released or expired meanwhile
    const h = parseHolder(cur);
    if (h?.endpointId !== this.opts.endpointId) {
      const who = h ? `'${h.name}' (${h.endpointId}), epoch ${h.epoch}` : 'an endpoint (unreadable lease)';
      throw new StoreError('master_exists', `a master for store '${store}' already holds its lease: ${who}`);
    }
    // Our own lease from before (not expired yet): taken over at its revision, with a new epoch.
    sentAt = this.timers.now();
    try {
      return { rev: await this.kv.update(this.key, value, cur.revision), sentAt };
    } catch (err) {
      if (errorCode(err) !== 'wrong_revision') throw unavailable(store, 'claim', err);
      return undefined;
    }
  }

  /** Gives the lease back (deleted at our revision) and stops renewing; for good. */
  async release(): Promise<void> {
    const wasHeld = this.st === 'held';
    this.st = 'released';
    this.clearTimers();
    if (!wasHeld) return;
    await this.inFlight; // a renewal on its way moves the revision
    await this.kv.delete(this.key, this.revision).catch(() => undefined); // expires by itself otherwise
  }

  private value(claimedAt: number, epoch: number | undefined): Uint8Array {
    const v = { endpointId: this.opts.endpointId, name: this.opts.name ?? this.opts.endpointId, claimedAt, epoch };
    return new TextEncoder().encode(JSON.stringify(v));
  }

  private armRenew(): void {
    this.renewTimer = this.timers.setTimeout(() => {
      this.renewTimer = undefined;
      if (this.st !== 'held') return;
      this.renew();
      this.armRenew();
    }, this.renewInterval);
  }

  /**
   * The bucket expires our lease `ttl` after the last write it accepted, which we sent at `sentAt`
   * (so it was accepted no earlier): we step down a safety margin before that, so the stepped-down
   * master is quiet before anyone else can claim the lease.
   */
  private armDeadline(sentAt: number): void {
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    const left = Math.max(0, sentAt + this.ttl - this.margin - this.timers.now());
    this.deadlineTimer = this.timers.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.st !== 'held') return;
      this.lose(
        new StoreError(
          'stale_data',
          `lease of store '${this.opts.store}' not renewed for ${this.ttl} ms (the bucket is unreachable)`,
        ),
      );
    }, left);
  }

  private renew(): void {
    if (this.inFlight) return; // the last one has not come back: the deadline decides
    const sentAt = this.timers.now();
    const epoch = this.fence;
    this.inFlight = this.kv
      .update(this.key, this.value(this.claimedAt, epoch), this.revision)
      .then(
        (rev) => {
          if (this.st !== 'held' || this.fence !== epoch) return;
          this.revision = rev;
          this.armDeadline(sentAt);
        },
        (err: unknown) => {
          if (this.st !== 'held' || this.fence !== epoch) return;
          if (errorCode(err) === 'wrong_revision') return this.checkStillOurs(epoch, err);
          this.events.emit('renewFailed', unavailable(this.opts.store, 'renewal', err));
          this.retrySoon(epoch);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  /**
   * A renewal refused for its revision: either someone else holds the key now, or our previous
   * renewal was stored but its reply was lost (the key moved on under our own claim). The entry
   * tells which; only the first loses the lease.
   */
  private async checkStillOurs(epoch: number, cause: unknown): Promise<void> {
    let entry: LeaseEntry | undefined;
    try {
      entry = await this.kv.get(this.key);
    } catch (err) {
      if (this.st === 'held' && this.fence === epoch)
        this.events.emit('renewFailed', unavailable(this.opts.store, 'renewal', err));
      return;
    }
    if (this.st !== 'held' || this.fence !== epoch) return;
    const holder = entry && parseHolder(entry);
    if (entry && holder?.endpointId === this.opts.endpointId && holder.epoch === epoch) {
      this.revision = entry.revision;
      // When that write happened is unknown: renew again at once, and its answer sets the deadline.
      this.timers.setTimeout(() => {
        if (this.st === 'held' && this.fence === epoch) this.renew();
      }, 0);
      return;
    }
    this.lose(
      new StoreError(
        'master_exists',
        `lease of store '${this.opts.store}' was taken over (epoch ${epoch} superseded)`,
        {
          cause,
        },
      ),
    );
  }

  private lose(reason: StoreError): void {
    this.st = 'lost';
    this.clearTimers();
    this.events.emit('lost', { epoch: this.fence, reason });
  }

  /**
   * A renewal failed (the bucket did not answer): try again well before the next period, so that
   * a bucket back before the deadline keeps the lease.
   */
  private retrySoon(epoch: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.timers.setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.st === 'held' && this.fence === epoch) this.renew();
      },
      Math.min(this.renewInterval / 4, 500),
    );
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.renewTimer !== undefined) this.timers.clearTimeout(this.renewTimer);
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    this.renewTimer = undefined;
    this.deadlineTimer = undefined;
  }
}
