/**
 * Authentication and authorization of native connections inside the endpoint: the hello's
 * credential, Welcome, router links and node names, takeover, publish and subscribe ACLs for
 * leaves (Narrowed), refresh in band (Reauth) without loss or duplication, expiry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, type MemoryNetwork, count, type ErrorEvent, type Message } from 'isobroker';
import {
  MessageKind,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idToBytes,
  type NativeMessage,
} from '../../src/internal.js';
import { memoryPair } from '../../src/transport/memory-transport.js';
import { AuthError, type AuditEvent } from '../../src/auth/types.js';
import { SimClock } from '../support/sim-network.js';
import { sleep, until } from '../support/endpoints.js';
import { authHub, microPair, principal, rawEnd, tokenTable, type RawEnd } from './auth-helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
function track<T extends { close(): unknown }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

let ids = 0;
/** A raw native connection to `hub` that sends a hello (version 3). */
function rawHello(
  hub: Endpoint,
  auth: ReturnType<typeof tokenTable>,
  o: { name: string; link: 'leaf' | 'router'; credential?: string },
): RawEnd & { id: string; msgs(): NativeMessage[] } {
  const [client, server] = memoryPair();
  const end = rawEnd(client);
  hub.accept(server, 'native', { conn: { ip: '127.0.0.5', remote: 'raw', protocol: 'native' }, authenticate: auth });
  const id = `0a1b2c3d-0000-4000-8000-${String(++ids).padStart(12, '0')}`;
  client.send(
    encodeFrame([
      encodeMessage({
        kind: MessageKind.Hello,
        version: 3,
        id: idToBytes(id),
        name: o.name,
        role: 'test',
        credential: o.credential ?? null,
        link: o.link,
      }),
    ]),
  );
  return Object.assign(end, { id, msgs: () => end.binaries.flatMap((b) => decodeFrame(b)) });
}

const kinds = (ms: NativeMessage[]): number[] => ms.map((m) => m.kind);
const errorsOf = (ms: NativeMessage[]): string[] =>
  ms.filter((m) => m.kind === MessageKind.Error || m.kind === MessageKind.Bye).map((m) => (m as { code: string }).code);

describe('native: authentication at the hello', () => {
  it('no credential: Error unauthenticated and close 4401; nothing else processed', async () => {
    const auth = tokenTable({});
    const { hub, audit } = authHub(auth);
    track(hub);
    const c = rawHello(hub, auth, { name: 'x', link: 'leaf' });
    await until(() => c.closed !== undefined);
    expect(c.closed!.code).toBe(4401);
    expect(errorsOf(c.msgs())).toEqual(['unauthenticated']);
    expect(auth.seen).toEqual([undefined]);
    expect(audit.map((e) => [e.kind, e.code])).toEqual([['auth_failed', 'unauthenticated']]);
    expect(hub.peers()).toEqual([]);
  });

  it('before authentication the first frame must be a hello: a ping or an undecodable frame closes 4401 at once', async () => {
    const auth = tokenTable({});
    const { hub } = authHub(auth);
    track(hub);
    const firstFrames = [
      encodeFrame([encodeMessage({ kind: MessageKind.Ping, nonce: 1 })]),
      new Uint8Array([0xc1, 0x00, 0x01]),
    ];
    for (const frame of firstFrames) {
      const [client, server] = memoryPair();
      const end = rawEnd(client);
      hub.accept(server, 'native', {
        conn: { ip: '127.0.0.5', remote: 'raw', protocol: 'native' },
        authenticate: auth,
      });
      client.send(frame);
      await until(() => end.closed !== undefined);
      expect(end.closed!.code).toBe(4401);
      // Nothing was answered but our hello and the error (no Pong).
      expect(kinds(end.binaries.flatMap((b) => decodeFrame(b)))).toEqual([MessageKind.Hello, MessageKind.Error]);
    }
    expect(auth.seen).toEqual([]);
  });

  it('a credential is verified (isbk_ → api_key), Welcome names the principal', async () => {
    const auth = tokenTable({ isbk_k1: principal('svc', { roles: ['ingest'], expiresAt: Date.now() + 600_000 }) });
    const { hub, audit } = authHub(auth);
    track(hub);
    const c = rawHello(hub, auth, { name: 'x', link: 'leaf', credential: 'isbk_k1' });
    await until(() => c.msgs().some((m) => m.kind === MessageKind.Welcome));
    expect(auth.seen).toEqual([{ kind: 'api_key', value: 'isbk_k1' }]);
    const w = c.msgs().find((m) => m.kind === MessageKind.Welcome)!;
    expect(w).toMatchObject({ sub: 'svc', roles: ['ingest'] });
    // Welcome comes before the hub's interest announcement.
    expect(kinds(c.msgs()).indexOf(MessageKind.Welcome)).toBeLessThan(kinds(c.msgs()).indexOf(MessageKind.Announce));
    expect(audit.map((e) => e.kind)).toEqual(['connection_open', 'auth_ok']);
    expect(JSON.stringify(audit)).not.toContain('isbk_k1');
  });

  it('a router link needs a router principal; a node principal must use its node name', async () => {
    const auth = tokenTable({
      ann: principal('ann'),
      w1: principal('w1', { node: 'worker-1', router: true, roles: ['worker'] }),
    });
    const { hub } = authHub(auth);
    track(hub);
    const router = rawHello(hub, auth, { name: 'ann', link: 'router', credential: 'ann' });
    const other = rawHello(hub, auth, { name: 'worker-2', link: 'router', credential: 'w1' });
    await until(() => router.closed !== undefined && other.closed !== undefined);
    expect([router.closed!.code, other.closed!.code]).toEqual([4403, 4403]);
    expect(errorsOf(router.msgs())).toEqual(['forbidden']);
    expect(errorsOf(other.msgs())).toEqual(['forbidden']);
    const good = rawHello(hub, auth, { name: 'worker-1', link: 'router', credential: 'w1' });
    await until(() => good.msgs().some((m) => m.kind === MessageKind.Welcome));
    expect(good.closed).toBeUndefined();
  });

  it('a second connection with the same node name takes over (audited)', async () => {
    const auth = tokenTable({ w1: principal('w1', { node: 'worker-1', router: true }) });
    const { hub, audit } = authHub(auth);
    track(hub);
    const first = rawHello(hub, auth, { name: 'worker-1', link: 'router', credential: 'w1' });
    await until(() => first.msgs().some((m) => m.kind === MessageKind.Welcome));
    const second = rawHello(hub, auth, { name: 'worker-1', link: 'router', credential: 'w1' });
    await until(() => first.closed !== undefined);
    expect(errorsOf(first.msgs())).toEqual(['takeover']);
    await until(() => second.msgs().some((m) => m.kind === MessageKind.Welcome));
    expect(second.closed).toBeUndefined();
    expect(audit.filter((e) => e.kind === 'takeover').map((e) => e.subject)).toEqual(['worker-1']);
  });

  it('frames sent while the credential is verified are held, then processed in order', async () => {
    let release: (() => void) | undefined;
    const p = principal('ann');
    const auth = Object.assign(
      () =>
        new Promise<typeof p>((r) => {
          release = () => r(p);
        }),
      { seen: [] },
    );
    const { hub } = authHub(auth);
    track(hub);
    const got: Message[] = [];
    hub.subscribe('a/', (m) => got.push(m));
    const c = rawHello(hub, auth, { name: 'leaf', link: 'leaf', credential: 't' });
    const data = (i: number): Uint8Array =>
      encodeFrame([
        encodeMessage({
          kind: MessageKind.Data,
          topic: 'a/x',
          origin: idToBytes(c.id),
          seq: i,
          ttl: 5,
          value: count(i),
        }),
      ]);
    for (let i = 1; i <= 3; i++) c.t.send(data(i));
    await sleep(20);
    expect(got).toEqual([]);
    release!();
    await until(() => got.length === 3);
    expect(got.map((m) => (m.data as { value: bigint }).value)).toEqual([1n, 2n, 3n]);
  });
});

describe('native leaves: ACLs', () => {
  async function leafOf(net: MemoryNetwork, name = 'leaf'): Promise<{ leaf: Endpoint; errors: ErrorEvent[] }> {
    const leaf = track(new Endpoint({ name, connector: net.connector, pingInterval: 0 }));
    const errors: ErrorEvent[] = [];
    leaf.on('error', (e) => errors.push(e));
    return { leaf, errors };
  }

  it('a disallowed publish gets forbidden and never reaches anyone; an allowed one arrives', async () => {
    const auth = tokenTable({ ann: principal('ann', { publish: { allow: ['a/'] } }) });
    const { net, hub, audit } = authHub(auth);
    track(hub);
    const all: Message[] = [];
    hub.subscribe('', (m) => all.push(m));
    const { leaf, errors } = await leafOf(net);
    await leaf.peer('ws://hub', { token: 'ann' });
    await leaf.whenRoutable('b/x');
    leaf.publish('b/x', count(1));
    leaf.publish('a/x', count(2));
    await until(() => all.length === 1 && errors.some((e) => e.code === 'forbidden'));
    await sleep(20);
    expect(all.map((m) => m.topic)).toEqual(['a/x']);
    expect(audit.filter((e) => e.kind === 'publish_denied').map((e) => e.subject)).toEqual(['b/x']);
  });

  it('"" is narrowed (Narrowed to the leaf, only effective prefixes upstream); refused in strict mode', async () => {
    const auth = tokenTable({
      ann: principal('ann', { subscribe: { allow: ['a/'] } }),
      sam: principal('sam', { subscribe: { allow: ['a/'] }, strict: true }),
    });
    const { net, hub, audit } = authHub(auth);
    track(hub);
    const { leaf, errors } = await leafOf(net);
    const got: Message[] = [];
    leaf.subscribe('', (m) => got.push(m));
    await leaf.peer('ws://hub', { token: 'ann' });
    await until(() => errors.some((e) => e.code === 'subscription_narrowed'));
    expect(errors.find((e) => e.code === 'subscription_narrowed')!.context).toContain('["a/"]');
    await until(() => hub.hasRoute('a/x'));
    expect(hub.hasRoute('b/x')).toBe(false);
    expect(hub.reachable().find((e) => e.name === 'leaf')!.filter).toEqual(['a/']);
    hub.publish('b/x', count(1));
    hub.publish('a/x', count(2));
    await until(() => got.length === 1);
    await sleep(20);
    expect(got.map((m) => m.topic)).toEqual(['a/x']);
    const { leaf: strict, errors: strictErrors } = await leafOf(net, 'strict');
    strict.subscribe('', () => undefined);
    await strict.peer('ws://hub', { token: 'sam' });
    await until(() => strictErrors.some((e) => e.code === 'forbidden'));
    expect(hub.reachable().find((e) => e.name === 'strict')!.filter).toEqual([]);
    expect(audit.filter((e) => e.kind.startsWith('subscribe_')).map((e) => [e.kind, e.sub])).toEqual([
      ['subscribe_narrowed', 'ann'],
      ['subscribe_denied', 'sam'],
    ]);
  });

  it('a deny inside the grant is never delivered to the leaf', async () => {
    const auth = tokenTable({ ann: principal('ann', { subscribe: { allow: ['a/'], deny: ['a/secret'] } }) });
    const { net, hub } = authHub(auth);
    track(hub);
    const { leaf } = await leafOf(net);
    const got: Message[] = [];
    leaf.subscribe('a/', (m) => got.push(m));
    await leaf.peer('ws://hub', { token: 'ann' });
    await until(() => hub.hasRoute('a/x'));
    for (const t of ['a/secret', 'a/secretive', 'a/ok', 'a/secret/x', 'a/y']) hub.publish(t, count(1));
    await until(() => got.length === 2);
    await sleep(20);
    expect(got.map((m) => m.topic)).toEqual(['a/ok', 'a/y']);
  });
});

describe('native: expiry and refresh in band', () => {
  /** A hub and a leaf on a fake clock, joined by a microtask transport. */
  function fakeTimePair(table: Parameters<typeof tokenTable>[0]) {
    const clock = new SimClock();
    const auth = tokenTable(table);
    const hub = track(new Endpoint({ name: 'hub', role: 'hub', timers: clock, pingInterval: 0 }));
    const audit: AuditEvent[] = [];
    hub.on('audit', (e) => audit.push(e));
    const connector = async (): Promise<ReturnType<typeof microPair>[0]> => {
      const [c, s] = microPair();
      hub.accept(s, 'native', { conn: { ip: '127.0.0.7', remote: 'micro', protocol: 'native' }, authenticate: auth });
      return c;
    };
    const leaf = track(new Endpoint({ name: 'leaf', timers: clock, connector, pingInterval: 0 }));
    return { clock, hub, leaf, audit, auth };
  }

  it('a 1,000 msg/s stream both ways survives a Reauth mid-stream: 0 lost, 0 duplicated', async () => {
    const start = 1_700_000_000_000;
    const { clock, hub, leaf, audit } = fakeTimePair({
      t1: principal('ann', { expiresAt: start + 70_000 }),
      t2: principal('ann', { expiresAt: start + 3_600_000 }),
    });
    let issued = 0;
    const atHub: number[] = [];
    const atLeaf: number[] = [];
    hub.subscribe('up/', (m) => atHub.push(Number((m.data as { value: bigint }).value)));
    leaf.subscribe('down/', (m) => atLeaf.push(Number((m.data as { value: bigint }).value)));
    const up = leaf.peer('ws://hub', {
      token: 't1',
      getToken: () => {
        issued++;
        return 't2';
      },
    });
    expect(await clock.runUntil(() => hub.hasRoute('down/x') && leaf.hasRoute('up/x'), 5000)).toBe(true);
    await up;
    // 1 message per ms each way from t = 5 s to t = 15 s; the warning comes at t = 10 s.
    let seq = 0;
    const N = 10_000;
    const tick = (): void => {
      leaf.publish('up/s', count(seq));
      hub.publish('down/s', count(seq));
      if (++seq < N) clock.setTimeout(tick, 1);
    };
    clock.setTimeout(tick, 5000 - (clock.now() - start));
    expect(await clock.runUntil(() => seq === N && atHub.length === N && atLeaf.length === N, 30_000)).toBe(true);
    expect(issued).toBe(1);
    expect(audit.map((e) => e.kind)).toContain('auth_refreshed');
    // Past the first token's expiry and grace: still connected.
    await clock.run(120_000);
    leaf.publish('up/s', count(N));
    await clock.run(100);
    const expected = Array.from({ length: N + 1 }, (_, i) => i);
    expect(atHub).toEqual(expected);
    expect(atLeaf).toEqual(expected.slice(0, N));
    expect(hub.peers().map((p) => p.name)).toEqual(['leaf']);
    expect(audit.map((e) => e.kind)).not.toContain('auth_expired');
  });

  it('without a refresh the connection is closed at expiry + 30 s with token_expired (4401)', async () => {
    const start = 1_700_000_000_000;
    const { clock, hub, leaf, audit } = fakeTimePair({ t1: principal('ann', { expiresAt: start + 100_000 }) });
    const errors: ErrorEvent[] = [];
    leaf.on('error', (e) => errors.push(e));
    const up = leaf.peer('ws://hub', { token: 't1', retry: 0 });
    expect(await clock.runUntil(() => hub.peers().length === 1, 5000)).toBe(true);
    await up;
    await clock.run(100_000 + 29_000 - (clock.now() - start));
    expect(hub.peers()).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual(['token_expiring']);
    await clock.run(2_000);
    expect(hub.peers()).toHaveLength(0);
    expect(errors.map((e) => e.code)).toContain('token_expired');
    expect(audit.map((e) => e.kind)).toContain('auth_expired');
  });

  it('revalidate closes a revoked native connection with 4401', async () => {
    const auth = tokenTable({ ann: principal('ann') });
    const { hub } = authHub(auth);
    track(hub);
    const c = rawHello(hub, auth, { name: 'leaf', link: 'leaf', credential: 'ann' });
    await until(() => c.msgs().some((m) => m.kind === MessageKind.Welcome));
    hub.revalidate(() => new AuthError('revoked', 'revoked'));
    await until(() => c.closed !== undefined);
    expect(c.closed!.code).toBe(4401);
    expect(errorsOf(c.msgs())).toEqual(['revoked']);
  });
});
