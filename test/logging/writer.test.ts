/** The log writer seam and its memory implementation; rotated file names. */
import { describe, expect, it } from 'vitest';
import {
  CONN_LOG,
  ClosedError,
  KNOWN_HOSTS_LOG,
  ValueError,
  createMemoryLogWriter,
  defineLogStream,
  parseZeekTsv,
  string,
  toRecord,
  vector,
  zeekCut,
  type RotationInfo,
} from 'isobroker';
import { zeekRotatedName, zeekctlArchiveName } from '../../src/internal.js';

const T0 = Date.UTC(2026, 10, 26, 14, 40, 0);
const host = (ip: string, ts = 1700000000) => toRecord(KNOWN_HOSTS_LOG, { ts, host: ip });

/** A clock the test moves. */
function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (ms: number) => (t = ms) };
}

describe('rotated file names', () => {
  const info: RotationInfo = {
    path: 'conn',
    openedAt: T0,
    closedAt: Date.UTC(2026, 10, 26, 15, 0, 0),
    extension: 'log',
    timeZone: 'utc',
  };
  it("Zeek's default: <path>.<open %Y-%m-%d-%H-%M-%S>.log", () => {
    expect(zeekRotatedName(info)).toBe('conn.2026-11-26-14-40-00.log');
  });
  it("ZeekControl's archive: <open date>/<path>.<open %H:%M:%S>-<close %H:%M:%S>.log", () => {
    expect(zeekctlArchiveName(info)).toBe('2026-11-26/conn.14:40:00-15:00:00.log');
  });
});

describe('createMemoryLogWriter', () => {
  it('keeps one file per path: header on the first record, records, footer on close', async () => {
    const c = clock();
    const w = createMemoryLogWriter({ now: c.now, timeZone: 'utc' });
    expect(w.text('known_hosts')).toBe('');
    w.write(KNOWN_HOSTS_LOG, [host('10.0.0.1'), host('10.0.0.2')]);
    w.write(KNOWN_HOSTS_LOG, []);
    w.write(KNOWN_HOSTS_LOG, [host('10.0.0.3')]);
    expect(w.paths()).toEqual(['known_hosts']);
    expect(w.lines('known_hosts')).toEqual([
      '1700000000.000000\t10.0.0.1',
      '1700000000.000000\t10.0.0.2',
      '1700000000.000000\t10.0.0.3',
    ]);
    expect(w.text('known_hosts').split('\n').slice(4, 8)).toEqual([
      '#path\tknown_hosts',
      '#open\t2026-11-26-14-40-00',
      '#fields\tts\thost',
      '#types\ttime\taddr',
    ]);
    c.set(T0 + 5000);
    await w.flush();
    await w.close();
    expect(w.text('known_hosts').endsWith('1700000000.000000\t10.0.0.3\n#close\t2026-11-26-14-40-05\n')).toBe(true);
    expect(() => w.write(KNOWN_HOSTS_LOG, [host('10.0.0.4')])).toThrow(ClosedError);
    await w.close(); // twice is fine
  });

  it('rotates: the closed file gets the rotated name, the next record opens a fresh file', async () => {
    const c = clock();
    const w = createMemoryLogWriter({ now: c.now, timeZone: 'utc' });
    w.write(KNOWN_HOSTS_LOG, [host('10.0.0.1')]);
    c.set(T0 + 3_600_000);
    await w.rotate();
    expect([...w.files().keys()]).toEqual(['known_hosts.2026-11-26-14-40-00.log']);
    const rotated = w.files().get('known_hosts.2026-11-26-14-40-00.log')!;
    expect(rotated.endsWith('#close\t2026-11-26-15-40-00\n')).toBe(true);
    expect(w.text('known_hosts')).toBe('');
    c.set(T0 + 3_700_000);
    w.write(KNOWN_HOSTS_LOG, [host('10.0.0.2')]);
    const fresh = parseZeekTsv(w.text('known_hosts'));
    expect(fresh.header.open).toBe('2026-11-26-15-41-40');
    expect(zeekCut(fresh, ['host'])).toEqual([['10.0.0.2']]);
    expect(w.lines('known_hosts')).toHaveLength(2);
    await w.rotate();
    expect([...w.files().keys()].sort()).toEqual([
      'known_hosts.2026-11-26-14-40-00.log',
      'known_hosts.2026-11-26-15-41-40.log',
    ]);
  });

  it('writes nothing of a batch holding a malformed record, and keeps paths to one shape', () => {
    const w = createMemoryLogWriter({ timeZone: 'utc' });
    expect(() => w.write(KNOWN_HOSTS_LOG, [host('10.0.0.1'), vector([string('x')])])).toThrow(ValueError);
    expect(w.text('known_hosts')).toBe('');
    expect(w.lines('known_hosts')).toEqual([]);
    w.write(KNOWN_HOSTS_LOG, [host('10.0.0.1')]);
    const other = defineLogStream({ id: 'Other::LOG', path: 'known_hosts', columns: [{ name: 'x', type: 'count' }] });
    expect(() => w.write(other, [toRecord(other, [1])])).toThrow(/whose open file has other columns/);
    // An equal definition (e.g. decoded again from a peer) joins the file.
    const again = defineLogStream({
      id: 'Known::HOSTS_LOG',
      columns: KNOWN_HOSTS_LOG.columns.map((c) => ({ name: c.name, type: c.type })),
    });
    w.write(again, [toRecord(again, { ts: 1, host: '10.0.0.9' })]);
    expect(w.lines('known_hosts')).toHaveLength(2);
  });

  it('writes JSON lines without header or footer, and takes a custom rotated name', async () => {
    const w = createMemoryLogWriter({ format: 'json', rotatedName: (i) => `${i.path}-old.${i.extension}` });
    w.write(CONN_LOG, [
      toRecord(CONN_LOG, {
        ts: 1.5,
        uid: 'C1',
        'id.orig_h': '::1',
        'id.orig_p': 1,
        'id.resp_h': '::2',
        'id.resp_p': 2,
        proto: 'tcp',
      }),
    ]);
    const line =
      '{"ts":1.5,"uid":"C1","id.orig_h":"::1","id.orig_p":1,"id.resp_h":"::2","id.resp_p":2,"proto":"tcp","missed_bytes":0}';
    expect(w.text('conn')).toBe(`${line}\n`);
    await w.rotate();
    expect(w.files().get('conn-old.log')).toBe(`${line}\n`);
    expect(() => createMemoryLogWriter({ format: 'xml' as never })).toThrow(/unknown log format/);
  });
});
