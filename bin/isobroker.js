#!/usr/bin/env node
// The `isobroker` command. The package is compiled by `npm install` (its `prepare` script).
// Exit codes: 0 ok, 1 fatal error at run time, 2 usage error, 3 pipe: peer unreachable or lines
// not delivered (see README, "Command line").
import { main } from '../dist/server/cli/cli.js';

const finish = (code) => {
  process.exitCode = code;
  // A command that returned has closed what it opened; should anything still hold the process
  // (a socket in its closing handshake), it must not keep running half-dead.
  setTimeout(() => process.exit(code), 3000).unref();
};

main(process.argv.slice(2)).then(
  (code) => finish(typeof code === 'number' ? code : 0),
  (err) => {
    console.error(`isobroker: ${err instanceof Error ? err.message : String(err)}`);
    finish(1);
  },
);
