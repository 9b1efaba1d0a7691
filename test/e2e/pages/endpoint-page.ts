/** Test page: a browser Endpoint (the "." entry, the browser's own WebSocket) driven by the test. */
import { Endpoint, address, count, makeEvent, real, toText, type Message } from 'isobroker';

const received: Message[] = [];
let ep: Endpoint | undefined;

const api = {
  async start(url: string): Promise<string> {
    ep = new Endpoint({ name: 'browser-page', role: 'browser', retry: 200 });
    ep.subscribe('demo/', (m) => received.push(m));
    await ep.peer(url);
    return ep.id;
  },
  received(): { topic: string; type: string; text: string }[] {
    return received.map((m) => ({ topic: m.topic, type: m.data.type, text: toText(m.data) }));
  },
  publish(): void {
    ep!.publish('from-browser/event', makeEvent('clicked', [count(42), address('10.0.0.1'), real(1.5)]));
  },
  hasRoute(topic: string): boolean {
    return ep!.hasRoute(topic);
  },
};

(globalThis as unknown as { isobrokerTest: typeof api }).isobrokerTest = api;
document.body.dataset.ready = 'yes';
