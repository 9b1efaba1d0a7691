/**
 * `isobroker hub --tls-cert/--tls-key` and the non-loopback rule, with real hub child processes
 * (`npm run build` first) and certificates made by `openssl` in the test: the hub serves `wss://`
 * (a client trusting the certificate peers; one trusting nothing does not), SIGHUP rereads the
 * certificate files and new connections get the new certificate while an open one stays; a
 * non-loopback `--listen` without TLS or without a policy refuses to start (exit 2) unless
 * `--insecure-transport` / `--insecure-no-auth` are given, which print a warning.
 */
import { readFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { string, type Message } from 'isobroker';
import { peer } from 'isobroker/node';
import { UsageError, parseCommand } from '../../server/cli/args.js';
import { HUB_COMMAND } from '../../server/cli/hub.js';
import { selfSigned } from '../support/certs.js';
import { spawnCli } from '../support/processes.js';
import { authDir, cliTest, until } from './hub-auth-support.js';

const { cleanup, client: endpoint } = cliTest();

/** The certificate a TLS server at 127.0.0.1:`port` presents now. */
function presented(port: number): Promise<PeerCertificate> {
  return new Promise((ok, fail) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      ok(s.getPeerCertificate());
      s.end();
    });
    s.on('error', fail);
  });
}

async function startTlsHub(
  args: readonly string[],
): Promise<{ cli: ReturnType<typeof spawnCli>; url: string; port: number }> {
  const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', ...args]);
  const ready = await cli.line(/ready: native wss:\/\//);
  const url = /native (wss:\/\/\S+),/.exec(ready)![1]!;
  return { cli, url, port: Number(/:(\d+)$/.exec(url)![1]) };
}

describe('hub --tls-cert/--tls-key', () => {
  it('serves wss:// with the certificate; SIGHUP swaps it for new connections and keeps open ones', async () => {
    const auth = authDir(cleanup);
    const one = selfSigned(auth.dir, 'one');
    const two = selfSigned(auth.dir, 'two');
    const cert = join(auth.dir, 'hub.crt');
    const key = join(auth.dir, 'hub.key');
    copyFileSync(one.cert, cert);
    copyFileSync(one.key, key);
    const policy = auth.writePolicy({
      roles: { reader: { publish: { allow: ['demo/'] }, subscribe: { allow: ['demo/'] } } },
    });
    const { cli, url, port } = await startTlsHub(['--tls-cert', cert, '--tls-key', key, '--policy', policy, '--quiet']);
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(cli.stdout.join('\n')).toContain('Broker JSON v1 wss://127.0.0.1:');

    // A client that does not trust the certificate is refused at the handshake.
    const stranger = endpoint('stranger');
    await expect(peer(stranger.ep, url, { retry: 0, token: auth.token('s', ['reader']), tls: {} })).rejects.toThrow();

    // One that trusts it peers, with its token, and messages flow.
    const sub = endpoint('sub');
    await peer(sub.ep, url, { retry: 0, token: auth.token('alice', ['reader']), tls: { ca: readFileSync(one.cert) } });
    const got: Message[] = [];
    sub.ep.subscribe('demo/', (m) => got.push(m));
    let lost = false;
    sub.ep.on('status', (s) => {
      if (s.code === 'peer_lost') lost = true;
    });
    expect((await presented(port)).subject.CN).toBe('one');

    // New certificate files, then SIGHUP: new handshakes get them, the open connection stays.
    copyFileSync(two.cert, cert);
    copyFileSync(two.key, key);
    cli.proc.kill('SIGHUP');
    let cn = '';
    const start = Date.now();
    while (cn !== 'two' && Date.now() - start < 5000) {
      cn = (await presented(port)).subject.CN as string;
      if (cn !== 'two') await new Promise((r) => setTimeout(r, 50));
    }
    expect(cn).toBe('two');
    const pub = endpoint('pub');
    await peer(pub.ep, url, { retry: 0, token: auth.token('bob', ['reader']), tls: { ca: readFileSync(two.cert) } });
    await pub.ep.whenRoutable('demo/x');
    pub.ep.publish('demo/x', string('over the new certificate'));
    await until(() => got.length === 1, 5000, 'the message over the old connection');
    expect(lost).toBe(false);
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 30_000);

  it('checks the TLS flags together before starting anything (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['--tls-cert', 'a.crt'], /--tls-cert needs --tls-key/],
      [['--tls-key', 'a.key'], /--tls-key needs --tls-cert/],
      [['--tls-ca', 'ca.crt'], /--tls-ca needs --tls-cert and --tls-key/],
      [
        ['--tls-cert', 'a', '--tls-key', 'b', '--tls-client-auth', 'require'],
        /--tls-client-auth require needs --tls-ca/,
      ],
      [['--tls-client-auth', 'maybe'], /--tls-client-auth: expected none or request or require, got "maybe"/],
      [['--cookie-name', 'tok', '--origin', 'https://a.test'], /--cookie-name needs --policy/],
      [['--trust-proxy', '10.0.0.0/33'], /--trust-proxy: expected addresses or CIDRs/],
      [['--origin', 'https://a.test/path'], /--origin: expected an origin/],
    ];
    for (const [args, re] of cases) {
      expect(() => parseCommand(HUB_COMMAND, ['--listen', '127.0.0.1:0', ...args]), args.join(' ')).toThrow(UsageError);
      expect(() => parseCommand(HUB_COMMAND, ['--listen', '127.0.0.1:0', ...args])).toThrow(re);
    }
    // The command itself: exit 2, one line, nothing started.
    const cli = spawnCli(['hub', '--listen', '127.0.0.1:0', '--tls-cert', 'a.crt']);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr).toEqual(['isobroker hub: --tls-cert needs --tls-key']);
    expect(cli.stdout).toEqual([]);
  }, 30_000);
});

describe('hub on a non-loopback address', () => {
  it('refuses to start without TLS and a policy, naming both and the flags that override', async () => {
    const cli = spawnCli(['hub', '--listen', '0.0.0.0:0']);
    expect(await cli.exited).toBe(2);
    const err = cli.stderr.join('\n');
    expect(err).toMatch(
      /--listen 0\.0\.0\.0:0: a non-loopback address needs TLS .*--insecure-transport.* and a policy .*--insecure-no-auth/,
    );
    expect(cli.stdout).toEqual([]);

    const auth = authDir(cleanup);
    const policy = auth.writePolicy({ roles: {} });
    const noTls = spawnCli(['hub', '--listen', '0.0.0.0:0', '--policy', policy]);
    expect(await noTls.exited).toBe(2);
    expect(noTls.stderr.join('\n')).toMatch(/needs TLS/);
    expect(noTls.stderr.join('\n')).not.toMatch(/a policy/);
  }, 15_000);

  it('starts with the insecure flags and warns about each', async () => {
    const cli = spawnCli(['hub', '--listen', '0.0.0.0:0', '--insecure-transport', '--insecure-no-auth', '--quiet']);
    await cli.line(/ready: native ws:\/\/0\.0\.0\.0:\d+/);
    const err = cli.stderr.join('\n');
    expect(err).toContain('WARNING: --insecure-transport: serving without TLS');
    expect(err).toContain('WARNING: --insecure-no-auth: no policy');
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 15_000);

  it('starts with TLS and a policy and no insecure flag', async () => {
    const auth = authDir(cleanup);
    const { cert, key } = selfSigned(auth.dir, 'server');
    const policy = auth.writePolicy({ roles: {} });
    const cli = spawnCli([
      'hub',
      '--listen',
      '0.0.0.0:0',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      '--policy',
      policy,
      '--quiet',
    ]);
    await cli.line(/ready: native wss:\/\/0\.0\.0\.0:\d+/);
    expect(cli.stderr.join('\n')).not.toContain('WARNING');
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 15_000);
});
