/**
 * The browser section's IndexedDB part: clone writes persisted in Chromium's IndexedDB by the
 * batched clone persistence against one awaited idb-keyval `set` per write, in interleaved rounds
 * (see `bench/browser/idb-page.ts`).
 */
import type { IdbRun } from '../browser/idb-page.js';
import { bundlePage, launchChromiumWithProfile, pageSource, servePage } from '../lib/chromium.js';

/** The variants, in the order of the first round. */
export const IDB_VARIANTS = ['batched', 'batched-trickle', 'unbatched'] as const;
export type IdbVariant = (typeof IDB_VARIANTS)[number];

/** What the IndexedDB part runs. */
export interface IdbPlan {
  /** Writes per run. */
  readonly n: number;
  readonly rounds: number;
  /** Writes per warm-up run of each variant. */
  readonly warmupN: number;
  /** Writes per macrotask in the trickle variant. */
  readonly perTask: number;
}

/** Runs per variant, in round order. */
export type IdbRuns = Readonly<Record<IdbVariant, IdbRun[]>>;

type PageApi = {
  batched(n: number, run: string, perTask: number): Promise<IdbRun>;
  unbatched(n: number, run: string): Promise<IdbRun>;
};
type G = { benchIdb: PageApi };

/**
 * Runs every variant `rounds` times, interleaved, the starting variant rotating, in a Chromium
 * whose profile (and so IndexedDB) is on disk in `profileDir`.
 */
export async function runIdb(profileDir: string, plan: IdbPlan, log: (line: string) => void): Promise<IdbRuns> {
  const server = await servePage(await bundlePage(pageSource('idb-page')), 'isobroker bench: IndexedDB');
  const context = await launchChromiumWithProfile(profileDir).catch(async (e: unknown) => {
    await server.close();
    throw e;
  });
  const errors: string[] = [];
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    let runId = 0;
    const once = async (v: IdbVariant, n: number): Promise<IdbRun> => {
      const args = { n, run: `${v}-${++runId}`, perTask: v === 'batched-trickle' ? plan.perTask : 0 };
      const r =
        v === 'unbatched'
          ? await page.evaluate((a) => (globalThis as unknown as G).benchIdb.unbatched(a.n, a.run), args)
          : await page.evaluate((a) => (globalThis as unknown as G).benchIdb.batched(a.n, a.run, a.perTask), args);
      if (r.errors.length > 0) throw new Error(`${v}: ${r.errors.slice(0, 3).join('; ')}`);
      if (r.stored !== n) throw new Error(`${v}: ${n} writes, but ${r.stored} entries in IndexedDB`);
      return r;
    };
    log('browser: IndexedDB warm-up');
    for (const v of IDB_VARIANTS) await once(v, plan.warmupN);
    const runs: Record<IdbVariant, IdbRun[]> = { batched: [], 'batched-trickle': [], unbatched: [] };
    for (let round = 0; round < plan.rounds; round++) {
      log(`browser: IndexedDB round ${round + 1}/${plan.rounds}`);
      for (let k = 0; k < IDB_VARIANTS.length; k++) {
        const v = IDB_VARIANTS[(round + k) % IDB_VARIANTS.length]!;
        runs[v].push(await once(v, plan.n));
      }
    }
    if (errors.length > 0) throw new Error(`page errors: ${errors.slice(0, 3).join('; ')}`);
    return runs;
  } finally {
    await context.close();
    await server.close();
  }
}
