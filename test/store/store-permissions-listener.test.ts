/**
 * Store permissions end to end over a real listener on 127.0.0.1: a policy with roles granting
 * `read`, `write` and no store permission, clients peering with signed tokens (jose), the master on
 * the hub (`createMaster` installs the store guard there, as `hub --master` does).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, createClone, createMaster, toText, type StoreClone, type StoreError } from 'isobroker';
import { parsePolicy } from '../../src/auth/policy.js';
import { createAuthenticator } from '../../src/node/auth/authenticator.js';
import { PolicyHolder } from '../../src/node/auth/policy-file.js';
import { listen, type Listener } from '../../src/node/listener/listener.js';
import { until } from '../support/endpoints.js';

const secret = randomBytes(32);
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function policy() {
  const r = parsePolicy({
    version: 1,
    keys: [{ kid: 'k1', alg: 'HS256', secret: secret.toString('base64url') }],
    roles: {
      viewer: { subscribe: { allow: ['app/'] }, stores: { prefs: 'read' } },
      editor: { publish: { allow: ['app/'] }, subscribe: { allow: ['app/'] }, stores: { prefs: 'write' } },
      outsider: { subscribe: { allow: ['app/'] } },
    },
  });
  if (!r.policy) throw new Error(`test policy invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

function token(sub: string, role: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, iat: now, exp: now + 600, isb: { roles: [role] } })
    .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .sign(secret);
}

async function start(): Promise<{ hub: Endpoint; listener: Listener }> {
  const hub = new Endpoint({ name: 'hub', role: 'hub' });
  const { authenticate } = createAuthenticator(new PolicyHolder(policy()));
  const listener = await listen(hub, { host: '127.0.0.1', port: 0, auth: { authenticate, required: true } });
  cleanup.push(
    () => hub.close(),
    () => listener.close(),
  );
  return { hub, listener };
}

async function clientClone(listener: Listener, sub: string, role: string): Promise<StoreClone> {
  const ep = new Endpoint({ name: sub, linkKind: 'leaf' });
  cleanup.push(() => ep.close());
  await ep.peer(listener.url, { token: await token(sub, role) });
  const c = await createClone(ep, 'prefs', { resyncInterval: 100 });
  cleanup.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>): Promise<StoreError | undefined> =>
  p.then(
    () => undefined,
    (e: StoreError) => e,
  );

describe('store permissions over a real listener with tokens', () => {
  it('viewer reads but cannot write, editor writes, outsider cannot attach', async () => {
    const { hub, listener } = await start();
    const master = await createMaster(hub, 'prefs');
    cleanup.push(() => master.close());
    await master.put('theme', 'dark');

    const viewer = await clientClone(listener, 'vera', 'viewer');
    const editor = await clientClone(listener, 'eddie', 'editor');
    await viewer.whenInSync(5000);
    await editor.whenInSync(5000);
    expect(toText(viewer.get('theme'))).toBe('dark');

    const refused = await failure(viewer.put('theme', 'light'));
    expect(refused?.code).toBe('forbidden');
    await editor.put('theme', 'blue');
    expect(toText(master.get('theme'))).toBe('blue');
    await until(() => toText(viewer.get('theme')) === 'blue', 5000, "the editor's write at the viewer");

    const outsider = await clientClone(listener, 'otto', 'outsider');
    const noRead = await failure(outsider.whenInSync(5000));
    expect(noRead?.code).toBe('forbidden');
    expect(noRead?.message).toContain('needs read permission');
    expect(outsider.size).toBe(0);
  });
});
