/**
 * The policy file on disk: reading and validating it (`loadPolicyFile`), and the hub's current
 * policy (`PolicyHolder`) with reloads that never fail open — an invalid file on a reload leaves
 * the last good policy in force and reports every error.
 *
 * Validation is `parsePolicy` (src/auth/policy.ts) plus what needs crypto: every key must import
 * (a PEM that does not parse, a JWK that is not a point of its curve). A key may give its HMAC
 * secret as `"secretFile": "path"` (relative to the policy file's directory) instead of
 * `"secret"`, so the policy itself can be world-readable while the secret file is not.
 *
 * Messages never hold secrets: a JSON syntax error is reported by position only (V8's own message
 * quotes the text around it).
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import { parsePolicy, type Policy } from '../../auth/policy.js';
import { checkPolicyKeys } from './jwt.js';

/** The largest policy file read, bytes. */
export const MAX_POLICY_FILE_BYTES = 64 * 1024 * 1024;
/** The largest secret file read, bytes. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** Default delay between a change on disk and the reload it causes, ms. */
export const DEFAULT_POLICY_WATCH_DEBOUNCE_MS = 200;

/** A loaded, valid policy and the loader's warnings. */
export interface LoadedPolicy {
  readonly policy: Policy;
  readonly warnings: readonly string[];
}

/** A policy file that cannot be used: `errors` lists every problem, one per entry. */
export class PolicyFileError extends ConfigError {
  override name = 'PolicyFileError';
  /** Every problem found, each with its JSON path (`$.roles.x.publish.allow[0]: …`). */
  readonly errors: readonly string[];
  constructor(path: string, errors: readonly string[]) {
    super(
      `policy file ${JSON.stringify(path)}`,
      `${errors.length === 1 ? 'invalid' : `${errors.length} errors`}:\n${errors.map((e) => `  ${e}`).join('\n')}`,
    );
    this.errors = errors;
  }
}

/** The result of `PolicyHolder.reload()`. */
export type PolicyReloadResult =
  | { readonly ok: true; readonly warnings: readonly string[]; readonly changed: boolean }
  | { readonly ok: false; readonly errors: readonly string[] };

interface Read {
  readonly text: string;
  readonly result: { policy: Policy; warnings: string[] } | { errors: string[] };
}

/** Where V8 says a JSON syntax error is, without the text it quotes. */
function jsonErrorAt(err: unknown): string {
  const m = /position (\d+)(?: \(line (\d+) column (\d+)\))?/.exec(err instanceof Error ? err.message : '');
  if (!m) return '';
  return m[2] !== undefined ? ` at line ${m[2]} column ${m[3]}` : ` at offset ${m[1]}`;
}

const errnoCode = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? 'error';

/** Replaces `secretFile` members of `$.keys[i]` with the secret read from that file. */
async function inlineSecretFiles(json: unknown, dir: string, errors: string[]): Promise<void> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const keys = (json as Record<string, unknown>).keys;
  if (!Array.isArray(keys)) return;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as Record<string, unknown> | null;
    if (typeof k !== 'object' || k === null || !Object.hasOwn(k, 'secretFile')) continue;
    const at = `$.keys[${i}].secretFile`;
    const file = k.secretFile;
    if (typeof file !== 'string' || file === '') {
      errors.push(`${at}: expected a file path`);
      continue;
    }
    if (Object.hasOwn(k, 'secret')) {
      errors.push(`${at}: give "secret" or "secretFile", not both`);
      continue;
    }
    const path = resolve(dir, file);
    try {
      const s = await stat(path);
      if (!s.isFile() || s.size > MAX_SECRET_FILE_BYTES) {
        errors.push(`${at}: ${JSON.stringify(file)} is not a file of at most ${MAX_SECRET_FILE_BYTES} bytes`);
        continue;
      }
      const secret = (await readFile(path, 'utf8')).trim();
      const { secretFile: _, ...rest } = k;
      keys[i] = { ...rest, secret };
    } catch (err) {
      errors.push(`${at}: cannot read ${JSON.stringify(file)} (${errnoCode(err)})`);
    }
  }
}

async function readPolicy(path: string): Promise<Read> {
  let text: string;
  try {
    const s = await stat(path);
    if (!s.isFile()) return { text: '', result: { errors: [`$: ${JSON.stringify(path)} is not a file`] } };
    if (s.size > MAX_POLICY_FILE_BYTES) {
      return { text: '', result: { errors: [`$: the file is larger than ${MAX_POLICY_FILE_BYTES} bytes`] } };
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { text: '', result: { errors: [`$: cannot read ${JSON.stringify(path)} (${errnoCode(err)})`] } };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { text, result: { errors: [`$: not valid JSON${jsonErrorAt(err)}`] } };
  }
  const fileErrors: string[] = [];
  await inlineSecretFiles(json, dirname(path), fileErrors);
  const parsed = parsePolicy(json);
  if (parsed.policy === undefined) return { text, result: { errors: [...fileErrors, ...parsed.errors] } };
  const keyErrors = (await checkPolicyKeys(parsed.policy)).map((e) => `$.keys: ${e}`);
  const errors = [...fileErrors, ...keyErrors];
  if (errors.length > 0) return { text, result: { errors } };
  return { text, result: parsed };
}

/**
 * Reads and validates the policy file at `path`. Throws a `PolicyFileError` (a `ConfigError`)
 * listing every error when the file cannot be read or is invalid.
 */
export async function loadPolicyFile(path: string): Promise<LoadedPolicy> {
  const { result } = await readPolicy(path);
  if ('errors' in result) throw new PolicyFileError(path, result.errors);
  return { policy: result.policy, warnings: result.warnings };
}

/** Options of `PolicyHolder`. */
export interface PolicyHolderOptions {
  /** The file `reload()` and `watch()` read; without it the holder only takes `replace()`. */
  readonly path?: string;
  /** Delay from a change on disk to its reload, ms. @default 200 */
  readonly debounceMs?: number;
}

/**
 * The policy in force, replaced atomically by `reload()` (the file), `replace()` (a policy
 * object) or `watch()` (changes on disk). An invalid file never replaces a good policy. Listeners
 * run synchronously after each swap; a throwing listener does not stop the others.
 */
export class PolicyHolder {
  private policy: Policy;
  private warnings: readonly string[];
  private readonly changeListeners = new Set<(policy: Policy, previous: Policy) => void>();
  private readonly reloadListeners = new Set<(result: PolicyReloadResult) => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastText: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The policy file, when there is one. */
  readonly path: string | undefined;
  private readonly debounceMs: number;

  /** Loads `path` (throws a `PolicyFileError` listing every error) and holds its policy. */
  static async open(path: string, options: Omit<PolicyHolderOptions, 'path'> = {}): Promise<PolicyHolder> {
    const read = await readPolicy(path);
    if ('errors' in read.result) throw new PolicyFileError(path, read.result.errors);
    const holder = new PolicyHolder(read.result, { ...options, path });
    holder.lastText = read.text;
    return holder;
  }

  constructor(initial: LoadedPolicy | Policy, options: PolicyHolderOptions = {}) {
    const loaded = 'policy' in initial && 'warnings' in initial ? initial : { policy: initial, warnings: [] };
    this.policy = loaded.policy;
    this.warnings = loaded.warnings;
    this.path = options.path;
    this.debounceMs = options.debounceMs ?? DEFAULT_POLICY_WATCH_DEBOUNCE_MS;
  }

  /** The policy in force. */
  get current(): Policy {
    return this.policy;
  }

  /** The warnings of the policy in force. */
  get currentWarnings(): readonly string[] {
    return this.warnings;
  }

  /**
   * Reads the file again. Valid: it replaces the policy (listeners run) and resolves
   * `{ok: true, warnings, changed}`. Invalid or unreadable: the policy in force stays and it
   * resolves `{ok: false, errors}`. Never rejects; reloads run one at a time, in call order.
   */
  reload(): Promise<PolicyReloadResult> {
    return this.enqueue(false);
  }

  /** Replaces the policy with `policy` (already validated), e.g. `hub.reloadPolicy(policy)`. */
  replace(policy: Policy, warnings: readonly string[] = []): void {
    this.swap(policy, warnings);
  }

  /** Calls `fn(policy, previous)` after each replacement; returns a function that removes it. */
  onChange(fn: (policy: Policy, previous: Policy) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Calls `fn` with the result of every reload from the file (also those `watch()` starts). */
  onReload(fn: (result: PolicyReloadResult) => void): () => void {
    this.reloadListeners.add(fn);
    return () => this.reloadListeners.delete(fn);
  }

  /**
   * Reloads when the file changes on disk (debounced). Watches the file's directory, so an
   * editor's write-and-rename or a symlink swap is seen; a change that leaves the file's text as
   * it was is ignored. Returns a function that stops watching (also `close()`).
   */
  watch(): () => void {
    if (this.path === undefined) throw new ConfigError('watch', 'this policy holder has no file to watch');
    if (this.watcher) return () => this.close();
    const name = basename(this.path);
    const w = fsWatch(dirname(resolve(this.path)), { persistent: false }, (_event, file) => {
      // Some platforms give no name; a symlink swap (Kubernetes) names another entry.
      if (file === null || file === name || String(file).startsWith('..')) this.schedule();
    });
    w.on('error', () => {
      // The directory went away: keep the last good policy; a SIGHUP can still reload.
      this.watcher = undefined;
    });
    this.watcher = w;
    return () => this.close();
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(true);
    }, this.debounceMs);
    this.timer.unref?.();
  }

  private enqueue(onlyIfChanged: boolean): Promise<PolicyReloadResult> {
    const next = this.chain.then(() => this.load(onlyIfChanged));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async load(onlyIfChanged: boolean): Promise<PolicyReloadResult> {
    let result: PolicyReloadResult;
    try {
      if (this.path === undefined) {
        result = { ok: false, errors: ['$: this policy holder has no file to reload'] };
      } else {
        const read = await readPolicy(this.path);
        if (onlyIfChanged && read.text !== '' && read.text === this.lastText) {
          return { ok: true, warnings: this.warnings, changed: false };
        }
        if ('errors' in read.result) {
          result = { ok: false, errors: read.result.errors };
        } else {
          this.lastText = read.text;
          this.swap(read.result.policy, read.result.warnings);
          result = { ok: true, warnings: read.result.warnings, changed: true };
        }
      }
    } catch (err) {
      result = { ok: false, errors: [`$: cannot reload (${err instanceof Error ? err.name : 'error'})`] };
    }
    for (const fn of this.reloadListeners) {
      try {
        fn(result);
      } catch {
        // a listener's failure is its own
      }
    }
    return result;
  }

  private swap(policy: Policy, warnings: readonly string[]): void {
    const previous = this.policy;
    this.policy = policy;
    this.warnings = warnings;
    for (const fn of this.changeListeners) {
      try {
        fn(policy, previous);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
