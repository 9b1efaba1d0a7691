/**
 * `isobroker hub --no-routers`: the hub refuses router links (`acceptRouters: false`, a dialing
 * hub gets `peer_refused`) and serves leaves. Real child processes of the built bin (`npm run
 * build` first); the hub without the flag is the control.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, string, type Message } from 'isobroker';
import { UsageError, commandUsage, parseCommand } from '../../server/cli/args.js';
import { HUB_COMMAND } from '../../server/cli/hub.js';
import { killAll, startHub } from '../support/processes.js';

const endpoints: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await killAll();
});

function endpoint(opts: ConstructorParameters<typeof Endpoint>[0]): Endpoint {
  const ep = new Endpoint(opts);
  endpoints.push(ep);
  return ep;
}

/** Dials `url` as a router (role hub), once; resolves with the outcome and the error codes seen. */
async function dialAsRouter(url: string): Promise<{ ok: boolean; codes: string[] }> {
  const r = endpoint({ name: 'router', role: 'hub', linkKind: 'router' });
  const codes: string[] = [];
  r.on('error', (e) => codes.push(e.code));
  const ok = await r.peer(url, { retry: 0 }).then(
    () => true,
    () => false,
  );
  return { ok, codes };
}

/** A leaf subscriber and a leaf publisher through the hub at `url`; resolves with what arrived. */
async function leafRoundTrip(url: string): Promise<Message> {
  const sub = endpoint({ name: 'leaf-sub' });
  const pub = endpoint({ name: 'leaf-pub' });
  const got = new Promise<Message>((resolve) => sub.subscribe('no-routers/', resolve));
  await sub.peer(url, { retry: 0 });
  await pub.peer(url, { retry: 0 });
  await pub.whenRoutable('no-routers/x');
  pub.publish('no-routers/x', string('via a leaf-only hub'));
  return got;
}

describe('hub --no-routers', () => {
  it('is a flag without a value, and is in the help text', () => {
    expect(parseCommand(HUB_COMMAND, ['--no-routers'])).toMatchObject({ kind: 'run', values: { 'no-routers': true } });
    expect(parseCommand(HUB_COMMAND, [])).toMatchObject({ kind: 'run', values: { 'no-routers': false } });
    expect(() => parseCommand(HUB_COMMAND, ['--no-routers=yes'])).toThrow(UsageError);
    expect(() => parseCommand(HUB_COMMAND, ['--no-routers=yes'])).toThrow('--no-routers takes no value, got "yes"');
    const help = commandUsage(HUB_COMMAND as unknown as Parameters<typeof commandUsage>[0]);
    expect(help).toMatch(/--no-routers +refuse router links/);
  });

  it('a real hub with --no-routers refuses a router dial with peer_refused and serves leaves', async () => {
    const { cli, url } = await startHub(['--no-routers', '--quiet']);
    expect(cli.stdout.find((l) => l.includes(' ready: '))).toContain('router links refused (--no-routers)');
    const router = await dialAsRouter(url);
    expect(router.ok).toBe(false);
    expect(router.codes).toContain('peer_refused');
    const msg = await leafRoundTrip(url);
    expect(msg.topic).toBe('no-routers/x');
    expect(msg.data).toEqual(string('via a leaf-only hub'));
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 30_000);

  it('without the flag the same router dial is accepted', async () => {
    const { cli, url } = await startHub(['--quiet']);
    expect(cli.stdout.find((l) => l.includes(' ready: '))).not.toContain('router links refused');
    const router = await dialAsRouter(url);
    expect(router).toEqual({ ok: true, codes: [] });
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 30_000);
});
