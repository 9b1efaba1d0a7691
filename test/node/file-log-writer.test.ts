/** The file log writer in a temporary directory: header, batched appends, footer, rotation, errors. */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClosedError,
  IsobrokerError,
  KNOWN_HOSTS_LOG,
  createMemoryLogWriter,
  parseZeekTsv,
  toRecord,
  zeekCut,
} from 'isobroker';
import { zeekctlArchiveName } from '../../src/internal.js';
import { createFileLogWriter, type FileLogWriter } from 'isobroker/node';

/** Every `write` the writer makes, by file (counted through a wrapped `open`). */
const writes = vi.hoisted(() => ({ calls: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const handle = await fs.open(...args);
      const write = handle.write.bind(handle) as (...a: unknown[]) => unknown;
      Object.defineProperty(handle, 'write', {
        value: (...a: unknown[]) => {
          writes.calls.push(String(args[0]));
          return write(...a);
        },
      });
      return handle;
    },
  };
});

const T0 = Date.UTC(2026, 10, 26, 14, 40, 0);
let dir = '';
let writer: FileLogWriter | undefined;
afterEach(async () => {
  await writer?.close().catch(() => undefined);
  writer = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
  writes.calls = [];
});

function tmp(): string {
  dir = mkdtempSync(join(tmpdir(), 'isobroker-logs-'));
  return dir;
}
const host = (n: number) => toRecord(KNOWN_HOSTS_LOG, { ts: 1700000000 + n, host: `10.0.${n >> 8}.${n & 255}` });
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

describe('createFileLogWriter', () => {
  it('writes the header on the first record, appends in batches and the footer on close', async () => {
    let now = T0;
    writer = createFileLogWriter({ dir: tmp(), now: () => now, timeZone: 'utc' });
    const memory = createMemoryLogWriter({ now: () => now, timeZone: 'utc' });
    expect(existsSync(join(dir, 'known_hosts.log'))).toBe(false);
    for (let i = 0; i < 1000; i++) {
      writer.write(KNOWN_HOSTS_LOG, [host(i)]);
      memory.write(KNOWN_HOSTS_LOG, [host(i)]);
    }
    await writer.flush();
    expect(writes.calls).toEqual([join(dir, 'known_hosts.log')]); // 1000 records, one write
    const log = parseZeekTsv(read('known_hosts.log'));
    expect(log.header).toMatchObject({ path: 'known_hosts', open: '2026-11-26-14-40-00', close: undefined });
    expect(log.rows).toHaveLength(1000);
    writer.write(KNOWN_HOSTS_LOG, [host(1000), host(1001)]);
    memory.write(KNOWN_HOSTS_LOG, [host(1000), host(1001)]);
    now = T0 + 61_000;
    await writer.close();
    await memory.close();
    expect(writes.calls).toHaveLength(3); // the last batch, then the footer
    // The file holds exactly what the memory writer keeps for it.
    expect(read('known_hosts.log')).toBe(memory.text('known_hosts'));
    expect(read('known_hosts.log').endsWith('10.0.3.233\n#close\t2026-11-26-14-41-01\n')).toBe(true);
    expect(() => writer!.write(KNOWN_HOSTS_LOG, [host(1)])).toThrow(ClosedError);
    await expect(writer.rotate()).rejects.toThrow(ClosedError);
  });

  it('flushes on its own on the next turn, and with durable the data is synced', async () => {
    writer = createFileLogWriter({ dir: join(tmp(), 'deeper', 'logs'), durable: true, format: 'json' });
    writer.write(KNOWN_HOSTS_LOG, [host(1)]);
    // Nobody calls flush(): the record reaches the file by itself (real file I/O: poll for it).
    await vi.waitFor(
      () => expect(read('deeper/logs/known_hosts.log')).toBe('{"ts":1700000001.0,"host":"10.0.0.1"}\n'),
      {
        timeout: 5000,
        interval: 5,
      },
    );
    await writer.close();
    expect(read('deeper/logs/known_hosts.log')).toBe('{"ts":1700000001.0,"host":"10.0.0.1"}\n'); // JSON has no footer
  });

  it('rotates: closes with #close, renames like Zeek, and the next record opens a fresh file', async () => {
    let now = T0;
    writer = createFileLogWriter({ dir: tmp(), now: () => now, timeZone: 'utc' });
    writer.write(KNOWN_HOSTS_LOG, [host(1), host(2)]);
    now = T0 + 3_600_000;
    const rotation = writer.rotate();
    // Written while the rotation runs: these belong to the next file.
    writer.write(KNOWN_HOSTS_LOG, [host(3)]);
    await rotation;
    now = T0 + 3_601_000;
    writer.write(KNOWN_HOSTS_LOG, [host(4)]);
    await writer.flush();
    expect(readdirSync(dir).sort()).toEqual(['known_hosts.2026-11-26-14-40-00.log', 'known_hosts.log']);
    const old = parseZeekTsv(read('known_hosts.2026-11-26-14-40-00.log'));
    expect(old.header).toMatchObject({ open: '2026-11-26-14-40-00', close: '2026-11-26-15-40-00' });
    expect(zeekCut(old, ['host'])).toEqual([['10.0.0.1'], ['10.0.0.2']]);
    const fresh = parseZeekTsv(read('known_hosts.log'));
    expect(fresh.header).toMatchObject({ open: '2026-11-26-15-40-00', close: undefined });
    expect(zeekCut(fresh, ['host'])).toEqual([['10.0.0.3'], ['10.0.0.4']]);
    // A rotation with nothing open renames nothing; a name already taken gets a suffix.
    await writer.rotate();
    await writer.rotate();
    now = T0 + 3_600_000; // opened in the same second as the file before it
    writer.write(KNOWN_HOSTS_LOG, [host(5)]);
    await writer.rotate();
    expect(readdirSync(dir).sort()).toEqual([
      'known_hosts.2026-11-26-14-40-00.log',
      'known_hosts.2026-11-26-15-40-00-1.log',
      'known_hosts.2026-11-26-15-40-00.log',
    ]);
  });

  it('rotates every rotationInterval and loses nothing across rotations', async () => {
    writer = createFileLogWriter({ dir: tmp(), rotationInterval: 100 });
    let n = 0;
    const timer = setInterval(() => {
      const batch = Array.from({ length: 50 }, () => host(n++));
      writer!.write(KNOWN_HOSTS_LOG, batch);
    }, 5);
    // Real file I/O and the writer's own timers: write until at least two rotations happened.
    await vi.waitFor(() => expect(readdirSync(dir).length).toBeGreaterThanOrEqual(3), {
      timeout: 10_000,
      interval: 10,
    });
    clearInterval(timer);
    await writer.close();
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const hosts: string[] = [];
    for (const f of files.sort()) {
      const log = parseZeekTsv(read(f));
      expect(log.header.close, f).toBeDefined();
      expect(log.rows.length, f).toBeGreaterThan(0);
      hosts.push(...zeekCut(log, ['ts']).map(([ts]) => ts!));
    }
    // Every record exactly once (file names sort by time only to the second, so compare as sets).
    expect(hosts).toHaveLength(n);
    expect(new Set(hosts).size).toBe(n);
  });

  it('moves a file left by an earlier run aside instead of truncating it', async () => {
    writeFileSync(join(tmp(), 'known_hosts.log'), 'left over\n');
    writer = createFileLogWriter({ dir, rotatedName: zeekctlArchiveName, timeZone: 'utc' });
    writer.write(KNOWN_HOSTS_LOG, [host(1)]);
    await writer.flush();
    const moved = readdirSync(dir).find((f) => f !== 'known_hosts.log')!;
    expect(moved).toMatch(/^\d{4}-\d\d-\d\d$/); // zeekctl's date directory
    const [inner] = readdirSync(join(dir, moved));
    expect(inner).toMatch(/^known_hosts\.\d\d:\d\d:\d\d-\d\d:\d\d:\d\d\.log$/);
    expect(read(join(moved, inner!))).toBe('left over\n');
    expect(zeekCut(parseZeekTsv(read('known_hosts.log')), ['host'])).toEqual([['10.0.0.1']]);
  });

  it('reports failures to onError, rejects the flush, and keeps the data for the next one', async () => {
    const errors: IsobrokerError[] = [];
    const path = join(tmp(), 'not-a-dir');
    writeFileSync(path, '');
    writer = createFileLogWriter({ dir: path, onError: (e) => errors.push(e), timeZone: 'utc' });
    writer.write(KNOWN_HOSTS_LOG, [host(1)]);
    await expect(writer.flush()).rejects.toThrow(IsobrokerError);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ code: 'write_failed' });
    expect(errors[0]!.message).toContain('known_hosts.log');
    rmSync(path);
    writer.write(KNOWN_HOSTS_LOG, [host(2)]);
    await writer.flush();
    expect(zeekCut(parseZeekTsv(read('not-a-dir/known_hosts.log')), ['host'])).toEqual([['10.0.0.1'], ['10.0.0.2']]);
  });
});
