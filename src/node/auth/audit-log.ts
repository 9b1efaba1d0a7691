/**
 * The audit log file: JSON Lines, one `AuditEvent` per line, appended (created with mode 0600).
 *
 * The sink never blocks and never throws into its caller: events wait in a buffer bounded in
 * bytes and are written in batches, one write at a time. When the disk cannot keep up and the
 * buffer is full, events are dropped and counted; the next batch that reaches the file starts
 * with a `limit_exceeded` record (code `audit_dropped`) saying how many. A failed open or write
 * goes to `onError` (once per run of failures) and its events count as dropped; the next event
 * tries again.
 *
 * `reopen()` closes the file after the batch under way and opens the path again, for log
 * rotation (the CLI calls it on SIGHUP). Only the event's known fields are written, strings
 * capped in length, so a record is always one line and never larger than a few KiB.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { IsobrokerError } from '../../errors.js';
import type { AuditEvent, AuditSink } from '../../auth/types.js';

/** Options of `openAuditLog`. */
export interface AuditLogOptions {
  /** Bytes of events that may wait for the disk; beyond this, events are dropped. @default 4 MiB */
  readonly maxBufferBytes?: number;
  /** Receives open and write failures (code `write_failed`), once per run of failures. */
  readonly onError?: (error: IsobrokerError) => void;
}

/** An open audit log file. */
export interface AuditLog {
  /** Queues an event; never throws, never blocks. */
  readonly sink: AuditSink;
  /** Closes the file (after the write under way) and opens the path again (log rotation). */
  reopen(): void;
  /** Resolves once every event queued so far was written (or dropped). */
  flush(): Promise<void>;
  /** Writes what is queued and closes the file; later events are ignored. */
  close(): Promise<void>;
  /** Events dropped so far (buffer full, or the file could not be written). */
  readonly dropped: number;
}

/** Default of `AuditLogOptions.maxBufferBytes`. */
export const DEFAULT_AUDIT_BUFFER_BYTES = 4 * 1024 * 1024;

const MAX_FIELD_CHARS = 1024;
const FIELDS = ['sub', 'ip', 'remote', 'protocol', 'subject', 'code', 'detail'] as const;

const cap = (s: string): string => (s.length > MAX_FIELD_CHARS ? `${s.slice(0, MAX_FIELD_CHARS)}…` : s);

/** One event as one JSON line (known fields only, strings capped). */
export function formatAuditEvent(event: AuditEvent): string {
  const out: Record<string, string | number> = {
    time: typeof event.time === 'number' && Number.isFinite(event.time) ? event.time : Date.now(),
    kind: typeof event.kind === 'string' ? cap(event.kind) : 'unknown',
  };
  for (const f of FIELDS) {
    const v = event[f];
    if (typeof v === 'string') out[f] = cap(v);
  }
  if (typeof event.suppressed === 'number' && Number.isFinite(event.suppressed)) out.suppressed = event.suppressed;
  return `${JSON.stringify(out)}\n`;
}

/** Opens (creates or appends to) the audit log at `path`; the file is opened with the first write. */
export function openAuditLog(path: string, options: AuditLogOptions = {}): AuditLog {
  const maxBuffer = options.maxBufferBytes ?? DEFAULT_AUDIT_BUFFER_BYTES;
  let queue: string[] = [];
  let queued = 0;
  let handle: FileHandle | undefined;
  let pumping: Promise<void> | undefined;
  let reopenWanted = false;
  let closed = false;
  let dropped = 0;
  let droppedUnreported = 0;
  let failing = false;

  const report = (err: unknown, what: string): void => {
    if (failing) return;
    failing = true;
    const code = (err as NodeJS.ErrnoException)?.code;
    try {
      options.onError?.(
        new IsobrokerError(
          'write_failed',
          `audit log ${JSON.stringify(path)}: cannot ${what}${code ? ` (${code})` : ''}`,
          {
            cause: err,
          },
        ),
      );
    } catch {
      // a failing error handler must not break the log
    }
  };

  const drop = (n: number): void => {
    dropped += n;
    droppedUnreported += n;
  };

  async function pump(): Promise<void> {
    while (queue.length > 0 || reopenWanted) {
      if (reopenWanted) {
        reopenWanted = false;
        const h = handle;
        handle = undefined;
        await h?.close().catch((err: unknown) => report(err, 'close'));
        if (queue.length === 0) continue;
      }
      const lines = queue;
      queue = [];
      queued = 0;
      try {
        handle ??= await open(path, 'a', 0o600);
        let chunk = lines.join('');
        if (droppedUnreported > 0) {
          chunk =
            formatAuditEvent({
              kind: 'limit_exceeded',
              time: Date.now(),
              code: 'audit_dropped',
              detail: `${droppedUnreported} audit event(s) dropped: the audit log could not keep up`,
            }) + chunk;
          droppedUnreported = 0;
        }
        await handle.write(chunk);
        failing = false;
      } catch (err) {
        report(err, handle ? 'write' : 'open');
        drop(lines.length);
        const h = handle;
        handle = undefined;
        await h?.close().catch(() => undefined);
        // The next event tries again; do not spin on a path that cannot be written.
        return;
      }
    }
  }

  const kick = (): void => {
    if (pumping) return;
    pumping = pump()
      .catch((err: unknown) => report(err, 'write'))
      .finally(() => {
        pumping = undefined;
        if (queue.length > 0 && !closed && !failing) kick();
      });
  };

  const sink: AuditSink = (event) => {
    try {
      if (closed) return;
      const line = formatAuditEvent(event);
      const bytes = Buffer.byteLength(line);
      if (queued + bytes > maxBuffer) {
        drop(1);
        return;
      }
      queue.push(line);
      queued += bytes;
      kick();
    } catch {
      drop(1);
    }
  };

  const flush = async (): Promise<void> => {
    // Each round writes or drops what is queued, so this ends unless events keep arriving.
    while (pumping || (queue.length > 0 && !closed)) {
      if (!pumping) kick();
      await pumping;
    }
  };

  return {
    sink,
    reopen() {
      if (closed) return;
      reopenWanted = true;
      failing = false;
      kick();
    },
    flush,
    async close() {
      if (closed) return flush();
      await flush();
      closed = true;
      const h = handle;
      handle = undefined;
      await h?.close().catch((err: unknown) => report(err, 'close'));
    },
    get dropped() {
      return dropped;
    },
  };
}
