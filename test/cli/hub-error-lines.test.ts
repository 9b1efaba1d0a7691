/** `isobroker hub` error lines are rate-limited per peer and code, with counts of what was left out. */
import WebSocket from 'ws';
import { describe, expect, it, vi } from 'vitest';
import { BAD_INPUT_CLOSE_LIMIT } from '../../src/endpoint/limits.js';
import { errorPeerKey, runHub } from '../../server/cli/hub.js';

async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('hub error lines', () => {
  it('key on the remote host (a reconnecting peer is the same peer), else the URL or id', () => {
    expect(errorPeerKey({ remote: '127.0.0.1:51234' })).toBe('127.0.0.1');
    expect(errorPeerKey({ remote: '::1:51234' })).toBe('::1');
    expect(errorPeerKey({ remote: 'ws://10.0.0.1:9999', id: 'x' })).toBe('ws://10.0.0.1:9999');
    expect(errorPeerKey({ id: 'abc' })).toBe('abc');
    expect(errorPeerKey(undefined)).toBe('');
  });

  it('a stream of bad frames from several connections makes a handful of lines, with counts', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    let code: number;
    let inputBytes = 0;
    const CONNECTIONS = 4;
    try {
      const done = runHub(['--listen', '127.0.0.1:0']);
      await waitFor(() => out.some((l) => l.includes(' ready: ')));
      const url = /native (ws:\/\/\S+),/.exec(out.find((l) => l.includes(' ready: '))!)![1]!;
      for (let c = 0; c < CONNECTIONS; c++) {
        const ws = new WebSocket(`${url}/v1/messages/native`);
        const closed = new Promise((resolve) => ws.once('close', resolve));
        await new Promise((resolve) => ws.once('open', resolve));
        for (let i = 0; i < 2 * BAD_INPUT_CLOSE_LIMIT; i++) {
          const frame = new Uint8Array(64).fill(0xc1); // never valid MessagePack
          ws.send(frame);
          inputBytes += frame.length;
        }
        await closed; // the hub closes it past the bad-input limit
      }
      process.emit('SIGTERM');
      code = await done;
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(code).toBe(0);
    const lines = err.join('').split('\n');
    const shown = lines.filter((l) => l.includes('error deserialization_failed: '));
    const summaries = lines
      .map((l) => /error deserialization_failed from 127\.0\.0\.1: (\d+) more like it not shown/.exec(l))
      .filter((m) => m !== null);
    // One window of 10 s: 5 lines shown (two windows at most on a very slow machine).
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThanOrEqual(10);
    expect(summaries.length).toBeGreaterThan(0);
    const suppressed = summaries.reduce((n, m) => n + Number(m[1]), 0);
    // Some were left out and counted; no more than the bad frames the hub read (the limit plus
    // the one that closed, per connection) — error events may be limited further upstream.
    expect(suppressed).toBeGreaterThan(0);
    expect(shown.length + suppressed).toBeLessThanOrEqual(CONNECTIONS * (BAD_INPUT_CLOSE_LIMIT + 1));
    const logBytes = lines.filter((l) => l.includes('deserialization_failed')).join('\n').length;
    expect(logBytes).toBeLessThan(inputBytes);
  }, 60_000);
});
