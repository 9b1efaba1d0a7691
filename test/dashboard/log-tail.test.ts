/**
 * The logger's live tail for the dashboard (server/dashboard/log-tail.ts): it formats nothing while
 * nobody subscribes to the tail, and publishes at most TAIL_ROWS_PER_SECOND rows per path and
 * second (the newest of a batch) while someone does. Real endpoints on an in-memory network.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { count, defineLogStream, Endpoint, MemoryNetwork, string, vector, type Data, type LogWriter } from 'isobroker';
import { TAIL_ROWS_PER_SECOND, tailingWriter } from '../../server/dashboard/log-tail.js';
import { LOG_TAIL_TOPIC_PREFIX, logBatchOf, type LogBatch } from '../../server/dashboard/shapes.js';

const open: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

const stream = defineLogStream({
  id: 'Test::LOG',
  path: 'test',
  columns: [
    { name: 'n', type: 'count' },
    { name: 's', type: 'string' },
  ],
});

/** A writer that keeps what it is given. */
function memoryWriter(): LogWriter & { written: number } {
  const w = {
    written: 0,
    write: (_s: unknown, records: readonly Data[]) => {
      w.written += records.length;
    },
    flush: async () => undefined,
    close: async () => undefined,
  };
  return w;
}

const records = (from: number, n: number): Data[] =>
  Array.from({ length: n }, (_, i) => vector([count(from + i), string(`row ${from + i}`)]));

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the dashboard log tail', () => {
  it('publishes nothing while nobody watches, then at most its budget per second, newest rows first', async () => {
    const net = new MemoryNetwork();
    const logger = new Endpoint({ name: 'logger', role: 'hub', connector: net.connector });
    const page = new Endpoint({ name: 'page', connector: net.connector });
    open.push(logger, page);
    net.listen('logger', logger);
    let clock = 1_000_000;
    const inner = memoryWriter();
    const tail = tailingWriter(inner, logger, () => clock);

    // Nobody subscribed yet: written, not published.
    tail.write(stream, records(0, 10));
    expect(inner.written).toBe(10);
    expect(logger.stats().published).toBe(0);

    const topics: string[] = [];
    const got: LogBatch[] = [];
    page.subscribe(LOG_TAIL_TOPIC_PREFIX, (m) => {
      const b = logBatchOf(m.data);
      if (b) got.push(b);
      topics.push(m.topic);
    });
    await page.peer('ws://logger');
    await until(() => logger.hasRoute(`${LOG_TAIL_TOPIC_PREFIX}test`));

    // One batch larger than the budget: only the newest TAIL_ROWS_PER_SECOND rows go out.
    tail.write(stream, records(100, TAIL_ROWS_PER_SECOND + 50));
    // Same second: the budget is spent, nothing more.
    tail.write(stream, records(1000, 5));
    // Next second: a new budget.
    clock += 1000;
    tail.write(stream, records(2000, 3));
    await until(() => got.length === 2);
    expect(inner.written).toBe(10 + TAIL_ROWS_PER_SECOND + 50 + 5 + 3);
    expect(got[0]!.rows).toHaveLength(TAIL_ROWS_PER_SECOND);
    expect(got[0]!.rows[0]![0]).toBe(String(100 + 50));
    expect(got[0]!.rows.at(-1)![0]).toBe(String(100 + TAIL_ROWS_PER_SECOND + 49));
    expect(got[1]!.rows.map((r) => r[0])).toEqual(['2000', '2001', '2002']);
    expect(got[1]!.fields).toEqual(['n', 's']);
    expect(topics.every((t) => t === `${LOG_TAIL_TOPIC_PREFIX}test`)).toBe(true);
  });
});
