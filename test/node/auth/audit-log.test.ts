/**
 * The audit log file (src/node/auth/audit-log.ts): one JSON line per event, appended; reopened
 * after a rotation; a bounded buffer that drops and counts; failures reported, never thrown.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/auth/types.js';
import { formatAuditEvent, openAuditLog } from '../../../src/node/auth/audit-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'isobroker-audit-'));
  dirs.push(d);
  return d;
}
const lines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const ev = (i: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  kind: 'auth_failed',
  time: 1_000 + i,
  sub: `user${i}`,
  ip: '127.0.0.2',
  code: 'unauthenticated',
  ...extra,
});

describe('openAuditLog', () => {
  it('appends one JSON line per event, in order, to an existing file, with mode 0600 when it creates it', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.jsonl');
    const log = openAuditLog(path);
    for (let i = 0; i < 100; i++) log.sink(ev(i));
    await log.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = openAuditLog(path);
    again.sink({ kind: 'policy_reloaded', time: 1100, detail: 'line one\nline two', suppressed: 3 });
    await again.close();
    const got = lines(path);
    expect(got).toHaveLength(101);
    expect(got.map((l) => l.time)).toEqual(Array.from({ length: 101 }, (_, i) => 1_000 + i));
    expect(got[100]).toEqual({ time: 1100, kind: 'policy_reloaded', detail: 'line one\nline two', suppressed: 3 });
    expect(again.dropped).toBe(0);
  });

  it('writes only the known fields, strings capped, always one line', () => {
    const line = formatAuditEvent({
      ...ev(1),
      detail: 'x'.repeat(100_000),
      token: 'secret-token',
      body: 'payload',
    } as unknown as AuditEvent);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(line.length).toBeLessThan(2_000);
    expect(line).not.toContain('secret-token');
    expect(line).not.toContain('payload');
  });

  it('reopen() starts a new file after a rotation (rename), losing nothing', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.jsonl');
    const log = openAuditLog(path);
    for (let i = 0; i < 10; i++) log.sink(ev(i));
    await log.flush();
    renameSync(path, `${path}.1`);
    log.sink(ev(10)); // still goes to the renamed file (the open descriptor)
    log.reopen();
    for (let i = 11; i < 20; i++) log.sink(ev(i));
    await log.close();
    const old = lines(`${path}.1`).map((l) => l.time);
    const fresh = lines(path).map((l) => l.time);
    expect([...old, ...fresh]).toEqual(Array.from({ length: 20 }, (_, i) => 1_000 + i));
    expect(fresh).toContain(1019);
  });

  it('drops and counts events beyond the buffer, then says how many were dropped', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.jsonl');
    const one = formatAuditEvent(ev(0)).length;
    const log = openAuditLog(path, { maxBufferBytes: one * 10 });
    // The first event starts a write at once (it leaves the buffer); the next ones queue.
    for (let i = 0; i < 100; i++) log.sink(ev(i));
    expect(log.dropped).toBeGreaterThan(80);
    const dropped = log.dropped;
    await log.flush();
    log.sink(ev(1000));
    await log.close();
    const got = lines(path);
    expect(got.length).toBe(100 - dropped + 2);
    const notice = got.find((l) => l.code === 'audit_dropped');
    expect(notice?.kind).toBe('limit_exceeded');
    expect(notice?.detail).toContain(`${dropped} audit event`);
  });

  it('reports a path that cannot be written once, never throws, and recovers when it can', async () => {
    const dir = tempDir();
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const path = join(blocker, 'audit.jsonl');
    const errors: string[] = [];
    const log = openAuditLog(path, { onError: (e) => errors.push(`${e.code}: ${e.message}`) });
    for (let i = 0; i < 5; i++) {
      expect(() => log.sink(ev(i))).not.toThrow();
      await log.flush();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^write_failed: audit log .*cannot open \(ENOTDIR\)/);
    expect(log.dropped).toBe(5);
    rmSync(blocker);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(blocker);
    log.sink(ev(5));
    await log.close();
    const got = lines(path);
    expect(got[0]).toMatchObject({ code: 'audit_dropped', detail: expect.stringContaining('5 audit event') });
    expect(got[1]).toMatchObject({ time: 1005 });
    log.sink(ev(6)); // after close: ignored, no throw
  });
});
