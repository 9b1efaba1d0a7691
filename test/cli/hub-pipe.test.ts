/** The `isobroker` command as real child processes: hubs, peering between them, pipe, restarts. */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, equals, string, type Message } from 'isobroker';
import { killAll, spawnCli, startHub } from '../support/processes.js';
import { until } from '../support/endpoints.js';

const endpoints: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await killAll();
});

function endpoint(name: string): Endpoint {
  const ep = new Endpoint({ name, retry: 100, maxRetry: 500 });
  endpoints.push(ep);
  return ep;
}

describe('isobroker hub and pipe', () => {
  it('prints one ready line, relays between peered hubs, and pipes stdin lines as strings', async () => {
    const a = await startHub(['--name', 'hub-a']);
    const b = await startHub(['--name', 'hub-b', '--peer', a.url]);
    expect(a.cli.stdout).toHaveLength(1);
    expect(a.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    const sub = endpoint('subscriber');
    const got: Message[] = [];
    sub.subscribe('pipe/', (m) => got.push(m));
    await sub.peer(b.url);
    // The subscription has to travel subscriber → hub-b → hub-a before the publisher connects.
    const probe = endpoint('probe');
    await probe.peer(a.url);
    await probe.whenRoutable('pipe/lines', { timeoutMs: 15_000 });

    const pipe = spawnCli(['pipe', '--peer', a.url, '--topic', 'pipe/lines', '--publish']);
    pipe.proc.stdin.end('first line\nsecond line\n');
    expect(await pipe.exited).toBe(0);
    await until(() => got.length === 2, 10_000, 'piped lines');
    expect(got.map((m) => m.topic)).toEqual(['pipe/lines', 'pipe/lines']);
    expect(equals(got[0]!.data, string('first line'))).toBe(true);
    expect(equals(got[1]!.data, string('second line'))).toBe(true);
  });

  it('pipe --subscribe prints each message in JSON v1 form, one per line', async () => {
    const hub = await startHub();
    const pipe = spawnCli(['pipe', '--peer', hub.url, '--topic', 'out/', '--subscribe']);
    const pub = endpoint('publisher');
    await pub.peer(hub.url);
    await pub.whenRoutable('out/x', { timeoutMs: 15_000 });
    pub.publish('out/x', string('hello'));
    const line = await pipe.line(/data-message/);
    expect(line).toBe('{"type":"data-message","topic":"out/x","@data-type":"string","data":"hello"}');
  });

  it('a peer reconnects after its hub is killed and restarted, restoring subscriptions', async () => {
    const first = await startHub(['--name', 'hub-r']);
    const sub = endpoint('sub');
    const pub = endpoint('pub');
    const got: Message[] = [];
    sub.subscribe('r/', (m) => got.push(m));
    await Promise.all([sub.peer(first.url), pub.peer(first.url)]);
    await pub.whenRoutable('r/1');
    pub.publish('r/1', string('before'));
    await until(() => got.length === 1);

    const lost = new Promise((r) => sub.on('status', (s) => s.code === 'peer_lost' && r(s)));
    await first.cli.kill('SIGKILL');
    await lost;
    const second = await startHub(['--name', 'hub-r'], `127.0.0.1:${first.port}`);
    await pub.whenRoutable('r/2', { timeoutMs: 15_000 });
    pub.publish('r/2', string('after'));
    await until(() => got.length === 2, 10_000, 'delivery after restart');
    expect(equals(got[1]!.data, string('after'))).toBe(true);
    await second.cli.kill();
  });

  it('rejects bad usage with exit code 2 and a message', async () => {
    const bad = spawnCli(['pipe', '--peer', 'ws://127.0.0.1:1']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr).toEqual(['isobroker pipe: --topic: required (TOPIC)']);
    const unknown = spawnCli(['frobnicate']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr.join('\n')).toContain('unknown command "frobnicate"');
  });
});
