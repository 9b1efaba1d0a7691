/**
 * Store failures with real processes: a hub hosting a SQLite master killed with SIGKILL in the
 * middle of acknowledged writes, and a clone cut off by killing the proxy hub between it and the
 * master. Clones stay the same objects throughout; they resync by themselves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, count, createClone, createMaster, toText, type StoreClone } from 'isobroker';
import { listen } from 'isobroker/node';
import { killAll, spawnCli, startHub } from '../support/processes.js';
import { until } from '../support/endpoints.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await killAll();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-store-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function endpoint(name: string): Endpoint {
  const ep = new Endpoint({ name, retry: 100, maxRetry: 300 });
  cleanup.push(() => ep.close());
  return ep;
}

async function clone(ep: Endpoint, name: string): Promise<StoreClone> {
  const c = await createClone(ep, name, { resyncInterval: 200, masterTimeout: 1000 });
  cleanup.push(() => c.close());
  return c;
}

describe('a SQLite master killed with SIGKILL', () => {
  it('keeps every acknowledged write, and clones converge without being recreated', async () => {
    const dir = tempDir();
    const spec = `kv:sqlite:${join(dir, 'kv.sqlite')}`;
    const hub = await startHub(['--master', spec]);
    const ep = endpoint('writer');
    await ep.peer(hub.url);
    const c = await clone(ep, 'kv');
    await c.whenInSync(10_000);

    const acked: number[] = [];
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await c.put(`k${i}`, count(i));
          acked.push(i);
        } catch {
          /* refused while the master was down: not acknowledged */
        }
      }
    })();
    await until(() => acked.length >= 300, 20_000, '300 acknowledged writes');
    await hub.cli.kill('SIGKILL');
    const ackedAtKill = acked.length;
    const again = await startHub(['--master', spec], `127.0.0.1:${hub.port}`);
    await until(() => acked.length >= ackedAtKill + 100, 20_000, 'writes after the restart');
    stop = true;
    await writer;
    await c.whenInSync(10_000);

    for (const i of acked) expect(toText(c.get(`k${i}`)), `acknowledged k${i}`).toBe(String(i));
    // A fresh clone elsewhere sees exactly what the surviving clone sees.
    const other = await clone(endpoint('reader'), 'kv');
    await other.endpoint.peer(again.url);
    await other.whenInSync(10_000);
    await until(() => other.size === c.size, 10_000, 'same size');
    expect(toText(other.keys())).toBe(toText(c.keys()));
  });

  it('refuses to start on a corrupt database file with a clear error', async () => {
    const dir = tempDir();
    const path = join(dir, 'broken.sqlite');
    writeFileSync(path, 'this is not a SQLite database, just garbage bytes '.repeat(200));
    const hub = spawnCli(['hub', '--listen', '127.0.0.1:0', '--master', `kv:sqlite:${path}`]);
    expect(await hub.exited).not.toBe(0);
    const err = hub.stderr.join('\n');
    expect(err).toContain(path);
    expect(hub.stdout.join('\n')).not.toContain('ready');
  });
});

describe('a clone cut off by killing the proxy in front of it', () => {
  it('resyncs by delta: bytes proportional to the changes missed, not to the store', async () => {
    const masterEp = endpoint('master');
    const listener = await listen(masterEp);
    cleanup.push(() => listener.close());
    const master = await createMaster(masterEp, 'big', { heartbeatInterval: 200 });
    cleanup.push(() => master.close());
    const N = 10_000;
    await Promise.all(Array.from({ length: N }, (_, i) => master.put(count(i), `value-${i}-${'x'.repeat(40)}`)));

    const proxy = await startHub(['--peer', listener.url]);
    const ep = endpoint('remote');
    await ep.peer(proxy.url);
    const c = await clone(ep, 'big');
    await c.whenInSync(20_000);
    expect(c.size).toBe(N);
    const snapshotBytes = master.resyncBytes.snapshot;
    expect(snapshotBytes).toBeGreaterThan(N * 40);

    await proxy.cli.kill('SIGKILL');
    await until(() => c.status !== 'in-sync', 5000, 'the clone notices');
    const changed = N / 100;
    await Promise.all(Array.from({ length: changed }, (_, i) => master.put(count(i * 100), `changed-${i}`)));
    await startHub(['--peer', listener.url], `127.0.0.1:${proxy.port}`);
    await c.whenInSync(20_000);
    await until(() => toText(c.get(count((changed - 1) * 100))) === `changed-${changed - 1}`, 10_000, 'changes arrive');

    const { delta, snapshot } = master.resyncBytes;
    expect(snapshot).toBe(snapshotBytes); // no second snapshot
    expect(delta).toBeGreaterThan(0);
    expect(delta).toBeLessThan(snapshotBytes * 0.05);
    expect(c.size).toBe(N);
  });
});
