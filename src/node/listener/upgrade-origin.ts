/**
 * Origin and Host checks of WebSocket upgrades: any web page the user opens can try
 * `ws://127.0.0.1:…` (cross-site WebSocket hijacking) or reach the listener through a name it
 * controls (DNS rebinding). Origins are compared whole (scheme, host and port), never by prefix.
 *
 * A browser Origin is allowed only when it is the listener's own origin — the page was served
 * from the same host and port the WebSocket goes to (the request's Host, or the bound address) —
 * or when it is listed (`allowedOrigins`, `auth.origins`). A page on another port of the same
 * machine (a dev server, another local service, a dashboard served elsewhere) is a different
 * origin and is refused unless listed. A request without an Origin is not from a browser and
 * passes this check.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const ORIGIN = /^(https?):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?$/i;
const HOST = /^(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?$/;

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
  /**
   * True for no Origin (not a browser), the listener's own origin — same host and port as
   * `hostHeader` (the request's Host), or the bound host with the listening `port` — and the
   * allowlist. Loopback pages on other ports are refused.
   */
  originAllowed(origin: string | undefined, port: number, hostHeader?: string): boolean;
}

/** The bracketed form of an IPv6 literal (`::1` → `[::1]`), other names lower case. */
function urlHost(host: string): string {
  const h = host.toLowerCase();
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** Builds the checks of a listener bound to `host`. */
export function upgradeOriginCheck(
  host: string,
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[] | '*',
): UpgradeOriginCheck {
  const hosts = new Set([...LOOPBACK_HOSTS, host.toLowerCase(), ...allowedHosts.map((h) => h.toLowerCase())]);
  const origins = allowedOrigins === '*' ? '*' : new Set(allowedOrigins.map((o) => o.toLowerCase()));
  const bound = urlHost(host);
  return {
    hostAllowed: (hostHeader) => hosts.has(hostName(hostHeader)),
    originAllowed: (origin, port, hostHeader) => {
      if (origin === undefined) return true; // not a browser
      if (origins === '*') return true;
      if (origins.has(origin.toLowerCase())) return true;
      const m = ORIGIN.exec(origin);
      if (!m) return false;
      const h = m[2]!.toLowerCase();
      const defaultPort = m[1]!.toLowerCase() === 'https' ? 443 : 80;
      const p = Number(m[3] ?? defaultPort);
      // The bound address itself (a page the listener serves, opened by that address).
      if (h === bound && p === port) return true;
      // Same origin as the request: the page came from the host and port the WebSocket goes to.
      const hm = hostHeader === undefined ? null : HOST.exec(hostHeader);
      if (!hm) return false;
      return hm[1]!.toLowerCase() === h && Number(hm[2] ?? defaultPort) === p && hosts.has(h);
    },
  };
}
