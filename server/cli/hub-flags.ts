/**
 * Checks of the hub's security flags (`--tls-*`, `--trust-proxy`, `--origin`, `--cookie-name`,
 * `--insecure-*`), all made before anything starts: a wrong combination is a usage error (exit 2).
 */
import { isIP } from 'node:net';
import { UsageError, expected, parseHostPort } from './args.js';

/** One `--trust-proxy` entry: an address and a prefix length. */
export interface Cidr {
  readonly address: string;
  readonly bits: number;
}

/** `10.0.0.1,10.1.0.0/16,::1`: addresses or CIDRs, comma-separated (a bare address is /32 or /128). */
export function parseCidrList(value: string, flag = '--trust-proxy'): Cidr[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) expected(flag, 'addresses or CIDRs, comma-separated', value);
  return parts.map((p) => {
    const slash = p.indexOf('/');
    const address = slash < 0 ? p : p.slice(0, slash);
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const bitsText = slash < 0 ? String(max) : p.slice(slash + 1);
    if (family === 0 || !/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max)
      expected(flag, 'addresses or CIDRs, comma-separated (e.g. 127.0.0.1,10.0.0.0/8)', value);
    return { address, bits: Number(bitsText) };
  });
}

/** A browser origin: `http(s)://host[:port]`, nothing after it. */
export function checkOrigin(value: string, flag: string): void {
  if (!/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(value))
    expected(flag, 'an origin such as https://dashboard.example.com (scheme, host, optional port; no path)', value);
}

/** Whether a listen address is loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The security flags as parsed (the hub's option values). */
export interface SecurityFlags {
  readonly listen: string;
  readonly policy: string | undefined;
  readonly 'tls-cert': string | undefined;
  readonly 'tls-key': string | undefined;
  readonly 'tls-ca': string | undefined;
  readonly 'tls-client-auth': string;
  readonly origin: readonly string[];
  readonly 'cookie-name': string | undefined;
  readonly 'insecure-transport': boolean;
  readonly 'insecure-no-auth': boolean;
}

/**
 * Checks combinations: TLS cert and key together; `--tls-ca`/`--tls-client-auth` only with TLS;
 * a cookie only with `--policy` and an `--origin` allowlist; and a listener on a non-loopback
 * address only with TLS (or `--insecure-transport`) and a policy (or `--insecure-no-auth`).
 */
export function validateSecurityFlags(v: SecurityFlags): void {
  const tls = v['tls-cert'] !== undefined;
  if (tls !== (v['tls-key'] !== undefined))
    throw new UsageError(tls ? '--tls-cert needs --tls-key' : '--tls-key needs --tls-cert');
  if (!tls && v['tls-ca'] !== undefined) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
  if (!tls && v['tls-client-auth'] !== 'none') throw new UsageError('--tls-client-auth needs --tls-cert and --tls-key');
  if (v['tls-client-auth'] !== 'none' && v['tls-ca'] === undefined)
    throw new UsageError(`--tls-client-auth ${v['tls-client-auth']} needs --tls-ca (the CA of client certificates)`);
  if (v['cookie-name'] !== undefined && v.policy === undefined)
    throw new UsageError('--cookie-name needs --policy (a cookie carries a token)');
  if (v['cookie-name'] !== undefined && v.origin.length === 0)
    throw new UsageError('--cookie-name needs at least one --origin (cookies are accepted from allowed origins only)');
  const { host } = parseHostPort(v.listen);
  if (isLoopbackHost(host)) return;
  const missing: string[] = [];
  if (!tls && !v['insecure-transport'])
    missing.push('TLS (--tls-cert and --tls-key, or --insecure-transport to serve clear text anyway)');
  if (v.policy === undefined && !v['insecure-no-auth'])
    missing.push('a policy (--policy FILE, or --insecure-no-auth to let anyone in)');
  if (missing.length > 0)
    throw new UsageError(`--listen ${v.listen}: a non-loopback address needs ${missing.join(' and ')}`);
}

/** The warnings the insecure flags print at start (on stderr, also with --quiet). */
export function insecureWarnings(v: SecurityFlags): string[] {
  const out: string[] = [];
  if (v['insecure-transport'])
    out.push(
      v['tls-cert'] === undefined
        ? 'WARNING: --insecure-transport: serving without TLS; tokens, keys and messages travel in clear text'
        : 'WARNING: --insecure-transport given, but --tls-cert is set: serving TLS',
    );
  if (v['insecure-no-auth'])
    out.push(
      v.policy === undefined
        ? 'WARNING: --insecure-no-auth: no policy; anyone who can reach this hub may read, publish and write anything'
        : 'WARNING: --insecure-no-auth given, but --policy is set: clients authenticate',
    );
  return out;
}

/** The `--peer` credential flags as parsed. */
export interface PeerFlags {
  readonly peer: readonly string[];
  readonly 'peer-token-file': string | undefined;
  readonly 'peer-ca': string | undefined;
  readonly 'peer-cert': string | undefined;
  readonly 'peer-key': string | undefined;
}

/**
 * Checks the `--peer-*` combinations: client certificate and key together; every one needs a
 * `--peer`, and the TLS ones a `wss://` peer.
 */
export function validatePeerFlags(v: PeerFlags): void {
  const cert = v['peer-cert'] !== undefined;
  if (cert !== (v['peer-key'] !== undefined))
    throw new UsageError(cert ? '--peer-cert needs --peer-key' : '--peer-key needs --peer-cert');
  const given = (['peer-token-file', 'peer-ca', 'peer-cert', 'peer-key'] as const).filter((f) => v[f] !== undefined);
  if (given.length === 0) return;
  if (v.peer.length === 0) throw new UsageError(`--${given[0]} needs at least one --peer URL`);
  const tls = given.find((f) => f !== 'peer-token-file');
  if (tls !== undefined && !v.peer.some((u) => /^wss:\/\//i.test(u)))
    throw new UsageError(`--${tls} is for wss:// peers, and no --peer URL is wss://`);
}
