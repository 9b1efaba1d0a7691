/**
 * The command line's option handling: each command declares its options once (type, default,
 * value checks, help text); from that come the parser, its one-line usage errors and `--help`.
 * Every value is checked before a command starts anything.
 */
import { readFileSync } from 'node:fs';

/** A usage error: the command line itself is wrong. Exit code 2, one line on stderr. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A fatal error at run time (a port in use, a store that cannot open, …). Exit code 1. */
export class FatalError extends Error {
  override name = 'FatalError';
}

/** The exit codes of every command (documented in the README's "Command line"). */
export const EXIT = {
  ok: 0,
  /** A fatal error at run time. */
  failure: 1,
  /** Bad usage: unknown option, bad value, missing option. Nothing was started. */
  usage: 2,
  /** `pipe`: the peer could not be reached, or the connection was lost (lines not delivered). */
  peer: 3,
} as const;

interface OptionBase {
  /** One letter, e.g. `h` for `-h`. */
  readonly short?: string;
  readonly help: string;
}

export interface StringOption extends OptionBase {
  readonly type: 'string';
  /** The value's name in the usage, e.g. `HOST:PORT`. */
  readonly arg: string;
  readonly multiple?: boolean;
  /** The command cannot run without it. */
  readonly required?: boolean;
  readonly default?: string;
  /** What `--help` shows as the default when `default` is not the whole story. */
  readonly defaultText?: string;
  /** Checks a value; throws a UsageError (use the `expect*` helpers) when it is wrong. */
  readonly check?: (value: string, flag: string) => void;
}

export interface BooleanOption extends OptionBase {
  readonly type: 'boolean';
}

export type OptionSpec = StringOption | BooleanOption;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** The usage line after `isobroker NAME`. */
  readonly synopsis: string;
  readonly description: string;
  readonly options: O;
  /** Checks across options (e.g. "exactly one of"); throws a UsageError. */
  readonly validate?: (values: Values<O>) => void;
}

export type Values<O extends OptionSpecs> = {
  -readonly [K in keyof O]: O[K] extends BooleanOption
    ? boolean
    : O[K] extends { multiple: true }
      ? string[]
      : O[K] extends { default: string } | { required: true }
        ? string
        : string | undefined;
};

/** Declares a command (infers its options' exact types for the parsed values). */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

export type Parsed<O extends OptionSpecs> = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; values: Values<O> };

const quote = (s: string): string => JSON.stringify(s);

/** Throws `--flag: expected WHAT, got "value"`. */
export function expected(flag: string, what: string, value: string): never {
  throw new UsageError(`${flag}: expected ${what}, got ${quote(value)}`);
}

/** Parses `argv` for one command. `--help`/`-h` and `--version`/`-V` win over everything else. */
export function parseCommand<O extends OptionSpecs>(cmd: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) return { kind: 'help' };
  if (flags.includes('--version') || flags.includes('-V')) return { kind: 'version' };

  const specs = cmd.options as OptionSpecs;
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(specs)) if (o.short) byShort.set(o.short, name);
  const known = (arg: string): boolean => {
    if (arg.startsWith('--')) return arg.slice(2).split('=')[0]! in specs;
    return arg.length === 2 && byShort.has(arg[1]!);
  };

  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, o] of Object.entries(specs)) {
    values[name] = o.type === 'boolean' ? false : o.multiple ? [] : o.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw new UsageError(`unexpected argument ${quote(argv[i + 1]!)}`);
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
    } else if (/^-[^-]/.test(arg)) {
      name = byShort.get(arg[1]!);
      if (name === undefined) throw new UsageError(`unknown option ${arg} (${optionList(specs)})`);
      if (arg.length > 2) inline = arg.slice(2);
    } else {
      throw new UsageError(`unexpected argument ${quote(arg)}`);
    }
    const o = specs[name];
    if (!o) throw new UsageError(`unknown option --${name} (${optionList(specs)})`);
    const flag = `--${name}`;
    if (o.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value, got ${quote(inline)}`);
      values[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && known(next)) || next === '--') {
        throw new UsageError(`${flag}: expected ${o.arg}, got nothing`);
      }
      value = next;
      i++;
    }
    o.check?.(value, flag);
    if (o.multiple) (values[name] as string[]).push(value);
    else values[name] = value;
  }
  for (const [name, o] of Object.entries(specs)) {
    if (o.type === 'string' && o.required && values[name] === undefined)
      throw new UsageError(`--${name}: required (${o.arg})`);
  }
  const typed = values as Values<O>;
  cmd.validate?.(typed);
  return { kind: 'run', values: typed };
}

function optionList(specs: OptionSpecs): string {
  return `options: ${[...Object.keys(specs).map((n) => `--${n}`), '--help', '--version'].join(', ')}`;
}

/** The `--help` text of a command: synopsis, description, every option with its default. */
export function commandUsage(cmd: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries(cmd.options)) {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.arg}` : ''}`;
    let right = o.help;
    if (o.type === 'boolean') right += ' (default: off)';
    else if (o.required) right += ' (required)';
    else if (o.multiple) right += ` (repeatable; default: ${o.defaultText ?? 'none'})`;
    else right += ` (default: ${o.defaultText ?? o.default ?? 'none'})`;
    rows.push([left, right]);
  }
  rows.push(['-h, --help', 'print this help and exit']);
  rows.push(['-V, --version', 'print the version and exit']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return (
    `usage: isobroker ${cmd.name} ${cmd.synopsis}\n\n${cmd.description.trim()}\n\noptions:\n` +
    rows.map(([l, r]) => `  ${l.padEnd(width)}${r}\n`).join('') +
    `\n${EXIT_CODES_TEXT}`
  );
}

export const EXIT_CODES_TEXT = `exit codes: 0 ok, 1 fatal error at run time, 2 usage error (nothing started), 3 pipe: peer unreachable or lines not delivered\n`;

/**
 * Parses a command's argv; for `--help` or `--version` prints that to stdout and returns
 * undefined (the command then exits 0 without starting anything).
 */
export function parseOrMeta<O extends OptionSpecs>(
  cmd: CommandSpec<O>,
  argv: readonly string[],
): Values<O> | undefined {
  const r = parseCommand(cmd, argv);
  if (r.kind === 'run') return r.values;
  process.stdout.write(
    r.kind === 'help' ? commandUsage(cmd as unknown as CommandSpec) : `isobroker ${packageVersion()}\n`,
  );
  return undefined;
}

// ---- value checks

/** Splits `HOST:PORT` (IPv6 hosts in brackets); the port is 0–65535. */
export function parseHostPort(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) expected(flag, 'HOST:PORT with a port from 0 to 65535', text);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: Number(m[2]) };
}

export const checkHostPort = (value: string, flag: string): void => void parseHostPort(value, flag);

/** A `ws://` or `wss://` URL with a host (and a port from 1 to 65535 if it names one). */
export function checkWsUrl(value: string, flag: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  const ok =
    url !== undefined &&
    (url.protocol === 'ws:' || url.protocol === 'wss:') &&
    url.hostname !== '' &&
    /^wss?:\/\/[^/?#\s]/i.test(value);
  if (!ok) expected(flag, 'a ws:// or wss:// URL', value);
  if (url!.port === '0') expected(flag, 'a ws:// or wss:// URL with a port from 1 to 65535', value);
}

/** One of a fixed set of words. */
export const checkOneOf =
  (...allowed: string[]) =>
  (value: string, flag: string): void => {
    if (!allowed.includes(value)) expected(flag, allowed.join(' or '), value);
  };

/** A decimal number in [min, max] (integers only unless `fraction`). */
export const checkNumber =
  (min: number, max: number, fraction = false) =>
  (value: string, flag: string): void => {
    const ok = fraction ? /^\d+(\.\d+)?$/.test(value) : /^\d+$/.test(value);
    const n = Number(value);
    if (!ok || n < min || n > max)
      expected(flag, `${fraction ? 'a number' : 'an integer'} from ${min} to ${max}`, value);
  };

/** A non-empty value without whitespace at either end. */
export function checkNonEmpty(value: string, flag: string): void {
  if (value.trim() === '' || value.trim() !== value) expected(flag, 'a non-empty value', value);
}

// ---- process helpers

/** The version in this package's own package.json, found relative to this file. */
export function packageVersion(): string {
  let dir = new URL('./', import.meta.url);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'isobroker' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one directory up
    }
    dir = new URL('../', dir);
  }
  throw new FatalError('cannot find the isobroker package.json');
}

/** Resolves when the process is asked to stop (SIGINT/SIGTERM); `cancel` removes the handlers. */
export function untilSignal(): Promise<string> & { cancel(): void } {
  let on: (sig: string) => void = () => undefined;
  const p = new Promise<string>((resolve) => {
    on = (sig: string): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  return Object.assign(p, {
    cancel: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  });
}

/** `parse(argv, options)`: the old helper, kept for `isobroker node`, on a throwaway command spec. */
export function parse<
  O extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean; multiple?: boolean }>,
>(
  argv: readonly string[],
  options: O,
): {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string;
} {
  const specs: Record<string, OptionSpec> = {};
  for (const [name, o] of Object.entries(options)) {
    specs[name] =
      o.type === 'boolean'
        ? { type: 'boolean', help: '' }
        : {
            type: 'string',
            arg: 'VALUE',
            help: '',
            ...(o.multiple ? { multiple: true } : {}),
            ...(typeof o.default === 'string' ? { default: o.default } : {}),
          };
  }
  const r = parseCommand({ name: '', synopsis: '', description: '', options: specs }, argv);
  if (r.kind !== 'run') throw new UsageError(`unexpected ${r.kind === 'help' ? '--help' : '--version'}`);
  return r.values as never;
}

/** Reads a whole file, as a UsageError naming the flag when it cannot. */
export function readOptionFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `${flag}: cannot read ${quote(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
