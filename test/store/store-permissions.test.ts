/**
 * Store permissions as pure checks: which store message needs which permission on which topic,
 * what is refused whatever the principal holds, and which subscriptions under `<$>/store/` are open.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { count, none, string } from 'isobroker';
import { AuthError, type StorePermission } from '../../src/auth/types.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { newEndpointId } from '../../src/util/ids.js';
import { StoreOp } from '../../src/store/operations.js';
import {
  classifyStorePublish,
  parseStoreTopic,
  storeDeliveryGuard,
  storeGuard,
  storeRefusal,
  storeSubscribeGuard,
} from '../../src/store/store-guard.js';
import {
  ChangeKind,
  StoreMsg,
  cloneTopic,
  encodeStoreMessage,
  masterTopic,
  updatesTopic,
  type StoreMessage,
} from '../../src/store/store-protocol.js';
import { storePrincipal } from './store-permissions-support.js';

const CLONE = newEndpointId();
const bytes = (m: StoreMessage): Uint8Array => encodeValue(encodeStoreMessage(m));
const cmd = (op: StoreOp, cloneId = CLONE): StoreMessage => ({
  kind: StoreMsg.Command,
  cloneId,
  reqId: 1,
  lowest: 1,
  op,
  key: string('k'),
  args: op === StoreOp.Erase || op === StoreOp.Clear || op === StoreOp.Pop ? [] : [count(1)],
  expiry: 1000,
});

/** One message of every kind, and where each belongs: which topic, which permission. */
const CLONE_TO_MASTER: [string, StoreMessage, StorePermission][] = [
  ['Attach', { kind: StoreMsg.Attach, cloneId: CLONE, seq: 0, stream: 1 }, 'read'],
  ['ChunkAck', { kind: StoreMsg.ChunkAck, cloneId: CLONE, index: 0, stream: 1 }, 'read'],
  ['DeltaAck', { kind: StoreMsg.DeltaAck, cloneId: CLONE, seq: 3, stream: 1 }, 'read'],
  ...Object.entries(StoreOp).map(([name, op]): [string, StoreMessage, StorePermission] => [
    `Command ${name}`,
    cmd(op),
    'write',
  ]),
];
const ON_UPDATES: [string, StoreMessage][] = [
  ['Update', { kind: StoreMsg.Update, epoch: 'e', seq: 1, changes: [{ kind: ChangeKind.Clear }] }],
  ['Heartbeat', { kind: StoreMsg.Heartbeat, epoch: 'e', seq: 1 }],
];
const ON_CLONE: [string, StoreMessage][] = [
  ['Ack', { kind: StoreMsg.Ack, reqId: 1, seq: 1, result: none() }],
  ['SnapshotBegin', { kind: StoreMsg.SnapshotBegin, epoch: 'e', seq: 1, stream: 1 }],
  [
    'SnapshotChunk',
    { kind: StoreMsg.SnapshotChunk, epoch: 'e', index: 0, entries: [[string('k'), count(1)]], stream: 1 },
  ],
  ['SnapshotEnd', { kind: StoreMsg.SnapshotEnd, epoch: 'e', seq: 1, chunks: 1, stream: 1 }],
  ['DeltaEnd', { kind: StoreMsg.DeltaEnd, epoch: 'e', seq: 1, stream: 1 }],
  ['SyncFailed', { kind: StoreMsg.SyncFailed, stream: 1, code: 'value_too_large', text: 'x' }],
  ['Resend', { kind: StoreMsg.Resend, from: 1, held: 0 }],
];

const LEVELS = [undefined, 'read', 'write', 'master'] as const;
const rank = (p: StorePermission | undefined): number =>
  p === undefined ? 0 : ['read', 'write', 'master'].indexOf(p) + 1;
const who = (p: StorePermission | undefined) => storePrincipal('alice', p ? { s: p } : {});

describe('storeGuard (publish)', () => {
  it('covers every store message kind', () => {
    const kinds = new Set([...CLONE_TO_MASTER, ...ON_UPDATES, ...ON_CLONE].map(([, m]) => m.kind));
    expect([...kinds].sort((a, b) => a - b)).toEqual(Object.values(StoreMsg).sort((a, b) => a - b));
  });

  it('clone messages on the master topic: resync needs read, every mutation needs write', () => {
    for (const [what, msg, need] of CLONE_TO_MASTER) {
      for (const level of LEVELS) {
        const err = storeGuard(masterTopic('s'), bytes(msg), who(level));
        const allowed = rank(level) >= rank(need);
        expect(err === undefined, `${what} with ${level ?? 'no'} permission`).toBe(allowed);
        if (err) {
          expect(err).toBeInstanceOf(AuthError);
          expect(err.code).toBe('forbidden');
          expect(err.message).toContain(`store 's'`);
          expect(err.message).toContain(`needs ${need} permission`);
        }
      }
    }
  });

  it('master messages on the updates and clone topics need master', () => {
    const cases: [string, string, StoreMessage][] = [
      ...ON_UPDATES.map(([w, m]): [string, string, StoreMessage] => [w, updatesTopic('s'), m]),
      ...ON_CLONE.map(([w, m]): [string, string, StoreMessage] => [w, cloneTopic('s', CLONE), m]),
    ];
    for (const [what, topic, msg] of cases) {
      for (const level of LEVELS) {
        const err = storeGuard(topic, bytes(msg), who(level));
        expect(err === undefined, `${what} with ${level ?? 'no'} permission`).toBe(level === 'master');
      }
    }
  });

  it('a message on a topic of the wrong direction is refused even with master', () => {
    const master = who('master');
    for (const [what, msg] of [...ON_UPDATES, ...ON_CLONE]) {
      const err = storeGuard(masterTopic('s'), bytes(msg), master);
      expect(err?.message, what).toMatch(/does not belong on/);
    }
    for (const [what, msg] of CLONE_TO_MASTER) {
      expect(storeGuard(updatesTopic('s'), bytes(msg), master), what).toBeInstanceOf(AuthError);
      expect(storeGuard(cloneTopic('s', CLONE), bytes(msg), master), what).toBeInstanceOf(AuthError);
    }
    // Update on a clone topic, Ack on the updates topic: both the wrong master topic.
    expect(storeGuard(cloneTopic('s', CLONE), bytes(ON_UPDATES[0]![1]), master)).toBeInstanceOf(AuthError);
    expect(storeGuard(updatesTopic('s'), bytes(ON_CLONE[0]![1]), master)).toBeInstanceOf(AuthError);
  });

  it('refuses undecodable values, non-store topics and foreign clone ids whatever the principal holds', () => {
    const master = who('master');
    const attach = bytes(CLONE_TO_MASTER[0]![1]);
    expect(storeGuard(masterTopic('s'), new Uint8Array([0xc1]), master)?.message).toMatch(/not a valid store message/);
    expect(storeGuard(masterTopic('s'), encodeValue(string('hello')), master)).toBeInstanceOf(AuthError);
    expect(storeGuard(masterTopic('s'), encodeValue(count(99)), master)).toBeInstanceOf(AuthError);
    for (const topic of ['<$>/store/', '<$>/store/s', '<$>/store/s/', '<$>/store//master', '<$>/store/s/other'])
      expect(storeGuard(topic, attach, master), topic).toBeInstanceOf(AuthError);
    // A clone id that is no endpoint id would steer the master into publishing on another topic.
    for (const id of ['x', `${CLONE}/master`, '']) {
      const err = storeGuard(
        masterTopic('s'),
        bytes({ kind: StoreMsg.Attach, cloneId: id, seq: 0, stream: 1 }),
        master,
      );
      expect(err?.message, id).toMatch(/not an endpoint id/);
      expect(storeGuard(masterTopic('s'), bytes(cmd(StoreOp.Put, id)), master)).toBeInstanceOf(AuthError);
    }
    // A clone topic whose id is no endpoint id is no clone topic.
    expect(storeGuard(cloneTopic('s', 'abc'), bytes(ON_CLONE[0]![1]), master)).toBeInstanceOf(AuthError);
  });

  it('never throws and refuses arbitrary bytes (seeded)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('master', 'updates', 'clone'), (b, kind) => {
        const topic =
          kind === 'master' ? masterTopic('s') : kind === 'updates' ? updatesTopic('s') : cloneTopic('s', CLONE);
        const c = classifyStorePublish(topic, b);
        // Random bytes that happen to be a valid store message for the topic need a permission.
        if (c.kind === 'needs') expect(c.names).toEqual(['s']);
        expect(storeGuard(topic, b, who(undefined))).toBeInstanceOf(AuthError);
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('store names with slashes: every reading of the topic must pass', () => {
    const zk = storePrincipal('z', { 'zeek/known/hosts': 'write' });
    expect(storeGuard(masterTopic('zeek/known/hosts'), bytes(cmd(StoreOp.Put)), zk)).toBeUndefined();
    expect(storeGuard(masterTopic('zeek/known'), bytes(cmd(StoreOp.Put)), zk)).toBeInstanceOf(AuthError);
    expect(parseStoreTopic(masterTopic(`a/clone/${CLONE}`))).toEqual([
      { name: `a/clone/${CLONE}`, kind: 'master' },
      { name: 'a', kind: 'clone', cloneId: `${CLONE}/master` },
    ]);
    // Write on `a` is no write on the store `a/clone/<id>` (and vice versa).
    const a = storePrincipal('a', { a: 'master' });
    expect(storeGuard(masterTopic(`a/clone/${CLONE}`), bytes(cmd(StoreOp.Put)), a)).toBeInstanceOf(AuthError);
    const ac = storePrincipal('ac', { [`a/clone/${CLONE}`]: 'write' });
    expect(storeGuard(masterTopic(`a/clone/${CLONE}`), bytes(cmd(StoreOp.Put)), ac)).toBeUndefined();
    expect(storeGuard(cloneTopic(`a/clone/${CLONE}`, CLONE), bytes(ON_CLONE[0]![1]), ac)).toBeInstanceOf(AuthError);
  });

  it('a trusted principal skips the checks; a grant that throws grants nothing', () => {
    const trusted = { ...who(undefined), method: 'trusted' as const };
    expect(storeGuard(updatesTopic('s'), bytes(ON_UPDATES[0]![1]), trusted)).toBeUndefined();
    const broken = {
      ...who('master'),
      storeAccess: (): never => {
        throw new Error('bad grant');
      },
    };
    expect(storeGuard(masterTopic('s'), bytes(CLONE_TO_MASTER[0]![1]), broken)).toBeInstanceOf(AuthError);
  });
});

describe('storeSubscribeGuard', () => {
  it('updates and a whole clone topic need read, the master topic needs master', () => {
    const cases: [string, StorePermission][] = [
      [updatesTopic('s'), 'read'],
      [cloneTopic('s', CLONE), 'read'],
      [masterTopic('s'), 'master'],
    ];
    for (const [prefix, need] of cases) {
      for (const level of LEVELS) {
        const err = storeSubscribeGuard(prefix, who(level));
        expect(err === undefined, `${prefix} with ${level ?? 'no'} permission`).toBe(rank(level) >= rank(need));
        if (err) expect(err.message).toContain(`needs ${need} permission`);
      }
    }
  });

  it('refuses broad prefixes and partial clone ids even with master', () => {
    const master = who('master');
    for (const prefix of [
      '<$>/store/',
      '<$>/store/s',
      '<$>/store/s/',
      '<$>/store/s/clone/',
      `<$>/store/s/clone/${CLONE.slice(0, 8)}`,
      '<$>/store/s/upd',
      '<$>/store/s/mas',
    ]) {
      expect(storeSubscribeGuard(prefix, master), prefix).toBeInstanceOf(AuthError);
    }
  });
});

describe('storeDeliveryGuard', () => {
  it('closes the byte-prefix gap: a reader of `a` does not receive the master traffic of `a/updates/x`', () => {
    const reader = storePrincipal('r', { a: 'read' });
    // The subscription `<$>/store/a/updates` is allowed, and byte-prefix matches this topic:
    expect(storeSubscribeGuard(updatesTopic('a'), reader)).toBeUndefined();
    expect(masterTopic('a/updates/x').startsWith(updatesTopic('a'))).toBe(true);
    expect(storeDeliveryGuard(masterTopic('a/updates/x'), reader)).toBeInstanceOf(AuthError);
    expect(storeDeliveryGuard(updatesTopic('a'), reader)).toBeUndefined();
    expect(storeDeliveryGuard(cloneTopic('a', CLONE), reader)).toBeUndefined();
  });
});

describe("storeRefusal (a hub's forbidden notice, read by the store it concerns)", () => {
  it("reads the guard's own texts, whatever the endpoint wraps around them", () => {
    const reader = storePrincipal('r', { s: 'read' });
    const put = storeGuard(masterTopic('s'), bytes(cmd(StoreOp.Put)), reader)!;
    expect(storeRefusal(put.message, 's')).toBe('write');
    expect(storeRefusal(`publish refused: ${put.message}`, 's')).toBe('write');
    expect(storeRefusal(put.message, 'other')).toBeUndefined();
    expect(storeRefusal(put.message, 'ss')).toBeUndefined();
    const none = storePrincipal('n', {});
    const attach = storeGuard(masterTopic('s'), bytes(CLONE_TO_MASTER[0]![1]), none)!;
    expect(storeRefusal(attach.message, 's')).toBe('read');
    expect(storeRefusal(storeSubscribeGuard(updatesTopic('s'), none)!.message, 's')).toBe('read');
    expect(storeRefusal(storeSubscribeGuard(masterTopic('s'), reader)!.message, 's')).toBe('master');
  });

  it("a notice naming one of the store's topics (no store guard at the hub) refuses read", () => {
    expect(storeRefusal(`internal topic '${masterTopic('s')}' is not open to bob`, 's')).toBe('read');
    expect(storeRefusal(`internal prefix '${cloneTopic('s', CLONE)}' is not open`, 's', CLONE)).toBe('read');
    // Another store's topic that merely starts with this store's topic is not this store's.
    expect(storeRefusal(`internal topic '${masterTopic('s/master/x')}' is not open`, 's')).toBeUndefined();
    expect(storeRefusal(`internal topic '${cloneTopic('s', CLONE)}' is not open`, 's')).toBeUndefined();
    expect(storeRefusal('something else entirely', 's')).toBeUndefined();
  });
});
