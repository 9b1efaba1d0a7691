/**
 * The backbone seam (ARCHITECTURE.md, "Backbone"): what an endpoint needs from a message backbone
 * that joins hubs and cluster nodes on several machines, and the smallest part of a NATS client
 * the NATS backbone uses. The core imports no NATS client: nats.js's `NatsConnection` (and the
 * in-memory NATS of `memory-nats.ts`) satisfy `NatsConnectionLike` structurally.
 */

/** A message a NATS subscription received. */
export interface NatsMsgLike {
  readonly subject: string;
  readonly data: Uint8Array;
}

/** A NATS subscription. */
export interface NatsSubscriptionLike {
  unsubscribe(max?: number): void;
}

/** A connection status change, as nats.js reports them (`disconnect`, `reconnect`, `update`, …). */
export interface NatsStatusLike {
  readonly type: string;
  readonly data?: unknown;
}

/** The part of a NATS core connection the backbone uses (nats.js's `NatsConnection` has it). */
export interface NatsConnectionLike {
  /** Subscribes with a callback (never an iterator: the reader must never wait on us). */
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: NatsMsgLike) => void }): NatsSubscriptionLike;
  /** Publishes; nats.js buffers while disconnected (without a bound: the backbone bounds it). */
  publish(subject: string, data?: Uint8Array): void;
  /** Resolves once the server processed everything sent before. */
  flush(): Promise<void>;
  /** Status changes, until the connection closes. */
  status(): AsyncIterable<NatsStatusLike>;
  /** Resolves when the connection is closed for good. */
  closed(): Promise<unknown>;
  isClosed(): boolean;
  /** The server connected to now (`host:port`). */
  getServer(): string;
  /** Round-trip time to the server, ms. */
  rtt(): Promise<number>;
  /** The server's INFO (nats.js: `info`), for its `max_payload`. */
  readonly info?: { readonly max_payload?: number } | undefined;
}

/** The state of a backbone connection. */
export type BackboneState = 'connecting' | 'connected' | 'disconnected' | 'reconnected' | 'closed';

/** Where a backbone hands what it receives: the endpoint's backbone link. */
export interface BackboneSink {
  /** A batch of native data messages (one native frame) that arrived for `topic`'s subject. */
  data(frame: Uint8Array): void;
  /** A control message (presence) another endpoint published, undecoded. */
  control(payload: Uint8Array): void;
  /** The connection's state changed. */
  state(state: BackboneState): void;
}

/** Counters and state of a backbone, for `endpoint.backbone.stats()`, metrics and the dashboard. */
export interface BackboneStats {
  readonly state: BackboneState;
  /** The server connected to, when known. */
  readonly server: string | undefined;
  /** Data frames handed to `publish` and accepted. */
  readonly published: number;
  /** NATS messages published (batches) and their bytes. */
  readonly batchesOut: number;
  readonly bytesOut: number;
  /** NATS messages received (batches and control) and their bytes. */
  readonly batchesIn: number;
  readonly bytesIn: number;
  /** Frames waiting in the bounded outbound queue (while disconnected), and their bytes. */
  readonly queued: number;
  readonly queuedBytes: number;
  /** Frames the overflow policy dropped. */
  readonly dropped: number;
  /** Topics not carried: their subject would exceed the subject length limit. */
  readonly tooLong: number;
  /** Reconnections so far. */
  readonly reconnects: number;
  /** Last measured round trip to the server, ms (undefined before the first). */
  readonly rtt: number | undefined;
  /** Superset mode only: batches received that no prefix of ours wanted (filtered here). */
  readonly wasted: number;
  /** Active NATS subscriptions. */
  readonly subscriptions: number;
}

/**
 * A message backbone an endpoint attaches to: one special peer with split horizon (the endpoint
 * never relays backbone → backbone). Implementations: the NATS backbone over any
 * `NatsConnectionLike` (`nats-backbone.ts`), with an in-memory NATS for tests (`memory-nats.ts`).
 */
export interface Backbone {
  /** Starts delivering to `sink` (once). */
  start(sink: BackboneSink): void;
  /** What this endpoint wants from the backbone: a normalised filter of byte prefixes. */
  setInterest(prefixes: readonly string[]): void;
  /**
   * Sends one encoded native data message on `topic`. False when it was not accepted: the
   * overflow policy dropped it, the topic is too long for a subject, or the backbone is closed.
   */
  publish(topic: string, frame: Uint8Array): boolean;
  /** Publishes a control message (presence) to every endpoint on the backbone. */
  publishControl(payload: Uint8Array): void;
  /**
   * The prefixes of the current interest that end inside a topic segment, which this endpoint
   * must announce in its presence so that publishers also send their extensions to it (empty in
   * superset mode). The link puts them in every heartbeat and compares after `setInterest`.
   */
  partials(): readonly string[];
  /** Another endpoint's announced partial prefixes (from its presence), replacing earlier ones. */
  remotePartials(endpointId: string, partials: readonly string[]): void;
  /** Forgets an endpoint's partial prefixes (it said bye or went down). */
  forgetRemote(endpointId: string): void;
  /** Stops: unsubscribes and drains what is queued (the NATS connection stays the caller's). */
  close(): Promise<void>;
  stats(): BackboneStats;
}

/** The result of a lease operation: the entry's revision (the fencing epoch) after it. */
export interface LeaseEntry {
  readonly value: Uint8Array;
  readonly revision: number;
}

/**
 * A replicated key-value bucket with compare-and-set, as store master leases need (JetStream KV
 * in production, `MemoryLeaseKv` in tests). Every failed precondition rejects with an error whose
 * `code` is `wrong_revision` (create of an existing key, update with an old revision).
 */
export interface LeaseKv {
  /** Creates `key` only if it does not exist (or was deleted); resolves to the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Updates `key` only if its revision is still `revision`; resolves to the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** The current entry, undefined when absent or deleted. */
  get(key: string): Promise<LeaseEntry | undefined>;
  /** Deletes `key` (only at `revision` when given). */
  delete(key: string, revision?: number): Promise<void>;
  /** Calls `fn` with every change of `key` (undefined: deleted or expired) until the returned function is called. */
  watch(key: string, fn: (entry: LeaseEntry | undefined) => void): () => void;
}
