/**
 * Control messages on the backbone's control subject (`ib.<ns>.ctl`): presence — hello,
 * heartbeat and bye — naming an endpoint, the cluster nodes it hosts, the partial prefixes it
 * wants and the stores it masters (ARCHITECTURE.md, "Backbone").
 *
 * Wire form: compact UTF-8 JSON, one object with short keys —
 * `{"v":1,"k":"heartbeat","id":"<uuid>","n":"hub-1","s":7,"i":500,"nd":[["worker-1","worker","<uuid>"]],"p":["zeek/cluster/work"],"st":[["users",3]]}`.
 *
 * Decoding is strict and bounded: what arrives is remote input. Every problem throws a
 * `DecodeError` whose `code` says what kind (`control_too_large` for a limit, `control_invalid`
 * for anything else) and whose message names the field (`nd[3][2]: …`). Nothing else is thrown.
 * Forward compatibility: a message with another version `v` or a `kind` this build does not
 * know decodes to `undefined` (ignore it); fields this build does not know are ignored; the
 * fields it knows are checked in full whatever the rest holds.
 */
import { DecodeError, ValueError } from '../errors.js';

/** A cluster node hosted by an endpoint, as its heartbeats list it. */
export interface PresenceNode {
  readonly name: string;
  readonly role: string;
  /** The node's endpoint id (a lowercase UUID). */
  readonly id: string;
}

/** A store an endpoint masters, with its fencing epoch. */
export interface PresenceStore {
  readonly name: string;
  readonly epoch: number;
  /**
   * When a master without a lease (epoch 0) claimed the store, ms since 1970 on its clock: of two
   * such masters that find each other, the later claim steps down. Absent: unknown, or leased.
   * On the wire: `sc`, one entry per `st` entry, 0 for absent (older builds ignore it).
   */
  readonly claimedAt?: number;
}

/** A presence message: hello on (re)connect, a heartbeat every interval, bye on a clean close. */
export interface ControlMessage {
  readonly kind: 'hello' | 'heartbeat' | 'bye';
  /** The sending endpoint's id (a lowercase UUID). */
  readonly id: string;
  /** The sending endpoint's name. */
  readonly name: string;
  /** Per sender, increasing with every control message it sends. */
  readonly seq: number;
  readonly nodes: readonly PresenceNode[];
  readonly partials: readonly string[];
  readonly stores: readonly PresenceStore[];
  /** The sender's heartbeat interval, ms. */
  readonly interval: number;
  /**
   * What the sender wants from the backbone (bounded, possibly coarsened: a superset), so that
   * members tell native routers behind them what to send, and publishers skip topics nobody
   * wants. Absent: unknown, taken as everything.
   */
  readonly filter?: readonly string[];
}

/** How often an endpoint sends a heartbeat, ms. */
export const HEARTBEAT_INTERVAL = 500;
/** An endpoint is down after this long without a heartbeat, ms. */
export const PRESENCE_TIMEOUT = 2000;

/** The wire version this build writes; messages with another version decode to `undefined`. */
export const CONTROL_VERSION = 1;

/** The limits of one control message, checked by both `decodeControl` and `encodeControl`. */
export const CONTROL_LIMITS = Object.freeze({
  /** Bytes of the encoded message. */
  maxBytes: 64 * 1024,
  maxNodes: 1024,
  maxPartials: 1024,
  /** Prefixes of the interest filter. */
  maxFilter: 1024,
  /** UTF-8 bytes of one partial prefix. */
  maxPartialBytes: 4096,
  maxStores: 4096,
  /** UTF-16 code units of a name (endpoint, node, role, store). */
  maxNameLength: 256,
});

const KINDS: ReadonlySet<string> = new Set(['hello', 'heartbeat', 'bye']);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LONE_SURROGATE = /\p{Cs}/u;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function tooLarge(path: string, what: string): DecodeError {
  return new DecodeError(`control message: ${path}: ${what}`, { code: 'control_too_large' });
}

function invalid(path: string, what: string): DecodeError {
  return new DecodeError(`control message: ${path}: ${what}`, { code: 'control_invalid' });
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function text(v: unknown, path: string, allowEmpty: boolean): string {
  if (typeof v !== 'string') return fail(invalid(path, `expected a string, got ${describe(v)}`));
  if (v.length > CONTROL_LIMITS.maxNameLength) {
    return fail(tooLarge(path, `longer than ${CONTROL_LIMITS.maxNameLength} characters`));
  }
  if (!allowEmpty && v.length === 0) return fail(invalid(path, 'empty'));
  if (LONE_SURROGATE.test(v)) return fail(invalid(path, 'not well-formed Unicode (a lone surrogate)'));
  return v;
}

function uuid(v: unknown, path: string): string {
  if (typeof v !== 'string' || !UUID_RE.test(v)) {
    return fail(invalid(path, `expected a lowercase UUID, got ${describe(v)}`));
  }
  return v;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    return fail(invalid(path, `expected a safe non-negative integer, got ${describe(v)}`));
  }
  return v;
}

function list(v: unknown, path: string, max: number): readonly unknown[] {
  if (!Array.isArray(v)) return fail(invalid(path, `expected an array, got ${describe(v)}`));
  if (v.length > max) return fail(tooLarge(path, `more than ${max} entries (${v.length})`));
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return typeof v;
}

function fail(e: DecodeError): never {
  throw e;
}

function nodesOf(v: unknown): PresenceNode[] {
  const arr = list(v, 'nd', CONTROL_LIMITS.maxNodes);
  const out: PresenceNode[] = [];
  const names = new Set<string>();
  for (let i = 0; i < arr.length; i++) {
    const e = arr[i];
    const path = `nd[${i}]`;
    if (!Array.isArray(e) || e.length !== 3) fail(invalid(path, 'expected [name, role, id]'));
    const name = text(e[0], `${path}[0]`, false);
    const role = text(e[1], `${path}[1]`, false);
    const id = uuid(e[2], `${path}[2]`);
    if (names.has(name)) fail(invalid(path, `node ${JSON.stringify(name)} listed twice`));
    names.add(name);
    out.push({ name, role, id });
  }
  return out;
}

function partialsOf(v: unknown, key = 'p', max: number = CONTROL_LIMITS.maxPartials): string[] {
  const arr = list(v, key, max);
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < arr.length; i++) {
    const p = arr[i];
    const path = `${key}[${i}]`;
    if (typeof p !== 'string') fail(invalid(path, `expected a string, got ${describe(p)}`));
    // A UTF-16 code unit takes at most 3 UTF-8 bytes: only long strings need counting.
    if (p.length * 3 > CONTROL_LIMITS.maxPartialBytes && utf8Length(p) > CONTROL_LIMITS.maxPartialBytes) {
      fail(tooLarge(path, `longer than ${CONTROL_LIMITS.maxPartialBytes} bytes`));
    }
    if (LONE_SURROGATE.test(p)) fail(invalid(path, 'not well-formed Unicode (a lone surrogate)'));
    if (seen.has(p)) fail(invalid(path, 'prefix listed twice'));
    seen.add(p);
    out.push(p);
  }
  return out;
}

function storesOf(v: unknown): PresenceStore[] {
  const arr = list(v, 'st', CONTROL_LIMITS.maxStores);
  const out: PresenceStore[] = [];
  const names = new Set<string>();
  for (let i = 0; i < arr.length; i++) {
    const e = arr[i];
    const path = `st[${i}]`;
    if (!Array.isArray(e) || e.length !== 2) fail(invalid(path, 'expected [name, epoch]'));
    const name = text(e[0], `${path}[0]`, false);
    const epoch = count(e[1], `${path}[1]`);
    if (names.has(name)) fail(invalid(path, `store ${JSON.stringify(name)} listed twice`));
    names.add(name);
    out.push({ name, epoch });
  }
  return out;
}

/** The optional claim times `sc` (one per store, 0: none) merged into the stores. */
function claimsOf(v: unknown, stores: PresenceStore[]): PresenceStore[] {
  if (v === undefined) return stores;
  const arr = list(v, 'sc', CONTROL_LIMITS.maxStores);
  if (arr.length !== stores.length) fail(invalid('sc', `expected ${stores.length} entries, one per store`));
  return stores.map((s, i) => {
    const t = count(arr[i], `sc[${i}]`);
    return t === 0 ? s : { ...s, claimedAt: t };
  });
}

/**
 * Decodes a control message. Returns `undefined` for a message this build does not understand
 * but must tolerate (another version `v`, or a `kind` other than hello, heartbeat and bye): the
 * caller ignores it. Throws a `DecodeError` (`control_too_large` or `control_invalid`, the field
 * in the message) for anything malformed or over a limit; never anything else.
 */
export function decodeControl(bytes: Uint8Array): ControlMessage | undefined {
  if (!(bytes instanceof Uint8Array)) throw invalid('(root)', 'expected bytes');
  if (bytes.byteLength > CONTROL_LIMITS.maxBytes) {
    throw tooLarge('(root)', `${bytes.byteLength} bytes, more than ${CONTROL_LIMITS.maxBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new DecodeError(`control message: (root): not UTF-8 JSON (${(err as Error)?.message ?? err})`, {
      code: 'control_invalid',
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('(root)', `expected an object, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  const v = count(o.v, 'v');
  if (v !== CONTROL_VERSION) return undefined;
  const kind = o.k;
  if (typeof kind !== 'string') throw invalid('k', `expected a string, got ${describe(kind)}`);
  if (!KINDS.has(kind)) return undefined;
  return {
    kind: kind as ControlMessage['kind'],
    id: uuid(o.id, 'id'),
    name: text(o.n, 'n', true),
    seq: count(o.s, 's'),
    nodes: nodesOf(o.nd),
    partials: partialsOf(o.p),
    stores: claimsOf(o.sc, storesOf(o.st)),
    interval: count(o.i, 'i'),
    ...(o.f === undefined ? {} : { filter: partialsOf(o.f, 'f', CONTROL_LIMITS.maxFilter) }),
  };
}

/**
 * Encodes a control message as compact UTF-8 JSON. Throws a `ValueError` (code `invalid_argument`)
 * when the message breaks a rule `decodeControl` checks — a limit of `CONTROL_LIMITS`, a bad id,
 * a name listed twice — since every receiver would refuse it.
 */
export function encodeControl(m: ControlMessage): Uint8Array {
  const wire = {
    v: CONTROL_VERSION,
    k: m.kind,
    id: m.id,
    n: m.name,
    s: m.seq,
    i: m.interval,
    nd: m.nodes.map((n) => [n.name, n.role, n.id]),
    p: m.partials,
    st: m.stores.map((s) => [s.name, s.epoch]),
    ...(m.stores.some((s) => s.claimedAt !== undefined) ? { sc: m.stores.map((s) => s.claimedAt ?? 0) } : {}),
    ...(m.filter === undefined ? {} : { f: m.filter }),
  };
  const bytes = encoder.encode(JSON.stringify(wire));
  try {
    if (!KINDS.has(m.kind)) throw invalid('k', `unknown kind ${JSON.stringify(m.kind)}`);
    decodeControl(bytes);
  } catch (err) {
    throw new ValueError(`cannot send ${(err as Error).message}`, { cause: err });
  }
  return bytes;
}
