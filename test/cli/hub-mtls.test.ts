/**
 * Hub↔hub `wss://` with mutual TLS, the client certificate's subject CN mapped to a node by the
 * policy's `certificates`. Certificates are made by the `openssl` CLI (test/support/certs.ts): a CA, a server
 * certificate for 127.0.0.1 (two, to replace one), client certificates CN=hub-b from the CA and
 * from another CA, and CN=hub-c from the CA but not in the policy.
 *
 * In process (`listen` with `clientAuth: 'require'` and the real authenticator): no client
 * certificate, the wrong CA and an unlisted name are refused; the right certificate peers as a
 * router principal (method `certificate`), messages flow both ways, and removing the mapping
 * closes the peering. With the CLI hub (`npm run build` first): the same mapping from a policy
 * file; replacing the server certificate files and sending SIGHUP gives new connections the new
 * certificate (fingerprints compared) while the existing peering stays up and keeps carrying
 * messages.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, string, type Message } from 'isobroker';
import { peer } from 'isobroker/node';
import { parsePolicy, type Policy } from '../../src/auth/policy.js';
import type { AuthError, Principal } from '../../src/auth/types.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { listen, type Listener } from '../../src/node/listener/listener.js';
import { fingerprint, makeCa, makeCert } from '../support/certs.js';
import { killAll, spawnCli } from '../support/processes.js';
import { authDir, until } from './hub-auth-support.js';

let dir: string;
const pem: Record<string, string> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isb-hub-mtls-'));
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  const server = { san: 'IP:127.0.0.1', usage: 'serverAuth' } as const;
  pem['ca.crt'] = ca.certPem;
  for (const c of [
    makeCert(dir, { name: 'srv1', cn: 'hub-a', ca, ...server }),
    makeCert(dir, { name: 'srv2', cn: 'hub-a', ca, ...server }),
    makeCert(dir, { name: 'hub-b', ca, usage: 'clientAuth' }),
    makeCert(dir, { name: 'hub-b-other', cn: 'hub-b', ca: otherCa, usage: 'clientAuth' }),
    makeCert(dir, { name: 'hub-c', ca, usage: 'clientAuth' }),
  ]) {
    pem[`${c.name}.crt`] = c.certPem;
    pem[`${c.name}.key`] = c.keyPem;
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanup: (() => unknown)[] = [];
const endpoints: Endpoint[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await killAll();
});

function hub(name: string): Endpoint {
  const ep = new Endpoint({ name, role: 'hub' });
  endpoints.push(ep);
  return ep;
}

/** Client TLS options of hub-b with certificate `name` (none: no client certificate). */
function clientTls(name?: string): { ca: string; cert?: string; key?: string } {
  return name === undefined
    ? { ca: pem['ca.crt']! }
    : { ca: pem['ca.crt']!, cert: pem[`${name}.crt`]!, key: pem[`${name}.key`]! };
}

const ROLES = { hub: { publish: { allow: ['demo/'] }, subscribe: { allow: ['demo/'] } } };

function policyOf(json: Record<string, unknown>): Policy {
  const r = parsePolicy(json);
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

/** SHA-256 fingerprint of the certificate the TLS server at 127.0.0.1:`port` presents now. */
function presentedFingerprint(port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      ok(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', fail);
  });
}

/** Messages flow both ways between `a` and `b` over their link. */
async function bothWays(a: Endpoint, b: Endpoint, tag: string): Promise<void> {
  const atA: Message[] = [];
  const atB: Message[] = [];
  const sa = a.subscribe(`demo/to-a/${tag}`, (m) => atA.push(m));
  const sb = b.subscribe(`demo/to-b/${tag}`, (m) => atB.push(m));
  try {
    await b.whenRoutable(`demo/to-a/${tag}`);
    await a.whenRoutable(`demo/to-b/${tag}`);
    b.publish(`demo/to-a/${tag}`, string('from b'));
    a.publish(`demo/to-b/${tag}`, string('from a'));
    await until(() => atA.length === 1 && atB.length === 1, 5000, `messages both ways (${tag})`);
  } finally {
    sa.unsubscribe();
    sb.unsubscribe();
  }
}

describe('hub↔hub mutual TLS (in process)', () => {
  async function start(): Promise<{
    a: Endpoint;
    url: string;
    source: { current: Policy };
    made: Principal[];
    revalidate: (p: Principal) => Principal | AuthError;
  }> {
    const source = {
      current: policyOf({ version: 1, roles: ROLES, certificates: { 'hub-b': { roles: ['hub'], node: 'hub-b' } } }),
    };
    const auth = createAuthenticator(source);
    const made: Principal[] = [];
    const a = hub('hub-a');
    const listener: Listener = await listen(a, {
      tls: { cert: pem['srv1.crt']!, key: pem['srv1.key']!, ca: pem['ca.crt']!, clientAuth: 'require' },
      auth: {
        authenticate: async (cred, conn) => {
          const p = await auth.authenticate(cred, conn);
          made.push(p);
          return p;
        },
      },
    });
    cleanup.push(() => listener.close());
    return { a, url: listener.url, source, made, revalidate: auth.revalidate };
  }

  it('refuses no certificate, the wrong CA and an unlisted name; the right certificate peers as a router', async () => {
    const { a, url, source, made, revalidate } = await start();
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);

    for (const cert of [undefined, 'hub-b-other', 'hub-c']) {
      const b = hub('hub-b');
      await expect(peer(b, url, { retry: 0, tls: clientTls(cert) }), String(cert)).rejects.toThrow();
      await b.close();
    }
    expect(made).toEqual([]);
    expect(a.peers()).toEqual([]);

    const b = hub('hub-b');
    await peer(b, url, { retry: 0, tls: clientTls('hub-b') });
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ sub: 'hub-b', node: 'hub-b', router: true, method: 'certificate' });
    await until(() => a.peers().some((p) => p.name === 'hub-b' && p.role === 'hub'), 5000, 'hub-b at hub-a');
    await bothWays(a, b, 'one');

    // The mapping leaves the policy: the re-check closes the peering.
    let lost = false;
    b.on('status', (s) => {
      if (s.code === 'peer_lost') lost = true;
    });
    source.current = policyOf({ version: 1, roles: ROLES });
    a.revalidate(revalidate);
    await until(() => lost, 5000, 'hub-b to lose its peering');
  }, 30_000);
});

describe('hub↔hub mutual TLS (isobroker hub)', () => {
  it('peers with the mapped certificate; certificate replaced + SIGHUP: new connections get it, the peering stays', async () => {
    const auth = authDir(cleanup);
    const cert = join(auth.dir, 'hub.crt');
    const key = join(auth.dir, 'hub.key');
    const ca = join(auth.dir, 'ca.crt');
    copyFileSync(join(dir, 'srv1.crt'), cert);
    copyFileSync(join(dir, 'srv1.key'), key);
    copyFileSync(join(dir, 'ca.crt'), ca);
    const policy = auth.writePolicy({
      roles: { ...ROLES, reader: ROLES.hub },
      certificates: { 'hub-b': { roles: ['hub'], node: 'hub-b' } },
    });
    const cli = spawnCli([
      'hub',
      '--name',
      'hub-a',
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      '--tls-ca',
      ca,
      '--tls-client-auth',
      'require',
      '--policy',
      policy,
      '--quiet',
    ]);
    const ready = await cli.line(/ready: native wss:\/\//);
    const url = /native (wss:\/\/\S+),/.exec(ready)![1]!;
    const port = Number(/:(\d+)$/.exec(url)![1]);

    // Refused: no certificate, the wrong CA, a name the policy does not list.
    for (const c of [undefined, 'hub-b-other', 'hub-c']) {
      const x = hub('hub-b');
      await expect(peer(x, url, { retry: 0, tls: clientTls(c) }), String(c)).rejects.toThrow();
      await x.close();
    }

    // hub-b peers by its certificate alone.
    const b = hub('hub-b');
    await peer(b, url, { retry: 0, tls: clientTls('hub-b') });
    let lost = false;
    b.on('status', (s) => {
      if (s.code === 'peer_lost') lost = true;
    });
    // A leaf with an unlisted certificate and a token on the upgrade: the token decides.
    const leaf = (name: string): Promise<Endpoint> => {
      const ep = new Endpoint({ name });
      endpoints.push(ep);
      const headers = { Authorization: `Bearer ${auth.token(name, ['reader'])}` };
      return peer(ep, url, { retry: 0, headers, tls: clientTls('hub-c') }).then(() => ep);
    };
    await bothWays(b, await leaf('before'), 'before');

    const before = await presentedFingerprint(port);
    expect(before).toBe(fingerprint(join(dir, 'srv1.crt')));
    const wanted = fingerprint(join(dir, 'srv2.crt'));
    expect(wanted).not.toBe(before);

    // Replace the certificate files, then SIGHUP: new handshakes get the new certificate.
    copyFileSync(join(dir, 'srv2.crt'), cert);
    copyFileSync(join(dir, 'srv2.key'), key);
    cli.proc.kill('SIGHUP');
    let now = before;
    const start = Date.now();
    while (now !== wanted && Date.now() - start < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      now = await presentedFingerprint(port);
    }
    expect(now).toBe(wanted);

    // A new mutual-TLS connection over the new certificate reaches hub-b over the old peering.
    await bothWays(b, await leaf('after'), 'after');
    expect(lost).toBe(false);
    expect(b.peers().filter((p) => p.status === 'connected')).toHaveLength(1);
    expect(await cli.kill('SIGTERM')).toBe(0);
  }, 60_000);
});
