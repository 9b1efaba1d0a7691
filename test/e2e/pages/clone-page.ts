/** Test page: a store clone persisted in IndexedDB, rendered into the DOM as it changes. */
import { Endpoint, createClone, toText, type StoreClone } from 'isobroker';
import { createIndexedDbPersistence, reconnectOnOnline } from 'isobroker/browser';

let clone: StoreClone | undefined;

function render(): void {
  if (!clone) return;
  const rows = [...clone.entries()].map(([k, v]) => `${toText(k)}=${toText(v)}`).sort();
  document.getElementById('entries')!.textContent = rows.join(';');
  document.getElementById('status')!.textContent = clone.status;
}

async function start(url: string): Promise<void> {
  const ep = new Endpoint({ name: 'browser-clone', role: 'browser', retry: 200, maxRetry: 500 });
  reconnectOnOnline(ep);
  void ep.peer(url).catch(() => undefined);
  clone = await createClone(ep, 'kv', {
    persistence: createIndexedDbPersistence('kv'),
    resyncInterval: 200,
    masterTimeout: 1000,
  });
  clone.onChange(render);
  clone.onStatus(render);
  render();
}

document.body.innerHTML = '<div id="status">loading</div><div id="entries"></div>';
(globalThis as unknown as { startClone: typeof start }).startClone = start;
document.body.dataset.ready = 'yes';
