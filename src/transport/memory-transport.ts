/**
 * An in-memory transport pair for tests and simulations: frames are delivered asynchronously (on
 * a later macrotask), in order, with an optional delay. Binary frames are copied, as a network
 * would.
 */
import { TransportInbox, type Frame, type Transport, type TransportHandlers } from './transport.js';

export interface MemoryPairOptions {
  /** Delay of each frame in milliseconds. @default 0 */
  readonly latencyMs?: number;
  readonly remoteA?: string;
  readonly remoteB?: string;
}

class MemoryTransport implements Transport {
  readonly inbox = new TransportInbox();
  other: MemoryTransport | undefined;
  private inFlight = 0;

  constructor(
    readonly remote: string,
    private readonly latencyMs: number,
  ) {}

  attach(handlers: TransportHandlers): void {
    this.inbox.attach(handlers);
  }

  send(frame: Frame): void {
    const other = this.other;
    if (this.inbox.isClosed || !other) return;
    const copy = typeof frame === 'string' ? frame : frame.slice();
    this.inFlight += typeof copy === 'string' ? copy.length : copy.byteLength;
    setTimeout(() => {
      this.inFlight -= typeof copy === 'string' ? copy.length : copy.byteLength;
      other.inbox.message(copy);
    }, this.latencyMs);
  }

  bufferedAmount(): number {
    return this.inFlight;
  }

  close(code = 1000, reason = ''): void {
    if (this.inbox.isClosed) return;
    this.inbox.close(code, reason);
    const other = this.other;
    if (other) setTimeout(() => other.inbox.close(code, reason), this.latencyMs);
  }
}

/** Two connected transports: what one sends, the other receives. */
export function memoryPair(opts: MemoryPairOptions = {}): [Transport, Transport] {
  const latency = opts.latencyMs ?? 0;
  const a = new MemoryTransport(opts.remoteA ?? 'memory:a', latency);
  const b = new MemoryTransport(opts.remoteB ?? 'memory:b', latency);
  a.other = b;
  b.other = a;
  return [a, b];
}
