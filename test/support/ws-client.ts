/** A raw `ws` client for protocol tests: sends frames, collects what arrives, waits for closes. */
import WebSocket from 'ws';

export interface RawClient {
  readonly ws: WebSocket;
  readonly texts: string[];
  readonly binaries: Uint8Array[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Waits until `n` text frames arrived. */
  waitTexts(n: number, ms?: number): Promise<string[]>;
  close(): void;
}

export async function rawClient(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { headers });
  const texts: string[] = [];
  const binaries: Uint8Array[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('message', (data, isBinary) => {
    if (isBinary) binaries.push(new Uint8Array(data as Buffer));
    else texts.push(data.toString());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return {
    ws,
    texts,
    binaries,
    closed,
    async waitTexts(n, ms = 5000) {
      const start = Date.now();
      while (texts.length < n) {
        if (Date.now() - start > ms)
          throw new Error(`timed out waiting for ${n} text frames, got ${texts.length}: ${texts.join('\n')}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return texts;
    },
    close: () => ws.close(),
  };
}

/** Connects a JSON v1 client: sends the handshake and waits for the ack. */
export async function jsonClient(url: string, subscriptions: readonly string[]): Promise<RawClient> {
  const c = await rawClient(url);
  c.ws.send(JSON.stringify(subscriptions));
  await c.waitTexts(1);
  const ack = JSON.parse(c.texts.shift()!) as { type: string };
  if (ack.type !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(ack)}`);
  return c;
}
