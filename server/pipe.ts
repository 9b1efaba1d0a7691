/**
 * `isobroker pipe`, like Broker's broker-pipe: publish each line of stdin as a string message on a
 * topic, or print every message received on a topic prefix in Broker JSON v1 form, one per line.
 */
import { createInterface } from 'node:readline';
import { Endpoint, string } from '../src/index.js';
import { encodeJsonMessage } from '../src/internal.js';
import { UsageError, parse, untilSignal } from './args.js';

export async function runPipe(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    peer: { type: 'string' },
    topic: { type: 'string' },
    publish: { type: 'boolean', default: false },
    subscribe: { type: 'boolean', default: false },
  });
  if (!v.peer || v.topic === undefined) throw new UsageError('pipe needs --peer URL and --topic TOPIC');
  if (v.publish === v.subscribe) throw new UsageError('pipe needs exactly one of --publish and --subscribe');
  const ep = new Endpoint({ role: 'pipe', name: `pipe-${process.pid}` });
  ep.on('error', (e) => process.stderr.write(`isobroker pipe: ${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}\n`));
  const topic = v.topic;

  if (v.subscribe) {
    ep.subscribe(topic, (m) => {
      process.stdout.write(`${encodeJsonMessage({ type: 'data-message', topic: m.topic, data: m.data })}\n`);
    });
    await ep.peer(v.peer);
    await untilSignal();
    await ep.close();
    return 0;
  }

  await ep.peer(v.peer);
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) ep.publish(topic, string(line));
  await ep.close();
  return 0;
}
