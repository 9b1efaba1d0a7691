/**
 * The partition scenario of scripts/netns-multihost.sh, run by that script in its own network
 * namespace (the "switch": it holds the bridge and one veth end per host) once the hosts exist.
 * Never run it by hand outside the script: it runs `ip link set` on the links it is given.
 *
 * 1. each host runs a nats-server (routes to every other host), a hub (`isobroker hub --backbone`
 *    on its host's server) and test/multihost/host.mjs;
 * 2. waits until every cluster node sees every other node up, lets traffic run;
 * 3. cuts one host off (its veth link down), waits until the others see it down;
 * 4. heals (link up), waits until every node sees every other up again, lets traffic run;
 * 5. lets the workers' log batches be acknowledged (SIGUSR2, `quiet`), then stops every process
 *    by PID (SIGTERM, SIGKILL after a bound) and writes:
 *    `<out>/events.jsonl` (every line the hosts printed, plus `phase` lines) and
 *    `<out>/result.json` (phase times; `ok` false with `error` when a phase timed out).
 * Every wait is bounded; exit code 0 when every phase completed.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB_PORT, NATS_PORT, ROUTE_PORT, hostAddress, hostNames, hostOf, layoutFor } from './layout.mjs';

const args = new Map();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const out = args.get('out');
const natsServer = args.get('nats-server');
const hostsN = Number(args.get('hosts') ?? 3);
const cut = args.get('cut') ?? `h${hostsN}`;
const hold = Number(args.get('hold') ?? 4000); // ms the host stays cut off after it was seen down
const linkOf = (h) => `v-${h}`; // the switch-side end of host h's veth pair (netns-multihost.sh)
if (!out || !natsServer || !(hostsN >= 2 && hostsN <= 8) || !(hold >= 0 && hold <= 120_000)) {
  process.stderr.write(
    'usage: scenario.mjs --out DIR --nats-server PATH [--hosts 2..8] [--cut hN] [--hold 0..120000]\n',
  );
  process.exit(2);
}
if (process.env.ISOBROKER_MH_INSIDE !== '1') {
  process.stderr.write('scenario.mjs runs only inside scripts/netns-multihost.sh (it changes links)\n');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const here = dirname(fileURLToPath(import.meta.url));
const hosts = hostNames(hostsN);
const layout = layoutFor(hostsN);
const events = [];
const procs = []; // { name, proc, exited }
const eventsFile = join(out, 'events.jsonl');
writeFileSync(eventsFile, '');

const record = (o) => {
  events.push(o);
  appendFileSync(eventsFile, `${JSON.stringify(o)}\n`);
};
const phase = (name, extra = {}) => record({ t: Date.now(), ev: 'phase', name, ...extra });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Throws when a process of the scenario died early or a host reported a fatal error. */
function checkAlive() {
  const fatal = events.find((e) => e.ev === 'fatal');
  if (fatal) throw new Error(`${fatal.host}: ${fatal.message}`);
  const dead = procs.find((p) => p.proc.exitCode !== null || p.proc.signalCode !== null);
  if (dead)
    throw new Error(`${dead.name} exited early (${dead.proc.exitCode ?? dead.proc.signalCode}); see ${dead.name}.log`);
}

/** Polls `pred` every 50 ms for at most `ms`; false when it never held. Throws as `checkAlive`. */
async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    checkAlive();
    await sleep(50);
  }
  return pred();
}

/** Starts `cmd` inside host `h`'s namespace (`ip netns exec` execs it: the PID is the program's). */
function startIn(h, name, cmd, argv, onLine) {
  const proc = spawn('ip', ['netns', 'exec', h, cmd, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.once('error', resolve);
  });
  const logFile = join(out, `${name}.log`);
  proc.stderr.on('data', (b) => appendFileSync(logFile, b));
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (s) => {
    buf += s;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (onLine) onLine(line);
      else appendFileSync(logFile, `${line}\n`);
    }
  });
  procs.push({ name, proc, exited });
  return proc;
}

/** Stops one process by its PID: SIGTERM, SIGKILL after `ms`. */
async function stopProc(p, ms) {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null || p.proc.pid === undefined) return;
  try {
    process.kill(p.proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = await Promise.race([p.exited.then(() => true), sleep(ms).then(() => false)]);
  if (!done) {
    try {
      process.kill(p.proc.pid, 'SIGKILL');
    } catch {}
    await Promise.race([p.exited, sleep(2000)]);
  }
}

function natsConfig(h) {
  const addr = hostAddress(h);
  const routes = hosts.filter((o) => o !== h).map((o) => `"nats-route://${hostAddress(o)}:${ROUTE_PORT}"`);
  return [
    `server_name: "nats-${h}"`,
    `listen: "${addr}:${NATS_PORT}"`,
    'ping_interval: "1s"',
    'ping_max: 2',
    'cluster {',
    '  name: "multihost"',
    `  listen: "${addr}:${ROUTE_PORT}"`,
    `  routes: [${routes.join(', ')}]`,
    '}',
    '',
  ].join('\n');
}

/** Each cluster node's latest view: observer → (node → up). */
const views = new Map();
function onHostLine(line) {
  let o;
  try {
    o = JSON.parse(line);
  } catch {
    return;
  }
  record(o);
  if (o.ev === 'node') {
    let v = views.get(o.obs);
    if (!v) views.set(o.obs, (v = new Map()));
    v.set(o.name, o.kind === 'nodeUp');
  }
}
const nodeNames = layout.nodes.map((n) => n.name);
const everyoneUp = () => nodeNames.every((obs) => nodeNames.every((n) => n === obs || views.get(obs)?.get(n) === true));
const cutNodes = nodeNames.filter((n) => hostOf(n) === cut);
const othersSeeCutDown = () =>
  nodeNames
    .filter((obs) => hostOf(obs) !== cut)
    .every((obs) => cutNodes.every((n) => views.get(obs)?.get(n) === false)) &&
  events.filter((e) => e.ev === 'presence' && e.kind === 'endpointDown' && e.name === `hub-${cut}`).length >=
    hosts.length - 1;

const result = { hosts, cut, ok: false };
async function run() {
  phase('start');
  for (const h of hosts) {
    const conf = join(out, `nats-${h}.conf`);
    writeFileSync(conf, natsConfig(h));
    startIn(h, `nats-${h}`, natsServer, ['-c', conf]);
  }
  // The hub of each host: the real command line (`isobroker hub --backbone`) on its host's server.
  for (const h of hosts) {
    startIn(h, `cli-hub-${h}`, process.execPath, [
      join(here, '../../bin/isobroker.js'),
      'hub',
      '--name',
      `cli-hub-${h}`,
      '--listen',
      `${hostAddress(h)}:${HUB_PORT}`,
      '--insecure-transport',
      '--insecure-no-auth',
      '--backbone',
      `nats://${hostAddress(h)}:${NATS_PORT}`,
      '--backbone-namespace',
      'multihost',
    ]);
  }
  for (const h of hosts) {
    startIn(
      h,
      `host-${h}`,
      process.execPath,
      [
        join(here, 'host.mjs'),
        '--host',
        h,
        '--hosts',
        String(hostsN),
        '--nats',
        `nats://${hostAddress(h)}:${NATS_PORT}`,
        '--hub',
        `ws://${hostAddress(h)}:${HUB_PORT}`,
      ],
      onHostLine,
    );
  }
  if (!(await waitFor(everyoneUp, 60_000))) throw new Error('not every node saw every other up within 60 s');
  phase('allUp');
  await sleep(2000);

  phase('cut', { host: cut });
  execFileSync('ip', ['link', 'set', linkOf(cut), 'down']);
  result.cutAt = Date.now();
  if (!(await waitFor(othersSeeCutDown, 15_000))) throw new Error(`the others did not see ${cut} down within 15 s`);
  phase('seenDown');
  await sleep(hold);

  phase('heal', { host: cut });
  execFileSync('ip', ['link', 'set', linkOf(cut), 'up']);
  result.healAt = Date.now();
  if (!(await waitFor(everyoneUp, 30_000)))
    throw new Error(`not every node saw every other up within 30 s of the heal`);
  phase('allUpAgain');
  await sleep(2000);
  result.ok = true;
}

async function stopAll() {
  // The workers stop and wait until their log batches are acknowledged (each host says `quiet`).
  const hostProcs = procs.filter((p) => p.name.startsWith('host-') && p.proc.exitCode === null);
  for (const p of hostProcs) {
    try {
      process.kill(p.proc.pid, 'SIGUSR2');
    } catch {}
  }
  const quiet = () => events.filter((e) => e.ev === 'quiet').length >= hostProcs.length;
  try {
    await waitFor(quiet, 20_000);
  } catch {
    // a host died: stop the rest all the same
  }
  phase('quiet');
  phase('stopping');
  // Hosts first (they print their summaries on SIGTERM), then the servers.
  await Promise.all(procs.filter((p) => p.name.startsWith('host-')).map((p) => stopProc(p, 8000)));
  await Promise.all(procs.filter((p) => !p.name.startsWith('host-')).map((p) => stopProc(p, 5000)));
  phase('stopped');
}

let code = 0;
try {
  await run();
} catch (e) {
  result.error = String(e?.message ?? e);
  code = 1;
}
await stopAll();
writeFileSync(join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(code);
