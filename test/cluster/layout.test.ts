import { describe, expect, it } from 'vitest';
import { connectionsOf, defaultLayout, loggersOf, parseLayout } from 'isobroker';

const node = (name: string, role: string, port: number) => ({ name, role, host: '127.0.0.1', port });

describe('cluster layouts', () => {
  it('reads a layout and applies Broker connectivity: all loggers and the manager; workers also proxies', () => {
    const l = defaultLayout();
    expect(l.nodes.map((n) => `${n.name}:${n.role}`)).toEqual([
      'manager:manager',
      'logger-1:logger',
      'proxy-1:proxy',
      'proxy-2:proxy',
      'worker-1:worker',
      'worker-2:worker',
    ]);
    const names = (n: string) =>
      connectionsOf(l, n)
        .map((x) => x.name)
        .sort();
    expect(names('logger-1')).toEqual([]);
    expect(names('manager')).toEqual(['logger-1']);
    expect(names('proxy-1')).toEqual(['logger-1', 'manager']);
    expect(names('worker-1')).toEqual(['logger-1', 'manager', 'proxy-1', 'proxy-2']);
  });

  it('makes the manager the logger when there is none, as zeekctl does', () => {
    const l = parseLayout({ nodes: [node('m', 'manager', 1), node('w', 'worker', 2)] });
    expect(l.managerIsLogger).toBe(true);
    expect(loggersOf(l).map((n) => n.name)).toEqual(['m']);
  });

  it.each([
    [{ nodes: [node('m', 'manager', 1), node('x', 'scanner', 2)] }, /unknown role "scanner"/],
    [{ nodes: [node('m', 'manager', 1), node('m2', 'manager', 2)] }, /two managers: m, m2/],
    [{ nodes: [node('m', 'manager', 1), node('m', 'worker', 2)] }, /duplicate node name 'm'/],
    [{ nodes: [node('m', 'manager', 1), node('w', 'worker', 1)] }, /'m' and 'w' both use 127\.0\.0\.1:1/],
    [{ nodes: [node('w', 'worker', 1)] }, /no manager/],
    [{ nodes: [node('m', 'manager', 70000)] }, /port must be an integer/],
    [{ nodes: [] }, /non-empty array/],
  ])('rejects a bad layout with an error naming the problem (%#)', (json, message) => {
    expect(() => parseLayout(json)).toThrow(message);
  });
});
