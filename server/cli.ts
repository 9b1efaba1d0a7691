/** The `isobroker` command line: dispatches to the subcommands. */
import { runCluster } from './cluster.js';
import { runHub } from './hub.js';
import { runNode } from './node.js';
import { runPipe } from './pipe.js';
import { UsageError } from './args.js';

const USAGE = `usage: isobroker <command> [options]

commands:
  hub   --listen HOST:PORT [--peer URL]... [--name NAME] [--master NAME[:sqlite:PATH]]...
        run one endpoint that listens (native protocol and Broker JSON v1 on one port),
        optionally hosting data-store masters (in memory, or in a SQLite file)
  pipe  --peer URL --topic TOPIC (--publish | --subscribe)
        publish each stdin line as a string, or print each message received (JSON v1, one per line)
  cluster [--layout FILE] [--dir DIR] [--demo] [--http HOST:PORT] [--format tsv|json]
        start every node of a layout (default: manager, logger, 2 proxies, 2 workers) as child
        processes, restart crashed ones, serve the dashboard; logs in DIR/logs, stores in DIR/stores
  node  --layout FILE --name NAME [--dir DIR] [--demo]
        run one node of a layout (what the cluster launcher starts)
`;

/** Runs the CLI; resolves to the exit code (long-running commands resolve when they stop). */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'hub':
        return await runHub(rest);
      case 'pipe':
        return await runPipe(rest);
      case 'cluster':
        return await runCluster(rest);
      case 'node':
        return await runNode(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`isobroker: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}
