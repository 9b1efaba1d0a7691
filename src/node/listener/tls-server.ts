/**
 * TLS serving for the listener (`wss://`): certificate and key (PEM), an optional CA for client
 * certificates, TLS 1.2 or newer, a handshake deadline, and live certificate reloads
 * (`server.setSecureContext`: connections already open keep their session).
 */
import { createServer, type Server } from 'node:https';
import type { RequestListener, ServerOptions } from 'node:http';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { ConfigError } from '../../errors.js';
import { checkOptionsObject, oneOfOption } from '../../util/options.js';

type Pem = string | Buffer | readonly (string | Buffer)[];

/** Certificates of a TLS listener (PEM text or Buffers; the CLI reads them from files). */
export interface TlsCertificates {
  /** Our certificate chain. */
  readonly cert: Pem;
  /** The private key of `cert`. */
  readonly key: Pem;
  /** CAs that sign client certificates (needed when `clientAuth` is not `none`). @default none */
  readonly ca?: Pem;
  /** Passphrase of `key`. @default none */
  readonly passphrase?: string;
}

/** `listen(…, { tls })`: serve `wss://`. */
export interface TlsServingOptions extends TlsCertificates {
  /**
   * Client certificates: `none` (not asked for), `request` (asked for; a valid one names the
   * connection for `authenticate`, none or an invalid one is allowed), `require` (a certificate
   * signed by `ca` is required to connect). @default 'none'
   */
  readonly clientAuth?: 'none' | 'request' | 'require';
  /** Lowest TLS version. @default 'TLSv1.2' */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** `TlsServingOptions` after checking. */
export interface ResolvedTlsServing {
  readonly context: SecureContextOptions;
  readonly clientAuth: 'none' | 'request' | 'require';
}

function pem(name: string, v: Pem | undefined, required: boolean): Pem | undefined {
  if (v === undefined) {
    if (required) throw new ConfigError(name, 'expected PEM text or a Buffer, got undefined');
    return undefined;
  }
  const ok = (x: unknown): boolean => (typeof x === 'string' && x.length > 0) || Buffer.isBuffer(x);
  if (!(ok(v) || (Array.isArray(v) && v.length > 0 && v.every(ok))))
    throw new ConfigError(name, 'expected PEM text, a Buffer, or a non-empty array of them');
  return v;
}

function context(c: TlsCertificates, minVersion: 'TLSv1.2' | 'TLSv1.3', prefix: string): SecureContextOptions {
  const ctx: SecureContextOptions = {
    cert: pem(`${prefix}.cert`, c.cert, true) as SecureContextOptions['cert'],
    key: pem(`${prefix}.key`, c.key, true) as SecureContextOptions['key'],
    minVersion,
  };
  const ca = pem(`${prefix}.ca`, c.ca, false);
  if (ca !== undefined) ctx.ca = ca as SecureContextOptions['ca'];
  if (c.passphrase !== undefined) {
    if (typeof c.passphrase !== 'string') throw new ConfigError(`${prefix}.passphrase`, 'expected a string');
    ctx.passphrase = c.passphrase;
  }
  try {
    createSecureContext(ctx);
  } catch (err) {
    // OpenSSL's message names what is wrong (bad PEM, key does not match); it holds no key bytes.
    throw new ConfigError(prefix, `unusable certificate or key: ${err instanceof Error ? err.message : String(err)}`);
  }
  return ctx;
}

/** Checks `tls` options once; throws a `ConfigError` (`tls.…`) naming the first invalid one. */
export function resolveTlsServing(t: TlsServingOptions | undefined): ResolvedTlsServing | undefined {
  if (t === undefined) return undefined;
  checkOptionsObject('tls', t);
  const clientAuth = oneOfOption('tls.clientAuth', t.clientAuth, 'none', ['none', 'request', 'require']);
  const minVersion = oneOfOption('tls.minVersion', t.minVersion, 'TLSv1.2', ['TLSv1.2', 'TLSv1.3']);
  if (clientAuth !== 'none' && t.ca === undefined)
    throw new ConfigError('tls.ca', `clientAuth '${clientAuth}' needs the CA that signs client certificates`);
  return { context: context(t, minVersion, 'tls'), clientAuth };
}

/** An HTTPS server for the listener. */
export function createTlsServer(
  tls: ResolvedTlsServing,
  handshakeTimeout: number,
  httpOptions: ServerOptions,
  handler: RequestListener,
): Server {
  return createServer(
    {
      ...httpOptions,
      ...tls.context,
      requestCert: tls.clientAuth !== 'none',
      rejectUnauthorized: tls.clientAuth === 'require',
      handshakeTimeout,
    },
    handler,
  );
}

/** Replaces the server's certificates for new connections; open ones keep theirs. Throws a `ConfigError` for unusable ones. */
export function reloadTlsCertificates(server: Server, tls: ResolvedTlsServing, certs: TlsCertificates): void {
  checkOptionsObject('tls', certs);
  const ctx = context({ ca: tls.context.ca as Pem | undefined, ...certs }, tls.context.minVersion as 'TLSv1.2', 'tls');
  if (tls.clientAuth !== 'none' && ctx.ca === undefined)
    throw new ConfigError('tls.ca', `clientAuth '${tls.clientAuth}' needs the CA that signs client certificates`);
  server.setSecureContext(ctx);
  (tls as { context: SecureContextOptions }).context = ctx;
}

/** The subject CN of the peer's certificate when it was verified against our CA, else undefined. */
export function verifiedCertificateName(socket: unknown): string | undefined {
  const s = socket as Partial<TLSSocket>;
  if (s.authorized !== true || typeof s.getPeerCertificate !== 'function') return undefined;
  const cn = s.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name.length > 0 && name.length <= 256 ? name : undefined;
}
