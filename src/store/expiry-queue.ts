/**
 * Deadlines of expiring keys, as a binary min-heap with lazy deletion: a key's latest deadline is
 * remembered by its canonical key, and stale heap entries are skipped when they surface.
 */
import { dataKey } from '../data/data-map.js';
import type { Data } from '../data/types.js';

interface Item {
  readonly at: number;
  readonly id: string;
  readonly key: Data;
}

export class ExpiryQueue {
  private heap: Item[] = [];
  private readonly current = new Map<string, number>();

  get size(): number {
    return this.current.size;
  }

  add(key: Data, at: number): void {
    const id = dataKey(key);
    this.current.set(id, at);
    this.push({ at, id, key });
  }

  remove(key: Data): void {
    if (this.current.size === 0) return; // most stores expire nothing: no key to compute
    this.current.delete(dataKey(key));
  }

  clear(): void {
    this.heap = [];
    this.current.clear();
  }

  /** Removes and returns the keys whose deadline is strictly before `now`. */
  due(now: number): Data[] {
    const out: Data[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at < now) {
      const top = this.pop();
      if (this.current.get(top.id) !== top.at) continue;
      this.current.delete(top.id);
      out.push(top.key);
    }
    // Lazy deletion can let the heap grow; rebuild when it is mostly stale.
    if (this.heap.length > 1024 && this.heap.length > 4 * this.current.size) this.rebuild();
    return out;
  }

  private rebuild(): void {
    const live = this.heap.filter((it) => this.current.get(it.id) === it.at);
    this.heap = [];
    for (const it of live) this.push(it);
  }

  private push(it: Item): void {
    const h = this.heap;
    h.push(it);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= it.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = it;
  }

  private pop(): Item {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
