/**
 * TLS for outgoing peerings from Node.js: `peer(endpoint, 'wss://…', { tls })` dials with the
 * given TLS options (a private CA, a client certificate, a server name, Broker's anonymous TLS).
 *
 * A default Broker or Zeek WebSocket listener (`Broker::listen_websocket` without certificates)
 * speaks *anonymous* TLS: no certificates at all, anonymous ECDH on P-384, TLS 1.2.
 * `BROKER_ANONYMOUS_TLS` is that configuration for Node. It encrypts but authenticates nobody: any
 * machine in the path can pose as the server. Use it only on a network you trust, and configure
 * certificates on both sides (`ca`, and `cert`/`key` if the server wants client certificates)
 * anywhere else.
 */
import type { SecureVersion } from 'node:tls';
import WebSocket from 'ws';
import type { Endpoint } from '../endpoint/endpoint.js';
import type { PeerOptions } from '../endpoint/endpoint-options.js';
import { ConfigError } from '../errors.js';
import type { Connector } from '../transport/transport.js';
import { websocketConnector, type WebSocketConstructor } from '../transport/websocket-transport.js';
import { boolOption, checkOptionsObject, oneOfOption, stringOption } from '../util/options.js';

type Pem = string | Buffer | readonly (string | Buffer)[];

/** TLS options of an outgoing `wss://` peering (passed to Node's `tls.connect`). */
export interface TlsOptions {
  /** Certificate authorities to trust instead of Node's built-in list (PEM). @default Node's list */
  readonly ca?: Pem;
  /** Our client certificate chain (PEM), for servers that require one. @default none */
  readonly cert?: Pem;
  /** The private key of `cert` (PEM). @default none */
  readonly key?: Pem;
  /** Passphrase of `key`. @default none */
  readonly passphrase?: string;
  /** Server name for SNI and certificate checks. @default the URL's host name */
  readonly servername?: string;
  /** Fail unless the server's certificate is valid for `servername` and signed by `ca`. @default true */
  readonly rejectUnauthorized?: boolean;
  /** OpenSSL cipher list (TLS 1.2 and older). @default Node's */
  readonly ciphers?: string;
  /** Curve for ECDH key agreement, e.g. `'P-384'`. @default Node's (`'auto'`) */
  readonly ecdhCurve?: string;
  /** Lowest TLS version. @default Node's ('TLSv1.2') */
  readonly minVersion?: SecureVersion;
  /** Highest TLS version. @default Node's ('TLSv1.3') */
  readonly maxVersion?: SecureVersion;
}

/**
 * Broker's default WebSocket TLS: anonymous ciphers (no certificates), ECDH on P-384, TLS 1.2.
 * WARNING: encrypts but authenticates nobody — anyone in the path can pose as the server.
 */
export const BROKER_ANONYMOUS_TLS: Readonly<TlsOptions> = Object.freeze({
  ciphers: 'aNULL:eNULL:@SECLEVEL=0',
  ecdhCurve: 'P-384',
  maxVersion: 'TLSv1.2',
  rejectUnauthorized: false,
});

/**
 * Options of `peer()` from `isobroker/node`: the endpoint's peer options plus `tls`. `token` /
 * `getToken` travel in the native hello, or as `Authorization: Bearer` on a JSON v1 upgrade;
 * `headers` go on the upgrade through `ws`; `protocols` are offered as `Sec-WebSocket-Protocol`.
 */
export interface NodePeerOptions extends Omit<PeerOptions, 'connector'> {
  /** TLS options for a `wss://` URL (`BROKER_ANONYMOUS_TLS` for a default Broker or Zeek). @default Node's defaults */
  readonly tls?: TlsOptions;
}

const TLS_VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function pemOption(name: string, v: Pem | undefined): Pem | undefined {
  if (v === undefined) return undefined;
  const ok = (x: unknown): boolean => (typeof x === 'string' && x.length > 0) || Buffer.isBuffer(x);
  if (!(ok(v) || (Array.isArray(v) && v.length > 0 && v.every(ok)))) {
    throw new ConfigError(name, 'expected PEM text, a Buffer, or a non-empty array of them');
  }
  return v;
}

/** Checks TLS options once; throws a `ConfigError` (`tls.…`) naming the first invalid one. */
export function resolveTlsOptions(o: TlsOptions | undefined): TlsOptions {
  checkOptionsObject('tls', o);
  const t = o ?? {};
  const out: Record<string, unknown> = {
    rejectUnauthorized: boolOption('tls.rejectUnauthorized', t.rejectUnauthorized, true),
  };
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) out[k] = v;
  };
  set('ca', pemOption('tls.ca', t.ca));
  set('cert', pemOption('tls.cert', t.cert));
  set('key', pemOption('tls.key', t.key));
  if ((t.cert === undefined) !== (t.key === undefined))
    throw new ConfigError(t.cert ? 'tls.key' : 'tls.cert', 'cert and key go together');
  if (t.passphrase !== undefined) set('passphrase', stringOption('tls.passphrase', t.passphrase, ''));
  if (t.servername !== undefined) set('servername', stringOption('tls.servername', t.servername, '', 255));
  if (t.ciphers !== undefined) set('ciphers', stringOption('tls.ciphers', t.ciphers, '', 4096));
  if (t.ecdhCurve !== undefined) set('ecdhCurve', stringOption('tls.ecdhCurve', t.ecdhCurve, '', 256));
  if (t.minVersion !== undefined)
    set('minVersion', oneOfOption('tls.minVersion', t.minVersion, 'TLSv1.2', TLS_VERSIONS));
  if (t.maxVersion !== undefined)
    set('maxVersion', oneOfOption('tls.maxVersion', t.maxVersion, 'TLSv1.3', TLS_VERSIONS));
  return out as TlsOptions;
}

/** A WebSocket constructor (for `EndpointOptions.WebSocket`) that dials with these TLS options. */
export function tlsWebSocket(tls: TlsOptions): WebSocketConstructor {
  const options = { ...resolveTlsOptions(tls), perMessageDeflate: false };
  class TlsWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[], extra?: { headers?: Record<string, string> }) {
      const o = extra?.headers ? { ...options, headers: { ...extra.headers } } : options;
      super(url, protocols ?? [], o as WebSocket.ClientOptions);
    }
  }
  return TlsWebSocket as unknown as WebSocketConstructor;
}

/** A connector (for `PeerOptions.connector`) that dials with these TLS options. */
export function tlsConnector(tls: TlsOptions): Connector {
  return websocketConnector(tlsWebSocket(tls));
}

/**
 * Peers `endpoint` with `url` like `endpoint.peer(url, options)` (with Node's `ws`, `headers` and,
 * for JSON v1, the token's `Authorization: Bearer` header go on the upgrade), dialling a `wss://` URL
 * with `options.tls`, e.g. `peer(ep, 'wss://zeek:27759/v1/messages/json', { tls: BROKER_ANONYMOUS_TLS,
 * getToken })` for a Zeek behind an authenticating proxy. Rejects with a `ConfigError` for invalid
 * TLS or credential options, or TLS options with a `ws://` URL.
 */
export function peer(endpoint: Endpoint, url: string, options: NodePeerOptions = {}): Promise<void> {
  try {
    checkOptionsObject('options', options);
    const { tls, ...rest } = options;
    // Without tls the endpoint's connector dials: by default Node's ws, which sends headers.
    if (tls === undefined) return endpoint.peer(url, rest);
    if (!/^\s*wss:\/\//i.test(url))
      throw new ConfigError('tls', `TLS options need a wss:// URL, got ${JSON.stringify(url)}`);
    return endpoint.peer(url, { ...rest, connector: tlsConnector(tls) });
  } catch (err) {
    return Promise.reject(err);
  }
}
