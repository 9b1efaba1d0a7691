/**
 * Origin and Host checks of WebSocket upgrades: any web page the user opens can try
 * `ws://127.0.0.1:…` (cross-site WebSocket hijacking) or reach the listener through a name it
 * controls (DNS rebinding). Origins are compared whole (scheme, host and port), never by prefix.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const ORIGIN = /^(https?):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?$/i;

/** The host name of a Host header, lower case, without the port (`[::1]` keeps its brackets). */
export function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  const colon = hostHeader.lastIndexOf(':');
  return (colon >= 0 ? hostHeader.slice(0, colon) : hostHeader).toLowerCase();
}

/** Decides Host and Origin headers of upgrades for one listener. */
export interface UpgradeOriginCheck {
  /** True when the Host header names this listener (loopback names, the bound host, `allowedHosts`). */
  hostAllowed(hostHeader: string): boolean;
  /** True for no Origin (not a browser), loopback pages, the listener's own origin, and the allowlist. */
  originAllowed(origin: string | undefined, port: number): boolean;
}

/** Builds the checks of a listener bound to `host`. */
export function upgradeOriginCheck(
  host: string,
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[] | '*',
): UpgradeOriginCheck {
  const hosts = new Set([...LOOPBACK_HOSTS, host.toLowerCase(), ...allowedHosts.map((h) => h.toLowerCase())]);
  const origins = allowedOrigins === '*' ? '*' : new Set(allowedOrigins.map((o) => o.toLowerCase()));
  return {
    hostAllowed: (hostHeader) => hosts.has(hostName(hostHeader)),
    originAllowed: (origin, port) => {
      if (origin === undefined) return true; // not a browser
      if (origins === '*') return true;
      if (origins.has(origin.toLowerCase())) return true;
      const m = ORIGIN.exec(origin);
      if (!m) return false;
      const h = m[2]!.toLowerCase();
      const defaultPort = m[1]!.toLowerCase() === 'https' ? 443 : 80;
      return LOOPBACK_HOSTS.has(h) || (h === host.toLowerCase() && Number(m[3] ?? defaultPort) === port);
    },
  };
}
