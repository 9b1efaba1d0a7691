/**
 * Trie section: "which subscriptions match this topic" with `TopicTrie` against a naive scan of
 * the prefix array, at 1k, 10k and 100k subscriptions.
 */
import { TopicTrie } from '../../src/internal.js';
import { retainedHeap } from '../lib/memory.js';
import { formatBytes, formatCount, formatNs, formatOps, formatRatio } from '../lib/markdown.js';
import { Random } from '../lib/random.js';
import { goalAtLeast, type BenchSection, type SectionContext, type SectionReport } from '../lib/section.js';
import { compareInterleaved, medianDurationMs, medianRatio, taskTiming } from '../lib/timing.js';

const SIZES = [1_000, 10_000, 100_000] as const;
const GOAL_SIZE = 100_000;
const GOAL = 50;
/** Distinct topics cycled through while timing (a power of two). */
const TOPICS = 1024;

const SEGMENT = 'abcdefghijklmnopqrstuvwxyz0123456789_-';
const LOGS = [
  'conn',
  'dns',
  'http',
  'ssl',
  'files',
  'x509',
  'notice',
  'weird',
  'smtp',
  'ssh',
  'dhcp',
  'ntp',
  'software',
  'tunnel',
];
const ROLES = ['worker', 'proxy', 'logger', 'manager'];
const APPS = ['acme', 'intel', 'sensors', 'alerts', 'assets', 'netcontrol', 'openclaw', 'hunt', 'inventory', 'metrics'];

function segment(r: Random): string {
  return r.text(3 + r.int(8), SEGMENT);
}

/** One subscription prefix in the shape real ones take. */
function randomPrefix(r: Random, n: number): string {
  const kind = r.next();
  if (kind < 0.3) return `zeek/cluster/node/${r.pick(ROLES)}-${1 + r.int(n)}/`;
  if (kind < 0.4) return `zeek/logs/${r.pick(LOGS)}${r.next() < 0.5 ? '' : `/${segment(r)}`}`;
  if (kind < 0.7) return `zeek/event/${segment(r)}${r.next() < 0.5 ? '' : `/${segment(r)}`}`;
  const depth = 1 + r.int(3);
  let p = r.pick(APPS);
  for (let i = 0; i < depth; i++) p += `/${segment(r)}`;
  return r.next() < 0.3 ? `${p}/` : p;
}

/** `n` distinct prefixes. */
function makePrefixes(n: number, seed: number): string[] {
  const r = new Random(seed);
  const out = new Set<string>();
  while (out.size < n) out.add(randomPrefix(r, n));
  return [...out];
}

/** Half topics under a stored prefix, half near misses (same shapes, nothing stored matches). */
function makeTopics(prefixes: readonly string[], trie: TopicTrie<number>, seed: number): string[] {
  const r = new Random(seed);
  const out: string[] = [];
  while (out.length < TOPICS) {
    if (out.length % 2 === 0) {
      const p = r.pick(prefixes);
      out.push(p.endsWith('/') ? `${p}${segment(r)}` : `${p}/${segment(r)}`);
    } else {
      const t = `${randomPrefix(r, prefixes.length * 4)}${segment(r)}`;
      if (!trie.hasMatch(t)) out.push(t);
    }
  }
  return out;
}

function naiveMatch(prefixes: readonly string[], topic: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < prefixes.length; i++) if (topic.startsWith(prefixes[i]!)) out.push(i);
  return out;
}

function buildTrie(prefixes: readonly string[]): TopicTrie<number> {
  const trie = new TopicTrie<number>();
  for (let i = 0; i < prefixes.length; i++) trie.add(prefixes[i]!, i);
  return trie;
}

interface SizeResult {
  readonly row: string[];
  readonly speedup: number;
}

function measureSize(n: number, ctx: SectionContext): SizeResult {
  const prefixes = makePrefixes(n, 0x5eed + n);
  const { value: trie, bytes } = retainedHeap(() => buildTrie(prefixes));
  const buildMs = medianDurationMs(() => buildTrie(prefixes), ctx.quick ? 1 : 3);
  const topics = makeTopics(prefixes, trie, 0x7091c + n);

  let matches = 0;
  let hits = 0;
  for (const t of topics) {
    const a = trie.match(t).sort((x, y) => x - y);
    const b = naiveMatch(prefixes, t);
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error(`trie and scan disagree on '${t}'`);
    matches += a.length;
    if (a.length > 0) hits++;
  }

  ctx.log(`trie: ${formatCount(n)} subscriptions (trie vs scan, interleaved)`);
  let i = 0;
  let j = 0;
  const c = compareInterleaved(
    [
      { name: 'trie', run: () => trie.match(topics[i++ & (TOPICS - 1)]!) },
      { name: 'scan', run: () => naiveMatch(prefixes, topics[j++ & (TOPICS - 1)]!) },
    ],
    ctx.timing,
  );
  const speedup = medianRatio(c, 'scan', 'trie');
  const tt = taskTiming(c, 'trie');
  const ts = taskTiming(c, 'scan');
  return {
    speedup,
    row: [
      formatCount(n),
      `${Math.round((hits / TOPICS) * 100)}% / ${(matches / TOPICS).toFixed(2)}`,
      `${formatOps(tt.opsPerSec)} (${formatNs(tt.medianNs)})`,
      `${formatOps(ts.opsPerSec)} (${formatNs(ts.medianNs)})`,
      formatRatio(speedup),
      n === GOAL_SIZE ? `≥ ${GOAL}×` : 'info',
      formatCount(trie.nodeCount),
      formatBytes(bytes),
      `${buildMs.toFixed(1)} ms`,
    ],
  };
}

async function run(ctx: SectionContext): Promise<SectionReport> {
  const results = SIZES.map((n) => ({ n, ...measureSize(n, ctx) }));
  const goal = results.find((r) => r.n === GOAL_SIZE)!;
  return {
    tables: [
      {
        title: 'Matching one topic against N subscriptions',
        headers: [
          'subscriptions',
          'topics matched / matches per topic',
          'TopicTrie.match',
          'scan (startsWith)',
          'trie speed-up',
          'goal',
          'trie nodes',
          'trie heap',
          'trie build',
        ],
        rows: results.map((r) => r.row),
      },
    ],
    goals: [
      goalAtLeast(
        `trie ≥ ${GOAL}× faster than the scan at ${formatCount(GOAL_SIZE)} subscriptions`,
        goal.speedup,
        GOAL,
      ),
    ],
    notes: [
      'Prefixes are generated with a fixed seed: 30% `zeek/cluster/node/<role>-<k>/`, 10% ' +
        '`zeek/logs/<stream>[/<x>]`, 30% `zeek/event/<x>[/<y>]`, 30% `<app>/<x>[/<y>…]` with random ' +
        `[a-z0-9_-] segments. The ${TOPICS} topics cycled through are half under a stored prefix and half ` +
        'near misses of the same shapes. Both sides return the list of matching values; their answers are ' +
        'checked equal on every topic before timing. Speed-up is the median over rounds of scan time ÷ trie ' +
        'time. Trie heap is the heap retained by the trie (the prefix strings themselves excluded).',
    ],
  };
}

/** The `trie` section. */
export const trieSection: BenchSection = {
  id: 'trie',
  title: 'Topic matching: TopicTrie vs a scan',
  about:
    '"Which subscriptions match this topic" — what a hub asks for every published message — with ' +
    '`TopicTrie` against a scan over the array of prefixes (`topic.startsWith(p)`), on a mix of ' +
    'matching and non-matching topics.',
  run,
};
