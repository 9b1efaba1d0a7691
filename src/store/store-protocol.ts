/**
 * The store protocol: messages between a master and its clones, carried as Broker vectors in data
 * messages on internal topics (`<$>/store/<name>/…`, never shown to JSON v1 clients), so they are
 * routed like any message, across any number of hops. Numbered as in PROTOCOL.md.
 *
 * Updates carry the resulting state of a key (its new value, or its removal), not the operation,
 * so applying one twice is harmless: this is what makes snapshot + replay converge.
 */
import { count, string, vector, none } from '../data/constructors.js';
import type { Data, VectorData } from '../data/types.js';
import { DecodeError } from '../errors.js';
import { INTERNAL_TOPIC_PREFIX } from '../topic/internal.js';
import { StoreOp } from './operations.js';

export const StoreMsg = {
  Command: 1,
  Ack: 2,
  Attach: 3,
  Update: 4,
  SnapshotBegin: 5,
  SnapshotChunk: 6,
  SnapshotEnd: 7,
  DeltaEnd: 8,
  Heartbeat: 9,
  ChunkAck: 10,
  SyncFailed: 11,
  Resend: 12,
  DeltaAck: 13,
} as const;

/**
 * Revision of the store messages (PROTOCOL.md §9). Revision 2 added the stream id to the resync
 * messages (Attach, SnapshotBegin, SnapshotChunk, SnapshotEnd, DeltaEnd, ChunkAck) and SyncFailed;
 * a revision-1 message is recognised by its field count and refused with a clear error. Revision 3
 * added `Resend` (the master held no more of a clone's out-of-order commands) and `DeltaAck`
 * (a clone received a delta up to a seq: the master paces deltas by it), with no layout change.
 * Revision 4 appends an optional field to every message a master sends: its fencing epoch (the
 * revision of its lease, see `master-lease.ts`), present only when the master holds a lease.
 */
export const STORE_PROTOCOL_REVISION = 4;
export type StoreMsg = (typeof StoreMsg)[keyof typeof StoreMsg];

export const ChangeKind = { Put: 1, Erase: 2, Clear: 3, Expire: 4 } as const;
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind];

/** One change to a store, as broadcast by the master. */
export type Change =
  | { readonly kind: typeof ChangeKind.Put; readonly key: Data; readonly value: Data }
  | { readonly kind: typeof ChangeKind.Erase | typeof ChangeKind.Expire; readonly key: Data }
  | { readonly kind: typeof ChangeKind.Clear };

export type StoreMessage =
  | {
      readonly kind: typeof StoreMsg.Command;
      readonly cloneId: string;
      readonly reqId: number;
      /** The clone's oldest request not yet settled: every earlier id is done or given up. */
      readonly lowest: number;
      readonly op: StoreOp;
      readonly key: Data;
      readonly args: readonly Data[];
      readonly expiry?: number;
    }
  | {
      readonly kind: typeof StoreMsg.Ack;
      readonly reqId: number;
      readonly seq: number;
      readonly result: Data;
      readonly errorCode?: string;
      readonly errorText?: string;
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  /** `stream`: chosen by the clone for this attach; every answer to it carries the same id. */
  | {
      readonly kind: typeof StoreMsg.Attach;
      readonly cloneId: string;
      readonly epoch?: string;
      readonly seq: number;
      readonly stream: number;
    }
  | {
      readonly kind: typeof StoreMsg.Update;
      readonly epoch: string;
      readonly seq: number;
      readonly changes: readonly Change[];
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  | {
      readonly kind: typeof StoreMsg.SnapshotBegin;
      readonly epoch: string;
      readonly seq: number;
      readonly stream: number;
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  | {
      readonly kind: typeof StoreMsg.SnapshotChunk;
      readonly epoch: string;
      readonly index: number;
      readonly entries: readonly (readonly [Data, Data])[];
      readonly stream: number;
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  | {
      readonly kind: typeof StoreMsg.SnapshotEnd;
      readonly epoch: string;
      readonly seq: number;
      readonly chunks: number;
      readonly stream: number;
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  | {
      readonly kind: typeof StoreMsg.DeltaEnd;
      readonly epoch: string;
      readonly seq: number;
      readonly stream: number;
      readonly fence?: number;
    }
  | { readonly kind: typeof StoreMsg.Heartbeat; readonly epoch: string; readonly seq: number; readonly fence?: number }
  | {
      readonly kind: typeof StoreMsg.ChunkAck;
      readonly cloneId: string;
      readonly index: number;
      readonly stream: number;
    }
  /** The master cannot complete this resync, and trying again will not help until the store changes. */
  | {
      readonly kind: typeof StoreMsg.SyncFailed;
      readonly stream: number;
      readonly code: string;
      readonly text: string;
      /** The master's fencing epoch (revision 4; absent without a lease). */
      readonly fence?: number;
    }
  /**
   * The master did not keep some of this clone's commands (they arrived too far ahead of a missing
   * one): none of them was applied; the clone sends its unsettled commands again, from `from` on,
   * in order. `held`: commands the master still holds for this clone.
   */
  | { readonly kind: typeof StoreMsg.Resend; readonly from: number; readonly held: number; readonly fence?: number }
  /** The clone received every change up to `seq` of the delta answering its attach `stream`. */
  | {
      readonly kind: typeof StoreMsg.DeltaAck;
      readonly cloneId: string;
      readonly seq: number;
      readonly stream: number;
    };

export const masterTopic = (name: string): string => `${INTERNAL_TOPIC_PREFIX}store/${name}/master`;
export const updatesTopic = (name: string): string => `${INTERNAL_TOPIC_PREFIX}store/${name}/updates`;
export const cloneTopic = (name: string, cloneId: string): string =>
  `${INTERNAL_TOPIC_PREFIX}store/${name}/clone/${cloneId}`;

const n = (x: number): Data => count(x);
const opt = (x: number | undefined): Data => (x === undefined ? none() : count(x));

/** The change kinds as counts, made once (a batch encodes thousands of changes). */
const KIND_COUNT: Readonly<Record<ChangeKind, Data>> = Object.freeze({
  [ChangeKind.Put]: Object.freeze(count(ChangeKind.Put)),
  [ChangeKind.Erase]: Object.freeze(count(ChangeKind.Erase)),
  [ChangeKind.Clear]: Object.freeze(count(ChangeKind.Clear)),
  [ChangeKind.Expire]: Object.freeze(count(ChangeKind.Expire)),
});

/** A change as a vector, built directly: its key and value were checked when the change was made. */
function encodeChange(c: Change): Data {
  switch (c.kind) {
    case ChangeKind.Put:
      return { type: 'vector', elements: [KIND_COUNT[c.kind], c.key, c.value] };
    case ChangeKind.Erase:
    case ChangeKind.Expire:
      return { type: 'vector', elements: [KIND_COUNT[c.kind], c.key] };
    case ChangeKind.Clear:
      return { type: 'vector', elements: [KIND_COUNT[c.kind]] };
  }
}

/**
 * Field counts of the kinds a master sends: revision 4 may append one more, the master's fencing
 * epoch (a count, present only when the master holds a lease).
 */
const MASTER_FIELDS: ReadonlyMap<number, number> = new Map([
  [StoreMsg.Ack, 6],
  [StoreMsg.Update, 4],
  [StoreMsg.SnapshotBegin, 4],
  [StoreMsg.SnapshotChunk, 5],
  [StoreMsg.SnapshotEnd, 5],
  [StoreMsg.DeltaEnd, 4],
  [StoreMsg.Heartbeat, 3],
  [StoreMsg.SyncFailed, 4],
  [StoreMsg.Resend, 3],
]);

/**
 * A store message as a Broker vector. `fence` (default: the message's own `fence`) is the
 * master's fencing epoch: appended to the kinds a master sends when it is above 0; without a
 * lease it is absent and the layout is revision 3's.
 */
export function encodeStoreMessage(m: StoreMessage, fence?: number): VectorData {
  const v = encodeFields(m);
  const f = fence ?? ('fence' in m ? m.fence : undefined) ?? 0;
  if (f > 0 && MASTER_FIELDS.has(m.kind)) (v.elements as Data[]).push(count(f));
  return v;
}

function encodeFields(m: StoreMessage): VectorData {
  switch (m.kind) {
    case StoreMsg.Command:
      return vector([
        n(m.kind),
        string(m.cloneId),
        n(m.reqId),
        n(m.lowest),
        n(m.op),
        m.key,
        vector(m.args),
        opt(m.expiry),
      ]);
    case StoreMsg.Ack:
      return vector([
        n(m.kind),
        n(m.reqId),
        n(m.seq),
        m.result,
        m.errorCode === undefined ? none() : string(m.errorCode),
        string(m.errorText ?? ''),
      ]);
    case StoreMsg.Attach:
      return vector([
        n(m.kind),
        string(m.cloneId),
        m.epoch === undefined ? none() : string(m.epoch),
        n(m.seq),
        n(m.stream),
      ]);
    case StoreMsg.Update:
      return vector([n(m.kind), string(m.epoch), n(m.seq), { type: 'vector', elements: m.changes.map(encodeChange) }]);
    case StoreMsg.SnapshotBegin:
    case StoreMsg.DeltaEnd:
      return vector([n(m.kind), string(m.epoch), n(m.seq), n(m.stream)]);
    case StoreMsg.Heartbeat:
      return vector([n(m.kind), string(m.epoch), n(m.seq)]);
    case StoreMsg.SnapshotChunk:
      // The entries as a plain vector: a SQLite snapshot holds pre-encoded values (snapshot-stream.ts),
      // which only the encoder knows, and every other entry was checked when it was stored.
      return vector([
        n(m.kind),
        string(m.epoch),
        n(m.index),
        { type: 'vector', elements: m.entries.flat() },
        n(m.stream),
      ]);
    case StoreMsg.SnapshotEnd:
      return vector([n(m.kind), string(m.epoch), n(m.seq), n(m.chunks), n(m.stream)]);
    case StoreMsg.ChunkAck:
      return vector([n(m.kind), string(m.cloneId), n(m.index), n(m.stream)]);
    case StoreMsg.SyncFailed:
      return vector([n(m.kind), n(m.stream), string(m.code), string(m.text)]);
    case StoreMsg.Resend:
      return vector([n(m.kind), n(m.from), n(m.held)]);
    case StoreMsg.DeltaAck:
      return vector([n(m.kind), string(m.cloneId), n(m.seq), n(m.stream)]);
  }
}

// ---- decoding (validating: a store message from the network is untrusted input)

function fail(what: string): never {
  throw new DecodeError(`invalid store message: ${what}`);
}

function num(d: Data | undefined, what: string): number {
  if (d?.type !== 'count' || d.value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} must be a count`);
  return Number(d.value);
}

function str(d: Data | undefined, what: string): string {
  if (d?.type !== 'string') fail(`${what} must be a string`);
  return d.value;
}

function vec(d: Data | undefined, what: string): readonly Data[] {
  if (d?.type !== 'vector') fail(`${what} must be a vector`);
  return d.elements;
}

function decodeChange(d: Data, i: number): Change {
  const f = vec(d, `change ${i}`);
  const kind = num(f[0], `change ${i} kind`);
  if (kind === ChangeKind.Put && f.length === 3) return { kind, key: f[1]!, value: f[2]! };
  if ((kind === ChangeKind.Erase || kind === ChangeKind.Expire) && f.length === 2) return { kind, key: f[1]! };
  if (kind === ChangeKind.Clear && f.length === 1) return { kind };
  return fail(`change ${i} has kind ${kind} with ${f.length} fields`);
}

const OPS = new Set<number>(Object.values(StoreOp));
/** Kinds whose layout revision 2 extended by the stream id (one field more than revision 1). */
const REVISED = new Set<number>([
  StoreMsg.Attach,
  StoreMsg.SnapshotBegin,
  StoreMsg.SnapshotChunk,
  StoreMsg.SnapshotEnd,
  StoreMsg.DeltaEnd,
  StoreMsg.ChunkAck,
]);

/** Decodes and validates a store message; throws a `DecodeError` when it is malformed. */
export function decodeStoreMessage(d: Data): StoreMessage {
  const f = vec(d, 'message');
  const kind = num(f[0], 'kind');
  const base = MASTER_FIELDS.get(kind);
  if (base === undefined || f.length !== base + 1) return decodeFields(f, kind);
  // Revision 4: a master's message with its fencing epoch appended.
  const fence = num(f[base], 'fencing epoch');
  const m = decodeFields(f.slice(0, base), kind);
  return fence > 0 ? ({ ...m, fence } as StoreMessage) : m;
}

function decodeFields(f: readonly Data[], kind: number): StoreMessage {
  const want = (len: number): void => {
    if (f.length === len) return;
    if (REVISED.has(kind) && f.length === len - 1) {
      fail(
        `kind ${kind} with ${f.length} fields is store protocol revision 1 (an older isobroker); this one speaks revision ${STORE_PROTOCOL_REVISION}`,
      );
    }
    fail(`kind ${kind} needs ${len} fields, got ${f.length}`);
  };
  switch (kind) {
    case StoreMsg.Command: {
      want(8);
      const op = num(f[4], 'op');
      if (!OPS.has(op)) fail(`unknown op ${op}`);
      const expiry = f[7]!.type === 'none' ? undefined : num(f[7], 'expiry');
      const reqId = num(f[2], 'request id');
      const lowest = num(f[3], 'lowest pending request id');
      if (lowest > reqId) fail(`lowest pending request ${lowest} is above the request id ${reqId}`);
      return {
        kind,
        cloneId: str(f[1], 'clone id'),
        reqId,
        lowest,
        op: op as StoreOp,
        key: f[5]!,
        args: vec(f[6], 'args'),
        ...(expiry === undefined ? {} : { expiry }),
      };
    }
    case StoreMsg.Ack: {
      want(6);
      const code = f[4]!.type === 'none' ? undefined : str(f[4], 'error code');
      return {
        kind,
        reqId: num(f[1], 'request id'),
        seq: num(f[2], 'seq'),
        result: f[3]!,
        ...(code === undefined ? {} : { errorCode: code, errorText: str(f[5], 'error text') }),
      };
    }
    case StoreMsg.Attach: {
      want(5);
      const epoch = f[2]!.type === 'none' ? undefined : str(f[2], 'epoch');
      return {
        kind,
        cloneId: str(f[1], 'clone id'),
        ...(epoch === undefined ? {} : { epoch }),
        seq: num(f[3], 'seq'),
        stream: num(f[4], 'stream id'),
      };
    }
    case StoreMsg.Update:
      want(4);
      return {
        kind,
        epoch: str(f[1], 'epoch'),
        seq: num(f[2], 'seq'),
        changes: vec(f[3], 'changes').map(decodeChange),
      };
    case StoreMsg.SnapshotBegin:
    case StoreMsg.DeltaEnd:
      want(4);
      return { kind, epoch: str(f[1], 'epoch'), seq: num(f[2], 'seq'), stream: num(f[3], 'stream id') };
    case StoreMsg.Heartbeat:
      want(3);
      return { kind, epoch: str(f[1], 'epoch'), seq: num(f[2], 'seq') };
    case StoreMsg.SnapshotChunk: {
      want(5);
      const flat = vec(f[3], 'entries');
      if (flat.length % 2 !== 0) fail('snapshot chunk entries must come in key/value pairs');
      const entries: [Data, Data][] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push([flat[i]!, flat[i + 1]!]);
      return {
        kind,
        epoch: str(f[1], 'epoch'),
        index: num(f[2], 'chunk index'),
        entries,
        stream: num(f[4], 'stream id'),
      };
    }
    case StoreMsg.SnapshotEnd:
      want(5);
      return {
        kind,
        epoch: str(f[1], 'epoch'),
        seq: num(f[2], 'seq'),
        chunks: num(f[3], 'chunk count'),
        stream: num(f[4], 'stream id'),
      };
    case StoreMsg.ChunkAck:
      want(4);
      return { kind, cloneId: str(f[1], 'clone id'), index: num(f[2], 'chunk index'), stream: num(f[3], 'stream id') };
    case StoreMsg.SyncFailed:
      want(4);
      return { kind, stream: num(f[1], 'stream id'), code: str(f[2], 'error code'), text: str(f[3], 'error text') };
    case StoreMsg.Resend:
      want(3);
      return { kind, from: num(f[1], 'request id'), held: num(f[2], 'held count') };
    case StoreMsg.DeltaAck:
      want(4);
      return { kind, cloneId: str(f[1], 'clone id'), seq: num(f[2], 'seq'), stream: num(f[3], 'stream id') };
    default:
      return fail(`unknown kind ${kind}`);
  }
}
