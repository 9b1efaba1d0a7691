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
