/**
 * What a hub tells its leaves stays right while clients join: a newcomer that joined while an
 * interest update was pending once overwrote the hub's record of what the older leaves had been
 * told, so they never heard the change (found by the auth load test).
 */
import { afterEach, expect, it } from 'vitest';
import { Endpoint } from 'isobroker';
import { listen } from 'isobroker/node';
import { until } from '../support/endpoints.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function track<T extends { close(): unknown }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

it('a leaf learns a subscription that a newcomer with no subscriptions joined behind', async () => {
  const hub = track(new Endpoint({ name: 'hub', role: 'hub', interestInterval: 200 }));
  const listener = track(await listen(hub));
  const publisher = track(new Endpoint({ name: 'publisher' }));
  await publisher.peer(listener.url);
  // c's subscription makes the hub send an update now; the next one waits for interestInterval.
  const c = track(new Endpoint({ name: 'c' }));
  c.subscribe('c/', () => undefined);
  await c.peer(listener.url);
  const a = track(new Endpoint({ name: 'a' }));
  a.subscribe('a/', () => undefined);
  await a.peer(listener.url);
  // Joins while the hub's update about a/ is pending.
  const b = track(new Endpoint({ name: 'b' }));
  await b.peer(listener.url);
  await until(() => publisher.hasRoute('a/x'), 3000).catch(() => undefined);
  expect(publisher.hasRoute('a/x')).toBe(true);
});
