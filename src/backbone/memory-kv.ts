/**
 * An in-memory lease bucket (`LeaseKv`) with JetStream KV's semantics, for tests and the seeded
 * simulation of store master leases:
 *
 * - revisions strictly increase across the bucket (a JetStream stream sequence): every create,
 *   update and delete takes the next one;
 * - `create` fails with `wrong_revision` while the key exists; `update` only at the key's last
 *   revision (a deleted key's last revision is its delete marker's, a key never written or expired
 *   has 0); `delete` (optionally only at a revision) leaves a marker after which `create` succeeds;
 * - operations take effect in a later microtask, in call order (so two racing creators are both
 *   in flight, and exactly one wins);
 * - `watch` first reports the key's last record (nothing when never written), then every change,
 *   asynchronously and in order, `undefined` for a delete or an expiry;
 * - an optional bucket `ttl`: an entry not updated for `ttl` ms (on the injected timers) expires;
 * - faults: `unavailable(true)` is a lost quorum (every operation of every client rejects with
 *   `unavailable`); `client()` gives another client of the same bucket, which `isolate(true)` cuts
 *   off alone (a master partitioned from the quorum). A cut-off client's watchers receive nothing
 *   until it is back, then the key's latest state once (coalesced) if it changed meanwhile.
 */
import { IsobrokerError, ValueError } from '../errors.js';
import { systemTimers, type Timers } from '../util/timers.js';
import type { LeaseEntry, LeaseKv } from './types.js';

/** Options of a `MemoryLeaseKv` bucket. */
export interface MemoryLeaseKvOptions {
  /** Entries not updated for this long (ms) expire; none when omitted. */
  readonly ttl?: number;
}

/** JetStream KV's key alphabet: `[-/_=.A-Za-z0-9]+`, not starting or ending with `.`. */
const KEY = /^[-/_=.A-Za-z0-9]+$/;

/** The last record of a key: a value, or a delete marker (`value` undefined). */
interface Rec {
  value: Uint8Array | undefined;
  revision: number;
  /** The bucket's change number of the last write or expiry, for coalescing held notifications. */
  changes: number;
  timer: unknown;
}

interface Watcher {
  readonly key: string;
  readonly fn: (entry: LeaseEntry | undefined) => void;
  readonly client: MemoryLeaseKv;
  active: boolean;
  /** `changes` of the key's record last reported (-1: nothing yet). */
  seen: number;
  /** The last report was an entry (not undefined). */
  sawEntry: boolean;
  /** A change arrived while the client was cut off. */
  held: boolean;
}

/** The bucket every client of it shares. */
class Bucket {
  seq = 0;
  /** Writes and expiries so far. */
  changes = 0;
  down = false;
  readonly recs = new Map<string, Rec>();
  readonly watchers = new Set<Watcher>();
  readonly errors: unknown[] = [];
  constructor(
    readonly timers: Timers,
    readonly ttl: number | undefined,
  ) {}
}

function wrongRevision(message: string): IsobrokerError {
  return new IsobrokerError('wrong_revision', message);
}

function entryOf(rec: Rec | undefined): LeaseEntry | undefined {
  return rec?.value === undefined ? undefined : { value: rec.value.slice(), revision: rec.revision };
}

/** An in-memory lease bucket (see the module comment); each instance is one client of its bucket. */
export class MemoryLeaseKv implements LeaseKv {
  private bucket: Bucket;
  private cutOff = false;

  /** A new bucket (and its first client); expiry runs on `timers`. */
  constructor(timers: Timers = systemTimers, opts: MemoryLeaseKvOptions = {}) {
    if (opts.ttl !== undefined && !(opts.ttl > 0))
      throw new ValueError(`ttl: ${opts.ttl} is not a positive number of ms`);
    this.bucket = new Bucket(timers, opts.ttl);
  }

  /** Another client of the same bucket (its own `isolate`). */
  client(): MemoryLeaseKv {
    const c = new MemoryLeaseKv(this.bucket.timers);
    c.bucket = this.bucket;
    return c;
  }

  /** Lost quorum while true: every operation of every client rejects with code `unavailable`. */
  unavailable(flag: boolean): void {
    this.bucket.down = flag;
    if (!flag) this.release();
  }

  /** This client alone is cut off from the quorum while true (its operations reject with `unavailable`). */
  isolate(flag: boolean): void {
    this.cutOff = flag;
    if (!flag) this.release();
  }

  /** Exceptions thrown by watch callbacks (each a bug in the code under test). */
  get errors(): readonly unknown[] {
    return this.bucket.errors;
  }

  /** The bucket's last revision (0 before the first write). */
  get revision(): number {
    return this.bucket.seq;
  }

  /** Creates `key` only if it does not exist (or was deleted or expired); resolves to the new revision. */
  create(key: string, value: Uint8Array): Promise<number> {
    return this.op(key, () => {
      const rec = this.bucket.recs.get(key);
      if (rec?.value !== undefined) throw wrongRevision(`create ${key}: exists at revision ${rec.revision}`);
      return this.write(key, value.slice());
    });
  }

  /** Updates `key` only if its last revision is still `revision`; resolves to the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.op(key, () => {
      const last = this.bucket.recs.get(key)?.revision ?? 0;
      if (last !== revision) throw wrongRevision(`update ${key}: at revision ${last}, not ${revision}`);
      return this.write(key, value.slice());
    });
  }

  /** The current entry, undefined when absent, deleted or expired. */
  get(key: string): Promise<LeaseEntry | undefined> {
    return this.op(key, () => entryOf(this.bucket.recs.get(key)));
  }

  /** Deletes `key` (only at `revision` when given), leaving a delete marker. */
  delete(key: string, revision?: number): Promise<void> {
    return this.op(key, () => {
      const last = this.bucket.recs.get(key)?.revision ?? 0;
      if (revision !== undefined && last !== revision) {
        throw wrongRevision(`delete ${key}: at revision ${last}, not ${revision}`);
      }
      this.write(key, undefined);
    });
  }

  /** Reports the key's last record, then every change (undefined: deleted or expired), until the returned function is called. */
  watch(key: string, fn: (entry: LeaseEntry | undefined) => void): () => void {
    const w: Watcher = { key, fn, client: this, active: true, seen: -1, sawEntry: false, held: false };
    const b = this.bucket;
    b.watchers.add(w);
    const rec = b.recs.get(key);
    if (rec) this.notify(w, rec);
    return () => {
      w.active = false;
      b.watchers.delete(w);
    };
  }

  private available(): boolean {
    return !this.bucket.down && !this.cutOff;
  }

  private op<T>(key: string, f: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queueMicrotask(() => {
        if (!KEY.test(key) || key.startsWith('.') || key.endsWith('.')) {
          reject(new ValueError(`invalid key ${JSON.stringify(key.slice(0, 100))}`));
        } else if (!this.available()) {
          reject(new IsobrokerError('unavailable', 'lease bucket unavailable (no quorum)'));
        } else {
          try {
            resolve(f());
          } catch (err) {
            reject(err);
          }
        }
      });
    });
  }

  /** Writes a value or a delete marker at the next revision; re-arms the key's expiry; tells the watchers. */
  private write(key: string, value: Uint8Array | undefined): number {
    const b = this.bucket;
    const revision = ++b.seq;
    let rec = b.recs.get(key);
    if (rec) {
      rec.value = value;
      rec.revision = revision;
      rec.changes = ++b.changes;
      if (rec.timer !== undefined) b.timers.clearTimeout(rec.timer);
      rec.timer = undefined;
    } else {
      rec = { value, revision, changes: ++b.changes, timer: undefined };
      b.recs.set(key, rec);
    }
    const ttl = b.ttl;
    if (ttl !== undefined) {
      const r = rec;
      r.timer = b.timers.setTimeout(() => this.expire(key, r), ttl);
    }
    this.changed(key, rec);
    return revision;
  }

  /** The entry (or its delete marker) aged out: the key is gone as if never written. */
  private expire(key: string, rec: Rec): void {
    const b = this.bucket;
    if (b.recs.get(key) !== rec) return;
    b.recs.delete(key);
    rec.timer = undefined;
    if (rec.value === undefined) return;
    rec.value = undefined;
    rec.changes = ++b.changes;
    this.changed(key, rec);
  }

  private changed(key: string, rec: Rec): void {
    for (const w of this.bucket.watchers) if (w.key === key) w.client.notify(w, rec);
  }

  /** Reports `rec`'s state to `w` in a later microtask (held while this client is cut off). */
  private notify(w: Watcher, rec: Rec): void {
    const entry = entryOf(rec);
    const changes = rec.changes;
    queueMicrotask(() => {
      // Inactive, or already reported (a release delivered this state or a later one).
      if (!w.active || changes <= w.seen) return;
      if (!this.available()) {
        w.held = true;
        return;
      }
      this.deliver(w, entry, changes);
    });
  }

  private deliver(w: Watcher, entry: LeaseEntry | undefined, changes: number): void {
    w.seen = changes;
    w.sawEntry = entry !== undefined;
    try {
      w.fn(entry);
    } catch (err) {
      if (this.bucket.errors.length < 100) this.bucket.errors.push(err);
    }
  }

  /** Back in touch: every held watcher (of every client now available) gets the key's latest state, once. */
  private release(): void {
    for (const w of this.bucket.watchers) {
      if (!w.held) continue;
      const client = w.client;
      queueMicrotask(() => {
        if (!w.active || !w.held || !client.available()) return;
        w.held = false;
        const rec = client.bucket.recs.get(w.key);
        if (rec) {
          if (rec.changes !== w.seen) client.deliver(w, entryOf(rec), rec.changes);
        } else if (w.sawEntry) {
          // Expired while held (the key is gone): the entry the watcher knows of is no more.
          client.deliver(w, undefined, w.seen);
        }
      });
    }
  }
}
