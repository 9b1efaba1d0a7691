/**
 * The hub's forwarding path: the leaves that get the same batch of relayed messages in one turn
 * share one frame (the same bytes handed to every transport), while each leaf's send buffer keeps
 * its own bounds — a slow leaf overflows alone and never holds the others back.
 */
import { describe, expect, it } from 'vitest';
import { count } from 'isobroker';
import {
  MIN_NATIVE_PROTOCOL_VERSION,
  MessageKind,
  decodeFrame,
  decodeValue,
  encodeDataMessage,
  encodeFrame,
  encodeMessage,
  encodeValue,
  type DataMessage,
} from '../../src/codec/native/messages.js';
import { resolveLinks, type LinksOptions } from '../../src/endpoint/links.js';
import { Overlay } from '../../src/endpoint/overlay.js';
import type { Frame, Transport, TransportHandlers } from '../../src/transport/transport.js';
import { idFromBytes, idToBytes } from '../../src/util/ids.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Manual timers: nothing fires until the test calls `advance`. */

/** A connection whose far side is the test: records what the hub sends, reports a set backlog. */
class TestLink implements Transport {
  readonly sent: Frame[] = [];
  buffered = 0;
  closedWith: { code: number; reason: string } | undefined;
  private handlers: TransportHandlers | undefined;
  constructor(readonly remote: string) {}
  send(frame: Frame): void {
    if (!this.closedWith) this.sent.push(frame);
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  close(code = 1000, reason = ''): void {
    if (this.closedWith) return;
    this.closedWith = { code, reason };
    this.handlers?.onClose(code, reason);
  }
  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  /** The peer sends one frame of these messages. */
  receive(msgs: readonly Uint8Array[]): void {
    this.handlers!.onMessage(encodeFrame(msgs));
  }
  /** Data messages in the frames the hub sent, frame by frame (control frames left out). */
  dataFrames(): { frame: Uint8Array; msgs: DataMessage[] }[] {
    const out: { frame: Uint8Array; msgs: DataMessage[] }[] = [];
    for (const f of this.sent) {
      const msgs = decodeFrame(f as Uint8Array).filter((m): m is DataMessage => m.kind === MessageKind.Data);
      if (msgs.length > 0) out.push({ frame: f as Uint8Array, msgs });
    }
    return out;
  }
}

const idOf = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const HUB = idOf(1);
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => queueMicrotask(r));
};

function hub(leaves: LinksOptions['leaves'] = {}) {
  const timers = new ManualTimers();
  const overlay = new Overlay(
    {
      selfId: HUB,
      selfName: 'hub',
      selfRole: 'hub',
      sendBufferSize: 8192,
      overflowPolicy: 'drop_oldest',
      highWaterMark: 64 * 1024,
      maxBatch: 1024,
      pingInterval: 0,
      pingTimeout: 0,
      timers,
      links: resolveLinks({ leaves }),
      ttl: 16,
      maxSubscriptions: 100,
      interestInterval: 0,
      tombstoneTime: 60_000,
    },
    {
      deliver: () => {},
      status: () => {},
      error: () => {},
      established: () => {},
      closed: () => {},
    },
  );
  /** A leaf joins: hello and its subscriptions. */
  const leaf = (n: number, filter: string[]): TestLink => {
    const link = new TestLink(`leaf-${n}`);
    overlay.attach(link, false);
    const id = idToBytes(idOf(n));
    link.receive([
      encodeMessage({
        kind: MessageKind.Hello,
        version: MIN_NATIVE_PROTOCOL_VERSION,
        id,
        name: `leaf-${n}`,
        role: 'test',
        credential: null,
        link: 'leaf',
      }),
      encodeMessage({ kind: MessageKind.Announce, origin: id, version: 1, name: `leaf-${n}`, filter, neighbors: [] }),
    ]);
    return link;
  };
  return { timers, overlay, leaf };
}

/** `n` data messages of the publisher `pub` on `topic`, values count(first…). */
function batch(pub: number, topic: string, first: number, n: number): Uint8Array[] {
  const origin = idToBytes(idOf(pub));
  return Array.from({ length: n }, (_, i) =>
    encodeDataMessage(topic, origin, 1000 + first + i, 16, encodeValue(count(BigInt(first + i)))),
  );
}

const values = (msgs: readonly DataMessage[]): bigint[] =>
  msgs.map((m) => (decodeValue(m.valueBytes) as { value: bigint }).value);

describe('shared frames on the forwarding path', () => {
  it('ten leaves that get the same batch get one frame: the same bytes, stamped as the hub', async () => {
    const h = hub();
    const subs = Array.from({ length: 10 }, (_, i) => h.leaf(10 + i, ['news/']));
    const pub = h.leaf(2, []);
    await turns();
    pub.receive(batch(2, 'news/today', 0, 50));
    await turns();
    const frames = subs.map((s) => s.dataFrames());
    for (const f of frames) expect(f).toHaveLength(1);
    // One frame object, handed to all ten transports.
    for (const f of frames) expect(f[0]!.frame).toBe(frames[0]![0]!.frame);
    const msgs = frames[0]![0]!.msgs;
    expect(values(msgs)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    for (const [i, m] of msgs.entries()) {
      expect(m.topic).toBe('news/today');
      expect(idFromBytes(m.origin)).toBe(HUB);
      expect(m.ttl).toBe(15);
      if (i > 0) expect(m.seq).toBe(msgs[i - 1]!.seq + 1);
    }
    expect(h.overlay.counters.forwarded).toBe(500);
    expect(pub.dataFrames()).toHaveLength(0);
  });

  it('leaves that get different batches get frames of their own', async () => {
    const h = hub();
    const a = h.leaf(10, ['a/']);
    const b = h.leaf(11, ['a/', 'b/']);
    const pub = h.leaf(2, []);
    await turns();
    pub.receive([...batch(2, 'a/x', 0, 3), ...batch(2, 'b/x', 3, 2)]);
    await turns();
    const [fa] = a.dataFrames();
    const [fb] = b.dataFrames();
    expect(values(fa!.msgs)).toEqual([0n, 1n, 2n]);
    expect(values(fb!.msgs)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(fa!.frame).not.toBe(fb!.frame);
    // The messages both got are the same bytes in both frames.
    const decodedA = decodeFrame(fa!.frame);
    const decodedB = decodeFrame(fb!.frame);
    for (let i = 0; i < 3; i++) expect(decodedB[i]).toEqual(decodedA[i]);
  });

  it('a slow leaf overflows its own bounded buffer (drop_oldest) and the others get everything, shared', async () => {
    const h = hub({ bufferSize: 20, overflowPolicy: 'drop_oldest' });
    const subs = Array.from({ length: 5 }, (_, i) => h.leaf(10 + i, ['news/']));
    const slow = subs[2]!;
    const pub = h.leaf(2, []);
    await turns();
    slow.buffered = 1024 * 1024; // above the high-water mark: nothing is written to it
    for (let round = 0; round < 3; round++) {
      pub.receive(batch(2, 'news/x', round * 15, 15));
      await turns();
    }
    const fast = subs.filter((s) => s !== slow);
    for (const s of fast) {
      const f = s.dataFrames();
      // A batch leaves once it holds half the buffer's limit (10): 10 + 5 per round.
      expect(f).toHaveLength(6);
      expect(values(f.flatMap((x) => x.msgs))).toEqual(Array.from({ length: 45 }, (_, i) => BigInt(i)));
      for (let k = 0; k < f.length; k++) expect(f[k]!.frame).toBe(fast[0]!.dataFrames()[k]!.frame);
    }
    expect(slow.dataFrames()).toHaveLength(0);
    const session = h.overlay.peers().find((p) => p.transport === slow)!;
    // Its queue is bounded by its own limit, in messages and bytes: 20 held, 25 dropped.
    expect(session.stats()).toMatchObject({ queued: 20, overflows: 25 });
    expect(session.stats().queuedBytes).toBeLessThanOrEqual(20 * 64);
    slow.buffered = 0;
    h.timers.advance(10); // the congestion poll
    await turns();
    expect(values(slow.dataFrames().flatMap((x) => x.msgs))).toEqual(
      Array.from({ length: 20 }, (_, i) => BigInt(25 + i)),
    );
    for (const s of fast) expect(s.closedWith).toBeUndefined();
  });

  it('a slow leaf with policy disconnect is dropped alone; the others keep receiving', async () => {
    const h = hub({ bufferSize: 10, overflowPolicy: 'disconnect' });
    const subs = Array.from({ length: 4 }, (_, i) => h.leaf(10 + i, ['news/']));
    const slow = subs[0]!;
    const pub = h.leaf(2, []);
    await turns();
    slow.buffered = 1024 * 1024;
    pub.receive(batch(2, 'news/x', 0, 8));
    await turns();
    pub.receive(batch(2, 'news/x', 8, 8));
    await turns();
    expect(slow.closedWith).toBeDefined();
    const errors = slow.sent.flatMap((f) => decodeFrame(f as Uint8Array)).filter((m) => m.kind === MessageKind.Error);
    expect(errors.map((m) => (m as { code: string }).code)).toContain('buffer_overflow');
    for (const s of subs.slice(1)) {
      expect(s.closedWith).toBeUndefined();
      expect(values(s.dataFrames().flatMap((x) => x.msgs))).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i)));
    }
    const before = subs[1]!.dataFrames().length;
    pub.receive(batch(2, 'news/x', 16, 1));
    await turns();
    for (const s of subs.slice(1)) {
      const f = s.dataFrames();
      expect(f).toHaveLength(before + 1);
      expect(values(f[before]!.msgs)).toEqual([16n]);
      expect(f[before]!.frame).toBe(subs[1]!.dataFrames()[before]!.frame);
    }
  });
});
