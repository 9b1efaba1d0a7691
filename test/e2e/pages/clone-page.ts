/** Test page: a store clone persisted in IndexedDB, rendered into the DOM as it changes. */
import { Endpoint, createClone, toText, type StoreClone } from 'isobroker';
import { createIndexedDbPersistence, reconnectOnOnline } from 'isobroker/browser';

let clone: StoreClone | undefined;
let persistence: ReturnType<typeof createIndexedDbPersistence> | undefined;

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
  persistence = createIndexedDbPersistence('kv');
  clone = await createClone(ep, 'kv', {
    persistence,
    resyncInterval: 200,
    masterTimeout: 1000,
  });
  clone.onChange(render);
  clone.onStatus(render);
  render();
}

document.body.innerHTML = '<div id="status">loading</div><div id="entries"></div>';
/** Resolves once every change the clone has shown is committed to IndexedDB. */
async function flushClone(): Promise<void> {
  await persistence?.flush();
}

Object.assign(globalThis, { startClone: start, flushClone });
document.body.dataset.ready = 'yes';
