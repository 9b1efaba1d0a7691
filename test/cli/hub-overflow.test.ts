/** `isobroker hub --overflow-policy` / `--buffer-size`: slow Broker JSON v1 clients as the operator chooses. */
import WebSocket from 'ws';
import { describe, expect, it, vi } from 'vitest';
import { Endpoint, string } from 'isobroker';
import { UsageError, commandUsage, parseCommand } from '../../server/cli/args.js';
import { HUB_COMMAND, linksFromFlags, runHub } from '../../server/cli/hub.js';

/** Runs `isobroker hub` in this process (the CLI binary runs the compiled dist/); resolves its URL. */
async function hubInProcess(args: string[]): Promise<{ url: string; stop(): Promise<number> }> {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const done = runHub(['--listen', '127.0.0.1:0', '--quiet', ...args]);
  try {
    await waitFor(() => lines.some((l) => l.includes(' ready: ')));
  } finally {
    write.mockRestore();
  }
  const url = /native (ws:\/\/\S+),/.exec(lines.find((l) => l.includes(' ready: '))!)![1]!;
  return {
    url,
    stop: () => {
      process.emit('SIGTERM');
      return done;
    },
  };
}

async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('hub --overflow-policy and --buffer-size', () => {
  it('turn into link options per kind (bare values are for JSON v1 clients)', () => {
    expect(linksFromFlags(['drop_newest', 'peers=disconnect'], ['64', 'jsonServers=100'])).toEqual({
      jsonClients: { overflowPolicy: 'drop_newest', bufferSize: 64 },
      jsonServers: { bufferSize: 100 },
      peers: { overflowPolicy: 'disconnect' },
      leaves: {},
    });
    expect(linksFromFlags([], [])).toEqual({ jsonClients: {}, jsonServers: {}, peers: {}, leaves: {} });
    expect(linksFromFlags(['leaves=drop_newest'], [], ['1048576', 'leaves=4096'])).toEqual({
      jsonClients: { bufferBytes: 1048576 },
      jsonServers: {},
      peers: {},
      leaves: { overflowPolicy: 'drop_newest', bufferBytes: 4096 },
    });
  });

  it('refuse bad values with a usage error, and are in the help text', () => {
    for (const args of [
      ['--overflow-policy', 'drop_all'],
      ['--overflow-policy', 'routers=drop_oldest'],
      ['--buffer-size', '0'],
      ['--buffer-size', 'peers=many'],
      ['--buffer-bytes', '1023'],
      ['--buffer-bytes', 'leaves=5000000000'],
      ['--buffer-bytes', 'routers=2048'],
    ]) {
      expect(() => parseCommand(HUB_COMMAND, args)).toThrow(UsageError);
      expect(() => parseCommand(HUB_COMMAND, args)).toThrow(args[0]);
    }
    expect(parseCommand(HUB_COMMAND, ['--overflow-policy', 'peers=drop_newest', '--buffer-size', '7'])).toMatchObject({
      kind: 'run',
      values: { 'overflow-policy': ['peers=drop_newest'], 'buffer-size': ['7'] },
    });
    const help = commandUsage(HUB_COMMAND as unknown as Parameters<typeof commandUsage>[0]);
    expect(help).toContain('--overflow-policy [KIND=]POLICY');
    expect(help).toContain('--buffer-size [KIND=]N');
    expect(help).toContain('--buffer-bytes [KIND=]N');
  });

  it('--overflow-policy drop_newest --buffer-size 32: a stalled client stays connected and is told its losses', async () => {
    const hub = await hubInProcess(['--overflow-policy', 'drop_newest', '--buffer-size', '32']);
    const ws = new WebSocket(`${hub.url}/v1/messages/json`);
    const texts: string[] = [];
    ws.on('message', (d) => texts.push(String(d)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send('["slow/"]');
    await waitFor(() => texts.length === 1);
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const pub = new Endpoint({ name: 'flood' });
    await pub.peer(hub.url);
    await pub.whenRoutable('slow/x');
    const N = 6000;
    const payload = string('p'.repeat(8 * 1024));
    for (let i = 0; i < N; i++) {
      pub.publish('slow/x', payload);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1));
    }
    socket.resume();
    let data = 0;
    let dropped = 0;
    let seen = 1;
    await waitFor(() => {
      for (; seen < texts.length; seen++) {
        const m = JSON.parse(texts[seen]!) as { type: string; code?: string; context?: string };
        if (m.type === 'data-message') data++;
        else {
          expect(m.code).toBe('buffer_overflow');
          dropped += Number(/^dropped (\d+) messages?: .*\(policy drop_newest\)/.exec(m.context!)![1]);
        }
      }
      return data + dropped === N;
    });
    expect(dropped).toBeGreaterThan(0);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.terminate();
    await pub.close();
    expect(await hub.stop()).toBe(0);
  }, 90_000);
});
