/**
 * The master's recent changes, by sequence number, for delta resyncs: a clone that was at `seq`
 * gets every change after it, if the log still reaches back that far. Bounded: the oldest
 * changes fall off.
 */
import type { Change } from './store-protocol.js';

export class ChangeLog {
  /** Up to 1.25 × capacity changes are kept (trimmed in steps). */
  private changes: Change[] = [];
  /** Sequence number of `changes[0]`. */
  private firstSeq: number;

  constructor(
    private readonly capacity: number,
    /** The sequence number before the first change this log will hold. */
    headSeq: number,
  ) {
    this.firstSeq = headSeq + 1;
  }

  append(seq: number, changes: readonly Change[]): void {
    if (seq !== this.firstSeq + this.changes.length) {
      // A gap (should not happen): start over from here.
      this.changes = [];
      this.firstSeq = seq;
    }
    for (const c of changes) this.changes.push(c);
    // Trim in steps of a quarter of the capacity, so a full log is not copied on every append.
    const excess = this.changes.length - this.capacity;
    if (excess > 0 && excess >= Math.max(1, this.capacity >> 2)) {
      this.changes = this.changes.slice(excess);
      this.firstSeq += excess;
    }
  }

  /** True when every change after `seq` is still in the log. */
  covers(seq: number): boolean {
    return seq + 1 >= this.firstSeq;
  }

  /** The changes after `seq` one by one, oldest first (the log must cover `seq`; stop early at will). */
  *after(seq: number): Generator<Change> {
    const changes = this.changes;
    for (let i = Math.max(0, seq + 1 - this.firstSeq); i < changes.length; i++) yield changes[i]!;
  }

  /** The changes after `seq`, in batches of at most `batch`, each with its first seq. */
  *since(seq: number, batch: number): Generator<{ seq: number; changes: Change[] }> {
    let i = seq + 1 - this.firstSeq;
    while (i < this.changes.length) {
      const part = this.changes.slice(i, i + batch);
      yield { seq: this.firstSeq + i, changes: part };
      i += part.length;
    }
  }
}
