/**
 * Broker's store operations as pure functions over values: what a mutation does to a key's
 * current value, and what a query answers. Errors use Broker's codes (`no_such_key`,
 * `type_clash`).
 */
import {
  boolean as mkBoolean,
  count as mkCount,
  set as mkSet,
  string as mkString,
  table as mkTable,
  vector as mkVector,
} from '../data/constructors.js';
import { search, searchKey } from '../data/order.js';
import { toText } from '../data/text.js';
import type { Data } from '../data/types.js';
import { StoreError } from '../errors.js';

/** Mutations as numbered on the wire (see PROTOCOL.md, store commands). */
export const StoreOp = {
  Put: 1,
  PutUnique: 2,
  Erase: 3,
  Clear: 4,
  Increment: 5,
  Decrement: 6,
  Append: 7,
  InsertInto: 8,
  RemoveFrom: 9,
  Push: 10,
  Pop: 11,
} as const;
export type StoreOp = (typeof StoreOp)[keyof typeof StoreOp];

/** A mutation of one key (`Clear` has no key). `args` depend on the op. */
export interface Mutation {
  readonly op: StoreOp;
  readonly key: Data;
  /** put/put_unique: [value]; increment/decrement: [amount]; append: [string];
   *  insert_into: [element] or [key, value]; remove_from: [element or key]; push: [value]. */
  readonly args: readonly Data[];
  /** Expiry interval in ms: undefined keeps the key's interval, 0 clears it. */
  readonly expiry?: number;
}

const MAX_U64 = (1n << 64n) - 1n;
const I64_MOD = 1n << 64n;

function clash(what: string, key: Data, value: Data): never {
  throw new StoreError('type_clash', `${what} on key ${toText(key)}: value is a ${value.type}`);
}

function missing(key: Data): never {
  throw new StoreError('no_such_key', `no such key: ${toText(key)}`);
}

function wrapI64(v: bigint): bigint {
  const m = ((v % I64_MOD) + I64_MOD) % I64_MOD;
  return m >= 1n << 63n ? m - I64_MOD : m;
}

/** Adds (`sign` 1) or subtracts (`sign` −1) `amount`, as Broker's increment/decrement do. */
function add(key: Data, cur: Data, amount: Data, sign: 1 | -1): Data {
  const what = sign > 0 ? 'increment' : 'decrement';
  switch (cur.type) {
    case 'count':
      if (amount.type !== 'count') clash(`${what} by a ${amount.type}`, key, cur);
      return { type: 'count', value: (cur.value + BigInt(sign) * amount.value) & MAX_U64 };
    case 'integer':
      if (amount.type !== 'integer' && amount.type !== 'count') clash(`${what} by a ${amount.type}`, key, cur);
      return { type: 'integer', value: wrapI64(cur.value + BigInt(sign) * amount.value) };
    case 'real':
      if (amount.type !== 'real') clash(`${what} by a ${amount.type}`, key, cur);
      return { type: 'real', value: cur.value + sign * amount.value };
    case 'timestamp':
    case 'timespan':
      if (amount.type !== 'timespan') clash(`${what} by a ${amount.type}`, key, cur);
      return { type: cur.type, ns: wrapI64(cur.ns + BigInt(sign) * amount.ns) };
    default:
      return clash(what, key, cur);
  }
}

/** The value a missing key starts from for ops that create it (Broker: count 0, "", {}, []). */
function initial(op: StoreOp, args: readonly Data[]): Data {
  switch (op) {
    case StoreOp.Increment: {
      const a = args[0]!;
      if (a.type === 'count') return mkCount(0);
      if (a.type === 'integer') return { type: 'integer', value: 0n };
      if (a.type === 'real') return { type: 'real', value: 0 };
      if (a.type === 'timespan') return { type: 'timespan', ns: 0n };
      throw new StoreError('type_clash', `cannot increment by a ${a.type}`);
    }
    case StoreOp.Append:
      return mkString('');
    case StoreOp.InsertInto:
      return args.length >= 2 ? mkTable() : mkSet();
    case StoreOp.Push:
      return mkVector();
    default:
      throw new Error(`op ${op} does not create keys`);
  }
}

function arity(m: Mutation, n: number, name: string): void {
  if (m.args.length !== n) throw new StoreError('invalid_data', `${name} takes ${n} argument(s), got ${m.args.length}`);
}

/**
 * Applies a mutation to a key's current value (undefined = absent). Returns the new value
 * (undefined = remove the key) and the operation's result (put_unique: whether it inserted).
 * Throws StoreError for Broker's failures.
 */
export function applyMutation(
  m: Mutation,
  current: Data | undefined,
): { value: Data | undefined; result: Data; changed: boolean } {
  const TRUE = mkBoolean(true);
  switch (m.op) {
    case StoreOp.Put:
      arity(m, 1, 'put');
      return { value: m.args[0], result: TRUE, changed: true };
    case StoreOp.PutUnique:
      arity(m, 1, 'put_unique');
      if (current !== undefined) return { value: current, result: mkBoolean(false), changed: false };
      return { value: m.args[0], result: TRUE, changed: true };
    case StoreOp.Erase:
      return { value: undefined, result: mkBoolean(current !== undefined), changed: current !== undefined };
    case StoreOp.Increment:
    case StoreOp.Decrement: {
      arity(m, 1, m.op === StoreOp.Increment ? 'increment' : 'decrement');
      if (current === undefined) {
        if (m.op === StoreOp.Decrement) missing(m.key);
        return { value: add(m.key, initial(m.op, m.args), m.args[0]!, 1), result: TRUE, changed: true };
      }
      return {
        value: add(m.key, current, m.args[0]!, m.op === StoreOp.Increment ? 1 : -1),
        result: TRUE,
        changed: true,
      };
    }
    case StoreOp.Append: {
      arity(m, 1, 'append');
      const cur = current ?? initial(m.op, m.args);
      const s = m.args[0]!;
      if (cur.type !== 'string') clash('append', m.key, cur);
      if (s.type !== 'string') throw new StoreError('type_clash', `append needs a string, got a ${s.type}`);
      return { value: mkString(cur.value + s.value), result: TRUE, changed: true };
    }
    case StoreOp.InsertInto: {
      if (m.args.length !== 1 && m.args.length !== 2)
        throw new StoreError('invalid_data', 'insert_into takes an element, or a key and a value');
      const cur = current ?? initial(m.op, m.args);
      if (cur.type === 'set') {
        if (m.args.length !== 1) clash('insert_into with key and value', m.key, cur);
        const i = search(cur.elements, m.args[0]!);
        if (i >= 0) return { value: cur, result: TRUE, changed: current === undefined };
        const els = cur.elements.slice();
        els.splice(-(i + 1), 0, m.args[0]!);
        return { value: { type: 'set', elements: els }, result: TRUE, changed: true };
      }
      if (cur.type === 'table') {
        if (m.args.length !== 2) clash('insert_into with only an element', m.key, cur);
        const i = searchKey(cur.entries, m.args[0]!);
        const ents = cur.entries.slice();
        if (i >= 0) ents[i] = [m.args[0]!, m.args[1]!];
        else ents.splice(-(i + 1), 0, [m.args[0]!, m.args[1]!]);
        return { value: { type: 'table', entries: ents }, result: TRUE, changed: true };
      }
      return clash('insert_into', m.key, cur);
    }
    case StoreOp.RemoveFrom: {
      arity(m, 1, 'remove_from');
      if (current === undefined) missing(m.key);
      if (current.type === 'set') {
        const i = search(current.elements, m.args[0]!);
        if (i < 0) return { value: current, result: TRUE, changed: false };
        const els = current.elements.slice();
        els.splice(i, 1);
        return { value: { type: 'set', elements: els }, result: TRUE, changed: true };
      }
      if (current.type === 'table') {
        const i = searchKey(current.entries, m.args[0]!);
        if (i < 0) return { value: current, result: TRUE, changed: false };
        const ents = current.entries.slice();
        ents.splice(i, 1);
        return { value: { type: 'table', entries: ents }, result: TRUE, changed: true };
      }
      return clash('remove_from', m.key, current);
    }
    case StoreOp.Push: {
      arity(m, 1, 'push');
      const cur = current ?? initial(m.op, m.args);
      if (cur.type !== 'vector') clash('push', m.key, cur);
      return { value: { type: 'vector', elements: [...cur.elements, m.args[0]!] }, result: TRUE, changed: true };
    }
    case StoreOp.Pop: {
      arity(m, 0, 'pop');
      if (current === undefined) missing(m.key);
      if (current.type !== 'vector') clash('pop', m.key, current);
      return {
        value: { type: 'vector', elements: current.elements.slice(0, -1) },
        result: TRUE,
        changed: current.elements.length > 0,
      };
    }
    case StoreOp.Clear:
      throw new Error('clear is not a per-key mutation');
  }
}

/** Broker's get_index_from_value: vector element by count index, table value by key, set membership. */
export function indexFromValue(key: Data, value: Data, index: Data): Data {
  switch (value.type) {
    case 'vector': {
      if (index.type !== 'count')
        throw new StoreError('type_clash', `a vector is indexed by count, got a ${index.type}`);
      const el = value.elements[Number(index.value)];
      if (index.value >= BigInt(value.elements.length) || el === undefined) {
        throw new StoreError(
          'no_such_key',
          `index ${index.value} is out of range for key ${toText(key)} (length ${value.elements.length})`,
        );
      }
      return el;
    }
    case 'table': {
      const i = searchKey(value.entries, index);
      if (i < 0) throw new StoreError('no_such_key', `table at key ${toText(key)} has no key ${toText(index)}`);
      return value.entries[i]![1];
    }
    case 'set':
      return mkBoolean(search(value.elements, index) >= 0);
    default:
      return clash('get_index_from_value', key, value);
  }
}
