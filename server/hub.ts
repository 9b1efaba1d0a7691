/** `isobroker hub`: one endpoint that listens (native + Broker JSON v1) and relays between peers. */
import { Endpoint, createMaster, type StoreMaster } from '../src/index.js';
import { listen, openSqliteBackend } from '../src/node/index.js';
import { UsageError, parse, parseHostPort, untilSignal } from './args.js';

/** `NAME` (memory) or `NAME:sqlite:PATH`. */
export function parseMasterSpec(spec: string): { name: string; sqlitePath?: string } {
  const m = /^([^:]+)(?::sqlite:(.+))?$/.exec(spec);
  if (!m) throw new UsageError(`--master expects NAME or NAME:sqlite:PATH, got '${spec}'`);
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, sqlitePath: m[2] };
}

export async function runHub(argv: readonly string[]): Promise<number> {
  const v = parse(argv, {
    listen: { type: 'string', default: '127.0.0.1:9999' },
    peer: { type: 'string', multiple: true, default: [] },
    name: { type: 'string' },
    'allow-origin': { type: 'string', multiple: true, default: [] },
    master: { type: 'string', multiple: true, default: [] },
    quiet: { type: 'boolean', default: false },
  });
  const { host, port } = parseHostPort(v.listen!);
  const ep = new Endpoint({ role: 'hub', ...(v.name ? { name: v.name } : {}) });
  const log = (line: string): void => {
    if (!v.quiet) process.stderr.write(`${new Date().toISOString()} ${ep.name}: ${line}\n`);
  };
  ep.on('status', (s) => log(`${s.code}: ${s.message} ${s.peer.name ?? ''} ${s.peer.id ?? ''} ${s.peer.remote ?? ''}`.trimEnd()));
  ep.on('error', (e) => log(`error ${e.code}: ${e.message}${e.context ? ` (${e.context})` : ''}${e.peer?.remote ? ` [${e.peer.remote}]` : ''}`));
  const specs = v.master!.map(parseMasterSpec);
  const masters: StoreMaster[] = [];
  for (const spec of specs) {
    // Opening the backend may fail (corrupt file with failure mode FAIL): before we listen.
    const backend = spec.sqlitePath ? openSqliteBackend({ path: spec.sqlitePath }) : undefined;
    masters.push(
      await createMaster(ep, spec.name, {
        ...(backend ? { backend } : {}),
        onError: (e) => log(`store ${spec.name}: ${e.code}: ${e.message}`),
      }),
    );
  }
  const listener = await listen(ep, { host, port, allowedOrigins: v['allow-origin']! });
  for (const url of v.peer!) void ep.peer(url).catch(() => undefined);
  const hosted = specs.length ? `, masters ${specs.map((s) => s.name).join(' ')}` : '';
  process.stdout.write(
    `isobroker hub ${ep.name} (${ep.id}) ready: native ${listener.url}, Broker JSON v1 ${listener.jsonUrl}${hosted}\n`,
  );
  const sig = await untilSignal();
  log(`${sig}: shutting down`);
  for (const m of masters) m.close();
  await ep.close();
  await listener.close();
  return 0;
}
