/**
 * The V8 CPU profiler of the current process (what `node --cpu-prof` runs), started and stopped on
 * demand so a profile covers only the measured work, not start-up and connection set-up.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

let session: Session | undefined;

function post(s: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result)));
  });
}

/** Starts sampling (every `intervalUs` microseconds, 1000 as with `--cpu-prof`). */
export async function startCpuProfile(intervalUs = 1000): Promise<void> {
  if (session !== undefined) throw new Error('the CPU profiler is already running');
  const s = new Session();
  s.connect();
  session = s;
  await post(s, 'Profiler.enable');
  await post(s, 'Profiler.setSamplingInterval', { interval: intervalUs });
  await post(s, 'Profiler.start');
}

/** Stops sampling and writes the profile (`.cpuprofile` JSON) to `path`. */
export async function stopCpuProfile(path: string): Promise<void> {
  const s = session;
  if (s === undefined) throw new Error('the CPU profiler is not running');
  session = undefined;
  const { profile } = (await post(s, 'Profiler.stop')) as { profile: unknown };
  s.disconnect();
  writeFileSync(path, JSON.stringify(profile));
}
