/**
 * Data-store benchmark, part 1: how fast a master applies puts. Batches of {@link BATCH} puts of
 * 100-byte values are issued in one turn and awaited (one backend transaction each: the master's
 * group commit), on the memory backend and on SQLite in two durability modes, against a raw
 * better-sqlite3 loop that inserts the same key and value bytes into an identical table with one
 * prepared `INSERT OR REPLACE`, {@link BATCH} rows per transaction, in the same mode — the
 * ceiling for a master on SQLite. The variants run interleaved: in every round each runs the same
 * number of batches, the starting variant rotating, and every variant inserts the same key
 * sequence, so tables grow alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  Endpoint,
  createMaster,
  createMemoryBackend,
  string,
  type StoreBackend,
  type StoreMaster,
} from '../../src/index.js';
import { encodeValue } from '../../src/internal.js';
import { openSqliteBackend, type SqliteJournalMode, type SqliteSynchronous } from '../../src/node/index.js';
import { startCpuProfile, stopCpuProfile } from '../lib/profiler.js';
import { median } from '../lib/timing.js';
import { summarizeCpuProfile, type ProfileSummary } from './pubsub-profile.js';
import { BATCH, keyData, keyText, valueData, valueText } from '../stores/workload.js';

/** A durability mode of SQLite. */
export interface SqliteMode {
  readonly id: 'wal' | 'full';
  readonly label: string;
  readonly journalMode: SqliteJournalMode;
  readonly synchronous: SqliteSynchronous;
}

export const SQLITE_MODES: readonly SqliteMode[] = [
  { id: 'wal', label: 'WAL + synchronous NORMAL', journalMode: 'WAL', synchronous: 'NORMAL' },
  { id: 'full', label: 'journal DELETE + synchronous FULL', journalMode: 'DELETE', synchronous: 'FULL' },
];

/** Rounds and batches per turn of one apply run. */
export interface ApplyPlan {
  readonly warmupBatches: number;
  readonly rounds: number;
  readonly batchesPerTurn: number;
  /** Batches of the profiled stretch after the measured rounds. */
  readonly profiledBatches: number;
}

export const APPLY_PLAN: ApplyPlan = { warmupBatches: 5, rounds: 25, batchesPerTurn: 20, profiledBatches: 100 };
export const QUICK_APPLY_PLAN: ApplyPlan = { warmupBatches: 2, rounds: 3, batchesPerTurn: 5, profiledBatches: 20 };

interface Variant {
  readonly id: string;
  /** Applies puts `start`…`start + BATCH − 1` and resolves once they are committed. */
  batch(start: number): Promise<void>;
  /** Rows now stored (checked against the puts issued). */
  count(): number;
  close(): void;
}

/** One variant's result. */
export interface ApplyResult {
  readonly id: string;
  /** Puts per second at the median round time. */
  readonly opsPerSec: number;
  /** Nanoseconds per put in each round. */
  readonly roundNs: readonly number[];
  readonly spread: number;
}

/** All variants' results and the puts each one made. */
export interface ApplyRun {
  readonly results: readonly ApplyResult[];
  readonly putsPerVariant: number;
  /** CPU profile of {@link ApplyPlan.profiledBatches} more batches of {@link PROFILED_VARIANT}, after the measured rounds. */
  readonly profile: ProfileSummary;
  readonly profiledPuts: number;
}

/** The variant whose extra turn is profiled: the master on SQLite WAL. */
export const PROFILED_VARIANT = 'master-wal';
const PROFILE_TOP = 12;

async function masterVariant(id: string, backend: StoreBackend): Promise<Variant> {
  const endpoint = new Endpoint({ name: `bench-apply-${id}` });
  const master: StoreMaster = await createMaster(endpoint, 'bench/apply', { backend });
  return {
    id,
    async batch(start) {
      const puts: Promise<void>[] = new Array(BATCH);
      for (let j = 0; j < BATCH; j++) puts[j] = master.put(keyData(start + j), valueData(start + j));
      await Promise.all(puts);
    },
    count: () => master.size,
    close() {
      master.close();
      void endpoint.close();
    },
  };
}

/** `encodeValue(string(text))` for texts of one fixed length: a copied header plus the text. */
function fixedStringEncoder(sample: string): (text: string) => Buffer {
  const template = Buffer.from(encodeValue(string(sample)));
  const header = template.subarray(0, template.length - sample.length);
  return (text) => {
    const b = Buffer.allocUnsafe(header.length + text.length);
    header.copy(b, 0);
    b.write(text, header.length, 'latin1');
    return b;
  };
}

/** The raw better-sqlite3 loop: one prepared INSERT OR REPLACE, BATCH rows per transaction. */
function rawVariant(id: string, path: string, mode: SqliteMode): Variant {
  const db = new Database(path);
  db.pragma(`journal_mode = ${mode.journalMode}`);
  db.pragma(`synchronous = ${mode.synchronous}`);
  db.exec('CREATE TABLE IF NOT EXISTS store(key BLOB PRIMARY KEY, value BLOB, expiry INTEGER, interval INTEGER)');
  const insert = db.prepare<[Buffer, Buffer]>('INSERT OR REPLACE INTO store(key, value) VALUES (?, ?)');
  const encodeKey = fixedStringEncoder(keyText(0));
  const encodeVal = fixedStringEncoder(valueText(0));
  // The raw rows must be exactly the bytes the master stores.
  for (const i of [0, 7, 123_456, 9_999_999]) {
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
    if (
      !same(encodeKey(keyText(i)), encodeValue(keyData(i))) ||
      !same(encodeVal(valueText(i)), encodeValue(valueData(i)))
    ) {
      throw new Error(`raw row ${i} differs from the master's encoding`);
    }
  }
  const tx = db.transaction((start: number) => {
    for (let j = start; j < start + BATCH; j++) insert.run(encodeKey(keyText(j)), encodeVal(valueText(j)));
  });
  const countRows = db.prepare<[], number>('SELECT count(*) FROM store').pluck();
  return {
    id,
    batch: async (start) => {
      tx(start);
    },
    count: () => countRows.get() ?? 0,
    close: () => db.close(),
  };
}

/**
 * Runs every variant interleaved and returns puts/s per variant. Database files live in a fresh
 * directory under `os.tmpdir()`, removed afterwards (also on error).
 */
export async function runApply(plan: ApplyPlan, log: (line: string) => void): Promise<ApplyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'isobroker-bench-apply-'));
  const variants: Variant[] = []; // memory, master-wal, raw-wal, master-full, raw-full
  try {
    variants.push(await masterVariant('memory', createMemoryBackend()));
    for (const mode of SQLITE_MODES) {
      const backend = openSqliteBackend({
        path: join(dir, `master-${mode.id}.db`),
        journalMode: mode.journalMode,
        synchronous: mode.synchronous,
      });
      variants.push(await masterVariant(`master-${mode.id}`, backend));
      variants.push(rawVariant(`raw-${mode.id}`, join(dir, `raw-${mode.id}.db`), mode));
    }

    let next = 0; // every variant puts the same key sequence; `next` is where the next batch starts
    log(`stores: apply warm-up (${plan.warmupBatches} batches of ${BATCH} per variant)`);
    for (let b = 0; b < plan.warmupBatches; b++) {
      for (const v of variants) await v.batch(next);
      next += BATCH;
    }
    const roundNs: number[][] = variants.map(() => []);
    const perTurn = plan.batchesPerTurn * BATCH;
    for (let round = 0; round < plan.rounds; round++) {
      log(`stores: apply round ${round + 1}/${plan.rounds}`);
      for (let k = 0; k < variants.length; k++) {
        const i = (round + k) % variants.length;
        const v = variants[i]!;
        const t0 = performance.now();
        for (let b = 0; b < plan.batchesPerTurn; b++) await v.batch(next + b * BATCH);
        roundNs[i]!.push(((performance.now() - t0) * 1e6) / perTurn);
      }
      next += perTurn;
    }
    for (const v of variants) {
      if (v.count() !== next) throw new Error(`${v.id}: ${v.count()} entries stored after ${next} distinct puts`);
    }
    log(`stores: ${plan.profiledBatches} more batches of ${PROFILED_VARIANT}, profiled`);
    const profiled = variants.find((v) => v.id === PROFILED_VARIANT)!;
    const profilePath = join(dir, 'apply.cpuprofile');
    await startCpuProfile();
    try {
      for (let b = 0; b < plan.profiledBatches; b++) await profiled.batch(next + b * BATCH);
    } finally {
      await stopCpuProfile(profilePath);
    }
    return {
      putsPerVariant: next,
      profiledPuts: plan.profiledBatches * BATCH,
      profile: summarizeCpuProfile(profilePath, PROFILE_TOP),
      results: variants.map((v, i) => {
        const ns = roundNs[i]!;
        const med = median(ns);
        return { id: v.id, roundNs: ns, opsPerSec: 1e9 / med, spread: (Math.max(...ns) - Math.min(...ns)) / med };
      }),
    };
  } finally {
    for (const v of variants) v.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median over rounds of rate(`a`) / rate(`b`), i.e. time(`b`) / time(`a`), paired by round. */
export function rateRatio(run: ApplyRun, a: string, b: string): number {
  const ra = run.results.find((r) => r.id === a);
  const rb = run.results.find((r) => r.id === b);
  if (ra === undefined || rb === undefined) throw new RangeError(`no apply result for ${a} or ${b}`);
  return median(ra.roundNs.map((t, i) => rb.roundNs[i]! / t));
}
