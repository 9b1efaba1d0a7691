/**
 * NATS subject rules, for the in-memory NATS and for checking the subjects the backbone builds:
 * a subject is tokens joined by `.`; in a subscription, the token `*` matches exactly one token
 * and the token `>` (only as the last token) matches one or more tokens. A `*` or `>` inside a
 * longer token is an ordinary character. Matching scans both strings in place: no split, no
 * allocation per call (it runs once per message and subscription in the memory NATS).
 */

const DOT = 46; // .
const STAR = 42; // *
const GT = 62; // >

/**
 * True when the subscription `pattern` matches the (literal) `subject` under NATS's rules.
 * Wildcards match non-empty tokens only; either string being empty never matches.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const pl = pattern.length;
  const sl = subject.length;
  if (pl === 0 || sl === 0) return false;
  let p = 0;
  let s = 0;
  for (;;) {
    let pe = pattern.indexOf('.', p);
    if (pe < 0) pe = pl;
    let se = subject.indexOf('.', s);
    if (se < 0) se = sl;
    const plen = pe - p;
    const slen = se - s;
    if (plen === 1 && pattern.charCodeAt(p) === GT) {
      // `>` takes the rest of the subject (at least this token), and only as the last token.
      return pe === pl && slen > 0;
    }
    if (plen === 1 && pattern.charCodeAt(p) === STAR) {
      if (slen === 0) return false;
    } else {
      if (plen !== slen) return false;
      for (let i = 0; i < plen; i++) {
        if (pattern.charCodeAt(p + i) !== subject.charCodeAt(s + i)) return false;
      }
    }
    const pDone = pe === pl;
    const sDone = se === sl;
    if (pDone || sDone) return pDone && sDone;
    p = pe + 1;
    s = se + 1;
  }
}

/** Whitespace NATS refuses in a subject (the protocol separates fields with it). */
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

/**
 * True when `subject` is a valid NATS subject: non-empty tokens, no whitespace, and — only when
 * `wildcards` is true (subscriptions) — `*` tokens anywhere and one `>` token at the end.
 * Publish subjects must pass with `wildcards` false.
 */
export function isValidSubject(subject: string, wildcards: boolean): boolean {
  const n = subject.length;
  if (n === 0) return false;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? subject.charCodeAt(i) : DOT;
    if (c === DOT) {
      const len = i - start;
      if (len === 0) return false;
      if (len === 1) {
        const t = subject.charCodeAt(start);
        if (t === STAR && !wildcards) return false;
        if (t === GT && (!wildcards || i !== n)) return false;
      }
      start = i + 1;
    } else if (isSpace(c)) {
      return false;
    }
  }
  return true;
}

/** True when `subject` contains a wildcard token (`*` or `>`), i.e. matches more than itself. */
export function hasWildcard(subject: string): boolean {
  const n = subject.length;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    if (i === n || subject.charCodeAt(i) === DOT) {
      if (i - start === 1) {
        const t = subject.charCodeAt(start);
        if (t === STAR || t === GT) return true;
      }
      start = i + 1;
    }
  }
  return false;
}

/** One level of a `SubjectIndex`: items whose pattern ends here, and the next tokens. */
interface IndexNode<T> {
  /** Children by literal token. */
  lits: Map<string, IndexNode<T>> | undefined;
  /** The child for `*`. */
  star: IndexNode<T> | undefined;
  /** Items whose pattern ends with `>` after this level's tokens. */
  rest: Set<T> | undefined;
  /** Items whose pattern ends exactly here. */
  here: Set<T> | undefined;
}

const newNode = <T>(): IndexNode<T> => ({ lits: undefined, star: undefined, rest: undefined, here: undefined });

/**
 * Subscriptions indexed by their pattern (a tree of tokens, as NATS's sublist): matching a subject
 * walks its tokens once instead of testing every pattern. Patterns must be valid (`isValidSubject`
 * with wildcards); an item added under several patterns is reported once per matching pattern.
 */
export class SubjectIndex<T> {
  private readonly root: IndexNode<T> = newNode();
  private count = 0;

  /** Entries (pattern, item) in the index. */
  get size(): number {
    return this.count;
  }

  /** Adds `item` under `pattern`. */
  add(pattern: string, item: T): void {
    const toks = pattern.split('.');
    let node = this.root;
    const last = toks.length - 1;
    for (let i = 0; i < last; i++) node = this.child(node, toks[i]!);
    const t = toks[last]!;
    let set: Set<T>;
    if (t === '>') set = node.rest ??= new Set();
    else set = (node = this.child(node, t)).here ??= new Set();
    if (!set.has(item)) {
      set.add(item);
      this.count++;
    }
  }

  /** Removes `item` from under `pattern` (and the levels left empty). */
  delete(pattern: string, item: T): void {
    const toks = pattern.split('.');
    const path: IndexNode<T>[] = [this.root];
    const last = toks.length - 1;
    let node: IndexNode<T> | undefined = this.root;
    const end = toks[last] === '>' ? last : last + 1;
    for (let i = 0; i < end && node; i++) {
      const t = toks[i]!;
      node = t === '*' ? node.star : node.lits?.get(t);
      if (node) path.push(node);
    }
    if (!node) return;
    const set = end === last ? node.rest : node.here;
    if (!set?.delete(item)) return;
    this.count--;
    if (set.size === 0) {
      if (end === last) node.rest = undefined;
      else node.here = undefined;
    }
    // Prune empty levels, deepest first.
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.here || n.rest || n.star || n.lits?.size) break;
      const parent = path[i - 1]!;
      const t = toks[i - 1]!;
      if (t === '*') parent.star = undefined;
      else {
        parent.lits?.delete(t);
        if (parent.lits?.size === 0) parent.lits = undefined;
      }
    }
  }

  /** Calls `fn` with every item whose pattern matches the literal `subject`. */
  match(subject: string, fn: (item: T) => void): void {
    if (subject.length === 0) return;
    walk(this.root, subject.split('.'), 0, fn);
  }

  private child(node: IndexNode<T>, t: string): IndexNode<T> {
    if (t === '*') return (node.star ??= newNode());
    const lits = (node.lits ??= new Map());
    let next = lits.get(t);
    if (!next) lits.set(t, (next = newNode()));
    return next;
  }
}

function walk<T>(node: IndexNode<T>, toks: readonly string[], i: number, fn: (item: T) => void): void {
  if (i === toks.length) {
    if (node.here) for (const item of node.here) fn(item);
    return;
  }
  if (node.rest) for (const item of node.rest) fn(item);
  const lit = node.lits?.get(toks[i]!);
  if (lit) walk(lit, toks, i + 1, fn);
  if (node.star) walk(node.star, toks, i + 1, fn);
}
