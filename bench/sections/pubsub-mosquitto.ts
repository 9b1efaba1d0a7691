/**
 * Starts mosquitto for the pub/sub benchmark. Only ever called inside a private network
 * namespace (`unshare -n`): mosquitto's WebSocket listener ignores its bind address and listens on
 * every interface, which in a fresh namespace is only the namespace's own loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, sleep } from '../lib/processes.js';

/** Where mosquitto is installed (Debian package). */
export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';
/** QoS 0 messages mosquitto queues per client before dropping (its default, 1000, is below our in-flight cap). */
export const MOSQUITTO_MAX_QUEUED = 100_000;

/** A running mosquitto. */
export interface Mosquitto {
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts mosquitto with a WebSocket listener on a free port, its configuration written into `dir`
 * (which the caller owns and removes); resolves once it accepts connections.
 */
export async function startMosquittoHere(dir: string, timeoutMs: number): Promise<Mosquitto> {
  const wsPort = await freePort();
  const mqttPort = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // mosquitto 2.0.11 refuses to start with only a WebSocket listener, hence the plain one too.
  writeFileSync(
    conf,
    [
      `listener ${wsPort}`,
      'protocol websockets',
      `listener ${mqttPort} 127.0.0.1`,
      'protocol mqtt',
      'allow_anonymous true',
      'persistence false',
      `max_queued_messages ${MOSQUITTO_MAX_QUEUED}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  // Not detached: it stays in the driver's process group, which the benchmark stops as a whole.
  const proc: ChildProcess = spawn(MOSQUITTO_PATH, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = (): void => {
    proc.kill('SIGTERM');
  };
  const deadline = performance.now() + timeoutMs;
  while (!(await portOpen(wsPort))) {
    if (proc.exitCode !== null || performance.now() > deadline) {
      stop();
      throw new Error(`mosquitto did not start (exit ${proc.exitCode})`);
    }
    await sleep(20);
  }
  return { url: `ws://127.0.0.1:${wsPort}`, pid: proc.pid!, stop };
}
