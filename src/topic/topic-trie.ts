/**
 * A compressed (radix) trie of topic prefixes. A subscription is a prefix: `alice/dogs` matches
 * `alice/dogs`, `alice/dogs/corgi` and `alice/dogsarecool`, not `alice/dog`; `""` matches every
 * topic. Matching walks the topic once, so its cost depends on the topic's length and the number
 * of matches, not on how many prefixes are stored.
 *
 * Broker compares topics as UTF-8 bytes; this trie compares UTF-16 code units. For well-formed
 * strings the two agree: a well-formed prefix ends on a code point boundary, and both encodings
 * map code point sequences to unit sequences without one code point's encoding being a prefix of
 * another's, so "A is a code-unit prefix of B" holds exactly when "UTF-8(A) is a byte prefix of
 * UTF-8(B)". (Topics decoded from UTF-8 are always well-formed.)
 */
import { ValueError } from '../errors.js';

/** A stored prefix/value pair; pass it to `remove` to take that one subscription out. */
export interface TrieHandle<T> {
  readonly prefix: string;
  readonly value: T;
}

class TrieNode<T> {
  /** The edge label from the parent: the node's full prefix is the parent's plus this label. */
  label: string;
  parent: TrieNode<T> | undefined;
  /** Children by the first code unit of their label; absent while empty. */
  children: Map<number, TrieNode<T>> | undefined = undefined;
  /** Entries whose prefix ends exactly here, in insertion order. */
  readonly entries: Entry<T>[] = [];

  constructor(label: string, parent: TrieNode<T> | undefined) {
    this.label = label;
    this.parent = parent;
  }

  attach(child: TrieNode<T>): void {
    child.parent = this;
    (this.children ??= new Map()).set(child.label.charCodeAt(0), child);
  }
}

class Entry<T> implements TrieHandle<T> {
  constructor(
    readonly prefix: string,
    readonly value: T,
    readonly owner: TopicTrie<T>,
    readonly epoch: number,
    public node: TrieNode<T> | undefined,
  ) {}
}

/**
 * Prefix → values. Invariant: every node but the root holds entries or has at least two
 * children, so the trie stays compressed as prefixes come and go.
 */
export class TopicTrie<T> {
  #root = new TrieNode<T>('', undefined);
  #size = 0;
  #nodes = 1;
  /** Bumped by `clear()`, so handles from before it are recognised as stale. */
  #epoch = 0;

  /** Number of stored handles. */
  get size(): number {
    return this.#size;
  }

  /**
   * Number of trie nodes, the root included (diagnostics). A trie holding a given set of prefixes
   * has the same shape however it got there, so this equals the count of a freshly built one.
   */
  get nodeCount(): number {
    return this.#nodes;
  }

  /** Stores `value` under `prefix`. Adding the same pair twice gives two handles. */
  add(prefix: string, value: T): TrieHandle<T> {
    if (typeof prefix !== 'string') throw new ValueError(`topic prefix must be a string, got ${typeof prefix}`);
    let node = this.#root;
    let pos = 0;
    while (pos < prefix.length) {
      const first = prefix.charCodeAt(pos);
      const child = node.children?.get(first);
      if (child === undefined) {
        const leaf = new TrieNode<T>(prefix.slice(pos), node);
        node.attach(leaf);
        this.#nodes++;
        node = leaf;
        break;
      }
      const label = child.label;
      const max = Math.min(label.length, prefix.length - pos);
      let common = 1;
      while (common < max && label.charCodeAt(common) === prefix.charCodeAt(pos + common)) common++;
      if (common < label.length) {
        // Split the edge: a new node for the shared part; `child` keeps its identity (and the
        // handles pointing at it) with the rest of its label.
        const mid = new TrieNode<T>(label.slice(0, common), node);
        node.children!.set(first, mid);
        child.label = label.slice(common);
        mid.attach(child);
        this.#nodes++;
      }
      node = node.children!.get(first)!;
      pos += common;
    }
    const entry = new Entry(prefix, value, this, this.#epoch, node);
    node.entries.push(entry);
    this.#size++;
    return entry;
  }

  /** Removes one handle; false when it was already removed or belongs elsewhere. */
  remove(handle: TrieHandle<T>): boolean {
    if (!(handle instanceof Entry) || handle.owner !== this || handle.epoch !== this.#epoch) return false;
    const node = (handle as Entry<T>).node;
    if (node === undefined) return false;
    const i = node.entries.indexOf(handle as Entry<T>);
    if (i < 0) return false;
    node.entries.splice(i, 1);
    (handle as Entry<T>).node = undefined;
    this.#size--;
    this.#prune(node);
    return true;
  }

  /** Every value whose prefix matches `topic` (once per handle), shorter prefixes first. */
  match(topic: string): T[] {
    const out: T[] = [];
    let node: TrieNode<T> | undefined = this.#root;
    let pos = 0;
    while (node !== undefined) {
      const entries = node.entries;
      for (let i = 0; i < entries.length; i++) out.push(entries[i]!.value);
      const next: TrieNode<T> | undefined = step(node, topic, pos);
      if (next === undefined) break;
      pos += next.label.length;
      node = next;
    }
    return out;
  }

  /**
   * Calls `fn` for each matching handle, shorter prefixes first, without allocating.
   * `fn` must not add or remove entries while the walk runs (collect them, then change).
   */
  forEachMatch(topic: string, fn: (value: T, handle: TrieHandle<T>) => void): void {
    let node: TrieNode<T> | undefined = this.#root;
    let pos = 0;
    while (node !== undefined) {
      const entries = node.entries;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        fn(e.value, e);
      }
      const next: TrieNode<T> | undefined = step(node, topic, pos);
      if (next === undefined) return;
      pos += next.label.length;
      node = next;
    }
  }

  /** True when at least one stored prefix matches `topic`. */
  hasMatch(topic: string): boolean {
    let node: TrieNode<T> | undefined = this.#root;
    let pos = 0;
    while (node !== undefined) {
      if (node.entries.length > 0) return true;
      const next: TrieNode<T> | undefined = step(node, topic, pos);
      if (next === undefined) return false;
      pos += next.label.length;
      node = next;
    }
    return false;
  }

  /** Removes everything; handles given out before stay removed. */
  clear(): void {
    this.#root = new TrieNode<T>('', undefined);
    this.#size = 0;
    this.#nodes = 1;
    this.#epoch++;
  }

  /** Restores the invariant upwards from `node` after it lost an entry. */
  #prune(start: TrieNode<T>): void {
    let node = start;
    while (node !== this.#root && node.entries.length === 0) {
      const parent = node.parent!;
      const children = node.children;
      if (children === undefined || children.size === 0) {
        parent.children!.delete(node.label.charCodeAt(0));
        if (parent.children!.size === 0) parent.children = undefined;
        this.#nodes--;
        node = parent;
        continue;
      }
      if (children.size === 1) {
        // Merge the now-empty node into its only child.
        const only = children.values().next().value!;
        only.label = node.label + only.label;
        parent.attach(only);
        this.#nodes--;
      }
      return;
    }
  }
}

/** The child to descend into when its whole label continues `topic` at `pos`. */
function step<T>(node: TrieNode<T>, topic: string, pos: number): TrieNode<T> | undefined {
  if (pos >= topic.length || node.children === undefined) return undefined;
  const child = node.children.get(topic.charCodeAt(pos));
  return child !== undefined && topic.startsWith(child.label, pos) ? child : undefined;
}
