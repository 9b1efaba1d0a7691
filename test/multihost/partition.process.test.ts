/**
 * Multi-host on one machine (issue 14): scripts/netns-multihost.sh builds three "hosts" as network
 * namespaces inside its own, each with a nats-server (routes between them), a hub (`isobroker hub
 * --backbone`, with a client peered to it) and cluster nodes (test/multihost/host.mjs), runs real
 * traffic, cuts h3's link, heals it, and records
 * every presence and cluster event. This test checks, from the recorded events:
 * - the others see h3's hub down (presence endpointDown) and its nodes down (nodeDown) — the
 *   time from the cut is reported; the bound asserted is a generous 10 s;
 * - the workers' HRW choices over the proxy pool are Zeek's HRW (src/cluster/hash.ts) over the
 *   proxies up — all three before the cut, the remaining two meanwhile, all three after the heal;
 * - every node comes up again everywhere after the heal;
 * - no subscriber got a duplicate or a message out of order, and nothing was lost between hosts
 *   that stayed connected (loss to and from the cut-off host is reported);
 * - every worker logs through the acknowledged batch protocol to logger-2 (h2) and logger-3 (the
 *   cut-off h3): once every batch is acknowledged, every record was written; a record written
 *   twice is one handed over to the other logger (the protocol's known limit, reported).
 *
 * Needs root, `unshare`, `nats-server` and a build (`npm run build`: host.mjs runs from dist/).
 * Skipped with the reason when those are missing. On CI (`CI` set) a missing nats-server or build
 * fails it; missing privileges (root, unshare) skip it there too, since they belong to the machine
 * CI runs on, with the reason in the suite's name.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fnv1a32, hrwSite } from '../../src/cluster/hash.js';
import { nodeTopic } from '../../src/cluster/topics.js';
import { NATS_SERVER } from '../support/nats-cluster.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/netns-multihost.sh');
const HRW_KEYS = Array.from({ length: 64 }, (_, i) => `k-${i}`); // as test/multihost/layout.mjs
const CUT = 'h3';
const CUT_NODES = ['proxy-3', 'worker-3', 'logger-3'];
const OTHER_NODES = ['manager', 'proxy-1', 'worker-1', 'proxy-2', 'worker-2', 'logger-2'];
const WORKERS = ['worker-1', 'worker-2', 'worker-3'];
const LOGGERS = ['logger-2', 'logger-3'];
const PROXIES = ['proxy-1', 'proxy-2', 'proxy-3'];
const GENEROUS = 10_000;

/** Why the scenario cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try {
    execFileSync('unshare', ['--net', '--mount', '--pid', '--fork', 'true'], { stdio: 'ignore', timeout: 10_000 });
  } catch (e) {
    return `unshare --net --mount --pid does not work here (${(e as Error).message.split('\n')[0]})`;
  }
  if (NATS_SERVER === undefined) return 'nats-server not found (Debian: apt-get install nats-server)';
  if (!existsSync(join(ROOT, 'dist/src/node/index.js'))) return 'no build: run npm run build first';
  return undefined;
}

const reason = missing();
/** Root and unshare are the machine's to give; without them the scenario cannot run anywhere. */
const privileged = (r: string | undefined): boolean => r?.startsWith('needs root') || r?.startsWith('unshare') || false;
const suite = reason === undefined || (process.env.CI && !privileged(reason)) ? describe : describe.skip;

interface Ev {
  readonly t: number;
  readonly ev: string;
  readonly host?: string;
  readonly obs?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly [k: string]: unknown;
}
interface Origin {
  received: number;
  distinct: number;
  duplicates: number;
  outOfOrder: number;
  missing: number;
}

/** Zeek's HRW choice of each key over `proxies` (site ids `fnv1a32("<name>.0")`), as node topics. */
function expectedHrw(proxies: readonly string[]): string[] {
  const sites = new Map(proxies.map((p) => [fnv1a32(`${p}.0`), p]));
  expect(sites.size).toBe(proxies.length); // no site id collision, so the ".0" aliases hold
  return HRW_KEYS.map((k) => nodeTopic(sites.get(hrwSite(k, sites.keys())!)!));
}

suite(`multi-host over network namespaces${reason ? ` [skipped: ${reason}]` : ''}`, () => {
  let out = '';
  let events: Ev[] = [];
  let result: { ok: boolean; error?: string; cutAt: number; healAt: number };
  let proc: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    if (reason !== undefined) throw new Error(`${reason}; on CI this test must run`);
    out = mkdtempSync(join(tmpdir(), 'isobroker-multihost-'));
    // Cut off for about 13 s: longer than the servers' write deadline (10 s), so the routes to the
    // cut-off host break and must form again after the heal (a shorter cut is bridged by TCP
    // retransmissions and loses nothing).
    const p = spawn('bash', [SCRIPT, 'partition', '--out', out, '--cut', CUT, '--hold', '11000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = p;
    const stderr: string[] = [];
    p.stderr?.on('data', (b: Buffer) => stderr.push(b.toString()));
    p.stdout?.resume();
    // unshare --kill-child: killing the script's PID takes its whole PID namespace down.
    const timer = setTimeout(() => p.kill('SIGKILL'), 170_000);
    const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
    clearTimeout(timer);
    const file = join(out, 'result.json');
    if (!existsSync(file)) throw new Error(`the script exited with ${code} and no result: ${stderr.join('')}`);
    result = JSON.parse(readFileSync(file, 'utf8'));
    events = readFileSync(join(out, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Ev);
  }, 180_000);

  afterAll(() => {
    if (proc?.exitCode === null && proc.pid !== undefined) proc.kill('SIGKILL');
    if (out && result?.ok) rmSync(out, { recursive: true, force: true });
  });

  it('completes every phase (start, all up, cut, seen down, heal, all up again)', () => {
    expect(result.error, `scenario failed; events and logs in ${out}`).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(events.filter((e) => e.ev === 'fatal')).toEqual([]);
    expect(events.filter((e) => e.ev === 'phase').map((e) => e.name)).toEqual([
      'start',
      'allUp',
      'cut',
      'seenDown',
      'heal',
      'allUpAgain',
      'quiet',
      'stopping',
      'stopped',
    ]);
  });

  it('the others see the cut-off host down (presence and nodeDown), and nothing down before the cut', () => {
    const allUpAt = events.find((e) => e.ev === 'phase' && e.name === 'allUp')!.t;
    const early = events.filter(
      (e) => e.t >= allUpAt && e.t < result.cutAt && (e.kind === 'nodeDown' || e.kind === 'endpointDown'),
    );
    expect(early).toEqual([]);
    const times: string[] = [];
    for (const obs of OTHER_NODES) {
      for (const n of CUT_NODES) {
        const down = events.find(
          (e) => e.ev === 'node' && e.obs === obs && e.kind === 'nodeDown' && e.name === n && e.t >= result.cutAt,
        );
        expect(down, `${obs} sees ${n} down`).toBeDefined();
        const ms = down!.t - result.cutAt;
        expect(ms, `${obs} sees ${n} down`).toBeLessThan(GENEROUS);
        times.push(`${obs}>${n} ${ms}`);
      }
    }
    for (const hub of ['hub-h1', 'hub-h2']) {
      // the in-process hub and the `isobroker hub` process of the cut-off host
      for (const name of [`hub-${CUT}`, `cli-hub-${CUT}`]) {
        const down = events.find(
          (e) => e.obs === hub && e.kind === 'endpointDown' && e.name === name && e.t >= result.cutAt,
        );
        expect(down, `${hub} sees ${name} down`).toBeDefined();
        expect(down!.reason).toBe('timeout'); // no bye: the host was cut off, not stopped
        times.push(`${hub}>${name} ${down!.t - result.cutAt}`);
      }
    }
    const ms = times.map((s) => Number(s.split(' ')[1]));
    console.log(
      `multihost: host ${CUT} cut off: seen down after ${Math.min(...ms)}..${Math.max(...ms)} ms ` +
        `(presence timeout 2000 ms, heartbeats every 500 ms): ${times.join(', ')}`,
    );
  });

  it("the workers' HRW choices are Zeek's over the proxies up: keys of the cut proxy move, and come back", () => {
    const all = expectedHrw(PROXIES);
    const remaining = expectedHrw(['proxy-1', 'proxy-2']);
    const moved = HRW_KEYS.filter((_, i) => all[i] !== remaining[i]).length;
    expect(moved).toBeGreaterThan(0);
    const stoppingAt = events.find((e) => e.ev === 'phase' && e.name === 'stopping')!.t;
    for (const w of ['worker-1', 'worker-2']) {
      const hrw = events.filter((e) => e.ev === 'hrw' && e.obs === w);
      const last = (from: number, to: number) => hrw.filter((e) => e.t >= from && e.t < to).at(-1);
      const before = last(0, result.cutAt);
      const during = last(result.cutAt, result.healAt);
      const after = last(result.healAt, stoppingAt); // when stopping, nodes say bye and go down
      expect([...(before!.up as string[])].sort(), w).toEqual(PROXIES);
      expect(before!.topics, w).toEqual(all);
      expect([...(during!.up as string[])].sort(), w).toEqual(['proxy-1', 'proxy-2']);
      expect(during!.topics, w).toEqual(remaining);
      expect([...(after!.up as string[])].sort(), w).toEqual(PROXIES);
      expect(after!.topics, w).toEqual(all);
    }
    console.log(`multihost: ${moved} of ${HRW_KEYS.length} HRW keys moved off proxy-3 while it was cut off`);
  });

  it('every node comes up again everywhere after the heal', () => {
    const times: number[] = [];
    for (const obs of OTHER_NODES) {
      for (const n of CUT_NODES) {
        const up = events.find(
          (e) => e.ev === 'node' && e.obs === obs && e.kind === 'nodeUp' && e.name === n && e.t >= result.healAt,
        );
        expect(up, `${obs} sees ${n} up again`).toBeDefined();
        expect(up!.t - result.healAt).toBeLessThan(GENEROUS);
        times.push(up!.t - result.healAt);
      }
    }
    for (const obs of CUT_NODES) {
      for (const n of OTHER_NODES) {
        const up = events.find(
          (e) => e.ev === 'node' && e.obs === obs && e.kind === 'nodeUp' && e.name === n && e.t >= result.healAt,
        );
        expect(up, `${obs} sees ${n} up again`).toBeDefined();
      }
    }
    console.log(`multihost: up again ${Math.min(...times)}..${Math.max(...times)} ms after the heal`);
  });

  it('no duplicate, nothing out of order; no loss between hosts that stayed connected', () => {
    const summaries = events.filter((e) => e.ev === 'summary');
    // the manager; on every host the hub, the client of the CLI hub, the proxy (broadcast and
    // HRW) and the worker; the loggers
    expect(summaries.length).toBe(1 + 3 * 5 + LOGGERS.length);
    for (const h of ['h1', 'h2', 'h3']) expect(summaries.map((s) => s.obs)).toContain(`client-${h}`);
    const hostOf = (n: string) =>
      n === 'manager'
        ? 'h1'
        : n.startsWith('hub-') || n.startsWith('client-')
          ? n.slice(n.indexOf('-') + 1)
          : `h${n.at(-1)}`;
    const loss: string[] = [];
    let received = 0;
    for (const s of summaries) {
      const obs = s.obs!;
      const origins = s.origins as Record<string, Origin>;
      expect(Object.keys(origins).length, obs).toBeGreaterThan(0);
      for (const [origin, o] of Object.entries(origins)) {
        received += o.received;
        expect(o.duplicates, `${obs} from ${origin}`).toBe(0);
        expect(o.outOfOrder, `${obs} from ${origin}`).toBe(0);
        if (obs.endsWith('/hrw')) continue; // a proxy gets only its share of the keys
        const involved = hostOf(obs.replace('/hrw', '')) === CUT || hostOf(origin) === CUT;
        if (!involved) expect(o.missing, `${obs} from ${origin}`).toBe(0);
        else if (o.missing > 0) loss.push(`${origin}>${obs} ${o.missing}`);
      }
    }
    console.log(
      `multihost: ${received} messages received, 0 duplicates; lost while ${CUT} was cut off: ${loss.join(', ') || 'none'}`,
    );
  });

  it('every log record written across the loggers, the cut-off one included; twice only if handed over', () => {
    const logs = events.filter((e) => e.ev === 'logs');
    const quiet = events.filter((e) => e.ev === 'quiet');
    expect(quiet.map((e) => e.logsInFlight)).toEqual([0, 0, 0]);
    const times = new Map<string, Uint8Array>(); // worker → how often each record was written
    const report: string[] = [];
    for (const w of WORKERS) {
      const sender = logs.find((e) => e.obs === w)!;
      expect(sender, w).toBeDefined();
      const records = sender.records as number;
      expect(records, w).toBeGreaterThan(0);
      times.set(w, new Uint8Array(records));
      const st = sender.stats as { handedOver: number; resent: number; dropped: number; acknowledged: number };
      expect(st.dropped, w).toBe(0);
      expect(st.acknowledged, w).toBe(records);
      report.push(`${w} ${records} (resent ${st.resent}, handed over ${st.handedOver})`);
    }
    for (const l of LOGGERS) {
      const logger = logs.find((e) => e.obs === l)!;
      expect(logger, l).toBeDefined();
      for (const [w, o] of Object.entries(logger.written as Record<string, { bits: string; twiceHere: number }>)) {
        expect(o.twiceHere, `${l} wrote records of ${w} twice`).toBe(0);
        const bits = Buffer.from(o.bits, 'base64');
        const t = times.get(w)!;
        for (let i = 0; i < bits.length * 8; i++) {
          if (!(bits[i >> 3]! & (1 << (i & 7)))) continue;
          expect(i, `${l} wrote ${w}:${i + 1}, never sent`).toBeLessThan(t.length);
          t[i]!++;
        }
      }
    }
    // Known limit of the batch protocol over a partition (src/logging/router.ts): a batch handed
    // over to another logger may also be written by the one cut off — its acknowledgement was lost
    // in flight, or (cut shorter than the routes' write deadline) the batch itself reached it late
    // through TCP retransmissions. So duplicates are reported, and bounded by what was handed over.
    for (const w of WORKERS) {
      const t = times.get(w)!;
      const lost = t.filter((c) => c === 0).length;
      const twice = t.filter((c) => c > 1).length;
      const handedOver = (logs.find((e) => e.obs === w)!.stats as { handedOver: number }).handedOver;
      report.push(`${w}: lost ${lost}, written twice ${twice} (of ${handedOver} handed over)`);
      expect(lost, `${w}'s records never written`).toBe(0);
      expect(t.filter((c) => c > 2).length, `${w}'s records written three times`).toBe(0);
      expect(twice, `${w}'s records written twice beyond those handed over`).toBeLessThanOrEqual(handedOver);
    }
    console.log(`multihost logs: ${report.join('; ')}`);
  });
});

/** Why namespaces cannot be made here, or undefined (the refusal tests need no nats-server or build). */
function noNamespaces(): string | undefined {
  const r = missing();
  return r?.startsWith('needs root') || r?.startsWith('unshare') ? r : undefined;
}
const nsReason = noNamespaces();
const nsSuite = nsReason === undefined ? describe : describe.skip;

nsSuite(`netns-multihost.sh refuses to run unless isolated${nsReason ? ` [skipped: ${nsReason}]` : ''}`, () => {
  /**
   * Runs the script's inner half (as if re-executed) in a throwaway network and mount namespace
   * prepared by `setup`: nothing it could do there reaches the machine.
   */
  function inner(setup: string, outer: string): { code: number; stderr: string } {
    if (nsReason !== undefined) throw new Error(`${nsReason}; on CI this test must run`);
    const cmd = `${setup}; ISOBROKER_MH_INSIDE=1 ISOBROKER_MH_OUTER_NETNS=${outer} bash ${SCRIPT} check`;
    try {
      execFileSync('unshare', ['--net', '--mount', '--propagation', 'private', 'bash', '-c', cmd], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 30_000,
      });
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { status: number | null; stderr: Buffer };
      return { code: err.status ?? -1, stderr: err.stderr.toString() };
    }
  }

  it('in the network namespace it was started from', () => {
    const r = inner('true', '$(readlink /proc/self/ns/net)');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('refusing: not in a network namespace of its own');
  });

  it('with a default route', () => {
    const veth =
      'ip link add vta type veth peer name vtb && ip addr add 10.213.1.1/24 dev vta && ip link set vta up && ip link set vtb up';
    const r = inner(`${veth} && ip route add default via 10.213.1.2`, 'another');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('refusing: this namespace has IPv4 routes: default via 10.213.1.2');
  });

  it('with a link besides lo', () => {
    const r = inner('ip link add vta type veth peer name vtb', 'another');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('refusing: this namespace has links other than lo');
  });
});
