/**
 * The client address of a request: the socket's address, or — only when the socket comes from a
 * trusted reverse proxy (`trustProxy` CIDRs) — the rightmost X-Forwarded-For hop that is not
 * itself a trusted proxy, and the scheme from X-Forwarded-Proto.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../../errors.js';

/** Parsed `trustProxy` CIDRs. */
export interface TrustedProxies {
  readonly cidrs: readonly string[];
  /** True when `ip` (IPv4, IPv6 or IPv4-mapped IPv6) lies in one of the CIDRs. */
  has(ip: string): boolean;
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
export function normalizeIp(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Parses CIDRs (`10.0.0.0/8`, `::1/128`, or a bare address); throws a `ConfigError` naming `name`. */
export function parseTrustProxy(name: string, cidrs: readonly string[]): TrustedProxies {
  if (!Array.isArray(cidrs)) throw new ConfigError(name, 'expected an array of CIDRs');
  const list = new BlockList();
  for (const c of cidrs) {
    if (typeof c !== 'string') throw new ConfigError(name, 'expected an array of CIDRs');
    const [addr = '', bits, extra] = c.split('/');
    const v = isIP(addr);
    const max = v === 4 ? 32 : 128;
    const n = bits === undefined ? max : Number(bits);
    if (v === 0 || extra !== undefined || !/^\d{1,3}$/.test(String(n)) || n > max)
      throw new ConfigError(name, `expected CIDRs like 10.0.0.0/8 or ::1/128, got ${JSON.stringify(c)}`);
    list.addSubnet(addr, n, v === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    cidrs,
    has: (ip) => {
      const a = normalizeIp(ip);
      const v = isIP(a);
      return v !== 0 && list.check(a, v === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** Where a request comes from. */
export interface ClientAddress {
  readonly ip: string;
  readonly port: number;
  /** `https` on TLS, or what a trusted proxy said. */
  readonly scheme: 'http' | 'https';
}

const MAX_HOPS = 32;

/** The request's client address, believing X-Forwarded-* only from `trusted` proxies. */
export function clientAddress(req: IncomingMessage, trusted: TrustedProxies | undefined): ClientAddress {
  const socketIp = normalizeIp(req.socket.remoteAddress ?? '');
  const port = req.socket.remotePort ?? 0;
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  const direct: ClientAddress = { ip: socketIp, port, scheme: tls ? 'https' : 'http' };
  if (trusted === undefined || !trusted.has(socketIp)) return direct;
  let ip = socketIp;
  const xff = req.headers['x-forwarded-for'];
  if (typeof xff === 'string') {
    const hops = xff.split(',').slice(-MAX_HOPS);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]!.trim());
      if (isIP(hop) === 0) break; // garbage: keep the last proxy we believe
      ip = hop;
      if (!trusted.has(hop)) break;
    }
  }
  const proto = req.headers['x-forwarded-proto'];
  const last = typeof proto === 'string' ? proto.split(',').pop()!.trim().toLowerCase() : '';
  const scheme = last === 'https' || last === 'http' ? last : direct.scheme;
  return { ip, port: ip === socketIp ? port : 0, scheme };
}
