/**
 * Every options object is resolved once against its DEFAULT_* constants, and an invalid value
 * throws (or rejects with) a ConfigError that names the option and the allowed range.
 */
import { describe, expect, it } from 'vitest';
import {
  BackedTable,
  ClusterNode,
  ConfigError,
  DEFAULT_LOG_ROUTER_OPTIONS,
  DEFAULT_POOL_REGISTRY_OPTIONS,
  DEFAULT_TTL,
  DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS,
  Endpoint,
  IsobrokerError,
  LogRouter,
  PoolRegistry,
  createMemoryLogWriter,
  parseLayout,
} from 'isobroker';
import { DEFAULT_LISTEN_HOST, listen } from 'isobroker/node';
import {
  resolveEndpointOptions,
  resolvePeerOptions,
  resolveWhenRoutableOptions,
} from '../../src/endpoint/endpoint-options.js';
import { resolveListenOptions } from '../../src/node/listener/listener.js';
import { checkOptionsObject, intOption, objectOption, oneOfOption, stringOption } from '../../src/util/options.js';

/** Runs `fn` and returns the ConfigError it throws (failing when it throws anything else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(IsobrokerError);
    expect((err as ConfigError).code).toBe('invalid_config');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const layout = parseLayout({
  nodes: [
    { name: 'manager', role: 'manager', host: 'm', port: 1 },
    { name: 'logger-1', role: 'logger', host: 'l', port: 2 },
    { name: 'worker-1', role: 'worker', host: 'w', port: 3 },
  ],
});

describe('the option checks', () => {
  it('name the option and the allowed range', () => {
    expect(configError(() => intOption('ttl', 0, 20, 1, 255)).message).toBe(
      'ttl: expected an integer from 1 to 255, got 0',
    );
    expect(configError(() => intOption('n', 1.5, 1, 0)).option).toBe('n');
    expect(configError(() => oneOfOption('p', 'x' as 'a', 'a', ['a', 'b'])).message).toContain('one of "a", "b"');
    expect(configError(() => stringOption('name', '', 'd')).option).toBe('name');
    expect(
      configError(() => objectOption('timers', { now: () => 0 }, { now: () => 1 }, ['now', 'setTimeout'])).message,
    ).toContain('missing setTimeout');
    expect(configError(() => checkOptionsObject('options', [])).message).toContain('an array');
    expect(intOption('ttl', undefined, 20, 1, 255)).toBe(20);
  });
});

describe('Endpoint options', () => {
  it('resolve against the defaults', () => {
    const o = resolveEndpointOptions({});
    expect(o.ttl).toBe(DEFAULT_TTL);
    expect(o.name).toBe(`endpoint-${o.id.slice(0, 8)}`);
  });

  it.each([
    ['ttl', { ttl: 256 }, '1 to 255'],
    ['ttl', { ttl: 1.5 }, 'integer'],
    ['sendBufferSize', { sendBufferSize: 0 }, 'from 1'],
    ['overflowPolicy', { overflowPolicy: 'drop_all' }, 'drop_oldest'],
    ['highWaterMark', { highWaterMark: -1 }, 'from 0'],
    ['maxBatch', { maxBatch: Number.NaN }, 'integer'],
    ['retry', { retry: 0 }, 'number from'],
    ['maxRetry', { maxRetry: -5 }, 'number from'],
    ['pingInterval', { pingInterval: Number.POSITIVE_INFINITY }, 'number from 0'],
    ['pingTimeout', { pingTimeout: -1 }, 'number from 0'],
    ['id', { id: 'not-a-uuid' }, 'UUID'],
    ['name', { name: '' }, 'non-empty'],
    ['role', { role: 7 }, 'string'],
    ['version', { version: '' }, 'non-empty'],
    ['connector', { connector: 'ws' }, 'function'],
    ['WebSocket', { WebSocket: {} }, 'function'],
    ['timers', { timers: { now: () => 0 } }, 'setTimeout'],
  ] as const)('new Endpoint rejects a bad %s', (option, bad, range) => {
    const err = configError(() => new Endpoint(bad as never));
    expect(err.option).toBe(option);
    expect(err.message).toContain(range);
  });

  it('peer and whenRoutable options are checked too', async () => {
    expect(resolvePeerOptions({}, 123).retry).toBe(123);
    expect(resolvePeerOptions({ retry: 0 }, 123).retry).toBe(0);
    expect(configError(() => resolvePeerOptions({ retry: -1 }, 1)).option).toBe('retry');
    expect(resolveWhenRoutableOptions(undefined).timeoutMs).toBe(DEFAULT_WHEN_ROUTABLE_TIMEOUT_MS);
    expect(configError(() => resolveWhenRoutableOptions({ timeoutMs: -1 })).option).toBe('timeoutMs');
    const ep = new Endpoint({ name: 'x' });
    const err = await ep.whenRoutable('t', { timeoutMs: Number.NaN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('timeoutMs');
    await ep.close();
  });
});

describe('listener options', () => {
  it('resolve against the defaults and reject bad values', async () => {
    expect(resolveListenOptions(undefined).host).toBe(DEFAULT_LISTEN_HOST);
    for (const [option, bad] of [
      ['port', { port: 70000 }],
      ['port', { port: -1 }],
      ['host', { host: '' }],
      ['maxPayload', { maxPayload: 0 }],
      ['pingInterval', { pingInterval: -1 }],
      ['allowedOrigins', { allowedOrigins: 'https://a.example' }],
      ['allowedHosts', { allowedHosts: [''] }],
      ['http', { http: true }],
    ] as const) {
      expect(configError(() => resolveListenOptions(bad as never)).option, option).toBe(option);
    }
    const ep = new Endpoint({ name: 'x' });
    const err = await listen(ep, { port: 1.5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe('port');
    await ep.close();
  });
});

describe('cluster options', () => {
  it('ClusterNode rejects a bad retry', () => {
    const ep = new Endpoint({ name: 'manager' });
    expect(configError(() => new ClusterNode(ep, layout, 'manager', { retry: -1 })).option).toBe('retry');
    expect(() => new ClusterNode(ep, layout, 'manager', { retry: 0 })).not.toThrow();
    void ep.close();
  });

  it('PoolRegistry resolves against its defaults and rejects bad values', () => {
    expect(new PoolRegistry().localNode).toBe(DEFAULT_POOL_REGISTRY_OPTIONS.localNode);
    expect(configError(() => new PoolRegistry({ managerIsLogger: 'yes' as never })).option).toBe('managerIsLogger');
    expect(configError(() => new PoolRegistry({ localNode: 3 as never })).option).toBe('localNode');
  });

  it('LogRouter rejects bad values and a logger without a writer', () => {
    const ep = new Endpoint({ name: 'worker-1' });
    const node = new ClusterNode(ep, layout, 'worker-1');
    expect(DEFAULT_LOG_ROUTER_OPTIONS.maxBatch).toBe(500);
    expect(configError(() => new LogRouter(node, { maxBatch: 0 })).option).toBe('maxBatch');
    expect(configError(() => new LogRouter(node, { ackTimeout: 0 })).option).toBe('ackTimeout');
    expect(configError(() => new LogRouter(node, { writer: {} as never })).option).toBe('writer');
    expect(configError(() => new LogRouter(node, { onError: 'log' as never })).option).toBe('onError');
    const loggerEp = new Endpoint({ name: 'logger-1' });
    const logger = new ClusterNode(loggerEp, layout, 'logger-1');
    expect(configError(() => new LogRouter(logger)).option).toBe('writer');
    new LogRouter(logger, { writer: createMemoryLogWriter() }).close();
    void ep.close();
    void loggerEp.close();
  });

  it('BackedTable.open rejects bad values', async () => {
    const ep = new Endpoint({ name: 'manager' });
    for (const [option, bad] of [
      ['master', { master: 'yes' }],
      ['backend', { backend: 42 }],
      ['clone', { clone: [] }],
      ['onError', { onError: 1 }],
    ] as const) {
      const err = await BackedTable.open(ep, 't', bad as never).catch((e: unknown) => e);
      expect(err, option).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).option).toBe(option);
    }
    await ep.close();
  });
});
