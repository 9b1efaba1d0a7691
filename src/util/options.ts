/**
 * Checks for options resolvers. Every options object of isobroker is resolved once, field by
 * field, with these: an absent field takes its default, a present one must be valid, and an
 * invalid one throws a `ConfigError` naming the option and the allowed range.
 */
import { ConfigError } from '../errors.js';

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : String(v);

/** An integer in `[min, max]`, or `fallback` when absent. */
export function intOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** A finite number in `[min, max]`, or `fallback` when absent. */
export function numberOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_VALUE,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** A boolean, or `fallback` when absent. */
export function boolOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(name, `expected true or false, got ${show(value)}`);
  return value;
}

/** One of `allowed`, or `fallback` when absent. */
export function oneOfOption<T extends string>(
  name: string,
  value: T | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new ConfigError(name, `expected one of ${allowed.map(show).join(', ')}, got ${show(value)}`);
  }
  return value;
}

/** A non-empty string (at most `maxLength` characters), or `fallback` when absent. */
export function stringOption(name: string, value: string | undefined, fallback: string, maxLength = 1024): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new ConfigError(name, `expected a non-empty string of at most ${maxLength} characters, got ${show(value)}`);
  }
  return value;
}

/** A function, or undefined when absent. */
export function fnOption<F>(name: string, value: F | undefined): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new ConfigError(name, `expected a function, got ${typeof value}`);
  return value;
}

/** An object with the given methods (an injected clock, a backend, …), or `fallback` when absent. */
export function objectOption<T extends object>(
  name: string,
  value: T | undefined,
  fallback: T,
  methods: readonly string[] = [],
): T {
  if (value === undefined) return fallback;
  if (value === null || typeof value !== 'object')
    throw new ConfigError(name, `expected an object, got ${value === null ? 'null' : typeof value}`);
  const missing = methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0)
    throw new ConfigError(
      name,
      `expected an object with the methods ${methods.join(', ')}; missing ${missing.join(', ')}`,
    );
  return value;
}

/** Throws when `options` is neither undefined nor a plain object. */
export function checkOptionsObject(name: string, options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(
      name,
      `expected an options object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
}
