/**
 * Test page for the browser-side auth checks: raw WebSockets (to see exactly what the browser
 * gets: refused, or the JSON v1 ack/error and the close) and a browser Endpoint that peers with
 * the `bearer.<jwt>` subprotocol (`bearerProtocols`).
 */
import { Endpoint, bearerProtocols } from 'isobroker';

/** What one raw JSON v1 attempt saw. */
interface Attempt {
  readonly opened: boolean;
  readonly protocol: string;
  readonly messages: string[];
  readonly closeCode: number | undefined;
  readonly error: boolean;
}

let ep: Endpoint | undefined;
const received: string[] = [];

const api = {
  /** Opens `url` (optionally offering `protocols`), sends the topic array, and reports for `ms`. */
  jsonAttempt(url: string, topics: string[], protocols: string[] | null, ms: number): Promise<Attempt> {
    return new Promise((resolve) => {
      const messages: string[] = [];
      let opened = false;
      let error = false;
      const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
      const done = (closeCode: number | undefined): void => {
        clearTimeout(timer);
        resolve({ opened, protocol: ws.protocol, messages, closeCode, error });
        ws.close();
      };
      const timer = setTimeout(() => done(undefined), ms);
      ws.onopen = () => {
        opened = true;
        ws.send(JSON.stringify(topics));
      };
      ws.onerror = () => {
        error = true;
      };
      ws.onmessage = (e) => void messages.push(String(e.data));
      ws.onclose = (e) => done(e.code);
    });
  },
  /** A bearerProtocols offer for `token` (the SDK's helper). */
  offer(token: string): string[] {
    return bearerProtocols(token);
  },
  /** A browser Endpoint subscribed to everything, peering natively with `peer(url, { protocols })`. */
  async peerNative(url: string, token: string): Promise<void> {
    ep = new Endpoint({ name: 'browser-auth-page', linkKind: 'leaf', retry: 200 });
    ep.subscribe('', (m) => void received.push(m.topic));
    await ep.peer(url, { protocols: bearerProtocols(token) });
  },
  received(): string[] {
    return [...received];
  },
  async stop(): Promise<void> {
    await ep?.close();
  },
};

(globalThis as unknown as { authTest: typeof api }).authTest = api;
document.body.dataset.ready = 'yes';
