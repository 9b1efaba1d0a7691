/**
 * The credentials `isobroker hub --peer` presents to the hubs it dials: a bearer token (a JWT or
 * an `isbk_` API key) from `--peer-token-file`, and TLS for `wss://` peers from `--peer-ca`,
 * `--peer-cert` and `--peer-key`. Every file is read at start (an unreadable one stops the hub,
 * exit 1); the token file is read again whenever the SDK asks for a token (`getToken`: at the
 * first dial, before a JWT expires, on a reconnect with an expiring one) and on SIGHUP, the TLS
 * files on SIGHUP, and each new connection dials with what was read last. A file that cannot be
 * read later keeps the last good contents (a warning says so). Tokens never go into a message.
 */
import { readFileSync } from 'node:fs';
import type { Connector } from '../../src/transport/transport.js';
import { tlsConnector, type TlsOptions } from '../../src/node/tls.js';
import { FatalError } from './args.js';

/** The `--peer-*` flag values. */
export interface PeerCredentialFlags {
  readonly 'peer-token-file': string | undefined;
  readonly 'peer-ca': string | undefined;
  readonly 'peer-cert': string | undefined;
  readonly 'peer-key': string | undefined;
}

/** What one `--peer` dials with: `EndpointOptions.peer` options. */
export interface PeerDialOptions {
  readonly getToken?: () => string;
  readonly connector?: Connector;
}

/** One token on one line: JWT compact form (base64url parts) or an API key (`isbk_…`). */
const TOKEN_RE = /^[A-Za-z0-9_~+/=.-]{1,16384}$/;

/** Reads a whole file; a FatalError naming the flag and the reason (never the contents) when it cannot. */
function readFlagFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FatalError(`${flag} ${path}: cannot read the file (${code ?? (err as Error).message})`);
  }
}

/** Reads the token file: one JWT or API key, surrounding whitespace ignored. */
export function readPeerToken(path: string): string {
  const text = readFlagFile(path, '--peer-token-file').toString('utf8').trim();
  if (text === '')
    throw new FatalError(`--peer-token-file ${path}: the file is empty (expected a JWT or an isbk_ API key)`);
  if (!TOKEN_RE.test(text))
    throw new FatalError(
      `--peer-token-file ${path}: expected one token (a JWT or an isbk_ API key) on one line, without spaces`,
    );
  return text;
}

/** Reads the TLS files named by the flags (PEM, checked by Node at the first dial). */
function readTls(v: PeerCredentialFlags): TlsOptions | undefined {
  if (v['peer-ca'] === undefined && v['peer-cert'] === undefined) return undefined;
  const pem = (flag: 'peer-ca' | 'peer-cert' | 'peer-key'): Buffer | undefined => {
    const path = v[flag];
    if (path === undefined) return undefined;
    const data = readFlagFile(path, `--${flag}`);
    if (!data.toString('latin1').includes('-----BEGIN '))
      throw new FatalError(`--${flag} ${path}: not a PEM file (no "-----BEGIN" line)`);
    return data;
  };
  const ca = pem('peer-ca');
  const cert = pem('peer-cert');
  const key = pem('peer-key');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** The hub's outgoing credentials, kept current (see the file's comment). */
export class PeerCredentials {
  private token: string | undefined;
  private tls: TlsOptions | undefined;

  /** Reads every file now; throws a FatalError (exit 1) naming the first that cannot be used. */
  constructor(
    private readonly flags: PeerCredentialFlags,
    private readonly warn: (line: string) => void,
  ) {
    const file = flags['peer-token-file'];
    this.token = file === undefined ? undefined : readPeerToken(file);
    this.tls = readTls(flags);
  }

  /** Whether any `--peer-*` flag was given (then SIGHUP rereads the files). */
  get configured(): boolean {
    return this.token !== undefined || this.tls !== undefined;
  }

  /** The token presented now (undefined without `--peer-token-file`). */
  get currentToken(): string | undefined {
    return this.token;
  }

  /**
   * SIGHUP: rereads the token and TLS files. Returns whether the token changed. A file that cannot
   * be read or used keeps the last good contents, with a warning.
   */
  reload(): boolean {
    const before = this.token;
    this.refreshToken();
    try {
      this.tls = readTls(this.flags);
    } catch (err) {
      this.warn(`${(err as Error).message}; keeping the previous TLS files`);
    }
    return this.token !== before;
  }

  /** The options for `ep.peer(url, …)`: `getToken` with a token file, a TLS connector for `wss://`. */
  dialOptions(url: string): PeerDialOptions {
    const out: { getToken?: () => string; connector?: Connector } = {};
    if (this.token !== undefined) out.getToken = () => this.refreshToken();
    if (this.tls !== undefined && /^wss:\/\//i.test(url)) {
      // Built per dial from the files read last: new connections pick up replaced certificates.
      const dial: Connector = (u, o) => tlsConnector(this.tls!)(u, o);
      out.connector = Object.assign(dial, { sendsHeaders: true });
    }
    return out;
  }

  /** Rereads the token file; on failure keeps (and returns) the last good token. */
  private refreshToken(): string {
    const file = this.flags['peer-token-file'];
    if (file === undefined) return this.token!;
    try {
      this.token = readPeerToken(file);
    } catch (err) {
      this.warn(`${(err as Error).message}; keeping the previous token`);
    }
    return this.token!;
  }
}
