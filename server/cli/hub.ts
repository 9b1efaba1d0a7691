/** `isobroker hub`: one endpoint that listens (native + Broker JSON v1) and relays between peers. */
import { statSync } from 'node:fs';
import { Endpoint, createMaster, type StoreMaster } from '../../src/index.js';
import { createMetrics, listen, openSqliteBackend, serveMetrics } from '../../src/node/index.js';
import { KeyedRateLimit } from '../../src/endpoint/limits.js';
import { resolvePeerUrl } from '../../src/endpoint/peering.js';
import { jsonV1 } from '../../src/json-v1.js';
import {
  EXIT,
  FatalError,
  UsageError,
  checkHostPort,
  checkNonEmpty,
  checkOneOf,
  checkWsUrl,
  expected,
  parseHostPort,
  parseOrMeta,
  untilSignal,
  defineCommand,
} from './args.js';
import { checkOrigin, insecureWarnings, parseCidrList, validatePeerFlags, validateSecurityFlags } from './hub-flags.js';
import { PeerCredentials } from './hub-peer-credentials.js';
import {
  BACKBONE_OPTIONS,
  backboneFromFlags,
  describeBackbone,
  startBackbone,
  type RunningBackbone,
} from './backbone.js';
import {
  PolicyFileError,
  openHubSecurity,
  policyErrorLines,
  type HubSecurity,
  type SecurityConfig,
} from './hub-auth.js';

/** The link kinds `--overflow-policy`, `--buffer-size` and `--buffer-bytes` can name (`EndpointOptions.links`). */
const LINK_KINDS = ['jsonClients', 'jsonServers', 'peers', 'leaves'] as const;
type LinkKind = (typeof LINK_KINDS)[number];
const POLICIES = ['disconnect', 'drop_oldest', 'drop_newest'] as const;

/** `[KIND=]VALUE`, KIND one of LINK_KINDS (default jsonClients: the hub's Broker JSON v1 clients). */
export function parseLinkSetting(
  value: string,
  flag: string,
  what: string,
  ok: (v: string) => boolean,
): { kind: LinkKind; value: string } {
  const eq = value.indexOf('=');
  const kind = (eq < 0 ? 'jsonClients' : value.slice(0, eq)) as LinkKind;
  const v = eq < 0 ? value : value.slice(eq + 1);
  if (!LINK_KINDS.includes(kind) || !ok(v)) expected(flag, `[${LINK_KINDS.join('|')}=]${what}`, value);
  return { kind, value: v };
}

const isPolicy = (v: string): boolean => (POLICIES as readonly string[]).includes(v);
const isBufferSize = (v: string): boolean => /^[1-9]\d{0,8}$/.test(v);
/** Bytes of a send buffer: 1024 to 4 GiB (`LinkOptions.bufferBytes`). */
const isBufferBytes = (v: string): boolean => /^[1-9]\d{3,9}$/.test(v) && Number(v) >= 1024 && Number(v) <= 2 ** 32;
const BYTES_WHAT = 'N (bytes, 1024 to 4294967296)';

type LinkFlags = { overflowPolicy?: (typeof POLICIES)[number]; bufferSize?: number; bufferBytes?: number };

/** `--overflow-policy`, `--buffer-size` and `--buffer-bytes` values as `EndpointOptions.links`. */
export function linksFromFlags(
  policies: readonly string[],
  sizes: readonly string[],
  bytes: readonly string[] = [],
): Record<LinkKind, LinkFlags> {
  const links: Record<LinkKind, LinkFlags> = {
    jsonClients: {},
    jsonServers: {},
    peers: {},
    leaves: {},
  };
  for (const p of policies) {
    const { kind, value } = parseLinkSetting(p, '--overflow-policy', POLICIES.join('|'), isPolicy);
    links[kind].overflowPolicy = value as (typeof POLICIES)[number];
  }
  for (const s of sizes) {
    const { kind, value } = parseLinkSetting(s, '--buffer-size', 'N (messages, 1 or more)', isBufferSize);
    links[kind].bufferSize = Number(value);
  }
  for (const b of bytes) {
    const { kind, value } = parseLinkSetting(b, '--buffer-bytes', BYTES_WHAT, isBufferBytes);
    links[kind].bufferBytes = Number(value);
  }
  return links;
}

/** `NAME` (memory), `NAME:sqlite:PATH`, or `NAME:sqlite:PATH:existing` (the store must exist already). */
export function parseMasterSpec(
  spec: string,
  flag = '--master',
): { name: string; sqlitePath?: string; existing?: boolean } {
  const m = /^([^:\s]+)(?::sqlite:(.+?)(:existing)?)?$/.exec(spec);
  if (!m) expected(flag, 'NAME or NAME:sqlite:PATH', spec);
  if (m[2] === undefined) return { name: m[1]! };
  return { name: m[1]!, sqlitePath: m[2], ...(m[3] ? { existing: true } : {}) };
}

/** Whether `path` holds something (a missing or empty file means a new, empty store). */
function fileHasData(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

export const HUB_COMMAND = defineCommand({
  name: 'hub',
  synopsis:
    '[--listen HOST:PORT] [--peer URL]... [--peer-token-file FILE] [--peer-ca FILE] [--peer-cert FILE --peer-key FILE] [--name NAME] [--master NAME[:sqlite:PATH]]... [--allow-origin ORIGIN]... [--allow-host NAME]... [--overflow-policy [KIND=]POLICY]... [--buffer-size [KIND=]N]... [--buffer-bytes [KIND=]N]... [--no-routers] [--policy FILE] [--audit-log FILE] [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-client-auth none|request|require]] [--trust-proxy CIDRS] [--origin URL]... [--cookie-name NAME] [--insecure-transport] [--insecure-no-auth] [--metrics HOST:PORT] [--backbone URLS [--backbone-namespace NS] [--backbone-separator /|.]] [--quiet]',
  description: `
Runs one endpoint that listens (native protocol and Broker JSON v1 on one port), relays between
its peers, and can host data-store masters (in memory, or in a SQLite file). Prints one line on
stdout when it is ready; logs status to stderr. Stops cleanly on SIGINT/SIGTERM (exit 0).

Security: on loopback (the default) auth is off unless --policy is given; then every client
authenticates with a token (isobroker token) or an API key, or gets the policy's anonymous role,
and may only do what its roles grant. A non-loopback --listen needs TLS (--tls-cert/--tls-key)
and --policy, or the explicit --insecure-transport / --insecure-no-auth. SIGHUP reloads the
policy, reopens the audit log and rereads the certificates; a policy that fails to load at start
exits 1 listing every error, on a reload the last good policy stays.

Hub-to-hub: --peer links present --peer-token-file (a token with role hub and --node, or an API
key) and, for wss:// peers, --peer-ca/--peer-cert/--peer-key (mutual TLS, the certificate's CN
mapped by the other hub's policy "certificates"). A refused peering is logged and retried.

Backbone: --backbone nats://a:4222,nats://b:4222 joins the NATS backbone (needs the nats
package): every hub and cluster node attached to the same NATS system and namespace is reached
without peering. A NATS system that cannot be reached is said once on stderr and retried in the
background; the hub serves its clients meanwhile. On stop the hub says bye on the backbone.`,
  options: {
    listen: {
      type: 'string',
      arg: 'HOST:PORT',
      default: '127.0.0.1:9999',
      help: 'address to listen on (port 0 picks a free port)',
      check: checkHostPort,
    },
    peer: {
      type: 'string',
      arg: 'URL',
      multiple: true,
      help: 'ws:// or wss:// URL of an endpoint to peer with, kept up with retries',
      check: checkWsUrl,
    },
    'peer-token-file': {
      type: 'string',
      arg: 'FILE',
      help: 'present the token in FILE (a JWT, e.g. isobroker token --role hub --node NAME, or an isbk_ API key) on every --peer link; reread when a token is due (before a JWT expires, on reconnects) and on SIGHUP',
      check: checkNonEmpty,
    },
    'peer-ca': {
      type: 'string',
      arg: 'FILE',
      defaultText: "Node's built-in list",
      help: "certificate authorities (PEM) that wss:// peers' server certificates must chain to; reread on SIGHUP",
      check: checkNonEmpty,
    },
    'peer-cert': {
      type: 'string',
      arg: 'FILE',
      help: 'client certificate chain (PEM) presented to wss:// peers (mutual TLS; needs --peer-key); reread on SIGHUP',
      check: checkNonEmpty,
    },
    'peer-key': {
      type: 'string',
      arg: 'FILE',
      help: 'the private key of --peer-cert (PEM)',
      check: checkNonEmpty,
    },
    name: {
      type: 'string',
      arg: 'NAME',
      defaultText: 'endpoint-<first 8 hex digits of its id>',
      help: 'endpoint name',
      check: checkNonEmpty,
    },
    master: {
      type: 'string',
      arg: 'NAME[:sqlite:PATH[:existing]]',
      multiple: true,
      help: 'host the master of store NAME, in memory or in the SQLite file PATH (created when missing, and the ready line says so; with :existing the hub refuses to start unless PATH holds a store)',
      check: (value, flag) => void parseMasterSpec(value, flag),
    },
    'allow-origin': {
      type: 'string',
      arg: 'ORIGIN',
      multiple: true,
      defaultText: "the hub's own origin only (same host and port)",
      help: 'browser Origin allowed to connect (pages on other ports, loopback ones included, must be listed)',
      check: checkNonEmpty,
    },
    'allow-host': {
      type: 'string',
      arg: 'NAME',
      multiple: true,
      defaultText: 'loopback names and the --listen host',
      help: 'Host header name the hub answers to (DNS-rebinding guard), e.g. the public name a reverse proxy passes on',
      check: (value, flag) => {
        if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(value)) expected(flag, 'a host name without a port', value);
      },
    },
    'overflow-policy': {
      type: 'string',
      arg: '[KIND=]POLICY',
      multiple: true,
      defaultText: "jsonClients=disconnect (Broker's), peers, leaves and jsonServers drop_oldest",
      help: 'what a full send buffer does: disconnect (buffer_overflow error, then close), drop_oldest or drop_newest (the client is told how many it lost); KIND is jsonClients (default), jsonServers, peers (router links) or leaves (native client endpoints)',
      check: (value, flag) => void parseLinkSetting(value, flag, POLICIES.join('|'), isPolicy),
    },
    'buffer-size': {
      type: 'string',
      arg: '[KIND=]N',
      multiple: true,
      defaultText: "jsonClients=512 (Broker's), peers, leaves and jsonServers 8192",
      help: 'send buffer per connection, in messages; KIND as for --overflow-policy',
      check: (value, flag) => void parseLinkSetting(value, flag, 'N (messages, 1 or more)', isBufferSize),
    },
    'buffer-bytes': {
      type: 'string',
      arg: '[KIND=]N',
      multiple: true,
      defaultText: 'jsonClients and leaves 16777216 (16 MiB), peers and jsonServers 67108864 (64 MiB)',
      help: 'send buffer per connection, in bytes (characters for JSON v1), whichever bound is reached first; KIND as for --overflow-policy',
      check: (value, flag) => void parseLinkSetting(value, flag, BYTES_WHAT, isBufferBytes),
    },
    'no-routers': {
      type: 'boolean',
      help: "refuse router links (acceptRouters false): only leaves (browsers, applications, pipe) and Broker JSON v1 clients may connect; a hub or cluster node that dials gets peer_refused. The hub's own --peer links are not affected",
    },
    policy: {
      type: 'string',
      arg: 'FILE',
      defaultText: 'none: auth off, every client trusted (loopback only)',
      help: 'the policy file (JSON: keys, roles, API keys, revocations, anonymous role); clients authenticate with tokens or API keys and get only their grants. An invalid policy stops the start with every error; SIGHUP or a change of the file reloads it (a failed reload keeps the last good policy)',
      check: checkNonEmpty,
    },
    'audit-log': {
      type: 'string',
      arg: 'FILE',
      help: 'append audit events (auth, denials, limits, policy reloads) as JSON Lines; reopened on SIGHUP',
      check: checkNonEmpty,
    },
    'tls-cert': {
      type: 'string',
      arg: 'FILE',
      help: 'serve wss:// with this certificate chain (PEM; needs --tls-key); SIGHUP rereads it',
      check: checkNonEmpty,
    },
    'tls-key': { type: 'string', arg: 'FILE', help: 'the private key of --tls-cert (PEM)', check: checkNonEmpty },
    'tls-ca': {
      type: 'string',
      arg: 'FILE',
      help: 'certificate authorities (PEM) that client certificates must chain to (with --tls-client-auth)',
      check: checkNonEmpty,
    },
    'tls-client-auth': {
      type: 'string',
      arg: 'none|request|require',
      default: 'none',
      help: 'ask clients for a certificate: request (optional) or require (refuse without one)',
      check: checkOneOf('none', 'request', 'require'),
    },
    'trust-proxy': {
      type: 'string',
      arg: 'CIDRS',
      help: 'comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto are believed',
      check: (value, flag) => void parseCidrList(value, flag),
    },
    origin: {
      type: 'string',
      arg: 'URL',
      multiple: true,
      help: "browser Origin (scheme://host[:port]) allowed to connect and, with --cookie-name, to authenticate with the policy's cookie",
      check: checkOrigin,
    },
    'cookie-name': {
      type: 'string',
      arg: 'NAME',
      help: 'accept the token from this HttpOnly cookie, from an --origin only',
      check: (value, flag) => {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(value)) expected(flag, 'a cookie name', value);
      },
    },
    'insecure-transport': {
      type: 'boolean',
      help: 'allow a non-loopback --listen without TLS (tokens then travel in clear text)',
    },
    'insecure-no-auth': {
      type: 'boolean',
      help: 'allow a non-loopback --listen without --policy (anyone who can reach it may do anything)',
    },
    metrics: {
      type: 'string',
      arg: 'HOST:PORT',
      defaultText: 'GET /metrics on the --listen port',
      help: 'serve the Prometheus metrics (GET /metrics) on this address instead of the --listen port; with --policy only to a token or API key with the role metrics (or a hub or node credential)',
      check: checkHostPort,
    },
    ...BACKBONE_OPTIONS,
    quiet: { type: 'boolean', help: 'do not log status lines to stderr' },
  },
  validate: (v) => {
    const names = v.master.map((m) => parseMasterSpec(m).name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw new UsageError(`--master: store ${JSON.stringify(dup)} given twice`);
    validateSecurityFlags(v);
    validatePeerFlags(v);
    backboneFromFlags(v);
  },
});

/** Error lines per peer and code in one window, and the window, ms. */
const ERROR_LINES_PER_WINDOW = 5;
const ERROR_LINE_WINDOW_MS = 10_000;

/**
 * Who an error is about, for rate limiting: the remote host without its port (a peer that
 * reconnects is the same peer), else the peer's id.
 */
export function errorPeerKey(peer: { readonly id?: string; readonly remote?: string } | undefined): string {
  const remote = peer?.remote;
  if (remote !== undefined && !remote.includes('://')) {
    const colon = remote.lastIndexOf(':');
    return colon > 0 ? remote.slice(0, colon) : remote;
  }
  return remote ?? peer?.id ?? '';
}

/** The hub's security flags as `openHubSecurity` takes them. */
export function securityConfig(v: {
  readonly policy: string | undefined;
  readonly 'audit-log': string | undefined;
  readonly 'tls-cert': string | undefined;
  readonly 'tls-key': string | undefined;
  readonly 'tls-ca': string | undefined;
  readonly 'tls-client-auth': string;
  readonly 'trust-proxy': string | undefined;
  readonly origin: readonly string[];
  readonly 'cookie-name': string | undefined;
  readonly 'insecure-transport': boolean;
  readonly 'insecure-no-auth': boolean;
}): SecurityConfig {
  return {
    policy: v.policy,
    auditLog: v['audit-log'],
    tlsCert: v['tls-cert'],
    tlsKey: v['tls-key'],
    tlsCa: v['tls-ca'],
    tlsClientAuth: v['tls-client-auth'] as 'none' | 'request' | 'require',
    trustProxy:
      v['trust-proxy'] === undefined ? [] : parseCidrList(v['trust-proxy']).map((c) => `${c.address}/${c.bits}`),
    origins: v.origin,
    cookieName: v['cookie-name'],
    insecureTransport: v['insecure-transport'],
    insecureNoAuth: v['insecure-no-auth'],
  };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function runHub(argv: readonly string[]): Promise<number> {
  const v = parseOrMeta(HUB_COMMAND, argv);
  if (!v) return 0;
  const { host, port } = parseHostPort(v.listen);
  const specs = v.master.map((m) => parseMasterSpec(m));
  const backboneConfig = backboneFromFlags(v);
  for (const w of insecureWarnings(v)) process.stderr.write(`isobroker hub: ${w}\n`);
  // The policy, audit log and certificates load before anything else: an invalid policy stops
  // the start with every error listed.
  const warn = (line: string): void => void process.stderr.write(`${new Date().toISOString()} hub: ${line}\n`);
  // The --peer credentials are read before anything starts: a file that cannot be read is exit 1.
  let credentials: PeerCredentials;
  try {
    credentials = new PeerCredentials(v, warn);
  } catch (err) {
    if (err instanceof FatalError) {
      process.stderr.write(`isobroker hub: ${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
  let security: HubSecurity;
  try {
    security = await openHubSecurity(securityConfig(v), (line) => (v.quiet ? undefined : warn(line)), warn);
  } catch (err) {
    if (err instanceof PolicyFileError) {
      for (const line of policyErrorLines(err, v.policy!)) process.stderr.write(`isobroker hub: ${line}\n`);
      return EXIT.failure;
    }
    throw err;
  }
  const ep = new Endpoint({
    role: 'hub',
    // Serves JSON v1 clients and peers with Zeeks (`--peer ws://zeek:27759/v1/messages/json`).
    protocols: [jsonV1],
    ...(v.name ? { name: v.name } : {}),
    links: linksFromFlags(v['overflow-policy'], v['buffer-size'], v['buffer-bytes']),
    ...(v['no-routers'] ? { acceptRouters: false } : {}),
  });
  const log = (line: string): void => {
    if (!v.quiet) process.stderr.write(`${new Date().toISOString()} ${ep.name}: ${line}\n`);
  };
  ep.on('status', (s) =>
    log(`${s.code}: ${s.message} ${s.peer.name ?? ''} ${s.peer.id ?? ''} ${s.peer.remote ?? ''}`.trimEnd()),
  );
  // Error lines about one peer are rate-limited per peer and code (a peer sending bad frames
  // must not fill the disk): what is left out is counted, and reported once per window.
  const errorLines = new KeyedRateLimit(Date.now, ERROR_LINES_PER_WINDOW, ERROR_LINE_WINDOW_MS);
  const reportSuppressed = (all = false): void => {
    for (const [key, n] of errorLines.drain(all)) log(`error ${key}: ${n} more like it not shown`);
  };
  const suppressedTimer = setInterval(() => reportSuppressed(), ERROR_LINE_WINDOW_MS);
  suppressedTimer.unref();
  ep.on('error', (e) => {
    const who = errorPeerKey(e.peer);
    const suppressed = errorLines.admit(`${e.code}${who ? ` from ${who}` : ''}`);
    if (suppressed === undefined) return;
    const more = suppressed > 0 ? ` (${suppressed} more like it were not shown)` : '';
    const context = e.context ? ` (${e.context.length > 300 ? `${e.context.slice(0, 299)}…` : e.context})` : '';
    log(`error ${e.code}: ${e.message}${context}${e.peer?.remote ? ` [${e.peer.remote}]` : ''}${more}`);
  });
  // Listen for signals from the start: a SIGTERM while starting stops the hub as soon as it can.
  const stop = untilSignal();
  const masters: StoreMaster[] = [];
  /** SQLite masters that started a new, empty store (said on the ready line). */
  const fresh: string[] = [];
  let listener: Awaited<ReturnType<typeof listen>> | undefined;
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  let onHup: (() => void) | undefined;
  let backbone: RunningBackbone | undefined;
  try {
    for (const spec of specs) {
      // Opening the backend may fail (corrupt file with failure mode FAIL): before we listen.
      try {
        const path = spec.sqlitePath;
        if (path !== undefined && spec.existing && !fileHasData(path)) {
          throw new Error(
            `no existing store in ${path} (the file is missing or empty; :existing refuses to create one)`,
          );
        }
        const backend = path !== undefined ? openSqliteBackend({ path }) : undefined;
        // A store that was never written to has no epoch yet: this run creates it.
        if (backend && path !== undefined && backend.getMeta('epoch') === undefined) {
          if (spec.existing) {
            backend.close();
            throw new Error(
              `no existing store in ${path} (the file holds no isobroker store; :existing refuses to create one)`,
            );
          }
          fresh.push(`${spec.name} (new empty store in ${path}: the file was missing or empty)`);
        }
        masters.push(
          await createMaster(ep, spec.name, {
            ...(backend ? { backend } : {}),
            onError: (e) => log(`store ${spec.name}: ${e.code}: ${e.message}`),
          }),
        );
      } catch (err) {
        throw new FatalError(`--master ${spec.name}: ${message(err)}`);
      }
    }
    // Prometheus metrics (GET /metrics): on the listener's port, or on --metrics.
    const authenticate = security.listen.auth?.authenticate;
    const metrics = createMetrics({
      endpoint: ep,
      links: linksFromFlags(v['overflow-policy'], v['buffer-size'], v['buffer-bytes']),
      stores: masters,
      ...(authenticate ? { auth: { authenticate } } : {}),
    });
    try {
      listener = await listen(ep, {
        host,
        port,
        allowedOrigins: [...v['allow-origin'], ...v.origin],
        allowedHosts: v['allow-host'],
        ...(v.metrics === undefined ? { http: metrics.handler } : {}),
        ...security.listen,
      });
      metrics.observeListener(listener.server);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FatalError(
        `cannot listen on ${v.listen}: ${code === 'EADDRINUSE' ? 'the address is in use' : message(err)}`,
      );
    }
    security.attach(ep, listener);
    if (v.metrics !== undefined) {
      const at = parseHostPort(v.metrics, '--metrics');
      try {
        metricsServer = await serveMetrics(metrics.handler, {
          ...at,
          authenticated: authenticate !== undefined,
          insecureNoAuth: v['insecure-no-auth'],
        });
      } catch (err) {
        throw new FatalError(`cannot serve --metrics on ${v.metrics}: ${message(err)}`);
      }
    }
    // A peer that fails for good (an address the endpoint rejects) is fatal: the hub closes its
    // listener and exits 1 instead of running without it. Unreachable peers are retried.
    let fatal: (err: Error) => void = () => undefined;
    const failed = new Promise<string>((_, reject) => (fatal = reject));
    failed.catch(() => undefined);
    // Each --peer dials with the current credentials; a redial (SIGHUP with a new token) makes
    // the earlier promise reject with "unpeered", which is not a failure.
    const generation = new Map<string, number>();
    const dial = (url: string): void => {
      const mine = (generation.get(url) ?? 0) + 1;
      generation.set(url, mine);
      try {
        ep.peer(url, credentials.dialOptions(url)).catch((err: unknown) => {
          if (!ep.isClosed && generation.get(url) === mine) fatal(new FatalError(`--peer ${url}: ${message(err)}`));
        });
      } catch (err) {
        throw new FatalError(`--peer ${url}: ${message(err)}`);
      }
    };
    for (const url of v.peer) dial(url);
    if (credentials.configured) {
      // SIGHUP rereads the files. A new token reaches a connected JWT link at its next renewal;
      // links that are down (perhaps refused with the old token), and every link when the new
      // token is an API key (never renewed), are dialled again with it now.
      onHup = (): void => {
        if (!credentials.reload()) return;
        const apiKey = credentials.currentToken?.startsWith('isbk_') === true;
        const up = new Set(
          ep
            .peers()
            .filter((p) => p.status === 'connected')
            .map((p) => p.url),
        );
        for (const url of v.peer) {
          if (!apiKey && up.has(resolvePeerUrl(url).url)) continue;
          log(`--peer ${url}: the --peer-token-file changed; dialling again with the new token`);
          generation.set(url, (generation.get(url) ?? 0) + 1); // the old promise's rejection is expected
          void ep.unpeer(url).then(() => {
            if (!ep.isClosed) dial(url);
          });
        }
      };
      process.on('SIGHUP', onHup);
    }
    // The backbone: attached before the ready line when NATS answers at once; otherwise said on
    // stderr once and retried in the background while the hub serves.
    if (backboneConfig) {
      backbone = startBackbone(ep, backboneConfig, {
        name: `isobroker hub ${ep.name}`,
        log,
        warn,
      });
      try {
        await backbone.firstAttempt;
      } catch (err) {
        throw new FatalError(`--backbone: ${message(err)}`);
      }
    }
    const bbServer = backbone?.server();
    const hosted =
      (specs.length ? `, masters ${specs.map((s) => s.name).join(' ')}` : '') +
      (fresh.length ? `; created ${fresh.join(', ')}` : '') +
      (v['no-routers'] ? '; router links refused (--no-routers)' : '') +
      (v.policy !== undefined ? `; auth: policy ${v.policy}` : '') +
      (backboneConfig
        ? `; ${describeBackbone(backboneConfig)}: ${bbServer !== undefined ? `connected to ${bbServer}` : 'not reachable yet, retrying'}`
        : '') +
      `; metrics ${metricsServer?.url ?? `${listener.url.replace(/^ws/, 'http')}/metrics`}`;
    process.stdout.write(
      `isobroker hub ${ep.name} (${ep.id}) ready: native ${listener.url}, Broker JSON v1 ${listener.jsonUrl}${hosted}\n`,
    );
    const sig = await Promise.race([stop, failed]);
    log(`${sig}: shutting down`);
    return 0;
  } finally {
    // Also on a fatal error: close everything so that the port is free and the process exits.
    stop.cancel();
    if (onHup) process.off('SIGHUP', onHup);
    clearInterval(suppressedTimer);
    reportSuppressed(true);
    for (const m of masters) m.close();
    // A bye on the backbone before the endpoint closes; then the NATS connection closes.
    await backbone?.close();
    await ep.close();
    await listener?.close();
    await metricsServer?.close();
    await security.close();
  }
}
