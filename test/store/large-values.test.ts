/**
 * Stores of large values (issue 16): snapshot chunks, delta batches and broadcasts bounded in
 * bytes, so a clone syncs whatever the size of the store; an entry no link could carry is refused
 * at write time; a sync the master cannot serve is reported. Real hub on 127.0.0.1 (port 0), a
 * SQLite master on a real file. Also the store options checks and contained listeners (issue 9).
 *
 * `STORE_LOAD=1` adds the 2,000 × 1 MiB (2 GiB) case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  Endpoint,
  StoreError,
  count,
  createClone,
  createMaster,
  createMemoryBackend,
  string,
  vector,
  type StoreClone,
  type StoreMaster,
} from 'isobroker';
import { encodeValue } from '../../src/codec/native/values.js';
import { listen, openSqliteBackend, type Listener } from '../../src/node/index.js';
import { ChangeLog } from '../../src/store/change-log.js';
import { CloneCore } from '../../src/store/clone.js';
import { SnapshotStreams } from '../../src/store/snapshot-stream.js';
import { StoreMsg, type StoreMessage } from '../../src/store/store-protocol.js';
import { DEFAULT_MAX_ENTRY_BYTES, encodedSize } from '../../src/store/value-size.js';
import { dataArb } from '../support/arbitraries.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A value of `bytes` ASCII characters, distinct per key and tag. */
const big = (i: number, bytes: number, tag = 'v'): string =>
  `${tag}${i}:`.padEnd(bytes, String.fromCharCode(97 + (i % 26)));

interface Rig {
  readonly hub: Endpoint;
  readonly listener: Listener;
  readonly master: StoreMaster;
  readonly errors: StoreError[];
  clone(opts?: Parameters<typeof createClone>[2]): Promise<{ ep: Endpoint; c: StoreClone; errors: StoreError[] }>;
}

/** A hub on 127.0.0.1:0 hosting a SQLite master (a real file) filled with `n` values of `bytes`. */
async function rig(
  name: string,
  n: number,
  bytes: number,
  master: Parameters<typeof createMaster>[2] = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-large-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hub = new Endpoint({ name: 'hub' });
  const listener = await listen(hub, { host: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await hub.close();
    await listener.close();
  });
  const errors: StoreError[] = [];
  const backend = openSqliteBackend({ path: join(dir, `${name}.db`), journalMode: 'WAL', synchronous: 'NORMAL' });
  const m = await createMaster(hub, name, {
    backend,
    heartbeatInterval: 200,
    onError: (e) => errors.push(e),
    ...master,
  });
  cleanups.push(() => m.close());
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => m.put(`k${i + j}`, big(i + j, bytes))));
  }
  return {
    hub,
    listener,
    master: m,
    errors,
    async clone(opts = {}) {
      const ep = new Endpoint({ name: 'clone-host' });
      cleanups.push(() => ep.close());
      await ep.peer(listener.url);
      await ep.whenRoutable(`<$>/store/${name}/master`, { timeoutMs: 10_000 });
      const cerrors: StoreError[] = [];
      const c = await createClone(ep, name, {
        resyncInterval: 200,
        masterTimeout: 2000,
        onError: (e) => cerrors.push(e),
        ...opts,
      });
      cleanups.push(() => c.close());
      return { ep, c, errors: cerrors };
    },
  };
}

function sameContents(c: StoreClone, n: number, bytes: number, changed?: (i: number) => string | undefined): number {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const v = c.get(`k${i}`);
    const want = changed?.(i) ?? big(i, bytes);
    if (v.type !== 'string' || v.value !== want) bad++;
  }
  return bad;
}

/** Syncs a fresh clone of a store of `n` values of `bytes`; reports time and RSS growth. */
async function syncCase(n: number, bytes: number, timeoutMs: number): Promise<void> {
  const r = await rig(`big${n}x${bytes}`, n, bytes);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const { c, errors } = await r.clone();
  await c.whenInSync(timeoutMs);
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const storeBytes = n * bytes;
  console.log(
    `[large-values] ${n} × ${bytes / KiB} KiB (${(storeBytes / MiB).toFixed(1)} MiB): synced in ${ms.toFixed(0)} ms; ` +
      `peak RSS growth (master and clone in one process) ${((peak - rss0) / MiB).toFixed(1)} MiB = ${((peak - rss0) / storeBytes).toFixed(2)}× the store; ` +
      `snapshot bytes ${(r.master.resyncBytes.snapshot / MiB).toFixed(1)} MiB`,
  );
  expect(c.size).toBe(n);
  expect(sameContents(c, n, bytes)).toBe(0);
  expect([...errors, ...r.errors]).toEqual([]);
  // One snapshot, not a loop of restarted ones: the bytes sent are the store plus framing.
  expect(r.master.resyncBytes.snapshot).toBeLessThan(storeBytes * 1.05);
  // The clone holds one copy of the store; the master (SQLite) and the stream hold a bounded amount
  // on top (a generous bound: one process, and V8 keeps freed pages for a while).
  expect(peak - rss0).toBeLessThan(storeBytes * 2 + 256 * MiB);
}

describe('clones of stores with large values', () => {
  it('syncs 300 values of 64 KiB (19 MiB: more than one frame) from a SQLite master', async () => {
    await syncCase(300, 64 * KiB, 30_000);
  }, 60_000);

  it('syncs 200 values of 1 MiB', async () => {
    await syncCase(200, MiB, 60_000);
  }, 120_000);

  it.runIf(process.env.STORE_LOAD === '1')(
    'syncs 2,000 values of 1 MiB (2 GiB; STORE_LOAD=1)',
    async () => {
      await syncCase(2000, MiB, 600_000);
    },
    900_000,
  );

  it('catches up by a delta of 200 changed 64 KiB values after an outage', async () => {
    const r = await rig('delta', 300, 64 * KiB);
    const { ep, c } = await r.clone();
    await c.whenInSync(30_000);
    const snapshot = r.master.resyncBytes.snapshot;
    await ep.unpeer(r.listener.url);
    while (c.status === 'in-sync') await new Promise((res) => setTimeout(res, 20));
    // All 200 in one batch: one commit, broadcast and logged as 12.5 MiB of changes.
    await Promise.all(Array.from({ length: 200 }, (_, i) => r.master.put(`k${i}`, big(i, 64 * KiB, 'new'))));
    await ep.peer(r.listener.url);
    await c.whenInSync(30_000);
    expect(sameContents(c, 300, 64 * KiB, (i) => (i < 200 ? big(i, 64 * KiB, 'new') : undefined))).toBe(0);
    expect(r.master.resyncBytes.snapshot).toBe(snapshot); // a delta, no new snapshot
    expect(r.master.resyncBytes.delta).toBeGreaterThan(200 * 64 * KiB);
    expect(r.master.resyncBytes.delta).toBeLessThan(210 * 64 * KiB);
  }, 60_000);

  it('broadcasts a batch of many large writes to a clone in sync (no update over the frame limit)', async () => {
    const r = await rig('broadcast', 0, 0);
    const { c } = await r.clone();
    await c.whenInSync(10_000);
    await Promise.all(Array.from({ length: 300 }, (_, i) => r.master.put(`k${i}`, big(i, 64 * KiB))));
    const t0 = Date.now();
    while (c.size < 300 && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 20));
    expect(sameContents(c, 300, 64 * KiB)).toBe(0);
  }, 60_000);
});

describe('entries too large for any link', () => {
  // Five strings of 4 MiB: each string within the decoder's limit, the whole over a frame.
  const huge = vector(Array.from({ length: 5 }, (_, i) => string(big(i, 4 * MiB - 16))));

  it('are refused at write time on the master and from a clone, and the store keeps syncing', async () => {
    const r = await rig('limit', 3, KiB);
    const { c } = await r.clone();
    await c.whenInSync(10_000);
    const size = encodedSize(string('k9')) + encodedSize(huge);
    const message = `value too large for store limit: ${size} bytes, limit ${DEFAULT_MAX_ENTRY_BYTES}`;
    await expect(r.master.put('k9', huge)).rejects.toMatchObject({
      name: 'StoreError',
      code: 'value_too_large',
      message,
    });
    await expect(c.put('k9', huge)).rejects.toMatchObject({ name: 'StoreError', code: 'value_too_large', message });
    // A value that grows past the limit on the master (push) is refused there; the clone's write rejects with it.
    await c.put(
      'grow',
      vector([string(big(0, 4 * MiB - 16)), string(big(1, 4 * MiB - 16)), string(big(2, 4 * MiB - 16))]),
    );
    await expect(c.push('grow', string(big(4, 4 * MiB - 16)))).rejects.toMatchObject({ code: 'value_too_large' });
    // A single string over the decoder's string limit is refused as well, with the reason.
    await expect(r.master.put('s', string('x'.repeat(5 * MiB)))).rejects.toThrow(
      /value too large for store limit: it holds a string of 5242880 bytes/,
    );
    expect(r.master.exists('k9')).toBe(false);
    await c.put('after', count(1));
    expect(c.get('after')).toEqual(count(1));
    // A fresh clone still syncs (including the 16 MiB 'grow' entry, alone in its chunk).
    const second = await r.clone();
    await second.c.whenInSync(20_000);
    expect(second.c.size).toBe(r.master.size);
  }, 60_000);

  it('already in a backend: the clone reports the failure with its code instead of retrying silently', async () => {
    const backend = createMemoryBackend();
    backend.transaction(() => backend.put({ key: string('bad'), value: huge }));
    backend.transaction(() => backend.put({ key: string('ok'), value: count(1) }));
    const r = await rig('poisoned', 0, 0, { backend });
    const { c, errors } = await r.clone();
    const failed = await c.whenInSync(10_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StoreError);
    expect((failed as StoreError).code).toBe('value_too_large');
    expect(errors.map((e) => e.code)).toEqual(['value_too_large']);
    expect(r.errors.map((e) => e.code)).toEqual(['value_too_large']);
    expect(c.status).not.toBe('in-sync');
  }, 30_000);
});

describe('the encoded size of a value', () => {
  it('is exactly the length of its encoding (property)', () => {
    fc.assert(
      fc.property(dataArb(), (d) => {
        expect(encodedSize(d)).toBe(encodeValue(d).length);
      }),
      { numRuns: 500 },
    );
    // At least 256 UTF-16 units: measured natively (Node) rather than by the loop.
    const long = ['é'.repeat(300), `${'x'.repeat(300)}😀`, `😀${'x'.repeat(300)}ü`, '\u20ac'.repeat(400)];
    for (const s of [
      '',
      'a'.repeat(31),
      'a'.repeat(32),
      'é'.repeat(200),
      '😀'.repeat(40000),
      'x'.repeat(70000),
      ...long,
    ]) {
      expect(encodedSize(string(s))).toBe(encodeValue(string(s)).length);
    }
  });
});

describe('the snapshot window in bytes', () => {
  it('sends the next chunk only while less than chunkWindowBytes are unacknowledged', () => {
    const backend = createMemoryBackend();
    const value = string('v'.repeat(300 * KiB));
    backend.transaction(() => {
      for (let i = 0; i < 10; i++) backend.put({ key: string(`k${i}`), value });
    });
    const timers = manualTimers();
    const sent: StoreMessage[] = [];
    const streams = new SnapshotStreams({
      name: 'win',
      backend,
      log: new ChangeLog(100, 0),
      chunkSize: 1000,
      chunkBytes: 256 * KiB, // each 300 KiB entry travels alone
      maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
      window: 8,
      windowBytes: 700 * KiB,
      timers,
      send: (_clone, msg) => sent.push(msg),
      epoch: 'e',
      seq: () => 0,
      onError: (e) => {
        throw e;
      },
    });
    const chunks = (): number[] => sent.flatMap((m) => (m.kind === StoreMsg.SnapshotChunk ? [m.index] : []));
    streams.start('c', 1);
    timers.runAll();
    // 0, 300 and 600 KiB in flight were under the window; 900 KiB is not.
    expect(chunks()).toEqual([0, 1, 2]);
    streams.ack('c', 1, 0);
    timers.runAll();
    expect(chunks()).toEqual([0, 1, 2, 3]);
    streams.ack('c', 1, 0); // a repeated acknowledgement frees nothing
    timers.runAll();
    expect(chunks()).toEqual([0, 1, 2, 3]);
    streams.ack('c', 1, 3); // acknowledges 1–3 at once
    timers.runAll();
    expect(chunks()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (let i = 4; i < 10; i++) {
      streams.ack('c', 1, i);
      timers.runAll();
    }
    expect(chunks()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sent.at(-1)?.kind).toBe(StoreMsg.SnapshotEnd);
    streams.cancelAll();
  });
});

/** Timers run by hand: `runAll` runs every due callback (zero-delay ones; long ones are left). */
function manualTimers() {
  let pending: { fn: () => void; ms: number; id: number }[] = [];
  let next = 0;
  return {
    now: () => 0,
    setTimeout: (fn: () => void, ms: number) => {
      pending.push({ fn, ms, id: ++next });
      return next;
    },
    clearTimeout: (id: unknown) => {
      pending = pending.filter((t) => t.id !== id);
    },
    runAll() {
      for (let t = pending.find((x) => x.ms === 0); t; t = pending.find((x) => x.ms === 0)) {
        pending = pending.filter((x) => x !== t);
        t.fn();
      }
    },
  };
}

describe('snapshot streams after a reconnect', () => {
  it('a chunk of an abandoned stream is never applied to the new one', async () => {
    // Deterministic: the clone attaches (stream 1), gets chunk 0 of it, attaches again (stream 2,
    // e.g. after a reconnect); a late chunk 0 of stream 1 then arrives after stream 2 began.
    const sent: StoreMessage[] = [];
    let now = 0;
    const timers = { now: () => now, setTimeout: () => ({}), clearTimeout: () => undefined };
    const core = new CloneCore({
      name: 'kv',
      cloneId: 'c1',
      timers,
      send: (_t, m) => void sent.push(m),
      staleInterval: 1e9,
      mutationBufferInterval: 1e9,
      masterTimeout: 1e9,
      resyncInterval: 100,
      masterReachable: () => true,
      maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
      onError: () => undefined,
    });
    await core.start();
    const attach1 = sent.at(-1)!;
    expect(attach1.kind).toBe(StoreMsg.Attach);
    const s1 = (attach1 as { stream: number }).stream;
    core.onMessage({ kind: StoreMsg.SnapshotBegin, epoch: 'e', seq: 5, stream: s1 });
    core.onMessage({
      kind: StoreMsg.SnapshotChunk,
      epoch: 'e',
      index: 0,
      entries: [[string('a'), count(1)]],
      stream: s1,
    });
    // A chunk out of order: the clone starts over with a new attach.
    core.onMessage({
      kind: StoreMsg.SnapshotChunk,
      epoch: 'e',
      index: 2,
      entries: [[string('z'), count(1)]],
      stream: s1,
    });
    const attach2 = sent.at(-1)! as { kind: number; stream: number };
    expect(attach2.kind).toBe(StoreMsg.Attach);
    expect(attach2.stream).not.toBe(s1);
    // The old stream's begin and chunk 0, late, then the new stream.
    core.onMessage({ kind: StoreMsg.SnapshotBegin, epoch: 'e', seq: 5, stream: s1 });
    core.onMessage({ kind: StoreMsg.SnapshotBegin, epoch: 'e', seq: 7, stream: attach2.stream });
    core.onMessage({
      kind: StoreMsg.SnapshotChunk,
      epoch: 'e',
      index: 0,
      entries: [[string('stale'), count(9)]],
      stream: s1,
    });
    core.onMessage({
      kind: StoreMsg.SnapshotChunk,
      epoch: 'e',
      index: 0,
      entries: [[string('a'), count(2)]],
      stream: attach2.stream,
    });
    core.onMessage({ kind: StoreMsg.SnapshotEnd, epoch: 'e', seq: 5, chunks: 1, stream: s1 });
    core.onMessage({ kind: StoreMsg.SnapshotEnd, epoch: 'e', seq: 7, chunks: 1, stream: attach2.stream });
    expect(core.status).toBe('in-sync');
    expect(core.seq).toBe(7);
    expect([...core.entries()]).toEqual([[string('a'), count(2)]]);
    now += 1;
    core.close();
  });
});

describe('store options and listeners (issue 9)', () => {
  it('refuses invalid options with a ConfigError naming the option and the range', async () => {
    const ep = new Endpoint({ name: 'solo' });
    cleanups.push(() => ep.close());
    for (const [opts, option] of [
      [{ chunkSize: 0 }, 'chunkSize'],
      [{ chunkBytes: 10 }, 'chunkBytes'],
      [{ chunkWindow: 1.5 }, 'chunkWindow'],
      [{ chunkWindowBytes: 100 }, 'chunkWindowBytes'],
      [{ heartbeatInterval: -1 }, 'heartbeatInterval'],
      [{ maxEntryBytes: 32 * MiB }, 'maxEntryBytes'],
      [{ backend: {} }, 'backend'],
    ] as const) {
      const err = await createMaster(ep, 'opts', opts as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).option).toBe(option);
    }
    await expect(createMaster(ep, 'opts', { chunkSize: 0 })).rejects.toThrow(
      /chunkSize: expected an integer from 1 to 100000, got 0/,
    );
    await expect(createClone(ep, 'opts', { resyncInterval: 0 })).rejects.toMatchObject({ option: 'resyncInterval' });
    await expect(createClone(ep, 'opts', { onError: 'no' as never })).rejects.toMatchObject({ option: 'onError' });
  });

  it('a throwing onChange listener goes to the error channel; the write settles and other listeners run', async () => {
    const ep = new Endpoint({ name: 'solo' });
    cleanups.push(() => ep.close());
    const errors: StoreError[] = [];
    const m = await createMaster(ep, 'listeners', { onError: (e) => errors.push(e) });
    cleanups.push(() => m.close());
    const seen: string[] = [];
    m.onChange(() => {
      throw new Error('listener bug');
    });
    m.onChange((ev) => seen.push(ev.type));
    const viaMethod: string[] = [];
    m.onError((e) => viaMethod.push(e.code));
    await m.put('a', count(1));
    expect(seen).toEqual(['insert']);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['listener_failed', "store listeners: a 'change' listener threw: listener bug"],
    ]);
    expect(viaMethod).toEqual(['listener_failed']);
    expect(m.get('a')).toEqual(count(1));
  });
});
