/**
 * The lazy loader of nats.js (the `nats` package, v2) and the structural types isobroker/node uses
 * instead of its declarations.
 *
 * `nats` is an optional peer dependency: only users of the NATS backbone need it. So nothing
 * imports it at module load (only `import type`, erased at compile time, and `import()` on first
 * use), and the published declarations do not name its types — a consumer without it still
 * imports `isobroker/node` and compiles strictly. A nats.js `NatsConnection` satisfies
 * `NatsClient` as it is.
 */
import type { NatsConnectionLike } from '../../backbone/types.js';
import { IsobrokerError } from '../../errors.js';

/** What `natsLeaseKv` needs of a NATS connection (a nats.js `NatsConnection` has it). */
export interface NatsJetStreamConnection {
  /** nats.js's JetStream client factory (`NatsConnection.jetstream`). */
  jetstream(opts?: { timeout?: number }): unknown;
  isClosed(): boolean;
}

/** A nats.js connection as `connectNats` returns it: what the backbone and the lease bucket use, and closing. */
export interface NatsClient extends NatsConnectionLike, NatsJetStreamConnection {
  /** Closes at once (pending publishes are lost). */
  close(): Promise<void>;
  /** Unsubscribes everything, delivers what is pending, flushes and closes. */
  drain(): Promise<void>;
}

/** The part of the `nats` module isobroker/node uses. */
export interface NatsModule {
  /** nats.js's `connect`. */
  connect(opts: Record<string, unknown>): Promise<NatsClient>;
}

/** The npm package name of nats.js. */
export const NATS_PACKAGE = 'nats';

const MISSING_NATS_MESSAGE = `${NATS_PACKAGE} is not installed: npm install ${NATS_PACKAGE}@2 to use the NATS backbone`;

/**
 * Loads nats.js on first use (with `importer`, `import()` by default). Rejects with an
 * `IsobrokerError` coded `missing_dependency` when the package is not installed; any other loading
 * failure passes through.
 */
export async function loadNats(
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<NatsModule> {
  try {
    return (await importer(NATS_PACKAGE)) as NatsModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (
      (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') &&
      err.message.includes(`'${NATS_PACKAGE}'`)
    ) {
      throw new IsobrokerError('missing_dependency', MISSING_NATS_MESSAGE, { cause: e });
    }
    throw e;
  }
}
