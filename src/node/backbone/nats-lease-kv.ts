/**
 * `LeaseKv` over a JetStream key-value bucket (nats.js v2): the replicated compare-and-set store
 * that keeps a store master single-writer across machines. The revision of an entry is its stream
 * sequence, strictly increasing per bucket, and serves as the fencing epoch.
 *
 * Errors: a failed precondition (create of a live key, update or delete at an old revision)
 * rejects with code `wrong_revision`; JetStream not answering (no responders, a timeout, no
 * leader, the cluster lost quorum) with `unavailable`; a closed connection with `closed`.
 *
 * Keys are JetStream KV keys (`[-/_=.A-Za-z0-9]`, no empty token; others reject with
 * `invalid_argument`, as `MemoryLeaseKv` does). Reads go to the stream leader (no direct get from
 * a possibly stale replica). A watch reports the key's last record first (nothing when never
 * written or expired, `undefined` when deleted), then every change.
 *
 * Expiry (`ttl`): the bucket's max age. nats-server before 2.11 tells watchers nothing when an
 * entry ages out, so a watcher also reads its key every `watchCheckInterval` ms and reports
 * `undefined` when it is gone.
 */
import type { KV, KvEntry, NatsConnection, QueuedIterator } from 'nats';
import type { LeaseEntry, LeaseKv } from '../../backbone/types.js';
import { ClosedError, ConfigError, IsobrokerError, ValueError } from '../../errors.js';
import { checkOptionsObject, intOption, numberOption } from '../../util/options.js';
import type { NatsJetStreamConnection } from './load-nats.js';

/** Options of `natsLeaseKv`. */
export interface NatsLeaseKvOptions {
  /** Replicas of the bucket's stream (1–5; default 3, as a lease needs a quorum). Used when creating it. */
  readonly replicas?: number;
  /**
   * Entries expire this many ms after their last write (the stream's max age; 0 = never, the
   * default). Used when creating the bucket; an existing bucket with another ttl is refused
   * (`invalid_config`) when this is given.
   */
  readonly ttl?: number;
  /** Timeout of each JetStream request, ms (default 5000). */
  readonly timeout?: number;
  /**
   * How often a watcher also reads its key, ms (default 1000; 0 = never): how soon it reports an
   * expiry, and a change its JetStream consumer missed while a server failed.
   */
  readonly watchCheckInterval?: number;
}

/** JetStream's error code for a failed expected-last-sequence check. */
const JS_WRONG_LAST_SEQUENCE = 10071;
/** JetStream's error code for a message over the stream's limit. */
const JS_MESSAGE_TOO_LARGE = 10054;
/** Attempts to open (or create) the bucket while JetStream does not answer. */
const OPEN_ATTEMPTS = 3;
/** How long a failed watch waits before it watches again, ms (doubling up to the maximum). */
const WATCH_RETRY_MIN = 100;
const WATCH_RETRY_MAX = 2000;

/** JetStream KV's key alphabet (as `MemoryLeaseKv` checks it); no empty token. */
const KEY = /^[-/_=.A-Za-z0-9]+$/;

/** The key, when JetStream KV accepts it; else a `ValueError` (as `MemoryLeaseKv` rejects it). */
function checkKey(key: string): string {
  if (typeof key !== 'string' || !KEY.test(key) || key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
    throw new ValueError(`invalid key ${JSON.stringify(String(key).slice(0, 100))}`);
  }
  return key;
}

/** What nats.js threw, as much of it as we read. */
interface NatsErrorShape {
  readonly code?: string;
  readonly message?: string;
  readonly api_error?: { readonly err_code?: number; readonly code?: number; readonly description?: string };
}

/** Maps a nats.js failure to isobroker's codes. */
function mapError(e: unknown, what: string): IsobrokerError {
  const ne = (e ?? {}) as NatsErrorShape;
  const detail = ne.api_error?.description ?? ne.message ?? String(e);
  if (ne.api_error?.err_code === JS_WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(ne.message ?? '')) {
    return new IsobrokerError('wrong_revision', `${what}: the key is not at the expected revision (${detail})`, {
      cause: e,
    });
  }
  if (ne.code === 'CONNECTION_CLOSED' || ne.code === 'CONNECTION_DRAINING') {
    return new ClosedError(`${what}: the NATS connection is closed`, { cause: e });
  }
  if (ne.code === 'MAX_PAYLOAD_EXCEEDED' || ne.api_error?.err_code === JS_MESSAGE_TOO_LARGE) {
    return new ValueError(`${what}: the value is too large (${detail})`, { cause: e });
  }
  return new IsobrokerError('unavailable', `${what}: JetStream is unavailable (${detail})`, { cause: e });
}

const toEntry = (e: KvEntry | null | undefined): LeaseEntry | undefined =>
  e && e.operation === 'PUT' ? { value: e.value, revision: e.revision } : undefined;

/**
 * Opens (creating it when missing) the JetStream KV bucket `bucket` on `nc` (a nats.js
 * `NatsConnection`) as a `LeaseKv`. Rejects with `unavailable` when JetStream does not answer
 * (after three attempts, each within `timeout`).
 */
export async function natsLeaseKv(
  nc: NatsJetStreamConnection,
  bucket: string,
  options?: NatsLeaseKvOptions,
): Promise<LeaseKv> {
  checkOptionsObject('options', options);
  if (typeof bucket !== 'string' || !/^[-\w]+$/.test(bucket)) {
    throw new ValueError(`bucket: expected a name of letters, digits, '-' and '_', got ${JSON.stringify(bucket)}`);
  }
  const replicas = intOption('replicas', options?.replicas, 3, 1, 5);
  const ttl = intOption('ttl', options?.ttl, 0, 0);
  const timeout = numberOption('timeout', options?.timeout, 5000, 1);
  const watchCheckInterval = numberOption('watchCheckInterval', options?.watchCheckInterval, 1000, 0);
  if (nc.isClosed()) throw new ClosedError('natsLeaseKv: the NATS connection is closed');
  const js = (nc as unknown as NatsConnection).jetstream({ timeout });
  // Several endpoints opening a new bucket at once: nats-server 2.9 may leave one of the racing
  // stream creations unanswered (a timeout) although the stream exists; opening again finds it.
  for (let attempt = 1; ; attempt++) {
    try {
      const kv = await js.views.kv(bucket, { history: 1, replicas, ttl, allow_direct: false });
      // An existing bucket keeps its own max age: a lease ttl it does not match would let a
      // second master claim a lease the first still believes it holds.
      const has = (await kv.status()).ttl;
      if (options?.ttl !== undefined && has !== ttl) {
        throw new ConfigError('ttl', `bucket ${bucket} exists with a ttl of ${has} ms, not ${ttl} ms`);
      }
      return new NatsLeaseKv(kv, nc, bucket, watchCheckInterval);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const err = mapError(e, `natsLeaseKv ${bucket}`);
      if (err.code !== 'unavailable' || attempt >= OPEN_ATTEMPTS || nc.isClosed()) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

class NatsLeaseKv implements LeaseKv {
  constructor(
    private readonly kv: KV,
    private readonly nc: NatsJetStreamConnection,
    private readonly bucket: string,
    private readonly watchCheckInterval: number,
  ) {}

  private what(op: string, key: string): string {
    return `${op} ${this.bucket}/${key}`;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    try {
      return await this.kv.create(key, value);
    } catch (e) {
      throw mapError(e, this.what('create', key));
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    checkKey(key);
    if (!Number.isSafeInteger(revision) || revision < 1) {
      throw new IsobrokerError('wrong_revision', `${this.what('update', key)}: no entry has revision ${revision}`);
    }
    try {
      return await this.kv.update(key, value, revision);
    } catch (e) {
      throw mapError(e, this.what('update', key));
    }
  }

  async get(key: string): Promise<LeaseEntry | undefined> {
    checkKey(key);
    try {
      return toEntry(await this.kv.get(key));
    } catch (e) {
      throw mapError(e, this.what('get', key));
    }
  }

  async delete(key: string, revision?: number): Promise<void> {
    checkKey(key);
    if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) {
      throw new IsobrokerError('wrong_revision', `${this.what('delete', key)}: no entry has revision ${revision}`);
    }
    try {
      await this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision });
    } catch (e) {
      throw mapError(e, this.what('delete', key));
    }
  }

  watch(key: string, fn: (entry: LeaseEntry | undefined) => void): () => void {
    return new LeaseWatch(this.kv, this.nc, checkKey(key), this.watchCheckInterval, fn).stop;
  }
}

/**
 * One watch of one key: nats.js's ordered-consumer watch, watched again after any failure (it
 * ends when its consumer cannot be recreated), plus a read of the key every `checkInterval` ms —
 * which notices an expiry (no marker tells a watcher) and a change the consumer missed while it
 * was stalled (nats.js notices a lost consumer only after two missed 5 s heartbeats). Each
 * revision is delivered at most once and only forward; `undefined` once per absence.
 */
class LeaseWatch {
  private stopped = false;
  private iter: QueuedIterator<KvEntry> | undefined;
  /** The highest revision seen (puts, deletes and purges). */
  private seen = 0;
  /** Whether the last state delivered was an entry (undefined before the first delivery). */
  private present: boolean | undefined;
  private checkTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly kv: KV,
    private readonly nc: NatsJetStreamConnection,
    private readonly key: string,
    private readonly checkInterval: number,
    private readonly fn: (entry: LeaseEntry | undefined) => void,
  ) {
    void this.run();
    this.scheduleCheck();
  }

  readonly stop = (): void => {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.checkTimer);
    clearTimeout(this.retryTimer);
    this.iter?.stop();
  };

  private async run(): Promise<void> {
    let wait = WATCH_RETRY_MIN;
    while (!this.stopped && !this.nc.isClosed()) {
      let sawAny = false;
      try {
        const iter = await this.kv.watch({
          key: this.key,
          initializedFn: () => {
            // Watching again found nothing: what we last reported is gone (it expired meanwhile).
            if (!sawAny) this.absent(0);
          },
        });
        this.iter = iter;
        if (this.stopped) {
          iter.stop();
          return;
        }
        for await (const e of iter) {
          if (this.stopped) break;
          sawAny = true;
          wait = WATCH_RETRY_MIN;
          this.entry(e);
        }
      } catch {
        // A failed watch (JetStream unavailable, the consumer lost): watch again below.
      }
      if (this.stopped || this.nc.isClosed()) return;
      await new Promise<void>((r) => {
        this.retryTimer = setTimeout(r, wait);
      });
      wait = Math.min(wait * 2, WATCH_RETRY_MAX);
    }
  }

  /** Reads the key every `checkInterval` ms; a result is used only if nothing newer arrived meanwhile. */
  private scheduleCheck(): void {
    if (this.checkInterval <= 0 || this.stopped) return;
    this.checkTimer = setTimeout(() => {
      if (this.stopped || this.nc.isClosed()) return;
      const before = this.seen;
      this.kv.get(this.key).then(
        (e) => {
          if (this.seen === before) {
            if (e === null) this.absent(0);
            else this.entry(e);
          }
          this.scheduleCheck();
        },
        () => this.scheduleCheck(),
      );
    }, this.checkInterval);
  }

  private entry(e: KvEntry): void {
    if (e.operation === 'PUT') this.put(e);
    else this.absent(e.revision);
  }

  /** An entry: delivered unless its revision was seen already. */
  private put(e: KvEntry): void {
    if (this.stopped || e.revision <= this.seen) return;
    this.seen = e.revision;
    this.present = true;
    this.call({ value: e.value, revision: e.revision });
  }

  /**
   * The key is gone: a delete or purge marker at `revision` (reported as `undefined` unless that is
   * what we reported last), or 0: nothing is stored (reported only when we had reported an entry).
   */
  private absent(revision: number): void {
    if (this.stopped || (revision !== 0 && revision <= this.seen)) return;
    this.seen = Math.max(this.seen, revision);
    if (revision === 0 ? this.present !== true : this.present === false) return;
    this.present = false;
    this.call(undefined);
  }

  private call(entry: LeaseEntry | undefined): void {
    try {
      this.fn(entry);
    } catch {
      // A throwing listener never breaks the watch.
    }
  }
}
