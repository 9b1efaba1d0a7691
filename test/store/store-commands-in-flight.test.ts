/**
 * The per-connection limit on store commands awaiting their ack (`storeCommandsInFlight`), at the
 * hub: a command counts until the master's Ack for it passes back to the connection; over the
 * limit the hub refuses it with `limit_exceeded` (told to the client, audited), and once acks come
 * back new commands go through. The master's acks are held by hand (a trusted endpoint that
 * answers when the test says), so which command is over the limit is certain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { count, createClone, createMaster, none, string, type Endpoint, type StoreError } from 'isobroker';
import type { AuditEvent, Principal } from '../../src/auth/types.js';
import { encodeValue } from '../../src/codec/native/values.js';
import { newEndpointId } from '../../src/util/ids.js';
import { installStoreGuard } from '../../src/store/install-store-guard.js';
import { StoreOp } from '../../src/store/operations.js';
import { StoreCommandsInFlight, storeCommandRefusal } from '../../src/store/store-commands-in-flight.js';
import {
  StoreMsg,
  cloneTopic,
  decodeStoreMessage,
  encodeStoreMessage,
  masterTopic,
  type StoreMessage,
} from '../../src/store/store-protocol.js';
import { sleep, until } from '../support/endpoints.js';
import { authHub, storePrincipal, type AuthHub } from './store-permissions-support.js';

let h: AuthHub | undefined;
const closers: { close(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

const STORE = 'counts';

/** A writer on `STORE` allowed `limit` commands in flight. */
function writer(sub: string, limit: number): Principal {
  const p = storePrincipal(sub, { [STORE]: 'write' });
  return { ...p, limits: { ...p.limits, storeCommandsInFlight: limit } };
}

const command = (cloneId: string, reqId: number, lowest = 1): Uint8Array =>
  encodeValue(
    encodeStoreMessage({
      kind: StoreMsg.Command,
      cloneId,
      reqId,
      lowest,
      op: StoreOp.Put,
      key: string(`k${reqId}`),
      args: [count(reqId)],
    }),
  );

const ack = (reqId: number): Uint8Array =>
  encodeValue(encodeStoreMessage({ kind: StoreMsg.Ack, reqId, seq: reqId, result: none() }));

/** A stand-in master on a trusted endpoint: records the commands that reach it and acks on request. */
function heldMaster(ep: Endpoint) {
  const got: number[] = [];
  ep.subscribe(masterTopic(STORE), ({ data }) => {
    const m: StoreMessage = decodeStoreMessage(data);
    if (m.kind === StoreMsg.Command) got.push(m.reqId);
  });
  ep.flushSubscriptions();
  return { got, ack: (cloneId: string, reqId: number) => ep.publishEncoded(cloneTopic(STORE, cloneId), ack(reqId)) };
}

describe('store commands in flight at the hub', () => {
  it('refuses the command over the limit until acks come back, counting a resent command once', async () => {
    h = authHub();
    installStoreGuard(h.hub);
    const audit: AuditEvent[] = [];
    h.hub.on('audit', (e) => audit.push(e));
    const master = heldMaster(await h.trusted('manager', 'router'));
    const client = await h.client(writer('w', 3));
    const cloneId = newEndpointId();
    const acks: number[] = [];
    client.subscribe(cloneTopic(STORE, cloneId), ({ data }) => {
      const m = decodeStoreMessage(data);
      if (m.kind === StoreMsg.Ack) acks.push(m.reqId);
    });
    client.flushSubscriptions();
    const notices: { code: string; context: string | undefined }[] = [];
    client.on('error', (ev) => notices.push({ code: ev.code, context: ev.context }));
    await until(
      () => h!.hub.hasRoute(masterTopic(STORE)) && h!.hub.hasRoute(cloneTopic(STORE, cloneId)),
      5000,
      'the routes of the master and the clone topic',
    );

    for (const id of [1, 2, 3, 4]) client.publishEncoded(masterTopic(STORE), command(cloneId, id));
    await until(() => notices.some((n) => n.code === 'limit_exceeded'), 5000, 'the refusal of the 4th command');
    const refused = notices.find((n) => n.code === 'limit_exceeded')!;
    expect(storeCommandRefusal(refused.context!, STORE, cloneId)).toBe(4);
    expect(refused.context).toContain('more than 3 store commands in flight');
    expect(audit.some((e) => e.kind === 'limit_exceeded' && e.sub === 'w' && e.code === 'limit_exceeded')).toBe(true);
    await until(() => master.got.length === 3, 5000, 'three commands at the master');
    expect(master.got).toEqual([1, 2, 3]);

    // A command sent again while counted passes (a clone resends unanswered ones) …
    client.publishEncoded(masterTopic(STORE), command(cloneId, 2));
    await until(() => master.got.length === 4, 5000, 'the resent command at the master');
    // … and a new one is still refused.
    client.publishEncoded(masterTopic(STORE), command(cloneId, 5));
    await until(
      () => notices.some((n) => storeCommandRefusal(n.context ?? '', STORE, cloneId) === 5),
      5000,
      'the refusal of command 5',
    );

    // Two acks pass back to the client: two commands may go.
    master.ack(cloneId, 1);
    master.ack(cloneId, 2);
    await until(() => acks.length === 2, 5000, 'the acks at the client');
    client.publishEncoded(masterTopic(STORE), command(cloneId, 4));
    client.publishEncoded(masterTopic(STORE), command(cloneId, 5));
    client.publishEncoded(masterTopic(STORE), command(cloneId, 6));
    await until(
      () => notices.some((n) => storeCommandRefusal(n.context ?? '', STORE, cloneId) === 6),
      5000,
      'the refusal of command 6',
    );
    await sleep(50);
    expect(master.got).toEqual([1, 2, 3, 2, 4, 5]);
  });

  it('the limit is per connection: another client of the same principal is not held up', async () => {
    h = authHub();
    installStoreGuard(h.hub);
    const master = heldMaster(await h.trusted('manager', 'router'));
    const a = await h.client(writer('a', 1));
    const b = await h.client(writer('b', 1));
    const notices: string[] = [];
    a.on('error', (ev) => notices.push(ev.code));
    await until(() => h!.hub.hasRoute(masterTopic(STORE)), 5000, 'the route of the master');
    const [ida, idb] = [newEndpointId(), newEndpointId()];
    a.publishEncoded(masterTopic(STORE), command(ida, 1));
    a.publishEncoded(masterTopic(STORE), command(ida, 2));
    b.publishEncoded(masterTopic(STORE), command(idb, 1));
    await until(() => notices.includes('limit_exceeded'), 5000, "the refusal of a's second command");
    await until(() => master.got.length === 2, 5000, 'one command of each client at the master');
    await sleep(50);
    expect(master.got).toEqual([1, 1]);
  });

  it("a clone's write over the limit fails with limit_exceeded; later writes go through", async () => {
    h = authHub();
    installStoreGuard(h.hub);
    // The master is a cluster node behind the hub: its acks need a round trip, so writes made in
    // one go all reach the hub before the first ack comes back.
    const real = await createMaster(await h.trusted('manager', 'router'), STORE);
    closers.push(real);
    const ep = await h.client(writer('w', 1));
    const c = await createClone(ep, STORE, { resyncInterval: 100, masterTimeout: 1000 });
    closers.push(c);
    await c.whenInSync(5000);

    const results = await Promise.allSettled([c.put('a', 1), c.put('b', 2), c.put('c', 3)]);
    expect(results[0]!.status).toBe('fulfilled');
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    for (const r of refusals) {
      expect((r.reason as StoreError).code).toBe('limit_exceeded');
      expect((r.reason as StoreError).message).toContain('store commands in flight');
    }
    // The ack came back: the next write goes through.
    await c.put('d', 4);
    expect(real.exists('d')).toBe(true);
  });
});

describe('StoreCommandsInFlight', () => {
  const p = writer('w', 2);
  const topic = masterTopic(STORE);
  const id = newEndpointId();

  it('holds at most `limit` ids; an ack on the clone topic releases exactly its command', () => {
    const s = new StoreCommandsInFlight();
    expect(s.publish(topic, command(id, 1), p, 0)).toBeUndefined();
    expect(s.publish(topic, command(id, 2), p, 0)).toBeUndefined();
    expect(s.publish(topic, command(id, 3), p, 0)?.code).toBe('limit_exceeded');
    expect(s.size).toBe(2);
    s.delivered(cloneTopic(STORE, newEndpointId()), ack(1)); // another clone's ack
    s.delivered(cloneTopic(STORE, id), ack(7)); // an ack of nothing counted
    expect(s.size).toBe(2);
    s.delivered(cloneTopic(STORE, id), ack(1));
    expect(s.size).toBe(1);
    expect(s.publish(topic, command(id, 3), p, 0)).toBeUndefined();
  });

  it('releases ids older than STORE_COMMAND_STALE_MS only when at the limit', () => {
    const s = new StoreCommandsInFlight();
    s.publish(topic, command(id, 1), p, 0);
    s.publish(topic, command(id, 2), p, 1000);
    expect(s.publish(topic, command(id, 3), p, 299_999)?.code).toBe('limit_exceeded');
    expect(s.publish(topic, command(id, 3), p, 300_000)).toBeUndefined();
    expect(s.size).toBe(2);
  });
});
