/**
 * The error hierarchy of isobroker. Every error carries a machine-readable `code` (Broker's
 * names where Broker has one) and a human-readable message; `cause` links the underlying error.
 */

/** Base class of every error isobroker throws or reports. */
export class IsobrokerError extends Error {
  override name = 'IsobrokerError';
  /** Machine-readable code, e.g. `deserialization_failed`, `no_such_key`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Input bytes or text that cannot be decoded (bad shape, over a limit, invalid value). */
export class DecodeError extends IsobrokerError {
  override name = 'DecodeError';
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'deserialization_failed', message, options);
  }
}

/** A peer broke the protocol (unexpected message, bad handshake, wrong version). */
export class ProtocolError extends IsobrokerError {
  override name = 'ProtocolError';
}

/** An operation did not complete in time. */
export class TimeoutError extends IsobrokerError {
  override name = 'TimeoutError';
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'request_timeout', message, options);
  }
}

/** The endpoint, connection or store was closed. */
export class ClosedError extends IsobrokerError {
  override name = 'ClosedError';
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'closed', message, options);
  }
}

/** Broker's data-store error codes. */
export const STORE_ERROR_CODES = [
  'no_such_key',
  'type_clash',
  'stale_data',
  'request_timeout',
  'master_exists',
  'no_such_master',
  'backend_failure',
  'invalid_data',
  /** An entry too large to ever travel to a clone (over the link's frame or decoder limits). */
  'value_too_large',
  /** A listener of a store's change feed or status threw (reported on the store's error channel). */
  'listener_failed',
  /** The principal lacks the store permission (`read`, `write`, `master`): a hub refused the store traffic. */
  'forbidden',
  /** A hub refused a write: the connection had too many store commands awaiting their ack (`storeCommandsInFlight`). */
  'limit_exceeded',
] as const;
/** One of Broker's data-store error codes. */
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** A data-store operation failed with one of Broker's store error codes. */
export class StoreError extends IsobrokerError {
  override name = 'StoreError';
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Invalid argument given to a constructor or API call. */
export class ValueError extends IsobrokerError {
  override name = 'ValueError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_argument', message, options);
  }
}

/**
 * An options object holds an invalid value. `option` names the field (dotted for nested ones,
 * e.g. `limits.maxFrameBytes`); the message says what was given and what is allowed.
 */
export class ConfigError extends IsobrokerError {
  override name = 'ConfigError';
  /** The option that holds the invalid value. */
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('invalid_config', `${option}: ${message}`, options);
    this.option = option;
  }
}
