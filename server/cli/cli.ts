/** The `isobroker` command line: dispatches to the subcommands; maps errors to exit codes. */
import { CLUSTER_COMMAND, runCluster } from './cluster.js';
import { HUB_COMMAND, runHub } from './hub.js';
import { runNode } from '../cluster/node.js';
import { PIPE_COMMAND, runPipe } from './pipe.js';
import { TOKEN_COMMAND, runToken } from './token.js';
import {
  EXIT,
  EXIT_CODES_TEXT,
  FatalError,
  UsageError,
  checkNonEmpty,
  checkOneOf,
  defineCommand,
  packageVersion,
  parseOrMeta,
  type CommandSpec,
} from './args.js';

/** `isobroker node` (what the cluster launcher starts); its options, for `--help` and checks. */
export const NODE_COMMAND = defineCommand({
  name: 'node',
  synopsis:
    '--layout FILE --name NAME [--dir DIR] [--demo] [--seed N] [--format tsv|json] [--policy FILE [--token-file FILE | --token-from-launcher]]',
  description: `
Runs one node of a cluster layout: what \`isobroker cluster\` starts for each node.`,
  options: {
    layout: { type: 'string', arg: 'FILE', required: true, help: 'the cluster layout, JSON' },
    name: { type: 'string', arg: 'NAME', required: true, help: 'which node of the layout to run' },
    dir: { type: 'string', arg: 'DIR', default: '.cluster', help: 'directory for logs/ and stores/' },
    demo: { type: 'boolean', help: 'generate demo traffic' },
    seed: { type: 'string', arg: 'N', default: '1', help: 'seed of the demo traffic' },
    format: {
      type: 'string',
      arg: 'tsv|json',
      default: 'tsv',
      help: 'log file format (loggers)',
      check: checkOneOf('tsv', 'json'),
    },
    policy: {
      type: 'string',
      arg: 'FILE',
      help: 'enforce this policy file on connections to the node (reloaded on SIGHUP and when it changes)',
      check: checkNonEmpty,
    },
    'token-file': {
      type: 'string',
      arg: 'FILE',
      help: 'the token this node presents to the nodes it dials (read again before it expires)',
      check: checkNonEmpty,
    },
    'token-from-launcher': {
      type: 'boolean',
      help: 'ask the launcher for the token over the IPC channel (what isobroker cluster does)',
    },
    'allow-origin': {
      type: 'string',
      arg: 'ORIGIN',
      multiple: true,
      defaultText: "the node's own origin only",
      help: "another browser Origin whose pages may connect (the launcher passes its dashboard's)",
      check: checkNonEmpty,
    },
  },
  validate: (v) => {
    if (v['token-file'] !== undefined && v['token-from-launcher'])
      throw new UsageError('--token-file and --token-from-launcher exclude each other');
  },
});

const COMMANDS: Record<string, { spec: CommandSpec; run: (argv: readonly string[]) => Promise<number> }> = {
  hub: { spec: HUB_COMMAND as unknown as CommandSpec, run: runHub },
  pipe: { spec: PIPE_COMMAND as unknown as CommandSpec, run: runPipe },
  cluster: { spec: CLUSTER_COMMAND as unknown as CommandSpec, run: runCluster },
  node: {
    spec: NODE_COMMAND as unknown as CommandSpec,
    // `node` keeps its own parser; check the whole command line here first.
    run: async (argv) => (parseOrMeta(NODE_COMMAND, argv) ? runNode(argv) : EXIT.ok),
  },
  token: { spec: TOKEN_COMMAND as unknown as CommandSpec, run: runToken },
};

export const USAGE = `usage: isobroker <command> [options]
       isobroker <command> --help
       isobroker --version

commands:
  hub      run one endpoint that listens (native protocol and Broker JSON v1 on one port),
           relays between peers, and can host data-store masters
  pipe     publish each stdin line as a string, or print each message received (like broker-pipe)
  cluster  start every node of a layout as child processes, restart crashed ones, serve the dashboard
  node     run one node of a layout (what the cluster launcher starts)
  token    mint a signed token for a hub's policy; make a new secret or API key for the policy file

options:
  -h, --help     print this help (or a command's, after the command) and exit
  -V, --version  print the version and exit

${EXIT_CODES_TEXT}`;

/** Runs the CLI; resolves to the exit code (long-running commands resolve when they stop). */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const prefix = command !== undefined && command in COMMANDS ? `isobroker ${command}` : 'isobroker';
  try {
    if (command === undefined) {
      process.stderr.write(USAGE);
      return EXIT.usage;
    }
    if (command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (command === 'help') {
      const topic = rest[0];
      if (topic === undefined) process.stdout.write(USAGE);
      else if (topic in COMMANDS) return await COMMANDS[topic]!.run(['--help']);
      else
        throw new UsageError(
          `help: unknown command ${JSON.stringify(topic)} (commands: ${Object.keys(COMMANDS).join(', ')})`,
        );
      return EXIT.ok;
    }
    if (command === '--version' || command === '-V') {
      process.stdout.write(`isobroker ${packageVersion()}\n`);
      return EXIT.ok;
    }
    const cmd = COMMANDS[command];
    if (!cmd) {
      throw new UsageError(
        command.startsWith('-')
          ? `unknown option ${command} (options before a command: --help, --version)`
          : `unknown command ${JSON.stringify(command)} (commands: ${Object.keys(COMMANDS).join(', ')}; see isobroker --help)`,
      );
    }
    return await cmd.run(rest);
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`${prefix}: ${message}\n`);
    if (err instanceof UsageError) return EXIT.usage;
    if (!(err instanceof FatalError) && process.env.ISOBROKER_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    return EXIT.failure;
  }
}
