/**
 * Starts the pub/sub benchmark's processes: the brokers (isobroker hub, nats-server, raw `ws`
 * relay) and one client driver per system. mosquitto runs inside its driver's private network
 * namespace (`unshare -n`), because its WebSocket listener binds every interface. Everything
 * binds 127.0.0.1 and is stopped by the caller's {@link ProcessSet}.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type ChildHandle, type ProcessSet } from '../lib/processes.js';
import { RpcClient } from '../lib/rpc.js';
import { MOSQUITTO_PATH } from './pubsub-mosquitto.js';
import type { SystemId } from './pubsub-clients.js';

const START_TIMEOUT_MS = 15_000;

/** A broker ready for clients, and the driver process that runs its clients. */
export interface BrokerSetup {
  readonly system: SystemId;
  readonly url: string;
  /** Process whose CPU time counts as the broker's. */
  readonly brokerPid: number;
  readonly driver: RpcClient;
  /** The hub's control channel (send-buffer statistics), for the hub only. */
  readonly control?: RpcClient;
}

function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** The first of `candidates` that exists, else undefined. */
export function findExecutable(candidates: readonly string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/** nats-server of the Debian package (installed in /usr/sbin on Debian 12). */
export const NATS_SERVER_CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server'] as const;

async function readyUrl(child: ChildHandle): Promise<string> {
  const m = await child.waitForLine(/^ready (ws:\/\/\S+)$/, START_TIMEOUT_MS);
  return m[1]!;
}

/** Starts a client driver; with `netns`, inside a new network namespace whose loopback is up. */
function startDriver(procs: ProcessSet, system: SystemId, netns: boolean): RpcClient {
  const driver = helperPath('pubsub-driver.js');
  const child = netns
    ? procs.spawn(`${system} driver`, 'unshare', [
        '-n',
        'sh',
        '-c',
        'ip link set lo up && exec "$0" "$@"',
        process.execPath,
        driver,
        '--netns',
      ])
    : procs.spawn(`${system} driver`, process.execPath, [driver]);
  return new RpcClient(child);
}

/** The isobroker hub in its own process, with a driver. */
export async function startHub(procs: ProcessSet): Promise<BrokerSetup> {
  const child = procs.spawn('isobroker hub', process.execPath, [helperPath('pubsub-hub-server.js')]);
  const url = await readyUrl(child);
  return {
    system: 'hub',
    url,
    brokerPid: child.pid,
    driver: startDriver(procs, 'hub', false),
    control: new RpcClient(child),
  };
}

/** The raw `ws` relay in its own process, with a driver. */
export async function startRelay(procs: ProcessSet): Promise<BrokerSetup> {
  const child = procs.spawn('ws relay', process.execPath, [helperPath('pubsub-relay-server.js')]);
  const url = await readyUrl(child);
  return { system: 'ws', url, brokerPid: child.pid, driver: startDriver(procs, 'ws', false) };
}

/** nats-server with a WebSocket listener, both ports on 127.0.0.1, with a driver. */
export async function startNats(procs: ProcessSet, binary: string): Promise<BrokerSetup> {
  const [port, wsPort] = [await freePort(), await freePort()];
  const dir = procs.tempDir('isobroker-bench-nats-');
  const conf = join(dir, 'nats.conf');
  writeFileSync(
    conf,
    [`listen: "127.0.0.1:${port}"`, `websocket {`, `  listen: "127.0.0.1:${wsPort}"`, `  no_tls: true`, `}`, ''].join(
      '\n',
    ),
  );
  const child = procs.spawn('nats-server', binary, ['-c', conf]);
  await child.waitForLine(/Server is ready/, START_TIMEOUT_MS, 'stderr');
  return {
    system: 'nats',
    url: `ws://127.0.0.1:${wsPort}`,
    brokerPid: child.pid,
    driver: startDriver(procs, 'nats', false),
  };
}

/** Why mosquitto cannot run here, or undefined when it can. */
export function mosquittoUnavailable(): string | undefined {
  if (!existsSync(MOSQUITTO_PATH)) return `${MOSQUITTO_PATH} is not installed`;
  if (findExecutable(['/usr/bin/unshare', '/bin/unshare']) === undefined) return 'unshare is not installed';
  if (findExecutable(['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) === undefined)
    return 'ip is not installed';
  return undefined;
}

/** mosquitto and its driver, both inside one private network namespace. */
export async function startMosquitto(procs: ProcessSet): Promise<BrokerSetup> {
  const driver = startDriver(procs, 'mosquitto', true);
  const dir = procs.tempDir('isobroker-bench-mosquitto-');
  const { url, pid } = await driver.call<{ url: string; pid: number }>('start-mosquitto', { dir }, START_TIMEOUT_MS);
  return { system: 'mosquitto', url, brokerPid: pid, driver };
}
