/**
 * `isobroker hub --backbone`: the flags (usage errors before anything starts), and real hub
 * processes (the built bin, `npm run build` first) on a real three-server NATS cluster: two hubs
 * pinned to different servers, a native client publishing on one and a client subscribing on the
 * other; the hub's /metrics shows the backbone; a clean stop says bye (the other hub sees it go at
 * once); an unreachable NATS system does not stop the hub.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, string } from 'isobroker';
import { UsageError, parseCommand } from '../../server/cli/args.js';
import { backboneFromLayout, parseBackboneServers } from '../../server/cli/backbone.js';
import { HUB_COMMAND } from '../../server/cli/hub.js';
import { type NatsCluster, describeNats, natsProxy, startNatsCluster, until } from '../support/nats-cluster.js';
import { killAll, spawnCli, startHub } from '../support/processes.js';

describe('hub --backbone flags', () => {
  const parse = (...argv: string[]) => parseCommand(HUB_COMMAND, argv);

  it('takes comma-separated NATS URLs, a namespace and a separator', () => {
    expect(parse('--backbone', 'nats://a:4222,nats://b:4222', '--backbone-namespace', 'prod')).toMatchObject({
      kind: 'run',
      values: { backbone: 'nats://a:4222,nats://b:4222', 'backbone-namespace': 'prod', 'backbone-separator': '/' },
    });
    expect(parseBackboneServers('nats://a:4222, nats://[::1]:4443,nats://host')).toEqual([
      'nats://a:4222',
      'nats://[::1]:4443',
      'nats://host',
    ]);
  });

  it('refuses what is not a NATS URL, and namespace or separator without --backbone', () => {
    for (const bad of [
      'http://a:4222',
      'nats://a:0',
      'nats://a:4222,',
      'nats://a:99999',
      'a:4222',
      'nats://a/x',
      'tls://a:4222',
    ])
      expect(() => parse('--backbone', bad), bad).toThrow(/--backbone: expected NATS server URLs/);
    expect(() => parse('--backbone', 'nats://a:1', '--backbone-separator', ':')).toThrow(UsageError);
    expect(() => parse('--backbone', 'nats://a:1', '--backbone-namespace', 'a b')).toThrow(UsageError);
    expect(() => parse('--backbone-namespace', 'x')).toThrow('--backbone-namespace needs --backbone');
    expect(() => parse('--backbone-separator', '.')).toThrow('--backbone-separator needs --backbone');
  });

  it('a bad URL stops the real hub before it starts: exit 2, one line naming the flag', async () => {
    const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', '--backbone', 'nats://a:4222,http://b:4222']);
    expect(await cli.exited).toBe(2);
    expect(cli.stdout).toEqual([]);
    expect(cli.stderr).toEqual([
      'isobroker hub: --backbone: expected NATS server URLs, comma-separated (nats://host:port,nats://host:port), got "nats://a:4222,http://b:4222"',
    ]);
  });

  it("reads a layout's backbone key strictly", () => {
    expect(backboneFromLayout({ nodes: [] })).toBeUndefined();
    expect(backboneFromLayout({ backbone: { servers: ['nats://a:4222'], namespace: 'ns' } })).toEqual({
      servers: ['nats://a:4222'],
      namespace: 'ns',
    });
    for (const bad of [
      [],
      { servers: [] },
      { servers: ['http://a'] },
      { servers: ['nats://a:1'], namespace: '' },
      { servers: ['nats://a:1'], separator: ':' },
      { servers: ['nats://a:1'], extra: 1 },
    ])
      expect(() => backboneFromLayout({ backbone: bad }), JSON.stringify(bad)).toThrow(
        /invalid cluster layout: backbone/,
      );
  });
});

const endpoints: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await killAll();
});

/** One metric's value in a Prometheus text, undefined when absent. */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describeNats('hub --backbone on a real NATS cluster', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNatsCluster();
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it('two hubs on different servers: a client of one reaches a subscriber of the other; metrics; bye on stop', async () => {
    const ns = `hubtest-${process.pid}`;
    const flags = (i: number) => ['--backbone', nats.urls[i]!, '--backbone-namespace', ns];
    const a = await startHub([...flags(0), '--name', 'hub-a']);
    const b = await startHub([...flags(1), '--name', 'hub-b']);
    const readyA = a.cli.stdout.find((l) => l.includes(' ready: '))!;
    expect(readyA).toContain(`backbone ${nats.urls[0]} (namespace ${ns}): connected to 127.0.0.11:`);

    const sub = new Endpoint({ name: 'sub' });
    const pub = new Endpoint({ name: 'pub' });
    endpoints.push(sub, pub);
    const got: string[] = [];
    sub.subscribe('bb/', (m) => {
      if (m.data.type === 'string') got.push(m.data.value);
    });
    await sub.peer(b.url, { retry: 0 });
    await pub.peer(a.url, { retry: 0 });
    // Until hub-a has seen hub-b's presence and interest, a message may go nowhere: publish
    // until one arrives (bounded), then count one more exactly.
    await until('a message across the backbone', 10_000, async () => {
      pub.publish('bb/x', string('probe'));
      if (got.length === 0) throw new Error('nothing yet');
    });
    got.length = 0;
    pub.publish('bb/x', string('the one'));
    await until('the counted message', 5000, async () => {
      if (!got.includes('the one')) throw new Error('not yet');
    });

    const text = await (await fetch(`${a.url.replace(/^ws/, 'http')}/metrics`)).text();
    expect(metric(text, 'isobroker_backbone_state{state="connected"}')).toBe(1);
    expect(metric(text, 'isobroker_backbone_state{state="disconnected"}')).toBe(0);
    expect(metric(text, 'isobroker_backbone_endpoints')).toBe(1);
    expect(metric(text, 'isobroker_backbone_published_total')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'isobroker_backbone_batches_sent_total')).toBeGreaterThan(0);
    expect(metric(text, 'isobroker_backbone_dropped_total')).toBe(0);
    expect(metric(text, 'isobroker_backbone_queued_messages')).toBe(0);
    expect(metric(text, 'isobroker_backbone_rtt_seconds')).toBeGreaterThan(0);

    // A clean stop says bye: hub-b sees hub-a go at once (not by the presence timeout).
    expect(await a.cli.kill('SIGTERM')).toBe(0);
    await until('hub-b sees hub-a gone', 10_000, async () => {
      if (!b.cli.stderr.some((l) => /backbone: endpoint hub-a \S+ down/.test(l))) throw new Error('still there');
    });
    expect(b.cli.stderr.find((l) => /backbone: endpoint hub-a \S+ down/.test(l))).toMatch(/down \(bye\)$/);
    expect(b.cli.stderr.some((l) => /backbone: endpoint hub-a \S+ up/.test(l))).toBe(true);
    const t = await (await fetch(`${b.url.replace(/^ws/, 'http')}/metrics`)).text();
    expect(metric(t, 'isobroker_backbone_endpoints')).toBe(0);
    expect(a.cli.stderr.join('\n')).toContain('backbone connected to');
    expect(a.cli.stderr.join('\n')).not.toMatch(/cannot reach|error/i);
  }, 60_000);

  it('an unreachable NATS system does not stop the hub: said once, retried, attached when it answers', async () => {
    const proxy = await natsProxy(nats.urls[2]!);
    try {
      proxy.cut();
      const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', '--backbone', proxy.url]);
      const ready = await cli.line(/ ready: /);
      expect(ready).toContain(`backbone ${proxy.url}: not reachable yet, retrying`);
      await new Promise((r) => setTimeout(r, 2500)); // a few retries
      expect(cli.stderr.filter((l) => l.includes('cannot reach'))).toHaveLength(1);
      expect(cli.proc.exitCode).toBeNull();
      proxy.restore();
      await until('attached once NATS answers', 10_000, async () => {
        if (!cli.stderr.some((l) => l.includes('backbone: connected to'))) throw new Error('not yet');
      });
      expect(cli.stderr.some((l) => l.includes('backbone connected to'))).toBe(true);
      expect(await cli.kill('SIGTERM')).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
