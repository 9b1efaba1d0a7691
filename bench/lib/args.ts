/**
 * Command-line arguments of `npm run bench -- [--only a,b] [--quick] [--no-write]`.
 */

/** Parsed arguments. */
export interface BenchArgs {
  /** Section ids to run, in the registry's order; undefined runs every section. */
  readonly only: readonly string[] | undefined;
  readonly quick: boolean;
  /** False with `--no-write`: print only, leave `BENCHMARKS.md` alone. */
  readonly write: boolean;
  readonly help: boolean;
}

/** Usage text for `--help` and argument errors. */
export function usage(ids: readonly string[]): string {
  return [
    'usage: npm run bench -- [--only ID[,ID…]] [--quick] [--no-write]',
    `  --only      run only these sections (${ids.join(', ')})`,
    '  --quick     short runs, for a smoke test',
    '  --no-write  print results without rewriting BENCHMARKS.md',
  ].join('\n');
}

/** Parses `argv` (without node and script); throws `Error` with a message for bad arguments. */
export function parseBenchArgs(argv: readonly string[], ids: readonly string[]): BenchArgs {
  let only: string[] | undefined;
  let quick = false;
  let write = true;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--no-write') write = false;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (value === undefined || value === '') throw new Error('--only needs a comma-separated list of section ids');
      const wanted = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const unknown = wanted.filter((s) => !ids.includes(s));
      if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}; sections: ${ids.join(', ')}`);
      only = [...new Set([...(only ?? []), ...wanted])];
    } else throw new Error(`unknown argument '${arg}'`);
  }
  return { only: only === undefined ? undefined : ids.filter((id) => only.includes(id)), quick, write, help };
}

/** The command line that reproduces a run, e.g. `npm run bench -- --only codec,trie`. */
export function commandLine(args: BenchArgs): string {
  const flags: string[] = [];
  if (args.only !== undefined) flags.push(`--only ${args.only.join(',')}`);
  if (args.quick) flags.push('--quick');
  if (!args.write) flags.push('--no-write');
  return flags.length === 0 ? 'npm run bench' : `npm run bench -- ${flags.join(' ')}`;
}
