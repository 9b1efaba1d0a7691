/**
 * Internal topics from non-trusted principals (fail closed without a topic guard, guards decide
 * publish, subscribe and delivery), `<$>/local/`, and the publish rate limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, count, type ErrorEvent, type Message } from 'isobroker';
import { AuthError, type AuditEvent } from '../../src/auth/types.js';
import { SimClock } from '../support/sim-network.js';
import { sleep, until } from '../support/endpoints.js';
import { authHub, microPair, principal, tokenTable } from './auth-helpers.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
function track<T extends { close(): unknown }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

async function leafWith(
  net: Parameters<typeof authHub>[2],
  token: string,
): Promise<{ leaf: Endpoint; errors: ErrorEvent[] }> {
  const leaf = track(new Endpoint({ name: `leaf-${token}`, connector: net!.connector, pingInterval: 0 }));
  const errors: ErrorEvent[] = [];
  leaf.on('error', (e) => errors.push(e));
  return { leaf, errors };
}

describe('internal topics and topic guards', () => {
  it('without a guard, internal topics are closed to non-trusted principals (publish and subscribe)', async () => {
    const auth = tokenTable({ ann: principal('ann') });
    const { net, hub, audit } = authHub(auth);
    track(hub);
    const got: Message[] = [];
    hub.subscribe('<$>/', (m) => got.push(m));
    const { leaf, errors } = await leafWith(net, 'ann');
    leaf.subscribe('<$>/store/kv/updates', () => undefined);
    await leaf.peer('ws://hub', { token: 'ann' });
    await leaf.whenRoutable('<$>/x');
    leaf.publish('<$>/x', count(1));
    leaf.publish('<$>/local/y', count(2));
    await until(() => errors.filter((e) => e.code === 'forbidden').length >= 3);
    await sleep(20);
    expect(got).toEqual([]);
    expect(hub.reachable().find((e) => e.name === 'leaf-ann')!.filter).toEqual([]);
    expect(audit.filter((e) => e.kind === 'publish_denied').map((e) => e.subject)).toEqual(['<$>/x', '<$>/local/y']);
  });

  it('a guard decides publishes, subscriptions and deliveries under its prefix', async () => {
    const auth = tokenTable({ ann: principal('ann') });
    const { net, hub } = authHub(auth);
    track(hub);
    const seen: string[] = [];
    hub.addTopicGuard('<$>/g/', {
      publish: (topic, bytes, p) => {
        seen.push(`${p.sub} ${topic} ${bytes.length > 0}`);
        return topic.endsWith('/no') ? new AuthError('forbidden', 'no') : undefined;
      },
      subscribe: (prefix) => (prefix.startsWith('<$>/g/open') ? undefined : new AuthError('forbidden', 'closed')),
      deliver: (topic) => (topic.startsWith('<$>/g/open/') ? undefined : new AuthError('forbidden', 'not whole')),
    });
    const got: Message[] = [];
    hub.subscribe('<$>/g/', (m) => got.push(m));
    const { leaf, errors } = await leafWith(net, 'ann');
    const atLeaf: Message[] = [];
    leaf.subscribe(['<$>/g/open', '<$>/g/closed'], (m) => atLeaf.push(m));
    await leaf.peer('ws://hub', { token: 'ann' });
    await until(() => hub.hasRoute('<$>/g/open/x'));
    expect(hub.hasRoute('<$>/g/closed/x')).toBe(false);
    leaf.publish('<$>/g/yes', count(1));
    leaf.publish('<$>/g/no', count(2));
    await until(
      () => got.length === 1 && errors.some((e) => e.code === 'forbidden' && e.context?.includes('<$>/g/no')),
    );
    expect(got.map((m) => m.topic)).toEqual(['<$>/g/yes']);
    expect(seen).toEqual(['ann <$>/g/yes true', 'ann <$>/g/no true']);
    // Deliveries: the subscription `<$>/g/open` also matches `<$>/g/openX`, which the guard refuses.
    hub.publish('<$>/g/openX', count(1));
    hub.publish('<$>/g/open/1', count(2));
    await until(() => atLeaf.length === 1);
    await sleep(20);
    expect(atLeaf.map((m) => m.topic)).toEqual(['<$>/g/open/1']);
  });
});

describe('publish rate', () => {
  it.each([
    ['a transport that cannot pause', false],
    ['a transport that pauses (backpressure)', true],
  ])(
    'over the rate: dropped with limit_exceeded; after 5 s of continuous excess the connection is closed (%s)',
    async (_name, pausable) => {
      const clock = new SimClock();
      const auth = tokenTable({ ann: principal('ann', { publishRate: 10, publishBurst: 5 }) });
      const hub = track(new Endpoint({ name: 'hub', role: 'hub', timers: clock, pingInterval: 0 }));
      const audit: AuditEvent[] = [];
      hub.on('audit', (e) => audit.push(e));
      let server: ReturnType<typeof microPair>[1] | undefined;
      const connector = async (): Promise<ReturnType<typeof microPair>[0]> => {
        const [c, s] = microPair(pausable);
        server = s;
        hub.accept(s, 'native', { conn: { ip: '127.0.0.8', remote: 'micro', protocol: 'native' }, authenticate: auth });
        return c;
      };
      const leaf = track(new Endpoint({ name: 'leaf', timers: clock, connector, pingInterval: 0 }));
      const errors: ErrorEvent[] = [];
      leaf.on('error', (e) => errors.push(e));
      const got: Message[] = [];
      hub.subscribe('r/', (m) => got.push(m));
      const up = leaf.peer('ws://hub', { token: 'ann', retry: 0 });
      expect(await clock.runUntil(() => leaf.hasRoute('r/x'), 5000)).toBe(true);
      await up;
      // 20 in one instant: the burst of 5 passes.
      for (let i = 0; i < 20; i++) leaf.publish('r/x', count(i));
      await clock.run(1);
      expect(got).toHaveLength(5);
      expect(errors.some((e) => e.code === 'limit_exceeded')).toBe(true);
      // Within the rate (5/s): all pass, the excess ends.
      for (let i = 0; i < 10; i++) {
        await clock.run(200);
        leaf.publish('r/x', count(100 + i));
      }
      await clock.run(1);
      expect(got).toHaveLength(15);
      expect(hub.peers()).toHaveLength(1);
      // 100/s for 6 s: closed with 4429 after 5 s of continuous excess.
      let n = 0;
      const flood = (): void => {
        leaf.publish('r/x', count(n));
        if (++n < 600) clock.setTimeout(flood, 10);
      };
      const floodStart = clock.now();
      flood();
      expect(await clock.runUntil(() => hub.peers().length === 0, 7000)).toBe(true);
      expect(clock.now() - floodStart).toBeGreaterThanOrEqual(5000);
      expect(errors.some((e) => e.code === 'limit_exceeded' && e.context?.includes('for 5000 ms'))).toBe(true);
      expect(audit.filter((e) => e.kind === 'limit_exceeded').length).toBeGreaterThan(0);
      if (pausable) expect(server!.pauses).toBeGreaterThan(1);
      else expect(server!.pauses).toBeUndefined();
    },
  );
});
