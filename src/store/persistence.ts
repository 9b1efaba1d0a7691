/**
 * The clone persistence seam: where a clone keeps its local copy between runs (memory, IndexedDB
 * in browsers). A reloaded clone shows what it persisted at once (marked stale) and resumes from
 * the persisted sequence number with a delta instead of a full snapshot.
 */
import type { Data } from '../data/types.js';

/** Where a clone was in the master's update stream. */
export interface CloneCheckpoint {
  /** The master's epoch (a master that lost its history starts a new one). */
  readonly epoch: string;
  /** Last update sequence number applied. */
  readonly seq: number;
}

/** What a clone's persistence hands back on start: the copy it kept and the position it had reached. */
export interface PersistedClone {
  readonly checkpoint?: CloneCheckpoint;
  readonly entries: readonly (readonly [Data, Data])[];
}

/** A change to persist: a key's new value, or its removal (`value` undefined). */
export interface PersistChange {
  readonly key: Data;
  readonly value?: Data;
}

/**
 * Where a clone keeps its local copy between runs (memory, or IndexedDB in browsers through
 * `createIndexedDbPersistence`); writes are batched and carry the master's epoch and sequence number.
 */
export interface ClonePersistence {
  /** Everything persisted (empty on first use). */
  load(): Promise<PersistedClone>;
  /**
   * Records changes and the checkpoint they lead to. Calls may come often; implementations batch
   * them (e.g. one IndexedDB transaction per tick) and keep their order.
   */
  write(changes: readonly PersistChange[], checkpoint: CloneCheckpoint): void;
  /** Replaces everything (a snapshot began): drop all keys, keep nothing of the old checkpoint. */
  reset(): void;
  /** Resolves when everything written so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
