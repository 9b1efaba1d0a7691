/** `isobroker hub`: one endpoint that listens (native + Broker JSON v1) and relays between peers. */
import { Endpoint } from '../src/index.js';
import { listen } from '../src/node/index.js';
import { parse, parseHostPort, untilSignal } from './args.js';

export async function runHub(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    listen: { type: 'string', default: '127.0.0.1:9999' },
    peer: { type: 'string', multiple: true, default: [] },
    name: { type: 'string' },
    'allow-origin': { type: 'string', multiple: true, default: [] },
    quiet: { type: 'boolean', default: false },
  });
  const { host, port } = parseHostPort(v.listen!);
  const ep = new Endpoint({ role: 'hub', ...(v.name ? { name: v.name } : {}) });
  const log = (line: string): void => {
    if (!v.quiet) process.stderr.write(`${new Date().toISOString()} ${ep.name}: ${line}\n`);
  };
  ep.on('status', (s) => log(`${s.code}: ${s.message} ${s.peer.name ?? ''} ${s.peer.id ?? ''} ${s.peer.remote ?? ''}`.trimEnd()));
  ep.on('error', (e) => log(`error ${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}${e.peer?.remote ? ` [${e.peer.remote}]` : ''}`));
  const listener = await listen(ep, { host, port, allowedOrigins: v['allow-origin']! });
  for (const url of v.peer!) void ep.peer(url).catch(() => undefined);
  process.stdout.write(
    `isobroker hub ${ep.name} (${ep.id}) ready: native ${listener.url}, Broker JSON v1 ${listener.jsonUrl}\n`,
  );
  const sig = await untilSignal();
  log(`${sig}: shutting down`);
  await ep.close();
  await listener.close();
  return 0;
}
