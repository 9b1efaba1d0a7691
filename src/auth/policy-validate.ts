/**
 * Path-aware checks of untrusted JSON for the policy file and the `isb` token claim: each check
 * records every problem with its JSON path (`$.roles.dashboard.publish.allow[2]: …`) instead of
 * throwing, so a loader can list all of them at once. Shared shapes — topic grants, store maps,
 * limits — are checked here for both. Reads only own properties; never throws for any input.
 */
import { isAclPrefix } from './prefix-acl.js';
import { placeholderProblem } from './substitute.js';
import { type Grant, type PrincipalLimits, STORE_PERMISSIONS, type StorePermission } from './types.js';

/** At most this many errors are listed; the last line says how many more there were. */
export const MAX_LISTED_ERRORS = 1000;
/** Longest topic prefix or store name accepted. */
export const MAX_PREFIX_LENGTH = 4096;
/** Most prefixes in one allow or deny list. */
export const MAX_GRANT_PREFIXES = 200_000;

/** A JSON object read from untrusted input: own string keys only. */
export type JsonRecord = Readonly<Record<string, unknown>>;

/** `path` extended by an object key: `.name` for identifiers, `["odd key"]` otherwise. */
export function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(clip(key))}]`;
}

/** A short, printable form of an untrusted value for messages (never more than ~60 characters). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(clip(value))}`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function clip(s: string): string {
  return s.length > 48 ? `${s.slice(0, 48)}…` : s;
}

/** Collects errors and warnings, each prefixed with its JSON path. */
export class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  private dropped = 0;

  error(path: string, message: string): void {
    if (this.errors.length < MAX_LISTED_ERRORS) this.errors.push(`${path}: ${message}`);
    else this.dropped++;
  }

  warn(path: string, message: string): void {
    if (this.warnings.length < MAX_LISTED_ERRORS) this.warnings.push(`${path}: ${message}`);
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }

  /** Errors reported so far, listed or not. */
  get count(): number {
    return this.errors.length + this.dropped;
  }

  /** The errors, with a last line counting those not listed. */
  listErrors(): string[] {
    return this.dropped > 0 ? [...this.errors, `(${this.dropped} more errors not listed)`] : [...this.errors];
  }
}

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The own enumerable keys of `obj` (never inherited ones). */
export function ownKeys(obj: JsonRecord): string[] {
  return Object.keys(obj);
}

/** `obj[key]` when it is an own property, else undefined. */
export function field(obj: JsonRecord, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Reports every own key of `obj` not in `known`. */
export function checkKnownKeys(p: Problems, path: string, obj: JsonRecord, known: readonly string[]): void {
  for (const key of ownKeys(obj)) {
    if (!known.includes(key)) p.error(keyPath(path, key), `unknown field (expected one of ${known.join(', ')})`);
  }
}

/** A non-empty string of at most `max` characters, or undefined after reporting. */
export function checkString(p: Problems, path: string, value: unknown, max = 1024): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    p.error(path, `expected a non-empty string of at most ${max} characters, got ${describe(value)}`);
    return undefined;
  }
  if (!isAclPrefix(value)) {
    p.error(path, 'string is not well-formed Unicode (lone surrogate)');
    return undefined;
  }
  return value;
}

/** An integer in `[min, max]`, or undefined after reporting. */
export function checkInt(p: Problems, path: string, value: unknown, min: number, max: number): number | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    p.error(path, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

/** A boolean, or undefined after reporting. */
export function checkBool(p: Problems, path: string, value: unknown): boolean | undefined {
  if (typeof value !== 'boolean') {
    p.error(path, `expected true or false, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

/** An array of at most `max` elements, or undefined after reporting. */
export function checkArray(p: Problems, path: string, value: unknown, max: number): readonly unknown[] | undefined {
  if (!Array.isArray(value)) {
    p.error(path, `expected an array, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > max) {
    p.error(path, `expected at most ${max} elements, got ${value.length}`);
    return undefined;
  }
  return value;
}

/** A non-empty array of unique non-empty strings, or undefined after reporting. */
export function checkStringList(
  p: Problems,
  path: string,
  value: unknown,
  opts: { readonly maxItems: number; readonly maxLength?: number; readonly allowEmptyList?: boolean },
): string[] | undefined {
  const list = checkArray(p, path, value, opts.maxItems);
  if (list === undefined) return undefined;
  if (list.length === 0 && opts.allowEmptyList !== true) {
    p.error(path, 'expected at least one element');
    return undefined;
  }
  const out: string[] = [];
  const seen = new Set<string>();
  let ok = true;
  for (let i = 0; i < list.length; i++) {
    const s = checkString(p, `${path}[${i}]`, list[i], opts.maxLength);
    if (s === undefined) ok = false;
    else if (seen.has(s)) p.warn(`${path}[${i}]`, `duplicate ${JSON.stringify(clip(s))}`);
    else {
      seen.add(s);
      out.push(s);
    }
  }
  return ok ? out : undefined;
}

/** How a grant is checked: where it comes from decides which warnings make sense. */
export interface GrantCheckOptions {
  /** Warn about allow prefixes that do not end in `/` (policy files; not token claims). */
  readonly warnSeparator: boolean;
}

/**
 * A topic grant `{ "allow"?: [prefix…], "deny"?: [prefix…] }` (both default to `[]`), or undefined
 * after reporting. Prefixes may be `""` (every topic), are at most `MAX_PREFIX_LENGTH` characters,
 * well-formed Unicode, and use placeholders only as whole segments.
 */
export function checkGrant(p: Problems, path: string, value: unknown, opts: GrantCheckOptions): Grant | undefined {
  if (!isRecord(value)) {
    p.error(path, `expected an object with "allow" and/or "deny", got ${describe(value)}`);
    return undefined;
  }
  checkKnownKeys(p, path, value, ['allow', 'deny']);
  const allow = checkPrefixList(p, `${path}.allow`, field(value, 'allow'), opts.warnSeparator);
  const deny = checkPrefixList(p, `${path}.deny`, field(value, 'deny'), false);
  if (allow === undefined || deny === undefined) return undefined;
  return Object.freeze({ allow: Object.freeze(allow), deny: Object.freeze(deny) });
}

function checkPrefixList(p: Problems, path: string, value: unknown, warnSeparator: boolean): string[] | undefined {
  if (value === undefined) return [];
  const list = checkArray(p, path, value, MAX_GRANT_PREFIXES);
  if (list === undefined) return undefined;
  const out: string[] = [];
  const seen = new Set<string>();
  let ok = true;
  for (let i = 0; i < list.length; i++) {
    const at = `${path}[${i}]`;
    const prefix = list[i];
    if (typeof prefix !== 'string' || prefix.length > MAX_PREFIX_LENGTH) {
      p.error(
        at,
        `expected a topic prefix (a string of at most ${MAX_PREFIX_LENGTH} characters), got ${describe(prefix)}`,
      );
      ok = false;
      continue;
    }
    if (!isAclPrefix(prefix)) {
      p.error(at, 'prefix is not well-formed Unicode (lone surrogate)');
      ok = false;
      continue;
    }
    const problem = placeholderProblem(prefix);
    if (problem !== undefined) {
      p.error(at, problem);
      ok = false;
      continue;
    }
    if (warnSeparator && prefix !== '' && !prefix.endsWith('/')) {
      p.warn(
        at,
        `prefix ${JSON.stringify(clip(prefix))} does not end in '/': byte-prefix semantics, so it also covers ` +
          `${JSON.stringify(clip(`${prefix}x`))}${prefix.endsWith('}') ? ' (other subjects or nodes whose names start the same)' : ''}`,
      );
    }
    if (!seen.has(prefix)) {
      seen.add(prefix);
      out.push(prefix);
    }
  }
  return ok ? out : undefined;
}

/** Store grants: store name (or `*`, every store) → permission. Names may hold placeholders. */
export type StoreGrants = ReadonlyMap<string, StorePermission>;

/** `{ "<store name or *>": "read" | "write" | "master" }`, or undefined after reporting. */
export function checkStores(p: Problems, path: string, value: unknown): StoreGrants | undefined {
  if (!isRecord(value)) {
    p.error(
      path,
      `expected an object mapping store names (or "*") to "read", "write" or "master", got ${describe(value)}`,
    );
    return undefined;
  }
  const out = new Map<string, StorePermission>();
  let ok = true;
  for (const name of ownKeys(value)) {
    const at = keyPath(path, name);
    const perm = value[name];
    if (name.length === 0 || name.length > MAX_PREFIX_LENGTH || !isAclPrefix(name)) {
      p.error(at, `store name must be a non-empty well-formed string of at most ${MAX_PREFIX_LENGTH} characters`);
      ok = false;
      continue;
    }
    const problem = placeholderProblem(name);
    if (problem !== undefined) {
      p.error(at, problem);
      ok = false;
      continue;
    }
    if (typeof perm !== 'string' || !(STORE_PERMISSIONS as readonly string[]).includes(perm)) {
      p.error(at, `expected "read", "write" or "master", got ${describe(perm)}`);
      ok = false;
      continue;
    }
    out.set(name, perm as StorePermission);
  }
  return ok ? out : undefined;
}

/** The fields of `PrincipalLimits` and their ranges. */
export const LIMIT_RANGES: Readonly<Record<keyof PrincipalLimits, readonly [number, number]>> = {
  publishRate: [0, 1_000_000_000],
  publishBurst: [1, 1_000_000_000],
  maxSubscriptions: [1, 1_000_000],
  storeCommandsInFlight: [1, 1_000_000],
};

/** Some of `PrincipalLimits`, as a role or token claim sets them. */
export type LimitsSpec = Partial<PrincipalLimits>;

/** `{ publishRate?, publishBurst?, maxSubscriptions?, storeCommandsInFlight? }`, or undefined after reporting. */
export function checkLimits(p: Problems, path: string, value: unknown): LimitsSpec | undefined {
  if (!isRecord(value)) {
    p.error(path, `expected an object of limits, got ${describe(value)}`);
    return undefined;
  }
  const names = Object.keys(LIMIT_RANGES) as (keyof PrincipalLimits)[];
  checkKnownKeys(p, path, value, names);
  const out: { -readonly [K in keyof PrincipalLimits]?: number } = {};
  let ok = true;
  for (const name of names) {
    const v = field(value, name);
    if (v === undefined) continue;
    const [min, max] = LIMIT_RANGES[name];
    const n = checkInt(p, `${path}.${name}`, v, min, max);
    if (n === undefined) ok = false;
    else out[name] = n;
  }
  return ok ? Object.freeze(out) : undefined;
}
