/**
 * The security side of `isobroker hub` and `isobroker node` at run time: the policy file (loaded
 * at start, reloaded on SIGHUP and when the file changes — a failed reload keeps the last good
 * policy, says so on stderr and in the audit log), the authenticator handed to the listener, the
 * audit log (JSON Lines, reopened on SIGHUP), and TLS certificates (reread on SIGHUP and swapped
 * into the listener without dropping a connection).
 *
 * After every successful reload the endpoint re-checks each live connection's principal
 * (`endpoint.revalidate`): a revoked subject, token id or API key is closed at once.
 */
import { readFileSync } from 'node:fs';
import type { Endpoint } from '../../src/index.js';
import type { AuditEvent } from '../../src/auth/types.js';
import { openAuditLog, type AuditLog } from '../../src/node/auth/audit-log.js';
import { createAuthenticator, type Authenticator } from '../../src/node/auth/authenticator.js';
import { PolicyFileError, PolicyHolder, type PolicyReloadResult } from '../../src/node/auth/policy-file.js';
import type { ListenOptions, Listener } from '../../src/node/index.js';
import type { TlsCertificates } from '../../src/node/listener/tls-server.js';
import { installStoreGuard } from '../../src/store/install-store-guard.js';
import { FatalError } from './args.js';

/** What the security flags say (the hub's and the node's option values, already checked). */
export interface SecurityConfig {
  readonly policy?: string | undefined;
  readonly auditLog?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsCa?: string | undefined;
  readonly tlsClientAuth?: 'none' | 'request' | 'require';
  readonly trustProxy?: readonly string[];
  readonly origins?: readonly string[];
  readonly cookieName?: string | undefined;
  readonly insecureTransport?: boolean;
  readonly insecureNoAuth?: boolean;
  /** Watch the policy file and reload it when it changes. @default true */
  readonly watch?: boolean;
}

/** The running security setup of one process. */
export interface HubSecurity {
  /** The options to merge into `listen(endpoint, …)`. */
  readonly listen: Pick<
    ListenOptions,
    'auth' | 'tls' | 'trustProxy' | 'insecureTransport' | 'insecureNoAuth' | 'allowedOrigins'
  >;
  /** The policy holder, when a policy is in force. */
  readonly policy: PolicyHolder | undefined;
  /** The authenticator over that policy. */
  readonly authenticator: Authenticator | undefined;
  /** Connects the endpoint (audit, revalidation after reloads) and the listener (TLS reloads); starts SIGHUP handling and the file watch. */
  attach(endpoint: Endpoint, listener: Listener): void;
  /**
   * Reloads the policy file now (what SIGHUP and a file change do): a valid file replaces the
   * policy and live connections are re-checked; an invalid one keeps the last good policy and is
   * reported. Resolves with the outcome; never rejects.
   */
  reloadPolicy(): Promise<PolicyReloadResult>;
  /** What SIGHUP does: reload the policy, reopen the audit log, reread the TLS certificates. */
  hangup(): Promise<void>;
  /** Stops the watch and the SIGHUP handler, flushes and closes the audit log. */
  close(): Promise<void>;
}

const readPem = (path: string, flag: string): Buffer => {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new FatalError(
      `${flag}: cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
};

/** Reads the certificate files named by the flags (again on every SIGHUP). */
export function readTlsFiles(c: SecurityConfig): TlsCertificates {
  return {
    cert: readPem(c.tlsCert!, '--tls-cert'),
    key: readPem(c.tlsKey!, '--tls-key'),
    ...(c.tlsCa !== undefined ? { ca: readPem(c.tlsCa, '--tls-ca') } : {}),
  };
}

/**
 * Loads what the flags name: the policy (a `PolicyFileError` lists every problem), the audit log
 * and the certificates. `log` gets status lines, `warn` lines that are shown even with `--quiet`.
 */
export async function openHubSecurity(
  c: SecurityConfig,
  log: (line: string) => void,
  warn: (line: string) => void,
): Promise<HubSecurity> {
  const holder = c.policy !== undefined ? await PolicyHolder.open(c.policy) : undefined;
  if (holder) for (const w of holder.currentWarnings) warn(`policy warning: ${w}`);
  const authenticator = holder ? createAuthenticator(holder) : undefined;
  const audit: AuditLog | undefined =
    c.auditLog !== undefined
      ? openAuditLog(c.auditLog, { onError: (e) => warn(`audit log: ${e.message}`) })
      : undefined;
  const tls = c.tlsCert !== undefined ? readTlsFiles(c) : undefined;
  const policy = holder?.current;
  const origins = [...new Set([...(c.origins ?? []), ...(policy?.origins ?? [])])];
  const cookieName = c.cookieName ?? policy?.cookie?.name;

  let endpoint: Endpoint | undefined;
  let listener: Listener | undefined;
  const offs: (() => void)[] = [];
  const report = (ev: Omit<AuditEvent, 'time'>): void => {
    const event = { ...ev, time: Date.now() } as AuditEvent;
    if (endpoint) endpoint.reportAudit(event);
    else audit?.sink(event);
  };

  const reloaded = (r: PolicyReloadResult): void => {
    if (r.ok) {
      if (!r.changed) return;
      log(`policy reloaded from ${c.policy}${r.warnings.length ? ` (${r.warnings.length} warnings)` : ''}`);
      for (const w of r.warnings) warn(`policy warning: ${w}`);
      report({ kind: 'policy_reloaded', subject: c.policy!, detail: `${r.warnings.length} warning(s)` });
    } else {
      warn(
        `policy reload failed; the last good policy stays in force (${r.errors.length} error${r.errors.length === 1 ? '' : 's'}):`,
      );
      for (const e of r.errors) warn(`  ${e}`);
      report({
        kind: 'policy_failed',
        subject: c.policy!,
        code: 'invalid_policy',
        detail: r.errors.slice(0, 20).join('; '),
      });
    }
  };

  const reloadTls = (): void => {
    if (!listener || c.tlsCert === undefined) return;
    try {
      listener.reloadTls(readTlsFiles(c));
      log(`TLS certificates reloaded from ${c.tlsCert}`);
    } catch (err) {
      warn(`TLS reload failed; the current certificates stay: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const security: HubSecurity = {
    listen: {
      ...(authenticator
        ? {
            auth: {
              authenticate: authenticator.authenticate,
              required: true,
              ...(origins.length ? { origins } : {}),
              ...(cookieName !== undefined ? { cookieName } : {}),
              ...(audit ? { onAudit: audit.sink } : {}),
            },
          }
        : {}),
      ...(tls ? { tls: { ...tls, clientAuth: c.tlsClientAuth ?? 'none' } } : {}),
      ...(c.trustProxy?.length ? { trustProxy: c.trustProxy } : {}),
      ...(c.insecureTransport ? { insecureTransport: true } : {}),
      ...(c.insecureNoAuth ? { insecureNoAuth: true } : {}),
    },
    policy: holder,
    authenticator,
    attach(ep, l) {
      endpoint = ep;
      listener = l;
      if (audit) offs.push(ep.on('audit', audit.sink));
      if (holder && authenticator) {
        // Store traffic of non-trusted connections is checked against their store permissions
        // here too, not only where a master lives.
        installStoreGuard(ep);
        offs.push(holder.onChange(() => ep.revalidate(authenticator.revalidate)));
        offs.push(holder.onReload(reloaded));
        if (c.watch !== false) offs.push(holder.watch());
      }
      // Without anything to reload, SIGHUP keeps its default (the process ends).
      if (holder || audit || tls) {
        const onHup = (): void => void security.hangup();
        process.on('SIGHUP', onHup);
        offs.push(() => process.off('SIGHUP', onHup));
      }
    },
    async reloadPolicy() {
      if (!holder) return { ok: false, errors: ['$: no policy file (--policy) to reload'] };
      return holder.reload();
    },
    async hangup() {
      log('SIGHUP: reloading');
      audit?.reopen();
      reloadTls();
      if (holder) await holder.reload();
    },
    async close() {
      for (const off of offs.splice(0)) off();
      holder?.close();
      await audit?.close();
    },
  };
  return security;
}

/** Prints every error of an invalid policy file on stderr; returns the one-line summary for the exit. */
export function policyErrorLines(err: PolicyFileError, path: string): string[] {
  return [
    `--policy ${path}: invalid policy (${err.errors.length} error${err.errors.length === 1 ? '' : 's'}):`,
    ...err.errors.map((e) => `  ${e}`),
  ];
}

export { PolicyFileError };
