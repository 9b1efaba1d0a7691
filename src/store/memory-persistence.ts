/**
 * Clone persistence in memory: for tests and Node clones that need no durability. It keeps the
 * `ClonePersistence` contract exactly — writes are seen by a later `load()`, `reset()` drops
 * everything including the checkpoint — and it outlives its clone: hand the same instance to a new
 * clone and that clone "reloads" what the first one persisted (`close()` releases nothing).
 */
import { DataMap } from '../data/data-map.js';
import type { Data } from '../data/types.js';
import type { CloneCheckpoint, ClonePersistence, PersistChange, PersistedClone } from './persistence.js';

/** A persistence that keeps everything in this process's memory. */
export function createMemoryPersistence(): ClonePersistence {
  const entries = new DataMap<Data>();
  let checkpoint: CloneCheckpoint | undefined;

  return {
    load(): Promise<PersistedClone> {
      const snapshot: (readonly [Data, Data])[] = [...entries];
      return Promise.resolve(checkpoint === undefined ? { entries: snapshot } : { checkpoint, entries: snapshot });
    },
    write(changes: readonly PersistChange[], next: CloneCheckpoint): void {
      for (const change of changes) {
        if (change.value === undefined) entries.delete(change.key);
        else entries.set(change.key, change.value);
      }
      // A copy, so a caller that reuses its checkpoint object cannot change what was persisted.
      checkpoint = Object.freeze({ epoch: next.epoch, seq: next.seq });
    },
    reset(): void {
      entries.clear();
      checkpoint = undefined;
    },
    flush(): Promise<void> {
      return Promise.resolve();
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
