import { afterEach, expect, it } from 'vitest';
import { reconnectOnOnline } from 'isobroker/browser';
import { memoryEndpoints, until, type Net } from '../support/endpoints.js';

let net: Net | undefined;
afterEach(async () => net?.close());

it('redials a waiting peering as soon as the browser reports online', async () => {
  // Long backoff: without the online signal the peering would wait 60 s.
  net = memoryEndpoints(2, { retry: 60_000, maxRetry: 60_000 });
  const [a] = net.eps;
  const target = new EventTarget();
  const stop = reconnectOnOnline(a!, target as never);
  await a!.peer(net.url(1));
  net.net.cutAll();
  await until(() => a!.peers().some((p) => p.status === 'reconnecting'));
  target.dispatchEvent(new Event('online'));
  await until(() => a!.peers().some((p) => p.status === 'connected'), 2000, 'prompt reconnect');
  stop();
  expect(a!.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
});
